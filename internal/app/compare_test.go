package app

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/checks"
	"github.com/cvgate/cvgate/report"
)

// TestCompareRanksModels: two CNNs that differ by their training seed rank above the logistic
// regression, the gap to it is significant, the gap between the CNNs is not, and the table
// reaches stdout and report.json.
func TestCompareRanksModels(t *testing.T) {
	h := newHarness(t)
	cnn, seed2, weak := h.testdata("models/mnist_cnn.onnx"), h.testdata("models/mnist_cnn_seed2.onnx"), h.testdata("models/mnist_weak.onnx")
	code, stdout, stderr := h.run("compare", "--model", weak, "--model", seed2, "--model", cnn, "--data", h.testdata("images/mnist"),
		"--labels", h.testdata("labels/mnist.txt"), "--out", "cmp", "--checks", "model,perf")
	if code != ExitPass {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	r := h.report("cmp")
	c := r.Comparison
	if r.Kind != "compare" || c == nil || len(c.Rows) != 3 {
		t.Fatalf("kind %q, comparison %+v", r.Kind, c)
	}
	top := map[string]bool{c.Rows[0].Model: true, c.Rows[1].Model: true}
	if !top[cnn] || !top[seed2] || c.Rows[2].Model != weak || c.Best != c.Rows[0].Model {
		t.Errorf("ranking %s, %s, %s (best %s): want the two CNNs first and the weak model last", c.Rows[0].Model, c.Rows[1].Model, c.Rows[2].Model, c.Best)
	}
	for i, row := range c.Rows {
		if row.Rank != i+1 || !row.Eligible || row.Metrics["accuracy"] <= 0 || row.Metrics["p50_ms"] <= 0 || row.Metrics["latency_ratio"] < 0.99 {
			t.Errorf("row %+v", row)
		}
	}
	if len(c.Pairs) != 2 {
		t.Fatalf("pairs %+v, want the best against each other model", c.Pairs)
	}
	for _, p := range c.Pairs {
		switch p.B {
		case weak:
			if !p.Significant || p.Diff < 0.03 || p.DiffLow <= 0 || p.PValueAdjusted < p.PValue {
				t.Errorf("best vs weak %+v: want a significant gap with its interval above 0", p)
			}
		default:
			if p.Significant || p.DiffLow > 0 {
				t.Errorf("best vs the other CNN %+v: two seeds of one recipe must not differ significantly on 500 images", p)
			}
		}
	}
	// Each row is tested against the one ranked next; the last has none.
	for i, row := range c.Rows {
		if last := i == len(c.Rows)-1; last != (row.Next == nil) || (!last && (row.Next.A != row.Model || row.Next.B != c.Rows[i+1].Model)) {
			t.Errorf("row %d next %+v", i, row.Next)
		}
		if row.SizeBytes <= 0 {
			t.Errorf("row %d has no size", i)
		}
	}
	// The answer first: the headline is the choice and the ranking comes before any model.
	if want := "## ✅ cvgate compare: best `" + c.Best + "`"; !strings.HasPrefix(stdout, want) {
		t.Errorf("stdout does not start with %q:\n%.300s", want, stdout)
	}
	if rank, first := strings.Index(stdout, "### Ranking\n| Rank"), strings.Index(stdout, "### "); rank < 0 || rank != first {
		t.Errorf("the ranking is not the first section")
	}
	// One latency measurement: every model's model.latency result is the ranking's figure.
	for _, tg := range r.Targets {
		var row report.ComparisonRow
		for _, rw := range c.Rows {
			if rw.Model == tg.Name {
				row = rw
			}
		}
		n := 0
		for _, res := range tg.Results {
			if res.ID == checks.IDModelLatency {
				n++
				if res.Metrics["p50_ms"] != row.Metrics["p50_ms"] || res.Metrics["latency_ratio"] != row.Metrics["latency_ratio"] || !strings.Contains(res.Summary, "interleaved") {
					t.Errorf("%s: model.latency %v disagrees with the ranking's %v", tg.Name, res.Metrics, row.Metrics)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s: %d model.latency results, want the one measurement", tg.Name, n)
		}
	}
	var raw map[string]any
	b, _ := os.ReadFile(filepath.Join(h.dir, "cmp", "report.json"))
	if err := json.Unmarshal(b, &raw); err != nil || raw["comparison"] == nil {
		t.Errorf("report.json has no comparison section: %v", err)
	}
}

// TestCompareConstraints: a latency limit relative to the fastest model leaves only the fast
// logistic regression eligible; a --require on a metric excludes the models that miss it.
func TestCompareConstraints(t *testing.T) {
	h := newHarness(t)
	cnn, weak := h.testdata("models/mnist_cnn.onnx"), h.testdata("models/mnist_weak.onnx")
	args := []string{"compare", "--quiet", "--model", cnn, "--model", weak, "--data", h.testdata("images/mnist"), "--checks", "perf.metrics"}

	code, _, stderr := h.run(append(args, "--out", "lat", "--max-latency-ratio", "1.5")...)
	if code != ExitPass {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	c := h.report("lat").Comparison
	if c.Best != weak || c.Rows[1].Model != cnn || c.Rows[1].Eligible || !strings.Contains(c.Rows[1].Reason, "latency") {
		t.Errorf("with a latency limit: best %s, rows %+v", c.Best, c.Rows)
	}

	code, _, stderr = h.run(append(args, "--out", "req", "--require", "perf.metrics:accuracy>=0.95")...)
	if code != ExitPass {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	c = h.report("req").Comparison
	if c.Best != cnn || c.Rows[1].Eligible || !strings.Contains(c.Rows[1].Reason, "perf.metrics:accuracy") {
		t.Errorf("with a requirement: best %s, rows %+v", c.Best, c.Rows)
	}

	// Nobody meets an impossible requirement: exit 1, and the ranking is still reported.
	code, _, _ = h.run(append(args, "--out", "none", "--require", "perf.metrics:accuracy>=1.1")...)
	if code != ExitGateFailed {
		t.Errorf("no eligible model: exit %d, want 1", code)
	}
	if c := h.report("none").Comparison; c.Best != "" || len(c.Rows) != 2 || !strings.Contains(c.Note, "No model is eligible") {
		t.Errorf("no eligible model: %+v", c)
	}
}

func TestCompareBadInvocations(t *testing.T) {
	h := newHarness(t)
	cnn := h.testdata("models/mnist_cnn.onnx")
	data := h.testdata("images/mnist")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"one model", []string{"--model", cnn}, "at least two models"},
		{"objective", []string{"--model", cnn, "--model", cnn, "--objective", "speed"}, "--objective"},
		{"requirement", []string{"--model", cnn, "--model", cnn, "--require", "accuracy>0.9"}, "CHECK:METRIC"},
		{"latency ratio", []string{"--model", cnn, "--model", cnn, "--max-latency-ratio", "0.5"}, "--max-latency-ratio"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"compare", "--quiet", "--data", data, "--out", "bad", "--checks", "perf.metrics"}, tc.args...)
			code, _, stderr := h.run(args...)
			if code != ExitCannotRun || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

// gitRepo makes a repository in dir with the given files committed and tagged v1.
func gitRepo(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=cvgate", "-c", "user.email=cvgate@example.invalid", "-c", "commit.gpgsign=false"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	for dst, src := range files {
		copyFile(t, src, filepath.Join(dir, dst))
		git("add", dst)
	}
	git("commit", "-q", "-m", "models")
	git("tag", "v1")
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGitBaseline: the model at a git ref is the baseline. Swapping a weaker model in fails
// perf.baseline with a significant regression shown beside the candidate's numbers; a model the
// ref does not have skips the comparison with the reason, and the gate decides the exit code.
func TestGitBaseline(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	h := newHarness(t)
	gitRepo(t, h.dir, map[string]string{"models/m.onnx": h.testdata("models/mnist_cnn.onnx")})
	copyFile(t, h.testdata("models/mnist_weak.onnx"), filepath.Join(h.dir, "models", "m.onnx"))  // the change
	copyFile(t, h.testdata("models/mnist_cnn.onnx"), filepath.Join(h.dir, "models", "new.onnx")) // not at v1
	common := []string{"--data", h.testdata("images/mnist"), "--labels", h.testdata("labels/mnist.txt"), "--baseline", "git:v1", "--checks", "model.signature,model.latency,perf"}

	code, stdout, stderr := h.run(append([]string{"check", "--model", "models/m.onnx", "--out", "swap"}, common...)...)
	if code != ExitGateFailed {
		t.Fatalf("weaker model swapped in: exit %d, want 1\n%s", code, stderr)
	}
	r := h.report("swap")
	res := result(t, r, 0, "perf.baseline")
	if res.Status != report.StatusFail || res.Metrics["significant"] != 1 || res.Metrics["accuracy_diff"] > -0.03 {
		t.Errorf("perf.baseline %s %v: %s", res.Status, res.Metrics, res.Summary)
	}
	if r.Targets[0].Baseline == nil || r.Targets[0].Baseline.Source != "git:v1:models/m.onnx" {
		t.Errorf("baseline %+v", r.Targets[0].Baseline)
	}
	// The baseline read from git is timed in the same process, including a fresh load.
	lat := result(t, r, 0, "model.latency")
	if _, ok := lat.BaselineMetrics["memory_mb"]; !ok || lat.BaselineMetrics["load_seconds"] <= 0 || lat.Metrics["latency_ratio"] <= 0 {
		t.Errorf("model.latency %s: metrics %v, baseline %v", lat.Status, lat.Metrics, lat.BaselineMetrics)
	}
	// One table row carries both models' accuracy, the difference, its direction and significance.
	var row string
	for _, line := range strings.Split(stdout, "\n") {
		if strings.Contains(line, "| `perf.baseline`") { // after the status emoji
			row = line
		}
	}
	base, cand := res.BaselineMetrics["accuracy"], res.Metrics["accuracy"]
	for _, want := range []string{fmt.Sprintf("%.1f%% → %.1f%%", 100*base, 100*cand), "▼*", "p&lt;0.001", "CI"} { // markdown escapes "<"
		if !strings.Contains(row, want) {
			t.Errorf("perf.baseline row lacks %q: %s", want, row)
		}
	}
	if !strings.Contains(stdout, "Images that flipped") {
		t.Errorf("no flipped-images section in the markdown")
	}

	code, _, stderr = h.run(append([]string{"check", "--model", "models/new.onnx", "--out", "new"}, common...)...)
	if code != ExitPass {
		t.Fatalf("new model: exit %d, want 0 (nothing failed)\n%s", code, stderr)
	}
	r = h.report("new")
	res = result(t, r, 0, "perf.baseline")
	if res.Status != report.StatusSkip || !strings.Contains(res.Summary, "does not exist at v1") || !strings.Contains(r.Targets[0].BaselineNote, "new.onnx") {
		t.Errorf("perf.baseline %s %q, note %q", res.Status, res.Summary, r.Targets[0].BaselineNote)
	}
}
