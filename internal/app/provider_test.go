package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/report"
)

// TestExecutionProvider: report.json records, per model, the provider asked for and obtained; a
// required CUDA that cannot be had stops the run with the reason (exit 2) instead of reporting
// CPU numbers; auto runs on the CPU and says so in the report and the comment's footer. On this
// machine's library folder the CUDA provider may be installed or not: the expected reason
// follows. On a machine where CUDA works the fallback cases cannot happen and skip.
func TestExecutionProvider(t *testing.T) {
	h := newHarness(t)
	smallSet(t, filepath.Join(h.dir, "good"), 20)
	model := h.testdata("models/mnist_cnn.onnx")
	base := h.testdata("models/mnist_weak.onnx")
	args := func(out, provider string) []string {
		return []string{"check", "--quiet", "--out", out, "--model", model, "--baseline", base, "--data", "good",
			"--checks", "perf.metrics,perf.baseline", "--fail-on", "never", "--execution-provider", provider}
	}

	code, _, stderr := h.run(args("cpu-out", "cpu")...)
	if code != ExitPass {
		t.Fatalf("cpu: exit %d\n%s", code, stderr)
	}
	r := h.report("cpu-out")
	for _, m := range []*report.Model{&r.Targets[0].Model, r.Targets[0].Baseline} {
		if ep := m.ExecutionProvider; ep == nil || ep.Requested != "cpu" || ep.Obtained != "cpu" || ep.Note != "" {
			t.Errorf("cpu run, %s: execution_provider %+v", m.Path, ep)
		}
	}

	dir := filepath.Dir(h.env["ORT_LIB"])
	_, statErr := os.Stat(filepath.Join(dir, "libonnxruntime_providers_shared.so"))
	installed := statErr == nil
	code, _, stderr = h.run(args("cuda-out", "cuda")...)
	if code == ExitPass {
		t.Skip("CUDA works on this machine: the fallback cases cannot be tested here")
	}
	want := []string{"cuda was required but not obtained", "mnist_cnn.onnx"}
	if installed {
		want = append(want, "libonnxruntime_providers_cuda.so")
	} else {
		want = append(want, filepath.Join(dir, "libonnxruntime_providers_shared.so")+" is missing", "scripts/setup-ort --cuda")
	}
	if code != ExitCannotRun {
		t.Errorf("cuda without CUDA: exit %d, want %d", code, ExitCannotRun)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("cuda without CUDA: stderr does not say %q:\n%s", w, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(h.dir, "cuda-out", "report.json")); err == nil {
		t.Errorf("a run that could not get its provider wrote a report")
	}

	code, _, stderr = h.run(args("auto-out", "auto")...)
	if code != ExitPass {
		t.Fatalf("auto: exit %d\n%s", code, stderr)
	}
	r = h.report("auto-out")
	for _, m := range []*report.Model{&r.Targets[0].Model, r.Targets[0].Baseline} {
		if ep := m.ExecutionProvider; ep == nil || ep.Requested != "auto" || ep.Obtained != "cpu" || !strings.Contains(ep.Note, "ran on the CPU") {
			t.Errorf("auto run, %s: execution_provider %+v", m.Path, ep)
		}
	}
	notes := strings.Join(r.Run.Notes, "\n")
	if !strings.Contains(notes, "execution provider auto ran on the CPU") {
		t.Errorf("run notes do not mention the fallback: %q", notes)
	}
	md, err := os.ReadFile(filepath.Join(h.dir, "auto-out", "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "execution provider auto ran on the CPU") {
		t.Errorf("report.md does not say the run fell back to the CPU")
	}
}
