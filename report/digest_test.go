package report_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/report"
)

// taskTarget is one model of a task, with perf.baseline's metrics as that task's check writes them.
func taskTarget(status report.Status, metrics map[string]float64) report.Target {
	return report.Target{
		Name:     "models/m.onnx",
		Model:    report.Model{Path: "models/m.onnx", SizeBytes: 2 << 20},
		Baseline: &report.Model{Path: "base.onnx", Source: "git:main", SizeBytes: 1 << 20},
		Results: []report.Result{
			{ID: "model.load", Status: report.StatusPass, Summary: "IR 8, opset 17"},
			{ID: "perf.baseline", Status: status, Summary: "headline moved", Metrics: metrics},
			{ID: "model.latency", Status: report.StatusWarn, Summary: "batch-1 latency is ×1.31 the baseline's",
				Metrics:         map[string]float64{"p50_ms": 13.1, "latency_ratio": 1.31, "latency_ratio_low": 1.25, "latency_ratio_high": 1.38},
				BaselineMetrics: map[string]float64{"p50_ms": 10}},
		},
	}
}

// comment renders the PR comment with runs of spaces (table padding) squeezed to one and the
// invisible joiners the escaper adds (after "@") removed, so that tests read what GitHub shows.
func comment(t *testing.T, r *report.Report) string {
	t.Helper()
	r.Normalize(nil)
	report.ApplyGate(r, report.FailOnFail)
	var b bytes.Buffer
	if err := (report.Markdown{Marker: "<!-- m -->", MaxBytes: 65536}).Write(&b, r); err != nil {
		t.Fatal(err)
	}
	return squeeze(b.String())
}

var spaces = regexp.MustCompile(` {2,}`)

func squeeze(s string) string {
	return spaces.ReplaceAllString(strings.ReplaceAll(s, "\u200d", ""), " ")
}

// TestWhatChanged: the "what changed vs the baseline" block and the headline read the headline
// metric from the results' metrics, whatever the task: accuracy (classification, K_diff), mAP
// (detection, delta), mIoU (segmentation, a percentage); the verdict's checks lead the headline.
func TestWhatChanged(t *testing.T) {
	tests := []struct {
		name     string
		target   report.Target
		headline string
		rows     []string
	}{
		{
			name: "classification",
			target: taskTarget(report.StatusFail, map[string]float64{"accuracy": 0.9, "baseline_accuracy": 0.921, "accuracy_diff": -0.021,
				"accuracy_diff_low": -0.03, "accuracy_diff_high": -0.012, "mcnemar_p": 0.0001, "macro_f1": 0.89, "baseline_macro_f1": 0.91}),
			headline: "## ❌ cvgate FAIL: perf.baseline −2.1 pp (p&lt;0.001)\n",
			rows:     []string{"| ❌ | accuracy      |    92.1% |     90.0% | −2.1 pp [−3.0, −1.2], p&lt;0.001 |"},
		},
		{
			name: "detection",
			target: taskTarget(report.StatusFail, map[string]float64{"map": 0.391, "baseline_map": 0.412, "delta": -0.021,
				"delta_ci_low": -0.035, "delta_ci_high": -0.008, "images": 500}),
			headline: "## ❌ cvgate FAIL: perf.baseline −0.021\n",
			rows:     []string{"| ❌ | mAP@[.5:.95]   |    0.412 |     0.391 | −0.021 [−0.035, −0.008] |"},
		},
		{
			name: "segmentation passes",
			target: taskTarget(report.StatusPass, map[string]float64{"miou": 0.7, "baseline_miou": 0.7, "delta": 0.00004,
				"delta_ci_low": -0.01, "delta_ci_high": 0.01}),
			headline: "## ⚠️ cvgate WARN: model.latency p50 ×1.31\n",
			// A difference that rounds to zero is ±0.0, never -0.0.
			rows: []string{"| ✅ | mIoU          |    70.0% |     70.0% | ±0.0 pp [−1.0, +1.0] |"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := comment(t, &report.Report{Kind: "check", Targets: []report.Target{tt.target}})
			if !strings.Contains(md, tt.headline) {
				t.Errorf("headline: want %q in\n%s", tt.headline, md)
			}
			rows := append(tt.rows,
				"| ⚠️ | latency (p50) | 10.0 ms  | 13.1 ms   | ×1.31 [1.25, 1.38]",
				"| ✅ | size          | 1.00 MB  | 2.00 MB   | +100%")
			for _, row := range rows {
				if row = squeeze(row); !strings.Contains(md, row) {
					t.Errorf("no row %q in\n%s", row, md)
				}
			}
			if strings.Contains(md, "Threshold |") || strings.Contains(md, "| vs baseline") {
				t.Errorf("the comment's tables carry thresholds:\n%s", md)
			}
		})
	}
}

// TestSeveralModels: several models get one summary table on top (verdict, key changes, the
// checks that did not pass), then a section each; the headline counts the models it is about.
func TestSeveralModels(t *testing.T) {
	good := taskTarget(report.StatusPass, map[string]float64{"accuracy": 0.95, "baseline_accuracy": 0.94, "accuracy_diff": 0.01})
	good.Name = "models/good.onnx"
	good.Results[2].Status = report.StatusPass
	bad := taskTarget(report.StatusFail, map[string]float64{"accuracy": 0.9, "baseline_accuracy": 0.94, "accuracy_diff": -0.04, "mcnemar_p": 0.02})
	bad.Name = "models/bad.onnx"
	md := comment(t, &report.Report{Kind: "check", Targets: []report.Target{good, bad}})
	for _, want := range []string{
		"## ❌ cvgate FAIL (1 of 2 models): bad.onnx perf.baseline −4.0 pp (p=0.02)",
		"### Models\n| | Model | Checks | What changed vs the baseline | Not passing |",
		"| ✅ | `good.onnx` | 3 passed | accuracy +1.0 pp · latency ×1.31 · size +100% |   |",
		"| ❌ | `bad.onnx` | 1 passed, 1 warned, 1 failed | accuracy −4.0 pp (p=0.02) · latency ×1.31 · size +100% | ❌ perf.baseline, ⚠️ model.latency |",
	} {
		if want = squeeze(want); !strings.Contains(md, want) {
			t.Errorf("lacks %q:\n%s", want, md)
		}
	}
	if strings.Index(md, "### Models") > strings.Index(md, "### ✅ `models/good.onnx`") {
		t.Error("the summary table is not on top")
	}
}

// TestMermaidChart: the candidate's line has a strong colour, the legend is a key of the same
// colours, and the y axis narrows to the data so the lines' difference shows.
func TestMermaidChart(t *testing.T) {
	tests := []struct {
		name   string
		chart  report.Chart
		axis   string
		legend string
	}{
		{"accuracies near the top", report.Chart{X: []string{"1", "3", "5"}, YMin: 0, YMax: 1,
			Series: []report.Series{{Name: "candidate", Values: []float64{0.97, 0.95, 0.91}}, {Name: "baseline", Values: []float64{0.96, 0.93, 0.88}}}},
			"0.85 --> 1", "🟦 candidate · 🟧 baseline"},
		{"data fill the axis", report.Chart{X: []string{"a", "b"}, YMin: 0, YMax: 1,
			Series: []report.Series{{Name: "candidate", Values: []float64{0.1, 0.9}}}}, "0 --> 1", "🟦 candidate"},
		{"no declared axis", report.Chart{X: []string{"a", "b"},
			Series: []report.Series{{Name: "x", Values: []float64{12, 14}}}}, "11 --> 15", "🟦 x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &report.Report{Kind: "check", Targets: []report.Target{{Name: "m", Results: []report.Result{
				{ID: "robust.corruptions", Status: report.StatusFail, Summary: "s", Details: []report.Section{{Chart: &tt.chart}, {Chart: &tt.chart}}}}}}}
			md := comment(t, r)
			for _, want := range []string{`"plotColorPalette": "#0072b2`, "y-axis \"\" " + tt.axis + "\n", "<sub>" + tt.legend + "</sub>"} {
				if !strings.Contains(md, want) {
					t.Errorf("lacks %q:\n%s", want, md)
				}
			}
			if n := strings.Count(md, "```mermaid"); n != 1 {
				t.Errorf("%d charts in the comment for one check, want 1", n)
			}
		})
	}
}

// TestShortNames: tables that list models use the shortest path tail that tells them apart.
func TestShortNames(t *testing.T) {
	r := &report.Report{Kind: "check", Targets: []report.Target{{Name: "models/a/m.onnx"}, {Name: "models/b/m.onnx"}, {Name: "models/zoo.onnx"}}}
	md := comment(t, r)
	for _, want := range []string{"| `a/m.onnx` |", "| `b/m.onnx` |", "| `zoo.onnx` |", "### ✅ `models/zoo.onnx`"} {
		if !strings.Contains(md, want) {
			t.Errorf("lacks %q:\n%s", want, md)
		}
	}
}
