package stats

import (
	"math"
	"testing"
)

func TestBootstrapProportionAgreesWithNormalTheory(t *testing.T) {
	// For n = 10,000 and p = 0.9 the bootstrap distribution of the mean is very nearly normal
	// with sd sqrt(p(1-p)/n) = 0.003, so the 95% interval is about p +- 1.96 * 0.003.
	got, err := BootstrapProportion(9000, 10_000, BootstrapOptions{Resamples: 10_000, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	half := NormalQuantile(0.975) * math.Sqrt(0.9*0.1/10_000)
	assertNear(t, "estimate", got.Estimate, 0.9, 1e-15)
	// Tolerance: Monte Carlo error of a 2.5% quantile at B = 10,000 (~0.0002) plus the 1/n grid.
	if math.Abs(got.Lo-(0.9-half)) > 0.0005 || math.Abs(got.Hi-(0.9+half)) > 0.0005 {
		t.Errorf("interval [%v, %v], want about [%v, %v]", got.Lo, got.Hi, 0.9-half, 0.9+half)
	}
	if got.Level != DefaultLevel {
		t.Errorf("Level = %v, want the default %v", got.Level, DefaultLevel)
	}
}

func TestBootstrapDeterministic(t *testing.T) {
	opts := BootstrapOptions{Resamples: 500, Seed: 42}
	tab := PairedTable{Both: 700, AOnly: 60, BOnly: 40, Neither: 200}
	a, _ := BootstrapPairedDifference(tab, opts)
	b, _ := BootstrapPairedDifference(tab, opts)
	if a != b {
		t.Errorf("same seed gave %+v and %+v", a, b)
	}
	opts.Seed = 43
	c, _ := BootstrapPairedDifference(tab, opts)
	if a == c {
		t.Errorf("different seeds gave the same interval %+v", a)
	}
}

// TestBootstrapPairedDifferenceMatchesIndexResampling checks the fast multinomial shortcut
// against the definition: resample image indices and recompute the difference of accuracies.
// Both are Monte Carlo estimates of the same interval, so they must agree to within Monte Carlo
// error (about 0.0005 at B = 4,000 here) plus the 1/n grid of the statistic.
func TestBootstrapPairedDifferenceMatchesIndexResampling(t *testing.T) {
	tab := PairedTable{Both: 700, AOnly: 60, BOnly: 40, Neither: 200}
	n := tab.N()
	a, b := make([]bool, n), make([]bool, n)
	for i := range n {
		switch {
		case i < tab.Both:
			a[i], b[i] = true, true
		case i < tab.Both+tab.AOnly:
			a[i] = true
		case i < tab.Both+tab.AOnly+tab.BOnly:
			b[i] = true
		}
	}
	opts := BootstrapOptions{Resamples: 4000, Seed: 1}
	fast, err := BootstrapPairedDifference(tab, opts)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := BootstrapIndices(n, func(idx []int) float64 {
		d := 0
		for _, i := range idx {
			if a[i] {
				d++
			}
			if b[i] {
				d--
			}
		}
		return float64(d) / float64(len(idx))
	}, BootstrapOptions{Resamples: 4000, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	assertNear(t, "estimate", fast.Estimate, 0.02, 1e-15)
	assertNear(t, "index estimate", slow.Estimate, 0.02, 1e-15)
	if math.Abs(fast.Lo-slow.Lo) > 0.003 || math.Abs(fast.Hi-slow.Hi) > 0.003 {
		t.Errorf("multinomial interval [%v, %v], index interval [%v, %v]", fast.Lo, fast.Hi, slow.Lo, slow.Hi)
	}
	// And both match the normal approximation d +- 1.96 sqrt((psi - d^2)/n).
	half := 1.959964 * math.Sqrt((0.1-0.02*0.02)/float64(n))
	if math.Abs(fast.Lo-(0.02-half)) > 0.003 || math.Abs(fast.Hi-(0.02+half)) > 0.003 {
		t.Errorf("interval [%v, %v], normal theory [%v, %v]", fast.Lo, fast.Hi, 0.02-half, 0.02+half)
	}
}

// TestBootstrapCoverage checks that the 95% percentile interval of a Bernoulli(0.9) mean over 500
// images covers 0.9 in about 95% of simulated datasets. The binomial sd of the coverage estimate
// over 200 datasets is 0.015; the bound allows 3 of them (the percentile interval is known to
// under-cover slightly at this n, so the real rate is a little below 0.95).
func TestBootstrapCoverage(t *testing.T) {
	const (
		sims   = 200
		images = 500
		p      = 0.9
	)
	r := newRand(2024)
	covered, wilsonCovered := 0, 0
	for s := range sims {
		k := 0
		for range images {
			if r.Float64() < p {
				k++
			}
		}
		iv, err := BootstrapProportion(k, images, BootstrapOptions{Resamples: 1000, Seed: uint64(s)})
		if err != nil {
			t.Fatal(err)
		}
		if iv.Lo <= p && p <= iv.Hi {
			covered++
		}
		w, _ := WilsonInterval(k, images, 0.95)
		if w.Lo <= p && p <= w.Hi {
			wilsonCovered++
		}
	}
	rate := float64(covered) / sims
	t.Logf("coverage: bootstrap %d/%d, wilson %d/%d", covered, sims, wilsonCovered, sims)
	if rate < 0.95-3*0.0154 || rate > 0.95+3*0.0154 {
		t.Errorf("bootstrap coverage %v, want 0.95 +- 0.046", rate)
	}
	if w := float64(wilsonCovered) / sims; w < 0.95-3*0.0154 {
		t.Errorf("wilson coverage %v", w)
	}
}

func TestBootstrapCountsAndMacroF1(t *testing.T) {
	// Three classes; model A is right more often than B. The multinomial-over-triples interval
	// must agree with the index-resampling definition within Monte Carlo error.
	r := newRand(9)
	n := 3000
	truth, predA, predB := make([]int, n), make([]int, n), make([]int, n)
	for i := range n {
		truth[i] = r.IntN(3)
		predA[i], predB[i] = truth[i], truth[i]
		if r.Float64() < 0.15 {
			predA[i] = r.IntN(3)
		}
		if r.Float64() < 0.30 {
			predB[i] = r.IntN(3)
		}
	}
	opts := BootstrapOptions{Resamples: 2000, Seed: 5}
	fast, err := BootstrapPairedMacroF1(truth, predA, predB, 3, opts)
	if err != nil {
		t.Fatal(err)
	}
	ta, tb := make([]int, n), make([]int, n)
	pa, pb := make([]int, n), make([]int, n)
	slow, err := BootstrapIndices(n, func(idx []int) float64 {
		for j, i := range idx {
			ta[j], pa[j], tb[j], pb[j] = truth[i], predA[i], truth[i], predB[i]
		}
		ca, _ := NewConfusion(ta, pa, 3)
		cb, _ := NewConfusion(tb, pb, 3)
		return ca.MacroF1() - cb.MacroF1()
	}, BootstrapOptions{Resamples: 2000, Seed: 6})
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := NewConfusion(truth, predA, 3)
	cb, _ := NewConfusion(truth, predB, 3)
	assertNear(t, "estimate", fast.Estimate, ca.MacroF1()-cb.MacroF1(), 1e-12)
	assertNear(t, "index estimate", slow.Estimate, fast.Estimate, 1e-12)
	if math.Abs(fast.Lo-slow.Lo) > 0.006 || math.Abs(fast.Hi-slow.Hi) > 0.006 {
		t.Errorf("count interval [%v, %v], index interval [%v, %v]", fast.Lo, fast.Hi, slow.Lo, slow.Hi)
	}
	if !(fast.Lo > 0) {
		t.Errorf("A is clearly better, yet the interval [%v, %v] includes 0", fast.Lo, fast.Hi)
	}
}

func TestBootstrapErrors(t *testing.T) {
	_, err := BootstrapProportion(0, 0, BootstrapOptions{})
	assertErr(t, err, ErrEmpty, "0 trials")
	_, err = BootstrapProportion(5, 3, BootstrapOptions{})
	assertErr(t, err, ErrInvalidArgument, "5 successes")
	_, err = BootstrapProportion(1, 3, BootstrapOptions{Level: 1.5})
	assertErr(t, err, ErrInvalidArgument, "level")
	_, err = BootstrapProportion(1, 3, BootstrapOptions{Resamples: -1})
	assertErr(t, err, ErrInvalidArgument, "-1 resamples")
	_, err = BootstrapPairedDifference(PairedTable{}, BootstrapOptions{})
	assertErr(t, err, ErrEmpty, "0 pairs")
	_, err = BootstrapPairedDifference(PairedTable{AOnly: -1}, BootstrapOptions{})
	assertErr(t, err, ErrInvalidArgument, "negative")
	_, err = BootstrapIndices(3, func([]int) float64 { return math.NaN() }, BootstrapOptions{})
	assertErr(t, err, ErrInvalidArgument, "NaN")
	_, err = BootstrapCounts([]int{2, -1}, func([]int) float64 { return 0 }, BootstrapOptions{})
	assertErr(t, err, ErrInvalidArgument, "category 1")
	_, err = BootstrapCounts([]int{0, 0}, func([]int) float64 { return 0 }, BootstrapOptions{})
	assertErr(t, err, ErrEmpty, "0 items")
	_, err = BootstrapPairedMacroF1([]int{0, 1}, []int{0, 1}, []int{0, 5}, 2, BootstrapOptions{})
	assertErr(t, err, ErrInvalidArgument, "label 5")
	_, err = BootstrapPairedMacroF1([]int{0, 1}, []int{0}, []int{0, 1}, 2, BootstrapOptions{})
	assertErr(t, err, ErrLengthMismatch, "")
}

func TestBootstrapDegenerate(t *testing.T) {
	// All correct: every resample is all correct; the interval is the point 1.
	got, err := BootstrapAccuracy([]bool{true, true, true}, BootstrapOptions{Resamples: 100})
	if err != nil {
		t.Fatal(err)
	}
	if got.Lo != 1 || got.Hi != 1 || got.Estimate != 1 {
		t.Errorf("all-correct interval %+v", got)
	}
	// Identical models: no discordant pairs, the difference is exactly 0 in every resample.
	d, err := BootstrapPairedDifference(PairedTable{Both: 5, Neither: 5}, BootstrapOptions{Resamples: 100})
	if err != nil {
		t.Fatal(err)
	}
	if d.Lo != 0 || d.Hi != 0 {
		t.Errorf("identical models interval %+v", d)
	}
}

// BenchmarkPairedBootstrap10k is the performance target: 10,000 resamples of 10,000 paired images.
func BenchmarkPairedBootstrap10k(b *testing.B) {
	tab := PairedTable{Both: 8500, AOnly: 600, BOnly: 500, Neither: 400}
	opts := BootstrapOptions{Resamples: 10_000, Seed: 1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := BootstrapPairedDifference(tab, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProportionBootstrap10k: 10,000 resamples of an accuracy over 10,000 images.
func BenchmarkProportionBootstrap10k(b *testing.B) {
	opts := BootstrapOptions{Resamples: 10_000, Seed: 1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := BootstrapProportion(9100, 10_000, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPairedMacroF1Bootstrap10k: 10,000 resamples of the macro-F1 difference of two models on
// 10,000 images of 10 classes.
func BenchmarkPairedMacroF1Bootstrap10k(b *testing.B) {
	r := newRand(1)
	n := 10_000
	truth, predA, predB := make([]int, n), make([]int, n), make([]int, n)
	for i := range n {
		truth[i] = r.IntN(10)
		predA[i], predB[i] = truth[i], truth[i]
		if r.Float64() < 0.1 {
			predA[i] = r.IntN(10)
		}
		if r.Float64() < 0.12 {
			predB[i] = r.IntN(10)
		}
	}
	opts := BootstrapOptions{Resamples: 10_000, Seed: 1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := BootstrapPairedMacroF1(truth, predA, predB, 10, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIndexBootstrap10k is the generic path on the paired difference, for comparison: 1,000
// resamples (a tenth of the others) of 10,000 images.
func BenchmarkIndexBootstrap10k(b *testing.B) {
	n := 10_000
	a, c := make([]bool, n), make([]bool, n)
	r := newRand(1)
	for i := range n {
		a[i], c[i] = r.Float64() < 0.91, r.Float64() < 0.9
	}
	stat := func(idx []int) float64 {
		d := 0
		for _, i := range idx {
			if a[i] {
				d++
			}
			if c[i] {
				d--
			}
		}
		return float64(d) / float64(len(idx))
	}
	opts := BootstrapOptions{Resamples: 1000, Seed: 1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := BootstrapIndices(n, stat, opts); err != nil {
			b.Fatal(err)
		}
	}
}
