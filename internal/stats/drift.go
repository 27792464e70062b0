package stats

import (
	"fmt"
	"math"
	"slices"
)

// KSResult is the outcome of a two-sample Kolmogorov-Smirnov test.
type KSResult struct {
	// D is the largest vertical distance between the two empirical CDFs, in [0,1].
	D float64
	// PValue is the asymptotic two-sided p-value (see KolmogorovSmirnov).
	PValue float64
}

// KolmogorovSmirnov runs the two-sample Kolmogorov-Smirnov test of H0: x and y come from the same
// continuous distribution.
//
// D is exact, ties included: both empirical CDFs are stepped past every copy of a value before
// they are compared, so tied values never create a spurious gap. The p-value is the asymptotic
// Kolmogorov tail P(K > lambda) at lambda = (sqrt(ne) + 0.12 + 0.11/sqrt(ne)) D with
// ne = nx ny / (nx + ny), Stephens' small-sample correction, which is good to a few percent of p
// once ne >= 4. With ties (discrete data such as image sizes) the test is conservative: the
// p-value is too large, never too small, so a drift alarm remains trustworthy.
func KolmogorovSmirnov(x, y []float64) (KSResult, error) {
	if err := checkSample("ks test reference", x); err != nil {
		return KSResult{}, err
	}
	if err := checkSample("ks test sample", y); err != nil {
		return KSResult{}, err
	}
	xs, ys := sortedCopy(x), sortedCopy(y)
	n, m := int64(len(xs)), int64(len(ys))
	var i, j int64
	var widest int64 // max |i m - j n|: D times n m, kept in integers so D is exact
	for i < n && j < m {
		v := min(xs[i], ys[j])
		for i < n && xs[i] == v {
			i++
		}
		for j < m && ys[j] == v {
			j++
		}
		gap := i*m - j*n
		if gap < 0 {
			gap = -gap
		}
		widest = max(widest, gap)
	}
	// After one sample runs out the other's CDF only climbs towards 1, so the gap only shrinks.
	d := float64(widest) / (float64(n) * float64(m))
	ne := float64(n) * float64(m) / float64(n+m)
	sqrtNe := math.Sqrt(ne)
	lambda := (sqrtNe + 0.12 + 0.11/sqrtNe) * d
	return KSResult{D: d, PValue: KolmogorovSurvival(lambda)}, nil
}

// Wasserstein1 returns the 1-Wasserstein (earth mover's) distance between the empirical
// distributions of x and y: the area between their CDFs, integral of |Fx(t) - Fy(t)| dt. It is in
// the units of the data (for equal sizes it is the mean absolute difference of the sorted
// samples), so thresholds on it are not scale-free; see NormalizedWasserstein1.
func Wasserstein1(x, y []float64) (float64, error) {
	if err := checkSample("wasserstein distance reference", x); err != nil {
		return 0, err
	}
	if err := checkSample("wasserstein distance sample", y); err != nil {
		return 0, err
	}
	return wasserstein1Sorted(sortedCopy(x), sortedCopy(y)), nil
}

func wasserstein1Sorted(xs, ys []float64) float64 {
	n, m := int64(len(xs)), int64(len(ys))
	var i, j int64
	total := 0.0
	prev := min(xs[0], ys[0])
	// Between consecutive pooled values both CDFs are flat, so the area is |i/n - j/m| times the
	// width; |i m - j n| / (n m) keeps the height exact.
	for i < n || j < m {
		var v float64
		switch {
		case i == n:
			v = ys[j]
		case j == m:
			v = xs[i]
		default:
			v = min(xs[i], ys[j])
		}
		gap := i*m - j*n
		if gap < 0 {
			gap = -gap
		}
		total += float64(gap) * (v - prev)
		for i < n && xs[i] == v {
			i++
		}
		for j < m && ys[j] == v {
			j++
		}
		prev = v
	}
	return total / (float64(n) * float64(m))
}

// Spread names the scale used to make a distance scale-free.
type Spread int

const (
	// SpreadIQR divides by the reference's interquartile range (type-7 quartiles), which a few
	// extreme reference values cannot inflate. If the IQR is 0 (more than half the reference
	// shares one value) it falls back to the standard deviation.
	SpreadIQR Spread = iota
	// SpreadStdDev divides by the reference's sample standard deviation.
	SpreadStdDev
)

// String returns "iqr" or "stddev".
func (s Spread) String() string {
	switch s {
	case SpreadIQR:
		return "iqr"
	case SpreadStdDev:
		return "stddev"
	}
	return fmt.Sprintf("Spread(%d)", int(s))
}

// NormalizedWasserstein1 returns Wasserstein1(ref, cur) divided by the spread of ref, so that one
// threshold works for every image property whatever its units: 0.1 means the current sample's
// mass moved on average a tenth of the reference's typical spread. Only the reference's spread is
// used, so a current sample that collapses or explodes is measured against the normal scale.
// When the reference has no spread at all (constant), the distance has no scale-free meaning and
// an error wrapping ErrInvalidArgument is returned; the caller decides (any change is then total).
func NormalizedWasserstein1(ref, cur []float64, by Spread) (float64, error) {
	if err := checkSample("normalized wasserstein distance reference", ref); err != nil {
		return 0, err
	}
	if err := checkSample("normalized wasserstein distance sample", cur); err != nil {
		return 0, err
	}
	rs := sortedCopy(ref)
	var scale float64
	switch by {
	case SpreadIQR:
		scale = quantileSorted(rs, 0.75) - quantileSorted(rs, 0.25)
		if scale == 0 && len(rs) > 1 {
			scale = stdDev(rs)
		}
	case SpreadStdDev:
		if len(rs) > 1 {
			scale = stdDev(rs)
		}
	default:
		return 0, fmt.Errorf("normalized wasserstein distance: unknown spread %v: %w", by, ErrInvalidArgument)
	}
	if scale == 0 {
		return 0, fmt.Errorf("normalized wasserstein distance: reference of %d values has no spread: %w", len(rs), ErrInvalidArgument)
	}
	return wasserstein1Sorted(rs, sortedCopy(cur)) / scale, nil
}

// DefaultPSIBins and DefaultPSIEpsilon are the PSI settings used when PSIOptions leaves them zero.
const (
	DefaultPSIBins    = 10
	DefaultPSIEpsilon = 1e-4
)

// PSIOptions configures PSI.
type PSIOptions struct {
	// Bins is the number of reference-quantile bins; 0 means DefaultPSIBins.
	Bins int
	// Epsilon is the floor for a bin's share, so an empty bin contributes a large but finite term;
	// 0 means DefaultPSIEpsilon.
	Epsilon float64
}

// PSIResult is a population stability index with the bins behind it.
type PSIResult struct {
	// PSI = sum over bins of (cur - ref) ln(cur / ref), >= 0. A common reading: < 0.1 stable,
	// 0.1-0.25 moderate shift, > 0.25 major shift.
	PSI float64
	// Edges are the interior bin boundaries (len(Edges)+1 bins): bin i is (Edges[i-1], Edges[i]],
	// with the first bin open below and the last open above.
	Edges []float64
	// Reference and Current are the shares of each sample per bin, before the Epsilon floor.
	Reference, Current []float64
}

// PSI returns the population stability index of cur against ref, with bins at the reference's
// quantiles 1/B, ..., (B-1)/B (type 7), so each bin holds about 1/B of the reference. Where ties
// in the reference would leave a bin without reference values, that edge is dropped, so discrete
// data gets fewer, honest bins and every bin has reference mass (the floor then only guards
// bins the current sample leaves empty). Each share is floored at Epsilon before the log (shares are not
// renormalised afterwards). PSI is symmetric in form but the bins come from ref, so swapping the
// arguments changes the value.
func PSI(ref, cur []float64, opts PSIOptions) (PSIResult, error) {
	if opts.Bins == 0 {
		opts.Bins = DefaultPSIBins
	}
	if opts.Epsilon == 0 {
		opts.Epsilon = DefaultPSIEpsilon
	}
	if opts.Bins < 2 {
		return PSIResult{}, fmt.Errorf("psi with %d bins: %w", opts.Bins, ErrInvalidArgument)
	}
	if math.IsNaN(opts.Epsilon) || opts.Epsilon < 0 || opts.Epsilon >= 1 {
		return PSIResult{}, fmt.Errorf("psi with epsilon %v: %w", opts.Epsilon, ErrInvalidArgument)
	}
	if err := checkSample("psi reference", ref); err != nil {
		return PSIResult{}, err
	}
	if err := checkSample("psi sample", cur); err != nil {
		return PSIResult{}, err
	}
	rs := sortedCopy(ref)
	edges := make([]float64, 0, opts.Bins-1)
	for b := 1; b < opts.Bins; b++ {
		e := quantileSorted(rs, float64(b)/float64(opts.Bins))
		lower := math.Inf(-1)
		if len(edges) > 0 {
			lower = edges[len(edges)-1]
		}
		// Keep e only if the bin (lower, e] holds a reference value. Tied quantiles, and
		// quantiles interpolated between tied values ((0, 0.2] in 0,0,0,0,0,0,0,0,1,2), would
		// open bins that are empty by construction.
		if i := upperBound(rs, lower); i < len(rs) && rs[i] <= e {
			edges = append(edges, e)
		}
	}
	// The last bin (edge, +Inf) is empty when the top values tie at the maximum.
	if len(edges) > 0 && edges[len(edges)-1] >= rs[len(rs)-1] {
		edges = edges[:len(edges)-1]
	}
	res := PSIResult{
		Edges:     edges,
		Reference: binShares(rs, edges),
		Current:   binShares(cur, edges),
	}
	for i, r := range res.Reference {
		r = max(r, opts.Epsilon)
		c := max(res.Current[i], opts.Epsilon)
		res.PSI += (c - r) * math.Log(c/r)
	}
	return res, nil
}

// binShares returns the share of x in each of the len(edges)+1 right-closed bins.
func binShares(x, edges []float64) []float64 {
	shares := make([]float64, len(edges)+1)
	for _, v := range x {
		i, _ := slices.BinarySearch(edges, v) // first edge >= v: v's bin is (edges[i-1], edges[i]]
		shares[i]++
	}
	for i := range shares {
		shares[i] /= float64(len(x))
	}
	return shares
}

// ChiSquareResult is Pearson's chi-square test of independence on a contingency table.
type ChiSquareResult struct {
	// Statistic is sum (observed - expected)^2 / expected over the cells.
	Statistic float64
	// DF = (rows - 1)(columns - 1) after dropping empty columns.
	DF int
	// PValue is P(chi2(DF) > Statistic); 1 when DF is 0.
	PValue float64
	// CramersV = sqrt(Statistic / (N (min(rows, columns) - 1))), the effect size in [0,1]: 0 no
	// association, 1 the row fully determines the column. Unlike the p-value it does not grow
	// with N, so it is the number to threshold on large samples.
	CramersV float64
	// MinExpected is the smallest expected count. The chi-square approximation behind PValue is
	// usually trusted when it is >= 5; below that, read PValue as rough.
	MinExpected float64
}

// ChiSquareIndependence runs Pearson's chi-square test of independence on an r x c table of
// counts, table[row][column]: for drift, row 0 the reference's counts per category (predicted
// class, label, ...) and row 1 the current sample's. Columns that are empty in every row are
// dropped (a category neither sample has says nothing). Every row must have at least one count.
// If fewer than two columns remain, all samples sit in one category: the result is Statistic 0,
// DF 0, PValue 1, CramersV 0.
func ChiSquareIndependence(table [][]int) (ChiSquareResult, error) {
	if len(table) < 2 {
		return ChiSquareResult{}, fmt.Errorf("chi-square test on %d rows (need 2 or more): %w", len(table), ErrInvalidArgument)
	}
	cols := len(table[0])
	rowTotals := make([]float64, len(table))
	colTotals := make([]float64, cols)
	n := 0.0
	for r, row := range table {
		if len(row) != cols {
			return ChiSquareResult{}, fmt.Errorf("chi-square test: row %d has %d columns, row 0 has %d: %w", r, len(row), cols, ErrLengthMismatch)
		}
		for c, v := range row {
			if v < 0 {
				return ChiSquareResult{}, fmt.Errorf("chi-square test: count %d at row %d column %d: %w", v, r, c, ErrInvalidArgument)
			}
			rowTotals[r] += float64(v)
			colTotals[c] += float64(v)
		}
		if rowTotals[r] == 0 {
			return ChiSquareResult{}, fmt.Errorf("chi-square test: row %d has no counts: %w", r, ErrEmpty)
		}
		n += rowTotals[r]
	}
	kept := 0
	for _, t := range colTotals {
		if t > 0 {
			kept++
		}
	}
	if kept < 2 {
		return ChiSquareResult{PValue: 1}, nil
	}
	res := ChiSquareResult{MinExpected: math.Inf(1)}
	for r, row := range table {
		for c, v := range row {
			if colTotals[c] == 0 {
				continue
			}
			expected := rowTotals[r] * colTotals[c] / n
			d := float64(v) - expected
			res.Statistic += d * d / expected
			res.MinExpected = min(res.MinExpected, expected)
		}
	}
	res.DF = (len(table) - 1) * (kept - 1)
	res.PValue = ChiSquareSurvival(res.Statistic, float64(res.DF))
	res.CramersV = math.Min(1, math.Sqrt(res.Statistic/(n*float64(min(len(table), kept)-1))))
	return res, nil
}
