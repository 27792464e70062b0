package checks

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
	"github.com/cvgate/cvgate/report"
)

// singleThreaded replaces the subject's session by a single-threaded one of the same file, and
// lets it reopen that file as the app does. The fixtures run in tens of microseconds, where waking
// ONNX Runtime's worker threads on a loaded two-core machine costs more than the model itself and
// differs from session to session; one thread measures the models rather than the scheduler.
func singleThreaded(t *testing.T, s *Subject, name string) {
	t.Helper()
	rt := ortlib.Runtime(t)
	path := ortlib.Model(t, name)
	open := func() (*onnx.Model, error) {
		return onnx.Open(rt, path, onnx.Options{BatchSize: s.Model.Batch, Threads: 1}, nil)
	}
	m, err := open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	s.Model, s.Reopen = m, open
}

// TestLatencySameModel: a model against a second session of itself must measure a ratio near 1.
// Two sessions of one file can differ by a percent or two for good (memory placement), which a
// tight interval then excludes; the test allows 5% beyond the interval rather than flake.
func TestLatencySameModel(t *testing.T) {
	env := testEnv(t, "mnist_cnn.onnx", "mnist_cnn.onnx", "mnist", nil)
	env.Config.Thresholds.ModelLatency.Repeats = 60
	singleThreaded(t, env.Candidate, "mnist_cnn.onnx")
	singleThreaded(t, env.Baseline, "mnist_cnn.onnx")
	res, err := ModelLatency{}.Run(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Metrics
	t.Logf("ratio %.3f [%.3f, %.3f], p50 %.3f ms, throughput %.0f img/s, load %.3f s, memory %.1f MB",
		m["latency_ratio"], m["latency_ratio_low"], m["latency_ratio_high"], m["p50_ms"], m["throughput_ips"], m["load_seconds"], m["memory_mb"])
	if m["latency_ratio_low"] > 1.05 || m["latency_ratio_high"] < 0.95 {
		t.Errorf("interval [%.3f, %.3f] excludes 1 by more than 5%%", m["latency_ratio_low"], m["latency_ratio_high"])
	}
	if r := m["latency_ratio"]; r < 0.8 || r > 1.25 {
		t.Errorf("ratio %.3f of a model to itself", r)
	}
	if res.Status != report.StatusPass {
		t.Errorf("status %s: %s", res.Status, res.Summary)
	}
	if m["repeats"] != 60 || m["p50_ms"] <= 0 || m["p95_ms"] < m["p50_ms"] || m["p99_ms"] < m["p95_ms"] || m["throughput_ips"] <= 0 || m["throughput_batch"] != 64 {
		t.Errorf("metrics %v", m)
	}
	if _, ok := m["memory_mb"]; !ok || m["load_seconds"] <= 0 {
		t.Errorf("load time or memory not measured: %v", m)
	}
	if !strings.Contains(res.VsBaseline, "latency ×") || res.BaselineMetrics["p50_ms"] <= 0 {
		t.Errorf("vs baseline %q, baseline metrics %v", res.VsBaseline, res.BaselineMetrics)
	}
}

// TestLatencyTellsModelsApart: the convolutional model does far more arithmetic per image than
// the MLP (two conv layers over 28x28 against three small dense layers), so their paired ratio
// must be clearly away from 1.
func TestLatencyTellsModelsApart(t *testing.T) {
	env := testEnv(t, "mnist_cnn.onnx", "mnist_mlp_flat.onnx", "mnist", nil)
	singleThreaded(t, env.Candidate, "mnist_cnn.onnx")
	singleThreaded(t, env.Baseline, "mnist_mlp_flat.onnx")
	profiles, err := MeasureLatency(context.Background(), env.Data, env.Subjects(), LatencyOptions{Repeats: 40, Batch: 16})
	if err != nil {
		t.Fatal(err)
	}
	r, err := LatencyRatio(profiles[0], profiles[1], 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cnn/mlp batch-1 latency ratio %.2f [%.2f, %.2f]; p50 %.3f vs %.3f ms", r.Estimate, r.Lo, r.Hi, profiles[0].P50, profiles[1].P50)
	if r.Lo <= 1 {
		t.Errorf("cnn/mlp ratio %.2f [%.2f, %.2f]: the interval should lie above 1", r.Estimate, r.Lo, r.Hi)
	}
	// Reciprocity: the geometric median makes b/a the inverse of a/b.
	back, err := LatencyRatio(profiles[1], profiles[0], 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(back.Estimate*r.Estimate-1) > 1e-9 {
		t.Errorf("ratios %g and %g are not reciprocal", r.Estimate, back.Estimate)
	}
}

// TestLatencySlowdownWarns: a slowdown beyond max_slowdown whose interval is above 1 warns; the
// same measurements against a generous limit pass.
func TestLatencySlowdownWarns(t *testing.T) {
	env := testEnv(t, "mnist_cnn.onnx", "mnist_mlp_flat.onnx", "mnist", nil)
	singleThreaded(t, env.Candidate, "mnist_cnn.onnx")
	singleThreaded(t, env.Baseline, "mnist_mlp_flat.onnx")
	env.Config.Thresholds.ModelLatency.MaxSlowdown = 0.01
	res, err := ModelLatency{}.Run(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != report.StatusWarn || !strings.Contains(res.Summary, "over max_slowdown") {
		t.Errorf("status %s: %s (ratio %v)", res.Status, res.Summary, res.Metrics["latency_ratio"])
	}
	env.Config.Thresholds.ModelLatency.MaxSlowdown = 1000
	env.Config.Thresholds.ModelLatency.MaxP95Ms = 1e-6
	res, err = ModelLatency{}.Run(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != report.StatusWarn || !strings.Contains(res.Summary, "max_p95_ms") || strings.Contains(res.Summary, "max_slowdown") {
		t.Errorf("status %s: %s", res.Status, res.Summary)
	}
}

func TestLatencyFixedBatchModel(t *testing.T) {
	env := testEnv(t, "mnist_fixed_b1_nonsquare.onnx", "", "mnist", nil)
	res, err := ModelLatency{}.Run(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if res.Metrics["throughput_batch"] != 1 || res.VsBaseline != "" || res.Status != report.StatusPass {
		t.Errorf("fixed batch 1: %v %q %s", res.Metrics, res.VsBaseline, res.Status)
	}
}
