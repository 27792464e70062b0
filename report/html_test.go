package report_test

import (
	"bytes"
	"encoding/base64"
	"html"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/testutil/golden"
	"github.com/cvgate/cvgate/report"
)

// assetDir holds the images the fixture's results point at (a small contact sheet).
const assetDir = "testdata/assets"

// richFixture is the shared fixture plus what only the HTML and the model card show: model
// metadata and format versions, CI identifiers, a chart with a gap, embedded and missing images.
func richFixture(t *testing.T) *report.Report {
	t.Helper()
	r := fixture(t)
	r.Run.CI = map[string]string{"commit": "0123456789abcdef", "pr": "42", "workflow": "release", "run_id": "987654"}
	m := &r.Targets[0].Model
	m.Metadata = map[string]string{"version": "1.0.0", "license": "MIT", "description": "Digit classifier <b>not bold</b>"}
	m.IRVersion = 7
	m.Opsets = map[string]int64{"ai.onnx": 13}
	m.Producer = "pytorch 2.1"
	m.Signature = &report.Signature{
		Inputs:  []report.Tensor{{Name: "input", DType: "float32", Shape: []int64{-1, 1, 28, 28}}},
		Outputs: []report.Tensor{{Name: "logits", DType: "float32", Shape: []int64{-1, 3}}},
	}
	for i := range r.Targets[0].Results {
		res := &r.Targets[0].Results[i]
		switch res.ID {
		case "robust.corruptions":
			res.Details = append(res.Details, report.Section{Title: "Worst corruptions", Images: []string{"failures/perf.metrics/contact_sheet.png", "failures/robust.corruptions/gone.png", "../outside.png"}})
		case "perf.baseline":
			res.Details = append(res.Details, report.Section{Title: "Flips by severity", Chart: &report.Chart{
				Title: "Negative flips", XLabel: "severity", YLabel: "share", X: []string{"1", "2", "3", "4"},
				Series: []report.Series{{Name: "candidate", Values: []float64{0.01, 0.02, nanValue(), 0.08}}}}})
		}
	}
	return r
}

func nanValue() float64 {
	var zero float64
	return zero / zero
}

func TestHTML(t *testing.T) {
	got := render(t, report.HTML{AssetDir: assetDir}, richFixture(t))
	golden.Assert(t, ".html", got)
}

// TestHTMLContent checks what the golden file cannot say by itself: the key numbers are there,
// the image is embedded byte for byte, missing images are visible notes, and user text is
// escaped.
func TestHTMLContent(t *testing.T) {
	r := richFixture(t)
	page := string(render(t, report.HTML{AssetDir: assetDir}, r))
	// html/template writes some characters as entities ('+' as &#43;); compare text unescaped.
	text := html.UnescapeString(page)
	sheet, err := os.ReadFile(filepath.Join(assetDir, "failures/perf.metrics/contact_sheet.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"cvgate: FAIL",
		"3 passed, 1 warned, 2 failed (1 could not run), 1 skipped",
		"500 images, 3 classes, 1 unreadable",
		"accuracy dropped 4.1 pp (p < 0.001)",
		"accuracy -4.1 pp ▼ (baseline 96.0%)",
		"calibration error 0.2 is above max_ece 0.1 | with a pipe",
		`<a href="#t0-perf.metrics"><code>perf.metrics</code></a>`,
		"Failure cases: 2 of 20 exported to <code>failures/perf.metrics</code>",
		`src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(sheet) + `"`,
		"<code>failures/robust.corruptions/gone.png</code>: missing from the output folder",
		"<code>../outside.png</code>: not embedded: the path leaves the output folder",
		"ONNX IR 7 · opsets ai.onnx 13",
		"boom\nsecond line",
		"Pull request", "987654",
		"<polyline", "stroke-dasharray", // the baseline series is dashed
		"<title>true 0, predicted 1: 1 (9.1% of the row)</title>",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// User text is escaped, never markup.
	if !strings.Contains(page, "Digit classifier &lt;b&gt;not bold&lt;/b&gt;") || strings.Contains(page, "<b>not bold") {
		t.Errorf("metadata text is not escaped")
	}
	// The chart's gap (a NaN value) splits the candidate's line in two.
	if n := strings.Count(page, `stroke="#0072b2" stroke-width="2"/>`); n != 3 {
		t.Errorf("%d candidate polylines, want 3 (one in the corruption chart, two around the gap)", n)
	}
	// A heat-map cell for each of the 2x2 confusion matrix values, numbers shown.
	for _, v := range []string{">10</text>", ">1</text>", ">2</text>", ">9</text>"} {
		if !strings.Contains(page, v) {
			t.Errorf("heat map lacks the value %s", v)
		}
	}
}

// TestHTMLWithoutAssets: with no output folder, the page still renders and says why images are
// not there.
func TestHTMLWithoutAssets(t *testing.T) {
	page := string(render(t, report.HTML{}, richFixture(t)))
	if strings.Contains(page, "data:image") {
		t.Error("an image was embedded without an asset folder")
	}
	if !strings.Contains(page, "not embedded: no output folder was given") {
		t.Error("no note about the missing asset folder")
	}
}

func TestHTMLImageLimits(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "big.png"), append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 100)...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "page.svg"), []byte(`<svg xmlns="http://www.w3.org/2000/svg"><a href="https://example.com"/></svg>`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &report.Report{Targets: []report.Target{{Name: "m", Results: []report.Result{{ID: "x", Status: report.StatusWarn,
		Details: []report.Section{{Images: []string{"big.png", "page.svg"}}}}}}}}
	page := string(render(t, report.HTML{AssetDir: dir, MaxImageBytes: 100}, r))
	for _, want := range []string{"<code>big.png</code>: not embedded: 108 bytes, over the 100-byte limit", "<code>page.svg</code>: not embedded: not a PNG, JPEG, GIF or WebP image"} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(page, "example.com") {
		t.Error("the SVG's link leaked into the page")
	}
}

// TestHTMLLargeMatrix: past the size limit the heat map is replaced by a note, not a huge SVG.
func TestHTMLLargeMatrix(t *testing.T) {
	n := 200
	labels := make([]string, n)
	values := make([][]float64, n)
	for i := range labels {
		labels[i] = "c"
		values[i] = make([]float64, n)
	}
	r := &report.Report{Targets: []report.Target{{Name: "m", Results: []report.Result{{ID: "x", Status: report.StatusFail,
		Details: []report.Section{{Matrix: &report.Matrix{Rows: labels, Cols: labels, Values: values}}}}}}}}
	html := render(t, report.HTML{}, r)
	if !bytes.Contains(html, []byte("200 x 200 is too large to draw")) || bytes.Contains(html, []byte("<rect")) {
		t.Errorf("a 200-class matrix should be a note, not a heat map")
	}
}

// externalRef matches a URL in an attribute that makes a browser fetch or navigate: src, href,
// action, poster, srcset, xlink:href, and url(...) in CSS.
var externalRef = regexp.MustCompile(`(?i)(\b(src|href|action|poster|srcset|data)\s*=\s*["']?\s*(https?:|//|ftp:))|url\(\s*["']?\s*(https?:|//)`)

// TestHTMLSelfContained: nothing in the page points at the network; the only http(s) URL is the
// SVG namespace, which is an identifier, never fetched.
func TestHTMLSelfContained(t *testing.T) {
	page := string(render(t, report.HTML{AssetDir: assetDir}, richFixture(t)))
	if m := externalRef.FindString(page); m != "" {
		t.Errorf("report.html references the network: %q", m)
	}
	rest := strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, "")
	if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`).FindString(rest); m != "" {
		t.Errorf("report.html contains a URL: %q", m)
	}
	if !strings.Contains(page, `content="default-src 'none'; img-src data:; style-src 'unsafe-inline'"`) {
		t.Error("no Content-Security-Policy forbidding network loads")
	}
	// The detector itself must see a planted reference.
	for _, bad := range []string{`<img src="https://x.example/a.png">`, `<link href=//cdn.example/a.css>`, `background: url( "http://x.example/b.png")`} {
		if !externalRef.MatchString(bad) {
			t.Errorf("the external-reference pattern misses %s", bad)
		}
	}
}

// benchReport is a report as big as a real one gets: 100 classes, a chart per check.
func benchReport(classes int) *report.Report {
	labels := make([]string, classes)
	values := make([][]float64, classes)
	for i := range labels {
		labels[i] = "class_" + strings.Repeat("x", i%7)
		values[i] = make([]float64, classes)
		for j := range values[i] {
			values[i][j] = float64((i*31 + j*17) % 11)
		}
		values[i][i] = 400
	}
	res := []report.Result{{ID: "perf.metrics", Status: report.StatusWarn, Summary: "accuracy 91.0%",
		Details: []report.Section{{Title: "Confusion", Matrix: &report.Matrix{RowLabel: "true", ColLabel: "predicted", Rows: labels, Cols: labels, Values: values}}}}}
	for k := 0; k < 10; k++ {
		res = append(res, report.Result{ID: "robust.c" + string(rune('a'+k)), Status: report.StatusPass, Details: []report.Section{{Chart: &report.Chart{
			X: []string{"0", "1", "2", "3", "4", "5"}, YMax: 1,
			Series: []report.Series{{Name: "candidate", Values: []float64{1, .9, .8, .7, .6, .5}}, {Name: "baseline", Values: []float64{1, .8, .7, .6, .5, .4}}}}}}})
	}
	r := &report.Report{Targets: []report.Target{{Name: "m.onnx", Results: res}}}
	report.ApplyGate(r, report.FailOnFail)
	return r
}

func BenchmarkHTML(b *testing.B) {
	r := benchReport(100)
	b.ReportAllocs()
	for b.Loop() {
		if err := (report.HTML{}).Write(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkModelCard(b *testing.B) {
	r := benchReport(100)
	b.ReportAllocs()
	for b.Loop() {
		if err := (report.ModelCard{}).Write(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHTMLComparison renders the ranking of `cvgate compare`.
func TestHTMLComparison(t *testing.T) {
	r := &report.Report{Kind: "compare", Targets: []report.Target{{Name: "a.onnx"}, {Name: "b.onnx"}}, Comparison: &report.Comparison{
		Objective: "accuracy", Best: "a.onnx", Note: "a is better",
		Rows: []report.ComparisonRow{
			{Rank: 1, Model: "a.onnx", Eligible: true, Score: 0.98, Metrics: map[string]float64{"accuracy": 0.98}},
			{Rank: 2, Model: "b.onnx", Reason: "perf.metrics failed", Score: 0.91, Metrics: map[string]float64{"accuracy": 0.91}},
		}}}
	page := string(render(t, report.HTML{}, r))
	for _, want := range []string{"<h2>Comparison</h2>", "<td>0.98</td>", "no: perf.metrics failed", "Best: <code>a.onnx</code>", "a is better"} {
		if !strings.Contains(page, want) {
			t.Errorf("comparison lacks %q", want)
		}
	}
}

// TestHTMLInlineMarkup: the markup checks write in cells ("**mean**", "`path`") shows as bold and
// code in report.html, not as asterisks and backticks; everything else stays escaped text.
func TestHTMLInlineMarkup(t *testing.T) {
	tests := []struct{ cell, want string }{
		{"**mean**", "<td><strong>mean</strong></td>"},
		{"`a<b>.png`", "<td><code>a&lt;b&gt;.png</code></td>"},
		{"**conflict:** 3, 5", "<td><strong>conflict:</strong> 3, 5</td>"},
		{"2 * 3 ** 4", "<td>2 * 3 ** 4</td>"},
		{"**<script>**", "<td><strong>&lt;script&gt;</strong></td>"},
		{"lone ` tick", "<td>lone ` tick</td>"},
	}
	for _, tt := range tests {
		t.Run(tt.cell, func(t *testing.T) {
			r := &report.Report{Kind: "check", Targets: []report.Target{{Name: "m", Results: []report.Result{{ID: "x", Status: report.StatusWarn, Summary: "s",
				Details: []report.Section{{Table: &report.Table{Columns: []string{"c"}, Rows: [][]string{{tt.cell}}}}}}}}}}
			r.Normalize(nil)
			report.ApplyGate(r, report.FailOnFail)
			if page := string(render(t, report.HTML{}, r)); !strings.Contains(page, tt.want) {
				t.Errorf("cell %q: want %q", tt.cell, tt.want)
			}
		})
	}
}
