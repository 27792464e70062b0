package checks

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"image/png"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/report"
)

// advConfig is the default config with robust.adversarial changed by set.
func advConfig(set func(ra *config.RobustAdversarial)) *config.Config {
	cfg := config.Defaults()
	set(&cfg.Thresholds.RobustAdversarial)
	return &cfg
}

// advRun runs one attack on the candidate the way the check does and returns it with the sample.
func advRun(t *testing.T, env *Env, name string) (*advAttack, []int) {
	t.Helper()
	ctx := context.Background()
	cand, base, err := env.Clean(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := env.Config.Thresholds.RobustAdversarial
	sample, _ := advSample(env, cand, base, cfg.Sample)
	labels := make([]int, len(sample))
	for k, i := range sample {
		labels[k] = env.Data.Items[i].Label
	}
	a, err := env.runAttack(ctx, name, env.Candidate, sample, labels, 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a, sample
}

// reclassify runs images at the model's input size through the subject and returns the labels.
func reclassify(t *testing.T, env *Env, s *Subject, imgs []*imaging.Float) []int {
	t.Helper()
	probs, classes, err := env.ForwardFloat(context.Background(), viewSubject(s), imgs)
	if err != nil {
		t.Fatal(err)
	}
	top, _ := argmax(probs, classes)
	out := make([]int, len(top))
	for i, v := range top {
		out[i] = int(v)
	}
	return out
}

// TestAdversarialSquareBreaksMNIST: Square at L-inf 0.3, the usual MNIST budget, breaks an
// undefended CNN on nearly every image within a few dozen queries (Andriushchenko et al. report
// 100% success with a mean of a few dozen queries on such models). Every success must stay inside
// the ball and really be misclassified when the model sees it again.
func TestAdversarialSquareBreaksMNIST(t *testing.T) {
	env := testEnv(t, "mnist_cnn.onnx", "", "mnist", advConfig(func(ra *config.RobustAdversarial) {
		ra.Sample, ra.Epsilon, ra.PInit, ra.MaxQueries = 100, 0.3, 0.8, 300
	}))
	if _, _, err := env.Clean(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	a, sample := advRun(t, env, AttackSquare)
	wall := time.Since(start)
	s := a.sum
	t.Logf("Square L-inf 0.3 on %d images: success %.1f%%, median %.0f queries, mean %.1f, %d queries in all, %d of %d survive 8-bit rounding, %v",
		len(sample), 100*s.SuccessRate, s.MedianQueries, s.MeanQueries, s.TotalQueries, a.survived, s.Succeeded, wall.Round(time.Millisecond))
	if len(sample) != 100 {
		t.Fatalf("sample of %d images, want 100", len(sample))
	}
	if s.SuccessRate < 0.95 {
		t.Errorf("success rate %.2f, want nearly all", s.SuccessRate)
	}
	if s.MedianQueries < 2 || s.MedianQueries > 60 {
		t.Errorf("median queries %.0f, want a few dozen", s.MedianQueries)
	}
	var advs []*imaging.Float
	var want []int
	for _, o := range a.outs {
		if !o.Success {
			continue
		}
		if o.Linf > 0.3+1e-6 {
			t.Errorf("success at L-inf %g, outside the 0.3 ball", o.Linf)
		}
		advs = append(advs, o.Adversarial)
		want = append(want, o.Label)
	}
	for k, got := range reclassify(t, env, env.Candidate, advs) {
		if got == want[k] {
			t.Errorf("adversarial %d is classified %d again, its true label", k, got)
		}
	}
	// Square only sends 8-bit images, so every success survives being saved as a file.
	if a.survived != s.Succeeded || s.RawSucceeded != s.Succeeded {
		t.Errorf("%d of %d successes survive 8-bit rounding (%d unrounded), want all", a.survived, s.Succeeded, s.RawSucceeded)
	}
	for i, o := range a.outs {
		if o.Success && !equalPix(o.Adversarial.Bytes(), o.Adversarial.Bytes().Float().Bytes()) || o.Success && a.qL2[i] != o.L2 {
			t.Errorf("image %d: the adversarial image changes when rounded to 8 bits (L2 %g -> %g)", i, o.L2, a.qL2[i])
		}
	}
}

// TestAdversarialControls: attacks must not report successes they cannot have. A model whose
// output ignores its input cannot be moved by any perturbation, and a budget of zero leaves
// nothing to try but the clean image, which costs exactly one query per image.
func TestAdversarialControls(t *testing.T) {
	tests := []struct {
		name    string
		model   string
		eps     float64
		epsL2   float64
		queries int
	}{
		{"constant model", "mnist_constant.onnx", 0.3, math.Inf(1), 200},
		{"zero budget", "mnist_cnn.onnx", 0, 0, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t, tt.model, "", "mnist", advConfig(func(ra *config.RobustAdversarial) {
				ra.Sample, ra.Epsilon, ra.EpsilonL2, ra.PInit, ra.MaxQueries = 20, tt.eps, tt.epsL2, 0.8, tt.queries
				ra.Attacks = []string{AttackSquare, AttackHopSkipJump}
			}))
			res, err := RobustAdversarial{}.Run(context.Background(), env)
			if err != nil {
				t.Fatal(err)
			}
			m := res.Metrics
			t.Logf("%s: %s; metrics %v", tt.name, res.Summary, m)
			for _, a := range []string{AttackSquare, AttackHopSkipJump} {
				if m[a+"_attacked"] == 0 {
					t.Fatalf("%s attacked nothing", a)
				}
				if m[a+"_success_rate"] != 0 || m[a+"_robust_accuracy"] != 1 {
					t.Errorf("%s: success %v, robust accuracy %v; want 0 and 1", a, m[a+"_success_rate"], m[a+"_robust_accuracy"])
				}
				if m[a+"_median_queries"] != -1 {
					t.Errorf("%s: median queries %v without a success, want -1 (undefined)", a, m[a+"_median_queries"])
				}
			}
			if tt.eps == 0 && m[AttackSquare+"_total_queries"] != m["sample"] {
				t.Errorf("zero budget spent %v queries on %v images, want one each", m[AttackSquare+"_total_queries"], m["sample"])
			}
			if tt.model == "mnist_constant.onnx" && m[AttackSquare+"_total_queries"] != m["sample"]*float64(tt.queries) {
				t.Errorf("constant model: %v queries, want the whole budget on every image", m[AttackSquare+"_total_queries"])
			}
			if res.Failures != nil {
				t.Errorf("exported %d cases without a success", res.Failures.Count)
			}
			if _, err := json.Marshal(res); err != nil {
				t.Errorf("result does not encode: %v", err)
			}
		})
	}
}

// TestAdversarialSeeded: the same seed gives the same result; another seed draws other squares
// (so the seed is really used) but, on a sample this size, the same picture.
func TestAdversarialSeeded(t *testing.T) {
	run := func(seed uint64) *report.Result {
		cfg := advConfig(func(ra *config.RobustAdversarial) {
			ra.Sample, ra.Epsilon, ra.PInit, ra.MaxQueries = 30, 0.15, 0.8, 200
			ra.Attacks = []string{AttackSquare, AttackHopSkipJump}
			ra.EpsilonL2 = 2
		})
		cfg.Seed = seed
		env := testEnv(t, "mnist_cnn.onnx", "mnist_weak.onnx", "mnist", cfg)
		env.Export = nil
		res, err := RobustAdversarial{}.Run(context.Background(), env)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b, c := run(7), run(7), run(8)
	if !maps.Equal(a.Metrics, b.Metrics) || !maps.Equal(a.BaselineMetrics, b.BaselineMetrics) || a.Summary != b.Summary {
		t.Errorf("same seed, different results:\n%v\n%v\n%s\n%s", a.Metrics, b.Metrics, a.Summary, b.Summary)
	}
	if maps.Equal(a.Metrics, c.Metrics) {
		t.Errorf("seeds 7 and 8 gave identical metrics %v: is the seed used?", a.Metrics)
	}
	t.Logf("seed 7: %s\nseed 8: %s", a.Summary, c.Summary)
}

// TestAdversarialHopSkipJumpFlips: HopSkipJump's successes must be misclassified when the model
// sees them again, and lie within the L2 budget when there is one.
func TestAdversarialHopSkipJumpFlips(t *testing.T) {
	for _, eps := range []float64{math.Inf(1), 3} {
		env := testEnv(t, "mnist_weak.onnx", "", "mnist", advConfig(func(ra *config.RobustAdversarial) {
			ra.Sample, ra.EpsilonL2, ra.MaxQueries = 30, eps, 300
		}))
		a, _ := advRun(t, env, AttackHopSkipJump)
		t.Logf("HopSkipJump L2 %g: success %.1f%%, median L2 %.3f, median queries %.0f, %d of %d survive 8-bit rounding",
			eps, 100*a.sum.SuccessRate, a.sum.MedianL2, a.sum.MedianQueries, a.survived, a.sum.Succeeded)
		if a.sum.Succeeded == 0 {
			t.Fatalf("no success at L2 %g: nothing to re-evaluate", eps)
		}
		var advs []*imaging.Float
		var want []int
		for _, o := range a.outs {
			if o.Success {
				advs = append(advs, o.Adversarial)
				want = append(want, o.Label)
				if o.L2 > eps {
					t.Errorf("success at L2 %g, over the budget %g", o.L2, eps)
				}
			}
		}
		for k, got := range reclassify(t, env, env.Candidate, advs) {
			if got == want[k] {
				t.Errorf("L2 %g: adversarial %d is classified %d again, its true label", eps, k, got)
			}
		}
		// The boundary point itself falls back to the true class about half the time once
		// rounded; what HopSkipJump returns is already rounded and verified.
		if float64(a.survived) < 0.95*float64(a.sum.Succeeded) {
			t.Errorf("L2 %g: %d of %d successes survive 8-bit rounding, want >= 95%%", eps, a.survived, a.sum.Succeeded)
		}
		for i, o := range a.outs {
			if o.Adversarial != nil && a.qL2[i] != o.L2 {
				t.Errorf("image %d: L2 %g changes to %g when rounded: not an 8-bit image", i, o.L2, a.qL2[i])
			}
		}
	}
}

// TestAdversarialRecords: report.json carries, per attack and model, the L2 curve and every
// sampled image with the figures the metrics are computed from, and they agree.
func TestAdversarialRecords(t *testing.T) {
	env := testEnv(t, "mnist_cnn.onnx", "mnist_weak.onnx", "mnist", advConfig(func(ra *config.RobustAdversarial) {
		ra.Sample, ra.Epsilon, ra.PInit, ra.MaxQueries, ra.EpsilonL2 = 20, 0.1, 0.8, 400, math.Inf(1)
		ra.Attacks = []string{"Square", "hsj"} // aliases, as a config file may spell them
	}))
	env.Export = nil
	res, err := RobustAdversarial{}.Run(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Attacks) != 4 {
		t.Fatalf("%d attack records, want 2 attacks x 2 models", len(res.Attacks))
	}
	for _, run := range res.Attacks {
		metrics := res.Metrics
		if run.Model == "baseline" {
			metrics = res.BaselineMetrics
		}
		p := run.Attack + "_"
		if _, ok := metrics[p+"success_rate"]; !ok {
			t.Fatalf("%s %s: no %ssuccess_rate metric in %v", run.Attack, run.Model, p, metrics)
		}
		if len(run.Images) != int(res.Metrics["sample"]) || run.MaxQueries != 400 {
			t.Errorf("%s %s: %d images, budget %d", run.Attack, run.Model, len(run.Images), run.MaxQueries)
		}
		var attacked, broken, raw, queries int
		for _, im := range run.Images {
			queries += im.Queries
			if im.Skipped {
				continue
			}
			attacked++
			if im.Success {
				raw++
			}
			if im.Success8bit {
				broken++
				if im.QueriesToSuccess == nil || im.QueriesToFinal == nil || *im.QueriesToSuccess > *im.QueriesToFinal || *im.QueriesToFinal > im.Queries {
					t.Errorf("%s %s %s: queries to success %v, to final %v, spent %d", run.Attack, run.Model, im.Path, im.QueriesToSuccess, im.QueriesToFinal, im.Queries)
				}
				if im.L2 == nil || im.Linf == nil || im.Predicted == im.Label || im.Predicted == "" {
					t.Errorf("%s %s %s: broken without distances or a wrong class: %+v", run.Attack, run.Model, im.Path, im)
				}
			}
			if run.Epsilon != nil && im.Success8bit {
				norm := *im.L2
				if run.Norm == "linf" {
					norm = *im.Linf
				}
				if norm > *run.Epsilon+1e-6 {
					t.Errorf("%s %s %s: broken at %s %g beyond epsilon %g", run.Attack, run.Model, im.Path, run.Norm, norm, *run.Epsilon)
				}
			}
		}
		if got := float64(broken) / float64(attacked); math.Abs(got-metrics[p+"success_rate"]) > 1e-6 {
			t.Errorf("%s %s: records give success rate %g, metric %g", run.Attack, run.Model, got, metrics[p+"success_rate"])
		}
		if got := float64(raw) / float64(attacked); math.Abs(got-metrics[p+"success_rate_raw"]) > 1e-6 {
			t.Errorf("%s %s: records give raw success rate %g, metric %g", run.Attack, run.Model, got, metrics[p+"success_rate_raw"])
		}
		if float64(queries) != metrics[p+"total_queries"] {
			t.Errorf("%s %s: records count %d queries, metric %g", run.Attack, run.Model, queries, metrics[p+"total_queries"])
		}
		if n := len(run.Curve); n == 0 || run.Curve[n-1].Queries != 400 || math.Abs(run.Curve[n-1].SuccessRate-metrics[p+"success_rate"]) > 1e-6 {
			t.Errorf("%s %s: curve %+v does not end at the budget with the success rate", run.Attack, run.Model, run.Curve)
		}
		if run.Attack == AttackHopSkipJump {
			last := run.Curve[len(run.Curve)-1]
			if run.Epsilon != nil || last.MedianL2 == nil || *last.MedianL2 != metrics[p+"median_l2_at_400"] {
				t.Errorf("hopskipjump %s: epsilon %v, final median L2 %v, metric %g", run.Model, run.Epsilon, last.MedianL2, metrics[p+"median_l2_at_400"])
			}
		}
	}
	// HopSkipJump with no L2 budget: the details chart the L2 reached against queries.
	found := false
	for _, d := range res.Details {
		if d.Chart != nil && strings.Contains(d.Chart.Title, "median L2") {
			found = len(d.Chart.Series) == 2 && len(d.Chart.X) > 1
		}
	}
	if !found {
		t.Errorf("no L2-vs-queries chart for both models in the details")
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("result does not encode: %v", err)
	}
}

// TestAdversarialThresholds applies the thresholds to one set of attacks: the CNN withstands
// Square at L-inf 0.1 on most images, the logistic-regression baseline on far fewer.
func TestAdversarialThresholds(t *testing.T) {
	env := testEnv(t, "mnist_cnn.onnx", "mnist_weak.onnx", "mnist", advConfig(func(ra *config.RobustAdversarial) {
		ra.Sample, ra.Epsilon, ra.PInit, ra.MaxQueries = 40, 0.1, 0.8, 300
	}))
	ctx := context.Background()
	cand, base, err := env.Clean(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := env.Config.Thresholds.RobustAdversarial
	sample, eligible := advSample(env, cand, base, cfg.Sample)
	labels := make([]int, len(sample))
	for k, i := range sample {
		labels[k] = env.Data.Items[i].Label
	}
	var per []*advAttack
	for _, s := range env.Subjects() {
		a, err := env.runAttack(ctx, AttackSquare, s, sample, labels, 0, cfg)
		if err != nil {
			t.Fatal(err)
		}
		per = append(per, a)
	}
	candRA, baseRA := per[0].robustAccuracy(), per[1].robustAccuracy()
	t.Logf("robust accuracy at L-inf 0.1: candidate %.3f, baseline %.3f", candRA, baseRA)
	if candRA <= baseRA+0.1 {
		t.Fatalf("candidate %.3f should clearly beat the baseline %.3f at L-inf 0.1", candRA, baseRA)
	}
	f := func(v float64) *float64 { return &v }
	swapped := [][]*advAttack{{per[1], per[0]}} // the weak model as the candidate
	tests := []struct {
		name      string
		runs      [][]*advAttack
		set       func(ra *config.RobustAdversarial)
		want      report.Status
		threshold string
		summary   string
	}{
		{"report only", [][]*advAttack{per}, func(*config.RobustAdversarial) {}, report.StatusPass, "report only", "robust accuracy"},
		{"above the minimum", [][]*advAttack{per}, func(ra *config.RobustAdversarial) { ra.MinRobustAccuracy = f(candRA - 0.05) }, report.StatusPass, "robust accuracy >=", "baseline"},
		{"below the minimum warns", [][]*advAttack{per}, func(ra *config.RobustAdversarial) { ra.MinRobustAccuracy = f(candRA + 0.05) }, report.StatusWarn, "(warn)", "below min_robust_accuracy"},
		{"below the minimum fails when asked", [][]*advAttack{per}, func(ra *config.RobustAdversarial) {
			ra.MinRobustAccuracy, ra.Fail = f(candRA+0.05), true
		}, report.StatusFail, "(fail)", "below min_robust_accuracy"},
		{"better than the baseline", [][]*advAttack{per}, func(ra *config.RobustAdversarial) { ra.MaxDrop = f(0) }, report.StatusPass, "drop vs baseline <= 0.0 pp", "baseline"},
		{"a drop over max_drop warns", swapped, func(ra *config.RobustAdversarial) { ra.MaxDrop = f(0.05) }, report.StatusWarn, "drop vs baseline <= 5.0 pp", "dropped"},
		{"a drop within max_drop passes", swapped, func(ra *config.RobustAdversarial) { ra.MaxDrop = f(candRA - baseRA + 0.05) }, report.StatusPass, "drop vs baseline", "baseline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			tt.set(&c)
			res := advResult(env, c, tt.runs, sample, eligible)
			if res.Status != tt.want {
				t.Errorf("status %s, want %s: %s", res.Status, tt.want, res.Summary)
			}
			if !strings.Contains(res.Threshold, tt.threshold) {
				t.Errorf("threshold %q does not say %q", res.Threshold, tt.threshold)
			}
			if !strings.Contains(res.Summary, tt.summary) {
				t.Errorf("summary %q does not say %q", res.Summary, tt.summary)
			}
			if !strings.Contains(res.VsBaseline, "Square robust accuracy") || res.BaselineMetrics[AttackSquare+"_attacked"] != float64(len(sample)) {
				t.Errorf("no comparison: %q %v", res.VsBaseline, res.BaselineMetrics)
			}
		})
	}
}

// TestAdversarialExport: the candidate's adversarial images are exported beside their originals
// (original | adversarial | difference), and the exported 8-bit file of a case listed as fooling
// the model does fool it.
func TestAdversarialExport(t *testing.T) {
	env := testEnv(t, "mnist_cnn.onnx", "mnist_weak.onnx", "mnist", advConfig(func(ra *config.RobustAdversarial) {
		ra.Sample, ra.Epsilon, ra.PInit, ra.MaxQueries = 20, 0.3, 0.8, 300
	}))
	res, err := RobustAdversarial{}.Run(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s | %s", res.Summary, res.VsBaseline)
	if res.Failures == nil {
		t.Fatal("no adversarial examples exported")
	}
	if res.Failures.Total != int(res.Metrics[AttackSquare+"_success_rate"]*res.Metrics[AttackSquare+"_attacked"]+0.5) {
		t.Errorf("total %d, metrics %v", res.Failures.Total, res.Metrics)
	}
	if _, err := os.Stat(filepath.Join(env.Out, res.Failures.ContactSheet)); err != nil {
		t.Errorf("contact sheet: %v", err)
	}
	f, err := os.Open(filepath.Join(env.Out, res.Failures.Index))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("index: %v, %d rows", err, len(rows))
	}
	first := rows[1] // file, source, label, predicted, confidence, check, perturbation, note
	if !strings.HasPrefix(first[6], "square L-inf") || strings.Contains(first[7], "again") {
		t.Errorf("first case %v should be a Square example that survives rounding", first)
	}
	pf, err := os.Open(filepath.Join(env.Out, res.Failures.Dir, first[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	img, err := png.Decode(pf)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 3*28 || b.Dy() != 28 {
		t.Fatalf("exported image %v, want original | adversarial | difference, 84x28", b)
	}
	panel := imaging.FromStd(img)
	adv := imaging.New(28, 28, 1)
	orig := imaging.New(28, 28, 1)
	for y := range 28 {
		for x := range 28 {
			adv.Pix[y*28+x] = panel.At(28+x, y, 0)
			orig.Pix[y*28+x] = panel.At(x, y, 0)
		}
	}
	got := reclassify(t, env, env.Candidate, []*imaging.Float{adv.Float(), orig.Float()})
	if name := env.className(got[0]); name != first[3] || name == first[2] {
		t.Errorf("exported adversarial is classified %s; index says %s, label %s", name, first[3], first[2])
	}
	if name := env.className(got[1]); name != first[2] {
		t.Errorf("exported original is classified %s, want its label %s", name, first[2])
	}
	var linf float64
	for i := range adv.Pix {
		linf = max(linf, math.Abs(float64(adv.Pix[i])-float64(orig.Pix[i]))/255)
	}
	if linf > 0.3+0.5/255 {
		t.Errorf("exported perturbation L-inf %.4f exceeds 0.3 plus rounding", linf)
	}
}

// TestViewSubjectIsIdentity: an image already at the model's input size passes through the view
// subject unchanged, with centre cropping and for a non-square input, so that the attacked image
// is the one the model sees.
func TestViewSubjectIsIdentity(t *testing.T) {
	tests := []struct {
		name  string
		model string
		crop  float64
	}{
		{"centre crop", "mnist_cnn.onnx", 0.75},
		{"non-square resize", "mnist_fixed_b1_nonsquare.onnx", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.Preprocess.CenterCrop = tt.crop
			env := testEnv(t, tt.model, "", "mnist", &cfg)
			s := env.Candidate
			if tt.crop > 0 && s.Spec.CropFraction != tt.crop {
				t.Fatalf("crop fraction %g, want %g", s.Spec.CropFraction, tt.crop)
			}
			view := s.Spec.View(env.Data.Items[3].Image)
			again := viewSubject(s).Spec.View(view)
			if view.Width != s.Spec.Width || view.Height != s.Spec.Height {
				t.Fatalf("view %dx%d, model %dx%d", view.Width, view.Height, s.Spec.Width, s.Spec.Height)
			}
			for i := range view.Pix {
				if view.Pix[i] != again.Pix[i] {
					t.Fatalf("pixel %d: %d through the view subject, %d before", i, again.Pix[i], view.Pix[i])
				}
			}
			if tt.crop > 0 && equalPix(s.Spec.View(view), view) {
				t.Errorf("the model's own spec crops the view again without changing it: the test cannot tell")
			}
		})
	}
}

func equalPix(a, b *imaging.Image) bool {
	if len(a.Pix) != len(b.Pix) {
		return false
	}
	for i := range a.Pix {
		if a.Pix[i] != b.Pix[i] {
			return false
		}
	}
	return true
}

// TestAdversarialSkips: no attacks configured is a skip, not a pass.
func TestAdversarialSkips(t *testing.T) {
	env := testEnv(t, "mnist_cnn.onnx", "", "mnist", advConfig(func(ra *config.RobustAdversarial) { ra.Attacks = nil }))
	_, err := RobustAdversarial{}.Run(context.Background(), env)
	var skip *SkipError
	if !errors.As(err, &skip) || !strings.Contains(skip.Reason, "no attacks") {
		t.Errorf("err %v, want a skip naming the missing attacks", err)
	}
}

// BenchmarkAdversarialSquare100 attacks 100 MNIST images with Square at L-inf 0.3 through the
// check's own path (view, oracle, ForwardFloat, 8-bit verification) and reports the wall time
// against the time spent inside ONNX Runtime on the same forward passes: the attack's overhead.
func BenchmarkAdversarialSquare100(b *testing.B) {
	benchAdversarial(b, AttackSquare, func(ra *config.RobustAdversarial) { ra.Epsilon, ra.PInit = 0.3, 0.8 })
}

// BenchmarkAdversarialHopSkipJump100 does the same for HopSkipJump with no L2 budget, which
// spends the whole query budget on every image.
func BenchmarkAdversarialHopSkipJump100(b *testing.B) {
	benchAdversarial(b, AttackHopSkipJump, func(ra *config.RobustAdversarial) { ra.EpsilonL2 = math.Inf(1) })
}

// BenchmarkAdversarialHopSkipJumpModel attacks 20 images (2 per digit) with HopSkipJump at
// 2,388 queries each, one thread, as scripts/compare-art-hsj runs cvgate, on the model
// CVGATE_BENCH_MODEL names (an [N,1,28,28] classifier, e.g. the LeNet-5 that script trains in
// /tmp/cvgate-art-hsj/lenet5.onnx); CVGATE_BENCH_BATCH sets runtime.batch_size. Run with GOMAXPROCS=1 and read cpu-us/query: the CPU one query
// costs on the check's whole path, to set against ONNX Runtime's own (onnx.BenchmarkRunBatch).
func BenchmarkAdversarialHopSkipJumpModel(b *testing.B) {
	model := os.Getenv("CVGATE_BENCH_MODEL")
	if model == "" {
		b.Skip("CVGATE_BENCH_MODEL is not set")
	}
	cfg := advConfig(func(ra *config.RobustAdversarial) {
		ra.Sample, ra.MaxQueries, ra.Attacks = 20, 2388, []string{AttackHopSkipJump}
		ra.EpsilonL2 = math.Inf(1)
	})
	cfg.Runtime.Threads = 1
	if v := os.Getenv("CVGATE_BENCH_BATCH"); v != "" {
		// runtime.batch_size, to compare batch sizes
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("CVGATE_BENCH_BATCH: %v", err)
		}
		cfg.Runtime.BatchSize = n
	}
	model, err := filepath.Abs(model)
	if err != nil {
		b.Fatal(err)
	}
	benchEnv(b, testEnv(b, model, "", "mnist", cfg), AttackHopSkipJump)
}

func benchAdversarial(b *testing.B, name string, set func(ra *config.RobustAdversarial)) {
	env := testEnv(b, "mnist_cnn.onnx", "", "mnist", advConfig(func(ra *config.RobustAdversarial) {
		ra.Sample, ra.MaxQueries, ra.Attacks = 100, 300, []string{name}
		set(ra)
	}))
	benchEnv(b, env, name)
}

// benchEnv runs attack name of env's robust.adversarial config b.N times and reports wall time,
// ONNX Runtime's time and queries.
func benchEnv(b *testing.B, env *Env, name string) {
	env.Export = nil
	ctx := context.Background()
	if _, _, err := env.Clean(ctx); err != nil {
		b.Fatal(err)
	}
	st := env.Candidate.Model.Stats()
	ortStart, samplesStart := st.Duration(), st.Samples()
	var res *report.Result
	start, cpu0 := time.Now(), processCPU(b)
	for b.Loop() {
		var err error
		if res, err = (RobustAdversarial{}).Run(ctx, env); err != nil {
			b.Fatal(err)
		}
	}
	wall, cpu := time.Since(start), processCPU(b)-cpu0
	ort := st.Duration() - ortStart
	samples := st.Samples() - samplesStart
	n := float64(b.N)
	b.ReportMetric(float64(wall.Microseconds())/1e3/n, "wall-ms/op")
	// CPU time, which a busy shared machine disturbs far less than wall time: run with
	// GOMAXPROCS=1 and runtime.threads 1 to compare it with another tool's one thread.
	b.ReportMetric(float64(cpu.Microseconds())/1e3/n, "cpu-ms/op")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/res.Metrics[name+"_total_queries"]/n, "cpu-us/query")
	b.ReportMetric(float64(ort.Microseconds())/1e3/n, "ort-ms/op")
	b.ReportMetric(wall.Seconds()/ort.Seconds(), "wall/ort")
	b.ReportMetric(res.Metrics[name+"_total_queries"], "queries/op")
	b.ReportMetric(float64(samples)/n, "forward/op")
	b.ReportMetric(res.Metrics[name+"_total_queries"]*n/wall.Seconds(), "queries/s")
	b.ReportMetric(float64(samples)/ort.Seconds(), "ort-samples/s")
	b.ReportMetric(res.Metrics[name+"_success_rate"], "success")
	b.ReportMetric(res.Metrics[name+"_median_queries"], "median-queries")
}

// processCPU is the CPU time the process has used, all threads together.
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
