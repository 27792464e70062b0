package checks

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/task"
	"github.com/cvgate/cvgate/report"
)

// Attackable is implemented by tasks whose predictions a black-box attack can push towards a
// wrong answer: Loss is what the attacker lowers (for a detector, the scores it gives the
// ground-truth objects), Fooled whether the attack succeeded (every object vanished).
type Attackable interface {
	// Targets is how many things the attack has to make vanish in the image (0: nothing to attack).
	Targets(t task.Truth) int
	AttackLoss(p task.Prediction, t task.Truth) float64
	Fooled(p task.Prediction, t task.Truth) bool
}

// vanishBudget bounds the wall time of the attack on decoded tasks, whose forward passes (a 640 px
// detector) cost far more than a classifier's.
const vanishBudget = 120 * time.Second

// taskAdversarial is robust.adversarial for tasks that implement Attackable: a query-counted,
// score-based random search in the spirit of Square (Andriushchenko et al. 2020) under an L-inf
// budget, run on 8-bit images so that every adversarial image it reports is a file an attacker
// could deliver. Each step proposes a square of +-epsilon per channel on every image still
// standing, queries the model once per image (one batch for all), and keeps the proposal where
// it lowers the loss.
func taskAdversarial(ctx context.Context, env *Env) (*report.Result, error) {
	at, ok := env.Task.(Attackable)
	if !ok {
		return nil, Skip("no black-box attack is defined for %s models yet", env.Task.Kind())
	}
	if err := env.annotated(); err != nil {
		return nil, err
	}
	cfg := env.Config.Thresholds.RobustAdversarial
	if _, _, err := env.Clean(ctx); err != nil {
		return nil, err
	}
	// Images with something to make vanish, in the seeded order.
	var sample []int
	for _, i := range env.taskSample(0) {
		if at.Targets(env.Data.Items[i].Truth) > 0 {
			sample = append(sample, i)
		}
		if cfg.Sample > 0 && len(sample) >= cfg.Sample {
			break
		}
	}
	if len(sample) == 0 {
		return nil, Skip("no image has a ground-truth object to attack")
	}
	eps := int(math.Round(cfg.Epsilon * 255))
	if eps < 1 {
		return nil, Skip("epsilon %g is below one 8-bit step: no deliverable perturbation", cfg.Epsilon)
	}
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{"images": float64(len(sample)), "epsilon_255": float64(eps)}}
	tb := tableOf("model", "images", "already fooled", "fooled by the attack", "robust share", "median queries to success", "queries")
	robust := make([]float64, len(env.Subjects()))
	var pending []pendingCase
	var left []string
	for si, s := range env.Subjects() {
		out, err := vanish(ctx, env, s, at, sample, eps, cfg.MaxQueries, cfg.PInit, env.Config.Seed)
		if err != nil {
			return nil, fmt.Errorf("attack %s: %w", s.Role, err)
		}
		n := len(sample)
		robust[si] = float64(n-out.fooled) / float64(n)
		m := res.Metrics
		if si == 1 {
			res.BaselineMetrics = map[string]float64{}
			m = res.BaselineMetrics
		}
		m["robust_share"] = robust[si]
		m["fooled_clean"] = float64(out.fooledClean)
		m["fooled"] = float64(out.fooled)
		m["queries"] = float64(out.queries)
		med := medianInt(out.toSuccess)
		if !math.IsNaN(med) {
			m["median_queries_to_success"] = med
		}
		addRow(tb, s.Role, fmt.Sprint(n), fmt.Sprint(out.fooledClean), fmt.Sprint(out.fooled-out.fooledClean), pct(robust[si]), numOrNA(med), fmt.Sprint(out.queries))
		if out.stopped != "" {
			left = append(left, s.Role+": "+out.stopped)
		}
		if si == 0 {
			for k, img := range out.adv {
				if img == nil {
					continue
				}
				item, adv, pred := sample[k], img, out.preds[k]
				c := failures.Case{Path: env.Data.Items[item].Path, Label: "ground truth", Predicted: "all objects vanished",
					Perturbation: fmt.Sprintf("vanish eps %d/255", eps), Severity: 1, Original: env.Data.Items[item].Image}
				pending = append(pending, pendingCase{c: c, build: func() *imaging.Image {
					if r, ok := env.Task.(Renderer); ok {
						return r.Render(adv, env.Data.Items[item].Truth, pred)
					}
					return adv
				}})
			}
		}
	}
	res.Summary = fmt.Sprintf("%s of %d images keep at least one object under a vanishing attack (L-inf %d/255, up to %d queries per image)",
		pct(robust[0]), len(sample), eps, cfg.MaxQueries)
	res.Threshold = "report only"
	var problems []string
	if v := cfg.MinRobustAccuracy; v != nil {
		res.Threshold = "robust share >= " + pct(*v)
		if robust[0] < *v {
			problems = append(problems, fmt.Sprintf("only %s of images keep an object under attack, below min_robust_accuracy %s", pct(robust[0]), pct(*v)))
		}
	}
	if len(robust) == 2 {
		d := robust[0] - robust[1]
		res.VsBaseline = fmt.Sprintf("robust share %s %s (baseline %s)", pp(d), arrow(d, true), pct(robust[1]))
		if v := cfg.MaxDrop; v != nil && -d > *v {
			problems = append(problems, fmt.Sprintf("robust share dropped %s vs the baseline, over max_drop %s", pp(-d), pct(*v)))
		}
	}
	if len(problems) > 0 {
		res.Status = report.StatusWarn
		if cfg.Fail {
			res.Status = report.StatusFail
		}
		res.Summary = strings.Join(problems, "; ")
	}
	text := fmt.Sprintf("A vanishing attack lowers the scores the model gives the ground-truth objects (detections of the object's class overlapping it at IoU >= 0.5); it succeeds when no object is found at the operating score. It perturbs 8-bit pixels by at most %d/255 per channel, so every success is an image file an attacker could deliver.", eps)
	if len(left) > 0 {
		text += " The time budget stopped: " + strings.Join(left, "; ") + "."
	}
	res.Details = append(res.Details, report.Section{Title: "Vanishing attack", Text: text, Table: tb})
	env.exportTaskPending(res, IDRobustAdversarial, pending)
	return res, nil
}

type vanishOutcome struct {
	fooled, fooledClean int
	queries             int64
	toSuccess           []int
	adv                 []*imaging.Image // successful adversarial images (nil where the attack failed)
	preds               []task.Prediction
	stopped             string
}

// vanish runs the random search on every sample image at once: one batch of proposals per step.
func vanish(ctx context.Context, env *Env, s *Subject, at Attackable, sample []int, eps, maxQueries int, pInit float64, seed uint64) (*vanishOutcome, error) {
	n := len(sample)
	out := &vanishOutcome{adv: make([]*imaging.Image, n), preds: make([]task.Prediction, n)}
	rng := rand.New(rand.NewPCG(seed, 0x76616e697368)) // "vanish"
	cur := make([]*imaging.Image, n)
	loss := make([]float64, n)
	done := make([]bool, n)
	start := time.Now()
	truth := func(k int) task.Truth { return env.Data.Items[sample[k]].Truth }
	// Start from vertical stripes of +-eps (Square's initialisation), then the first query.
	for k, i := range sample {
		src := env.Data.Items[i].Image
		img := src.Clone()
		for x := 0; x < img.Width; x++ {
			for c := 0; c < img.Channels; c++ {
				d := eps
				if rng.IntN(2) == 0 {
					d = -eps
				}
				for y := 0; y < img.Height; y++ {
					o := (y*img.Width+x)*img.Channels + c
					img.Pix[o] = clamp8(int(src.Pix[o]) + d)
				}
			}
		}
		cur[k] = img
	}
	// The clean images first: those already fooled need no attack.
	clean := make([]*imaging.Image, n)
	for k, i := range sample {
		clean[k] = env.Data.Items[i].Image
	}
	preds, err := env.ForwardPredictions(ctx, s, clean)
	if err != nil {
		return nil, err
	}
	out.queries += int64(n)
	for k, p := range preds {
		if at.Fooled(p, truth(k)) {
			done[k], out.fooledClean, out.fooled = true, out.fooledClean+1, out.fooled+1
			out.toSuccess = append(out.toSuccess, 1)
		}
	}
	preds, err = env.ForwardPredictions(ctx, s, cur)
	if err != nil {
		return nil, err
	}
	out.queries += int64(n)
	for k, p := range preds {
		loss[k] = at.AttackLoss(p, truth(k))
		if !done[k] && at.Fooled(p, truth(k)) {
			done[k], out.fooled = true, out.fooled+1
			out.toSuccess = append(out.toSuccess, 2)
			out.adv[k], out.preds[k] = cur[k], p
		}
	}
	for q := 2; q < maxQueries; q++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if time.Since(start) > vanishBudget {
			out.stopped = fmt.Sprintf("after %d of %d queries per image (%s budget)", q, maxQueries, vanishBudget)
			break
		}
		var idx []int
		var props []*imaging.Image
		p := squareShare(pInit, q, maxQueries)
		for k := range sample {
			if done[k] {
				continue
			}
			img := cur[k].Clone()
			src := env.Data.Items[sample[k]].Image
			side := max(int(math.Round(math.Sqrt(p*float64(img.Width*img.Height)))), 1)
			side = min(side, img.Width, img.Height)
			x0, y0 := rng.IntN(img.Width-side+1), rng.IntN(img.Height-side+1)
			for c := 0; c < img.Channels; c++ {
				d := eps
				if rng.IntN(2) == 0 {
					d = -eps
				}
				for y := y0; y < y0+side; y++ {
					for x := x0; x < x0+side; x++ {
						o := (y*img.Width+x)*img.Channels + c
						img.Pix[o] = clamp8(int(src.Pix[o]) + d)
					}
				}
			}
			idx = append(idx, k)
			props = append(props, img)
		}
		if len(idx) == 0 {
			break
		}
		preds, err := env.ForwardPredictions(ctx, s, props)
		if err != nil {
			return nil, err
		}
		out.queries += int64(len(idx))
		for j, k := range idx {
			l := at.AttackLoss(preds[j], truth(k))
			if l < loss[k] {
				loss[k], cur[k] = l, props[j]
			}
			if at.Fooled(preds[j], truth(k)) {
				done[k], out.fooled = true, out.fooled+1
				out.toSuccess = append(out.toSuccess, q+1)
				out.adv[k], out.preds[k] = props[j], preds[j]
			}
		}
	}
	return out, nil
}

// squareShare is Square's schedule of the share of the image one square covers: halved at fixed
// fractions of the query budget (rescaled from the paper's 10,000-query schedule).
func squareShare(pInit float64, q, maxQueries int) float64 {
	if pInit <= 0 {
		pInit = 0.05
	}
	t := float64(q) * 10000 / float64(max(maxQueries, 1))
	for _, cut := range []float64{10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000} {
		if t > cut {
			pInit /= 2
		}
	}
	return pInit
}

func clamp8(v int) uint8 {
	return uint8(min(max(v, 0), 255))
}

func medianInt(x []int) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := append([]int(nil), x...)
	sort.Ints(s)
	if len(s)%2 == 1 {
		return float64(s[len(s)/2])
	}
	return float64(s[len(s)/2-1]+s[len(s)/2]) / 2
}

func numOrNA(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%g", v)
}
