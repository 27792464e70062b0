package attack

import (
	"math"
	"slices"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

// TestHSJLinear checks HopSkipJump against the exact L2 distance to a linear model's decision
// boundary: no adversarial can be closer, and on flat boundaries the gradient estimate is exact in
// expectation, so HopSkipJump should land near the optimum within a modest budget.
func TestHSJLinear(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			d := sh.w * sh.h * sh.c
			m := newLinearModel(21, 5, d, 3)
			// Pixels away from 0 and 1, so that the box rarely binds and the unboxed distance
			// is close to the true optimum, not only a lower bound.
			imgs := randomImages(21, 30, sh.w, sh.h, sh.c, 0.3, 0.7)
			labels := modelLabels(m, imgs)
			const budget = 1000
			counter := &countingOracle{Oracle: m}
			outs, err := HopSkipJump(t.Context(), counter, imgs, labels, HSJConfig{Epsilon: math.Inf(1), MaxQueries: budget, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			checkAdversarials(t, m, imgs, outs)
			if got := sumQueries(outs); got != counter.images {
				t.Errorf("outcomes count %d queries, oracle received %d images", got, counter.images)
			}
			var ratios []float64
			for i, o := range outs {
				if o.Queries > budget {
					t.Errorf("image %d: %d queries over the budget", i, o.Queries)
				}
				if !o.Success {
					continue
				}
				opt := m.minL2Flip(imgs[i], labels[i])
				if o.L2 < opt*(1-1e-6) {
					t.Errorf("image %d: L2 %g below the exact minimum %g", i, o.L2, opt)
				}
				ratios = append(ratios, o.L2/opt)
			}
			s := Summarize(outs)
			if s.SuccessRate < 0.9 {
				t.Errorf("found adversarials for %.2f of the images, want >= 0.9", s.SuccessRate)
			}
			slices.Sort(ratios)
			med := ratios[len(ratios)/2]
			// A wrong gradient sign or a broken bisection leaves the distance near that of the
			// starting noise (several times the optimum); working iterations approach 1.
			if med > 1.25 {
				t.Errorf("median L2/optimum %.3f, want <= 1.25 (ratios %.3f..%.3f)", med, ratios[0], ratios[len(ratios)-1])
			}
			t.Logf("median L2/optimum %.3f (%.3f..%.3f), median L2 %.3f, oracle calls %d, mean queries %.0f",
				med, ratios[0], ratios[len(ratios)-1], s.MedianL2, counter.calls, float64(counter.images)/float64(len(imgs)))
			checkCurve(t, outs, budget)
		})
	}
}

// TestHSJEpsilon: with an L2 budget an image stops as soon as it is inside it, and success means
// exactly that the confirmed adversarial is inside it.
func TestHSJEpsilon(t *testing.T) {
	m := newLinearModel(31, 4, 64, 3)
	imgs := randomImages(31, 30, 8, 8, 1, 0.3, 0.7)
	labels := modelLabels(m, imgs)
	opts := make([]float64, len(imgs))
	for i := range imgs {
		opts[i] = m.minL2Flip(imgs[i], labels[i])
	}
	eps := 1.2 * median(opts)
	const budget = 2000
	unbounded, err := HopSkipJump(t.Context(), m, imgs, labels, HSJConfig{Epsilon: math.Inf(1), MaxQueries: budget, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	counter := &countingOracle{Oracle: m}
	outs, err := HopSkipJump(t.Context(), counter, imgs, labels, HSJConfig{Epsilon: eps, MaxQueries: budget, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	checkAdversarials(t, m, imgs, outs)
	if got := sumQueries(outs); got != counter.images {
		t.Errorf("outcomes count %d queries, oracle received %d images", got, counter.images)
	}
	for i, o := range outs {
		if o.Adversarial != nil && o.Success != (o.L2 <= eps) {
			t.Errorf("image %d: success %v with L2 %g and epsilon %g", i, o.Success, o.L2, eps)
		}
		if o.Success && opts[i] > eps {
			t.Errorf("image %d: success at epsilon %g below its exact minimum %g", i, eps, opts[i])
		}
		// Both runs follow the same path until the bounded one stops: it can only stop
		// earlier, at a distance the unbounded one then improves on or keeps.
		u := unbounded[i]
		if o.Queries > u.Queries || o.L2 < u.L2 {
			t.Errorf("image %d: %d queries to L2 %g with epsilon, %d to %g without", i, o.Queries, o.L2, u.Queries, u.L2)
		}
		if !o.Success && (o.Queries != u.Queries || o.L2 != u.L2) {
			t.Errorf("image %d: failed after %d queries at L2 %g, unbounded run %d at %g: want the same path", i, o.Queries, o.L2, u.Queries, u.L2)
		}
	}
	s, su := Summarize(outs), Summarize(unbounded)
	// About half the images have their optimum within 1.2x the median one; HopSkipJump gets near
	// the optimum, so it should break most of them and nothing beyond them.
	if s.SuccessRate < 0.3 || s.SuccessRate > 0.8 {
		t.Errorf("success rate %.2f at epsilon %.3f, want 0.3..0.8", s.SuccessRate, eps)
	}
	if s.TotalQueries >= su.TotalQueries {
		t.Errorf("%d queries with epsilon, %d without: early stopping saved nothing", s.TotalQueries, su.TotalQueries)
	}
	t.Logf("epsilon %.3f: success %.2f, median queries %.0f, total %d vs %d unbounded", eps, s.SuccessRate, s.MedianQueries, s.TotalQueries, su.TotalQueries)
}

func TestHSJControls(t *testing.T) {
	imgs := randomImages(2, 5, 6, 4, 3, 0, 1)
	t.Run("oracle ignores input", func(t *testing.T) {
		o := &countingOracle{Oracle: constOracle{row: []float32{0.2, 0.5, 0.3}}}
		labels := []int{1, 1, 1, 1, 1}
		outs, err := HopSkipJump(t.Context(), o, imgs, labels, HSJConfig{Epsilon: math.Inf(1), MaxQueries: 500, InitTries: 40})
		if err != nil {
			t.Fatal(err)
		}
		for i, out := range outs {
			// The clean query, then every starting noise fails; nothing is left to search from.
			if out.Success || out.Adversarial != nil || out.Queries != 1+40 {
				t.Errorf("image %d: %+v, want failure after 41 queries", i, out)
			}
		}
		if o.images != 5*41 {
			t.Errorf("oracle received %d images, want %d", o.images, 5*41)
		}
	})
	t.Run("epsilon zero", func(t *testing.T) {
		m := newLinearModel(2, 3, 72, 3)
		outs, err := HopSkipJump(t.Context(), m, imgs, modelLabels(m, imgs), HSJConfig{Epsilon: 0})
		if err != nil {
			t.Fatal(err)
		}
		for i, out := range outs {
			if out.Success || out.Adversarial != nil || out.Queries != 1 {
				t.Errorf("image %d: %+v, want failure after the clean query", i, out)
			}
		}
	})
}

// TestHSJBudgets: however small the budget, it is respected and whatever is returned was
// confirmed misclassified.
func TestHSJBudgets(t *testing.T) {
	m := newLinearModel(41, 4, 48, 3)
	imgs := randomImages(41, 10, 4, 4, 3, 0, 1)
	labels := modelLabels(m, imgs)
	for _, budget := range []int{1, 2, 3, 10, 40, 150} {
		counter := &countingOracle{Oracle: m}
		outs, err := HopSkipJump(t.Context(), counter, imgs, labels, HSJConfig{Epsilon: math.Inf(1), MaxQueries: budget, Seed: 1})
		if err != nil {
			t.Fatalf("budget %d: %v", budget, err)
		}
		checkAdversarials(t, m, imgs, outs)
		for i, o := range outs {
			if o.Queries > budget {
				t.Errorf("budget %d, image %d: %d queries", budget, i, o.Queries)
			}
			if budget < 2 && o.Adversarial != nil {
				t.Errorf("budget %d, image %d: an adversarial needs the clean query and a find", budget, i)
			}
		}
		if got := sumQueries(outs); got != counter.images {
			t.Errorf("budget %d: outcomes count %d queries, oracle received %d", budget, got, counter.images)
		}
	}
}

// TestHSJDeterminism: outcomes depend on the seed only, not on the batch size, nor on whether the
// probes were generated serially (small batches) or in parallel (16x16x3 in batches of 256 is
// above parallelMinValues).
func TestHSJDeterminism(t *testing.T) {
	m := newLinearModel(51, 4, 16*16*3, 3)
	imgs := randomImages(51, 12, 16, 16, 3, 0.2, 0.8)
	labels := modelLabels(m, imgs)
	run := func(seed uint64, batch int) []Outcome {
		t.Helper()
		outs, err := HopSkipJump(t.Context(), m, imgs, labels, HSJConfig{Epsilon: math.Inf(1), MaxQueries: 400, Seed: seed, MaxBatch: batch})
		if err != nil {
			t.Fatal(err)
		}
		return outs
	}
	ref := run(7, 0)
	for _, batch := range []int{0, 1, 33, 5000} {
		if diff := diffOutcomes(ref, run(7, batch)); diff != "" {
			t.Errorf("seed 7, batch %d: %s", batch, diff)
		}
	}
	if diffOutcomes(ref, run(8, 0)) == "" {
		t.Errorf("seeds 7 and 8 gave identical outcomes for all %d images", len(imgs))
	}
}

// checkCurve: the L2 curve only falls as the budget grows and ends at the median distance of what
// was returned.
func checkCurve(t *testing.T, outs []Outcome, budget int) {
	t.Helper()
	budgets := Budgets(budget)
	curve := L2Curve(outs, budgets)
	for j := 1; j < len(curve); j++ {
		if curve[j] > curve[j-1] {
			t.Errorf("L2 curve rises from %g at %d to %g at %d queries", curve[j-1], budgets[j-1], curve[j], budgets[j])
		}
	}
	var final []float64
	for _, o := range outs {
		if !o.Skipped {
			d := math.Inf(1)
			if o.Adversarial != nil {
				d = o.L2
			}
			final = append(final, d)
		}
	}
	if last := curve[len(curve)-1]; last != median(final) {
		t.Errorf("L2 curve ends at %g, the returned images' median is %g", last, median(final))
	}
	t.Logf("L2 curve at %v: %.3f", budgets, curve)
}

// TestHSJCheckpoints: HopSkipJump delivers before crossing each budget of the curve, so the curve
// improves from budget to budget instead of jumping at the end.
func TestHSJCheckpoints(t *testing.T) {
	m := newLinearModel(71, 5, 64, 3)
	imgs := make([]*imaging.Float, 20)
	for i, img := range randomImages(71, len(imgs), 8, 8, 1, 0.2, 0.8) {
		imgs[i] = img.Bytes().Float()
	}
	labels := modelLabels(m, imgs)
	const budget = 3000
	outs, err := HopSkipJump(t.Context(), m, imgs, labels, HSJConfig{Epsilon: math.Inf(1), MaxQueries: budget, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkAdversarials(t, m, imgs, outs)
	checkCurve(t, outs, budget)
	for i, o := range outs {
		for _, q := range []int{300, 1000} {
			if at := o.L2At(q); !(at > o.L2) {
				t.Errorf("image %d: L2 %g at %d queries, %g at the end: no delivery in between", i, at, q, o.L2)
			}
		}
		if !o.Success || !o.RawSuccess || o.SuccessQueries > 30 || o.FinalQueries < budget-2*deliverTries {
			t.Errorf("image %d: success %v/%v at %d queries, final at %d: want an early first success and a late final point",
				i, o.Success, o.RawSuccess, o.SuccessQueries, o.FinalQueries)
		}
	}
}

// TestSignProbe: probes are cur +- a per value with independent, balanced signs, clipped to the
// image range, and the same stream gives the same probes.
func TestSignProbe(t *testing.T) {
	const d, a = 1000, float32(0.01)
	cur := make([]float32, d)
	for i := range cur {
		cur[i] = []float32{0, 0.5, 1, 0.005}[i%4]
	}
	dst, again := make([]float32, d), make([]float32, d)
	src := imageSource(4, 2)
	plus, pairs := 0, 0
	prev := make([]float32, d)
	var c probeCorners
	c.set(cur, a)
	for probe := range 200 {
		signProbe(src, &c, dst)
		for i, v := range dst {
			up, down := min(cur[i]+a, 1), max(cur[i]-a, 0)
			if v != up && v != down {
				t.Fatalf("probe %d value %d: %g from %g, want %g or %g", probe, i, v, cur[i], down, up)
			}
			if cur[i] == 0.5 {
				if v == up {
					plus++
				}
				if probe > 0 && (v == up) == (prev[i] == min(cur[i]+a, 1)) {
					pairs++
				}
			}
		}
		copy(prev, dst)
	}
	// 250 middle values x 200 probes: a fair sign lands within 3% of half.
	if n := 250 * 200; math.Abs(float64(plus)/float64(n)-0.5) > 0.03 {
		t.Errorf("%d of %d signs positive", plus, n)
	}
	if n := 250 * 199; math.Abs(float64(pairs)/float64(n)-0.5) > 0.03 {
		t.Errorf("%d of %d consecutive probes agree in sign: not independent", pairs, n)
	}
	signProbe(imageSource(4, 2), &c, dst)
	signProbe(imageSource(4, 2), &c, again)
	if !slices.Equal(dst, again) {
		t.Errorf("the same stream gave different probes")
	}
}
