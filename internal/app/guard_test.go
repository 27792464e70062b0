package app

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/guard"
	"github.com/cvgate/cvgate/internal/idx"
)

// guardReference writes n MNIST training images as class-folder PNGs below the harness folder.
func guardReference(t *testing.T, h *harness, n int) string {
	t.Helper()
	dir := mnistDir(t)
	imgs, err := idx.ReadImages(filepath.Join(dir, "train-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	labels, err := idx.ReadLabels(filepath.Join(dir, "train-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		writePNG(t, filepath.Join(h.dir, "ref", fmt.Sprint(labels[i]), fmt.Sprintf("%05d.png", i)), imgs[i].Std())
	}
	return "ref"
}

// TestGuardBuildAndScreen is the production path: one command builds the guard from reference
// images and proves the guarded model in ONNX Runtime; screening then passes the held-out test
// digits and flags Fashion-MNIST, listing each flagged image with its reasons.
func TestGuardBuildAndScreen(t *testing.T) {
	h := newHarness(t)
	ref := guardReference(t, h, 3000)
	model := h.testdata("models/mnist_cnn.onnx")
	code, stdout, stderr := h.run("guard", "build", "--model", model, "--data", ref, "--ood", h.testdata("images/fashion"), "--out", "g")
	if code != ExitPass {
		t.Fatalf("build: exit %d\n%s", code, stderr)
	}
	t.Logf("%s", stdout)
	for _, want := range []string{"score: combined", "original outputs bit-identical", "combined    AUROC"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("build output lacks %q", want)
		}
	}
	g, err := guard.Load(filepath.Join(h.dir, "g"))
	if err != nil {
		t.Fatal(err)
	}
	if g.Reference.Images != 3000 || g.Evaluation == nil || g.Evaluation.OODImages != 200 || g.Reference.ClassSource != "labels" {
		t.Errorf("guard.json: reference %+v, evaluation %+v", g.Reference, g.Evaluation)
	}

	// Held-out MNIST test digits: about 1% flagged, under the default 5% limit.
	code, stdout, stderr = h.run("guard", "screen", "--guard", "g", "--out", "clean", h.testdata("images/mnist"))
	if code != ExitPass {
		t.Fatalf("screen clean: exit %d\n%s%s", code, stdout, stderr)
	}
	var sum screenSummary
	readJSON(t, filepath.Join(h.dir, "clean", "summary.json"), &sum)
	if sum.Images != 500 || sum.Share > 0.05 {
		t.Errorf("clean digits: %+v", sum)
	}
	rows := readCSV(t, filepath.Join(h.dir, "clean", "flagged.csv"))
	if len(rows)-1 != sum.Flagged {
		t.Errorf("flagged.csv has %d rows for %d flagged", len(rows)-1, sum.Flagged)
	}

	// Fashion-MNIST: flagged almost entirely, so the exit code says so, and the CSV and the
	// contact sheet show why.
	code, stdout, _ = h.run("guard", "screen", "--guard", "g", "--out", "fashion", h.testdata("images/fashion"))
	if code != ExitGateFailed {
		t.Errorf("screen fashion: exit %d, want %d\n%s", code, ExitGateFailed, stdout)
	}
	readJSON(t, filepath.Join(h.dir, "fashion", "summary.json"), &sum)
	if sum.Share < 0.9 {
		t.Errorf("Fashion-MNIST flagged %.3f", sum.Share)
	}
	rows = readCSV(t, filepath.Join(h.dir, "fashion", "flagged.csv"))
	if len(rows) < 2 || !strings.Contains(rows[1][1], "above") {
		t.Errorf("flagged.csv rows %v", rows[:min(3, len(rows))])
	}
	if _, err := os.Stat(filepath.Join(h.dir, "fashion", "failures", "guard.screen", "contact_sheet.png")); err != nil {
		t.Error(err)
	}

	// The original model screens the same as the guarded one; another model is refused.
	code, _, stderr = h.run("guard", "screen", "--guard", "g", "--model", model, "--out", "orig", h.testdata("images/mnist"))
	var again screenSummary
	readJSON(t, filepath.Join(h.dir, "orig", "summary.json"), &again)
	if code != ExitPass || again.Flagged != readSummary(t, h, "clean").Flagged {
		t.Errorf("screen with the original model: exit %d, %+v\n%s", code, again, stderr)
	}
	code, _, stderr = h.run("guard", "screen", "--guard", "g", "--model", h.testdata("models/mnist_weak.onnx"), h.testdata("images/mnist"))
	if code != ExitCannotRun || !strings.Contains(stderr, "was built for the model with sha256") {
		t.Errorf("screen with another model: exit %d: %s", code, stderr)
	}
	// A guarded model changed after the build is refused.
	guarded := filepath.Join(h.dir, "g", guard.GuardedModelName)
	b, _ := os.ReadFile(guarded)
	if err := os.WriteFile(guarded, append(b, 0x08, 0x07), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = h.run("guard", "screen", "--guard", "g", h.testdata("images/mnist"))
	if code != ExitCannotRun || !strings.Contains(stderr, "changed after the guard was built") {
		t.Errorf("screen with a changed guarded model: exit %d: %s", code, stderr)
	}
}

func TestGuardBadInput(t *testing.T) {
	h := newHarness(t)
	model := h.testdata("models/mnist_cnn.onnx")
	small := h.testdata("images/mnist_train_sample")
	broken := filepath.Join(h.dir, "broken")
	if err := os.MkdirAll(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(broken, "x.png"), []byte("not a png"), 0o644)
	good, _ := os.ReadFile(filepath.Join(small, "3", firstFile(t, filepath.Join(small, "3"))))
	os.WriteFile(filepath.Join(broken, "y.png"), good, 0o644)
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"too few reference images", []string{"build", "--model", model, "--data", small}, ExitCannotRun, "use a reference set of at least 330 images"},
		{"ood overlaps the reference", []string{"build", "--model", model, "--data", small, "--ood", small, "--target-frr", "0.05"}, ExitCannotRun, "shares 200 image(s)"},
		{"missing model flag", []string{"build", "--data", small}, ExitCannotRun, "--model and --data are required"},
		{"bad score", []string{"build", "--model", model, "--data", small, "--target-frr", "0.05", "--score", "magic"}, ExitCannotRun, `score "magic"`},
		{"no guard", []string{"screen", "--guard", filepath.Join(h.dir, "nope"), small}, ExitCannotRun, "read guard"},
		{"unknown subcommand", []string{"shield"}, ExitCannotRun, "unknown subcommand"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := h.run(append([]string{"guard"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d (want %d): %s", code, tc.code, stderr)
			}
		})
	}
	// A model without a layer to read falls back to the energy score and says so; a file that
	// does not decode is flagged, not fatal.
	code, stdout, stderr := h.run("guard", "build", "--model", h.testdata("models/mnist_constant.onnx"), "--data", small, "--target-frr", "0.05", "--out", "c")
	if code != ExitPass || !strings.Contains(stdout, "fell back to the energy score") || !strings.Contains(stdout, "not from a Gemm or MatMul layer") {
		t.Fatalf("constant model: exit %d\n%s%s", code, stdout, stderr)
	}
	code, _, stderr = h.run("guard", "screen", "--guard", "c", "--out", "b", broken)
	if code == ExitCannotRun {
		t.Fatalf("screen of an unreadable file: %s", stderr)
	}
	var sum screenSummary
	readJSON(t, filepath.Join(h.dir, "b", "summary.json"), &sum)
	if code != ExitGateFailed || sum.Images != 2 || sum.Unreadable != 1 || sum.ByReason["unreadable"] != 1 {
		t.Errorf("unreadable file: exit %d, %+v %s", code, sum, stderr)
	}
}

func firstFile(t *testing.T, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil || len(es) == 0 {
		t.Fatalf("read %s: %v", dir, err)
	}
	return es[0].Name()
}

func readSummary(t *testing.T, h *harness, out string) screenSummary {
	var s screenSummary
	readJSON(t, filepath.Join(h.dir, out, "summary.json"), &s)
	return s
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
