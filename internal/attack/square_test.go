package attack

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

// shapes covers gray and RGB, square and not.
var shapes = []struct {
	name    string
	w, h, c int
}{
	{"gray 8x8", 8, 8, 1},
	{"rgb 7x5", 7, 5, 3},
}

// TestSquareLinear checks Square against the exact L-inf flip radius of a linear model: below
// every image's radius no attack can succeed, and well above it Square should break nearly all.
func TestSquareLinear(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			d := sh.w * sh.h * sh.c
			m := newLinearModel(11, 5, d, 3)
			// Images almost on the boundary would make "below every radius" trivially small.
			var imgs []*imaging.Float
			var labels []int
			var radii []float64
			for _, img := range randomImages(11, 100, sh.w, sh.h, sh.c, 0, 1) {
				label := m.label(img)
				if r := m.minLinfFlip(img, label); r >= 0.02 {
					imgs, labels, radii = append(imgs, img), append(labels, label), append(radii, r)
				}
			}
			lowest, highest := slices.Min(radii), slices.Max(radii)
			if len(imgs) < 30 || math.IsInf(highest, 1) || highest > 0.5 {
				t.Fatalf("fixture: %d images, radii %g..%g: want 30 images and radii where both tests mean something", len(imgs), lowest, highest)
			}
			// clearRate is the share of the images whose radius is at most eps/1.5 that must be
			// broken; images whose radius exceeds eps must never be.
			tests := []struct {
				name        string
				eps         float64
				clearRate   float64
				fullBudgets bool
			}{
				{"below every radius", 0.9 * lowest, 0, true},
				{"median radius", median(radii), 0.9, false},
				{"generous", 1.5 * highest, 0.9, false},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					const budget = 1000
					counter := &countingOracle{Oracle: m}
					cfg := SquareConfig{Epsilon: tt.eps, MaxQueries: budget, Seed: 42, PInit: 0.3}
					outs, err := Square(t.Context(), counter, imgs, labels, cfg)
					if err != nil {
						t.Fatal(err)
					}
					var clear, clearBroken int
					for i, o := range outs {
						if o.Success && tt.eps < radii[i] {
							t.Errorf("image %d broken at eps %g below its exact radius %g", i, tt.eps, radii[i])
						}
						if 1.5*radii[i] <= tt.eps {
							clear++
							if o.Success {
								clearBroken++
							}
						}
						if tt.fullBudgets && o.Queries != budget {
							t.Errorf("image %d: %d queries, want the whole budget %d", i, o.Queries, budget)
						}
						if o.Queries > budget {
							t.Errorf("image %d: %d queries over the budget %d", i, o.Queries, budget)
						}
						if o.Adversarial != nil && o.Linf > tt.eps+1e-6 {
							t.Errorf("image %d: Linf %g outside the ball %g", i, o.Linf, tt.eps)
						}
					}
					if clear > 0 && float64(clearBroken) < tt.clearRate*float64(clear) {
						t.Errorf("broke %d of the %d images with radius <= eps/1.5, want >= %.0f%%", clearBroken, clear, 100*tt.clearRate)
					}
					s := Summarize(outs)
					checkAdversarials(t, m, imgs, outs)
					if got := sumQueries(outs); got != counter.images {
						t.Errorf("outcomes count %d queries, oracle received %d images", got, counter.images)
					}
					t.Logf("eps %.4f: success %.3f, median queries %.0f, mean %.1f, oracle calls %d",
						tt.eps, s.SuccessRate, s.MedianQueries, s.MeanQueries, counter.calls)
				})
			}
		})
	}
}

// TestSquareControls: attacks that cannot work must report failure and spend exactly what the
// rules say.
func TestSquareControls(t *testing.T) {
	imgs := randomImages(2, 6, 5, 5, 3, 0, 1)
	t.Run("oracle ignores input", func(t *testing.T) {
		o := &countingOracle{Oracle: constOracle{row: []float32{0.2, 0.5, 0.3}}}
		labels := []int{1, 1, 1, 1, 1, 1}
		outs, err := Square(t.Context(), o, imgs, labels, SquareConfig{Epsilon: 1, MaxQueries: 57})
		if err != nil {
			t.Fatal(err)
		}
		for i, out := range outs {
			if out.Success || out.Adversarial != nil || out.Queries != 57 || out.AdvLabel != 1 {
				t.Errorf("image %d: %+v, want failure after all 57 queries", i, out)
			}
		}
		// One candidate per image per round, all images in one call: calls == rounds == budget.
		if o.calls != 57 || o.images != 6*57 || o.maxBatch != 6 {
			t.Errorf("oracle saw %d calls, %d images, batches up to %d; want 57, %d, 6", o.calls, o.images, o.maxBatch, 6*57)
		}
	})
	t.Run("tiny budgets", func(t *testing.T) {
		m := newLinearModel(2, 3, 75, 3)
		labels := modelLabels(m, imgs)
		for _, budget := range []int{1, 2, 3} {
			counter := &countingOracle{Oracle: m}
			outs, err := Square(t.Context(), counter, imgs, labels, SquareConfig{Epsilon: 1, MaxQueries: budget})
			if err != nil {
				t.Fatal(err)
			}
			checkAdversarials(t, m, imgs, outs)
			for i, out := range outs {
				// At epsilon 1 the stripes (query 2) already break nearly anything.
				if out.Queries > budget || (budget == 1 && out.Success) {
					t.Errorf("budget %d, image %d: %+v", budget, i, out)
				}
			}
			if got := sumQueries(outs); got != counter.images {
				t.Errorf("budget %d: outcomes count %d queries, oracle received %d", budget, got, counter.images)
			}
		}
	})
	t.Run("epsilon zero", func(t *testing.T) {
		m := newLinearModel(2, 3, 75, 3)
		labels := modelLabels(m, imgs)
		outs, err := Square(t.Context(), m, imgs, labels, SquareConfig{Epsilon: 0})
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

// TestSquareBatching: the batch size changes how queries travel, never what is asked or found;
// every image is asked exactly what its outcome counts, and a broken image is never asked again.
func TestSquareBatching(t *testing.T) {
	m := newLinearModel(8, 4, 48, 3)
	imgs := randomImages(8, 30, 4, 4, 3, 0, 1)
	labels := modelLabels(m, imgs)
	cfg := SquareConfig{Epsilon: 0.12, MaxQueries: 300, Seed: 9}
	var ref []Outcome
	for _, batch := range []int{1, 7, 30, 1000} {
		counter := &countingOracle{Oracle: m}
		cfg.MaxBatch = batch
		outs, err := Square(t.Context(), counter, imgs, labels, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := sumQueries(outs); got != counter.images {
			t.Errorf("batch %d: outcomes count %d queries, oracle received %d", batch, got, counter.images)
		}
		if counter.maxBatch > batch {
			t.Errorf("batch %d: oracle got a call with %d images", batch, counter.maxBatch)
		}
		if batch >= len(imgs) {
			// One round per query of the longest-running image: early stopping means a broken
			// image leaves the rounds, so no image is queried after its success.
			longest := 0
			for _, o := range outs {
				longest = max(longest, o.Queries)
			}
			if counter.calls != longest {
				t.Errorf("batch %d: %d oracle calls, want %d (one per round)", batch, counter.calls, longest)
			}
		}
		if ref == nil {
			ref = outs
			if s := Summarize(outs); s.Succeeded == 0 || s.Succeeded == s.Attacked {
				t.Fatalf("fixture: %d of %d broken; want a mix so that outcomes differ", s.Succeeded, s.Attacked)
			}
			continue
		}
		if diff := diffOutcomes(ref, outs); diff != "" {
			t.Errorf("batch %d changed outcomes: %s", batch, diff)
		}
	}
}

func TestSquareSeeds(t *testing.T) {
	m := newLinearModel(4, 4, 64, 3)
	imgs := randomImages(4, 20, 8, 8, 1, 0, 1)
	labels := modelLabels(m, imgs)
	run := func(seed uint64) []Outcome {
		t.Helper()
		outs, err := Square(t.Context(), m, imgs, labels, SquareConfig{Epsilon: 0.2, MaxQueries: 500, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return outs
	}
	a, b, c := run(1), run(1), run(2)
	if diff := diffOutcomes(a, b); diff != "" {
		t.Errorf("same seed, different outcomes: %s", diff)
	}
	if diffOutcomes(a, c) == "" {
		t.Errorf("seeds 1 and 2 gave identical outcomes for all %d images", len(imgs))
	}
}

// diffOutcomes describes the first difference between two runs ("" when identical), comparing
// adversarial images bit for bit.
func diffOutcomes(a, b []Outcome) string {
	if len(a) != len(b) {
		return "different lengths"
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Success != y.Success || x.Skipped != y.Skipped || x.Queries != y.Queries || x.AdvLabel != y.AdvLabel ||
			x.Linf != y.Linf || x.L2 != y.L2 || (x.Adversarial == nil) != (y.Adversarial == nil) {
			return fmt.Sprintf("image %d: %+v vs %+v", i, x, y)
		}
		if x.Adversarial != nil && !samePixels(x.Adversarial, y.Adversarial) {
			return fmt.Sprintf("image %d: adversarial pixels differ", i)
		}
	}
	return ""
}

func samePixels(a, b *imaging.Float) bool {
	if a.Width != b.Width || a.Height != b.Height || a.Channels != b.Channels {
		return false
	}
	for i, v := range a.Pix {
		if math.Float32bits(v) != math.Float32bits(b.Pix[i]) {
			return false
		}
	}
	return true
}

func TestSquareSchedule(t *testing.T) {
	tests := []struct {
		it, n int
		want  float64
	}{
		{0, 1000, 0.8},
		{1, 1000, 0.8},        // 10/10000 of the run: still the initial size
		{2, 1000, 0.4},        // 20/10000
		{100, 1000, 0.8 / 16}, // 1000/10000
		{101, 1000, 0.8 / 32},
		{999, 1000, 0.8 / 512},
		{5, 10000, 0.8},
		{9000, 10000, 0.8 / 512},
	}
	for _, tt := range tests {
		if got := squareFraction(0.8, tt.it, tt.n); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("squareFraction(0.8, %d, %d) = %g, want %g", tt.it, tt.n, got, tt.want)
		}
	}
	sides := []struct {
		p    float64
		w, h int
		want int
	}{
		{0.05, 28, 28, 6}, // sqrt(0.05*784) = 6.26
		{0.8, 28, 28, 25},
		{1, 28, 28, 27},   // never the whole image
		{1e-6, 28, 28, 1}, // at least one pixel
		{0.5, 40, 10, 10 - 1},
		{0.5, 1, 9, 1},
	}
	for _, tt := range sides {
		if got := squareSide(tt.p, tt.w, tt.h); got != tt.want {
			t.Errorf("squareSide(%g, %d, %d) = %d, want %d", tt.p, tt.w, tt.h, got, tt.want)
		}
	}
}

// TestVertices: Square's corners are the farthest 8-bit values inside the ball and the image
// range, on both sides, whether or not the clean value is itself on the grid.
func TestVertices(t *testing.T) {
	b := func(k int) float32 { return float32(k) / 255 }
	tests := []struct {
		name   string
		x      float32
		eps    float64
		lo, hi float32
	}{
		{"8/255 exactly", b(100), 8.0 / 255, b(92), b(108)},
		{"0.3 is 76.5/255: 76 steps", b(100), 0.3, b(24), b(176)},
		{"clipped below", b(3), 8.0 / 255, 0, b(11)},
		{"clipped above", b(250), 8.0 / 255, b(242), 1},
		{"under one step: no move", b(100), 0.5 / 255, b(100), b(100)},
		{"off the grid", 0.5, 0.01, b(125), b(130)}, // 127.5 -/+ 2.55 steps
		{"off the grid, no value inside", 0.5, 0.001, b(128), b(128)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := imaging.NewFloat(1, 1, 1)
			x.Pix[0] = tt.x
			v := newVertices(x, tt.eps)
			if v.lo[0] != tt.lo || v.hi[0] != tt.hi {
				t.Errorf("corners %g..%g (x%g), want %g..%g (x%g)", v.lo[0], v.hi[0], 255*v.lo[0], tt.lo, tt.hi, 255*tt.lo)
			}
			for _, c := range []float32{v.lo[0], v.hi[0]} {
				if quantize(c) != c || math.Abs(float64(c)-float64(tt.x)) > max(tt.eps, 0.5/255)+1e-6 {
					t.Errorf("corner %g is off the grid or outside the ball", c)
				}
			}
		})
	}
}

// TestSquareDeliverable: every image Square sends is an 8-bit image, so each success is exactly
// what a saved file would hold, and the budget is still respected after rounding.
func TestSquareDeliverable(t *testing.T) {
	m := newLinearModel(61, 4, 12*12*3, 3)
	imgs := make([]*imaging.Float, 40)
	for i, img := range randomImages(61, len(imgs), 12, 12, 3, 0, 1) {
		imgs[i] = img.Bytes().Float() // clean images come from files too
	}
	labels := modelLabels(m, imgs)
	sent := 0
	o := funcOracle(func(ctx context.Context, batch []*imaging.Float) ([][]float32, error) {
		for _, img := range batch {
			if !quantized(img) {
				t.Errorf("Square sent an image off the 8-bit grid")
				break
			}
		}
		sent += len(batch)
		return m.Probs(ctx, batch)
	})
	const eps = 0.3
	outs, err := Square(t.Context(), o, imgs, labels, SquareConfig{Epsilon: eps, MaxQueries: 300, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	checkAdversarials(t, m, imgs, outs)
	s := Summarize(outs)
	if s.Succeeded < len(imgs)/2 || s.Succeeded != s.RawSucceeded {
		t.Errorf("%d successes, %d unrounded, of %d: want most, and the same", s.Succeeded, s.RawSucceeded, len(imgs))
	}
	for i, o := range outs {
		if o.Success && (o.Linf > 76.0/255+1e-7 || o.SuccessQueries != o.Queries) {
			t.Errorf("image %d: L-inf %g (budget 76/255), success at %d of %d queries", i, o.Linf, o.SuccessQueries, o.Queries)
		}
	}
	if sent != sumQueries(outs) {
		t.Errorf("oracle received %d images, outcomes count %d", sent, sumQueries(outs))
	}
}

// TestAttackInParts: a sample attacked in consecutive parts, each with FirstIndex set to where it
// starts, gives every image the outcome it gets when the whole sample is attacked at once, for
// both attacks (robust.adversarial grows its sample look by look this way); without FirstIndex
// the parts would repeat the first images' random draws.
func TestAttackInParts(t *testing.T) {
	m := newLinearModel(8, 4, 48, 3)
	imgs := randomImages(8, 20, 4, 4, 3, 0.1, 0.9)
	labels := modelLabels(m, imgs)
	attacks := []struct {
		name string
		run  func(imgs []*imaging.Float, labels []int, first int) ([]Outcome, error)
	}{
		{"square", func(imgs []*imaging.Float, labels []int, first int) ([]Outcome, error) {
			return Square(t.Context(), m, imgs, labels, SquareConfig{Epsilon: 0.12, MaxQueries: 200, Seed: 3, FirstIndex: first})
		}},
		{"hopskipjump", func(imgs []*imaging.Float, labels []int, first int) ([]Outcome, error) {
			return HopSkipJump(t.Context(), m, imgs, labels, HSJConfig{Epsilon: 0.6, MaxQueries: 200, Seed: 3, FirstIndex: first})
		}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			whole, err := a.run(imgs, labels, 0)
			if err != nil {
				t.Fatal(err)
			}
			var parts []Outcome
			for _, cut := range [][2]int{{0, 5}, {5, 12}, {12, 20}} {
				outs, err := a.run(imgs[cut[0]:cut[1]], labels[cut[0]:cut[1]], cut[0])
				if err != nil {
					t.Fatal(err)
				}
				parts = append(parts, outs...)
			}
			if diff := diffOutcomes(whole, parts); diff != "" {
				t.Errorf("parts differ from the whole: %s", diff)
			}
			// The same parts without FirstIndex draw the first images' streams again.
			second, err := a.run(imgs[5:12], labels[5:12], 0)
			if err != nil {
				t.Fatal(err)
			}
			if diffOutcomes(whole[5:12], second) == "" {
				t.Errorf("without FirstIndex the second part matched the whole too: the test cannot tell streams apart")
			}
		})
	}
}
