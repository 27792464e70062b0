package attack

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

// linearModel is a softmax classifier z = W x + b over the flattened pixels. Its decision regions
// are polytopes, so the smallest perturbation that changes its label has a closed form that the
// tests compare the attacks against.
type linearModel struct {
	w [][]float64 // [class][pixel]
	b []float64
}

func newLinearModel(seed uint64, classes, d int, scale float64) *linearModel {
	rng := rand.New(rand.NewPCG(seed, 99))
	m := &linearModel{w: make([][]float64, classes), b: make([]float64, classes)}
	for k := range m.w {
		m.w[k] = make([]float64, d)
		for i := range m.w[k] {
			m.w[k][i] = rng.NormFloat64() * scale / math.Sqrt(float64(d))
		}
		m.b[k] = rng.NormFloat64() * 0.1
	}
	return m
}

func (m *linearModel) logits(img *imaging.Float) []float64 {
	z := make([]float64, len(m.w))
	for k, wk := range m.w {
		z[k] = m.b[k]
		for i, v := range img.Pix {
			z[k] += wk[i] * float64(v)
		}
	}
	return z
}

func (m *linearModel) label(img *imaging.Float) int {
	z := m.logits(img)
	best := 0
	for k := range z {
		if z[k] > z[best] {
			best = k
		}
	}
	return best
}

func (m *linearModel) Probs(_ context.Context, imgs []*imaging.Float) ([][]float32, error) {
	out := make([][]float32, len(imgs))
	for n, img := range imgs {
		z := m.logits(img)
		top := math.Inf(-1)
		for _, v := range z {
			top = max(top, v)
		}
		var sum float64
		for _, v := range z {
			sum += math.Exp(v - top)
		}
		row := make([]float32, len(z))
		for k, v := range z {
			row[k] = float32(math.Exp(v-top) / sum)
		}
		out[n] = row
	}
	return out, nil
}

// minLinfFlip is the smallest L-inf radius at which some image in the ball around img, inside
// [0,1], is not classified as label: for each rival k the largest achievable drop of z_y - z_k at
// radius eps moves every pixel against (w_y - w_k) as far as both the radius and the range allow;
// that drop grows with eps, so the radius is found by bisection.
func (m *linearModel) minLinfFlip(img *imaging.Float, label int) float64 {
	z := m.logits(img)
	flippable := func(eps float64) bool {
		for k := range m.w {
			if k == label {
				continue
			}
			var drop float64
			for i, v := range img.Pix {
				a := m.w[label][i] - m.w[k][i]
				if a > 0 {
					drop += a * min(eps, float64(v))
				} else {
					drop += -a * min(eps, 1-float64(v))
				}
			}
			if drop >= z[label]-z[k] {
				return true
			}
		}
		return false
	}
	lo, hi := 0.0, 1.0
	if !flippable(hi) {
		return math.Inf(1)
	}
	for range 60 {
		mid := (lo + hi) / 2
		if flippable(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// minL2Flip is the L2 distance from img to the nearest facet of its class's polytope, ignoring the
// [0,1] range: a lower bound on any L2 adversarial perturbation.
func (m *linearModel) minL2Flip(img *imaging.Float, label int) float64 {
	z := m.logits(img)
	best := math.Inf(1)
	for k := range m.w {
		if k == label {
			continue
		}
		var norm float64
		for i := range m.w[k] {
			a := m.w[label][i] - m.w[k][i]
			norm += a * a
		}
		best = min(best, (z[label]-z[k])/math.Sqrt(norm))
	}
	return best
}

// randomImages returns n images with values in [lo,hi].
func randomImages(seed uint64, n, w, h, c int, lo, hi float32) []*imaging.Float {
	rng := rand.New(rand.NewPCG(seed, 7))
	imgs := make([]*imaging.Float, n)
	for i := range imgs {
		imgs[i] = imaging.NewFloat(w, h, c)
		for j := range imgs[i].Pix {
			imgs[i].Pix[j] = lo + (hi-lo)*rng.Float32()
		}
	}
	return imgs
}

// modelLabels labels every image with the model's own prediction, so every image is correctly
// classified.
func modelLabels(m *linearModel, imgs []*imaging.Float) []int {
	labels := make([]int, len(imgs))
	for i, img := range imgs {
		labels[i] = m.label(img)
	}
	return labels
}

// countingOracle records what reaches the wrapped oracle.
type countingOracle struct {
	Oracle
	mu       sync.Mutex
	images   int
	calls    int
	maxBatch int
}

func (c *countingOracle) Probs(ctx context.Context, imgs []*imaging.Float) ([][]float32, error) {
	c.mu.Lock()
	c.images += len(imgs)
	c.calls++
	c.maxBatch = max(c.maxBatch, len(imgs))
	c.mu.Unlock()
	return c.Oracle.Probs(ctx, imgs)
}

// constOracle ignores its input: no perturbation can change its answer.
type constOracle struct{ row []float32 }

func (c constOracle) Probs(_ context.Context, imgs []*imaging.Float) ([][]float32, error) {
	out := make([][]float32, len(imgs))
	for i := range out {
		out[i] = append([]float32(nil), c.row...)
	}
	return out, nil
}

// funcOracle adapts a function, for oracles that misbehave.
type funcOracle func(ctx context.Context, imgs []*imaging.Float) ([][]float32, error)

func (f funcOracle) Probs(ctx context.Context, imgs []*imaging.Float) ([][]float32, error) {
	return f(ctx, imgs)
}

func sumQueries(outs []Outcome) int {
	n := 0
	for _, o := range outs {
		n += o.Queries
	}
	return n
}

// checkAdversarials verifies what every attack promises about its outcomes: adversarials are on
// the 8-bit grid, misclassified by the oracle, and their reported distances are the real ones;
// the trace ends at the returned image, only improves, and its query counts are consistent.
func checkAdversarials(t *testing.T, o Oracle, imgs []*imaging.Float, outs []Outcome) {
	t.Helper()
	for i, out := range outs {
		if out.Adversarial == nil {
			if out.Success || len(out.Trace) > 0 || out.FinalQueries != 0 || out.SuccessQueries != 0 {
				t.Errorf("image %d: success %v, trace %v, queries %d/%d without an adversarial image", i, out.Success, out.Trace, out.SuccessQueries, out.FinalQueries)
			}
			continue
		}
		if !quantized(out.Adversarial) {
			t.Errorf("image %d: adversarial image is not on the 8-bit grid", i)
		}
		p, err := o.Probs(t.Context(), []*imaging.Float{out.Adversarial.Bytes().Float()})
		if err != nil {
			t.Fatal(err)
		}
		if got := predict(p[0]); got == out.Label || got != out.AdvLabel {
			t.Errorf("image %d: adversarial re-evaluated as %d; label %d, reported %d", i, got, out.Label, out.AdvLabel)
		}
		var linf, sum float64
		for j, v := range out.Adversarial.Pix {
			d := math.Abs(float64(v) - float64(imgs[i].Pix[j]))
			linf = max(linf, d)
			sum += d * d
		}
		if math.Abs(linf-out.Linf) > 1e-9 || math.Abs(math.Sqrt(sum)-out.L2) > 1e-9 {
			t.Errorf("image %d: reported Linf %g L2 %g, actual %g %g", i, out.Linf, out.L2, linf, math.Sqrt(sum))
		}
		if n := len(out.Trace); n == 0 || out.Trace[n-1] != (Point{Queries: out.FinalQueries, L2: out.L2, Linf: out.Linf}) {
			t.Errorf("image %d: trace %v does not end at the returned image (%d queries, L2 %g)", i, out.Trace, out.FinalQueries, out.L2)
		}
		for k := 1; k < len(out.Trace); k++ {
			if out.Trace[k].Queries <= out.Trace[k-1].Queries || out.Trace[k].L2 >= out.Trace[k-1].L2 {
				t.Errorf("image %d: trace %v does not improve at every step", i, out.Trace)
				break
			}
		}
		if out.FinalQueries > out.Queries || out.Success && (out.SuccessQueries < 1 || out.SuccessQueries > out.FinalQueries) {
			t.Errorf("image %d: queries to success %d, to final %d, spent %d", i, out.SuccessQueries, out.FinalQueries, out.Queries)
		}
	}
}

func TestBudgets(t *testing.T) {
	tests := []struct {
		max  int
		want []int
	}{
		{0, nil},
		{1, []int{1}},
		{10, []int{10}},
		{11, []int{10, 11}},
		{300, []int{10, 30, 100, 300}},
		{2389, []int{10, 30, 100, 300, 1000, 2389}},
		{24500, []int{10, 30, 100, 300, 1000, 3000, 10000, 24500}},
	}
	for _, tt := range tests {
		if got := Budgets(tt.max); !slices.Equal(got, tt.want) {
			t.Errorf("Budgets(%d) = %v, want %v", tt.max, got, tt.want)
		}
	}
}

func TestL2Curve(t *testing.T) {
	inf := math.Inf(1)
	outs := []Outcome{
		{Trace: []Point{{Queries: 5, L2: 9}, {Queries: 50, L2: 4}, {Queries: 400, L2: 2}}},
		{Trace: []Point{{Queries: 20, L2: 6}, {Queries: 900, L2: 1}}},
		{}, // never found one
		{Skipped: true, Trace: []Point{{Queries: 1, L2: 100}}},
	}
	tests := []struct {
		q    int
		at0  float64
		want float64
	}{
		{4, inf, inf},  // nobody has one
		{5, 9, inf},    // one of three
		{20, 9, 9},     // 9, 6, inf
		{50, 4, 6},     // 4, 6, inf
		{1000, 2, 2},   // 2, 1, inf
		{100000, 2, 2}, // nothing after the last point
	}
	for _, tt := range tests {
		if got := outs[0].L2At(tt.q); got != tt.at0 {
			t.Errorf("L2At(%d) = %g, want %g", tt.q, got, tt.at0)
		}
		if got := L2Curve(outs, []int{tt.q})[0]; got != tt.want {
			t.Errorf("L2Curve at %d = %g, want %g", tt.q, got, tt.want)
		}
	}
	if v := outs[3].L2At(10); !math.IsNaN(v) {
		t.Errorf("L2At of a skipped image = %g, want NaN", v)
	}
	if v := L2Curve(outs[3:], []int{10})[0]; !math.IsNaN(v) {
		t.Errorf("L2Curve with nothing attacked = %g, want NaN", v)
	}
}

func TestQuantize(t *testing.T) {
	tests := []struct{ in, want float32 }{
		{0, 0}, {1, 1}, {-0.2, 0}, {1.5, 1}, {float32(math.NaN()), 0},
		{0.5, 128.0 / 255}, {0.4999, 127.0 / 255}, {3.0 / 255, 3.0 / 255}, {3.49 / 255, 3.0 / 255}, {3.51 / 255, 4.0 / 255},
	}
	for _, tt := range tests {
		got := quantize(tt.in)
		if got != tt.want {
			t.Errorf("quantize(%g) = %g, want %g", tt.in, got, tt.want)
		}
		if quantize(got) != got {
			t.Errorf("quantize(%g) = %g is not a fixed point", tt.in, got)
		}
		m := imaging.NewFloat(1, 1, 1)
		m.Pix[0] = got
		if back := m.Bytes().Float().Pix[0]; back != got {
			t.Errorf("quantize(%g) = %g does not survive an 8-bit round trip (%g)", tt.in, got, back)
		}
	}
}

func TestPredictAndMargin(t *testing.T) {
	tests := []struct {
		name   string
		p      []float32
		label  int
		pred   int
		margin float64 // sign only
	}{
		{"clear", []float32{0.1, 0.7, 0.2}, 1, 1, 1},
		{"wrong", []float32{0.1, 0.2, 0.7}, 1, 2, -1},
		{"tie goes to first", []float32{0.5, 0.5}, 1, 0, 0},
		{"NaN never wins", []float32{float32(math.NaN()), 0.4, 0.6}, 2, 2, 1},
		{"saturated", []float32{1, 0, 0}, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := predict(tt.p); got != tt.pred {
				t.Errorf("predict = %d, want %d", got, tt.pred)
			}
			m := margin(tt.p, tt.label)
			if math.IsInf(m, 0) || math.IsNaN(m) || math.Signbit(m) != math.Signbit(tt.margin) || (tt.margin == 0) != (m == 0) {
				t.Errorf("margin = %g, want sign of %g", m, tt.margin)
			}
		})
	}
}

func TestInputErrors(t *testing.T) {
	good := randomImages(1, 1, 4, 4, 1, 0, 1)
	bad := good[0].Clone()
	bad.Pix[3] = 1.5
	short := good[0].Clone()
	short.Pix = short.Pix[:5]
	oracle := constOracle{row: []float32{0.9, 0.1}}
	tests := []struct {
		name    string
		imgs    []*imaging.Float
		labels  []int
		square  SquareConfig
		hsj     HSJConfig
		wantErr string
	}{
		{"length mismatch", good, []int{0, 1}, SquareConfig{Epsilon: 0.1}, HSJConfig{Epsilon: 1}, "1 images but 2 labels"},
		{"nil image", []*imaging.Float{nil}, []int{0}, SquareConfig{Epsilon: 0.1}, HSJConfig{Epsilon: 1}, "image 0: nil"},
		{"out of range", []*imaging.Float{bad}, []int{0}, SquareConfig{Epsilon: 0.1}, HSJConfig{Epsilon: 1}, "outside [0,1]"},
		{"short pixels", []*imaging.Float{short}, []int{0}, SquareConfig{Epsilon: 0.1}, HSJConfig{Epsilon: 1}, "with 5 values"},
		{"negative label", good, []int{-1}, SquareConfig{Epsilon: 0.1}, HSJConfig{Epsilon: 1}, "negative label"},
		{"label beyond classes", good, []int{2}, SquareConfig{Epsilon: 0.1}, HSJConfig{Epsilon: 1}, "2 classes cannot hold label 2"},
		{"negative epsilon", good, []int{0}, SquareConfig{Epsilon: -0.1}, HSJConfig{Epsilon: -1}, "epsilon"},
		{"NaN epsilon", good, []int{0}, SquareConfig{Epsilon: math.NaN()}, HSJConfig{Epsilon: math.NaN()}, "epsilon"},
		{"negative budget", good, []int{0}, SquareConfig{Epsilon: 0.1, MaxQueries: -1}, HSJConfig{Epsilon: 1, MaxQueries: -1}, "max queries"},
		{"negative batch", good, []int{0}, SquareConfig{Epsilon: 0.1, MaxBatch: -1}, HSJConfig{Epsilon: 1, MaxBatch: -1}, "max batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Square(t.Context(), oracle, tt.imgs, tt.labels, tt.square)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Square error = %v, want it to contain %q", err, tt.wantErr)
			}
			_, err = HopSkipJump(t.Context(), oracle, tt.imgs, tt.labels, tt.hsj)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("HopSkipJump error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	imgs := randomImages(1, 1, 4, 4, 1, 0, 1)
	oracle := constOracle{row: []float32{0.9, 0.1}}
	squares := []struct {
		cfg     SquareConfig
		wantErr string
	}{
		{SquareConfig{Epsilon: math.Inf(1)}, "epsilon"},
		{SquareConfig{Epsilon: 0.1, PInit: 1.5}, "p_init"},
		{SquareConfig{Epsilon: 0.1, PInit: -0.1}, "p_init"},
	}
	for _, tt := range squares {
		if _, err := Square(t.Context(), oracle, imgs, []int{0}, tt.cfg); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Square(%+v) error = %v, want %q", tt.cfg, err, tt.wantErr)
		}
	}
	hsjs := []struct {
		cfg     HSJConfig
		wantErr string
	}{
		{HSJConfig{Epsilon: 1, InitEvals: 200, MaxEvals: 100}, "evaluations"},
		{HSJConfig{Epsilon: 1, Tolerance: 1}, "tolerance"},
		{HSJConfig{Epsilon: 1, MaxIter: -1}, "iterations"},
		{HSJConfig{Epsilon: 1, InitTries: -1}, "init tries"},
	}
	for _, tt := range hsjs {
		if _, err := HopSkipJump(t.Context(), oracle, imgs, []int{0}, tt.cfg); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("HopSkipJump(%+v) error = %v, want %q", tt.cfg, err, tt.wantErr)
		}
	}
}

func TestOracleFaults(t *testing.T) {
	imgs := randomImages(1, 3, 4, 4, 1, 0, 1)
	labels := []int{0, 0, 0}
	boom := errors.New("boom")
	tests := []struct {
		name    string
		oracle  Oracle
		wantErr string
		wantIs  error
	}{
		{"error", funcOracle(func(context.Context, []*imaging.Float) ([][]float32, error) { return nil, boom }), "query oracle with 3 images", boom},
		{"missing rows", funcOracle(func(context.Context, []*imaging.Float) ([][]float32, error) {
			return [][]float32{{1, 0}}, nil
		}), "got 1 probability rows", nil},
		{"one class", funcOracle(func(_ context.Context, imgs []*imaging.Float) ([][]float32, error) {
			return make([][]float32, len(imgs)), nil
		}), "0 classes", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for name, run := range map[string]func() error{
				"square": func() error {
					_, err := Square(t.Context(), tt.oracle, imgs, labels, SquareConfig{Epsilon: 0.1})
					return err
				},
				"hsj": func() error {
					_, err := HopSkipJump(t.Context(), tt.oracle, imgs, labels, HSJConfig{Epsilon: 1})
					return err
				},
			} {
				err := run()
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || (tt.wantIs != nil && !errors.Is(err, tt.wantIs)) {
					t.Errorf("%s error = %v, want %q", name, err, tt.wantErr)
				}
			}
		})
	}
}

func TestCanceled(t *testing.T) {
	m := newLinearModel(3, 4, 16, 1)
	imgs := randomImages(3, 4, 4, 4, 1, 0, 1)
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	o := funcOracle(func(ctx context.Context, imgs []*imaging.Float) ([][]float32, error) {
		if calls++; calls == 3 {
			cancel()
		}
		return m.Probs(ctx, imgs)
	})
	// One 8-bit step: too small to break these images, large enough to be tried.
	if _, err := Square(ctx, o, imgs, modelLabels(m, imgs), SquareConfig{Epsilon: 1.0 / 255}); !errors.Is(err, context.Canceled) {
		t.Errorf("Square error = %v, want context.Canceled", err)
	}
	if calls != 3 {
		t.Errorf("oracle called %d times, want 3 (no call after cancel)", calls)
	}
}

// TestSkipsMisclassified: an image the model already gets wrong costs one query and is reported
// as skipped, never as a success with a zero perturbation.
func TestSkipsMisclassified(t *testing.T) {
	m := newLinearModel(5, 4, 36, 4)
	imgs := randomImages(5, 8, 6, 6, 1, 0, 1)
	labels := modelLabels(m, imgs)
	wrong := map[int]bool{1: true, 6: true}
	for i := range wrong {
		labels[i] = (labels[i] + 1) % 4
	}
	run := map[string]func() ([]Outcome, error){
		"square": func() ([]Outcome, error) {
			return Square(t.Context(), m, imgs, labels, SquareConfig{Epsilon: 0.5, Seed: 1})
		},
		"hsj": func() ([]Outcome, error) {
			return HopSkipJump(t.Context(), m, imgs, labels, HSJConfig{Epsilon: 10, Seed: 1})
		},
	}
	for name, attack := range run {
		outs, err := attack()
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range outs {
			if o.Skipped != wrong[i] {
				t.Errorf("%s image %d: skipped %v, want %v", name, i, o.Skipped, wrong[i])
			}
			if wrong[i] && (o.Success || o.Queries != 1 || o.Adversarial != nil || o.AdvLabel != m.label(imgs[i])) {
				t.Errorf("%s image %d: skipped outcome %+v, want 1 query, no success, model's label %d", name, i, o, m.label(imgs[i]))
			}
		}
		if s := Summarize(outs); s.Skipped != 2 || s.Attacked != 6 {
			t.Errorf("%s: summary %+v, want 2 skipped of 8", name, s)
		}
	}
}
