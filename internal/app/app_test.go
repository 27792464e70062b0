package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/testutil/ortlib"
	"github.com/cvgate/cvgate/report"
)

// harness runs cvgate in-process, the way main does, with a fixed clock.
type harness struct {
	t    testing.TB
	root string // repository root
	dir  string // working directory of the run
	env  map[string]string
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	rt := ortlib.Runtime(t) // fails the test with the setup command if the library is missing
	// The fixtures live in the repository, outside the run's working directory: these tests read
	// them as a developer would locally. confine_test.go runs with confinement on.
	return &harness{t: t, root: ortlib.RepoRoot(t), dir: t.TempDir(), env: map[string]string{"ORT_LIB": rt.LibPath, allowOutsideEnv: "1"}}
}

func (h *harness) run(args ...string) (int, string, string) {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	a := &App{Args: args, Env: h.env, Stdout: &stdout, Stderr: &stderr, Dir: h.dir, Version: "test",
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }}
	code := a.Run(context.Background())
	return code, stdout.String(), stderr.String()
}

func (h *harness) testdata(p string) string { return filepath.Join(h.root, "testdata", p) }

func (h *harness) report(out string) *report.Report {
	h.t.Helper()
	r, err := report.ReadJSON(filepath.Join(h.dir, out, "report.json"))
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func result(t *testing.T, r *report.Report, target int, id string) report.Result {
	t.Helper()
	for _, res := range r.Targets[target].Results {
		if res.ID == id {
			return res
		}
	}
	t.Fatalf("no result %s in target %d", id, target)
	return report.Result{}
}

func TestCheckDemo(t *testing.T) {
	h := newHarness(t)
	// model.latency is skipped: the CNN is rightly several times slower than its logistic-regression
	// baseline, which warns (checks/latency_test.go covers it).
	code, stdout, stderr := h.run("check", "--model", h.testdata("models/mnist_cnn.onnx"), "--baseline", h.testdata("models/mnist_weak.onnx"),
		"--data", h.testdata("images/mnist"), "--labels", h.testdata("labels/mnist.txt"), "--out", "out", "--checks", "model,perf", "--skip", "model.latency")
	if code != ExitPass {
		t.Fatalf("exit %d, want 0\nstderr:\n%s", code, stderr)
	}
	r := h.report("out")
	if r.Gate.Verdict != report.StatusPass {
		t.Errorf("verdict %s", r.Gate.Verdict)
	}
	acc := result(t, r, 0, "perf.metrics").Metrics["accuracy"]
	if acc < 0.95 || acc > 1 {
		t.Errorf("accuracy %g on the MNIST sample, want ~0.98", acc)
	}
	base := result(t, r, 0, "perf.metrics").BaselineMetrics["accuracy"]
	if base >= acc {
		t.Errorf("baseline accuracy %g should be below the candidate's %g", base, acc)
	}
	c := r.Run.Counters
	if c.Images != 500 || c.ForwardPasses < 1000 || c.ORTSeconds <= 0 || c.TotalSeconds < c.ORTSeconds {
		t.Errorf("counters %+v", c)
	}
	m := r.Targets[0].Model
	if len(m.SHA256) != 64 || m.Preprocess == nil || m.Preprocess.Layout != "nchw" || m.Signature == nil || !strings.Contains(m.Output, "logits") {
		t.Errorf("model description incomplete: %+v", m)
	}
	for _, f := range []string{"report.json", "report.md", "junit.xml"} {
		if _, err := os.Stat(filepath.Join(h.dir, "out", f)); err != nil {
			t.Errorf("output %s: %v", f, err)
		}
	}
	if !strings.Contains(stdout, "| `perf.metrics`") || !strings.Contains(stdout, "## ✅ cvgate PASS") {
		t.Errorf("stdout lacks the markdown table:\n%s", stdout)
	}
}

// TestModelVariety feeds models of every supported shape family the same gray MNIST images.
func TestModelVariety(t *testing.T) {
	h := newHarness(t)
	for _, m := range []string{"mnist_nhwc_uint8.onnx", "mnist_fixed_b1_nonsquare.onnx", "mnist_mlp_flat.onnx"} {
		t.Run(m, func(t *testing.T) {
			code, _, stderr := h.run("check", "--quiet", "--model", h.testdata("models/"+m), "--data", h.testdata("images/mnist"),
				"--out", m, "--checks", "model.numerics,perf.metrics")
			if code != ExitPass {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			r := h.report(m)
			if acc := result(t, r, 0, "perf.metrics").Metrics["accuracy"]; acc < 0.9 {
				t.Errorf("accuracy %g: preprocessing is probably wrong", acc)
			}
		})
	}
}

func TestNaNModelFailsNumerics(t *testing.T) {
	h := newHarness(t)
	code, _, _ := h.run("check", "--quiet", "--model", h.testdata("models/mnist_nan.onnx"), "--data", h.testdata("images/mnist"), "--out", "o", "--checks", "model.numerics")
	if code != ExitGateFailed {
		t.Fatalf("exit %d, want 1", code)
	}
	res := result(t, h.report("o"), 0, "model.numerics")
	if res.Status != report.StatusFail || res.Metrics["nan_rows"] == 0 {
		t.Errorf("model.numerics %s %v", res.Status, res.Metrics)
	}
	if res.Failures == nil || res.Failures.Count == 0 {
		t.Errorf("NaN images not exported")
	}
}

func writePNG(t testing.TB, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func grayDigit(v uint8) image.Image {
	g := image.NewGray(image.Rect(0, 0, 28, 28))
	for i := range g.Pix {
		g.Pix[i] = v
	}
	return g
}

// smallSet writes a labelled set of n gray images in folders 0..9.
func smallSet(t *testing.T, dir string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		writePNG(t, filepath.Join(dir, fmt.Sprint(i%10), fmt.Sprintf("%03d.png", i)), grayDigit(uint8(i*5)))
	}
}

// TestBadInputs: every bad input gets a clear error naming the file and the problem.
func TestBadInputs(t *testing.T) {
	h := newHarness(t)
	model := h.testdata("models/mnist_cnn.onnx")
	d := h.dir

	smallSet(t, filepath.Join(d, "good"), 40)
	for i := range 6 { // three named class folders for a model with ten outputs
		writePNG(t, filepath.Join(d, "three", []string{"cat", "dog", "owl"}[i%3], fmt.Sprintf("%03d.png", i)), grayDigit(uint8(i*20)))
	}
	if err := os.MkdirAll(filepath.Join(d, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	smallSet(t, filepath.Join(d, "corrupt"), 40)
	if err := os.WriteFile(filepath.Join(d, "corrupt", "3", "bad.png"), []byte("not a png at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	smallSet(t, filepath.Join(d, "mostlybad"), 10)
	for i := 0; i < 10; i++ {
		raw, _ := os.ReadFile(filepath.Join(d, "mostlybad", fmt.Sprint(i), fmt.Sprintf("%03d.png", i)))
		os.WriteFile(filepath.Join(d, "mostlybad", fmt.Sprint(i), fmt.Sprintf("trunc%d.png", i)), raw[:len(raw)/2], 0o644)
	}
	os.WriteFile(filepath.Join(d, "missing.csv"), []byte("path,label\ngood/0/000.png,0\ngood/0/gone.png,0\n"), 0o644)
	os.WriteFile(filepath.Join(d, "unknown_label.csv"), []byte("path,label\ngood/0/000.png,zero\n"), 0o644)
	os.WriteFile(filepath.Join(d, "labels9.txt"), []byte("c0\nc1\nc2\nc3\nc4\nc5\nc6\nc7\nc8\n"), 0o644)
	digits := "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n"
	os.WriteFile(filepath.Join(d, "labels10.txt"), []byte(digits), 0o644)
	good, _ := os.ReadFile(model)
	os.WriteFile(filepath.Join(d, "half.onnx"), good[:len(good)/2], 0o644)
	os.WriteFile(filepath.Join(d, "text.onnx"), []byte("definitely not protobuf"), 0o644)
	os.WriteFile(filepath.Join(d, "unknown.yml"), []byte("version: 1\nthreshold:\n  perf.metrics: {}\n"), 0o644)
	os.WriteFile(filepath.Join(d, "range.yml"), []byte("version: 1\nthresholds:\n  perf.metrics:\n    min_accuracy: 95\n"), 0o644)
	os.WriteFile(filepath.Join(d, "both.yml"), []byte("version: 1\nthreshold: {}\nthresholds:\n  perf.metrics:\n    min_accuracy: 95\n"), 0o644)

	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want []string
	}{
		{"empty data folder", []string{"--model", model, "--data", "empty"}, nil, ExitCannotRun, []string{"empty", "no images found"}},
		{"unreadable past the share", []string{"--model", model, "--data", "mostlybad"}, nil, ExitCannotRun, []string{"mostlybad", "10 of 20 images are unreadable", "truncated"}},
		{"manifest row with a missing file", []string{"--model", model, "--data", "missing.csv"}, nil, ExitCannotRun, []string{"missing.csv", "line 3", "gone.png", "not found"}},
		{"label not in the labels file", []string{"--model", model, "--data", "unknown_label.csv", "--labels", "labels10.txt"}, nil, ExitCannotRun, []string{`label "zero"`, "labels10.txt"}},
		{"labels file shorter than the outputs", []string{"--model", model, "--data", "good", "--labels", "labels9.txt"}, nil, ExitCannotRun, []string{"outputs 10 classes", "labels9.txt", "gives 9"}},
		{"fewer class folders than outputs", []string{"--model", model, "--data", "three"}, nil, ExitCannotRun,
			[]string{"outputs 10 classes but folder names, sorted (torchvision ImageFolder order) gives 3 (cat, dog, owl); pass --labels FILE with one class name per model output"}},
		{"truncated model", []string{"--model", "half.onnx", "--data", "good"}, nil, ExitGateFailed, []string{"half.onnx"}},
		{"not an ONNX file", []string{"--model", "text.onnx", "--data", "good"}, nil, ExitGateFailed, []string{"text.onnx"}},
		{"colour model on gray images", []string{"--model", h.testdata("models/mnist_rgb_color.onnx"), "--data", "good"}, nil, ExitCannotRun, []string{"mnist_rgb_color.onnx", "grayscale", "preprocess.color: rgb"}},
		{"unknown config key", []string{"--config", "unknown.yml", "--model", model, "--data", "good"}, nil, ExitCannotRun, []string{"unknown.yml", "threshold: unknown key", `"thresholds"`}},
		{"threshold out of range", []string{"--config", "range.yml", "--model", model, "--data", "good"}, nil, ExitCannotRun, []string{"thresholds.perf.metrics.min_accuracy", "between 0 and 1"}},
		{"missing ONNX Runtime", []string{"--model", model, "--data", "good"}, map[string]string{"CVGATE_HOME": t.TempDir()}, ExitCannotRun, []string{"ONNX Runtime library not found", "scripts/setup-ort"}},
		{"bad ORT_LIB", []string{"--model", model, "--data", "good"}, map[string]string{"ORT_LIB": "/nowhere/libonnxruntime.so"}, ExitCannotRun, []string{"/nowhere/libonnxruntime.so", "ORT_LIB"}},
		{"no model", []string{"--data", "good"}, nil, ExitCannotRun, []string{"no model to check", "--model"}},
		{"model file missing", []string{"--model", "nope.onnx", "--data", "good"}, nil, ExitCannotRun, []string{`model file "nope.onnx" not found`, "--model"}},
		{"model file missing, as an argument after a flag", []string{"--data", "good", "gone/m.onnx"}, nil, ExitCannotRun, []string{`"gone/m.onnx" not found`}},
		{"several problems in one config", []string{"--config", "both.yml", "--model", model, "--data", "good"}, nil, ExitCannotRun,
			[]string{"both.yml:2: threshold: unknown key", "both.yml:5: thresholds.perf.metrics.min_accuracy: must be a share between 0 and 1, got 95"}},
		{"unknown check", []string{"--model", model, "--data", "good", "--checks", "perf.accuracy"}, nil, ExitCannotRun, []string{"perf.accuracy", "perf.metrics"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			saved := h.env
			if tt.env != nil {
				h.env = tt.env
				if _, ok := tt.env["HOME"]; !ok {
					h.env["HOME"] = t.TempDir()
				}
			}
			defer func() { h.env = saved }()
			code, _, stderr := h.run(append([]string{"check", "--quiet", "--out", "out-" + strings.ReplaceAll(tt.name, " ", "_")}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstderr:\n%s", code, tt.code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Errorf("stderr shows a crash:\n%s", stderr)
			}
		})
	}

	// Flags after the model path work as before it.
	if code, _, stderr := h.run("check", model, "--quiet", "--out", "pos-out", "--data", "good", "--checks", "perf.metrics", "--fail-on", "never"); code != ExitPass {
		t.Fatalf("flags after the model: exit %d\n%s", code, stderr)
	}
	if r := h.report("pos-out"); len(r.Targets) != 1 || r.Targets[0].Name != model {
		t.Errorf("flags after the model: targets %+v", r.Targets)
	}

	// A few unreadable images do not sink the run: they are counted and listed.
	code, _, stderr := h.run("check", "--quiet", "--out", "corrupt-out", "--model", model, "--data", "corrupt", "--checks", "perf.metrics", "--fail-on", "never")
	if code != ExitPass {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	r := h.report("corrupt-out")
	if r.Run.Counters.Unreadable != 1 || len(r.Inputs.Dataset.Unreadable) != 1 || r.Inputs.Dataset.Unreadable[0].Path != "3/bad.png" {
		t.Errorf("unreadable images not reported: %+v", r.Inputs.Dataset.Unreadable)
	}
	// A model that does not load is a failing result in the report, not a crash; the data's own
	// check still runs (a broken model must not hide broken data).
	os.WriteFile(filepath.Join(d, "good", "7", "copy.png"), mustRead(t, filepath.Join(d, "good", "7", "007.png")), 0o644)
	h.run("check", "--quiet", "--out", "half-out", "--model", "half.onnx", "--data", "good")
	res := result(t, h.report("half-out"), 0, "model.load")
	if res.Status != report.StatusFail || !strings.Contains(res.Error, "half.onnx") {
		t.Errorf("model.load %s %q", res.Status, res.Error)
	}
	di := result(t, h.report("half-out"), 0, "data.integrity")
	if di.Status == report.StatusSkip || di.Metrics["exact_duplicates"] != 1 {
		t.Errorf("data.integrity without a model: %s %q %v", di.Status, di.Summary, di.Metrics)
	}
	if pm := result(t, h.report("half-out"), 0, "perf.metrics"); pm.Status != report.StatusSkip {
		t.Errorf("perf.metrics without a model: %s", pm.Status)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDeterministicReport(t *testing.T) {
	h := newHarness(t)
	var outs [2][]byte
	for i := range outs {
		out := fmt.Sprintf("run%d", i)
		code, _, stderr := h.run("check", "--quiet", "--model", h.testdata("models/mnist_cnn.onnx"), "--data", h.testdata("images/mnist"), "--out", out, "--checks", "perf")
		if code != ExitPass {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		r := h.report(out)
		// Timings differ between runs by nature; everything else must not.
		r.Run.Counters = report.Counters{}
		for ti := range r.Targets {
			r.Targets[ti].Model.Metadata = nil
			for ri := range r.Targets[ti].Results {
				r.Targets[ti].Results[ri].DurationSeconds = 0
			}
		}
		r.Inputs.Dataset.DecodeSeconds = 0
		outs[i], _ = json.Marshal(r)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Errorf("two runs on the same inputs gave different reports")
	}
}

func TestVersionAndHelp(t *testing.T) {
	h := newHarness(t)
	code, stdout, _ := h.run("version")
	if code != 0 || !strings.Contains(stdout, "cvgate test") || !strings.Contains(stdout, "ONNX Runtime") {
		t.Errorf("version: %d %q", code, stdout)
	}
	code, stdout, _ = h.run("help")
	if code != 0 || !strings.Contains(stdout, "check") {
		t.Errorf("help: %d %q", code, stdout)
	}
	// Help goes to stdout (it was asked for) and states one exit-code rule.
	for _, cmd := range []string{"check", "compare", "drift", "config", "version", "publish"} {
		code, stdout, _ := h.run(cmd, "--help")
		if code != 0 || !strings.Contains(stdout, "Usage: cvgate "+cmd) {
			t.Errorf("%s --help: %d %q", cmd, code, stdout)
		}
		if n := strings.Count(stdout, "Exit codes"); cmd != "version" && cmd != "publish" && n != 1 {
			t.Errorf("%s --help states %d exit-code rules, want 1:\n%s", cmd, n, stdout)
		}
	}
	code, stdout, _ = h.run("check", "--help")
	if !strings.Contains(stdout, "--fail-on") || !strings.Contains(stdout, "--size") {
		t.Errorf("check --help lacks flags: %d %q", code, stdout)
	}
	tests := []struct {
		args []string
		want string // the last line of stderr
	}{
		{[]string{"chek"}, `cvgate: unknown command "chek"; did you mean "check"?`},
		{[]string{"frobnicate"}, `cvgate: unknown command "frobnicate"`},
		{[]string{"--data", "x", "check"}, `put flags after it`},
		{[]string{"check", "--modle", "m.onnx"}, "cvgate check: unknown flag --modle; did you mean --model?"},
		{[]string{"compare", "--objectiv", "macro_f1"}, "cvgate compare: unknown flag --objectiv; did you mean --objective?"},
		{[]string{"check", "--fail-on", "sometimes"}, `invalid value "sometimes" for flag --fail-on`},
		{[]string{"check", "--data"}, "flag needs an argument: --data"},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		code, stdout, stderr := h.run(tt.args...)
		lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
		if code != ExitCannotRun || stdout != "" || !strings.Contains(lines[len(lines)-1], tt.want) || len(lines) > 2 {
			t.Errorf("%v: exit %d, stderr %q: want a short usage and the error %q last", tt.args, code, stderr, tt.want)
		}
	}
}
