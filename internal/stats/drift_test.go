package stats

import (
	"math"
	"testing"
)

// Samples with ties (one decimal), drawn once with numpy (default_rng(7), N(0,1) and N(0.6,1.5),
// rounded). Reference values: D by brute force over every pooled value (#x<=t/n - #y<=t/m), the
// p-value from the Kolmogorov series in mpmath at the Stephens-corrected lambda, W1 as the sum of
// |Fx - Fy| times the gaps between consecutive pooled values, the spreads with numpy
// (percentile type 7, std ddof=1). All in /usr/bin/python3, independently of this package.
var (
	ksX = []float64{0.0, 0.3, -0.3, -0.9, -0.5, -1.0, 0.1, 1.3, -0.5, -0.6, 0.5, 0.4, 0.1, -0.9, 0.0,
		0.7, -1.3, -0.5, -1.9, -1.3, -1.8, -0.2, -1.3, 0.3, 0.2}
	ksY = []float64{0.3, -3.2, -0.2, 0.5, 0.8, -1.7, -0.1, -0.9, -0.6, 2.2, -0.6, 0.6, 1.9, -0.3, 0.4,
		0.8, 0.7, -1.2}
)

func TestKolmogorovSmirnov(t *testing.T) {
	tests := []struct {
		name string
		x, y []float64
		d, p float64
		pTol float64
	}{
		{"tied samples", ksX, ksY, 0.2844444444444444, 0.3106284569831698, 1e-12},
		{"disjoint", []float64{1, 2, 3, 4}, []float64{5, 6, 7, 8, 9}, 1, KolmogorovSurvival((math.Sqrt(20.0/9) + 0.12 + 0.11/math.Sqrt(20.0/9)) * 1), 1e-15},
		{"identical", []float64{1, 2, 2, 3}, []float64{3, 2, 1, 2}, 0, 1, 0},
		// Every value tied across samples: a naive merge would report a gap of 1/2 at value 1.
		{"all tied", []float64{1, 1}, []float64{1, 1, 1}, 0, 1, 0},
	}
	for _, tt := range tests {
		got, err := KolmogorovSmirnov(tt.x, tt.y)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, tt.name+" D", got.D, tt.d, 1e-15)
		assertNear(t, tt.name+" p", got.PValue, tt.p, tt.pTol)
	}
	_, err := KolmogorovSmirnov(nil, ksY)
	assertErr(t, err, ErrEmpty, "reference")
	_, err = KolmogorovSmirnov(ksX, []float64{1, math.NaN()})
	assertErr(t, err, ErrInvalidArgument, "index 1")
}

// TestKolmogorovSmirnovFalseAlarms: the asymptotic p-value with Stephens' correction should keep
// the false-alarm rate at or below alpha for continuous data of moderate size.
func TestKolmogorovSmirnovFalseAlarms(t *testing.T) {
	r := newRand(11)
	const sims = 300
	rejects := 0
	x, y := make([]float64, 40), make([]float64, 60)
	for range sims {
		for i := range x {
			x[i] = r.NormFloat64()
		}
		for i := range y {
			y[i] = r.NormFloat64()
		}
		res, _ := KolmogorovSmirnov(x, y)
		if res.PValue < 0.05 {
			rejects++
		}
	}
	if limit := int(sims*0.05 + 3*math.Sqrt(sims*0.05*0.95)); rejects > limit {
		t.Errorf("KS rejected %d/%d same-distribution pairs at 5%%, limit %d", rejects, sims, limit)
	}
	// A one-sd shift on these sizes is found almost always.
	shifted := 0
	for range 50 {
		for i := range x {
			x[i] = r.NormFloat64()
		}
		for i := range y {
			y[i] = r.NormFloat64() + 1
		}
		if res, _ := KolmogorovSmirnov(x, y); res.PValue < 0.05 {
			shifted++
		}
	}
	if shifted < 45 {
		t.Errorf("KS found a one-sd shift in %d/50 samples", shifted)
	}
}

func TestWasserstein1(t *testing.T) {
	tests := []struct {
		name string
		x, y []float64
		want float64
	}{
		{"tied samples", ksX, ksY, 0.5031111111111112},
		// Equal sizes: the mean absolute difference of the sorted samples, (1+1+0+1+4)/5 by hand.
		{"equal sizes", []float64{3, 1, 4, 1, 5}, []float64{9, 2, 6, 5, 3}, 2.2},
		{"point masses", []float64{0}, []float64{2.5}, 2.5},
		{"shift invariance", []float64{0, 1, 2}, []float64{10, 11, 12}, 10},
		// Half the mass of {0,0,1,1} must move from 1 to 0 to make {0}: 1/2 by hand.
		{"unequal sizes", []float64{0}, []float64{0, 0, 1, 1}, 0.5},
		{"identical", []float64{1, 2, 3}, []float64{3, 2, 1}, 0},
	}
	for _, tt := range tests {
		got, err := Wasserstein1(tt.x, tt.y)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, tt.name, got, tt.want, 1e-14)
	}
}

func TestNormalizedWasserstein1(t *testing.T) {
	tests := []struct {
		name string
		ref  []float64
		by   Spread
		want float64
	}{
		{"iqr", ksX, SpreadIQR, 0.4573737373737374},
		{"stddev", ksX, SpreadStdDev, 0.6301702248393004},
	}
	for _, tt := range tests {
		got, err := NormalizedWasserstein1(tt.ref, ksY, tt.by)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, tt.name, got, tt.want, 1e-13)
	}
	// Scale-free: multiplying both samples by 1000 leaves the normalised distance unchanged.
	big := func(x []float64) []float64 {
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = 1000 * v
		}
		return out
	}
	a, _ := NormalizedWasserstein1(ksX, ksY, SpreadIQR)
	b, _ := NormalizedWasserstein1(big(ksX), big(ksY), SpreadIQR)
	assertNear(t, "scaled", b, a, 1e-12)
	// IQR 0 (most of the reference equal) falls back to the standard deviation.
	ref := []float64{5, 5, 5, 5, 5, 5, 9}
	got, err := NormalizedWasserstein1(ref, []float64{5, 5, 5, 5, 5, 5, 5}, SpreadIQR)
	if err != nil {
		t.Fatal(err)
	}
	// W1 = 4/7 (one seventh of the mass moves by 4); sd = sqrt((6*(4/7)^2 + (24/7)^2)/6).
	sd := math.Sqrt((6*math.Pow(4.0/7, 2) + math.Pow(24.0/7, 2)) / 6)
	assertNear(t, "iqr fallback", got, 4.0/7/sd, 1e-14)
	_, err = NormalizedWasserstein1([]float64{2, 2, 2}, []float64{1}, SpreadIQR)
	assertErr(t, err, ErrInvalidArgument, "no spread")
	_, err = NormalizedWasserstein1(ksX, ksY, Spread(7))
	assertErr(t, err, ErrInvalidArgument, "Spread(7)")
}

func TestPSI(t *testing.T) {
	ten := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		name     string
		ref, cur []float64
		opts     PSIOptions
		edges    []float64
		refShare []float64
		curShare []float64
	}{
		{
			// Two bins split at the reference median 5.5: shares 0.5/0.5 against 0.3/0.7.
			name: "median split", ref: ten, cur: []float64{1, 2, 3, 6, 7, 8, 9, 10, 11, 12},
			opts: PSIOptions{Bins: 2}, edges: []float64{5.5},
			refShare: []float64{0.5, 0.5}, curShare: []float64{0.3, 0.7},
		},
		{
			// Deciles of 0 x8, 1, 2 (type 7, h = 9q): 10%..70% are 0, 80% is 0 + 0.2*(1-0) = 0.2,
			// 90% is 1 + 0.1*(2-1) = 1.1. (0, 0.2] would hold no reference value, so only the
			// edges 0 and 1.1 remain: (-inf,0], (0,1.1], (1.1,inf). The current sample leaves two
			// bins empty, which the epsilon floor keeps finite.
			name: "ties merge bins", ref: []float64{0, 0, 0, 0, 0, 0, 0, 0, 1, 2}, cur: []float64{0, 0, 0, 0},
			edges: []float64{0, 1.1}, refShare: []float64{0.8, 0.1, 0.1}, curShare: []float64{1, 0, 0},
		},
		{
			// 1 x7, 5 x3 (h = 9q): 10%..60% are 1, 70% is 1 + 0.3*(5-1) = 2.2 but (1, 2.2] holds
			// no reference value, 80% and 90% are 5 but (5, inf) would be empty as the top values
			// tie at the maximum. Only the edge 1 remains.
			name: "tied maximum", ref: []float64{1, 1, 1, 1, 1, 1, 1, 5, 5, 5}, cur: []float64{1, 5, 5, 6},
			opts: PSIOptions{Bins: 10, Epsilon: 0.001}, edges: []float64{1},
			refShare: []float64{0.7, 0.3}, curShare: []float64{0.25, 0.75},
		},
		{
			name: "identical", ref: ten, cur: ten, opts: PSIOptions{Bins: 5},
			edges: []float64{2.8, 4.6, 6.4, 8.2}, refShare: []float64{0.2, 0.2, 0.2, 0.2, 0.2}, curShare: []float64{0.2, 0.2, 0.2, 0.2, 0.2},
		},
	}
	for _, tt := range tests {
		got, err := PSI(tt.ref, tt.cur, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		eps := tt.opts.Epsilon
		if eps == 0 {
			eps = DefaultPSIEpsilon
		}
		want := 0.0
		for i := range tt.refShare {
			r, c := math.Max(tt.refShare[i], eps), math.Max(tt.curShare[i], eps)
			want += (c - r) * math.Log(c/r)
		}
		assertNear(t, tt.name+" PSI", got.PSI, want, 1e-12)
		assertSlice(t, tt.name+" edges", got.Edges, tt.edges, 1e-12)
		assertSlice(t, tt.name+" reference", got.Reference, tt.refShare, 1e-12)
		assertSlice(t, tt.name+" current", got.Current, tt.curShare, 1e-12)
	}
	// The median-split case by hand: 0.2 ln(5/3) + 0.2 ln(7/5).
	got, _ := PSI(ten, []float64{1, 2, 3, 6, 7, 8, 9, 10, 11, 12}, PSIOptions{Bins: 2})
	assertNear(t, "hand PSI", got.PSI, 0.2*math.Log(5.0/3)+0.2*math.Log(7.0/5), 1e-12)
	_, err := PSI(ten, ten, PSIOptions{Bins: 1})
	assertErr(t, err, ErrInvalidArgument, "1 bins")
	_, err = PSI(ten, nil, PSIOptions{})
	assertErr(t, err, ErrEmpty, "psi sample")
}

func assertSlice(t *testing.T, name string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %v, want %v", name, got, want)
		return
	}
	for i := range got {
		if !near(got[i], want[i], tol) {
			t.Errorf("%s = %v, want %v", name, got, want)
			return
		}
	}
}

func TestChiSquareIndependence(t *testing.T) {
	// Statistic as an exact rational in Python (fractions), p-value from mpmath's regularised
	// upper gamma, V = sqrt(stat / (N (min(r,c) - 1))).
	tests := []struct {
		name  string
		table [][]int
		stat  float64
		df    int
		p, v  float64
		minE  float64
	}{
		{"2x2", [][]int{{10, 20}, {30, 40}}, 50.0 / 63, 1, 0.37299848361348712, 0.0890870806374748, 12},
		{"2x3", [][]int{{20, 15, 25}, {30, 10, 40}}, 287.0 / 78, 2, 0.15885815374514013, 0.1621173996893957, 25 * 60.0 / 140},
		{"empty column dropped", [][]int{{5, 0, 15}, {10, 0, 10}}, 8.0 / 3, 1, 0.10247043485974943, 0.25819888974716115, 7.5},
		{"3x4", [][]int{{12, 7, 3, 30}, {8, 14, 9, 21}, {5, 5, 5, 5}}, 24303969.0 / 2011100, 6, 0.060101083047578622, 0.22074756813372803, 20 * 17.0 / 124},
		{"one category", [][]int{{4, 0}, {9, 0}}, 0, 0, 1, 0, 0},
	}
	for _, tt := range tests {
		got, err := ChiSquareIndependence(tt.table)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, tt.name+" statistic", got.Statistic, tt.stat, 1e-13)
		if got.DF != tt.df {
			t.Errorf("%s DF = %d, want %d", tt.name, got.DF, tt.df)
		}
		assertNear(t, tt.name+" p", got.PValue, tt.p, 1e-13)
		assertNear(t, tt.name+" V", got.CramersV, tt.v, 1e-13)
		assertNear(t, tt.name+" min expected", got.MinExpected, tt.minE, 1e-13)
	}
	// 2x2 cross-check with the df=1 closed form erfc(sqrt(x/2)).
	got, _ := ChiSquareIndependence([][]int{{10, 20}, {30, 40}})
	assertNear(t, "closed form", got.PValue, math.Erfc(math.Sqrt(50.0/63/2)), 1e-14)

	_, err := ChiSquareIndependence([][]int{{1, 2}})
	assertErr(t, err, ErrInvalidArgument, "1 rows")
	_, err = ChiSquareIndependence([][]int{{1, 2}, {0, 0}})
	assertErr(t, err, ErrEmpty, "row 1")
	_, err = ChiSquareIndependence([][]int{{1, 2}, {1}})
	assertErr(t, err, ErrLengthMismatch, "row 1")
	_, err = ChiSquareIndependence([][]int{{1, -2}, {1, 1}})
	assertErr(t, err, ErrInvalidArgument, "-2")
}
