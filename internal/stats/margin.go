package stats

import (
	"fmt"
	"math"
)

// MarginTest is the outcome of PairedMarginTest.
type MarginTest struct {
	// Drop is the observed accuracy(B) - accuracy(A) = (BOnly - AOnly) / N.
	Drop float64
	// Margin is the tolerated drop the test is against.
	Margin float64
	// Z is the score statistic; P the one-sided p-value P(Z' >= Z) under H0 (normal reference).
	Z, P float64
}

// PairedMarginTest asks whether model A (the candidate) is worse than model B (the baseline) by
// more than margin on the same images: it tests H0 acc(B) - acc(A) <= margin against
// H1 acc(B) - acc(A) > margin with the score test for paired proportions of Nam (1997) and Tango
// (1998). McNemar's test is its margin-0 case; a margin of the gate's tolerance is what keeps a
// real but tolerated drop from being flagged on a large set, where McNemar against 0 would flag it.
//
// The statistic uses the variance under H0 at its boundary, with the discordant probabilities
// estimated by maximum likelihood under the constraint qL - qG = margin (qL: A wrong and B right,
// qG: A right and B wrong). With nL and nG those counts among N images,
//
//	Z = (nL - nG - N margin - 1) / sqrt(N (2 qG + margin - margin^2))
//
// where qG is the positive root of 2N q^2 - (nL (1+margin) + nG (1-margin) - 2 N margin) q
// - nG margin (1-margin) = 0, the stationary point of the constrained multinomial likelihood.
// P is the upper normal tail of Z. The continuity correction of one image (the -1; at margin 0
// this is McNemar's test with Edwards's correction) is there because the discordant counts are
// skewed, so the normal tail is too thin: simulated at a true drop equal to the margin (400,000
// draws per case, 30 to 10,000 images), the uncorrected statistic rejected up to 1.5 alpha at
// alpha 0.05 and 0.005 (the level Holm gives the first of ten classes); corrected, at most 0.97
// alpha, and well under alpha on small sets (TestPairedMarginTestSize repeats part of this).
// Assumptions: images are independent. margin must lie in [0, 1).
func PairedMarginTest(t PairedTable, margin float64) (MarginTest, error) {
	if err := t.validate(); err != nil {
		return MarginTest{}, err
	}
	n := float64(t.N())
	if n == 0 {
		return MarginTest{}, fmt.Errorf("paired margin test on 0 images: %w", ErrEmpty)
	}
	if math.IsNaN(margin) || margin < 0 || margin >= 1 {
		return MarginTest{}, fmt.Errorf("paired margin test: margin %v outside [0, 1): %w", margin, ErrInvalidArgument)
	}
	nL, nG := float64(t.BOnly), float64(t.AOnly)
	res := MarginTest{Drop: (nL - nG) / n, Margin: margin}
	b := nL*(1+margin) + nG*(1-margin) - 2*n*margin
	qG := (b + math.Sqrt(b*b+8*n*nG*margin*(1-margin))) / (4 * n)
	v := n * (2*qG + margin - margin*margin)
	num := nL - nG - n*margin - 1
	if v <= 0 {
		// Only at margin 0 with no discordant pair: nothing differs, nothing is beyond the margin.
		res.Z, res.P = 0, 1
		return res, nil
	}
	res.Z = num / math.Sqrt(v)
	res.P = NormalCDF(-res.Z)
	return res, nil
}
