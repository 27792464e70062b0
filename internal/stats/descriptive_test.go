package stats

import (
	"math"
	"testing"
)

func TestMeanStdDev(t *testing.T) {
	// Textbook: 2,4,4,4,5,5,7,9 has mean 5 and squared deviations summing to 32, so the sample
	// standard deviation is sqrt(32/7).
	x := []float64{2, 4, 4, 4, 5, 5, 7, 9}
	m, err := Mean(x)
	if err != nil {
		t.Fatal(err)
	}
	assertNear(t, "Mean", m, 5, 1e-15)
	s, err := StdDev(x)
	if err != nil {
		t.Fatal(err)
	}
	assertNear(t, "StdDev", s, math.Sqrt(32.0/7), 1e-15)
	// Large offset: a one-pass formula would lose everything here.
	y := []float64{1e9 + 1, 1e9 + 2, 1e9 + 3}
	s, _ = StdDev(y)
	assertNear(t, "StdDev offset", s, 1, 1e-9)

	_, err = Mean(nil)
	assertErr(t, err, ErrEmpty, "mean")
	_, err = StdDev([]float64{1})
	assertErr(t, err, ErrEmpty, "1 value")
	_, err = Mean([]float64{1, math.Inf(1)})
	assertErr(t, err, ErrInvalidArgument, "index 1")
}

func TestQuantiles(t *testing.T) {
	// numpy.percentile (linear, type 7) on ksX at 0, 10, 25, 50, 90, 100.
	got, err := Quantiles(ksX, 0, 0.1, 0.25, 0.5, 0.9, 1)
	if err != nil {
		t.Fatal(err)
	}
	assertSlice(t, "Quantiles", got, []float64{-1.9, -1.3, -0.9, -0.3, 0.46000000000000013, 1.3}, 1e-14)
	// By hand: 1,2,3,4 -> h = 3q; q = 0.5 -> 2.5, q = 0.25 -> 1.75, q = 1/3 -> 2.
	for _, tt := range []struct{ q, want float64 }{{0.5, 2.5}, {0.25, 1.75}, {1.0 / 3, 2}} {
		q, _ := Quantile([]float64{4, 1, 3, 2}, tt.q)
		assertNear(t, "Quantile", q, tt.want, 1e-15)
	}
	med, _ := Median([]float64{7, 1, 5})
	assertNear(t, "Median", med, 5, 0)
	one, _ := Quantile([]float64{3}, 0.7)
	assertNear(t, "single value", one, 3, 0)
	_, err = Quantile(ksX, 1.5)
	assertErr(t, err, ErrInvalidArgument, "1.5")
	x := []float64{3, 1, 2}
	_, _ = Median(x)
	if x[0] != 3 || x[1] != 1 {
		t.Error("Median modified its input")
	}
}

func TestTukeyOutliers(t *testing.T) {
	// 1..9, 100: Q1 = 3.25, Q3 = 7.75 (type 7), IQR 4.5, fences -3.5 and 14.5 by hand.
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 100}
	lo, hi, err := TukeyFences(x, 1.5)
	if err != nil {
		t.Fatal(err)
	}
	assertNear(t, "lo", lo, -3.5, 1e-15)
	assertNear(t, "hi", hi, 14.5, 1e-15)
	out, _ := Outliers(x, 1.5)
	if len(out) != 1 || out[0] != 9 {
		t.Errorf("Outliers = %v, want [9]", out)
	}
	out, _ = Outliers([]float64{1, 2, 3}, 1.5)
	if out == nil || len(out) != 0 {
		t.Errorf("Outliers without outliers = %#v, want an empty non-nil slice", out)
	}
	_, _, err = TukeyFences(x, -1)
	assertErr(t, err, ErrInvalidArgument, "k = -1")
}

func TestHistogram(t *testing.T) {
	x := []float64{-1, 0, 0.5, 1, 2.999, 3, 3.5, 1.0000001}
	h, err := NewHistogram(x, []float64{0, 1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	// [0,1): 0, 0.5; [1,2): 1, 1.0000001; [2,3]: 2.999, 3 (last bin closed); -1 below, 3.5 above.
	want := []int{2, 2, 2}
	for i := range want {
		if h.Counts[i] != want[i] {
			t.Fatalf("Counts = %v, want %v", h.Counts, want)
		}
	}
	if h.Below != 1 || h.Above != 1 {
		t.Errorf("Below, Above = %d, %d; want 1, 1", h.Below, h.Above)
	}
	for _, bad := range [][]float64{{1}, {0, 0}, {0, math.NaN()}, {2, 1}} {
		_, err := NewHistogram(x, bad)
		assertErr(t, err, ErrInvalidArgument, "edge")
	}
}
