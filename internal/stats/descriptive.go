package stats

import (
	"fmt"
	"math"
	"slices"
)

// Mean returns the arithmetic mean of x (non-empty, finite values).
func Mean(x []float64) (float64, error) {
	if err := checkSample("mean", x); err != nil {
		return 0, err
	}
	return mean(x), nil
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// StdDev returns the sample standard deviation of x, with the n-1 (Bessel) denominator; x needs at
// least two finite values.
func StdDev(x []float64) (float64, error) {
	if err := checkSample("standard deviation", x); err != nil {
		return 0, err
	}
	if len(x) < 2 {
		return 0, fmt.Errorf("standard deviation of 1 value: %w", ErrEmpty)
	}
	return stdDev(x), nil
}

// stdDev is the two-pass sample standard deviation (the second pass around the mean avoids the
// cancellation of sum(x^2) - n mean^2).
func stdDev(x []float64) float64 {
	m := mean(x)
	ss := 0.0
	for _, v := range x {
		d := v - m
		ss += d * d
	}
	return math.Sqrt(ss / float64(len(x)-1))
}

// Quantile returns the q-quantile of x (q in [0,1]) by linear interpolation between order
// statistics, Hyndman and Fan's type 7 (the default of R, NumPy and spreadsheets): with x sorted
// and h = (n-1) q, it is x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]). x is not modified.
func Quantile(x []float64, q float64) (float64, error) {
	qs, err := Quantiles(x, q)
	if err != nil {
		return 0, err
	}
	return qs[0], nil
}

// Quantiles returns the type-7 quantiles of x at each q (see Quantile), sorting one copy of x.
func Quantiles(x []float64, qs ...float64) ([]float64, error) {
	if err := checkSample("quantile", x); err != nil {
		return nil, err
	}
	for _, q := range qs {
		if math.IsNaN(q) || q < 0 || q > 1 {
			return nil, fmt.Errorf("quantile at q = %v outside [0,1]: %w", q, ErrInvalidArgument)
		}
	}
	sorted := sortedCopy(x)
	out := make([]float64, len(qs))
	for i, q := range qs {
		out[i] = quantileSorted(sorted, q)
	}
	return out, nil
}

// Median returns the 0.5 quantile of x (the mean of the two middle values for even n).
func Median(x []float64) (float64, error) {
	return Quantile(x, 0.5)
}

// quantileSorted is the type-7 quantile of sorted, non-empty data; q in [0,1].
func quantileSorted(sorted []float64, q float64) float64 {
	h := float64(len(sorted)-1) * q
	lo := int(math.Floor(h))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	frac := h - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

// upperBound returns the index of the first value of sorted greater than x, or len(sorted).
func upperBound(sorted []float64, x float64) int {
	lo, hi := 0, len(sorted)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if sorted[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// TukeyFences returns Tukey's outlier fences Q1 - k IQR and Q3 + k IQR, with type-7 quartiles
// and IQR = Q3 - Q1; k = 1.5 is the usual choice ("outliers"), 3 the "far out" one. k must be >= 0.
func TukeyFences(x []float64, k float64) (lo, hi float64, err error) {
	if math.IsNaN(k) || k < 0 {
		return 0, 0, fmt.Errorf("tukey fences with k = %v: %w", k, ErrInvalidArgument)
	}
	q, err := Quantiles(x, 0.25, 0.75)
	if err != nil {
		return 0, 0, err
	}
	iqr := q[1] - q[0]
	return q[0] - k*iqr, q[1] + k*iqr, nil
}

// Outliers returns the indices of the values of x strictly outside TukeyFences(x, k), ascending.
// On data where more than half the values are equal the IQR can be 0, and then every other value
// is an outlier; that is what the rule says, so callers with discrete data should expect it.
func Outliers(x []float64, k float64) ([]int, error) {
	lo, hi, err := TukeyFences(x, k)
	if err != nil {
		return nil, err
	}
	out := []int{}
	for i, v := range x {
		if v < lo || v > hi {
			out = append(out, i)
		}
	}
	return out, nil
}

// Histogram counts values into fixed bins.
type Histogram struct {
	// Edges are the bin boundaries, strictly increasing; bin i is [Edges[i], Edges[i+1]), except
	// the last bin, which also includes its upper edge.
	Edges []float64
	// Counts has len(Edges)-1 entries.
	Counts []int
	// Below and Above count values outside [Edges[0], Edges[len-1]].
	Below, Above int
}

// NewHistogram counts the values of x (finite; x may be empty) into the bins given by edges (at
// least two, finite, strictly increasing).
func NewHistogram(x, edges []float64) (Histogram, error) {
	if len(edges) < 2 {
		return Histogram{}, fmt.Errorf("histogram with %d edges (need 2 or more): %w", len(edges), ErrInvalidArgument)
	}
	for i, e := range edges {
		if math.IsNaN(e) || math.IsInf(e, 0) || (i > 0 && e <= edges[i-1]) {
			return Histogram{}, fmt.Errorf("histogram edges must be finite and strictly increasing (edge %d = %v): %w", i, e, ErrInvalidArgument)
		}
	}
	if err := checkFinite("histogram", x); err != nil {
		return Histogram{}, err
	}
	h := Histogram{Edges: slices.Clone(edges), Counts: make([]int, len(edges)-1)}
	last := edges[len(edges)-1]
	for _, v := range x {
		switch {
		case v < edges[0]:
			h.Below++
		case v > last:
			h.Above++
		case v == last:
			h.Counts[len(h.Counts)-1]++
		default:
			// The first edge strictly greater than v closes v's bin.
			i, _ := slices.BinarySearch(edges, v)
			if i < len(edges) && edges[i] == v {
				i++
			}
			h.Counts[i-1]++
		}
	}
	return h, nil
}

// checkSample requires a non-empty sample of finite values.
func checkSample(what string, x []float64) error {
	if len(x) == 0 {
		return fmt.Errorf("%s: %w", what, ErrEmpty)
	}
	return checkFinite(what, x)
}

// checkFinite reports the first NaN or infinite value: one such value would poison every
// statistic computed from the sample, and a threshold compared with NaN silently passes.
func checkFinite(what string, x []float64) error {
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s: value %v at index %d: %w", what, v, i, ErrInvalidArgument)
		}
	}
	return nil
}

func sortedCopy(x []float64) []float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s
}
