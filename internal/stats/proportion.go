package stats

import (
	"fmt"
	"math"
)

// Interval is a confidence interval with the point estimate it surrounds.
type Interval struct {
	// Estimate is the statistic on the observed data (not the centre of the interval).
	Estimate float64
	// Lo and Hi bound the interval; Lo <= Hi.
	Lo, Hi float64
	// Level is the nominal coverage, e.g. 0.95.
	Level float64
}

// DefaultLevel is the confidence level used when an options struct leaves it zero.
const DefaultLevel = 0.95

// WilsonInterval returns the Wilson score interval for a binomial proportion: successes out of n
// trials, at the given confidence level in (0,1). Estimate is successes/n.
//
// Assumptions: independent trials with a common success probability. Unlike the Wald interval
// p ± z*sqrt(p(1-p)/n), it stays inside [0,1], is never empty at 0 or n successes, and keeps close
// to nominal coverage for small n and proportions near 0 or 1, which is where accuracy usually is.
func WilsonInterval(successes, n int, level float64) (Interval, error) {
	if n <= 0 {
		return Interval{}, fmt.Errorf("wilson interval over %d trials: %w", n, ErrEmpty)
	}
	if successes < 0 || successes > n {
		return Interval{}, fmt.Errorf("wilson interval: %d successes out of %d trials: %w", successes, n, ErrInvalidArgument)
	}
	if err := checkLevel(level); err != nil {
		return Interval{}, err
	}
	z := twoSidedZ(level)
	nf := float64(n)
	p := float64(successes) / nf
	z2n := z * z / nf
	centre := (p + z2n/2) / (1 + z2n)
	half := z / (1 + z2n) * math.Sqrt(p*(1-p)/nf+z2n/(4*nf))
	lo, hi := clamp01(centre-half), clamp01(centre+half)
	// At 0 or n successes one bound is exactly 0 or 1; do not let rounding move it.
	if successes == 0 {
		lo = 0
	}
	if successes == n {
		hi = 1
	}
	return Interval{Estimate: p, Lo: lo, Hi: hi, Level: level}, nil
}

// BinomialTest returns the two-sided p-value of the exact binomial test of H0: the success
// probability is p0, having seen k successes in n trials.
//
// "Two-sided" follows the likelihood ordering (as R's binom.test does): the p-value is the total
// probability, under H0, of every outcome no more likely than the observed one. Outcomes whose
// probability equals the observed one up to a relative 1e-7 count as "no more likely", so that
// rounding cannot drop a symmetric partner. For p0 = 0.5 this equals twice the smaller tail.
func BinomialTest(k, n int, p0 float64) (float64, error) {
	if n < 0 || k < 0 || k > n {
		return 0, fmt.Errorf("binomial test: %d successes out of %d trials: %w", k, n, ErrInvalidArgument)
	}
	if math.IsNaN(p0) || p0 < 0 || p0 > 1 {
		return 0, fmt.Errorf("binomial test: p0 = %v outside [0,1]: %w", p0, ErrInvalidArgument)
	}
	switch {
	case n == 0:
		return 1, nil
	case p0 == 0:
		return boolToFloat(k == 0), nil
	case p0 == 1:
		return boolToFloat(k == n), nil
	}
	limit := binomialLogPMF(k, n, p0) + math.Log1p(1e-7)
	mode := binomialMode(n, p0)
	if k == mode {
		return 1, nil
	}
	if k < mode {
		// Find the first j from the mode up whose probability is <= the observed one; the pmf
		// falls monotonically there, so binary search applies. Starting at the mode itself matters
		// when two outcomes share the top probability.
		j := searchInts(mode, n+1, func(j int) bool { return binomialLogPMF(j, n, p0) <= limit })
		upper := 0.0
		if j <= n {
			upper = binomialTailAbove(j, n, p0)
		}
		return clamp01(binomialTailBelow(k, n, p0) + upper), nil
	}
	// k > mode: mirror image, looking for the last j below the mode that qualifies.
	j := searchInts(0, mode+1, func(j int) bool { return binomialLogPMF(j, n, p0) > limit }) - 1
	lower := 0.0
	if j >= 0 {
		lower = binomialTailBelow(j, n, p0)
	}
	return clamp01(lower + binomialTailAbove(k, n, p0)), nil
}

// searchInts returns the smallest i in [lo, hi) with f(i) true, or hi if there is none; f must be
// false then true over the range.
func searchInts(lo, hi int, f func(int) bool) int {
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if f(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// PairedTable is the 2x2 table of two models' correctness on the same images. A is usually the
// candidate and B the baseline. Only the discordant cells (AOnly, BOnly) carry information about
// which model is more accurate.
type PairedTable struct {
	Both    int // both models right
	AOnly   int // A right, B wrong
	BOnly   int // A wrong, B right
	Neither int // both wrong
}

// NewPairedTable counts the paired outcomes of two correctness vectors over the same images
// (a[i] and b[i] refer to image i).
func NewPairedTable(a, b []bool) (PairedTable, error) {
	if len(a) != len(b) {
		return PairedTable{}, fmt.Errorf("pair correctness vectors of %d and %d images: %w", len(a), len(b), ErrLengthMismatch)
	}
	var t PairedTable
	for i, ai := range a {
		switch {
		case ai && b[i]:
			t.Both++
		case ai:
			t.AOnly++
		case b[i]:
			t.BOnly++
		default:
			t.Neither++
		}
	}
	return t, nil
}

// N returns the number of paired images.
func (t PairedTable) N() int { return t.Both + t.AOnly + t.BOnly + t.Neither }

// Difference returns accuracy(A) - accuracy(B) = (AOnly - BOnly) / N, or 0 for an empty table.
func (t PairedTable) Difference() float64 {
	if t.N() == 0 {
		return 0
	}
	return float64(t.AOnly-t.BOnly) / float64(t.N())
}

// Discordance returns the share of images on which exactly one model is right, (AOnly+BOnly)/N,
// or 0 for an empty table. It is the psi of McNemarSampleSize.
func (t PairedTable) Discordance() float64 {
	if t.N() == 0 {
		return 0
	}
	return float64(t.AOnly+t.BOnly) / float64(t.N())
}

func (t PairedTable) validate() error {
	if t.Both < 0 || t.AOnly < 0 || t.BOnly < 0 || t.Neither < 0 {
		return fmt.Errorf("paired table %+v has a negative cell: %w", t, ErrInvalidArgument)
	}
	return nil
}

// McNemarExact returns the two-sided p-value of McNemar's exact test for discordant counts b and c
// (images only model A got right, images only model B got right): under H0 (equal accuracy) each
// discordant image is equally likely to fall either way, so min(b,c) is a Bin(b+c, 1/2) tail and
// p = min(1, 2 P(X <= min(b,c))). With no discordant pairs it returns 1.
//
// The test is exact and conservative: its false-alarm rate never exceeds alpha (it is usually
// well below it for small b+c). McNemarMidP is the less conservative alternative.
func McNemarExact(b, c int) (float64, error) {
	if b < 0 || c < 0 {
		return 0, fmt.Errorf("mcnemar test: discordant counts %d and %d: %w", b, c, ErrInvalidArgument)
	}
	n := b + c
	if n == 0 {
		return 1, nil
	}
	return clamp01(2 * binomialCDF(min(b, c), n, 0.5)), nil
}

// McNemarMidP returns the mid-p variant of McNemar's exact test: the observed outcome counts half,
// p = 2 (P(X <= m) - P(X = m)/2) with m = min(b,c) and X ~ Bin(b+c, 1/2). It is never above
// McNemarExact, and its false-alarm rate stays close to (but is not guaranteed below) alpha;
// Fagerland, Lydersen and Laake (2013) recommend it over the asymptotic McNemar test.
func McNemarMidP(b, c int) (float64, error) {
	if b < 0 || c < 0 {
		return 0, fmt.Errorf("mcnemar mid-p test: discordant counts %d and %d: %w", b, c, ErrInvalidArgument)
	}
	n := b + c
	if n == 0 {
		return 1, nil
	}
	m := min(b, c)
	return clamp01(2*binomialCDF(m, n, 0.5) - binomialPMF(m, n, 0.5)), nil
}

// McNemarSampleSize returns how many paired images are needed for a two-sided McNemar test at
// level alpha to detect an accuracy difference of size difference with the given power, when a
// share discordance of images is discordant (exactly one of the two models is right).
//
// It uses Connor's (1987) normal-approximation formula, with psi = discordance, delta = difference:
//
//	n = ( z(1-alpha/2) sqrt(psi) + z(power) sqrt(psi - delta^2) )^2 / delta^2
//
// rounded up. Both inputs are shares of all images, so a one-point accuracy drop is 0.01, and
// psi can be estimated from a previous run (PairedTable.Discordance). Because one model right and
// the other wrong on a share |delta| of images is the least possible disagreement, it requires
// |delta| <= psi <= 1. The exact test is conservative, so for few discordant pairs the real power
// is somewhat below the target; treat the answer as a lower bound. For a one-sided test pass
// 2*alpha.
func McNemarSampleSize(discordance, difference, alpha, power float64) (int, error) {
	if err := checkMcNemarDesign(discordance, difference, alpha); err != nil {
		return 0, err
	}
	if math.IsNaN(power) || power <= 0 || power >= 1 {
		return 0, fmt.Errorf("mcnemar sample size: power %v outside (0,1): %w", power, ErrInvalidArgument)
	}
	d := math.Abs(difference)
	a := NormalQuantile(1-alpha/2) * math.Sqrt(discordance)
	b := NormalQuantile(power) * math.Sqrt(math.Max(0, discordance-d*d))
	n := (a + b) * (a + b) / (d * d)
	// Shave rounding noise so that an exact integer answer is not bumped up by one.
	return int(math.Ceil(n - 1e-9)), nil
}

// McNemarPower returns the approximate power of a two-sided McNemar test at level alpha on n
// paired images, for the same discordance and difference as McNemarSampleSize (Connor 1987):
//
//	power = Phi( (|delta| sqrt(n) - z(1-alpha/2) sqrt(psi)) / sqrt(psi - delta^2) )
//
// It is the inverse of McNemarSampleSize up to rounding n up.
func McNemarPower(n int, discordance, difference, alpha float64) (float64, error) {
	if n <= 0 {
		return 0, fmt.Errorf("mcnemar power on %d images: %w", n, ErrEmpty)
	}
	if err := checkMcNemarDesign(discordance, difference, alpha); err != nil {
		return 0, err
	}
	d := math.Abs(difference)
	num := d*math.Sqrt(float64(n)) - NormalQuantile(1-alpha/2)*math.Sqrt(discordance)
	den := math.Sqrt(math.Max(0, discordance-d*d))
	if den == 0 {
		// Every image is discordant in the same direction: the difference is certain.
		return boolToFloat(num > 0), nil
	}
	return NormalCDF(num / den), nil
}

func checkMcNemarDesign(discordance, difference, alpha float64) error {
	if math.IsNaN(alpha) || alpha <= 0 || alpha >= 1 {
		return fmt.Errorf("mcnemar design: alpha %v outside (0,1): %w", alpha, ErrInvalidArgument)
	}
	d := math.Abs(difference)
	if math.IsNaN(d) || math.IsNaN(discordance) || d == 0 || d > discordance || discordance > 1 {
		return fmt.Errorf("mcnemar design: need 0 < |difference| (%v) <= discordance (%v) <= 1: %w",
			difference, discordance, ErrInvalidArgument)
	}
	return nil
}

func checkLevel(level float64) error {
	if math.IsNaN(level) || level <= 0 || level >= 1 {
		return fmt.Errorf("confidence level %v outside (0,1): %w", level, ErrInvalidArgument)
	}
	return nil
}
