package checks

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/internal/task"
)

// This file holds what the checks share for tasks other than classification (detection,
// segmentation): models whose outputs a task.Decoder reads and whose predictions a task scores.
// The checks are written against the task interfaces only: a new task plugs in without changing
// them. Classification keeps its own, richer paths (top-k, calibration, McNemar), whose numbers
// the reports have always carried.

// decoded reports whether the subjects' outputs are read by a task decoder.
func (e *Env) decoded() bool { return e.Task != nil && e.Candidate.Decoder != nil }

// evaluate scores a subject's predictions against the ground truth of the same images. The
// evaluation of a memoized pass is kept with it: the clean pass is scored once for every check.
func (e *Env) evaluate(p *Predictions) task.Evaluation {
	if v, ok := e.evals.Load(p); ok {
		return v.(task.Evaluation)
	}
	truths, sizes := e.truthsOf(p.Indices)
	var ev task.Evaluation
	if f, ok := e.Task.(FullEvaluator); ok {
		ev = f.EvaluateFull(p.Task, truths, sizes)
	} else {
		ev = e.Task.Evaluate(p.Task, truths, sizes)
	}
	v, _ := e.evals.LoadOrStore(p, ev)
	return v.(task.Evaluation)
}

// FullEvaluator is implemented by tasks whose evaluation of the clean pass computes more than
// the sweeps need (segmentation's boundary IoU and confusion matrix).
type FullEvaluator interface {
	EvaluateFull(preds []task.Prediction, truths []task.Truth, sizes [][2]int) task.Evaluation
}

// truthsOf returns the ground truth and image size of dataset items.
func (e *Env) truthsOf(items []int) ([]task.Truth, [][2]int) {
	truths := make([]task.Truth, len(items))
	sizes := make([][2]int, len(items))
	for r, i := range items {
		it := &e.Data.Items[i]
		truths[r] = it.Truth
		if it.Image != nil {
			sizes[r] = [2]int{it.Image.Width, it.Image.Height}
		}
	}
	return truths, sizes
}

// bootstrapOpts are the resampling options of a task check. Set-level metrics such as COCO mAP
// are re-aggregated on every resample, so the count is capped: 1,000 percentile resamples put the
// 95% endpoints within a few hundredths of the interval's width.
func bootstrapOpts(resamples int, seed uint64, alpha float64) stats.BootstrapOptions {
	if resamples <= 0 || resamples > 1000 {
		resamples = 1000
	}
	level := 0.95
	if alpha > 0 && alpha < 1 {
		level = 1 - alpha
	}
	return stats.BootstrapOptions{Resamples: resamples, Seed: seed, Level: level}
}

// scoreInterval is the headline metric over every image with its image-level bootstrap interval.
func scoreInterval(ev task.Evaluation, o stats.BootstrapOptions) (stats.Interval, error) {
	if ev.Len() == 0 {
		return stats.Interval{}, fmt.Errorf("no image to score")
	}
	// Time ten draws' worth of the statistic to size the bootstrap.
	idx := make([]int, ev.Len())
	for i := range idx {
		idx[i] = i % ev.Len()
	}
	started := time.Now()
	for k := 0; k < 3; k++ {
		ev.Score(idx)
	}
	o.Resamples = drawsFor(o.Resamples, time.Since(started)/3)
	return stats.BootstrapIndices(ev.Len(), ev.Score, o)
}

// pairedDeltas resamples images once per draw for both evaluations (a paired bootstrap) and
// returns the headline difference a - b with its interval, and per class the difference of the
// per-class metric with its interval and the one-sided bootstrap p-value of a drop larger than
// tolerance (the share of draws where the class did not drop that much, corrected so that it is
// never 0).
type pairedResult struct {
	diff     stats.Interval
	perClass []classDiff
	draws    int // bootstrap draws made (capped by bootstrapTime)
	// probBeyond is the share of draws in which the headline dropped by more than the tolerance:
	// the bootstrap's probability that the drop is beyond it.
	probBeyond float64
}

type classDiff struct {
	class       int
	a, b, delta float64
	lo, hi      float64
	tolerance   float64
	p           float64 // H0: drop <= tolerance
	pAdjusted   float64
	regression  bool
	changed     bool // significantly different from zero, but within tolerance
}

// classScorer is implemented by evaluations that compute the headline and the per-class values
// in one aggregation (COCO's accumulation gives both): a bootstrap draw then costs one pass.
type classScorer interface {
	ScoreWithClasses(rows []int) (float64, []float64)
}

func scoreWithClasses(e task.Evaluation, rows []int) (float64, []float64) {
	if c, ok := e.(classScorer); ok {
		return c.ScoreWithClasses(rows)
	}
	return e.Score(rows), e.PerClass(rows)
}

// bootstrapTime bounds the wall time of one bootstrap: set-level metrics such as COCO mAP are
// re-accumulated on every draw, which on thousands of images costs tens of milliseconds.
const bootstrapTime = 20 * time.Second

// drawsFor caps a bootstrap's draws so that they fit bootstrapTime at the measured cost of one
// draw, keeping at least 200 (a 95% percentile interval's endpoints then move by about a tenth
// of its width between seeds).
func drawsFor(want int, perDraw time.Duration) int {
	if perDraw <= 0 {
		return want
	}
	fit := int(bootstrapTime / perDraw)
	return min(want, max(fit, 200))
}

// classSupporter is implemented by evaluations that know how many ground-truth objects (or
// images) each class has: a class's tolerance is never finer than one of them.
type classSupporter interface {
	ClassSupport() []int
}

func pairedDeltas(a, b task.Evaluation, o stats.BootstrapOptions, tolerance, classTolerance float64) pairedResult {
	n := a.Len()
	rng := rand.New(rand.NewPCG(o.Seed, 0x7a5c))
	B := o.Resamples
	sa, pa := scoreWithClasses(a, nil)
	sb, pb := scoreWithClasses(b, nil)
	classes := len(pa)
	tol := make([]float64, classes)
	var support []int
	if cs, ok := a.(classSupporter); ok {
		support = cs.ClassSupport()
	}
	for c := range tol {
		tol[c] = classTolerance
		if c < len(support) && support[c] > 0 {
			tol[c] = math.Max(tol[c], 1/float64(support[c]))
		}
	}
	beyond := 0 // draws where the headline dropped by more than tolerance
	diffs := make([]float64, 0, B)
	perDraw := make([][]float64, classes)
	notDropped := make([]int, classes)
	notChanged := make([]int, classes)
	idx := make([]int, n)
	started := time.Now()
	for draw := 0; draw < B; draw++ {
		for k := range idx {
			idx[k] = rng.IntN(n)
		}
		ra, ca := scoreWithClasses(a, idx)
		rb, cb := scoreWithClasses(b, idx)
		diffs = append(diffs, ra-rb)
		if ra-rb < -tolerance {
			beyond++
		}
		for c := 0; c < classes && c < len(ca) && c < len(cb); c++ {
			d := ca[c] - cb[c]
			if math.IsNaN(d) {
				continue
			}
			perDraw[c] = append(perDraw[c], d)
			if d >= -tol[c] {
				notDropped[c]++
			}
			if (d >= 0) != (pa[c]-pb[c] >= 0) {
				notChanged[c]++
			}
		}
		if draw == 9 {
			B = drawsFor(B, time.Since(started)/10)
		}
	}
	res := pairedResult{diff: percentile(sa-sb, diffs, o.Level), draws: len(diffs), probBeyond: float64(beyond) / float64(max(len(diffs), 1))}
	for c := 0; c < classes; c++ {
		if math.IsNaN(pa[c]) || math.IsNaN(pb[c]) || len(perDraw[c]) == 0 {
			continue
		}
		iv := percentile(pa[c]-pb[c], perDraw[c], o.Level)
		m := float64(len(perDraw[c]))
		res.perClass = append(res.perClass, classDiff{class: c, a: pa[c], b: pb[c], delta: pa[c] - pb[c], lo: iv.Lo, hi: iv.Hi, tolerance: tol[c],
			p:       (float64(notDropped[c]) + 1) / (m + 1),
			changed: (float64(notChanged[c])+1)/(m+1) < (1-o.Level)/2})
	}
	return res
}

func percentile(estimate float64, draws []float64, level float64) stats.Interval {
	s := append([]float64(nil), draws...)
	sort.Float64s(s)
	q := func(p float64) float64 {
		if len(s) == 0 {
			return math.NaN()
		}
		pos := p * float64(len(s)-1)
		lo := int(math.Floor(pos))
		hi := min(lo+1, len(s)-1)
		return s[lo] + (pos-float64(lo))*(s[hi]-s[lo])
	}
	tail := (1 - level) / 2
	return stats.Interval{Estimate: estimate, Lo: q(tail), Hi: q(1 - tail), Level: level}
}

// holm adjusts the per-class p-values with Holm's step-down method and marks regressions.
func holm(ds []classDiff, alpha float64) {
	order := make([]int, len(ds))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return ds[order[i]].p < ds[order[j]].p })
	m := len(ds)
	running := 0.0
	for rank, i := range order {
		adj := math.Min(1, float64(m-rank)*ds[i].p)
		running = math.Max(running, adj)
		ds[i].pAdjusted = running
		ds[i].regression = running < alpha
	}
}

// Renderer is implemented by tasks that can draw their ground truth and predictions on an image
// (boxes, mask overlays) for failure exports.
type Renderer interface {
	Render(img *imaging.Image, truth task.Truth, pred task.Prediction) *imaging.Image
}

// taskCase builds a failure case of a decoded task: the image with truth and prediction drawn when
// the task can draw them.
func (e *Env) taskCase(item int, pred task.Prediction, ev task.Evaluation, row int, perturbation string, img *imaging.Image) failures.Case {
	it := &e.Data.Items[item]
	if img == nil {
		img = it.Image
	}
	if r, ok := e.Task.(Renderer); ok {
		if drawn := r.Render(img, it.Truth, pred); drawn != nil {
			img = drawn
		}
	}
	score := ev.ImageScore(row)
	label, short := "ground truth", ev.Describe(row)
	if sd, ok := ev.(shortDescriber); ok {
		label, short = sd.Short(row)
	}
	return failures.Case{Image: img, Path: it.Path, Label: label, Predicted: short,
		Confidence: score, Perturbation: perturbation, Severity: 1 - score, Note: ev.Describe(row)}
}

// shortDescriber is implemented by evaluations that can caption an image in a few words for a
// contact sheet: what the truth holds and what the prediction got.
type shortDescriber interface {
	Short(r int) (truth, pred string)
}

// worstRows returns up to n rows with the lowest image score (ties by path), skipping rows whose
// score is at least keepBelow.
func (e *Env) worstRows(ev task.Evaluation, items []int, n int, keepBelow float64) []int {
	var rows []int
	for r := 0; r < ev.Len(); r++ {
		if ev.ImageScore(r) < keepBelow {
			rows = append(rows, r)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		si, sj := ev.ImageScore(rows[i]), ev.ImageScore(rows[j])
		if si != sj {
			return si < sj
		}
		return e.Data.Items[items[rows[i]]].Path < e.Data.Items[items[rows[j]]].Path
	})
	if len(rows) > n {
		rows = rows[:n]
	}
	return rows
}

// headlineMetrics copies an evaluation's metrics with the headline's interval added.
func headlineMetrics(ev task.Evaluation, iv stats.Interval) map[string]float64 {
	m := ev.Metrics(nil)
	h := ev.Headline()
	m[h.Key] = iv.Estimate
	m[h.Key+"_ci_low"] = iv.Lo
	m[h.Key+"_ci_high"] = iv.Hi
	m["images"] = float64(ev.Len())
	return m
}

// ciText renders an interval of a metric, e.g. "0.512 [0.481, 0.540]".
func ciText(m task.Metric, iv stats.Interval) string {
	return fmt.Sprintf("%s [%s, %s]", m.Format(iv.Estimate), m.Format(iv.Lo), m.Format(iv.Hi))
}

// deltaCI renders a difference with its interval, e.g. "-0.021 [-0.035, -0.008]".
func deltaCI(m task.Metric, iv stats.Interval) string {
	return fmt.Sprintf("%s [%s, %s]", m.FormatDelta(iv.Estimate), m.FormatDelta(iv.Lo), m.FormatDelta(iv.Hi))
}

// classLabel names class c of the task.
func (e *Env) classLabel(c int) string {
	if names := e.Task.Classes(); c >= 0 && c < len(names) {
		return names[c]
	}
	return fmt.Sprint(c)
}

// annotated reports whether every image has ground truth, as the scored checks need.
func (e *Env) annotated() error {
	missing := 0
	for i := range e.Data.Items {
		if e.Data.Items[i].Truth == nil {
			missing++
		}
	}
	if missing > 0 {
		return Skip("%d of %d images have no ground truth", missing, len(e.Data.Items))
	}
	return nil
}

func allItems(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// Evaluation is the task's score of a memoized pass (cvgate compare ranks candidates by it).
func (e *Env) Evaluation(p *Predictions) task.Evaluation { return e.evaluate(p) }

// PairedTaskDifference is the paired image-level bootstrap of a.Score - b.Score over the same
// images, with its two-sided bootstrap p-value (twice the smaller share of draws on either side of
// zero, corrected so that it is never 0).
func PairedTaskDifference(a, b task.Evaluation, resamples int, seed uint64, alpha float64) (stats.Interval, float64) {
	o := bootstrapOpts(resamples, seed, alpha)
	pr := pairedDeltas(a, b, o, 0, 0)
	n := float64(pr.draws)
	// probBeyond at tolerance 0 is the share of draws with a < b.
	below := pr.probBeyond * n
	p := 2 * (math.Min(below, n-below) + 1) / (n + 1)
	return pr.diff, math.Min(p, 1)
}
