package guard

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

type golden struct {
	LedoitWolf []struct {
		N, P       int
		X          []float64
		Shrinkage  float64
		Covariance []float64
	} `json:"ledoit_wolf"`
	BetaPPF []struct {
		Q    float64
		A, B int
		X    float64
	} `json:"beta_ppf"`
}

func readGolden(t *testing.T) golden {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestLedoitWolfMatchesSklearn: shrinkage and covariance equal scikit-learn's LedoitWolf.
func TestLedoitWolfMatchesSklearn(t *testing.T) {
	for _, c := range readGolden(t).LedoitWolf {
		got, err := ledoitWolf(c.X, c.N, c.P)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got.shrinkage-c.Shrinkage) > 1e-12 {
			t.Errorf("n=%d p=%d: shrinkage %.15g, sklearn %.15g", c.N, c.P, got.shrinkage, c.Shrinkage)
		}
		for i, want := range c.Covariance {
			if math.Abs(got.cov[i]-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Fatalf("n=%d p=%d: covariance[%d] %.15g, sklearn %.15g", c.N, c.P, i, got.cov[i], want)
			}
		}
	}
}

// TestWhitening: W W^T is the inverse of the covariance, and W is upper triangular (mulVec
// relies on it).
func TestWhitening(t *testing.T) {
	c := readGolden(t).LedoitWolf[1]
	cov, err := ledoitWolf(c.X, c.N, c.P)
	if err != nil {
		t.Fatal(err)
	}
	p := c.P
	w, err := whitening(cov.cov, p)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p {
		for j := range i {
			if w[i*p+j] != 0 {
				t.Fatalf("W[%d][%d] = %g below the diagonal", i, j, w[i*p+j])
			}
		}
	}
	// cov * (W W^T) = I
	for i := range p {
		for j := range p {
			var s float64
			for k := range p {
				var wwt float64
				for l := range p {
					wwt += w[k*p+l] * w[j*p+l]
				}
				s += cov.cov[i*p+k] * wwt
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(s-want) > 1e-9 {
				t.Fatalf("(C W W^T)[%d][%d] = %g, want %g", i, j, s, want)
			}
		}
	}
	if _, err := cholesky([]float64{1, 2, 2, 1}, 2); err == nil {
		t.Error("cholesky of an indefinite matrix: no error")
	}
}

func TestBetaQuantileMatchesScipy(t *testing.T) {
	for _, c := range readGolden(t).BetaPPF {
		if got := betaQuantile(c.Q, c.A, c.B); math.Abs(got-c.X) > 1e-9 {
			t.Errorf("beta.ppf(%g, %d, %d) = %.12g, scipy %.12g", c.Q, c.A, c.B, got, c.X)
		}
	}
}

func TestMinCalibration(t *testing.T) {
	tests := []struct {
		alpha float64
		want  int
	}{{0.01, 99}, {0.05, 19}, {0.1, 9}, {0.001, 999}, {0.2, 4}, {0.03, 33}}
	for _, tc := range tests {
		if got := MinCalibration(tc.alpha); got != tc.want {
			t.Errorf("MinCalibration(%g) = %d, want %d", tc.alpha, got, tc.want)
		}
		n := MinCalibration(tc.alpha)
		if conformalRank(n, tc.alpha) > n || conformalRank(n-1, tc.alpha) <= n-1 {
			t.Errorf("alpha %g: %d is not the smallest calibration size", tc.alpha, n)
		}
	}
}

// TestConformalGuarantee draws many calibration sets and fresh clean inputs from one
// distribution: the false-reject rate averages ExpectedFRR (<= target), and the conditional rate
// of each draw falls inside the reported interval about Level of the time.
func TestConformalGuarantee(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const n, reps = 300, 1000
	alpha := 0.05
	var sum float64
	inside := 0
	var th Threshold
	for range reps {
		cal := make([]float64, n)
		for i := range cal {
			cal[i] = rng.ExpFloat64()
		}
		var err error
		th, err = calibrate(cal, alpha, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		// The exact conditional false-reject rate of an Exp(1) score above t is exp(-t).
		frr := math.Exp(-th.Value)
		sum += frr
		if frr >= th.Interval[0] && frr <= th.Interval[1] {
			inside++
		}
	}
	mean := sum / reps
	// Standard error of the mean over reps: sd of Beta(15, 287) is about 0.0125.
	if math.Abs(mean-th.ExpectedFRR) > 4*0.0125/math.Sqrt(reps) {
		t.Errorf("mean false-reject rate %.4f, expected %.4f", mean, th.ExpectedFRR)
	}
	if th.ExpectedFRR > alpha || th.ExpectedFRR < th.LowerFRR {
		t.Errorf("expected FRR %.4f outside [%.4f, %.4f]", th.ExpectedFRR, th.LowerFRR, alpha)
	}
	if share := float64(inside) / reps; share < 0.93 || share > 0.97 {
		t.Errorf("%.3f of draws inside the 95%% interval", share)
	}
}

func TestCalibrateErrors(t *testing.T) {
	_, err := calibrate(make([]float64, 50), 0.01, 0.95)
	var few *TooFewError
	if !errors.As(err, &few) || few.Need != 99 || few.Have != 50 {
		t.Fatalf("50 images for 1%%: %v", err)
	}
	few.Share = 0.3
	if msg := few.Error(); !strings.Contains(msg, "at least 99 held-out") || !strings.Contains(msg, "at least 330 images") {
		t.Errorf("message %q", msg)
	}
	scores := make([]float64, 200)
	for i := range 20 {
		scores[i] = math.Inf(1)
	}
	if _, err := calibrate(scores, 0.05, 0.95); err == nil || !strings.Contains(err.Error(), "input checks reject 20 of 200") {
		t.Errorf("too many input rejects: %v", err)
	}
	ok := make([]float64, 200)
	for i := range ok {
		ok[i] = float64(i)
	}
	th, err := calibrate(ok, 0.05, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	// rank ceil(201*0.95) = 191: the 191st smallest of 0..199 is 190; 9 of 200 lie above.
	if th.Rank != 191 || th.Value != 190 || th.CalibrationFRR != 9.0/200 {
		t.Errorf("threshold %+v", th)
	}
}

func TestFitBound(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		lo, hi float64
	}{
		{"contrast", []float64{0.2, 0.4, 0.3}, 0.15, 0.45},
		{"tensor_variance", []float64{0.02, 0.2}, 0.01, 0.245},
		{"tensor_mean", []float64{0.02, 0.2}, -0.025, 0.245},
		{"area", []float64{784, 784}, 196, 3136},
		{"aspect_ratio", []float64{1, 1.5}, 0.8, 1.875},
		{"red_share", []float64{1.0 / 3, 1.0 / 3}, 1.0/3 - minWidth, 1.0/3 + minWidth},
	}
	for _, tc := range tests {
		b, err := fitBound(tc.name, tc.values)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(b.Lo-tc.lo) > 1e-12 || math.Abs(b.Hi-tc.hi) > 1e-12 {
			t.Errorf("%s: [%g, %g], want [%g, %g]", tc.name, b.Lo, b.Hi, tc.lo, tc.hi)
		}
		if !b.Contains(slices.Min(tc.values)) || b.Contains(tc.lo-1e-3) {
			t.Errorf("%s: bound %+v", tc.name, b)
		}
	}
	if _, err := fitBound("x", []float64{1, math.NaN()}); err == nil {
		t.Error("NaN value: no error")
	}
}

func TestFPRAtTPR(t *testing.T) {
	clean := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	ood := make([]float64, 20)
	for i := range ood {
		ood[i] = float64(i) // 0..19: 95% (19) are >= 1
	}
	if got := fprAtTPR(clean, ood, 0.95); got != 0.9 {
		t.Errorf("fpr %g, want 0.9 (9 clean scores >= 1)", got)
	}
}
