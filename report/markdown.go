package report

import (
	_ "embed"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/template"
	"unicode/utf8"
)

//go:embed templates/markdown.tmpl
var markdownTemplate string

// Markdown renders the report as GitHub-flavoured markdown: a verdict line, one results table per
// target, then a collapsible block per check that did not pass. Every string from the report is
// neutralized (escape.go): nothing from input can add HTML, links, images, headings, pings or
// references, or break out of a table, a code span or a code block.
type Markdown struct {
	// Marker is a hidden HTML comment placed first, so that a sticky PR comment can be found again.
	Marker string
	// MaxBytes caps the output (0: no cap); see Write for how it is kept.
	MaxBytes int
	// FullReport says where the untrimmed report lives (e.g. "the cvgate-report artifact").
	FullReport string
	// FullReportURL, when set, links FullReport (e.g. the workflow run's page, where the job
	// summary and the artifact are). It comes from the caller, never from the report; anything
	// but an http(s) URL is shown as text.
	FullReportURL string
	// AllDetails also shows the details of passing checks (for report.md on disk).
	AllDetails bool
	// Origin is a line of the caller's own markdown, shown under the headline, saying where the
	// results come from (cvgate publish: the run that produced the report). Never from a report.
	Origin string
}

var _ Writer = Markdown{}

// noteRoom is what the budget keeps free for the note that says what was left out.
const noteRoom = 600

// Write implements Writer. Each piece (head, each target's table, each detail block, the
// comparison, the footer) is rendered once; then, under MaxBytes, the pieces are chosen in one
// pass: the head, the footer and every target's results table first, then detail blocks from
// the most severe status down (error, fail, warn, skip, pass; in report order within a
// status) while they fit, and a note says how many were left out and where they are. When even
// the tables do not fit (hundreds of targets), a compact table with one verdict row per target
// takes their place, failing targets first when not all rows fit, with a link to the full report.
func (m Markdown) Write(w io.Writer, r *Report) error {
	tmpl, err := template.New("markdown").Funcs(markdownFuncs).Parse(markdownTemplate)
	if err != nil {
		return fmt.Errorf("parse markdown template: %w", err)
	}
	exec := func(name string, data any) (string, error) {
		var b strings.Builder
		if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
			return "", fmt.Errorf("render markdown %s: %w", name, err)
		}
		return b.String(), nil
	}
	head, err := exec("head", markdownData{R: r, Marker: m.Marker, Origin: m.Origin})
	if err != nil {
		return err
	}
	footer, err := exec("footer", r)
	if err != nil {
		return err
	}
	comparison := ""
	if r.Comparison != nil {
		if comparison, err = exec("comparison", r.Comparison); err != nil {
			return err
		}
	}
	tables := make([]string, len(r.Targets))
	var details []detailPiece
	tablesLen := len(comparison)
	for ti := range r.Targets {
		t := &r.Targets[ti]
		if tables[ti], err = exec("target", struct{ T *Target }{t}); err != nil {
			return err
		}
		tablesLen += len(tables[ti])
		for ri := range t.Results {
			res := &t.Results[ri]
			if !hasDetails(*res) || (res.Status == StatusPass && !m.AllDetails) {
				continue
			}
			text, err := exec("detail", res)
			if err != nil {
				return err
			}
			details = append(details, detailPiece{target: ti, result: ri, status: res.Status, text: text})
		}
	}
	detailsLen := 0
	for _, d := range details {
		detailsLen += len(d.text)
	}

	var out strings.Builder
	fixed := len(head) + len(footer)
	switch {
	case m.MaxBytes <= 0 || fixed+tablesLen+detailsLen <= m.MaxBytes:
		m.assemble(&out, head, tables, comparison, details, nil, footer, exec)
	case fixed+tablesLen+noteRoom <= m.MaxBytes:
		kept, dropped := chooseDetails(details, m.MaxBytes-fixed-tablesLen-noteRoom)
		note := ""
		if dropped > 0 {
			note = fmt.Sprintf("Details of %d check(s) were left out to stay under the %d-character limit; the full report is in %s.", dropped, m.MaxBytes, m.where())
		}
		m.assemble(&out, head, tables, comparison, kept, []string{note}, footer, exec)
	default:
		compact, note := m.compact(r, m.MaxBytes-fixed-noteRoom)
		out.WriteString(head)
		if s, err := exec("compact", compact); err == nil {
			out.WriteString(s)
		}
		if s, err := exec("note", note); err == nil {
			out.WriteString(s)
		}
		out.WriteString(footer)
	}
	body := out.String()
	if m.MaxBytes > 0 && len(body) > m.MaxBytes {
		// A budget smaller than the head and footer themselves: cut at a line boundary.
		body = hardCut(body, m.MaxBytes, m.where())
	}
	_, err = io.WriteString(w, body)
	return err
}

// detailPiece is one rendered <details> block and where it belongs.
type detailPiece struct {
	target, result int
	status         Status
	text           string
}

// chooseDetails keeps the detail blocks that fit in room, most severe status first (report
// order within a status), and returns them in report order with the number dropped.
func chooseDetails(details []detailPiece, room int) (kept []detailPiece, dropped int) {
	order := make([]int, len(details))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return details[order[a]].status.Severity() > details[order[b]].status.Severity()
	})
	keep := make([]bool, len(details))
	for _, i := range order {
		if n := len(details[i].text); n <= room {
			keep[i] = true
			room -= n
		} else {
			dropped++
		}
	}
	for i, d := range details {
		if keep[i] {
			kept = append(kept, d)
		}
	}
	return kept, dropped
}

// assemble writes the pieces in document order: each target's table followed by its details.
func (m Markdown) assemble(out *strings.Builder, head string, tables []string, comparison string, details []detailPiece, notes []string, footer string, exec func(string, any) (string, error)) {
	out.WriteString(head)
	d := 0
	for ti, table := range tables {
		out.WriteString(table)
		for ; d < len(details) && details[d].target == ti; d++ {
			out.WriteString(details[d].text)
		}
	}
	out.WriteString(comparison)
	for _, n := range notes {
		if n == "" {
			continue
		}
		if s, err := exec("note", n); err == nil {
			out.WriteString(s)
		}
	}
	out.WriteString(footer)
}

// compact renders one verdict row per target within room bytes: all of them when they fit,
// else the most severe verdicts first (report order within a verdict), shown in report order,
// with a last row counting the rest. It returns the table and the note that explains it.
func (m Markdown) compact(r *Report, room int) (table, note string) {
	header := "| Model | Verdict | Checks |\n|:--|:--|:--|\n"
	rows := make([]string, len(r.Targets))
	for i := range r.Targets {
		t := &r.Targets[i]
		rows[i] = "| " + mdCell("`"+t.Name+"`") + " | " + StatusIcon(t.Verdict) + " " + string(t.Verdict) + " | " + mdCell(targetCounts(t)) + " |\n"
	}
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return r.Targets[order[a]].Verdict.Severity() > r.Targets[order[b]].Verdict.Severity()
	})
	const moreRow = 120 // room for the row counting the targets left out
	room -= len(header) + moreRow
	keep := make([]bool, len(rows))
	left, leftFailing := 0, 0
	for _, i := range order {
		if len(rows[i]) <= room {
			keep[i] = true
			room -= len(rows[i])
			continue
		}
		left++
		if r.Targets[i].Verdict.Severity() >= StatusFail.Severity() {
			leftFailing++
		}
	}
	var b strings.Builder
	b.WriteString(header)
	for i, row := range rows {
		if keep[i] {
			b.WriteString(row)
		}
	}
	if left > 0 {
		fmt.Fprintf(&b, "| … %d more model(s), %d of them failing | | |\n", left, leftFailing)
	}
	note = fmt.Sprintf("The results tables of the %d models do not fit in the %d-character limit, so this comment shows each model's verdict only; the full report is in %s.", len(r.Targets), m.MaxBytes, m.where())
	return strings.TrimRight(b.String(), "\n"), note
}

// targetCounts is a target's results in one phrase, e.g. "5 passed, 1 failed".
func targetCounts(t *Target) string {
	var n [5]int
	for _, res := range t.Results {
		n[res.Status.Severity()]++
	}
	var parts []string
	for i, name := range []string{"passed", "skipped", "warned", "failed", "could not run"} {
		if n[i] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[i], name))
		}
	}
	if len(parts) == 0 {
		return "no checks"
	}
	return strings.Join(parts, ", ")
}

// where is FullReport, linked when FullReportURL is a plain http(s) URL.
func (m Markdown) where() string {
	where := m.FullReport
	if where == "" {
		where = "report.json and report.md in the output folder"
	}
	if u, err := url.Parse(m.FullReportURL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		!strings.ContainsAny(m.FullReportURL, " \t\r\n()<>\"'`[]|\\") {
		return "[" + mdText(where) + "](" + m.FullReportURL + ")"
	}
	return mdText(where)
}

// hardCut fits body into max bytes at a line boundary (and a rune boundary), with a note.
func hardCut(body string, max int, where string) string {
	note := fmt.Sprintf("\n\n> The report was cut to stay under the %d-character limit; the full report is in %s.\n", max, where)
	cut := max - len(note)
	if cut < 0 {
		cut = 0
	}
	if i := strings.LastIndexByte(body[:cut], '\n'); i > 0 {
		cut = i
	}
	for cut > 0 && !utf8.RuneStart(body[cut]) {
		cut--
	}
	out := body[:cut] + note
	if len(out) > max {
		return out[:max]
	}
	return out
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
	R      *Report
	Marker string
	Origin string
}

var markdownFuncs = template.FuncMap{
	"icon":  StatusIcon,
	"upper": func(s Status) string { return strings.ToUpper(string(s)) },
	"counts": func(g Gate) string {
		h := g.Headline()
		return h[strings.Index(h, ": ")+2:]
	},
	"code":            mdCode,
	"text":            mdText,
	"html":            mdHTML,
	"codeBlock":       mdCodeBlock,
	"resultsTable":    resultsTable,
	"section":         markdownSection,
	"footer":          func(r *Report) string { return mdText(footerText(r)) },
	"comparisonTable": comparisonTable,
}

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

// Bounds on what one markdown table shows; the numbers stay complete in report.json.
const (
	maxTableRows    = 1000
	maxMatrixLabels = 100
	maxPadWidth     = 100 // columns wider than this are not padded (padding costs comment budget)
)

// markdownTable renders a GFM pipe table. Every cell goes through mdCell, so a pipe, a line
// break, HTML or a ping inside a value cannot break the table or the page. Columns are padded
// for people reading the raw file, unless wide.
func markdownTable(header []string, rows [][]string) string {
	if len(header) == 0 {
		return ""
	}
	more := 0
	if len(rows) > maxTableRows {
		rows, more = rows[:maxTableRows], len(rows)-maxTableRows
	}
	cells := make([][]string, 0, len(rows)+1)
	h := make([]string, len(header))
	for i, c := range header {
		h[i] = mdCell(c)
	}
	cells = append(cells, h)
	for _, row := range rows {
		c := make([]string, len(header))
		for i := range header {
			v := ""
			if i < len(row) {
				v = row[i]
			}
			c[i] = mdCell(v)
		}
		cells = append(cells, c)
	}
	width := make([]int, len(header))
	for _, row := range cells {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	line := func(row []string) {
		b.WriteByte('|')
		for i, c := range row {
			b.WriteByte(' ')
			b.WriteString(c)
			if width[i] <= maxPadWidth {
				b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)))
			}
			b.WriteString(" |")
		}
		b.WriteByte('\n')
	}
	line(cells[0])
	b.WriteByte('|')
	for i := range header {
		w := 3
		if width[i] <= maxPadWidth {
			w = max(3, width[i]+1)
		}
		b.WriteString(":" + strings.Repeat("-", w) + "|")
	}
	b.WriteByte('\n')
	for _, row := range cells[1:] {
		line(row)
	}
	if more > 0 {
		fmt.Fprintf(&b, "\n_%d more rows are in report.json._\n", more)
	}
	return strings.TrimRight(b.String(), "\n")
}

func markdownSection(s Section) string {
	var b strings.Builder
	if s.Title != "" {
		fmt.Fprintf(&b, "**%s**\n\n", mdTitle(s.Title))
	}
	if p := mdParagraphs(s.Text); p != "" {
		b.WriteString(p)
		b.WriteString("\n\n")
	}
	if s.Table != nil && len(s.Table.Columns) > 0 {
		b.WriteString(markdownTable(s.Table.Columns, s.Table.Rows))
		b.WriteString("\n\n")
	}
	if mx := s.Matrix; mx != nil {
		if len(mx.Rows) > maxMatrixLabels || len(mx.Cols) > maxMatrixLabels {
			fmt.Fprintf(&b, "_A %d x %d matrix is too large to show here; its values are in report.json._\n\n", len(mx.Rows), len(mx.Cols))
		} else {
			header := append([]string{mx.RowLabel + " \\ " + mx.ColLabel}, mx.Cols...)
			var rows [][]string
			for i, label := range mx.Rows {
				row := []string{label}
				if i < len(mx.Values) {
					for _, v := range mx.Values[i] {
						row = append(row, formatNumber(v))
					}
				}
				rows = append(rows, row)
			}
			b.WriteString(markdownTable(header, rows))
			b.WriteString("\n\n")
		}
	}
	if s.Chart != nil {
		b.WriteString(mermaidChart(*s.Chart))
		b.WriteString("\n")
	}
	for i, img := range s.Images {
		if i == maxTableRows {
			fmt.Fprintf(&b, "- _%d more images are listed in report.json._\n", len(s.Images)-i)
			break
		}
		fmt.Fprintf(&b, "- %s\n", mdCode(img))
	}
	return strings.TrimRight(b.String(), "\n")
}

// mermaidChart renders a line chart that GitHub draws itself, so no image hosting is needed.
// xychart-beta has no legend, so the series are named in a line under the chart.
func mermaidChart(c Chart) string {
	var b strings.Builder
	b.WriteString("```mermaid\nxychart-beta\n")
	if c.Title != "" {
		fmt.Fprintf(&b, "    title \"%s\"\n", mermaidLabel(c.Title))
	}
	xs := make([]string, 0, len(c.X))
	for i, x := range c.X {
		if i == maxTableRows {
			break
		}
		xs = append(xs, "\""+mermaidLabel(x)+"\"")
	}
	fmt.Fprintf(&b, "    x-axis \"%s\" [%s]\n", mermaidLabel(c.XLabel), strings.Join(xs, ", "))
	fmt.Fprintf(&b, "    y-axis \"%s\" %s --> %s\n", mermaidLabel(c.YLabel), formatNumber(c.YMin), formatNumber(c.YMax))
	series := c.Series
	if len(series) > len(palette) {
		series = series[:len(palette)]
	}
	for _, s := range series {
		vs := make([]string, 0, len(xs))
		for i, v := range s.Values {
			if i == len(xs) {
				break
			}
			vs = append(vs, formatNumber(v))
		}
		fmt.Fprintf(&b, "    line [%s]\n", strings.Join(vs, ", "))
	}
	b.WriteString("```\n")
	if len(series) > 0 {
		var names []string
		for i, s := range series {
			names = append(names, fmt.Sprintf("line %d: %s", i+1, mdTitle(s.Name)))
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
	out := fmt.Sprintf("Objective: %s\n\n%s", mdText(c.Objective), markdownTable(header, rows))
	if c.Best != "" {
		out += fmt.Sprintf("\n\n**Best: %s**", mdCode(c.Best))
	}
	if note := mdParagraphs(c.Note); note != "" {
		out += "\n\n" + note
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

// footerText is the tool and timing line, plain (each writer escapes it for its format).
func footerText(r *Report) string {
	c := r.Run.Counters
	parts := []string{fmt.Sprintf("%s %s", r.Tool.Name, r.Tool.Version)}
	if r.Tool.ORTVersion != "" {
		parts = append(parts, "ONNX Runtime "+r.Tool.ORTVersion)
	}
	parts = append(parts, fmt.Sprintf("%.2f s (%.2f s inside ONNX Runtime, %d forward passes)", c.TotalSeconds, c.ORTSeconds, c.ForwardPasses))
	return strings.Join(parts, " · ")
}
