package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"text/template"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

//go:embed templates/markdown.tmpl
var markdownTemplate string

// Markdown renders the report as GitHub-flavoured markdown: a verdict line, one results table per
// target, then a collapsible block per check that did not pass.
type Markdown struct {
	// Marker is a hidden HTML comment placed first, so that a sticky PR comment can be found again.
	Marker string
	// MaxBytes caps the output (0: no cap). Over the cap, detail blocks are dropped from the least
	// severe status up, never the tables, and a note says what was dropped and where to find it.
	MaxBytes int
	// FullReport says where the untrimmed report lives (e.g. "the cvgate-report artifact").
	FullReport string
	// AllDetails also shows the details of passing checks (for report.md on disk).
	AllDetails bool
}

var _ Writer = Markdown{}

// Write implements Writer.
func (m Markdown) Write(w io.Writer, r *Report) error {
	tmpl, err := template.New("markdown").Funcs(markdownFuncs).Parse(markdownTemplate)
	if err != nil {
		return fmt.Errorf("parse markdown template: %w", err)
	}
	// Candidate detail levels, from everything down to tables only: drop detail blocks of the
	// least severe statuses first.
	dropOrder := []Status{StatusPass, StatusSkip, StatusWarn, StatusFail, StatusError}
	var out []byte
	for level := 0; level <= len(dropOrder); level++ {
		dropped := map[Status]bool{}
		for _, s := range dropOrder[:level] {
			dropped[s] = true
		}
		data := markdownData{R: r, Marker: m.Marker}
		data.show = func(res Result) bool {
			if dropped[res.Status] {
				return false
			}
			if res.Status == StatusPass && !m.AllDetails {
				return false
			}
			return hasDetails(res)
		}
		if n := countDropped(r, dropped, m.AllDetails); n > 0 {
			where := m.FullReport
			if where == "" {
				where = "report.json and report.md in the output folder"
			}
			data.Trimmed = append(data.Trimmed, fmt.Sprintf("Details of %d check(s) were left out to stay under the %d-character limit; the full report is in %s.", n, m.MaxBytes, where))
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, data); err != nil {
			return fmt.Errorf("render markdown: %w", err)
		}
		out = buf.Bytes()
		if m.MaxBytes <= 0 || len(out) <= m.MaxBytes {
			break
		}
	}
	if m.MaxBytes > 0 && len(out) > m.MaxBytes {
		// Even the tables alone are too long (hundreds of targets): cut at a line boundary.
		note := fmt.Sprintf("\n\n> The report was cut to stay under the %d-character limit; the full report is in %s.\n", m.MaxBytes, m.FullReport)
		cut := m.MaxBytes - len(note)
		if cut < 0 {
			cut = 0
		}
		if i := bytes.LastIndexByte(out[:cut], '\n'); i > 0 {
			cut = i
		}
		out = append(out[:cut:cut], note...)
	}
	_, err = w.Write(out)
	return err
}

func countDropped(r *Report, dropped map[Status]bool, allDetails bool) int {
	n := 0
	for _, t := range r.Targets {
		for _, res := range t.Results {
			if !dropped[res.Status] || (res.Status == StatusPass && !allDetails) {
				continue
			}
			if hasDetails(res) {
				n++
			}
		}
	}
	return n
}

// hasDetails reports whether a result has anything to show below the table. A skip's reason is
// already its summary, so it alone is not worth a block.
func hasDetails(res Result) bool {
	if len(res.Details) > 0 || res.Failures != nil {
		return true
	}
	return res.Error != "" && res.Status != StatusSkip
}

type markdownData struct {
	R       *Report
	Marker  string
	Trimmed []string
	show    func(Result) bool
}

var markdownFuncs = template.FuncMap{
	"icon":   StatusIcon,
	"upper":  func(s Status) string { return strings.ToUpper(string(s)) },
	"escape": escapeCell,
	"counts": func(g Gate) string {
		h := g.Headline()
		return h[strings.Index(h, ": ")+2:]
	},
	"resultsTable":    resultsTable,
	"section":         markdownSection,
	"footer":          footer,
	"comparisonTable": comparisonTable,
}

// ShowDetails is called by the template: text/template functions are fixed at parse time, so the
// per-render filter (which statuses were trimmed) travels with the data.
func (d markdownData) ShowDetails(res Result) bool { return d.show(res) }

func resultsTable(t Target) string {
	hasThreshold, hasBaseline := false, false
	for _, r := range t.Results {
		hasThreshold = hasThreshold || r.Threshold != ""
		hasBaseline = hasBaseline || r.VsBaseline != ""
	}
	header := []string{"Check", "Status", "Result"}
	if hasThreshold {
		header = append(header, "Threshold")
	}
	if hasBaseline {
		header = append(header, "vs baseline")
	}
	var rows [][]string
	for _, r := range t.Results {
		row := []string{"`" + r.ID + "`", StatusIcon(r.Status) + " " + string(r.Status), r.Summary}
		if hasThreshold {
			row = append(row, r.Threshold)
		}
		if hasBaseline {
			row = append(row, r.VsBaseline)
		}
		rows = append(rows, row)
	}
	return markdownTable(header, rows)
}

// markdownTable renders a pipe table with tablewriter. Cells are escaped so that a pipe or a line
// break inside a value cannot break the table.
func markdownTable(header []string, rows [][]string) string {
	var buf bytes.Buffer
	tb := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewMarkdown()),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
	)
	h := make([]any, len(header))
	for i, c := range header {
		h[i] = escapeCell(c)
	}
	tb.Header(h...)
	for _, row := range rows {
		cells := make([]any, len(header))
		for i := range header {
			v := ""
			if i < len(row) {
				v = row[i]
			}
			cells[i] = escapeCell(v)
		}
		if err := tb.Append(cells...); err != nil {
			return fmt.Sprintf("(table could not be rendered: %v)", err)
		}
	}
	if err := tb.Render(); err != nil {
		return fmt.Sprintf("(table could not be rendered: %v)", err)
	}
	return strings.TrimRight(buf.String(), "\n")
}

func escapeCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\r", "")
	s = strings.ReplaceAll(s, "\n", " ")
	if s == "" {
		return " "
	}
	return s
}

func markdownSection(s Section) string {
	var b strings.Builder
	if s.Title != "" {
		fmt.Fprintf(&b, "**%s**\n\n", s.Title)
	}
	if s.Text != "" {
		b.WriteString(s.Text)
		b.WriteString("\n\n")
	}
	if s.Table != nil && len(s.Table.Columns) > 0 {
		b.WriteString(markdownTable(s.Table.Columns, s.Table.Rows))
		b.WriteString("\n\n")
	}
	if s.Matrix != nil {
		header := append([]string{s.Matrix.RowLabel + " \\ " + s.Matrix.ColLabel}, s.Matrix.Cols...)
		var rows [][]string
		for i, label := range s.Matrix.Rows {
			row := []string{label}
			for _, v := range s.Matrix.Values[i] {
				row = append(row, formatNumber(v))
			}
			rows = append(rows, row)
		}
		b.WriteString(markdownTable(header, rows))
		b.WriteString("\n\n")
	}
	if s.Chart != nil {
		b.WriteString(mermaidChart(*s.Chart))
		b.WriteString("\n")
	}
	for _, img := range s.Images {
		fmt.Fprintf(&b, "- `%s`\n", img)
	}
	return strings.TrimRight(b.String(), "\n")
}

// mermaidChart renders a line chart that GitHub draws itself, so no image hosting is needed.
// xychart-beta has no legend, so the series are named in a line under the chart.
func mermaidChart(c Chart) string {
	var b strings.Builder
	b.WriteString("```mermaid\nxychart-beta\n")
	if c.Title != "" {
		fmt.Fprintf(&b, "    title %q\n", c.Title)
	}
	xs := make([]string, len(c.X))
	for i, x := range c.X {
		xs[i] = fmt.Sprintf("%q", x)
	}
	fmt.Fprintf(&b, "    x-axis %q [%s]\n", c.XLabel, strings.Join(xs, ", "))
	fmt.Fprintf(&b, "    y-axis %q %s --> %s\n", c.YLabel, formatNumber(c.YMin), formatNumber(c.YMax))
	for _, s := range c.Series {
		vs := make([]string, len(s.Values))
		for i, v := range s.Values {
			vs[i] = formatNumber(v)
		}
		fmt.Fprintf(&b, "    line [%s]\n", strings.Join(vs, ", "))
	}
	b.WriteString("```\n")
	if len(c.Series) > 0 {
		var names []string
		for i, s := range c.Series {
			names = append(names, fmt.Sprintf("line %d: %s", i+1, s.Name))
		}
		b.WriteString("<sub>" + strings.Join(names, " · ") + "</sub>\n")
	}
	return b.String()
}

func formatNumber(v float64) string {
	if v == float64(int64(v)) && v < 1e15 && v > -1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
}

// comparisonTable renders the ranking as one table: each model's own numbers side by side, and
// its paired difference from the top-ranked model with the Holm-adjusted p-value.
func comparisonTable(c *Comparison) string {
	pairs := map[string]ComparisonPair{}
	metric := "accuracy"
	for _, p := range c.Pairs {
		pairs[p.B] = p
		metric = p.Metric
	}
	header := []string{"Rank", "Model", "Accuracy (95% CI)", "Macro F1", "p50 latency", "vs fastest", "Δ " + strings.ReplaceAll(metric, "_", " ") + " vs #1 (CI)", "p (Holm)", "Eligible"}
	var rows [][]string
	for _, r := range c.Rows {
		m := r.Metrics
		eligible := "yes"
		if !r.Eligible {
			eligible = "no: " + r.Reason
		}
		acc, f1, p50, ratio := "n/a", "n/a", "n/a", ""
		if v, ok := m["accuracy"]; ok {
			acc = fmt.Sprintf("%.1f%% [%.1f, %.1f]", 100*v, 100*m["accuracy_low"], 100*m["accuracy_high"])
		}
		if v, ok := m["macro_f1"]; ok {
			f1 = fmt.Sprintf("%.3f", v)
		}
		if v, ok := m["p50_ms"]; ok {
			p50 = fmt.Sprintf("%.3g ms", v)
		}
		if v, ok := m["latency_ratio"]; ok {
			ratio = fmt.Sprintf("×%.2f [%.2f, %.2f]", v, m["latency_ratio_low"], m["latency_ratio_high"])
		}
		diff, p := "", ""
		if pr, ok := pairs[r.Model]; ok {
			// Diff is #1 minus this model; the column shows this model relative to #1.
			diff = fmt.Sprintf("%+.1f pp [%+.1f, %+.1f]", -100*pr.Diff, -100*pr.DiffHigh, -100*pr.DiffLow)
			if pr.Metric == "macro_f1" {
				diff = fmt.Sprintf("%+.3f [%+.3f, %+.3f]", -pr.Diff, -pr.DiffHigh, -pr.DiffLow)
			}
			p = formatP(pr.PValueAdjusted)
			if pr.Significant {
				p += " *"
			}
		} else if r.Rank == 1 {
			diff = "—"
		}
		rows = append(rows, []string{fmt.Sprint(r.Rank), "`" + r.Model + "`", acc, f1, p50, ratio, diff, p, eligible})
	}
	out := fmt.Sprintf("Objective: %s\n\n%s", c.Objective, markdownTable(header, rows))
	if c.Best != "" {
		out += fmt.Sprintf("\n\n**Best: `%s`**", c.Best)
	}
	if c.Note != "" {
		out += "\n\n" + c.Note
	}
	if len(c.Pairs) > 0 {
		out += "\n\n<sub>Δ: paired bootstrap interval on the same images; p: McNemar's exact test, Holm-adjusted over the pairs; * significant.</sub>"
	}
	return out
}

func formatP(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return fmt.Sprintf("%.3f", p)
}

func footer(r *Report) string {
	c := r.Run.Counters
	parts := []string{fmt.Sprintf("%s %s", r.Tool.Name, r.Tool.Version)}
	if r.Tool.ORTVersion != "" {
		parts = append(parts, "ONNX Runtime "+r.Tool.ORTVersion)
	}
	parts = append(parts, fmt.Sprintf("%.2f s (%.2f s inside ONNX Runtime, %d forward passes)", c.TotalSeconds, c.ORTSeconds, c.ForwardPasses))
	return strings.Join(parts, " · ")
}
