package attack

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/cvgate/cvgate/internal/imaging"
)

// HopSkipJump defaults applied to zero config fields (the paper's values where it has one).
const (
	DefaultInitEvals = 100
	DefaultMaxEvals  = 10000
	DefaultInitTries = 100
	// minTolerance keeps the binary search and the probe radius above float32 resolution: the
	// paper's d^-1.5 would make ImageNet-size probes vanish once pixels are rounded to float32.
	minTolerance = 1e-6
	// maxStepHalvings bounds the geometric step search; 2^-30 of the distance is far below any
	// useful step.
	maxStepHalvings = 30
)

// HSJConfig configures HopSkipJump.
type HSJConfig struct {
	// Epsilon is the L2 budget in [0,1] pixel units: an image is broken, and no longer queried,
	// once a verified adversarial lies within it. math.Inf(1) means no budget: every image runs
	// its whole query budget to minimise L2, and any verified adversarial counts as a success.
	// Zero leaves nothing to try: the attack stops after the clean query.
	Epsilon float64
	// MaxQueries is the per-image query budget, the clean query included (0: DefaultMaxQueries).
	MaxQueries int
	// Seed makes the attack reproducible; each image draws from its own stream of it.
	Seed uint64
	// MaxIter caps the gradient-estimation iterations (0: until the query budget is spent).
	MaxIter int
	// InitEvals is the number of gradient-estimation samples at the first iteration; iteration t
	// uses InitEvals*sqrt(t), at most MaxEvals (0: DefaultInitEvals, DefaultMaxEvals).
	InitEvals, MaxEvals int
	// InitTries caps the random-noise images tried to find a first misclassified image
	// (0: DefaultInitTries).
	InitTries int
	// Tolerance ends each binary search to the boundary once the blend factor between the clean
	// image and the adversarial one is known to within it (0: the paper's d^-1.5, d the number of
	// pixel values, but not below 1e-6). It also sets the probe radius of gradient estimation.
	Tolerance float64
	// MaxBatch caps the images per oracle call (0: DefaultMaxBatch); gradient-estimation samples
	// of all active images are packed into calls of this size.
	MaxBatch int
}

func (c HSJConfig) withDefaults() (HSJConfig, error) {
	if c.MaxQueries == 0 {
		c.MaxQueries = DefaultMaxQueries
	}
	if c.InitEvals == 0 {
		c.InitEvals = DefaultInitEvals
	}
	if c.MaxEvals == 0 {
		c.MaxEvals = DefaultMaxEvals
	}
	if c.InitTries == 0 {
		c.InitTries = DefaultInitTries
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	switch {
	case !(c.Epsilon >= 0):
		return c, fmt.Errorf("check hopskipjump epsilon %g: want >= 0 (+Inf for no budget)", c.Epsilon)
	case c.MaxQueries < 0:
		return c, fmt.Errorf("check hopskipjump max queries %d: want > 0", c.MaxQueries)
	case c.MaxIter < 0:
		return c, fmt.Errorf("check hopskipjump max iterations %d: want >= 0", c.MaxIter)
	case c.InitEvals < 0 || c.MaxEvals < 0 || c.InitEvals > c.MaxEvals:
		return c, fmt.Errorf("check hopskipjump evaluations %d..%d: want 0 < init <= max", c.InitEvals, c.MaxEvals)
	case c.InitTries < 0:
		return c, fmt.Errorf("check hopskipjump init tries %d: want > 0", c.InitTries)
	case !(c.Tolerance >= 0 && c.Tolerance < 1):
		return c, fmt.Errorf("check hopskipjump tolerance %g: want a value in [0,1)", c.Tolerance)
	case c.MaxBatch < 0:
		return c, fmt.Errorf("check hopskipjump max batch %d: want > 0", c.MaxBatch)
	}
	return c, nil
}

// HopSkipJump runs the untargeted L2 HopSkipJump attack (Chen, Jordan and Wainwright, IEEE S&P
// 2020), which sees only the predicted label. It starts from random noise that the model
// misclassifies, binary-searches the line to the clean image for the decision boundary, then
// iterates: estimate the boundary's normal from the labels of random probes around the current
// point (Monte-Carlo, sqrt(t)-growing sample counts), step along it with a geometrically shrinking
// step until the label is still wrong, and binary-search back to the boundary.
//
// Queries per image: 1 for the clean image (images already misclassified are reported Skipped),
// then the search, and 1 at the end to confirm the returned image's label. An image stops once
// it is within Epsilon; the probes of all active images share oracle calls of MaxBatch images.
func HopSkipJump(ctx context.Context, o Oracle, imgs []*imaging.Float, labels []int, cfg HSJConfig) ([]Outcome, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return attackAll(ctx, "hopskipjump", o, imgs, labels, cfg.MaxQueries, cfg.MaxBatch, func(i int, out *Outcome) attack {
		src := imageSource(cfg.Seed, i)
		h := &hsj{cfg: cfg, x: imgs[i], label: labels[i], src: src, rng: rand.New(src), out: out, left: cfg.MaxQueries}
		return h.run
	})
}

// hsj is the state of one image's HopSkipJump attack.
type hsj struct {
	cfg   HSJConfig
	x     *imaging.Float
	label int
	src   *rand.PCG  // for Gaussian probes, which draw from it directly for speed
	rng   *rand.Rand // over src
	out   *Outcome
	left  int // queries left in the budget
	yield func(request) bool

	// Scratch reused across iterations: with cur, cand and best, an image under attack holds
	// about 36 bytes per pixel value.
	benign   []float64
	dir      []float32
	far, mid *imaging.Float
}

// ask sends one image and reports whether the oracle misclassifies it; ok is false when the run
// was stopped.
func (h *hsj) ask(img *imaging.Float) (adv bool, pred int, ok bool) {
	p, ok := askOne(h.yield, img)
	if !ok {
		return false, 0, false
	}
	h.left--
	pred = predict(p)
	return pred != h.label, pred, true
}

func (h *hsj) run(yield func(request) bool) {
	h.yield = yield
	*h.out = Outcome{Label: h.label, AdvLabel: h.label}
	adv, pred, ok := h.ask(h.x)
	if !ok {
		return
	}
	if adv {
		h.out.Skipped, h.out.AdvLabel = true, pred
		return
	}
	if !(h.cfg.Epsilon > 0) {
		return
	}
	best, ok := h.search()
	if !ok || best == nil || h.left < 1 {
		return
	}
	// Every point kept was itself answered adversarial, but the last one lies on the boundary by
	// construction, where an oracle that is not bit-exact between batches could flip: confirm it.
	adv, pred, ok = h.ask(best)
	if !ok || !adv {
		return
	}
	h.out.Adversarial, h.out.AdvLabel = best, pred
	h.out.Linf, h.out.L2 = distances(best, h.x)
	h.out.Success = h.out.L2 <= h.cfg.Epsilon
}

// search returns the closest adversarial image found (nil when none), keeping one query for the
// final confirmation.
func (h *hsj) search() (best *imaging.Float, ok bool) {
	x := h.x
	d := len(x.Pix)
	tol := h.cfg.Tolerance
	if tol == 0 {
		tol = max(1/(float64(d)*math.Sqrt(float64(d))), minTolerance)
	}
	bisections := int(math.Ceil(math.Log2(1 / tol)))

	cur := imaging.NewFloat(x.Width, x.Height, x.Channels)
	h.far, h.mid = imaging.NewFloat(x.Width, x.Height, x.Channels), imaging.NewFloat(x.Width, x.Height, x.Channels)
	found := false
	for try := 0; try < h.cfg.InitTries && h.left > 1 && !found; try++ {
		h.noise(try, cur)
		adv, _, ok := h.ask(cur)
		if !ok {
			return nil, false
		}
		found = adv
	}
	if !found {
		return nil, true
	}
	if !h.bisect(cur, tol) {
		return nil, false
	}
	best = cur.Clone()
	_, bestDist := distances(best, x)

	grad := make([]float64, d)
	h.benign, h.dir = make([]float64, d), make([]float32, d)
	cand := imaging.NewFloat(x.Width, x.Height, x.Channels)
	for t := 1; h.cfg.MaxIter == 0 || t <= h.cfg.MaxIter; t++ {
		if bestDist <= h.cfg.Epsilon && !math.IsInf(h.cfg.Epsilon, 1) {
			break
		}
		_, dist := distances(cur, x)
		// Keep room for one step, the bisection and the final confirmation.
		evals := min(int(float64(h.cfg.InitEvals)*math.Sqrt(float64(t))), h.cfg.MaxEvals, h.left-2-bisections)
		if evals < 1 || dist == 0 {
			break
		}
		// The paper's probe radius: 10% of the range at first, then sqrt(d)*tol*dist.
		delta := 0.1
		if t > 1 {
			delta = math.Sqrt(float64(d)) * tol * dist
		}
		usable, ok := h.estimateGradient(cur, delta, evals, grad)
		if !ok {
			return nil, false
		}
		if !usable {
			break // every probe was clipped away: no direction to follow
		}
		// Geometric step search: start at dist/sqrt(t) and halve until the step stays adversarial.
		step := dist / math.Sqrt(float64(t))
		stepped := false
		for range maxStepHalvings {
			if h.left < 2 {
				break
			}
			for i, v := range cur.Pix {
				cand.Pix[i] = clamp01(v + float32(step*grad[i]))
			}
			adv, _, ok := h.ask(cand)
			if !ok {
				return nil, false
			}
			if adv {
				stepped = true
				break
			}
			step /= 2
		}
		if !stepped {
			break
		}
		cur, cand = cand, cur
		if !h.bisect(cur, tol) {
			return nil, false
		}
		if _, l2 := distances(cur, x); l2 < bestDist {
			copy(best.Pix, cur.Pix)
			bestDist = l2
		}
	}
	return best, true
}

// noise writes try's starting image: random noise, piecewise constant over blocks whose size
// cycles through 1, 2, 4, ... pixels up to the whole image, with values alternately uniform in
// [0,1] and binary {0,1}. The first try is the paper's uniform noise; the others exist because a
// model that files all fine noise under one class (MNIST models often call it an 8) cannot start
// an attack on that class from it, while coarser or harsher noise usually lands elsewhere.
func (h *hsj) noise(try int, dst *imaging.Float) {
	w, hh, c := dst.Width, dst.Height, dst.Channels
	levels := 1
	for 1<<(levels-1) < max(w, hh) {
		levels++
	}
	block := 1 << (try / 2 % levels)
	binary := try%2 == 1
	for by := 0; by < hh; by += block {
		for bx := 0; bx < w; bx += block {
			for ch := range c {
				v := h.rng.Float32()
				if binary {
					v = float32(h.rng.Uint64() & 1)
				}
				for y := by; y < min(by+block, hh); y++ {
					for x := bx; x < min(bx+block, w); x++ {
						dst.Pix[(y*w+x)*c+ch] = v
					}
				}
			}
		}
	}
}

// bisect moves adv (answered adversarial) along the line towards the clean image to the closest
// blend still answered adversarial, to within tol of the blend factor. adv always holds an image
// the oracle saw as adversarial. ok is false when the run was stopped.
func (h *hsj) bisect(adv *imaging.Float, tol float64) (ok bool) {
	x, far, mid := h.x, h.far, h.mid
	copy(far.Pix, adv.Pix) // the blend factor is measured along the line from x to the starting point
	lo, hi := 0.0, 1.0
	for hi-lo > tol && h.left > 1 {
		m := (lo + hi) / 2
		lambda := float32(m)
		for i, v := range x.Pix {
			mid.Pix[i] = v + lambda*(far.Pix[i]-v)
		}
		isAdv, _, ok := h.ask(mid)
		if !ok {
			return false
		}
		if isAdv {
			hi = m
			copy(adv.Pix, mid.Pix)
		} else {
			lo = m
		}
	}
	return true
}

// estimateGradient estimates the unit normal of the decision boundary at cur, pointing to the
// adversarial side, from the labels of evals probes cur+delta*u with u uniform on the unit sphere
// (clipped to the image range, as the probe actually sent). Probes are streamed through the
// driver's buffers and folded into running sums, so memory does not grow with evals. usable is
// false when the estimate is zero; ok is false when the run was stopped.
func (h *hsj) estimateGradient(cur *imaging.Float, delta float64, evals int, grad []float64) (usable, ok bool) {
	// Probe offsets are summed apart for the two answers (grad holds the adversarial ones for
	// now), so each probe is added once. They are kept without the common 1/delta factor, which
	// the final normalisation removes anyway.
	benign, dir := h.benign, h.dir
	for i := range grad {
		grad[i], benign[i] = 0, 0
	}
	nAdv := 0
	r := request{
		n: evals,
		fill: func(_ int, dst *imaging.Float) {
			normals(h.src, dir)
			var norm float64
			for _, v := range dir {
				norm += float64(v) * float64(v)
			}
			scale := float32(delta / math.Sqrt(norm))
			for i, v := range cur.Pix {
				dst.Pix[i] = clamp01(v + scale*dir[i])
			}
		},
		take: func(_ int, sent *imaging.Float, p []float32) {
			sum := benign
			if predict(p) != h.label {
				sum = grad
				nAdv++
			}
			for i, v := range sent.Pix {
				sum[i] += float64(v - cur.Pix[i]) // the probe as sent, clipping included
			}
		},
	}
	if !h.yield(r) {
		return false, false
	}
	h.left -= evals
	// With f = +1 for adversarial answers and -1 otherwise, the paper's estimate with the mean
	// answer as a baseline (its variance reduction) is sum((f - mean f) u), which is proportional
	// to (evals-nAdv)*sum_adv(u) - nAdv*sum_benign(u). When all answers agree it degenerates to
	// +-sum(u), which still points away from the side the probes fell on.
	switch nAdv {
	case 0:
		for i := range grad {
			grad[i] = -benign[i]
		}
	case evals:
		// grad already holds the sum over the probes, all adversarial
	default:
		a, b := float64(evals-nAdv), float64(nAdv)
		for i := range grad {
			grad[i] = a*grad[i] - b*benign[i]
		}
	}
	var norm float64
	for _, g := range grad {
		norm += g * g
	}
	if norm = math.Sqrt(norm); !(norm > 0) {
		return false, true
	}
	for i := range grad {
		grad[i] /= norm
	}
	return true, true
}
