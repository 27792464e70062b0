package report_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/report"
)

// TestComparisonMarkdown: the ranking renders as one table with each model's numbers side by
// side and its paired difference from the top model, signed from that model's point of view.
func TestComparisonMarkdown(t *testing.T) {
	r := &report.Report{Kind: "compare", Comparison: &report.Comparison{
		Objective: "highest accuracy",
		Best:      "a.onnx",
		Note:      "`a.onnx` ranks first.",
		Rows: []report.ComparisonRow{
			{Rank: 1, Model: "a.onnx", Eligible: true, Score: 0.98, Metrics: map[string]float64{"accuracy": 0.98, "accuracy_low": 0.97, "accuracy_high": 0.99, "macro_f1": 0.979, "p50_ms": 1.25, "latency_ratio": 1.5, "latency_ratio_low": 1.4, "latency_ratio_high": 1.6}},
			{Rank: 2, Model: "b.onnx", Eligible: true, Score: 0.9, Metrics: map[string]float64{"accuracy": 0.9, "accuracy_low": 0.88, "accuracy_high": 0.92, "macro_f1": 0.899, "p50_ms": 0.5, "latency_ratio": 1, "latency_ratio_low": 1, "latency_ratio_high": 1}},
			{Rank: 3, Model: "c.onnx", Reason: "did not load", Metrics: map[string]float64{}},
		},
		Pairs: []report.ComparisonPair{{A: "a.onnx", B: "b.onnx", Metric: "accuracy", Diff: 0.08, DiffLow: 0.06, DiffHigh: 0.1, PValue: 1e-9, PValueAdjusted: 2e-9, Significant: true}},
	}}
	r.Normalize(nil)
	var buf bytes.Buffer
	if err := (report.Markdown{}).Write(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	rows := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		for _, m := range []string{"a.onnx", "b.onnx", "c.onnx"} {
			if strings.HasPrefix(line, "|") && strings.Contains(line, "`"+m+"`") {
				rows[m] = line
			}
		}
	}
	checks := []struct{ model, want string }{
		{"a.onnx", "98.0% [97.0, 99.0]"},
		{"a.onnx", "×1.50 [1.40, 1.60]"},
		{"a.onnx", "—"},
		{"b.onnx", "-8.0 pp [-10.0, -6.0]"}, // b relative to a: the interval flips too
		{"b.onnx", "&lt;0.001 *"},           // escaped like every cell; GitHub shows "<0.001 *"
		{"c.onnx", "no: did not load"},
		{"c.onnx", "n/a"},
	}
	for _, c := range checks {
		if !strings.Contains(rows[c.model], c.want) {
			t.Errorf("row of %s lacks %q: %s", c.model, c.want, rows[c.model])
		}
	}
	for _, want := range []string{"### Comparison", "Objective: highest accuracy", "**Best: `a.onnx`**", "Holm-adjusted"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}
