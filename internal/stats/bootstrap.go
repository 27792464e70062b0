package stats

import (
	"fmt"
	"math"
	"slices"
)

// DefaultResamples is the number of bootstrap resamples used when BootstrapOptions leaves it zero.
// The percentile endpoints of a 95% interval are stable to about a tenth of their width at 2,000.
const DefaultResamples = 2000

// BootstrapOptions configures a percentile bootstrap. The zero value means 2,000 resamples, a 95%
// interval and seed 0.
type BootstrapOptions struct {
	// Resamples is the number B of resamples; 0 means DefaultResamples.
	Resamples int
	// Level is the confidence level in (0,1); 0 means DefaultLevel.
	Level float64
	// Seed selects the random stream; equal seeds give equal intervals.
	Seed uint64
}

func (o BootstrapOptions) withDefaults() (BootstrapOptions, error) {
	if o.Resamples == 0 {
		o.Resamples = DefaultResamples
	}
	if o.Level == 0 {
		o.Level = DefaultLevel
	}
	if o.Resamples < 0 {
		return o, fmt.Errorf("bootstrap with %d resamples: %w", o.Resamples, ErrInvalidArgument)
	}
	return o, checkLevel(o.Level)
}

// percentileInterval sorts the bootstrap replicates in place and returns the percentile interval:
// the (1-level)/2 and (1+level)/2 quantiles (type 7, linear interpolation).
func percentileInterval(estimate float64, replicates []float64, level float64) Interval {
	slices.Sort(replicates)
	tail := (1 - level) / 2
	return Interval{
		Estimate: estimate,
		Lo:       quantileSorted(replicates, tail),
		Hi:       quantileSorted(replicates, 1-tail),
		Level:    level,
	}
}

// BootstrapProportion returns the percentile bootstrap interval of a proportion, successes out of
// n (for accuracy: correct images out of all images). Resampling n images with replacement makes
// the resampled success count Bin(n, successes/n), so each resample is a single exact binomial
// draw: the cost does not grow with n.
//
// Assumptions: images are independent. The percentile interval collapses to a point at 0 or n
// successes and under-covers for small n; WilsonInterval is the better choice there.
func BootstrapProportion(successes, n int, opts BootstrapOptions) (Interval, error) {
	if n <= 0 {
		return Interval{}, fmt.Errorf("bootstrap proportion over %d trials: %w", n, ErrEmpty)
	}
	if successes < 0 || successes > n {
		return Interval{}, fmt.Errorf("bootstrap proportion: %d successes out of %d: %w", successes, n, ErrInvalidArgument)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return Interval{}, err
	}
	r := newRand(opts.Seed)
	p := float64(successes) / float64(n)
	dist := newBinomialDist(n, p)
	replicates := make([]float64, opts.Resamples)
	for i := range replicates {
		replicates[i] = float64(dist.sample(r)) / float64(n)
	}
	return percentileInterval(p, replicates, opts.Level), nil
}

// BootstrapAccuracy is BootstrapProportion over a correctness vector (true = right).
func BootstrapAccuracy(correct []bool, opts BootstrapOptions) (Interval, error) {
	k := 0
	for _, c := range correct {
		if c {
			k++
		}
	}
	return BootstrapProportion(k, len(correct), opts)
}

// BootstrapPairedDifference returns the percentile bootstrap interval of accuracy(A) -
// accuracy(B) for two models scored on the same images, resampling images (pairs), not the two
// models separately, so the correlation between the models is kept.
//
// A resample of N pairs is a multinomial draw over the four cells of the table; only the two
// discordant cells change the difference, so each resample costs two exact binomial draws
// (AOnly ~ Bin(N, pA), then BOnly ~ Bin(N-AOnly, pB/(1-pA))), independent of N.
//
// Build t with NewPairedTable. Assumptions: pairs are independent.
func BootstrapPairedDifference(t PairedTable, opts BootstrapOptions) (Interval, error) {
	if err := t.validate(); err != nil {
		return Interval{}, err
	}
	n := t.N()
	if n == 0 {
		return Interval{}, fmt.Errorf("bootstrap paired difference over 0 pairs: %w", ErrEmpty)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return Interval{}, err
	}
	r := newRand(opts.Seed)
	nf := float64(n)
	aOnly := newBinomialDist(n, float64(t.AOnly)/nf)
	// P(B only | not A only), from integer counts so it is exact.
	pBGivenRest := 0.0
	if rest := n - t.AOnly; rest > 0 {
		pBGivenRest = float64(t.BOnly) / float64(rest)
	}
	replicates := make([]float64, opts.Resamples)
	for i := range replicates {
		a := aOnly.sample(r)
		b := binomial(r, n-a, pBGivenRest)
		replicates[i] = float64(a-b) / nf
	}
	return percentileInterval(t.Difference(), replicates, opts.Level), nil
}

// BootstrapIndices is the generic percentile bootstrap: stat is evaluated on the identity indices
// 0..n-1 for the estimate and on opts.Resamples resamples of n indices drawn with replacement.
//
// The idx slice passed to stat is reused between calls: stat must not keep it or modify it, and is
// called from the calling goroutine only. A NaN from stat is an error (a replicate without a
// value would silently shift the percentiles). Cost is O(B * (n + cost of stat)); when the
// statistic depends only on how many items fall in each of a few categories, BootstrapCounts is
// much faster.
func BootstrapIndices(n int, stat func(idx []int) float64, opts BootstrapOptions) (Interval, error) {
	if n <= 0 {
		return Interval{}, fmt.Errorf("bootstrap over %d items: %w", n, ErrEmpty)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return Interval{}, err
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	estimate := stat(idx)
	if math.IsNaN(estimate) {
		return Interval{}, fmt.Errorf("bootstrap: statistic is NaN on the full sample: %w", ErrInvalidArgument)
	}
	r := newRand(opts.Seed)
	replicates := make([]float64, opts.Resamples)
	for i := range replicates {
		for j := range idx {
			idx[j] = r.IntN(n)
		}
		v := stat(idx)
		if math.IsNaN(v) {
			return Interval{}, fmt.Errorf("bootstrap: statistic is NaN on resample %d: %w", i, ErrInvalidArgument)
		}
		replicates[i] = v
	}
	return percentileInterval(estimate, replicates, opts.Level), nil
}

// BootstrapCounts is the percentile bootstrap for statistics that depend only on category counts:
// counts[c] items fall in category c, and resampling all items with replacement gives a
// multinomial draw of the same total over the categories with probabilities counts[c]/total. Each
// resample costs at most one exact binomial draw per category (the lightest categories are filled
// by placing their few items one at a time when that is cheaper), not one draw per item.
//
// stat receives the observed counts for the estimate, then one resampled count vector per
// replicate (a reused buffer: do not keep or modify it). A NaN from stat is an error.
func BootstrapCounts(counts []int, stat func(counts []int) float64, opts BootstrapOptions) (Interval, error) {
	total := 0
	for c, v := range counts {
		if v < 0 {
			return Interval{}, fmt.Errorf("bootstrap counts: category %d has count %d: %w", c, v, ErrInvalidArgument)
		}
		total += v
	}
	if total == 0 {
		return Interval{}, fmt.Errorf("bootstrap counts over 0 items: %w", ErrEmpty)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return Interval{}, err
	}
	observed := slices.Clone(counts)
	estimate := stat(observed)
	if math.IsNaN(estimate) {
		return Interval{}, fmt.Errorf("bootstrap: statistic is NaN on the observed counts: %w", ErrInvalidArgument)
	}
	// Visit the heaviest categories first: a few binomials settle most items, and what is left for
	// the long tail of light categories is small enough to place item by item.
	order := make([]int, len(counts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return counts[b] - counts[a] })
	weights := make([]int, len(counts))
	for i, c := range order {
		weights[i] = counts[c]
	}
	sampler := newMultinomial(weights)
	drawn := make([]int, len(counts))
	resampled := make([]int, len(counts))
	r := newRand(opts.Seed)
	replicates := make([]float64, opts.Resamples)
	for i := range replicates {
		sampler.draw(r, drawn)
		for j, c := range order {
			resampled[c] = drawn[j]
		}
		v := stat(resampled)
		if math.IsNaN(v) {
			return Interval{}, fmt.Errorf("bootstrap: statistic is NaN on resample %d: %w", i, ErrInvalidArgument)
		}
		replicates[i] = v
	}
	return percentileInterval(estimate, replicates, opts.Level), nil
}

// BootstrapPairedMacroF1 returns the percentile bootstrap interval of macroF1(A) - macroF1(B)
// for two models' predictions predA and predB on the same images with true labels truth (labels in
// [0, numClasses)). Images are resampled as (truth, predA, predB) triples; since macro-F1 depends
// only on how many images fall in each distinct triple, this runs BootstrapCounts over the triples
// that occur, at a cost per resample proportional to their number, not to the number of images.
// Macro-F1 follows Confusion.MacroF1 (classes absent from both truth and prediction in a
// resample are left out of the average).
func BootstrapPairedMacroF1(truth, predA, predB []int, numClasses int, opts BootstrapOptions) (Interval, error) {
	if len(truth) != len(predA) || len(truth) != len(predB) {
		return Interval{}, fmt.Errorf("bootstrap paired macro-F1 over %d labels, %d and %d predictions: %w",
			len(truth), len(predA), len(predB), ErrLengthMismatch)
	}
	if len(truth) == 0 {
		return Interval{}, fmt.Errorf("bootstrap paired macro-F1: %w", ErrEmpty)
	}
	for _, labels := range [][]int{truth, predA, predB} {
		if err := checkLabels(labels, numClasses); err != nil {
			return Interval{}, err
		}
	}
	type triple struct{ t, a, b int }
	cellOf := make(map[triple]int)
	var cells []triple
	var counts []int
	for i, t := range truth {
		key := triple{t, predA[i], predB[i]}
		c, ok := cellOf[key]
		if !ok {
			c = len(cells)
			cellOf[key] = c
			cells = append(cells, key)
			counts = append(counts, 0)
		}
		counts[c]++
	}
	// Per-class true positives, support and predicted counts for A and B: O(cells + classes) per
	// resample, never a full confusion matrix (numClasses can be 1,000).
	k := numClasses
	buf := make([]int, 5*k)
	tpA, tpB, support, predictedA, predictedB := buf[:k], buf[k:2*k], buf[2*k:3*k], buf[3*k:4*k], buf[4*k:]
	stat := func(counts []int) float64 {
		clear(buf)
		for c, cell := range cells {
			n := counts[c]
			if n == 0 {
				continue
			}
			support[cell.t] += n
			predictedA[cell.a] += n
			predictedB[cell.b] += n
			if cell.a == cell.t {
				tpA[cell.t] += n
			}
			if cell.b == cell.t {
				tpB[cell.t] += n
			}
		}
		return macroF1(tpA, support, predictedA) - macroF1(tpB, support, predictedB)
	}
	return BootstrapCounts(counts, stat, opts)
}
