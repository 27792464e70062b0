package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPairedMarginTestReference compares with the score test evaluated in SciPy, whose constrained
// maximum-likelihood estimate comes from numerical optimisation, not from the closed form
// (testdata/paired_margin.json).
func TestPairedMarginTestReference(t *testing.T) {
	var cases []struct {
		Both    int `json:"both"`
		AOnly   int `json:"a_only"`
		BOnly   int `json:"b_only"`
		Neither int `json:"neither"`
		Margin  float64
		Z, P    float64
	}
	loadReference(t, "paired_margin.json", &cases)
	if len(cases) < 40 {
		t.Fatalf("%d reference cases", len(cases))
	}
	for _, c := range cases {
		got, err := PairedMarginTest(PairedTable{Both: c.Both, AOnly: c.AOnly, BOnly: c.BOnly, Neither: c.Neither}, c.Margin)
		if err != nil {
			t.Fatal(err)
		}
		// The optimiser finds the estimate to about 1e-9, which bounds the agreement.
		if !near(got.Z, c.Z, 1e-6) || !near(got.P, c.P, 1e-6) {
			t.Errorf("table %d/%d/%d/%d margin %g: z %.10g p %.10g, want %.10g %.10g", c.Both, c.AOnly, c.BOnly, c.Neither, c.Margin, got.Z, got.P, c.Z, c.P)
		}
	}
}

func TestPairedMarginTestProperties(t *testing.T) {
	// Margin 0 is McNemar's asymptotic test with Edwards's continuity correction, (|b-c|-1)/sqrt(b+c).
	r, err := PairedMarginTest(PairedTable{Both: 900, AOnly: 7, BOnly: 25, Neither: 68}, 0)
	if err != nil {
		t.Fatal(err)
	}
	assertNear(t, "z at margin 0", r.Z, 17/math.Sqrt(32), 1e-12)
	assertNear(t, "drop", r.Drop, 0.018, 1e-15)
	// A bigger margin can only make the drop less significantly beyond it.
	prev := 0.0
	for _, m := range []float64{0, 0.005, 0.01, 0.02, 0.05} {
		r, err := PairedMarginTest(PairedTable{Both: 900, AOnly: 7, BOnly: 25, Neither: 68}, m)
		if err != nil {
			t.Fatal(err)
		}
		if r.P < prev {
			t.Errorf("margin %g: p %g fell below %g", m, r.P, prev)
		}
		prev = r.P
	}
	// Exactly at the margin the corrected statistic is slightly negative: never beyond it.
	if r, _ := PairedMarginTest(PairedTable{Both: 960, AOnly: 5, BOnly: 15, Neither: 20}, 0.01); r.Z >= 0 || r.P <= 0.5 {
		t.Errorf("drop equal to the margin: %+v", r)
	}
	// No discordant pair at margin 0: nothing to tell.
	if r, _ := PairedMarginTest(PairedTable{Both: 10}, 0); r.P != 1 || r.Z != 0 {
		t.Errorf("no discordant pairs: %+v", r)
	}
	for _, bad := range []float64{-0.01, 1, math.NaN()} {
		_, err := PairedMarginTest(PairedTable{Both: 10}, bad)
		assertErr(t, err, ErrInvalidArgument, "margin")
	}
	_, err = PairedMarginTest(PairedTable{}, 0.01)
	assertErr(t, err, ErrEmpty, "0 images")
	_, err = PairedMarginTest(PairedTable{Both: -1}, 0.01)
	assertErr(t, err, ErrInvalidArgument, "negative")
}

// TestPairedMarginTestSize: when the true drop equals the margin, the test must reject at most at
// alpha, at 0.05 and at 0.005 (the level Holm's correction gives the first of ten classes): a drop
// at the tolerance is tolerated. Monte Carlo over seeded multinomial draws, 30 to 2,000 images.
func TestPairedMarginTestSize(t *testing.T) {
	const draws = 20000
	for _, tc := range []struct {
		n             int
		margin, qGain float64
	}{
		{30, 1.0 / 30, 0}, {50, 0.02, 0.01}, {200, 0.01, 0.005}, {200, 0.01, 0}, {500, 0.01, 0.002},
		{1000, 0.01, 0.002}, {1000, 0.01, 0.02}, {2000, 0.005, 0.001},
	} {
		r := rand.New(rand.NewPCG(7, uint64(tc.n)))
		qLost := tc.qGain + tc.margin
		var at5, at05 int
		for range draws {
			tab := PairedTable{BOnly: binomial(r, tc.n, qLost)}
			tab.AOnly = binomial(r, tc.n-tab.BOnly, tc.qGain/(1-qLost))
			tab.Both = tc.n - tab.BOnly - tab.AOnly
			res, err := PairedMarginTest(tab, tc.margin)
			if err != nil {
				t.Fatal(err)
			}
			if res.P < 0.05 {
				at5++
			}
			if res.P < 0.005 {
				at05++
			}
		}
		r5, r05 := float64(at5)/draws, float64(at05)/draws
		t.Logf("n %d, margin %.4f, gain rate %g: rejected %.2f%% at alpha 5%%, %.3f%% at 0.5%%", tc.n, tc.margin, tc.qGain, 100*r5, 100*r05)
		// Alpha plus four Monte Carlo standard errors: a real excess fails, chance does not.
		for _, c := range []struct{ rate, alpha float64 }{{r5, 0.05}, {r05, 0.005}} {
			if c.rate > c.alpha+4*math.Sqrt(c.alpha*(1-c.alpha)/draws) {
				t.Errorf("n %d: size %.4f exceeds alpha %g", tc.n, c.rate, c.alpha)
			}
		}
	}
}
