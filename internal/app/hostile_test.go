package app

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/onnxproto/onnxtest"
	"github.com/cvgate/cvgate/report"
)

// confinedHarness is a harness whose run reads only inside its working directory, as in CI: the
// workspace holds a copy of the MNIST CNN and a small labelled set, and a folder beside it holds
// what a pull request must not reach.
func confinedHarness(t *testing.T) (h *harness, outside string) {
	t.Helper()
	h = newHarness(t)
	delete(h.env, allowOutsideEnv)
	outside = t.TempDir()
	copyFile(t, h.testdata("models/mnist_cnn.onnx"), filepath.Join(h.dir, "models", "m.onnx"))
	smallSet(t, filepath.Join(h.dir, "data"), 20)
	writePNG(t, filepath.Join(outside, "secret.png"), grayDigit(99))
	if err := os.WriteFile(filepath.Join(outside, "keep.txt"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	return h, outside
}

func mustSymlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// TestWorkspaceConfinement: every path from input (data, class-folder files, manifest rows,
// labels, models, baseline, config, output folder) is confined to the workspace after resolving
// symlinks; each escape is refused with a message naming it, and nothing outside is read,
// written or deleted. --allow-outside-workspace lifts the read confinement for local use.
func TestWorkspaceConfinement(t *testing.T) {
	base := []string{"check", "--quiet", "--checks", "model.load,perf.metrics", "--model", "models/m.onnx", "--data", "data", "--out", "out"}
	tests := []struct {
		name  string
		setup func(t *testing.T, h *harness, outside string) []string // extra flags
		code  int
		want  string // in stderr, or in model.load's error for a model that did not load
	}{
		{"inside", func(t *testing.T, h *harness, outside string) []string { return nil }, ExitPass, ""},
		{"data outside", func(t *testing.T, h *harness, outside string) []string {
			return []string{"--data", h.testdata("images/mnist")}
		}, ExitCannotRun, "is outside the workspace"},
		{"symlinked file in a class folder", func(t *testing.T, h *harness, outside string) []string {
			mustSymlink(t, filepath.Join(outside, "secret.png"), filepath.Join(h.dir, "data", "3", "leak.png"))
			return nil
		}, ExitCannotRun, "leak.png\" leads (through a symlink) outside the workspace"},
		{"/dev/zero in a class folder", func(t *testing.T, h *harness, outside string) []string {
			mustSymlink(t, "/dev/zero", filepath.Join(h.dir, "data", "3", "zero.png"))
			return nil
		}, ExitCannotRun, "zero.png\" leads (through a symlink) outside"},
		{"FIFO in a class folder", func(t *testing.T, h *harness, outside string) []string {
			if err := syscall.Mkfifo(filepath.Join(h.dir, "data", "3", "pipe.png"), 0o644); err != nil {
				t.Fatal(err)
			}
			return nil
		}, ExitCannotRun, "is a FIFO"},
		{"manifest row with ..", func(t *testing.T, h *harness, outside string) []string {
			rel, _ := filepath.Rel(filepath.Join(h.dir, "data"), filepath.Join(outside, "secret.png"))
			writeText(t, filepath.Join(h.dir, "data", "m.csv"), "path,label\n3/003.png,3\n"+rel+",3\n")
			return []string{"--data", "data/m.csv"}
		}, ExitCannotRun, "is outside the workspace"},
		{"manifest row absolute", func(t *testing.T, h *harness, outside string) []string {
			writeText(t, filepath.Join(h.dir, "data", "m.csv"), "path,label\n"+filepath.Join(outside, "secret.png")+",3\n")
			return []string{"--data", "data/m.csv"}
		}, ExitCannotRun, "is outside the workspace"},
		{"manifest row /dev/zero", func(t *testing.T, h *harness, outside string) []string {
			writeText(t, filepath.Join(h.dir, "data", "m.csv"), "path,label\n/dev/zero,3\n")
			return []string{"--data", "data/m.csv"}
		}, ExitCannotRun, "\"/dev/zero\" is outside the workspace"},
		{"labels symlinked out", func(t *testing.T, h *harness, outside string) []string {
			writeText(t, filepath.Join(outside, "labels.txt"), "root:x:0:0\n")
			mustSymlink(t, filepath.Join(outside, "labels.txt"), filepath.Join(h.dir, "labels.txt"))
			return []string{"--labels", "labels.txt"}
		}, ExitCannotRun, "labels.txt\" leads (through a symlink) outside"},
		{"config symlinked out", func(t *testing.T, h *harness, outside string) []string {
			writeText(t, filepath.Join(outside, "c.yml"), "version: 1\n")
			mustSymlink(t, filepath.Join(outside, "c.yml"), filepath.Join(h.dir, ".cvgate.yml"))
			return nil
		}, ExitCannotRun, ".cvgate.yml\" leads (through a symlink) outside"},
		{"model outside", func(t *testing.T, h *harness, outside string) []string {
			return []string{"--model", h.testdata("models/mnist_cnn.onnx")}
		}, ExitGateFailed, "is outside the workspace"},
		{"model symlinked out", func(t *testing.T, h *harness, outside string) []string {
			mustSymlink(t, h.testdata("models/mnist_cnn.onnx"), filepath.Join(h.dir, "models", "link.onnx"))
			return []string{"--model", "models/link.onnx"}
		}, ExitGateFailed, "leads (through a symlink) outside"},
		{"model is /dev/zero through a symlink", func(t *testing.T, h *harness, outside string) []string {
			mustSymlink(t, "/dev/zero", filepath.Join(h.dir, "models", "zero.onnx"))
			return []string{"--model", "models/zero.onnx"}
		}, ExitGateFailed, "leads (through a symlink) outside"},
		{"model is a FIFO", func(t *testing.T, h *harness, outside string) []string {
			if err := syscall.Mkfifo(filepath.Join(h.dir, "models", "pipe.onnx"), 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{"--model", "models/pipe.onnx"}
		}, ExitGateFailed, "is a FIFO"},
		{"output folder symlinked out", func(t *testing.T, h *harness, outside string) []string {
			mustSymlink(t, outside, filepath.Join(h.dir, "out"))
			return nil
		}, ExitCannotRun, "is a symlink"},
		{"allowed outside", func(t *testing.T, h *harness, outside string) []string {
			return []string{"--allow-outside-workspace", "--data", h.testdata("images/mnist"), "--model", h.testdata("models/mnist_cnn.onnx")}
		}, ExitPass, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, outside := confinedHarness(t)
			args := append(append([]string{}, base...), tt.setup(t, h, outside)...)
			before, _ := os.ReadDir(outside)
			var code int
			var stderr string
			done := make(chan struct{})
			go func() { code, _, stderr = h.run(args...); close(done) }()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("the run blocked (reading a FIFO or /dev/zero?)")
			}
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, stderr)
			}
			if tt.want != "" && !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr)
			}
			if code == ExitGateFailed {
				// --model accumulates: the model under test is the last target.
				r := h.report("out")
				if res := result(t, r, len(r.Targets)-1, "model.load"); res.Status != report.StatusFail || !strings.Contains(res.Error, tt.want) {
					t.Errorf("model.load %s: %s", res.Status, res.Error)
				}
			}
			if entries, _ := os.ReadDir(outside); len(entries) != len(before) {
				t.Errorf("the folder outside changed: %v", entries)
			}
			if b, err := os.ReadFile(filepath.Join(outside, "keep.txt")); err != nil || string(b) != "keep" {
				t.Errorf("keep.txt outside: %q %v", b, err)
			}
		})
	}
}

func writeText(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFailuresSymlinkOut: out/failures committed as a symlink to a folder outside: exporting the
// failing cases is refused (the check says so), and the folder keeps its files.
func TestFailuresSymlinkOut(t *testing.T) {
	h, outside := confinedHarness(t)
	victim := filepath.Join(outside, "victim")
	writeText(t, filepath.Join(victim, "perf.metrics", "thesis.tex"), "years of work")
	mustSymlink(t, victim, filepath.Join(h.dir, "out", "failures"))
	code, _, stderr := h.run("check", "--quiet", "--checks", "perf.metrics", "--model", "models/m.onnx", "--data", "data", "--out", "out")
	if code == ExitCannotRun {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(victim, "perf.metrics", "thesis.tex")); err != nil || string(b) != "years of work" {
		t.Fatalf("a file outside the output folder was deleted: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(victim, "perf.metrics"))
	if len(entries) != 1 {
		t.Errorf("files were written outside: %v", entries)
	}
	// The export was attempted (the constant images are misclassified) and refused, and the
	// check says so.
	res := result(t, h.report("out"), 0, "perf.metrics")
	said := false
	for _, d := range res.Details {
		said = said || strings.Contains(d.Text, "could not be exported") && strings.Contains(d.Text, "is a symlink")
	}
	if !said || res.Failures != nil {
		t.Errorf("perf.metrics does not say its failure cases were refused: %+v", res.Details)
	}
}

// TestExternalDataCheckedBeforeRuntime: a model whose external data is a FIFO in its own folder
// would block ONNX Runtime forever when it opens the file; and one whose data climbs out of the
// model's folder must not be opened at all. cvgate's own check refuses both before ONNX Runtime
// sees the model.
func TestExternalDataCheckedBeforeRuntime(t *testing.T) {
	for _, tc := range []struct{ name, location, want string }{
		{"FIFO", "weights.bin", "is not a regular file"},
		{"climbs out of the model folder", "../outside/weights.bin", "escapes the repository"},
		{"absolute", "/etc/passwd", "absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := confinedHarness(t)
			model := onnxtest.Write(t, filepath.Join(h.dir, "models"), "ext.onnx", onnxtest.ExternalWeights(tc.location))
			if err := syscall.Mkfifo(filepath.Join(filepath.Dir(model), "weights.bin"), 0o644); err != nil {
				t.Fatal(err)
			}
			writeText(t, filepath.Join(h.dir, "outside", "weights.bin"), string(onnxtest.WeightsFile()))
			done := make(chan struct{})
			var code int
			var stderr string
			go func() {
				code, _, stderr = h.run("check", "--quiet", "--checks", "model.load", "--model", "models/ext.onnx", "--data", "data", "--out", "out")
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("the run blocked: ONNX Runtime opened the external data before cvgate checked it")
			}
			if code != ExitGateFailed || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want 1 with %q:\n%s", code, tc.want, stderr)
			}
		})
	}
}

// TestHostileModels: a model whose forward pass never ends, and one declaring an input of
// 10 GB per image, each end with a report in seconds, failing the gate with the reason.
func TestHostileModels(t *testing.T) {
	tests := []struct {
		name   string
		model  []byte
		config string
		code   int
		check  string
		want   string
	}{
		{"endless loop, check timeout", onnxtest.Loop(1e15), "runtime: {check_timeout: 1s}", ExitGateFailed, "model.numerics", "did not finish within runtime.check_timeout (1s)"},
		{"endless loop, pass timeout", onnxtest.Loop(1e15), "runtime: {pass_timeout: 500ms}", ExitGateFailed, "model.numerics", "runtime.pass_timeout (500ms)"},
		{"endless loop, run timeout", onnxtest.Loop(1e15), "runtime: {timeout: 2s}", ExitCannotRun, "model.numerics", "interrupted"},
		{"input of 10 GB per image", onnxtest.HugeInput(50000, 50000), "", ExitGateFailed, "model.load", "declares shape [1,1,50000,50000]: 9.3 GiB per forward pass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := confinedHarness(t)
			onnxtest.Write(t, filepath.Join(h.dir, "models"), "hostile.onnx", tt.model)
			writeText(t, filepath.Join(h.dir, ".cvgate.yml"), "version: 1\n"+tt.config+"\n")
			start := time.Now()
			code, _, stderr := h.run("check", "--quiet", "--checks", "model.load,model.numerics", "--model", "models/hostile.onnx", "--data", "data", "--out", "out")
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("the run took %s", took)
			}
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, stderr)
			}
			r := h.report("out")
			if r.Gate.Verdict == report.StatusPass {
				t.Errorf("verdict %s", r.Gate.Verdict)
			}
			res := result(t, r, 0, tt.check)
			if !strings.Contains(res.Summary+" "+res.Error, tt.want) {
				t.Errorf("%s: %s %q %q, want %q", tt.check, res.Status, res.Summary, res.Error, tt.want)
			}
			if tt.code == ExitCannotRun && !strings.Contains(fmt.Sprint(r.Run.Notes), "INTERRUPTED") {
				t.Errorf("notes %v do not say the report is partial", r.Run.Notes)
			}
		})
	}
}

// TestBombAmongImages: a PNG bomb in the data is one unreadable image with its reason; the run
// goes on and reports it.
func TestBombAmongImages(t *testing.T) {
	h, _ := confinedHarness(t)
	writeText(t, filepath.Join(h.dir, "data", "7", "bomb.png"), string(pngHeader(100000, 100000)))
	code, _, stderr := h.run("check", "--quiet", "--checks", "perf.metrics", "--model", "models/m.onnx", "--data", "data", "--out", "out")
	if code == ExitCannotRun {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	u := h.report("out").Inputs.Dataset.Unreadable
	if len(u) != 1 || u[0].Path != "7/bomb.png" || !strings.Contains(u[0].Reason, "over the 50.0-megapixel limit") {
		t.Errorf("unreadable %+v", u)
	}
}

// pngHeader is a 1x1 gray PNG whose header is rewritten to declare w x h pixels.
func pngHeader(w, h uint32) []byte {
	var buf bytes.Buffer
	_ = png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	// Signature (8), then the IHDR chunk: length (4), type (4), width, height, ..., CRC.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}
