package stats

import (
	"math"
	"testing"
)

func TestWilsonInterval(t *testing.T) {
	// Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3 (score interval),
	// printed to 4 decimals; the 17-digit values are the closed form evaluated in Python with z
	// from statistics.NormalDist().inv_cdf.
	tests := []struct {
		k, n   int
		level  float64
		lo, hi float64
	}{
		{81, 263, 0.95, 0.2552885198782743, 0.3662095769828001},
		{15, 148, 0.95, 0.06238639953073629, 0.160487241723308},
		{0, 20, 0.95, 0, 0.1611251580528193},
		{1, 29, 0.95, 0.006113214292762653, 0.17175521879320282},
		{29, 29, 0.95, 0.8830302015002593, 1},
		{950, 1000, 0.95, 0.9346861797557492, 0.9618697376072513},
		{81, 263, 0.90, 0.2633136171884814, 0.35656634960848815},
	}
	for _, tt := range tests {
		got, err := WilsonInterval(tt.k, tt.n, tt.level)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, "lo", got.Lo, tt.lo, 1e-13)
		assertNear(t, "hi", got.Hi, tt.hi, 1e-13)
		assertNear(t, "estimate", got.Estimate, float64(tt.k)/float64(tt.n), 1e-15)
	}
	_, err := WilsonInterval(0, 0, 0.95)
	assertErr(t, err, ErrEmpty, "0 trials")
	_, err = WilsonInterval(5, 4, 0.95)
	assertErr(t, err, ErrInvalidArgument, "5 successes")
	_, err = WilsonInterval(1, 4, 1)
	assertErr(t, err, ErrInvalidArgument, "level")
}

func TestBinomialTest(t *testing.T) {
	// References: the "minlike" two-sided p-value summed over exact rationals in Python
	// (fractions.Fraction, math.comb); the first also matches R's documented example
	// binom.test(c(682, 243), p = 3/4), p-value = 0.3825.
	tests := []struct {
		k, n int
		p0   float64
		want float64
	}{
		{682, 925, 0.75, 0.3824915595748517},
		{7, 20, 0.3, 0.6294979666766777},
		{0, 10, 0.5, 0.001953125},
		{10, 10, 0.5, 0.001953125},
		{3, 10, 0.5, 0.34375},
		{9, 30, 0.1, 0.0020198290052582998},
		{1, 30, 0.1, 0.35918989822649855},
		{3, 30, 0.1, 1}, // the mode
		{2, 100, 0.01, 0.26423802107704375},
		{60, 100, 0.5, 0.05688793364098079},
		{50, 100, 0.5, 1},
		{0, 0, 0.3, 1},
		{0, 5, 0, 1},
		{1, 5, 0, 0},
		{5, 5, 1, 1},
	}
	for _, tt := range tests {
		got, err := BinomialTest(tt.k, tt.n, tt.p0)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, "BinomialTest", got, tt.want, 1e-12)
	}
	_, err := BinomialTest(3, 2, 0.5)
	assertErr(t, err, ErrInvalidArgument, "3 successes")
	_, err = BinomialTest(1, 2, 1.5)
	assertErr(t, err, ErrInvalidArgument, "p0")
}

func TestBinomialTestTiesAtTheMode(t *testing.T) {
	// Bin(9, 0.5) has two modes (4 and 5) with equal probability; observing either is not
	// evidence of anything. Bin(5, 1/3): (n+1)p = 2, so 1 and 2 share the top probability 80/243.
	for _, tt := range []struct {
		k, n int
		p    float64
	}{{4, 9, 0.5}, {5, 9, 0.5}, {1, 5, 1.0 / 3}, {2, 5, 1.0 / 3}} {
		got, err := BinomialTest(tt.k, tt.n, tt.p)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, "p-value at a mode", got, 1, 1e-12)
	}
}

func TestMcNemar(t *testing.T) {
	// Exact: 2 P(X <= min) for X ~ Bin(b+c, 1/2), and mid-p, summed over exact rationals in
	// Python; b=2, c=8 gives 112/1024 and 67/1024 by hand, b=0, c=6 gives 2/64 and 1/64.
	tests := []struct {
		b, c        int
		exact, midP float64
	}{
		{2, 8, 0.109375, 0.0654296875},
		{8, 2, 0.109375, 0.0654296875},
		{0, 6, 0.03125, 0.015625},
		{5, 5, 1, 1},
		{10, 25, 0.01667384780012071, 0.011330984183587134},
		{0, 1, 1, 0.5},
		{40, 60, 0.05688793364098079, 0.046044066929342806},
		{300, 360, 0.02157234823197102, 0.019541266266901794},
		{0, 0, 1, 1},
	}
	for _, tt := range tests {
		exact, err := McNemarExact(tt.b, tt.c)
		if err != nil {
			t.Fatal(err)
		}
		mid, err := McNemarMidP(tt.b, tt.c)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, "McNemarExact", exact, tt.exact, 1e-12)
		assertNear(t, "McNemarMidP", mid, tt.midP, 1e-12)
	}
	_, err := McNemarExact(-1, 3)
	assertErr(t, err, ErrInvalidArgument, "-1")
	_, err = McNemarMidP(1, -3)
	assertErr(t, err, ErrInvalidArgument, "-3")
}

func TestPairedTable(t *testing.T) {
	a := []bool{true, true, false, false, true, false}
	b := []bool{true, false, true, false, false, false}
	got, err := NewPairedTable(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := PairedTable{Both: 1, AOnly: 2, BOnly: 1, Neither: 2}
	if got != want {
		t.Fatalf("NewPairedTable = %+v, want %+v", got, want)
	}
	assertNear(t, "Difference", got.Difference(), 1.0/6, 1e-15)
	assertNear(t, "Discordance", got.Discordance(), 3.0/6, 1e-15)
	_, err = NewPairedTable(a, b[:2])
	assertErr(t, err, ErrLengthMismatch, "6 and 2")
}

func TestMcNemarSampleSize(t *testing.T) {
	// Connor's formula evaluated in Python (statistics.NormalDist for the quantiles), then ceil.
	tests := []struct {
		psi, delta, alpha, power float64
		want                     int
	}{
		{0.2, 0.05, 0.05, 0.8, 626},  // 625.547...
		{0.1, 0.01, 0.05, 0.8, 7847}, // 7846.52...: a one-point drop needs thousands of images
		{0.3, -0.1, 0.01, 0.9, 442},  // 441.41...; the sign of the difference does not matter
		{0.05, 0.02, 0.05, 0.8, 979}, // 978.75...
	}
	for _, tt := range tests {
		got, err := McNemarSampleSize(tt.psi, tt.delta, tt.alpha, tt.power)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("McNemarSampleSize(%v, %v, %v, %v) = %d, want %d", tt.psi, tt.delta, tt.alpha, tt.power, got, tt.want)
		}
		// Power is the inverse: at the returned n it reaches the target, one image fewer it does not
		// quite (n was rounded up from a non-integer).
		pw, err := McNemarPower(got, tt.psi, tt.delta, tt.alpha)
		if err != nil {
			t.Fatal(err)
		}
		below, _ := McNemarPower(got-1, tt.psi, tt.delta, tt.alpha)
		if pw < tt.power || below >= tt.power {
			t.Errorf("McNemarPower around n=%d: %v at n, %v at n-1, target %v", got, pw, below, tt.power)
		}
	}
	for _, bad := range []struct{ psi, delta, alpha, power float64 }{
		{0.1, 0.2, 0.05, 0.8}, // difference larger than discordance is impossible
		{0.1, 0, 0.05, 0.8},
		{1.2, 0.1, 0.05, 0.8},
		{0.1, 0.05, 0, 0.8},
		{0.1, 0.05, 0.05, 1},
	} {
		_, err := McNemarSampleSize(bad.psi, bad.delta, bad.alpha, bad.power)
		assertErr(t, err, ErrInvalidArgument, "")
	}
	if p, err := McNemarPower(10, 1, 1, 0.05); err != nil || p != 1 {
		t.Errorf("McNemarPower with every image discordant one way = %v, %v; want 1", p, err)
	}
}

// TestMcNemarFalseAlarms simulates paired datasets where both models have the same accuracy and
// checks that the tests at alpha = 0.05 do not reject more often than 5% allows (+3 binomial
// standard deviations); and, so that the check can fail, that a real 10-point gap is found.
func TestMcNemarFalseAlarms(t *testing.T) {
	const (
		datasets = 200
		images   = 300
		alpha    = 0.05
	)
	simulate := func(seed uint64, pBoth, pAOnly, pBOnly float64) (exactRejects, midRejects int) {
		r := newRand(seed)
		for range datasets {
			var tab PairedTable
			for range images {
				switch u := r.Float64(); {
				case u < pBoth:
					tab.Both++
				case u < pBoth+pAOnly:
					tab.AOnly++
				case u < pBoth+pAOnly+pBOnly:
					tab.BOnly++
				default:
					tab.Neither++
				}
			}
			exact, _ := McNemarExact(tab.AOnly, tab.BOnly)
			mid, _ := McNemarMidP(tab.AOnly, tab.BOnly)
			if exact < alpha {
				exactRejects++
			}
			if mid < alpha {
				midRejects++
			}
		}
		return exactRejects, midRejects
	}
	limit := int(datasets*alpha + 3*math.Sqrt(datasets*alpha*(1-alpha))) // 10 + 9.2
	// Both models 80% accurate, 20% of images discordant.
	exact, mid := simulate(1, 0.7, 0.1, 0.1)
	if exact > limit || mid > limit {
		t.Errorf("equal accuracy: exact test rejected %d/%d, mid-p %d/%d; limit %d", exact, datasets, mid, datasets, limit)
	}
	if mid < exact {
		t.Errorf("mid-p rejected less often (%d) than the exact test (%d)", mid, exact)
	}
	t.Logf("false alarms at alpha %.2f: exact %d/%d, mid-p %d/%d", alpha, exact, datasets, mid, datasets)
	// A 10-point gap (85% vs 75%) on 300 images: Connor's formula puts the power at about 0.97.
	exact, _ = simulate(2, 0.7, 0.15, 0.05)
	if exact < datasets*8/10 {
		t.Errorf("10-point gap detected in only %d/%d datasets", exact, datasets)
	}
}
