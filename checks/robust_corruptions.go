package checks

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/perturb"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/report"
)

// RobustCorruptions measures accuracy and prediction consistency under the ImageNet-C corruptions
// (Hendrycks & Dietterich, ICLR 2019) at several severities, the corruption error relative to the
// baseline (CE per corruption, mCE their mean, and the relative CE that subtracts each model's
// clean error), names the most damaging corruptions and the augmentations that would help most.
//
// It gates on two numbers: the mean relative drop, 1 - (mean accuracy over every corruption and
// severity) / (clean accuracy), and with a baseline the mCE. Both are estimated on a sample that
// grows in looks (see corruptionSweep) until the verdict is settled, the sample cap is reached or
// the time budget would be exceeded.
type RobustCorruptions struct{}

// ID implements Check.
func (RobustCorruptions) ID() string { return IDRobustCorruptions }

// Title implements Check.
func (RobustCorruptions) Title() string { return "Common corruptions (ImageNet-C)" }

// Common implements Toggled.
func (RobustCorruptions) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.RobustCorruptions.Common, true
}

// The sequential design. Each look evaluates every corruption and severity ("cell") on the same
// prefix of a stratified image order, so that an image's results pair across cells and across the
// two models; the next look doubles the prefix. The verdict is settled when the interval of each
// gated statistic lies entirely on one side of its threshold: more images would then only narrow
// an interval that already decides. Peeking at up to L looks inflates the chance of a false
// verdict, so every look uses a Bonferroni level 1 - alpha/L (99.2% for the default 6 looks):
// conservative, simple to explain, and needing no assumptions about how looks correlate.
const (
	// firstLook is the images per cell at the first look: 57 cells x 50 images keeps the first
	// look of a MobileNetV2-class model on a 2-core runner near a minute, and the mean over 57
	// cells already has a small spread (each image contributes the average of 57 outcomes).
	firstLook = 50
	// minCellImages is the floor the time budget cannot push the sample below: under it the
	// intervals are too wide to say anything, and the report says the budget was overrun.
	minCellImages = 32
	// corruptionAlpha is the overall error rate of a settled verdict.
	corruptionAlpha = 0.05
	// corruptionResamples is the bootstrap size of each interval.
	corruptionResamples = 2000
	// minFailImages is the smallest sample per cell on which the sweep may fail a model: below
	// it, intervals over few errors do not hold their level.
	minFailImages = 100
	// recommendMinDrop is the accuracy drop (absolute) below which no augmentation is named.
	recommendMinDrop = 0.02
)

// Run implements Check.
func (RobustCorruptions) Run(ctx context.Context, env *Env) (*report.Result, error) {
	if env.decoded() {
		return taskCorruptions(ctx, env)
	}
	if err := env.labelled(); err != nil {
		return nil, err
	}
	cfg := env.Config.Thresholds.RobustCorruptions
	names, severities, err := corruptionGrid(cfg)
	if err != nil {
		return nil, err
	}
	cand, _, err := env.Clean(ctx)
	if err != nil {
		return nil, err
	}
	order := sampleOrder(env.itemLabels(), true, env.Config.Seed)
	if len(order) == 0 {
		return nil, Skip("no labelled image to corrupt")
	}
	if env.Baseline == nil && cand.Accuracy(env.Data) == 0 {
		// Every drop is relative to clean accuracy; with none and no baseline to compare errors
		// with, the sweep could only say "undefined", so it is not run.
		return nil, Skip("the model classifies no clean image correctly, so a drop under corruption is undefined (and there is no baseline to compare errors with)")
	}
	sw, err := newCorruptionSweep(ctx, env, names, severities, order, cfg)
	if err != nil {
		return nil, err
	}
	if err := sw.run(ctx); err != nil {
		return nil, err
	}
	return sw.result()
}

// corruptionGrid validates the configured corruptions and severities and returns them in
// canonical order (severities ascending, without repeats).
func corruptionGrid(cfg config.RobustCorruptions) ([]string, []int, error) {
	names := perturb.Names()
	if len(cfg.Corruptions) > 0 {
		var picked []string
		for _, n := range names {
			if slices.Contains(cfg.Corruptions, n) {
				picked = append(picked, n)
			}
		}
		for _, n := range cfg.Corruptions {
			if perturb.Group(n) == "" {
				return nil, nil, fmt.Errorf("thresholds.robust.corruptions.corruptions: unknown corruption %q (valid: %s)", n, strings.Join(names, ", "))
			}
		}
		names = picked
	}
	var sevs []int
	for _, s := range cfg.Severities {
		if s < 1 || s > perturb.Severities {
			return nil, nil, fmt.Errorf("thresholds.robust.corruptions.severities: %d is outside 1..%d", s, perturb.Severities)
		}
		if !slices.Contains(sevs, s) {
			sevs = append(sevs, s)
		}
	}
	sort.Ints(sevs)
	if len(sevs) == 0 {
		return nil, nil, fmt.Errorf("thresholds.robust.corruptions.severities: no severity to run")
	}
	return names, sevs, nil
}

// corruptionCell is one corruption at one severity: each model's top-1 class and confidence on
// the images of the sample, in sample order.
type corruptionCell struct {
	name     string
	severity int
	top      [2][]int32
	conf     [2][]float32
}

// look is one interim analysis of the sweep.
type look struct {
	n     int
	level float64
	drop  stats.Interval // candidate's mean relative drop
	mce   stats.Interval // candidate vs baseline; NaN estimate without a baseline
	// dropLikely and mceLikely are the one-sided 80% lower bounds: a warning needs the quantity
	// to be probably (p < 0.2) beyond its threshold, not merely estimated beyond it.
	dropLikely, mceLikely float64
	// ratio is the candidate's errors over the baseline's, pooled over every corruption cell:
	// the gated comparison. mCE (a mean of per-corruption ratios, the ImageNet-C definition) is
	// reported too, but a mean of ratios of small error counts is biased upwards: two models that
	// differ only by their training seed show an mCE of 1.2-1.4 against each other on MNIST.
	ratio       stats.Interval
	ratioLikely float64
	settled     bool
}

// corruptionSweep runs the corruption cells look by look and keeps their outcomes.
type corruptionSweep struct {
	env              *Env
	cfg              config.RobustCorruptions
	names            []string
	configured, sevs []int // configured severities, and those run (the budget may drop some)
	order            []int // the stratified sample order (dataset items)
	nMax             int   // images per cell at most
	budget           time.Duration
	seed             uint64
	subjects         int
	labels           []int      // label per sample position
	clean            [2][]int32 // clean top-1 per model per sample position
	cells            []*corruptionCell
	n                int // images per cell so far
	plannedLooks     int
	looks            []look
	stopped          string // why sampling stopped, for the report
	overBudget       bool
	droppedForBudget []int // severities the budget left out
	wall, ort        time.Duration
	imageCells       int // image x cell evaluations done (each through every model)
	corr             *corruptor
	ortStats         []*onnx.Stats
	workers          int // goroutines corrupting and preprocessing
}

func newCorruptionSweep(ctx context.Context, env *Env, names []string, sevs []int, order []int, cfg config.RobustCorruptions) (*corruptionSweep, error) {
	cand, base, err := env.Clean(ctx)
	if err != nil {
		return nil, err
	}
	sw := &corruptionSweep{env: env, cfg: cfg, names: names, configured: sevs, sevs: sevs, order: order,
		seed: env.Config.Seed, subjects: len(env.Subjects()), corr: newCorruptor(env), workers: runtime.NumCPU(),
		budget: time.Duration(cfg.BudgetSeconds * float64(time.Second))}
	sw.nMax = len(order)
	if cfg.Sample > 0 {
		sw.nMax = min(cfg.Sample, len(order))
	}
	rowOf := make(map[int]int, cand.Rows())
	for r, i := range cand.Indices {
		rowOf[i] = r
	}
	sw.labels = make([]int, len(order))
	for p, i := range order {
		sw.labels[p] = env.Data.Items[i].Label
	}
	for si, pr := range []*Predictions{cand, base}[:sw.subjects] {
		sw.clean[si] = make([]int32, len(order))
		for p, i := range order {
			sw.clean[si][p] = pr.Top1[rowOf[i]]
		}
	}
	for _, s := range env.Subjects() {
		if st := s.Model.Stats(); st != nil && !slices.Contains(sw.ortStats, st) {
			sw.ortStats = append(sw.ortStats, st)
		}
	}
	sw.buildCells()
	return sw, nil
}

func (sw *corruptionSweep) buildCells() {
	sw.cells = sw.cells[:0]
	for _, name := range sw.names {
		for _, s := range sw.sevs {
			sw.cells = append(sw.cells, &corruptionCell{name: name, severity: s})
		}
	}
}

func (sw *corruptionSweep) ortTime() time.Duration {
	var d time.Duration
	for _, s := range sw.ortStats {
		d += s.Duration()
	}
	return d
}

// extend evaluates cells on sample positions [from, to), streaming the corrupted images of all
// the cells through every model in one pipeline (Env.stream).
func (sw *corruptionSweep) extend(ctx context.Context, cells []*corruptionCell, from, to int) error {
	if to <= from || len(cells) == 0 {
		return nil
	}
	start, ort0 := time.Now(), sw.ortTime()
	jobs := make([]*streamJob, len(cells))
	for k, c := range cells {
		jobs[k] = &streamJob{indices: sw.order[from:to], transform: sw.corr.transform(c.name, c.severity, sw.seed),
			record: corruptionRecord(c.name, c.severity, sw.seed)}
	}
	err := sw.env.stream(ctx, jobs, sw.workers)
	sw.wall += time.Since(start)
	sw.ort += sw.ortTime() - ort0
	if err != nil {
		if sw.corr.err != nil {
			return fmt.Errorf("corrupt images: %w", sw.corr.err)
		}
		return fmt.Errorf("predict corrupted images: %w", err)
	}
	for k, c := range cells {
		for si := range sw.subjects {
			c.top[si] = append(c.top[si][:from], jobs[k].top[si]...)
			c.conf[si] = append(c.conf[si][:from], jobs[k].conf[si]...)
		}
	}
	sw.imageCells += (to - from) * len(cells)
	return nil
}

// secondsPerImageCell is the measured wall time of one image through one cell (all models).
func (sw *corruptionSweep) secondsPerImageCell() float64 {
	if sw.imageCells == 0 {
		return 0
	}
	return sw.wall.Seconds() / float64(sw.imageCells)
}

// run evaluates looks until the verdict is settled, the sample is exhausted or the budget would
// be exceeded. Without a budget it runs one look over the whole sample.
func (sw *corruptionSweep) run(ctx context.Context) error {
	if sw.budget <= 0 || sw.env.Exhaustive() {
		sw.plannedLooks = 1
		if err := sw.extend(ctx, sw.cells, 0, sw.nMax); err != nil {
			return err
		}
		sw.n = sw.nMax
		lk := sw.analyseLook()
		sw.looks = append(sw.looks, lk)
		sw.stopped = "budget_seconds is 0, so every configured image ran at every configured severity in one look"
		return nil
	}
	n1 := min(firstLook, sw.nMax)
	// Probe: time one cell, then fit the first look into the budget (fewer images, then only
	// the middle severity) before paying for the other cells. The probe is the first corruption
	// at the middle severity, which every fitted design keeps, so its images are never wasted.
	probe := sw.cells[(len(sw.sevs)-1)/2]
	if err := sw.extend(ctx, []*corruptionCell{probe}, 0, n1); err != nil {
		return err
	}
	fit := fitFirstLook(n1, sw.sevs, len(sw.names), sw.secondsPerImageCell(), sw.budget.Seconds())
	sw.overBudget = fit.overBudget
	if len(fit.severities) != len(sw.sevs) {
		for _, s := range sw.sevs {
			if !slices.Contains(fit.severities, s) {
				sw.droppedForBudget = append(sw.droppedForBudget, s)
			}
		}
		sw.sevs = fit.severities
		sw.buildCells()
		sw.cells[0] = probe // the same corruption and severity
	}
	n1 = fit.n
	var todo []*corruptionCell
	for _, c := range sw.cells {
		if len(c.top[0]) >= n1 {
			for si := range sw.subjects {
				c.top[si], c.conf[si] = c.top[si][:n1], c.conf[si][:n1]
			}
			continue
		}
		todo = append(todo, c)
	}
	if err := sw.extend(ctx, todo, 0, n1); err != nil {
		return err
	}
	sw.n = n1
	sw.plannedLooks = plannedLooks(n1, sw.nMax)
	for {
		lk := sw.analyseLook()
		sw.looks = append(sw.looks, lk)
		if lk.settled {
			sw.stopped = fmt.Sprintf("the verdict was settled at look %d of at most %d (%d images per cell): every gated interval lies on one side of its threshold", len(sw.looks), sw.plannedLooks, sw.n)
			return nil
		}
		if sw.n >= sw.nMax {
			if sw.nMax == len(sw.order) {
				sw.stopped = fmt.Sprintf("all %d labelled images were used", sw.nMax)
			} else {
				sw.stopped = fmt.Sprintf("the sample cap of %d images per cell (thresholds.robust.corruptions.sample) was reached", sw.nMax)
			}
			return nil
		}
		remaining := sw.budget.Seconds() - sw.wall.Seconds()
		next, cost, fits := nextLook(sw.n, sw.nMax, len(sw.cells), sw.secondsPerImageCell(), remaining)
		if !fits {
			sw.stopped = fmt.Sprintf("the next look (%d images per cell, about %.0f s) would not fit in the %.0f s left of budget_seconds", next, cost, max(remaining, 0))
			return nil
		}
		if err := sw.extend(ctx, sw.cells, sw.n, next); err != nil {
			return err
		}
		sw.n = next
	}
}

// nextLook is the doubling schedule: the next look's images per cell, what adding them would
// cost at the measured rate, and whether that fits in the remaining budget. Looks stay on the
// doubling grid rather than taking whatever fits, so that small differences in machine speed
// rarely change the sample (and the report) of an unsettled run.
func nextLook(n, nMax, cells int, secPerImageCell, remaining float64) (next int, cost float64, fits bool) {
	next = min(2*n, nMax)
	cost = secPerImageCell * float64((next-n)*cells)
	return next, cost, cost <= remaining
}

// plannedLooks is the number of looks the doubling schedule n1, 2*n1, ... nMax can take.
func plannedLooks(n1, nMax int) int {
	looks := 1
	for n := n1; n < nMax; n = min(2*n, nMax) {
		looks++
	}
	return looks
}

// firstLookFit is what fitFirstLook decides.
type firstLookFit struct {
	n          int   // images per cell at the first look
	severities []int // severities to run
	overBudget bool  // even the smallest design exceeds the budget
}

// fitFirstLook fits the first look into the budget given the measured cost of one image through
// one cell. It keeps every severity and shrinks the look down to minCellImages; if that is still
// too dear it keeps only the middle severity (the mean over a symmetric set stays close to the
// middle one, which dropping an end would bias); and if even that does not fit it runs
// minCellImages anyway and says the budget was overrun, since fewer images could not tell
// anything apart.
func fitFirstLook(n1 int, sevs []int, corruptions int, secPerImageCell, budget float64) firstLookFit {
	fits := func(n, cells int) bool { return secPerImageCell*float64(n*cells) <= budget }
	floor := min(minCellImages, n1)
	largest := func(cells int) int {
		if secPerImageCell <= 0 {
			return n1
		}
		return min(n1, int(budget/(secPerImageCell*float64(cells))))
	}
	if n := largest(len(sevs) * corruptions); n >= floor {
		return firstLookFit{n: n, severities: sevs}
	}
	mid := []int{sevs[(len(sevs)-1)/2]}
	if len(sevs) > 1 {
		if n := largest(corruptions); n >= floor {
			return firstLookFit{n: n, severities: mid}
		}
	}
	return firstLookFit{n: floor, severities: mid, overBudget: !fits(floor, corruptions)}
}

// corruptionTally holds the statistics of one look.
type corruptionTally struct {
	n         int
	cleanAcc  [2]float64
	acc, cons [2][]float64 // per cell
	drop      [2]float64   // mean relative drop
	meanAcc   [2]float64
	meanCons  [2]float64
	// Per corruption, in sw.names order.
	ce, rce    []float64    // candidate vs baseline (NaN where undefined)
	errRatio   [2][]float64 // mean error under the corruption over the clean error
	corrDrop   [2][]float64 // mean accuracy drop over severities (absolute)
	mce, rmce  float64
	mceVsClean [2]float64
	sevAcc     [2][]float64 // per severity in sw.sevs: mean accuracy over corruptions
	sevCons    [2][]float64
	ceDefined  []bool
}

// perImage holds, per model and sample position, what the bootstrap resamples: clean
// correctness, the number of correct cells and, per corruption, the number of wrong severities.
type perImage struct {
	cleanOK [2][]bool
	okCells [2][]int
	wrong   [2][][]int // [model][corruption][position]
}

func (sw *corruptionSweep) outcomes(n int) perImage {
	var pi perImage
	for si := range sw.subjects {
		pi.cleanOK[si] = make([]bool, n)
		pi.okCells[si] = make([]int, n)
		pi.wrong[si] = make([][]int, len(sw.names))
		for c := range sw.names {
			pi.wrong[si][c] = make([]int, n)
		}
		for r := 0; r < n; r++ {
			pi.cleanOK[si][r] = int(sw.clean[si][r]) == sw.labels[r] && sw.clean[si][r] >= 0
		}
		for k, cell := range sw.cells {
			c := k / len(sw.sevs)
			for r := 0; r < n; r++ {
				if int(cell.top[si][r]) == sw.labels[r] && cell.top[si][r] >= 0 {
					pi.okCells[si][r]++
				} else {
					pi.wrong[si][c][r]++
				}
			}
		}
	}
	return pi
}

func (sw *corruptionSweep) tally(n int) *corruptionTally {
	t := &corruptionTally{n: n, ce: make([]float64, len(sw.names)), rce: make([]float64, len(sw.names)), ceDefined: make([]bool, len(sw.names))}
	nf := float64(n)
	for si := range sw.subjects {
		ok := 0
		for r := 0; r < n; r++ {
			if int(sw.clean[si][r]) == sw.labels[r] && sw.clean[si][r] >= 0 {
				ok++
			}
		}
		t.cleanAcc[si] = float64(ok) / nf
		t.acc[si] = make([]float64, len(sw.cells))
		t.cons[si] = make([]float64, len(sw.cells))
		for k, cell := range sw.cells {
			right, same := 0, 0
			for r := 0; r < n; r++ {
				if int(cell.top[si][r]) == sw.labels[r] && cell.top[si][r] >= 0 {
					right++
				}
				if cell.top[si][r] == sw.clean[si][r] && cell.top[si][r] >= 0 {
					same++
				}
			}
			t.acc[si][k], t.cons[si][k] = float64(right)/nf, float64(same)/nf
		}
		t.meanAcc[si], t.meanCons[si] = mean(t.acc[si]), mean(t.cons[si])
		t.drop[si] = math.NaN()
		if t.cleanAcc[si] > 0 {
			t.drop[si] = 1 - t.meanAcc[si]/t.cleanAcc[si]
		}
		t.errRatio[si] = make([]float64, len(sw.names))
		t.corrDrop[si] = make([]float64, len(sw.names))
		for c := range sw.names {
			accs := t.acc[si][c*len(sw.sevs) : (c+1)*len(sw.sevs)]
			t.corrDrop[si][c] = t.cleanAcc[si] - mean(accs)
			t.errRatio[si][c] = math.NaN()
			if cleanErr := 1 - t.cleanAcc[si]; cleanErr > 0 {
				t.errRatio[si][c] = (1 - mean(accs)) / cleanErr
			}
		}
		t.mceVsClean[si] = meanDefined(t.errRatio[si])
		t.sevAcc[si] = make([]float64, len(sw.sevs))
		t.sevCons[si] = make([]float64, len(sw.sevs))
		for j := range sw.sevs {
			var a, b []float64
			for c := range sw.names {
				a = append(a, t.acc[si][c*len(sw.sevs)+j])
				b = append(b, t.cons[si][c*len(sw.sevs)+j])
			}
			t.sevAcc[si][j], t.sevCons[si][j] = mean(a), mean(b)
		}
	}
	t.mce, t.rmce = math.NaN(), math.NaN()
	if sw.subjects == 2 {
		for c := range sw.names {
			var ec, eb, rc, rb float64
			for j := range sw.sevs {
				k := c*len(sw.sevs) + j
				ec += 1 - t.acc[0][k]
				eb += 1 - t.acc[1][k]
				rc += (1 - t.acc[0][k]) - (1 - t.cleanAcc[0])
				rb += (1 - t.acc[1][k]) - (1 - t.cleanAcc[1])
			}
			t.ce[c], t.rce[c] = math.NaN(), math.NaN()
			if eb > 0 {
				t.ce[c], t.ceDefined[c] = ec/eb, true
			}
			// The relative CE is undefined when corruption does not raise the baseline's error.
			if rb > 1e-12 {
				t.rce[c] = rc / rb
			}
		}
		t.mce, t.rmce = meanDefined(t.ce), meanDefined(t.rce)
	}
	return t
}

// analyseLook computes the intervals of the gated statistics at the current sample size and
// decides whether the verdict is settled. The intervals are percentile bootstraps over images,
// paired: a resampled image brings its clean outcome and its outcome in every cell, for both
// models, so the correlation between cells and models is kept.
func (sw *corruptionSweep) analyseLook() look {
	n := sw.n
	lk := look{n: n, level: 1 - corruptionAlpha/float64(sw.plannedLooks)}
	pi := sw.outcomes(n)
	t := sw.tally(n)
	cells := float64(len(sw.cells))
	dropStat := func(idx []int) float64 {
		clean, ok := 0, 0
		for _, r := range idx {
			if pi.cleanOK[0][r] {
				clean++
			}
			ok += pi.okCells[0][r]
		}
		if clean == 0 {
			return 1 // no clean accuracy left: everything was lost
		}
		return 1 - float64(ok)/cells/float64(clean)
	}
	seed := sw.seed ^ uint64(len(sw.looks)+1)*0x5851f42d4c957f2d
	lk.drop = stats.Interval{Estimate: t.drop[0], Lo: math.NaN(), Hi: math.NaN(), Level: lk.level}
	if !math.IsNaN(t.drop[0]) {
		if iv, err := stats.BootstrapIndices(n, dropStat, stats.BootstrapOptions{Resamples: corruptionResamples, Level: lk.level, Seed: seed}); err == nil {
			lk.drop = iv
		}
		lk.dropLikely = math.NaN()
		if iv, err := stats.BootstrapIndices(n, dropStat, stats.BootstrapOptions{Resamples: corruptionResamples, Level: 0.6, Seed: seed}); err == nil {
			lk.dropLikely = iv.Lo
		}
	}
	lk.mce = stats.Interval{Estimate: t.mce, Lo: math.NaN(), Hi: math.NaN(), Level: lk.level}
	if sw.subjects == 2 && !math.IsNaN(t.mce) {
		mceStat := func(idx []int) float64 {
			var sum float64
			defined := 0
			for c := range sw.names {
				if !t.ceDefined[c] {
					continue
				}
				num, den := 0, 0
				for _, r := range idx {
					num += pi.wrong[0][c][r]
					den += pi.wrong[1][c][r]
				}
				// Half a count on both sides (the Haldane-Anscombe correction) keeps a resample
				// in which the baseline makes few or no errors on a corruption from an infinite
				// or wildly inflated ratio: with few baseline errors, the plain ratio's bootstrap
				// interval does not hold its level (seen on seed-only retrains).
				sum += (float64(num) + 0.5) / (float64(den) + 0.5)
				defined++
			}
			return sum / float64(defined)
		}
		if iv, err := stats.BootstrapIndices(n, mceStat, stats.BootstrapOptions{Resamples: corruptionResamples, Level: lk.level, Seed: seed + 1}); err == nil {
			lk.mce = iv
		}
		lk.mceLikely = math.NaN()
		if iv, err := stats.BootstrapIndices(n, mceStat, stats.BootstrapOptions{Resamples: corruptionResamples, Level: 0.6, Seed: seed + 1}); err == nil {
			lk.mceLikely = iv.Lo
		}
	}
	lk.ratio = stats.Interval{Estimate: math.NaN(), Lo: math.NaN(), Hi: math.NaN(), Level: lk.level}
	lk.ratioLikely = math.NaN()
	if sw.subjects == 2 {
		ratioStat := func(idx []int) float64 {
			num, den := 0, 0
			for c := range sw.names {
				for _, r := range idx {
					num += pi.wrong[0][c][r]
					den += pi.wrong[1][c][r]
				}
			}
			return (float64(num) + 0.5) / (float64(den) + 0.5)
		}
		all := make([]int, n)
		for r := range all {
			all[r] = r
		}
		if iv, err := stats.BootstrapIndices(n, ratioStat, stats.BootstrapOptions{Resamples: corruptionResamples, Level: lk.level, Seed: seed + 2}); err == nil {
			lk.ratio = iv
			lk.ratio.Estimate = ratioStat(all)
		}
		if iv, err := stats.BootstrapIndices(n, ratioStat, stats.BootstrapOptions{Resamples: corruptionResamples, Level: 0.6, Seed: seed + 2}); err == nil {
			lk.ratioLikely = iv.Lo
		}
	}
	// A fail needs enough images for the interval to hold its level: with fewer than
	// minFailImages per cell (unless that is every image there is) a look can settle a pass, but
	// not a fail.
	canFail := n >= min(minFailImages, sw.nMax)
	dropSettled := math.IsNaN(lk.drop.Lo) || (canFail && lk.drop.Lo > sw.cfg.MaxMeanDrop) || lk.drop.Hi <= sw.cfg.MaxMeanDrop
	dropFails := canFail && !math.IsNaN(lk.drop.Lo) && lk.drop.Lo > sw.cfg.MaxMeanDrop
	mceSettled, mceFails := true, false
	if sw.subjects == 2 && !math.IsNaN(lk.ratio.Lo) {
		mceFails = canFail && lk.ratio.Lo > sw.cfg.MaxMCE
		mceSettled = mceFails || lk.ratio.Hi <= sw.cfg.MaxMCE
	}
	lk.settled = dropFails || mceFails || (dropSettled && mceSettled)
	return lk
}

func mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func meanDefined(x []float64) float64 {
	var s float64
	n := 0
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			s += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}

// result turns the last look into the check's result.
func (sw *corruptionSweep) result() (*report.Result, error) {
	lk := sw.looks[len(sw.looks)-1]
	t := sw.tally(sw.n)
	cfg := sw.cfg
	hasBase := sw.subjects == 2
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{}}

	var problems, warnings []string
	switch {
	case !math.IsNaN(lk.drop.Lo) && lk.drop.Lo > cfg.MaxMeanDrop && sw.n >= min(minFailImages, sw.nMax):
		problems = append(problems, fmt.Sprintf("mean relative drop %s [%s, %s] exceeds %s", pct(lk.drop.Estimate), pct(lk.drop.Lo), pct(lk.drop.Hi), pct(cfg.MaxMeanDrop)))
	case lk.drop.Estimate > cfg.MaxMeanDrop && !(lk.dropLikely <= cfg.MaxMeanDrop):
		warnings = append(warnings, fmt.Sprintf("mean relative drop %s exceeds %s, but its %s interval [%s, %s] does not settle it", pct(lk.drop.Estimate), pct(cfg.MaxMeanDrop), levelText(lk.level), pct(lk.drop.Lo), pct(lk.drop.Hi)))
	}
	if hasBase {
		switch {
		case !math.IsNaN(lk.ratio.Lo) && lk.ratio.Lo > cfg.MaxMCE && sw.n >= min(minFailImages, sw.nMax):
			problems = append(problems, fmt.Sprintf("corruption errors ×%s [%s, %s] the baseline's exceed max_mce %s (mCE %s)", f2(lk.ratio.Estimate), f2(lk.ratio.Lo), f2(lk.ratio.Hi), f2(cfg.MaxMCE), f2(lk.mce.Estimate)))
		case lk.ratio.Estimate > cfg.MaxMCE && !(lk.ratioLikely <= cfg.MaxMCE):
			warnings = append(warnings, fmt.Sprintf("corruption errors ×%s the baseline's exceed max_mce %s, but the %s interval [%s, %s] does not settle it (mCE %s)", f2(lk.ratio.Estimate), f2(cfg.MaxMCE), levelText(lk.level), f2(lk.ratio.Lo), f2(lk.ratio.Hi), f2(lk.mce.Estimate)))
		}
	}
	res.Threshold = "mean relative drop <= " + pct(cfg.MaxMeanDrop)
	if hasBase {
		res.Threshold += ", corruption errors <= " + f2(cfg.MaxMCE) + "x the baseline's"
	}

	worst := sw.worstCorruptions(t, 3)
	var worstText []string
	for _, c := range worst {
		worstText = append(worstText, fmt.Sprintf("%s %s", sw.names[c], ppInt(-t.corrDrop[0][c])))
	}
	// On a sample the clean accuracy is that sample's, not perf.metrics' on every image: say so
	// where the number is, so that the two are not read against each other.
	clean := "clean"
	if sw.n < len(sw.order) {
		clean = fmt.Sprintf("clean on a %d-image sample (of %d)", sw.n, len(sw.order))
	}
	summary := fmt.Sprintf("accuracy %s %s → %s corrupted, mean relative drop %s [%s, %s]",
		pct(t.cleanAcc[0]), clean, pct(t.meanAcc[0]), pct(lk.drop.Estimate), pct(lk.drop.Lo), pct(lk.drop.Hi))
	if hasBase {
		summary += fmt.Sprintf(", mCE %s (corruptions matched to %s)", f2(t.mce), perturb.Reference)
	}
	if len(worstText) > 0 {
		summary += " · worst: " + strings.Join(worstText, ", ")
	}
	summary += fmt.Sprintf(" (%d corruptions × %d severities × %d images)", len(sw.names), len(sw.sevs), sw.n)
	if !lk.settled && len(problems) == 0 && len(warnings) == 0 {
		summary += "; close to a threshold, not settled within the budget"
	}
	res.Summary = summary
	switch {
	case len(problems) > 0:
		res.Status = report.StatusFail
		res.Summary = strings.Join(problems, "; ") + " · " + summary
	case len(warnings) > 0:
		res.Status = report.StatusWarn
		res.Summary = strings.Join(warnings, "; ") + " · " + summary
	}
	if hasBase {
		d := t.drop[0] - t.drop[1]
		res.VsBaseline = fmt.Sprintf("mCE %s (as %s), drop %s vs %s %s", f2(t.mce), perturb.Reference, pct(t.drop[0]), pct(t.drop[1]), arrow(d, false))
	}

	sw.fillMetrics(res, t, lk)
	res.Details = append(res.Details,
		report.Section{Title: "Recommendation", Text: sw.recommendation(t)},
		report.Section{Title: "Accuracy vs severity", Chart: sw.chart(t)},
		report.Section{Title: "Per corruption", Text: sw.groupText(t), Table: sw.table(t)},
		report.Section{Title: "Sample and budget", Text: sw.budgetText(lk)},
	)
	sw.exportFailures(res)
	return res, nil
}

// levelText writes an interval's level with at most two decimals: "95%", "99.17%" (an
// alpha-spending level of 0.991666... is not worth sixteen digits).
func levelText(level float64) string {
	s := strconv.FormatFloat(100*level, 'f', 2, 64)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".") + "%"
}

func f2(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", x)
}

// ppInt formats a difference of shares in whole percentage points, with its sign.
func ppInt(d float64) string {
	if math.IsNaN(d) {
		return "n/a"
	}
	return fmt.Sprintf("%+.0f pp", 100*d)
}

// worstCorruptions returns up to k corruptions by the candidate's mean accuracy drop, largest
// first, keeping only drops of at least recommendMinDrop.
func (sw *corruptionSweep) worstCorruptions(t *corruptionTally, k int) []int {
	idx := make([]int, len(sw.names))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return t.corrDrop[0][idx[a]] > t.corrDrop[0][idx[b]] })
	var out []int
	for _, c := range idx {
		if len(out) == k || t.corrDrop[0][c] < recommendMinDrop {
			break
		}
		out = append(out, c)
	}
	return out
}

// recommendation names the augmentations that would most help training: the corruptions with
// the largest accuracy drops, with their drops at the highest severity run.
func (sw *corruptionSweep) recommendation(t *corruptionTally) string {
	worst := sw.worstCorruptions(t, 3)
	if len(worst) == 0 {
		return fmt.Sprintf("No corruption costs %.0f pp or more of accuracy on average; no augmentation is called for.", 100*recommendMinDrop)
	}
	top := len(sw.sevs) - 1
	var names, drops []string
	for _, c := range worst {
		names = append(names, sw.names[c])
		d := t.acc[0][c*len(sw.sevs)+top] - t.cleanAcc[0]
		drops = append(drops, strings.TrimSuffix(ppInt(d), " pp"))
	}
	return fmt.Sprintf("Training with %s augmentation would address the largest drops (%s pp at severity %d).",
		englishList(names), strings.Join(drops, ", "), sw.sevs[top])
}

func englishList(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

func (sw *corruptionSweep) chart(t *corruptionTally) *report.Chart {
	ch := &report.Chart{Title: fmt.Sprintf("Mean accuracy over %d corruptions", len(sw.names)), XLabel: "severity", YLabel: "accuracy", YMin: 0, YMax: 1}
	ch.X = []string{"clean"}
	for _, s := range sw.sevs {
		ch.X = append(ch.X, strconv.Itoa(s))
	}
	roles := []string{"candidate", "baseline"}
	for si := range sw.subjects {
		vals := []float64{round4(t.cleanAcc[si])}
		for j := range sw.sevs {
			vals = append(vals, round4(t.sevAcc[si][j]))
		}
		ch.Series = append(ch.Series, report.Series{Name: roles[si], Values: vals})
	}
	return ch
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

func (sw *corruptionSweep) groupText(t *corruptionTally) string {
	var parts []string
	for _, g := range corruptionGroups(sw.names) {
		parts = append(parts, fmt.Sprintf("%s %s", g.name, pp(-mean(pick(t.corrDrop[0], g.members)))))
	}
	text := "Mean accuracy change by group (candidate): " + strings.Join(parts, ", ") + "."
	if sw.subjects == 2 {
		text += " Cells show candidate / baseline accuracy; CE is the candidate's summed error over the baseline's (below 1: more robust), relative CE the same after subtracting each model's clean error."
	} else {
		text += " Error × clean is the mean error under the corruption over the clean error."
	}
	return text
}

type corruptionGroup struct {
	name    string
	members []int
}

// corruptionGroups groups corruption indices by perturb.Group, in order of first appearance.
func corruptionGroups(names []string) []corruptionGroup {
	var out []corruptionGroup
	pos := map[string]int{}
	for i, n := range names {
		g := perturb.Group(n)
		k, ok := pos[g]
		if !ok {
			k = len(out)
			pos[g] = k
			out = append(out, corruptionGroup{name: g})
		}
		out[k].members = append(out[k].members, i)
	}
	return out
}

func pick(x []float64, idx []int) []float64 {
	out := make([]float64, len(idx))
	for i, j := range idx {
		out[i] = x[j]
	}
	return out
}

func (sw *corruptionSweep) table(t *corruptionTally) *report.Table {
	cols := []string{"Corruption", "Group"}
	for _, s := range sw.sevs {
		cols = append(cols, "s"+strconv.Itoa(s))
	}
	cols = append(cols, "Drop", "Consistency")
	if sw.subjects == 2 {
		cols = append(cols, "CE", "Relative CE")
	} else {
		cols = append(cols, "Error × clean")
	}
	tb := tableOf(cols...)
	for c, name := range sw.names {
		row := []string{name, perturb.Group(name)}
		var cons []float64
		for j := range sw.sevs {
			k := c*len(sw.sevs) + j
			cell := pct(t.acc[0][k])
			if sw.subjects == 2 {
				cell += " / " + pct(t.acc[1][k])
			}
			row = append(row, cell)
			cons = append(cons, t.cons[0][k])
		}
		row = append(row, pp(-t.corrDrop[0][c]), pct(mean(cons)))
		if sw.subjects == 2 {
			row = append(row, f2(t.ce[c]), f2(t.rce[c]))
		} else {
			row = append(row, f2(t.errRatio[0][c]))
		}
		addRow(tb, row...)
	}
	mr := []string{"**mean**", ""}
	for j := range sw.sevs {
		cell := pct(t.sevAcc[0][j])
		if sw.subjects == 2 {
			cell += " / " + pct(t.sevAcc[1][j])
		}
		mr = append(mr, cell)
	}
	mr = append(mr, pp(t.meanAcc[0]-t.cleanAcc[0]), pct(t.meanCons[0]))
	if sw.subjects == 2 {
		mr = append(mr, f2(t.mce), f2(t.rmce))
	} else {
		mr = append(mr, f2(t.mceVsClean[0]))
	}
	addRow(tb, mr...)
	return tb
}

// budgetText says what was run, why sampling stopped and what the budget left out.
func (sw *corruptionSweep) budgetText(lk look) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d images per corruption and severity (of %d labelled), stratified by class; %d corruptions × %d severities = %d cells, each through %d model(s).",
		sw.n, len(sw.order), len(sw.names), len(sw.sevs), len(sw.cells), sw.subjects)
	fmt.Fprintf(&b, " Sampling stopped because %s.", sw.stopped)
	fmt.Fprintf(&b, " Intervals are %s paired bootstraps over images (%d looks planned, Bonferroni).", levelText(lk.level), sw.plannedLooks)
	passes := sw.imageCells * sw.subjects
	if sw.budget > 0 {
		fmt.Fprintf(&b, " Time: %.1f s of the %.0f s budget for %d forward passes.", sw.wall.Seconds(), sw.budget.Seconds(), passes)
	} else {
		fmt.Fprintf(&b, " Time: %.1f s for %d forward passes.", sw.wall.Seconds(), passes)
	}
	if sw.overBudget {
		fmt.Fprintf(&b, " The budget could not hold even %d images at one severity; they ran anyway. Raise budget_seconds or list fewer corruptions.", minCellImages)
	}
	var left []string
	var notRun []string
	for s := 1; s <= perturb.Severities; s++ {
		if !slices.Contains(sw.sevs, s) {
			notRun = append(notRun, strconv.Itoa(s))
		}
	}
	if len(notRun) > 0 {
		what := "severities " + englishList(notRun)
		if len(notRun) == 1 {
			what = "severity " + notRun[0]
		}
		if len(sw.droppedForBudget) > 0 {
			what += " (some dropped to fit the budget)"
		}
		left = append(left, what+" not run")
	}
	if missing := len(perturb.Names()) - len(sw.names); missing > 0 {
		left = append(left, fmt.Sprintf("%d of the 19 corruptions not configured", missing))
	}
	if sw.n < len(sw.order) {
		left = append(left, fmt.Sprintf("%d of %d images per cell", sw.n, len(sw.order)))
	}
	if len(left) > 0 {
		full := perturb.Severities * len(perturb.Names()) * len(sw.order)
		fmt.Fprintf(&b, " Left out: %s; the full profile (`--profile full`) runs every severity on every image: %d forward passes, about %s at this run's rate.",
			strings.Join(left, "; "), full*sw.subjects, roughDuration(sw.secondsPerImageCell()*float64(full)))
	}
	return b.String()
}

// roughDuration says how long something takes to a person: seconds, minutes or hours.
func roughDuration(sec float64) string {
	switch {
	case sec < 90:
		return fmt.Sprintf("%.0f s", math.Max(sec, 1))
	case sec < 90*60:
		return fmt.Sprintf("%.0f min", sec/60)
	}
	return fmt.Sprintf("%.1f h", sec/3600)
}

func (sw *corruptionSweep) fillMetrics(res *report.Result, t *corruptionTally, lk look) {
	m := res.Metrics
	m["images_per_cell"] = float64(sw.n)
	m["images_available"] = float64(len(sw.order))
	m["cells"] = float64(len(sw.cells))
	m["looks"] = float64(len(sw.looks))
	m["interval_level"] = round(lk.level)
	m["settled"] = 0
	if lk.settled {
		m["settled"] = 1
	}
	m["mean_relative_drop_lo"] = finite(lk.drop.Lo)
	m["mean_relative_drop_hi"] = finite(lk.drop.Hi)
	if sw.subjects == 2 {
		m["mce"] = finite(t.mce)
		m["mce_lo"] = finite(lk.mce.Lo)
		m["mce_hi"] = finite(lk.mce.Hi)
		m["relative_mce"] = finite(t.rmce)
		m["error_ratio"] = finite(lk.ratio.Estimate)
		m["error_ratio_lo"] = finite(lk.ratio.Lo)
		m["error_ratio_hi"] = finite(lk.ratio.Hi)
	}
	for si := range sw.subjects {
		mm := m
		if si == 1 {
			res.BaselineMetrics = map[string]float64{}
			mm = res.BaselineMetrics
		}
		mm["clean_accuracy"] = finite(t.cleanAcc[si])
		mm["mean_accuracy"] = finite(t.meanAcc[si])
		mm["mean_relative_drop"] = finite(t.drop[si])
		mm["mean_consistency"] = finite(t.meanCons[si])
		mm["mce_vs_clean"] = finite(t.mceVsClean[si])
		for j, s := range sw.sevs {
			mm[fmt.Sprintf("severity_%d.accuracy", s)] = finite(t.sevAcc[si][j])
			mm[fmt.Sprintf("severity_%d.consistency", s)] = finite(t.sevCons[si][j])
		}
		for c, name := range sw.names {
			mm[name+".drop"] = finite(t.corrDrop[si][c])
			for j, s := range sw.sevs {
				k := c*len(sw.sevs) + j
				mm[fmt.Sprintf("%s.s%d.accuracy", name, s)] = finite(t.acc[si][k])
				mm[fmt.Sprintf("%s.s%d.consistency", name, s)] = finite(t.cons[si][k])
			}
			if si == 0 && sw.subjects == 2 {
				mm[name+".ce"] = finite(t.ce[c])
				mm[name+".relative_ce"] = finite(t.rce[c])
			}
		}
		for _, g := range corruptionGroups(sw.names) {
			mm["group."+g.name+".drop"] = finite(mean(pick(t.corrDrop[si], g.members)))
		}
	}
}

// exportFailures writes the candidate's corruption failures: images it got right clean and wrong
// once corrupted. Within a corruption the worst case is the lowest severity that broke it, then
// the most confident wrong answer; the export takes every corruption's worst case before any
// corruption's second (the severity key is minus the rank, plus half the confidence to order
// equal ranks), so that one corruption cannot fill the contact sheet.
func (sw *corruptionSweep) exportFailures(res *report.Result) {
	env := sw.env
	type found struct {
		cell *corruptionCell
		pos  int
	}
	var pending []pendingCase
	total := 0
	for c := range sw.names {
		var fs []found
		for j := range sw.sevs {
			cell := sw.cells[c*len(sw.sevs)+j]
			for r := 0; r < sw.n; r++ {
				if int(sw.clean[0][r]) != sw.labels[r] || int(cell.top[0][r]) == sw.labels[r] {
					continue
				}
				fs = append(fs, found{cell, r})
			}
		}
		total += len(fs)
		sort.SliceStable(fs, func(a, b int) bool {
			if fs[a].cell.severity != fs[b].cell.severity {
				return fs[a].cell.severity < fs[b].cell.severity
			}
			return conf32(fs[a].cell.conf[0][fs[a].pos]) > conf32(fs[b].cell.conf[0][fs[b].pos])
		})
		for rank, f := range fs {
			if rank >= max(env.exportLimit(), 1) {
				break
			}
			item := sw.order[f.pos]
			it := env.Data.Items[item]
			conf := conf32(f.cell.conf[0][f.pos])
			cell := f.cell
			pending = append(pending, pendingCase{
				c: failures.Case{Severity: -float64(rank) + 0.5*conf, Confidence: conf, Path: it.Path,
					Label: env.className(it.Label), Predicted: env.className(int(cell.top[0][f.pos])),
					Perturbation: fmt.Sprintf("%s s%d", cell.name, cell.severity)},
				build: func() *imaging.Image {
					img, err := sw.corr.apply(it.Image, cell.name, cell.severity, sw.env.itemSeed(sw.seed, item))
					if err != nil {
						return nil
					}
					return img
				},
			})
		}
	}
	env.exportPending(res, IDRobustCorruptions, pending, total)
}

func conf32(v float32) float64 {
	if v != v {
		return 0
	}
	return float64(v)
}
