package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/report"
)

// TestComparisonMarkdown: the ranking comes first, right under a headline that names the choice,
// as one table with each model's numbers side by side, its paired difference to the model ranked
// next (signed from this model's point of view), its size and each requirement.
func TestComparisonMarkdown(t *testing.T) {
	next := report.ComparisonPair{A: "a.onnx", B: "b.onnx", Metric: "accuracy", Diff: 0.08, DiffLow: 0.06, DiffHigh: 0.1, PValue: 1e-9, PValueAdjusted: 2e-9, Significant: true}
	r := &report.Report{Kind: "compare", Comparison: &report.Comparison{
		Objective: "highest accuracy",
		Metric:    "accuracy",
		Best:      "a.onnx",
		Note:      "`a.onnx` ranks first.",
		Rows: []report.ComparisonRow{
			{Rank: 1, Model: "a.onnx", Eligible: true, Score: 0.98, SizeBytes: 3 << 20, Next: &next,
				Required: []report.Requirement{{Rule: "robust.corruptions:mean_accuracy>=0.8", Value: 0.85, Found: true, Met: true}},
				Metrics:  map[string]float64{"accuracy": 0.98, "accuracy_low": 0.97, "accuracy_high": 0.99, "macro_f1": 0.979, "p50_ms": 1.25, "latency_ratio": 1.5, "latency_ratio_low": 1.4, "latency_ratio_high": 1.6}},
			{Rank: 2, Model: "b.onnx", Eligible: true, Score: 0.9, SizeBytes: 512 << 10,
				Required: []report.Requirement{{Rule: "robust.corruptions:mean_accuracy>=0.8", Value: 0.75, Found: true}},
				Metrics:  map[string]float64{"accuracy": 0.9, "accuracy_low": 0.88, "accuracy_high": 0.92, "macro_f1": 0.899, "p50_ms": 0.5, "latency_ratio": 1, "latency_ratio_low": 1, "latency_ratio_high": 1}},
			{Rank: 3, Model: "c.onnx", Reason: "did not load", Metrics: map[string]float64{},
				Required: []report.Requirement{{Rule: "robust.corruptions:mean_accuracy>=0.8"}}},
		},
		Pairs: []report.ComparisonPair{next},
	}, Targets: []report.Target{{Name: "c.onnx"}, {Name: "a.onnx"}, {Name: "b.onnx"}}}
	r.Normalize(nil)
	var buf bytes.Buffer
	if err := (report.Markdown{}).Write(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := strings.ReplaceAll(buf.String(), "\u00a0", " ") // numbers are held together by no-break spaces
	rows := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		for _, m := range []string{"a.onnx", "b.onnx", "c.onnx"} {
			if _, seen := rows[m]; !seen && strings.HasPrefix(line, "|") && strings.Contains(line, "`"+m+"`") {
				rows[m] = line
			}
		}
	}
	checks := []struct{ model, want string }{
		{"a.onnx", "98.0% [97.0, 99.0]"},
		{"a.onnx", "1.25 ms (×1.50)"},
		{"a.onnx", "+8.0 pp, p&lt;0.001 ✔"}, // escaped like every cell; GitHub shows "<0.001"
		{"a.onnx", "3.00 MB"},
		{"a.onnx", "✔ 0.85"},
		{"b.onnx", "512 KB"},
		{"b.onnx", "✘ 0.75"},
		{"c.onnx", "no: did not load"},
		{"c.onnx", "✘ not measured"},
		{"c.onnx", "n/a"},
	}
	for _, c := range checks {
		if !strings.Contains(rows[c.model], c.want) {
			t.Errorf("row of %s lacks %q: %s", c.model, c.want, rows[c.model])
		}
	}
	if !strings.HasPrefix(out, "## ✅ cvgate compare: best `a.onnx`\n") {
		t.Errorf("the headline is not the choice:\n%.200s", out)
	}
	ranking, models := strings.Index(out, "### Ranking"), strings.Index(out, "### ")
	if ranking < 0 || ranking != models {
		t.Errorf("the ranking is not the first section (at %d, first section at %d)", ranking, models)
	}
	// Each model's section follows, in ranking order (the targets are in the order given).
	var sections []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "### ") {
			sections = append(sections, line[strings.LastIndex(line, " ")+1:])
		}
	}
	if got := strings.Join(sections, " "); got != "Ranking `a.onnx` `b.onnx` `c.onnx`" {
		t.Errorf("sections %s: want the ranking, then the models in ranking order", got)
	}
	for _, want := range []string{"Objective: highest accuracy", "Holm-adjusted", "interleaved"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}
