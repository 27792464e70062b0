package stats

import (
	"math"
	"testing"
)

// Reference values in this file were computed with mpmath at 40 significant digits
// (Python: mp.dps = 40; sqrt(2)*erfinv(2p-1), ncdf, gammainc(..., regularized=True), and the
// alternating Kolmogorov series summed with nsum), i.e. independently of the Go code.

func TestNormalQuantile(t *testing.T) {
	tests := []struct {
		p, want, tol float64
	}{
		{1e-300, -37.047096299361199237, 1e-15}, // root of log ncdf(x) = log p (mpmath)
		{1e-20, -9.2623400897984075737, 1e-14},
		{1e-10, -6.3613409024040562047, 1e-14},
		{0.001, -3.0902323061678135415, 1e-15},
		{0.025, -1.9599639845400542355, 1e-15},
		{0.3, -0.52440051270804078404, 1e-15},
		{0.5, 0, 1e-16},
		{0.975, 1.9599639845400542355, 1e-15},
		{0.999999, 4.7534243088228989482, 1e-10}, // 1-p carries only ~10 digits of p here
		{0, math.Inf(-1), 0},
		{1, math.Inf(1), 0},
	}
	for _, tt := range tests {
		assertNear(t, "NormalQuantile", NormalQuantile(tt.p), tt.want, tt.tol)
	}
	for _, bad := range []float64{-0.1, 1.1, math.NaN()} {
		if got := NormalQuantile(bad); !math.IsNaN(got) {
			t.Errorf("NormalQuantile(%v) = %v, want NaN", bad, got)
		}
	}
}

func TestNormalCDF(t *testing.T) {
	tests := []struct{ x, want float64 }{
		{-37, 5.7255712225245768227e-300},
		{-10, 7.619853024160526066e-24},
		{-1.96, 0.024997895148220434137},
		{0, 0.5},
		{1, 0.84134474606854294859},
	}
	for _, tt := range tests {
		if r := NormalCDF(tt.x) / tt.want; math.Abs(r-1) > 1e-13 {
			t.Errorf("NormalCDF(%v) relative error %g", tt.x, r-1)
		}
	}
	// Round trip over the range the package uses.
	for _, p := range []float64{1e-12, 0.01, 0.2, 0.5, 0.8, 0.99} {
		if got := NormalCDF(NormalQuantile(p)); math.Abs(got/p-1) > 1e-13 {
			t.Errorf("NormalCDF(NormalQuantile(%v)) = %v", p, got)
		}
	}
}

func TestChiSquareSurvival(t *testing.T) {
	tests := []struct {
		name      string
		x, df     float64
		want, tol float64
	}{
		// Closed forms: df=1 is erfc(sqrt(x/2)); df=2 is exp(-x/2); df=4 is exp(-x/2)(1+x/2).
		{"df1 closed form", 0.5, 1, math.Erfc(math.Sqrt(0.25)), 1e-14},
		{"df2 closed form", 7.3, 2, math.Exp(-7.3 / 2), 1e-14},
		{"df4 closed form", 11, 4, math.Exp(-5.5) * 6.5, 1e-14},
		{"df2 far tail", 200, 2, math.Exp(-100), 1e-13},
		// mpmath references.
		{"df1 at 5% critical value", 3.841458820694124, 1, 0.050000000000000057435, 1e-14},
		{"df2 at 5% critical value", 5.991464547107979, 2, 0.050000000000000073572, 1e-14},
		{"df3", 10, 3, 0.018566135463043233303, 1e-14},
		{"fractional df", 2.5, 0.5, 0.047246701143909356136, 1e-13},
		{"df50 tail", 100, 50, 0.000034549313829848639421, 1e-12},
		{"df50 body", 30, 50, 0.98883521972844971642, 1e-14},
		{"tiny x", 1e-3, 10, 1, 1e-15},
		{"x zero", 0, 3, 1, 0},
	}
	for _, tt := range tests {
		got := ChiSquareSurvival(tt.x, tt.df)
		if math.Abs(got-tt.want) > tt.tol*tt.want {
			t.Errorf("%s: ChiSquareSurvival(%v, %v) = %.17g, want %.17g", tt.name, tt.x, tt.df, got, tt.want)
		}
	}
	if !math.IsNaN(ChiSquareSurvival(1, 0)) || !math.IsNaN(ChiSquareSurvival(math.NaN(), 1)) {
		t.Error("ChiSquareSurvival outside its domain should be NaN")
	}
}

func TestKolmogorovSurvival(t *testing.T) {
	tests := []struct{ lambda, want float64 }{
		{0.3, 0.99999069419866543337},
		{0.5, 0.96394524366487509439},
		{0.8, 0.544142411574198149},
		{1.0, 0.2699996716773545212},
		{1.17, 0.12939004218561878712}, // either side of the switch between the two series
		{1.19, 0.11774229287977164657},
		{1.3581, 0.049999630431667435753}, // the textbook 5% critical value
		{1.6276, 0.010001537333060768178}, // and the 1% one
		{2.0, 0.00067092525577969534654},
		{3.0, 3.0459959489425256872e-8},
	}
	for _, tt := range tests {
		got := KolmogorovSurvival(tt.lambda)
		if math.Abs(got-tt.want) > 1e-13*tt.want+1e-16 {
			t.Errorf("KolmogorovSurvival(%v) = %.17g, want %.17g", tt.lambda, got, tt.want)
		}
	}
	if KolmogorovSurvival(0) != 1 || KolmogorovSurvival(-1) != 1 || KolmogorovSurvival(0.01) != 1 {
		t.Error("KolmogorovSurvival near 0 should be 1")
	}
}
