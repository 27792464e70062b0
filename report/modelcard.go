package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/template"
)

//go:embed templates/modelcard.tmpl
var modelCardTemplate string

// ModelCard renders MODEL_CARD.md: one card per target, from the model's own metadata, the
// person-written parts of the config and the results of the run. It states facts the run
// measured and words people wrote; where a section needs words nobody wrote, it says so with a
// marker (NeedsInputMarker) instead of inventing them.
//
// It lives in report because it is one more rendering of a Report, shares the markdown writer's
// tables, and like every writer must not compute anything: the hashes of the audit record are
// handed in by the caller, who builds that record.
type ModelCard struct {
	// Card is what people wrote in the config (model_card:).
	Card Card
	// Audit holds the hashes of the run's audit record; nil: the card says none was written.
	Audit *AuditHashes
}

// Card holds the parts of a model card only people can write.
type Card struct {
	IntendedUse string
	Owners      []string
	Limitations string
	License     string
}

// AuditHashes identify the audit record written beside the card.
type AuditHashes struct {
	File         string // the record's file name in the output folder, e.g. "audit.json"
	RecordSHA256 string // of the record's canonical JSON: what the audit log chains
	ConfigSHA256 string // of the effective configuration's YAML, as `cvgate config` prints it
}

// NeedsInputMarker starts every placeholder for words a person must write, so that a release
// check (or grep) can find cards that are not finished.
const NeedsInputMarker = "<!-- cvgate:needs-input"

var _ Writer = ModelCard{}

// Write implements Writer.
func (mc ModelCard) Write(w io.Writer, r *Report) error {
	tmpl, err := template.New("modelcard").Funcs(cardFuncs).Parse(modelCardTemplate)
	if err != nil {
		return fmt.Errorf("parse model card template: %w", err)
	}
	var buf bytes.Buffer
	for i := range r.Targets {
		if i > 0 {
			buf.WriteString("\n---\n\n")
		}
		if err := tmpl.Execute(&buf, mc.view(r, &r.Targets[i])); err != nil {
			return fmt.Errorf("render model card of %q: %w", r.Targets[i].Name, err)
		}
	}
	if len(r.Targets) == 0 {
		buf.WriteString("# Model card\n\nNo model was evaluated in this run.\n")
	}
	_, err = w.Write(buf.Bytes())
	return err
}

type cardView struct {
	R          *Report
	T          *Target
	Card       Card
	Audit      *AuditHashes
	Details    [][]string
	Metadata   [][]string
	Data       [][]string
	Perf       *Result
	PerfRows   [][]string
	PerClass   *Table
	Compare    [][]string
	Segments   *Result
	Robust     [][]string
	Problems   []string
	FailCases  []string
	AuditRows  [][]string
	CheckTable string
}

// Every value the card shows may come from input (the model's metadata, the config, file
// names): the template passes each through the markdown neutralizer (escape.go): code for a
// code span, text for inline text, paragraphs for what people wrote, and table escapes cells.
var cardFuncs = template.FuncMap{
	"table":      markdownTable,
	"todo":       todo,
	"code":       mdCode,
	"text":       mdText,
	"paragraphs": mdParagraphs,
	"upper":      func(s Status) string { return strings.ToUpper(string(s)) },
	"counts": func(g Gate) string {
		h := g.Headline()
		return h[strings.Index(h, ": ")+2:]
	},
	"cols": func(names ...string) []string { return names },
}

// todo is the marker and the sentence a person replaces.
func todo(key, what string) string {
	return fmt.Sprintf("%s %s -->\n_Not written yet: %s Set `%s` in the config file; cvgate does not guess it._", NeedsInputMarker, key, what, key)
}

// code marks s as a code span inside a string the template escapes later (a table cell, a list
// item): the neutralizer turns the backtick pair into a span and escapes the rest.
func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
}

func (mc ModelCard) view(r *Report, t *Target) cardView {
	v := cardView{R: r, T: t, Card: mc.Card, Audit: mc.Audit, CheckTable: resultsTable(*t)}
	m := t.Model
	meta := m.Metadata
	row := func(rows *[][]string, k, val string) {
		if val != "" {
			*rows = append(*rows, []string{k, val})
		}
	}
	row(&v.Details, "Description", (meta["description"]))
	row(&v.Details, "Version", (meta["version"]))
	switch {
	case mc.Card.License != "":
		row(&v.Details, "License", mc.Card.License)
	case meta["license"] != "":
		row(&v.Details, "License", (meta["license"])+" (from the model's metadata)")
	}
	if len(mc.Card.Owners) > 0 {
		row(&v.Details, "Owners", strings.Join(mc.Card.Owners, ", "))
	}
	row(&v.Details, "File", code(m.Path))
	if m.SizeBytes > 0 {
		row(&v.Details, "Size", formatSize(m.SizeBytes))
	}
	row(&v.Details, "Producer", m.Producer)
	row(&v.Details, "Format", formatVersions(m))
	if s := m.Signature; s != nil {
		for _, x := range s.Inputs {
			row(&v.Details, "Input", fmt.Sprintf("%s %s %s", code(x.Name), x.DType, x.ShapeString()))
		}
		for _, x := range s.Outputs {
			row(&v.Details, "Output", fmt.Sprintf("%s %s %s", code(x.Name), x.DType, x.ShapeString()))
		}
	}
	row(&v.Details, "Output read as", m.Output)
	if p := m.Preprocess; p != nil {
		row(&v.Details, "Preprocessing", describePre(p))
	}
	row(&v.Details, "SHA-256", code(m.SHA256))
	for _, k := range sortedKeys(meta) {
		v.Metadata = append(v.Metadata, []string{code(k), (meta[k])})
	}

	if d := r.Inputs.Dataset; d != nil {
		row(&v.Data, "Data", code(d.Path))
		images := fmt.Sprintf("%d in %d classes", d.Images, len(d.Classes))
		if len(d.Unreadable) > 0 {
			images += fmt.Sprintf(" (%d unreadable file(s) left out)", len(d.Unreadable))
		}
		row(&v.Data, "Images", images)
		row(&v.Data, "Labels", d.LabelSource)
		row(&v.Data, "Classes", preview(d.Classes, 20))
		if len(d.PerClass) == len(d.Classes) && len(d.PerClass) > 0 {
			lo, hi := d.PerClass[0], d.PerClass[0]
			for _, n := range d.PerClass {
				lo, hi = min(lo, n), max(hi, n)
			}
			row(&v.Data, "Images per class", fmt.Sprintf("%d to %d", lo, hi))
		}
		row(&v.Data, "Attributes", strings.Join(d.Attributes, ", "))
		row(&v.Data, "SHA-256 of the listing", code(d.SHA256))
	}

	byID := map[string]*Result{}
	for i := range t.Results {
		byID[t.Results[i].ID] = &t.Results[i]
	}
	if p := byID["perf.metrics"]; p != nil {
		v.Perf = p
		v.PerfRows = perfRows(p)
		for i, s := range p.Details {
			if s.Table != nil && strings.HasPrefix(strings.ToLower(s.Title), "per-class") {
				v.PerClass = p.Details[i].Table
				break
			}
		}
	}
	if s := byID["perf.segments"]; s != nil {
		v.Segments = s
	}
	for _, res := range t.Results {
		if res.VsBaseline != "" {
			v.Compare = append(v.Compare, []string{code(res.ID), statusText(res.Status), res.VsBaseline})
		}
		if strings.HasPrefix(res.ID, "robust.") {
			v.Robust = append(v.Robust, []string{code(res.ID), statusText(res.Status), res.Summary, res.VsBaseline})
		}
		switch res.Status {
		case StatusWarn, StatusFail, StatusError:
			v.Problems = append(v.Problems, fmt.Sprintf("%s (%s): %s", code(res.ID), res.Status, res.Summary))
		}
		if f := res.Failures; f != nil {
			s := fmt.Sprintf("%s: %d of %d failure case(s) exported to %s", code(res.ID), f.Count, f.Total, code(f.Dir))
			if f.ContactSheet != "" {
				s += fmt.Sprintf(" (contact sheet %s)", code(f.ContactSheet))
			}
			v.FailCases = append(v.FailCases, s)
		}
	}

	row(&v.AuditRows, "Model SHA-256", code(m.SHA256))
	if b := t.Baseline; b != nil {
		row(&v.AuditRows, "Baseline SHA-256", code(b.SHA256)+" ("+code(b.Source)+")")
	}
	if d := r.Inputs.Dataset; d != nil {
		row(&v.AuditRows, "Dataset SHA-256 (canonical listing)", code(d.SHA256))
	}
	if r.Inputs.ConfigPath != "" {
		row(&v.AuditRows, "Config file SHA-256", code(r.Inputs.ConfigSHA256)+" ("+code(r.Inputs.ConfigPath)+")")
	}
	if a := mc.Audit; a != nil {
		row(&v.AuditRows, "Effective config SHA-256", code(a.ConfigSHA256))
		row(&v.AuditRows, "Audit record SHA-256", code(a.RecordSHA256)+" ("+code(a.File)+")")
	}
	tool := r.Tool.Name + " " + r.Tool.Version
	if r.Tool.Commit != "" {
		tool += " (" + r.Tool.Commit + ")"
	}
	if r.Tool.ORTVersion != "" {
		tool += ", ONNX Runtime " + r.Tool.ORTVersion
	}
	row(&v.AuditRows, "Tool", tool)
	for _, k := range sortedKeys(r.Run.CI) {
		row(&v.AuditRows, ciName(k), code(r.Run.CI[k]))
	}
	row(&v.AuditRows, "Run started", r.Run.StartedAt)
	return v
}

// perfRows lays out perf.metrics' headline numbers with their intervals where it has them.
func perfRows(p *Result) [][]string {
	m := p.Metrics
	var rows [][]string
	share := func(x float64) string {
		if math.IsNaN(x) || x < 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.1f%%", 100*x)
	}
	if acc, ok := m["accuracy"]; ok {
		interval := "not computed"
		lo, okLo := m["accuracy_low"]
		hi, okHi := m["accuracy_high"]
		if okLo && okHi {
			interval = fmt.Sprintf("%s to %s", share(lo), share(hi))
		}
		rows = append(rows, []string{"Accuracy", share(acc), interval, baselineShare(p, "accuracy", share)})
	}
	var topK []string
	for k := range m {
		if strings.HasPrefix(k, "top_") && strings.HasSuffix(k, "_accuracy") {
			topK = append(topK, k)
		}
	}
	sort.Strings(topK)
	for _, k := range topK {
		name := "Top-" + strings.TrimSuffix(strings.TrimPrefix(k, "top_"), "_accuracy") + " accuracy"
		rows = append(rows, []string{name, share(m[k]), "", baselineShare(p, k, share)})
	}
	plain := func(x float64) string { return fmt.Sprintf("%.3f", x) }
	// Detection (COCO) and segmentation headlines carry their interval as <key>_ci_low/_ci_high.
	for _, k := range []struct {
		key, name string
		percent   bool
	}{{"map", "mAP@[.5:.95] (COCO)", false}, {"ap50", "AP50", false}, {"ap75", "AP75", false}, {"ar100", "AR@100", false},
		{"miou", "mIoU", true}, {"pixel_accuracy", "Pixel accuracy", true}, {"mdice", "Mean Dice", true}, {"boundary_iou", "Boundary IoU", true}} {
		x, ok := m[k.key]
		if !ok {
			continue
		}
		f := plain
		if k.percent {
			f = share
		}
		interval := ""
		if lo, okLo := m[k.key+"_ci_low"]; okLo {
			if hi, okHi := m[k.key+"_ci_high"]; okHi {
				interval = fmt.Sprintf("%s to %s", f(lo), f(hi))
			}
		}
		rows = append(rows, []string{k.name, f(x), interval, baselineShare(p, k.key, f)})
	}
	for _, k := range []struct{ key, name string }{{"macro_f1", "Macro F1"}, {"ece", "Expected calibration error"}} {
		if x, ok := m[k.key]; ok {
			rows = append(rows, []string{k.name, plain(x), "", baselineShare(p, k.key, plain)})
		}
	}
	return rows
}

func baselineShare(p *Result, key string, format func(float64) string) string {
	if x, ok := p.BaselineMetrics[key]; ok {
		return format(x)
	}
	return ""
}

// formatSize is a file size in KB below 1 MB, else in MB.
func formatSize(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.2f MB", float64(n)/(1<<20))
}

func statusText(s Status) string { return StatusIcon(s) + " " + string(s) }

func preview(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(", … (%d in all)", len(names))
}
