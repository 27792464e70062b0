package stats

import (
	"fmt"
	"math"
)

// ClopperPearsonInterval returns the exact (Clopper-Pearson) interval of a binomial proportion,
// successes out of n: the proportions p for which neither tail of Bin(n, p) at the observed count
// falls below (1-level)/2. Its endpoints are beta quantiles,
//
//	Lo = B^-1((1-level)/2; k, n-k+1),  Hi = B^-1((1+level)/2; k+1, n-k),
//
// with Lo = 0 at k = 0 and Hi = 1 at k = n. Its coverage is at least level for every p, which is
// what a stated false-alarm rate needs: "0 of 300 runs" is reported as at most 1.2%, not as 0.
func ClopperPearsonInterval(successes, n int, level float64) (Interval, error) {
	if n <= 0 {
		return Interval{}, fmt.Errorf("clopper-pearson interval on %d trials: %w", n, ErrEmpty)
	}
	if successes < 0 || successes > n {
		return Interval{}, fmt.Errorf("clopper-pearson interval: %d successes of %d trials: %w", successes, n, ErrInvalidArgument)
	}
	if err := checkLevel(level); err != nil {
		return Interval{}, err
	}
	k, nf := float64(successes), float64(n)
	iv := Interval{Estimate: k / nf, Lo: 0, Hi: 1, Level: level}
	tail := (1 - level) / 2
	if successes > 0 {
		iv.Lo = betaQuantile(tail, k, nf-k+1)
	}
	if successes < n {
		iv.Hi = betaQuantile(1-tail, k+1, nf-k)
	}
	return iv, nil
}

// betaQuantile returns the x in [0,1] with I_x(a, b) = p, by bisection to float64 resolution.
func betaQuantile(p, a, b float64) float64 {
	lo, hi := 0.0, 1.0
	for range 200 {
		mid := lo + (hi-lo)/2
		if mid == lo || mid == hi {
			break
		}
		if regularizedBeta(mid, a, b) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	if math.IsNaN(lo) {
		return math.NaN()
	}
	return lo + (hi-lo)/2
}
