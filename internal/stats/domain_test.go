package stats

import (
	"math"
	"testing"
)

// TestFitLogisticMatchesTorch compares the Newton fit with an independent optimiser: the same
// objective, mean(softplus(Xw) - y Xw) + l2/2 |w[1:]|^2, minimised in float64 by PyTorch's L-BFGS
// (strong Wolfe line search, gradient tolerance 1e-14; final max |gradient| ~2e-9).
func TestFitLogisticMatchesTorch(t *testing.T) {
	rows := [][]float64{
		{0.5, 1.2}, {-1.0, 0.3}, {1.5, -0.7}, {0.2, 0.2}, {-0.3, -1.1}, {2.0, 0.9},
		{-1.5, 0.4}, {0.8, -0.2}, {-0.7, 1.6}, {1.1, 0.1}, {0.0, -0.5}, {-1.2, -0.9},
	}
	y := []float64{1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0}
	x := make([]float64, 0, 3*len(rows))
	for _, r := range rows {
		x = append(x, 1, r[0], r[1])
	}
	tests := []struct {
		l2   float64
		want []float64
	}{
		{0.1, []float64{-0.14730877775478432, 0.8129336415181109, 0.5465547500176422}},
		{0.001, []float64{-0.2979166221206772, 1.440694520176484, 1.1860573357031163}},
	}
	for _, tt := range tests {
		w := fitLogistic(x, y, 3, tt.l2)
		assertSlice(t, "weights", w, tt.want, 1e-7)
	}
}

func TestFitLogisticSeparable(t *testing.T) {
	// Perfectly separable data: without the penalty the weights would run off to infinity; with
	// it the fit must stop at finite weights that still order the classes.
	x := []float64{1, -2, 1, -1, 1, 1, 1, 2}
	y := []float64{0, 0, 1, 1}
	w := fitLogistic(x, y, 2, DefaultDomainL2)
	if math.IsNaN(w[1]) || math.IsInf(w[1], 0) || w[1] <= 0 {
		t.Errorf("weights %v", w)
	}
}

// gaussianRows returns n rows of d independent N(mean, sd^2) features.
func gaussianRows(seed uint64, n, d int, mean, sd float64) [][]float64 {
	r := newRand(seed)
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = make([]float64, d)
		for k := range rows[i] {
			rows[i][k] = mean + sd*r.NormFloat64()
		}
	}
	return rows
}

func TestDomainClassifier(t *testing.T) {
	ref := gaussianRows(1, 400, 3, 0, 1)
	tests := []struct {
		name           string
		cur            [][]float64
		quadratic      bool
		minAUC, maxAUC float64
	}{
		// Same distribution: AUC near 0.5 (CV AUC scatters about +-0.03 here).
		{"same distribution", gaussianRows(2, 300, 3, 0, 1), false, 0.42, 0.58},
		{"same distribution quadratic", gaussianRows(2, 300, 3, 0, 1), true, 0.42, 0.58},
		// Mean shifted by 3 sd in every feature: almost perfectly separable.
		{"shifted", gaussianRows(3, 300, 3, 3, 1), false, 0.99, 1},
		// Same mean, three times the spread: invisible to a linear boundary, obvious with squares.
		{"spread linear", gaussianRows(4, 300, 3, 0, 3), false, 0.40, 0.62},
		{"spread quadratic", gaussianRows(4, 300, 3, 0, 3), true, 0.85, 1},
	}
	for _, tt := range tests {
		got, err := DomainClassifier(ref, tt.cur, DomainOptions{Seed: 9, Quadratic: tt.quadratic})
		if err != nil {
			t.Fatal(err)
		}
		if got.AUC < tt.minAUC || got.AUC > tt.maxAUC {
			t.Errorf("%s: AUC %.4f outside [%v, %v] (folds %.3f)", tt.name, got.AUC, tt.minAUC, tt.maxAUC, got.FoldAUC)
		}
		if len(got.FoldAUC) != DefaultDomainFolds {
			t.Errorf("%s: %d fold AUCs", tt.name, len(got.FoldAUC))
		}
		mean := 0.0
		for _, a := range got.FoldAUC {
			mean += a / float64(len(got.FoldAUC))
		}
		assertNear(t, tt.name+" mean of folds", got.AUC, mean, 1e-12)
		assertNear(t, tt.name+" score", got.Score, math.Max(0, 2*got.AUC-1), 1e-15)
		t.Logf("%s: AUC %.4f score %.4f", tt.name, got.AUC, got.Score)
	}
}

func TestDomainClassifierDeterministicAndConstantFeatures(t *testing.T) {
	ref := gaussianRows(5, 100, 2, 0, 1)
	cur := gaussianRows(6, 120, 2, 0.5, 1)
	for _, rows := range [][][]float64{ref, cur} {
		for _, r := range rows {
			r[1] = 7 // a constant feature must not break standardisation
		}
	}
	opts := DomainOptions{Seed: 3, Folds: 4}
	a, err := DomainClassifier(ref, cur, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DomainClassifier(ref, cur, opts)
	if a.AUC != b.AUC {
		t.Errorf("same seed gave AUC %v and %v", a.AUC, b.AUC)
	}
	if a.AUC < 0.55 {
		t.Errorf("a half-sd shift gave AUC %v", a.AUC)
	}
	opts.Seed = 4
	c, _ := DomainClassifier(ref, cur, opts)
	if c.FoldAUC[0] == a.FoldAUC[0] {
		t.Error("a different seed gave the same folds")
	}
}

func TestDomainClassifierErrors(t *testing.T) {
	ok := gaussianRows(1, 10, 2, 0, 1)
	_, err := DomainClassifier(ok, ok[:3], DomainOptions{})
	assertErr(t, err, ErrEmpty, "3 current")
	_, err = DomainClassifier(ok, ok, DomainOptions{Folds: 1})
	assertErr(t, err, ErrInvalidArgument, "1 folds")
	_, err = DomainClassifier(ok, ok, DomainOptions{L2: -1})
	assertErr(t, err, ErrInvalidArgument, "L2")
	bad := gaussianRows(2, 10, 2, 0, 1)
	bad[4] = []float64{1}
	_, err = DomainClassifier(ok, bad, DomainOptions{})
	assertErr(t, err, ErrLengthMismatch, "current row 4")
	bad[4] = []float64{1, math.NaN()}
	_, err = DomainClassifier(ok, bad, DomainOptions{})
	assertErr(t, err, ErrInvalidArgument, "current row 4")
	_, err = DomainClassifier([][]float64{{}, {}, {}, {}, {}}, ok, DomainOptions{})
	assertErr(t, err, ErrInvalidArgument, "no features")
}

// BenchmarkDomainClassifier: 5-fold CV on 5,000 + 5,000 rows of 10 features, quadratic (20).
func BenchmarkDomainClassifier(b *testing.B) {
	ref := gaussianRows(1, 5000, 10, 0, 1)
	cur := gaussianRows(2, 5000, 10, 0.1, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DomainClassifier(ref, cur, DomainOptions{Seed: 1, Quadratic: true}); err != nil {
			b.Fatal(err)
		}
	}
}
