package report_test

import (
	"bytes"
	"encoding/xml"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"

	"github.com/cvgate/cvgate/internal/github/githubtest"
	"github.com/cvgate/cvgate/report"
)

// hostileStrings try every way into a PR comment: raw HTML (a tracking image, a link, a closing
// tag of the block we are in, our own marker), markdown links and images, pings and references,
// table pipes, line breaks into headings, backticks that end code spans and fences, math, and
// workflow commands for when the report is printed to a log.
var hostileStrings = []string{
	`<img src="https://tracker.example/p.png">`,
	`</summary></details><a href="https://evil.example">PASS</a>`,
	"<!-- cvgate:default:models -->",
	"[click](https://evil.example) ![x](https://tracker.example/i.png) [^1]",
	"@org/team @someone ping #1234 owner/repo#12 GH-77 https://evil.example www.evil.example",
	"a | b | c",
	"line\n## Forged heading\n\n- forged list",
	"x\r\n\r\n# heading after CRLF",
	"`code` ``double`` ```triple``` ` lone",
	"```\n## inside a fence\n```",
	"$\\color{green}{\\text{PASS}}$",
	"::set-output name=verdict::pass",
	"a ##[set-output name=verdict;]pass",
	"\u202eevil\u202c bidi \x00 nul \x1b[31m ansi",
	"\\| backslash-pipe \\",
	"&lt;img src=x&gt; &#64;team",
	"    indented code",
	"1. ordered\n> quote\n---",
	"**bold** _em_ ~~strike~~",
	"#``0000 GH``-1 www``.evil.example https:``//evil.example @``team #**0 ``#1",
	strings.Repeat("long ", 3000),
}

// hostileReport fills every string field a writer shows with s. The last column of each results
// row holds a sentinel, so a pipe that split a cell would push it out of the table.
func hostileReport(s string) *report.Report {
	sec := report.Section{
		Title: s, Text: s + "\n\n" + s,
		Table:  &report.Table{Columns: []string{s, "end"}, Rows: [][]string{{s, "END"}, {"`" + s + "`", "END"}}},
		Chart:  &report.Chart{Title: s, XLabel: s, YLabel: s, X: []string{s, "1"}, Series: []report.Series{{Name: s, Values: []float64{0.5, 0.6}}}, YMax: 1},
		Matrix: &report.Matrix{RowLabel: s, ColLabel: s, Rows: []string{s, "b"}, Cols: []string{s, "b"}, Values: [][]float64{{1, 2}, {3, 4}}},
		Images: []string{s},
	}
	res := func(id string, st report.Status) report.Result {
		return report.Result{ID: id + s, Title: s, Status: st, Summary: s, Threshold: s, VsBaseline: "END",
			Details: []report.Section{sec}, Error: s + "\n" + s,
			Failures: &report.Failures{Dir: s, Index: s, ContactSheet: s, Count: 1, Total: 2, Sheets: []report.FailureSheet{{Title: s, Path: s, Count: 1}, {Title: s, Path: s}}}}
	}
	r := &report.Report{
		SchemaVersion: report.SchemaVersion, Kind: "check",
		Tool:   report.Tool{Name: s, Version: s, ORTVersion: s},
		Run:    report.Run{StartedAt: s, CI: map[string]string{"pr": s}, Notes: []string{s}},
		Inputs: report.Inputs{ConfigPath: s, Dataset: &report.Dataset{Path: s, Classes: []string{s}, LabelSource: s}},
		Targets: []report.Target{{
			Name: s, BaselineNote: s,
			Model:   report.Model{Path: s, Producer: s, Metadata: map[string]string{s: s}, Signature: &report.Signature{Inputs: []report.Tensor{{Name: s, DType: s}}}},
			Results: []report.Result{res("perf.metrics", report.StatusFail), res("robust.x", report.StatusWarn), res("data.y", report.StatusError)},
		}},
		Comparison: &report.Comparison{Objective: s, Best: s, Note: s,
			Rows: []report.ComparisonRow{{Rank: 1, Model: s, Reason: s, Metrics: map[string]float64{}}}},
	}
	r.Normalize(nil)
	report.ApplyGate(r, report.FailOnFail)
	return r
}

// The tags and attributes our markdown may produce once rendered (GitHub's own sanitizer would
// strip others, but nothing from input may even try).
var (
	tagRE      = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>|<!--(.*?)-->`)
	allowedTag = map[string]bool{
		"p": true, "h1": true, "h2": true, "h3": true, "strong": true, "em": true, "del": true, "code": true, "pre": true,
		"table": true, "thead": true, "tbody": true, "tr": true, "th": true, "td": true, "details": true,
		"summary": true, "b": true, "sub": true, "ul": true, "li": true, "blockquote": true,
	}
	allowedAttr = regexp.MustCompile(`^(| style="text-align:(left|center|right)"| class="language-mermaid")$`)
	mentionRE   = regexp.MustCompile(`@[A-Za-z0-9]`)
	refRE       = regexp.MustCompile(`#[0-9]|(?i)GH-[0-9]`)
	autolinkRE  = regexp.MustCompile(`(?i)(https?|ftp)://|www\.`)
)

// checkMarkdown renders md as GitHub does (GFM, raw HTML passed through) and fails when anything
// from input became markup: a tag or attribute we do not write, a link or image, a ping, a
// reference, an autolink, a heading or a table cell of its own, or a workflow command.
func checkMarkdown(t *testing.T, md string, comment func(c string, at int) bool, headings, tableEnds int) {
	t.Helper()
	var out bytes.Buffer
	gm := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(gmhtml.WithUnsafe()))
	if err := gm.Convert([]byte(md), &out); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	inCode := 0
	last := 0
	text := func(s string) {
		if inCode > 0 {
			return
		}
		plain := html.UnescapeString(s)
		for _, re := range []*regexp.Regexp{mentionRE, refRE, autolinkRE} {
			if loc := re.FindStringIndex(plain); loc != nil {
				t.Errorf("rendered text %q has %q (%s)", clipped(plain, loc[0]), plain[loc[0]:loc[1]], re)
			}
		}
	}
	for _, m := range tagRE.FindAllStringSubmatchIndex(page, -1) {
		text(page[last:m[0]])
		last = m[1]
		if m[8] >= 0 { // a comment: only ours
			if c := page[m[0]:m[1]]; !comment(c, m[0]) {
				t.Errorf("HTML comment %q at %d", c, m[0])
			}
			continue
		}
		closing, name, attrs := page[m[2]:m[3]] == "/", strings.ToLower(page[m[4]:m[5]]), page[m[6]:m[7]]
		if !allowedTag[name] || !allowedAttr.MatchString(attrs) {
			t.Errorf("rendered HTML has <%s%s%s>", page[m[2]:m[3]], name, attrs)
		}
		if name == "code" || name == "pre" {
			if closing {
				inCode--
			} else {
				inCode++
			}
		}
	}
	text(page[last:])
	if n := strings.Count(page, "<h2>") + strings.Count(page, "<h3>"); headings >= 0 && n != headings {
		t.Errorf("%d headings, want %d", n, headings)
	}
	if headings >= 0 && (strings.Contains(page, "<h1>") || strings.Contains(page, "<h4>")) {
		t.Errorf("a heading level cvgate does not write")
	}
	// A check's detail block is the one whose summary names it in bold; the comment's folds of
	// passing checks and of details are not.
	blocks := strings.Count(page, "</b>: ")
	switch tableEnds {
	case perDetail:
		tableEnds = 3 + 2*blocks
	case perDetailComment:
		tableEnds = 2 * blocks
	}
	if tableEnds >= 0 {
		if n := strings.Count(page, "<td>END</td>") + strings.Count(page, `<td style="text-align:left">END</td>`); n != tableEnds {
			t.Errorf("%d table rows end with their sentinel, want %d: a cell was split", n, tableEnds)
		}
	}
	if cmds := githubtest.ParseCommands(md); len(cmds) > 0 {
		t.Errorf("printed to a log, the markdown would run %+v", cmds)
	}
}

func clipped(s string, at int) string {
	lo, hi := max(0, at-40), min(len(s), at+40)
	return s[lo:hi]
}

const testMarker = "<!-- cvgate:test -->"

// onlyMarker accepts the comment marker, first thing in the page.
func onlyMarker(c string, at int) bool { return c == testMarker && at == 0 }

// cardComments accepts the model card's own comments: the generated-by line and the
// needs-input markers, whose text is cvgate's.
func cardComments(c string, _ int) bool {
	return strings.HasPrefix(c, "<!-- Generated by ") || strings.HasPrefix(c, report.NeedsInputMarker+" model_card.")
}

// perDetail: the rows ending in END are the 3 results and 2 section-table rows per detail block
// shown (the budget may leave blocks out). perDetailComment: the comment's tables leave the vs
// baseline column (the sentinel) out, so only the detail blocks' rows end in END.
const (
	perDetail        = -2
	perDetailComment = -3
)

func TestMarkdownNeutralizesInput(t *testing.T) {
	for _, s := range hostileStrings {
		t.Run(clipped(s, 0), func(t *testing.T) {
			r := hostileReport(s)
			for _, m := range []report.Markdown{{Marker: testMarker, MaxBytes: 65536}, {Marker: testMarker, AllDetails: true}} {
				var b bytes.Buffer
				if err := m.Write(&b, r); err != nil {
					t.Fatal(err)
				}
				// The headline, the ranking, one target.
				ends := perDetail
				if !m.AllDetails {
					ends = perDetailComment
				}
				checkMarkdown(t, b.String(), onlyMarker, 3, ends)
				if m.MaxBytes > 0 && b.Len() > m.MaxBytes {
					t.Errorf("comment of %d bytes over %d", b.Len(), m.MaxBytes)
				}
			}
		})
	}
}

// The other writers escape markup themselves (html/template, encoding/xml); what they need from
// the neutralizer is valid text: no control characters or direction overrides, bounded length.
func TestWritersCleanInput(t *testing.T) {
	for _, s := range hostileStrings {
		r := hostileReport(s)
		for name, w := range map[string]report.Writer{
			"html": report.HTML{}, "junit": report.JUnit{}, "badge-svg": report.BadgeSVG{Label: s}, "badge-json": report.BadgeJSON{Label: s},
		} {
			var b bytes.Buffer
			if err := w.Write(&b, r); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out := b.String()
			if strings.ContainsAny(out, "\x00\x1b\u202e") {
				t.Errorf("%s output keeps a control or bidi character from %q", name, clipped(s, 0))
			}
			if strings.Contains(out, `<img src="https://tracker`) || strings.Contains(out, `<a href="https://evil`) {
				t.Errorf("%s output has raw HTML from input", name)
			}
			if name == "junit" || name == "badge-svg" {
				if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
					t.Errorf("%s output is not well-formed XML: %v", name, err)
				}
			}
		}
		var card bytes.Buffer
		if err := (report.ModelCard{}).Write(&card, r); err != nil {
			t.Fatal(err)
		}
		checkMarkdown(t, card.String(), cardComments, -1, -1)
	}
}

// FuzzMarkdown: any string, in every field of a report, renders to a comment that GitHub shows
// as text: no raw HTML from input, no link, image, ping, reference or autolink, no heading or
// table cell of its own, and no line a runner would take for a workflow command.
func FuzzMarkdown(f *testing.F) {
	for _, s := range hostileStrings[:len(hostileStrings)-1] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b bytes.Buffer
		if err := (report.Markdown{Marker: testMarker, MaxBytes: 65536}).Write(&b, hostileReport(s)); err != nil {
			t.Fatal(err)
		}
		checkMarkdown(t, b.String(), onlyMarker, 3, perDetailComment)
	})
}
