package app

import (
	"bytes"
	"fmt"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/confine"
	"github.com/cvgate/cvgate/report"
)

// output is one file written to the output folder.
type output struct {
	file   string
	writer report.Writer
}

// outputs lists what every run writes. Adding a format means adding a line here. run holds what
// some writers need beyond the report (the output folder, the audit record).
func outputs(run *runOutputs) []output {
	return []output{
		{"report.json", report.JSON{}},
		{"report.md", report.Markdown{AllDetails: true}},
		{"junit.xml", report.JUnit{}},
		{"badge.svg", report.BadgeSVG{}},
		{"badge.json", report.BadgeJSON{}},
		{"report.html", report.HTML{AssetDir: run.dir}},
		{auditFile, run.audit},
		{"MODEL_CARD.md", run.modelCard},
	}
}

// writeOutputs writes every report format to the output folder and, when asked, the markdown
// report to stdout. Every file is written whole or not at all (temp file, then rename), so a
// crash never leaves a half report for a later step to publish.
func (a *App) writeOutputs(r *report.Report, cfg *config.Loaded, toStdout bool) error {
	dir := a.path(cfg.Out)
	ws, err := a.workspace()
	if err != nil {
		return err
	}
	// The output folder may sit in a checkout a fork chose: nothing is written through a
	// symlink in it (a planted report.json.tmp -> elsewhere), and it must lie in the workspace.
	out, err := confine.OpenOut(dir, ws)
	if err != nil {
		return err
	}
	defer out.Close()
	run, err := a.prepareOutputs(r, cfg, dir)
	if err != nil {
		return err
	}
	for _, o := range outputs(run) {
		if err := writeFile(out, o.file, r, o.writer); err != nil {
			return err
		}
	}
	if toStdout && a.StdoutTerminal {
		if err := writeConsole(a.Stdout, r); err != nil {
			return fmt.Errorf("print report: %w", err)
		}
	} else if toStdout {
		if err := (report.Markdown{AllDetails: true}).Write(a.Stdout, r); err != nil {
			return fmt.Errorf("print report: %w", err)
		}
	}
	return nil
}

func writeFile(out *confine.Out, name string, r *report.Report, w report.Writer) error {
	var buf bytes.Buffer
	if err := w.Write(&buf, r); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	return out.WriteFile(name, buf.Bytes())
}
