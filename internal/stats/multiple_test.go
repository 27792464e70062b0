package stats

import (
	"math"
	"slices"
	"testing"
)

func TestHolmAndBenjaminiHochberg(t *testing.T) {
	// By hand, m = 4, sorted p: 0.005, 0.01, 0.03, 0.04.
	//   Holm: 4*0.005 = 0.02, 3*0.01 = 0.03, 2*0.03 = 0.06, 1*0.04 = 0.04 -> running max 0.06.
	//   BH:   4*0.005/1 = 0.02, 4*0.01/2 = 0.02, 4*0.03/3 = 0.04, 4*0.04/4 = 0.04 (running min
	//         from the top changes nothing).
	p := []float64{0.01, 0.04, 0.03, 0.005}
	holm, err := Holm(p)
	if err != nil {
		t.Fatal(err)
	}
	assertSlice(t, "Holm", holm, []float64{0.03, 0.06, 0.06, 0.02}, 1e-15)
	bh, err := BenjaminiHochberg(p)
	if err != nil {
		t.Fatal(err)
	}
	assertSlice(t, "BH", bh, []float64{0.02, 0.04, 0.04, 0.02}, 1e-15)

	// Capping at 1, ties, and a running minimum that matters for BH:
	// sorted 0.2, 0.2, 0.5, 0.9 (m=4). Holm: 0.8, 0.6->0.8, 1, 0.9->1. BH: 0.8, 0.4, 0.667, 0.9
	// -> running min from the top: 0.9, 0.667, 0.4, 0.4.
	p = []float64{0.5, 0.2, 0.9, 0.2}
	holm, _ = Holm(p)
	assertSlice(t, "Holm ties", holm, []float64{1, 0.8, 1, 0.8}, 1e-15)
	bh, _ = BenjaminiHochberg(p)
	assertSlice(t, "BH ties", bh, []float64{2.0 / 3, 0.4, 0.9, 0.4}, 1e-15)

	_, err = Holm(nil)
	assertErr(t, err, ErrEmpty, "")
	_, err = BenjaminiHochberg([]float64{0.1, math.NaN()})
	assertErr(t, err, ErrInvalidArgument, "index 1")
}

// TestAdjustedPValuesMatchProcedures checks the adjusted p-values against the textbook
// procedures they encode, written independently: Holm's step-down test (walk up the sorted
// p-values, reject while p(i) <= alpha/(m-i+1), stop at the first failure) and the
// Benjamini-Hochberg step-up test (find the largest i with p(i) <= i alpha/m, reject the i
// smallest). "adjusted <= alpha" must reject exactly the same hypotheses at every alpha.
func TestAdjustedPValuesMatchProcedures(t *testing.T) {
	r := newRand(5)
	for trial := range 200 {
		m := 1 + r.IntN(12)
		p := make([]float64, m)
		for i := range p {
			// Mix tiny, moderate and repeated p-values.
			switch r.IntN(3) {
			case 0:
				p[i] = r.Float64() * 0.01
			case 1:
				p[i] = r.Float64()
			default:
				p[i] = float64(r.IntN(4)) * 0.01
			}
		}
		holm, _ := Holm(p)
		bh, _ := BenjaminiHochberg(p)
		sorted := slices.Clone(p)
		slices.Sort(sorted)
		for _, alpha := range []float64{0.001, 0.01, 0.025, 0.05, 0.1, 0.2} {
			// Holm step-down: the number of rejections k, then reject p <= sorted[k-1].
			k := 0
			for k < m && sorted[k] <= alpha/float64(m-k) {
				k++
			}
			// BH step-up.
			kb := 0
			for i := m; i >= 1; i-- {
				if sorted[i-1] <= float64(i)*alpha/float64(m) {
					kb = i
					break
				}
			}
			for i, v := range p {
				wantHolm := k > 0 && v <= sorted[k-1]
				wantBH := kb > 0 && v <= sorted[kb-1]
				if (holm[i] <= alpha) != wantHolm {
					t.Fatalf("trial %d alpha %v: Holm adjusted %v for p %v, procedure rejects: %v (p = %v)", trial, alpha, holm[i], v, wantHolm, p)
				}
				if (bh[i] <= alpha) != wantBH {
					t.Fatalf("trial %d alpha %v: BH adjusted %v for p %v, procedure rejects: %v (p = %v)", trial, alpha, bh[i], v, wantBH, p)
				}
			}
		}
	}
}
