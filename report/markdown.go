package report

import (
	_ "embed"
	"fmt"
	"io"
	"math"
	"net/url"
	"path"
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

// Write implements Writer. The comment (AllDetails unset) leads with the answer: a headline
// naming the checks that decided the verdict, what changed against the baseline, the checks that
// did not pass, and the passing ones folded into one collapsed block; report.md (AllDetails)
// keeps the full results table with thresholds and every check's details. Several models get a
// summary table first; a comparison (cvgate compare) its ranking first.
//
// Each piece (head, overview, each target's section, each detail block, the footer) is rendered
// once; then, under MaxBytes, the pieces are chosen in one pass: the head, the overview, the
// footer and every target's section first, then detail blocks from the most severe status down
// (error, fail, warn, skip, pass; in report order within a status) while they fit, and a note
// says how many were left out and where they are. When even the sections do not fit (hundreds of
// targets), the overview alone stays, failing targets first when not all rows fit, with a link to
// the full report.
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
	head, err := exec("head", markdownData{R: r, Marker: m.Marker, Origin: m.Origin, Headline: headlineText(r), Counts: countsText(r)})
	if err != nil {
		return err
	}
	footer, err := exec("footer", r)
	if err != nil {
		return err
	}
	// The ranking of a comparison, or the summary of several models, comes right after the head.
	overview := ""
	var fullRows []string
	switch {
	case r.Comparison != nil:
		if overview, err = exec("comparison", r.Comparison); err != nil {
			return err
		}
	case len(r.Targets) > 1:
		fullRows = overviewLines(r, false)
		table, _ := m.overview(r, -1, fullRows)
		if overview, err = exec("overview", table); err != nil {
			return err
		}
	}
	tables := make([]string, len(r.Targets))
	var details []detailPiece
	tablesLen := 0
	for ti := range r.Targets {
		t := &r.Targets[ti]
		if tables[ti], err = exec("target", targetData{T: t, Full: m.AllDetails}); err != nil {
			return err
		}
		tablesLen += len(tables[ti])
		for ri := range t.Results {
			res := &t.Results[ri]
			if !hasDetails(*res) || (res.Status == StatusPass && !m.AllDetails) {
				continue
			}
			text, err := exec("detail", detailData{Result: res, Comment: !m.AllDetails})
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
	fixed := len(head) + len(footer) + len(overview)
	if !m.AllDetails {
		// Room for each target's wrapper around its detail blocks (see assemble).
		withDetails := map[int]bool{}
		for _, d := range details {
			withDetails[d.target] = true
		}
		fixed += len(withDetails) * len(detailsWrapper(0))
	}
	switch {
	case m.MaxBytes <= 0 || fixed+tablesLen+detailsLen <= m.MaxBytes:
		m.assemble(&out, head, overview, targetOrder(r), tables, details, nil, footer, exec)
	case fixed+tablesLen+noteRoom <= m.MaxBytes:
		kept, dropped := chooseDetails(details, m.MaxBytes-fixed-tablesLen-noteRoom)
		note := ""
		if dropped > 0 {
			note = fmt.Sprintf("Details of %s were left out to stay under the %d-character limit; the full report is in %s.", plural(dropped, "check"), m.MaxBytes, m.where())
		}
		m.assemble(&out, head, overview, targetOrder(r), tables, kept, []string{note}, footer, exec)
	default:
		out.WriteString(head)
		if r.Comparison != nil && len(overview)+len(footer)+len(head)+noteRoom <= m.MaxBytes {
			out.WriteString(overview)
			if s, err := exec("note", fmt.Sprintf("The results of each model do not fit in the %d-character limit; they are in %s.", m.MaxBytes, m.where())); err == nil {
				out.WriteString(s)
			}
		} else {
			compact, note := m.overview(r, m.MaxBytes-len(head)-len(footer)-noteRoom, fullRows)
			if s, err := exec("overview", compact); err == nil {
				out.WriteString(s)
			}
			if s, err := exec("note", note); err == nil {
				out.WriteString(s)
			}
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

// targetOrder is the order the targets' sections are shown in: the report's, except that a
// comparison shows the models in ranking order, below the ranking.
func targetOrder(r *Report) []int {
	order := make([]int, len(r.Targets))
	for i := range order {
		order[i] = i
	}
	if c := r.Comparison; c != nil {
		rank := map[string]int{}
		for _, row := range c.Rows {
			rank[row.Model] = row.Rank
		}
		sort.SliceStable(order, func(a, b int) bool {
			ra, oka := rank[r.Targets[order[a]].Name]
			rb, okb := rank[r.Targets[order[b]].Name]
			if oka != okb {
				return oka
			}
			return ra < rb
		})
	}
	return order
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

// assemble writes the pieces in document order: the overview, then each target's section
// followed by its details, targets in the given order.
func (m Markdown) assemble(out *strings.Builder, head, overview string, order []int, tables []string, details []detailPiece, notes []string, footer string, exec func(string, any) (string, error)) {
	out.WriteString(head)
	out.WriteString(overview)
	for _, ti := range order {
		out.WriteString(tables[ti])
		var mine []detailPiece
		for _, d := range details {
			if d.target == ti {
				mine = append(mine, d)
			}
		}
		if len(mine) == 0 {
			continue
		}
		if !m.AllDetails {
			// The comment folds the detail blocks of a target into one: the table above already
			// lists the checks that did not pass.
			out.WriteString(detailsWrapperOpen(len(mine)))
		}
		for _, dp := range mine {
			out.WriteString(dp.text)
		}
		if !m.AllDetails {
			out.WriteString("\n</details>\n")
		}
	}
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

// overview renders one row per target (verdict, the key changes against its baseline, the checks
// that did not pass) within room bytes (room < 0: no limit): all of them when they fit, else the
// most severe verdicts first (report order within a verdict), shown in report order, with a last
// row counting the rest. It returns the table and the note that explains a cut.
func (m Markdown) overview(r *Report, room int, full []string) (table, note string) {
	if room >= 0 {
		// Over budget the slim table (verdict and counts only) keeps more rows.
		if t, note, left := m.overviewRows(r, room, false, full); left == 0 {
			return t, note
		}
		table, note, _ = m.overviewRows(r, room, true, nil)
		return table, note
	}
	table, note, _ = m.overviewRows(r, room, false, full)
	return table, note
}

// overviewRows is overview with all columns, or only the verdict and the counts (slim); rows,
// when given, are the rows already rendered (overviewLines); left is how many did not fit.
func (m Markdown) overviewRows(r *Report, room int, slim bool, rows []string) (table, note string, left int) {
	header := "| | Model | Checks | What changed vs the baseline | Not passing |\n|:-:|:--|:--|:--|:--|\n"
	if slim {
		header = "| | Model | Checks |\n|:-:|:--|:--|\n"
	}
	if rows == nil {
		rows = overviewLines(r, slim)
	}
	keep := make([]bool, len(rows))
	leftFailing := 0
	if room < 0 {
		for i := range keep {
			keep[i] = true
		}
	} else {
		order := make([]int, len(rows))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool {
			return r.Targets[order[a]].Verdict.Severity() > r.Targets[order[b]].Verdict.Severity()
		})
		const moreRow = 120 // room for the row counting the targets left out
		room -= len(header) + moreRow
		full := false
		for _, i := range order {
			// Once a row does not fit, no less severe row takes its place: failing models first.
			if !full && len(rows[i]) <= room {
				keep[i] = true
				room -= len(rows[i])
				continue
			}
			full = true
			left++
			if r.Targets[i].Verdict.Severity() >= StatusFail.Severity() {
				leftFailing++
			}
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
		more := "models"
		if left == 1 {
			more = "model"
		}
		cells := " | |"
		if !slim {
			cells += " | |"
		}
		fmt.Fprintf(&b, "| | … %d more %s, %d of them failing%s\n", left, more, leftFailing, cells)
	}
	note = fmt.Sprintf("The results of the %d models do not fit in the %d-character limit, so this comment shows each model's verdict only; the full report is in %s.", len(r.Targets), m.MaxBytes, m.where())
	return strings.TrimRight(b.String(), "\n"), note, left
}

// detailsWrapper is the block around a target's n detail blocks in the comment. The budget counts
// it at its longest (n of 9999).
func detailsWrapper(n int) string {
	if n == 0 {
		n = 9999
	}
	return fmt.Sprintf("\n<details><summary>🔎 Details of %s that did not pass</summary>\n\n</details>\n", plural(n, "check"))
}

// detailsWrapperOpen is the wrapper up to the detail blocks (each starts with its own line break).
func detailsWrapperOpen(n int) string {
	w := detailsWrapper(n)
	return w[:strings.Index(w, "</summary>")+len("</summary>\n")]
}

// overviewLines renders the overview's row of every target.
func overviewLines(r *Report, slim bool) []string {
	var all []string
	for _, t := range r.Targets {
		all = append(all, t.Name)
	}
	names := shortNames(all)
	rows := make([]string, len(r.Targets))
	for i := range r.Targets {
		t := &r.Targets[i]
		if slim {
			rows[i] = "| " + StatusIcon(t.Verdict) + " | " + mdCell("`"+t.Name+"`") + " | " + mdCell(targetCounts(t)) + " |\n"
			continue
		}
		name := names[t.Name]
		// The key deltas only (the headline metric, latency, size); robustness is in the section.
		var changed []string
		for _, c := range changes(t) {
			if c.headline != "" && (c.check == idPerfBaseline || c.check == idPerfMetrics || c.check == idModelLatency || c.check == idModelLoad) {
				changed = append(changed, c.headline)
			}
		}
		var notPassing []string
		for _, st := range []Status{StatusError, StatusFail, StatusWarn} {
			for _, res := range t.Results {
				if res.Status == st {
					notPassing = append(notPassing, StatusIcon(res.Status)+" "+res.ID)
				}
			}
		}
		rows[i] = "| " + StatusIcon(t.Verdict) + " | " + mdCell("`"+name+"`") + " | " + mdCell(targetCounts(t)) + " | " +
			mdCell(strings.Join(changed, " · ")) + " | " + mdCell(strings.Join(notPassing, ", ")) + " |\n"
	}
	return rows
}

// plural writes a count with its noun: "1 check", "2 checks".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
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
	R        *Report
	Marker   string
	Origin   string
	Headline string // markdown, escaped
	Counts   string // markdown, escaped
}

// targetData is one target's section; Full selects the full results table (report.md) over the
// comment's focused layout.
type targetData struct {
	T    *Target
	Full bool
}

// detailData is one check's collapsible block; Comment adds the threshold and the comparison
// that the comment's table leaves out, and keeps one chart.
type detailData struct {
	*Result
	Comment bool
}

var markdownFuncs = template.FuncMap{
	"icon":            StatusIcon,
	"code":            mdCode,
	"text":            mdText,
	"html":            mdHTML,
	"codeBlock":       mdCodeBlock,
	"changesTable":    changesTable,
	"resultsTable":    resultsTable,
	"attentionTable":  attentionTable,
	"passingBlock":    passingBlock,
	"detailPrelude":   detailPrelude,
	"detailSections":  detailSections,
	"footer":          func(r *Report) string { return mdText(footerText(r)) },
	"comparisonTable": comparisonTable,
}

// decisionWeight orders the checks that decided a verdict for the headline: a regression first,
// then robustness and absolute quality, then the rest in report order.
var decisionWeight = map[string]int{idPerfBaseline: 0, idRobustCorruptions: 1, idPerfMetrics: 2, "model.signature": 3, idModelLoad: 4, idModelLatency: 5}

// maxHeadlineRunes keeps the verdict line to about one line of a comment's heading: the first
// deciding check is always named, more while they fit, the rest counted.
const maxHeadlineRunes = 88

// headlineText is the answer in one line: the verdict and what decided it, e.g. "❌ cvgate FAIL:
// perf.baseline −2.1 pp (p<0.001), robust.corruptions mCE 1.12". A passing run names the change of
// its headline metric; a comparison names its choice.
func headlineText(r *Report) string {
	if c := r.Comparison; c != nil {
		if c.Best != "" {
			return StatusIcon(StatusPass) + " cvgate compare: best " + mdCode(c.Best)
		}
		return StatusIcon(StatusFail) + " cvgate compare: no model is eligible"
	}
	s := StatusIcon(r.Gate.Verdict) + " cvgate " + strings.ToUpper(string(r.Gate.Verdict))
	if n := len(r.Targets); n > 1 && r.Gate.Verdict != StatusPass {
		k := 0
		for _, t := range r.Targets {
			if t.Verdict == r.Gate.Verdict {
				k++
			}
		}
		s += fmt.Sprintf(" (%d of %d models)", k, n)
	}
	ds := deciders(r)
	sort.SliceStable(ds, func(i, j int) bool { return weight(ds[i].result.ID) < weight(ds[j].result.ID) })
	var parts []string
	length := utf8.RuneCountInString(s) + 2
	for i, d := range ds {
		name := d.result.ID
		if len(r.Targets) > 1 {
			name = shortText(path.Base(d.target.Name), 32, nil) + " " + name
		}
		part := name + " " + figure(d.target, d.result)
		more := ""
		if left := len(ds) - i - 1; left > 0 {
			more = fmt.Sprintf(" and %d more", left)
		}
		if i > 0 && length+utf8.RuneCountInString(part+more)+2 > maxHeadlineRunes {
			parts[len(parts)-1] += fmt.Sprintf(" and %d more", len(ds)-i)
			break
		}
		parts = append(parts, mdText(part))
		length += utf8.RuneCountInString(part) + 2
	}
	if len(parts) == 0 && len(r.Targets) == 1 {
		if c, ok := scoreChange(&r.Targets[0]); ok {
			parts = append(parts, mdText(c.headline+" vs the baseline"))
		}
	}
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	return s
}

func weight(id string) int {
	if w, ok := decisionWeight[id]; ok {
		return w
	}
	return len(decisionWeight)
}

// countsText is the line under the headline: the counts, whether the gate lets the change
// through, and the data.
func countsText(r *Report) string {
	var b strings.Builder
	if c := r.Comparison; c != nil {
		fmt.Fprintf(&b, "**%s ranked**", plural(len(c.Rows), "model"))
	} else {
		h := r.Gate.Headline()
		b.WriteString("**" + mdText(h[strings.Index(h, ": ")+2:]) + "**")
		effect := "the gate passes"
		if r.Gate.ExitFailed {
			effect = "the gate fails"
		}
		b.WriteString(" · fail-on " + mdCode(string(r.Gate.FailOn)) + ": " + effect)
	}
	if d := r.Inputs.Dataset; d != nil {
		fmt.Fprintf(&b, " · %s", plural(d.Images, "image"))
		if d.Objects > 0 {
			fmt.Fprintf(&b, ", %s", plural(d.Objects, "object"))
		}
		if len(d.Classes) > 0 {
			fmt.Fprintf(&b, ", %s", plural(len(d.Classes), "class"))
		}
		if len(d.Unreadable) > 0 {
			fmt.Fprintf(&b, ", %d unreadable", len(d.Unreadable))
		}
	}
	return b.String()
}

// changesTable is "what changed vs the baseline": the few numbers a reviewer weighs, each beside
// the status of the check it comes from.
func changesTable(t Target) string {
	cs := changes(&t)
	if len(cs) == 0 {
		return ""
	}
	rows := make([][]string, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, []string{StatusIcon(c.status), c.label, c.base, c.cand, c.change})
	}
	return markdownTableAligned([]string{" ", "What changed", "baseline", "candidate", "change"}, rows, ":-:", ":--", "--:", "--:", ":--")
}

// resultsTable is the full table of report.md: every check with its result, threshold and
// comparison, the status as one emoji.
func resultsTable(t Target) string {
	hasThreshold, hasBaseline := false, false
	for _, r := range t.Results {
		hasThreshold = hasThreshold || r.Threshold != ""
		hasBaseline = hasBaseline || r.VsBaseline != ""
	}
	header := []string{" ", "Check", "Result"}
	if hasThreshold {
		header = append(header, "Threshold")
	}
	if hasBaseline {
		header = append(header, "vs baseline")
	}
	var rows [][]string
	for _, r := range t.Results {
		row := []string{StatusIcon(r.Status), "`" + r.ID + "`", r.Summary}
		if hasThreshold {
			row = append(row, r.Threshold)
		}
		if hasBaseline {
			row = append(row, r.VsBaseline)
		}
		rows = append(rows, row)
	}
	return markdownTableAligned(header, rows, ":-:")
}

// maxCellText is how long a result may be in the comment's tables: about one line of GitHub's
// comment column. The whole summary is in the check's details and in report.md.
const maxCellText = 110

// cellText is a summary cut for the comment: its main clause (the parts after " · " are
// secondary facts), within maxCellText.
func cellText(s string) string {
	if i := strings.Index(s, " · "); i > 0 {
		s = s[:i]
	}
	return shortText(s, maxCellText, nil)
}

// attentionTable lists the checks that did not pass (skips are folded with the passing ones),
// most severe first.
func attentionTable(t Target) string {
	var rows [][]string
	for _, st := range []Status{StatusError, StatusFail, StatusWarn} {
		for _, r := range t.Results {
			if r.Status == st {
				rows = append(rows, []string{StatusIcon(r.Status), "`" + r.ID + "`", cellText(r.Summary)})
			}
		}
	}
	if len(rows) == 0 {
		return ""
	}
	return markdownTableAligned([]string{" ", "Not passing", "Result"}, rows, ":-:")
}

// passingBlock folds the passing and skipped checks into one collapsed block.
func passingBlock(t Target) string {
	var rows [][]string
	passed, skipped := 0, 0
	for _, r := range t.Results {
		switch r.Status {
		case StatusPass:
			passed++
		case StatusSkip:
			skipped++
		default:
			continue
		}
		rows = append(rows, []string{StatusIcon(r.Status), "`" + r.ID + "`", cellText(r.Summary)})
	}
	if len(rows) == 0 {
		return ""
	}
	var label []string
	if passed > 0 {
		label = append(label, fmt.Sprintf("%s %s passed", StatusIcon(StatusPass), plural(passed, "check")))
	}
	if skipped > 0 {
		label = append(label, fmt.Sprintf("%s %d skipped", StatusIcon(StatusSkip), skipped))
	}
	return "<details><summary>" + strings.Join(label, " · ") + "</summary>\n\n" +
		markdownTableAligned([]string{" ", "Check", "Result"}, rows, ":-:") + "\n\n</details>"
}

// detailPrelude is the line a comment's detail block starts with: the rule and the comparison
// that its table leaves out.
func detailPrelude(r *Result) string {
	var parts []string
	if r.Threshold != "" {
		parts = append(parts, "**Threshold:** "+mdText(r.Threshold))
	}
	if r.VsBaseline != "" {
		parts = append(parts, "**vs baseline:** "+mdText(r.VsBaseline))
	}
	return strings.Join(parts, " · ")
}

// detailSections renders a check's sections. The comment keeps the first chart only (one chart
// per decision); report.md has every chart.
func detailSections(d detailData) []string {
	out := make([]string, 0, len(d.Details))
	charted := false
	for _, s := range d.Details {
		if s.Chart != nil && d.Comment {
			if charted {
				s.Chart = nil
				if s.Text == "" && s.Table == nil && s.Matrix == nil && len(s.Images) == 0 {
					continue
				}
			}
			charted = true
		}
		out = append(out, markdownSection(s))
	}
	return out
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
	return markdownTableAligned(header, rows)
}

// markdownTableAligned is markdownTable with the alignment of the first columns given (":--"
// left, ":-:" centred, "--:" right); the others are left-aligned.
func markdownTableAligned(header []string, rows [][]string, aligns ...string) string {
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
		align := ":--"
		if i < len(aligns) {
			align = aligns[i]
		}
		left, right := strings.HasPrefix(align, ":"), strings.HasSuffix(align, ":")
		n := w + 1
		if left {
			b.WriteByte(':')
			n--
		}
		if right {
			n--
		}
		b.WriteString(strings.Repeat("-", max(n, 1)))
		if right {
			b.WriteByte(':')
		}
		b.WriteByte('|')
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
	// A title that cleans to nothing (blank, or only characters the neutralizer drops) would
	// leave "****", which markdown reads as a horizontal rule.
	if t := strings.TrimSpace(mdTitle(s.Title)); t != "" {
		fmt.Fprintf(&b, "**%s**\n\n", t)
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

// chartColors are the line colours of a mermaid chart, each with the emoji square GitHub shows in
// about the same colour, so that the legend under the chart is a real key. The first two are the
// candidate (strong blue) and the baseline (orange); the palette is colour-blind-safe (Okabe and
// Ito, as report.html).
var chartColors = []struct{ color, key string }{
	{"#0072b2", "🟦"}, {"#d55e00", "🟧"}, {"#009e73", "🟩"}, {"#cc79a7", "🟪"}, {"#e69f00", "🟨"}, {"#000000", "⬛"},
}

// mermaidChart renders a line chart that GitHub draws itself, so no image hosting is needed.
// xychart-beta draws no legend, so the colours are fixed and a key of coloured squares follows the
// chart; the y axis is narrowed to the data (axisRange) so that the difference between the lines
// shows.
func mermaidChart(c Chart) string {
	var b strings.Builder
	series := c.Series
	if len(series) > len(chartColors) {
		series = series[:len(chartColors)]
	}
	colors := make([]string, len(series))
	for i := range series {
		colors[i] = chartColors[i].color
	}
	b.WriteString("```mermaid\n")
	if len(colors) > 0 {
		fmt.Fprintf(&b, "%%%%{init: {\"themeVariables\": {\"xyChart\": {\"plotColorPalette\": \"%s\"}}}}%%%%\n", strings.Join(colors, ", "))
	}
	b.WriteString("xychart-beta\n")
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
	lo, hi := axisRange(c, len(xs))
	fmt.Fprintf(&b, "    x-axis \"%s\" [%s]\n", mermaidLabel(c.XLabel), strings.Join(xs, ", "))
	fmt.Fprintf(&b, "    y-axis \"%s\" %s --> %s\n", mermaidLabel(c.YLabel), formatNumber(lo), formatNumber(hi))
	for _, s := range series {
		vs := make([]string, 0, len(xs))
		for i, v := range s.Values {
			if i == len(xs) {
				break
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				v = lo // mermaid has no gaps: an undefined point sits on the axis
			}
			vs = append(vs, formatNumber(v))
		}
		fmt.Fprintf(&b, "    line [%s]\n", strings.Join(vs, ", "))
	}
	b.WriteString("```\n")
	if len(series) > 0 {
		var names []string
		for i, s := range series {
			names = append(names, chartColors[i].key+" "+mdTitle(s.Name))
		}
		if more := len(c.Series) - len(series); more > 0 {
			names = append(names, fmt.Sprintf("%d more in report.html", more))
		}
		b.WriteString("<sub>" + strings.Join(names, " · ") + "</sub>\n")
	}
	return b.String()
}

// axisRange is the y range a chart is drawn over: the declared one (YMin..YMax) when the data
// fill at least half of it, else a range around the data in round steps, inside the declared one.
// Accuracies of 0.95 and 0.97 on a 0..1 axis look the same; on 0.9..1 the gap shows.
func axisRange(c Chart, points int) (lo, hi float64) {
	dlo, dhi := math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for i, v := range s.Values {
			if i == points {
				break
			}
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				dlo, dhi = math.Min(dlo, v), math.Max(dhi, v)
			}
		}
	}
	declared := c.YMax > c.YMin
	switch {
	case math.IsInf(dlo, 0) && declared:
		return c.YMin, c.YMax
	case math.IsInf(dlo, 0):
		return 0, 1
	case declared && dhi-dlo >= (c.YMax-c.YMin)/2:
		return c.YMin, c.YMax
	}
	span := dhi - dlo
	pad := span * 0.15
	if span == 0 {
		pad = math.Max(math.Abs(dlo)*0.05, 0.01)
	}
	step := niceStep((span + 2*pad) / 4)
	lo, hi = math.Floor((dlo-pad)/step)*step, math.Ceil((dhi+pad)/step)*step
	if dlo >= 0 && lo < 0 {
		lo = 0 // shares, counts and times are never negative
	}
	if declared {
		lo, hi = math.Max(lo, c.YMin), math.Min(hi, c.YMax)
	}
	return math.Round(lo*1e6) / 1e6, math.Round(hi*1e6) / 1e6
}

// shortNames gives each path the shortest tail of its components that no other path shares
// ("testdata/models/a.onnx" is "a.onnx" unless another a.onnx is listed), for tables that the
// full paths would widen; the sections below keep the full names.
func shortNames(paths []string) map[string]string {
	// tails[i][k-1] is path i's last k components (the whole path once k passes its depth).
	tails := make([][]string, len(paths))
	depth := 0
	for i, p := range paths {
		parts := strings.Split(p, "/")
		for k := 1; k <= len(parts); k++ {
			tails[i] = append(tails[i], strings.Join(parts[len(parts)-k:], "/"))
		}
		depth = max(depth, len(parts))
	}
	tail := func(i, k int) string { return tails[i][min(k, len(tails[i]))-1] }
	out := make(map[string]string, len(paths))
	for k := 1; k <= depth && len(out) < len(paths); k++ {
		count := make(map[string]int, len(paths))
		for i := range paths {
			count[tail(i, k)]++
		}
		for i, p := range paths {
			if _, done := out[p]; !done && (count[tail(i, k)] == 1 || k == len(tails[i])) {
				out[p] = tail(i, k)
			}
		}
	}
	return out
}

// nbsp joins the words of a short cell with no-break spaces, so that a table cell of numbers is
// not broken over lines.
func nbsp(s string) string { return strings.ReplaceAll(s, " ", "\u00a0") }

func formatNumber(v float64) string {
	if v == float64(int64(v)) && v < 1e15 && v > -1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
}

// comparisonTable renders the ranking first: rank, model, the objective with its interval, the
// paired difference to the model ranked next (significant or not), latency measured with every
// model interleaved, size, each --require, eligibility; then the note and the choice.
func comparisonTable(c *Comparison) string {
	metric := c.Metric
	if metric == "" {
		metric = "accuracy"
		for _, p := range c.Pairs {
			metric = p.Metric
		}
	}
	f := formatOf(metric)
	header := []string{"Rank", "Model", f.name + " (95% CI)", "vs next", "p50 latency", "size"}
	var rules []string
	if len(c.Rows) > 0 {
		for _, q := range c.Rows[0].Required {
			rules = append(rules, q.Rule)
		}
	}
	header = append(header, rules...)
	header = append(header, "eligible")
	var models []string
	for _, r := range c.Rows {
		models = append(models, r.Model)
	}
	names := shortNames(models)
	var rows [][]string
	for _, r := range c.Rows {
		m := r.Metrics
		score, next, lat, size := "n/a", "", "n/a", ""
		if v, ok := m[metric]; finiteNum(v, ok) {
			score = f.value(v)
			if lo, ok1 := m[metric+"_low"]; ok1 {
				if hi, ok2 := m[metric+"_high"]; ok2 {
					score += " [" + strings.TrimSuffix(f.value(lo), "%") + ", " + strings.TrimSuffix(f.value(hi), "%") + "]"
				}
			}
		}
		if p := r.Next; p != nil {
			fp := formatOf(p.Metric)
			next = fmt.Sprintf("%s, p%s", fp.delta(p.Diff), pShort(p.PValueAdjusted))
			if p.Significant {
				next += " ✔"
			} else {
				next += " ≈"
			}
		}
		if v, ok := m["p50_ms"]; finiteNum(v, ok) && v >= 0 {
			lat = msText(v)
			if ratio, ok := m["latency_ratio"]; finiteNum(ratio, ok) && ratio > 0 {
				lat += " (" + ratioText(ratio) + ")"
			}
		}
		if r.SizeBytes > 0 {
			size = sizeText(r.SizeBytes)
		}
		// Numbers keep together (no-break spaces): the reasons column is the one that wraps.
		row := []string{fmt.Sprint(r.Rank), "`" + names[r.Model] + "`", nbsp(score), nbsp(next), nbsp(lat), nbsp(size)}
		for i := range rules {
			cell := "n/a"
			if i < len(r.Required) {
				q := r.Required[i]
				switch {
				case !q.Found:
					cell = "✘ not measured"
				case q.Met:
					cell = "✔ " + formatNumber(q.Value)
				default:
					cell = "✘ " + formatNumber(q.Value)
				}
			}
			row = append(row, cell)
		}
		eligible := "yes"
		if !r.Eligible {
			eligible = "no: " + r.Reason
		}
		rows = append(rows, append(row, eligible))
	}
	out := markdownTableAligned(header, rows, "--:")
	out += "\n\n<sub>" + mdText("Objective: "+c.Objective+".") + " vs next: the difference to the model ranked below on the same images, McNemar's exact test Holm-adjusted (its paired bootstrap interval is in report.json): ✔ significant, ≈ these images cannot tell them apart. Latency: batch 1, every model timed in the same interleaved rounds; ×: over the fastest.</sub>"
	if note := mdParagraphs(c.Note); note != "" {
		out += "\n\n" + note
	}
	return out
}

// footerText is the tool and timing line, plain (each writer escapes it for its format).
func footerText(r *Report) string {
	c := r.Run.Counters
	parts := []string{fmt.Sprintf("%s %s", r.Tool.Name, r.Tool.Version)}
	if r.Tool.ORTVersion != "" {
		parts = append(parts, "ONNX Runtime "+r.Tool.ORTVersion)
	}
	if p := providerText(r); p != "" {
		parts = append(parts, p)
	}
	parts = append(parts, fmt.Sprintf("%.2f s (%.2f s inside ONNX Runtime, %s forward passes)", c.TotalSeconds, c.ORTSeconds, grouped(c.ForwardPasses)))
	return strings.Join(parts, " · ")
}

// providerText says what the models ran on when anything but the CPU was asked for: "on CUDA",
// or each distinct outcome (a fallback to the CPU, nodes left on the CPU). Nothing for the
// default CPU runs. Op types are ONNX Runtime's, checked to be plain names (internal/onnx).
func providerText(r *Report) string {
	var out []string
	seen := map[string]bool{}
	add := func(m *Model) {
		if m == nil || m.ExecutionProvider == nil || m.ExecutionProvider.Requested == "cpu" || m.ExecutionProvider.Requested == "" {
			return
		}
		ep := m.ExecutionProvider
		var s string
		switch {
		case ep.Obtained == "cuda" && len(ep.CPUOps) > 0:
			s = "on CUDA, some nodes on the CPU (" + strings.Join(ep.CPUOps, ", ") + ")"
		case ep.Obtained == "cuda":
			s = "on CUDA"
		default:
			s = "execution provider " + ep.Requested + " ran on the CPU (report.json says why)"
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for i := range r.Targets {
		add(&r.Targets[i].Model)
		add(r.Targets[i].Baseline)
	}
	return strings.Join(out, "; ")
}
