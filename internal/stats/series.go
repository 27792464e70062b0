package stats

import (
	"fmt"
	"math"
)

// BatchMedianInterval returns the median of the series x with a confidence interval that stays
// valid when neighbouring values are correlated, as timings on a loaded machine are: a burst of
// load slows several consecutive measurements alike, and a bootstrap that resamples them one by
// one treats them as independent and gives intervals that are too narrow.
//
// It is the method of nonoverlapping batch means (Schmeiser 1982) applied to the median: x is cut
// into batches consecutive runs of (almost) equal length, in order; the median of each batch is
// one observation, and the spread of the batch medians estimates the variance of the median of
// the whole series as var(batch median) / batches. The interval is
//
//	median(x) +- t(level, batches-1) sd(batch medians) / sqrt(batches)
//
// with Student's t quantile. Assumptions: the series is stationary and its dependence is shorter
// than a batch, so that batch medians are nearly independent; fewer, longer batches tolerate
// longer dependence at the price of a wider interval (the t quantile grows). batches must be at
// least 2 and at most len(x); 10 to 20 is the usual choice.
func BatchMedianInterval(x []float64, batches int, level float64) (Interval, error) {
	if err := checkSample("batch median interval", x); err != nil {
		return Interval{}, err
	}
	if batches < 2 || batches > len(x) {
		return Interval{}, fmt.Errorf("batch median interval: %d batches of %d values: %w", batches, len(x), ErrInvalidArgument)
	}
	if err := checkLevel(level); err != nil {
		return Interval{}, err
	}
	med := quantileSorted(sortedCopy(x), 0.5)
	meds := make([]float64, batches)
	for k := range meds {
		// Batch k is x[k*n/batches : (k+1)*n/batches]: lengths differ by at most one.
		lo, hi := k*len(x)/batches, (k+1)*len(x)/batches
		meds[k] = quantileSorted(sortedCopy(x[lo:hi]), 0.5)
	}
	se := stdDev(meds) / math.Sqrt(float64(batches))
	half := StudentTQuantile(1-(1-level)/2, float64(batches-1)) * se
	return Interval{Estimate: med, Lo: med - half, Hi: med + half, Level: level}, nil
}
