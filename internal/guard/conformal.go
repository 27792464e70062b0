package guard

import (
	"fmt"
	"math"
	"slices"
)

// Threshold is a split-conformal threshold on a score where higher means "less like the
// reference". An input is rejected when its score is above Value.
//
// The guarantee: Value is the Rank-th smallest of n calibration scores, Rank = ceil((n+1)(1-a))
// for the target false-reject rate a. If a new clean input and the calibration images are
// exchangeable (drawn alike from the reference distribution), it scores above the Rank-th smallest
// of the n+1 with probability at most (n+1-Rank)/(n+1) <= a, whatever the score's distribution
// (Vovk et al. 2005; Angelopoulos and Bates 2021, section 3): that is ExpectedFRR. For scores
// without ties it is exact, so the false-reject rate is above a - 1/(n+1) too. Over the draw of
// the calibration set, the false-reject rate of the threshold it yields is Beta(n+1-Rank, Rank)
// distributed: Interval is that distribution's central Level interval, the range in which the
// guard's actual false-reject rate lies for all but 1-Level of calibration draws.
type Threshold struct {
	TargetFRR   float64 `json:"target_frr"`
	Calibration int     `json:"calibration_images"`
	Rank        int     `json:"rank"`
	Value       float64 `json:"value"`
	ExpectedFRR float64 `json:"expected_frr"`
	// LowerFRR is a - 1/(n+1): the false-reject rate is above it when scores have no ties.
	LowerFRR float64 `json:"lower_frr"`
	// Interval is the Level interval of the false-reject rate over calibration draws.
	Interval [2]float64 `json:"interval"`
	Level    float64    `json:"level"`
	// CalibrationFRR is the share of calibration images above Value (about (n-Rank)/n).
	CalibrationFRR float64 `json:"calibration_frr"`
}

// conformalRank is ceil((n+1)(1-alpha)). The tiny slack keeps (n+1)(1-alpha) that is an integer
// in exact arithmetic from rounding up to the next one.
func conformalRank(n int, alpha float64) int {
	return int(math.Ceil(float64(n+1)*(1-alpha) - 1e-9))
}

// MinCalibration is the smallest calibration set that can give a threshold for the target
// false-reject rate alpha: below it, Rank exceeds n and no finite threshold has the guarantee.
func MinCalibration(alpha float64) int {
	if !(alpha > 0 && alpha < 1) {
		return 0
	}
	n := max(int(math.Floor(1/alpha-1))-2, 1)
	for conformalRank(n, alpha) > n {
		n++
	}
	return n
}

// TooFewError is a calibration set too small for the target false-reject rate.
type TooFewError struct {
	Have, Need int
	TargetFRR  float64
	// Share is the part of the reference set used for calibration (to say how many images the
	// whole reference set needs).
	Share float64
}

func (e *TooFewError) Error() string {
	msg := fmt.Sprintf("a false-reject rate of %g needs at least %d held-out calibration images, and the reference set gives %d", e.TargetFRR, e.Need, e.Have)
	if e.Share > 0 && e.Share < 1 {
		msg += fmt.Sprintf(" (calibration share %g): use a reference set of at least %d images, a larger calibration share, or a larger target", e.Share, int(math.Ceil(float64(e.Need)/e.Share)))
	}
	return msg
}

// calibrate picks the conformal threshold of scores (+Inf marks an input the input checks
// reject: it counts as a calibration image above any finite threshold).
func calibrate(scores []float64, alpha, level float64) (Threshold, error) {
	n := len(scores)
	if !(alpha > 0 && alpha < 1) {
		return Threshold{}, fmt.Errorf("target false-reject rate %g is not in (0, 1)", alpha)
	}
	k := conformalRank(n, alpha)
	if k > n {
		return Threshold{}, &TooFewError{Have: n, Need: MinCalibration(alpha), TargetFRR: alpha}
	}
	for _, s := range scores {
		if math.IsNaN(s) {
			return Threshold{}, fmt.Errorf("a calibration score is NaN: the model's outputs are not finite on a reference image")
		}
	}
	sorted := slices.Clone(scores)
	slices.Sort(sorted)
	t := Threshold{TargetFRR: alpha, Calibration: n, Rank: k, Value: sorted[k-1], Level: level}
	if math.IsInf(t.Value, 1) {
		rejected := n - firstInf(sorted)
		return Threshold{}, fmt.Errorf("the input checks reject %d of %d calibration images (%.2f%%), more than the target false-reject rate %g allows: the reference set is not homogeneous enough for these bounds", rejected, n, 100*float64(rejected)/float64(n), alpha)
	}
	l := n + 1 - k
	t.ExpectedFRR = float64(l) / float64(n+1)
	t.LowerFRR = math.Max(0, alpha-1/float64(n+1))
	t.Interval = [2]float64{betaQuantile((1-level)/2, l, k), betaQuantile((1+level)/2, l, k)}
	above := 0
	for _, s := range scores {
		if s > t.Value {
			above++
		}
	}
	t.CalibrationFRR = float64(above) / float64(n)
	return t, nil
}

func firstInf(sorted []float64) int {
	for i, s := range sorted {
		if math.IsInf(s, 1) {
			return i
		}
	}
	return len(sorted)
}

// betaCDF is the regularized incomplete beta function I_x(a, b) for positive integers a and b,
// through its identity with the binomial tail: I_x(a, b) = P(Binomial(a+b-1, x) >= a).
func betaCDF(x float64, a, b int) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	n := a + b - 1
	lx, l1x := math.Log(x), math.Log1p(-x)
	lgN, _ := math.Lgamma(float64(n + 1))
	// Sum the shorter tail, in log space, so that large n neither underflows nor loses precision.
	term := func(j int) float64 {
		lj, _ := math.Lgamma(float64(j + 1))
		lnj, _ := math.Lgamma(float64(n - j + 1))
		return math.Exp(lgN - lj - lnj + float64(j)*lx + float64(n-j)*l1x)
	}
	var sum float64
	if a > n/2 {
		for j := a; j <= n; j++ {
			sum += term(j)
		}
		return math.Min(sum, 1)
	}
	for j := 0; j < a; j++ {
		sum += term(j)
	}
	return math.Max(0, 1-sum)
}

// betaQuantile inverts betaCDF by bisection (the CDF is monotone; 60 halvings reach float64
// resolution on [0, 1]).
func betaQuantile(q float64, a, b int) float64 {
	lo, hi := 0.0, 1.0
	for range 60 {
		mid := (lo + hi) / 2
		if betaCDF(mid, a, b) < q {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}
