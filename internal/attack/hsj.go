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
	// minTolerance keeps the binary search and the probe radius above float32 resolution.
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
	// Streams, when set, names each image's stream (one per image, e.g. from its content)
	// instead of its index, so that an image's outcome does not depend on where it stands among
	// the images attacked with it: what per-image records and shards need.
	Streams []uint64
	// MaxIter caps the gradient-estimation iterations (0: until the query budget is spent).
	MaxIter int
	// InitEvals is the number of gradient-estimation samples at the first iteration; iteration t
	// uses InitEvals*sqrt(t), at most MaxEvals (0: DefaultInitEvals, DefaultMaxEvals).
	InitEvals, MaxEvals int
	// InitTries caps the random-noise images tried to find a first misclassified image
	// (0: DefaultInitTries).
	InitTries int
	// Tolerance ends each binary search to the boundary once the blend factor between the clean
	// image and the adversarial one is known to within it, and sets the probe radius of gradient
	// estimation to sqrt(d)*Tolerance times the distance (d the number of pixel values). 0 means
	// 0.01/sqrt(d), not below 1e-6: probes at 1% of the distance and 12 bisection steps on MNIST.
	// The paper's d^-1.5 (15 steps, probes at dist/d) reached the same L2 per query on an MNIST
	// CNN (median 1.92 both, 100 images x 2 seeds at 2,389 queries), and spends 3 more queries
	// per iteration on a precision that rounding to 8 bits throws away; 0.002 (9 steps) was worse
	// (2.28): the point it settles on lies too far inside the adversarial side for probes at 1%.
	Tolerance float64
	// MaxBatch caps the images per oracle call (0: DefaultMaxBatch); gradient-estimation samples
	// of all active images are packed into calls of this size.
	MaxBatch int
	// FirstIndex is the index of imgs[0] in the whole sample: image i draws from stream
	// FirstIndex+i, so a sample attacked in parts meets the same random draws as in one call.
	FirstIndex int
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
	case c.FirstIndex < 0:
		return c, fmt.Errorf("check hopskipjump first index %d: want >= 0", c.FirstIndex)
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
// The search runs on float images, but what it returns is deliverable: a point on the boundary
// falls back to the true class about half the time once rounded to 8 bits, so HopSkipJump steps
// past the boundary by a margin, rounds, queries the rounded image, and grows the margin when
// that fails (deliver). It does so before each budget of Budgets(MaxQueries) would be crossed, so
// that Trace tells what a smaller budget would have reached, whenever the unrounded point enters
// the epsilon ball, and at the end; when every margin fails, the search simply goes on from its
// unrounded point and the previous deliverable image stands.
//
// Queries per image: 1 for the clean image (images already misclassified are reported Skipped),
// then the search and the deliveries. An image stops once a delivered image is within Epsilon;
// the probes of all active images share oracle calls of MaxBatch images.
func HopSkipJump(ctx context.Context, o Oracle, imgs []*imaging.Float, labels []int, cfg HSJConfig) ([]Outcome, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Streams != nil && len(cfg.Streams) != len(imgs) {
		return nil, fmt.Errorf("check hopskipjump streams: %d for %d images", len(cfg.Streams), len(imgs))
	}
	budgets := Budgets(cfg.MaxQueries)
	return attackAll(ctx, "hopskipjump", o, imgs, labels, cfg.MaxQueries, cfg.MaxBatch, func(i int, out *Outcome) attack {
		src := imageSource(cfg.Seed, streamOf(cfg.Streams, cfg.FirstIndex, i))
		h := &hsj{cfg: cfg, x: imgs[i], label: labels[i], src: src, rng: rand.New(src), out: out,
			left: cfg.MaxQueries, budgets: budgets, margin: initialMargin}
		return h.run
	})
}

// Delivery: the first margin tried is initialMargin times the rounding error's norm divided by
// sqrt(d) (the size of its component along a random direction, such as the boundary's normal),
// and each failure multiplies it by marginGrowth, at most deliverTries times per delivery. The
// margin that worked is remembered per image, halved when it worked at once, since the boundary
// near an image changes slowly. Measured on a LeNet-5 (100 MNIST images x 2 seeds at 2,389
// queries, 719 deliveries): 78% succeeded at the first try and all within four, for 0.24% of the
// queries and 0.3% more L2 than the unrounded points; growing by 3 instead left 2.5% of the
// deliveries failing after four tries, and starting at 1 or 2 without halving cost 0.7% in L2.
const (
	initialMargin = 0.5
	marginGrowth  = 4
	deliverTries  = 4
)

// hsj is the state of one image's HopSkipJump attack.
type hsj struct {
	cfg   HSJConfig
	x     *imaging.Float
	label int
	src   *rand.PCG  // for probes, which draw from it directly for speed
	rng   *rand.Rand // over src
	out   *Outcome
	left  int // queries left in the budget
	yield func(request) bool

	budgets []int   // Budgets(MaxQueries): deliver before crossing each
	next    int     // the next budget in budgets not yet prepared for
	margin  float64 // the delivery margin to try first, in units of the rounding error / sqrt(d)

	// raw is the closest unrounded adversarial point found, rawL2 its distance; delivered is the
	// raw distance at the last delivery, so that an unchanged point is not delivered twice.
	raw              *imaging.Float
	rawL2, delivered float64
	rawPred          int // the oracle's answer for raw
	// best is the closest delivered (8-bit, verified) adversarial image, bestL2 its distance.
	best   *imaging.Float
	bestL2 float64

	// Scratch reused across iterations: with cur, cand, raw, best and q, an image under attack
	// holds about 52 bytes per pixel value.
	advSum, benignSum []float32 // gradient estimation's running sums
	corners           probeCorners
	far, mid          *imaging.Float
	q                 *imaging.Float
}

func (h *hsj) used() int { return h.cfg.MaxQueries - h.left }

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
	h.search()
	if h.raw != nil {
		h.out.RawLinf, h.out.RawL2 = distances(h.raw, h.x)
		h.out.RawSuccess = h.out.RawL2 <= h.cfg.Epsilon
	}
}

// reserve is the queries the search keeps for the final delivery.
const reserve = deliverTries

// accept records a delivered image: q was answered pred, adversarial, exactly as it is.
func (h *hsj) accept(q *imaging.Float, pred int) {
	linf, l2 := distances(q, h.x)
	if h.best != nil && l2 >= h.bestL2 {
		return
	}
	if h.best == nil {
		h.best = imaging.NewFloat(q.Width, q.Height, q.Channels)
	}
	copy(h.best.Pix, q.Pix)
	h.bestL2 = l2
	o := h.out
	o.Adversarial, o.AdvLabel, o.Linf, o.L2 = h.best, pred, linf, l2
	o.FinalQueries = h.used()
	o.Trace = append(o.Trace, Point{Queries: o.FinalQueries, L2: l2, Linf: linf})
	if !o.Success && l2 <= h.cfg.Epsilon {
		o.Success, o.SuccessQueries = true, o.FinalQueries
	}
}

// deliver turns the unrounded point raw into an 8-bit image that the oracle still misclassifies,
// using at most tries queries: it moves raw away from the clean image along their line by margin
// times |rounding error|/sqrt(d), rounds, and queries; on failure it grows the margin. A point it
// has tried is not tried again. ok is false when the run was stopped.
func (h *hsj) deliver(tries int) (ok bool) {
	if h.raw == nil || h.rawL2 >= h.delivered {
		return true
	}
	x, raw := h.x, h.raw
	var e2 float64
	for _, v := range raw.Pix {
		d := float64(quantize(v) - v)
		e2 += d * d
	}
	if e2 == 0 {
		// raw is on the grid already, and was answered adversarial as it is.
		h.delivered = h.rawL2
		h.accept(raw, h.rawPred)
		return true
	}
	if tries <= 0 {
		return true // no query to spare now; a later delivery gets this point
	}
	h.delivered = h.rawL2
	if h.q == nil {
		h.q = imaging.NewFloat(x.Width, x.Height, x.Channels)
	}
	c := h.margin
	for k := 0; k < tries && h.left > 0; k++ {
		s := float32(c * math.Sqrt(e2/float64(len(x.Pix))) / h.rawL2)
		for i, v := range x.Pix {
			h.q.Pix[i] = quantize(clamp01(v + (1+s)*(raw.Pix[i]-v)))
		}
		adv, pred, ok := h.ask(h.q)
		if !ok {
			return false
		}
		if adv {
			h.accept(h.q, pred)
			if k == 0 {
				c /= 2
			}
			h.margin = c
			return true
		}
		c *= marginGrowth
	}
	return true
}

// improve records cur, answered adversarial with label pred, as the raw point when it is closer.
func (h *hsj) improve(cur *imaging.Float, pred int) {
	_, l2 := distances(cur, h.x)
	if h.raw != nil && l2 >= h.rawL2 {
		return
	}
	if h.raw == nil {
		h.raw = imaging.NewFloat(cur.Width, cur.Height, cur.Channels)
	}
	copy(h.raw.Pix, cur.Pix)
	h.rawL2, h.rawPred = l2, pred
}

// search runs the attack, keeping reserve queries for the final delivery.
func (h *hsj) search() {
	x := h.x
	d := len(x.Pix)
	tol := h.cfg.Tolerance
	if tol == 0 {
		tol = max(0.01/math.Sqrt(float64(d)), minTolerance)
	}
	bisections := int(math.Ceil(math.Log2(1 / tol)))
	h.delivered = math.Inf(1)

	cur := imaging.NewFloat(x.Width, x.Height, x.Channels)
	h.far, h.mid = imaging.NewFloat(x.Width, x.Height, x.Channels), imaging.NewFloat(x.Width, x.Height, x.Channels)
	found, pred := false, 0
	for try := 0; try < h.cfg.InitTries && h.left > 0 && !found; try++ {
		h.noise(try, cur)
		adv, p, ok := h.ask(cur)
		if !ok {
			return
		}
		if found = adv; found {
			// The noise is on the 8-bit grid: it is the first deliverable image.
			pred = p
			h.accept(cur, pred)
		}
	}
	if !found || h.done() {
		return
	}
	if !h.bisect(cur, pred, tol) {
		return
	}
	if !h.milestone() {
		return
	}

	grad := make([]float64, d)
	h.advSum, h.benignSum = make([]float32, d), make([]float32, d)
	cand := imaging.NewFloat(x.Width, x.Height, x.Channels)
	for t := 1; !h.done() && (h.cfg.MaxIter == 0 || t <= h.cfg.MaxIter); t++ {
		_, dist := distances(cur, x)
		// Keep room for one step, the bisection and the final delivery.
		evals := min(int(float64(h.cfg.InitEvals)*math.Sqrt(float64(t))), h.cfg.MaxEvals, h.left-2-bisections-reserve)
		if evals < 1 || dist == 0 {
			break
		}
		if !h.checkpoint(evals + bisections + 2) {
			return
		}
		evals = min(evals, h.left-2-bisections-reserve)
		if evals < 1 {
			break
		}
		// The paper's probe radius: 10% of the range at first, then sqrt(d)*tol*dist.
		delta := 0.1
		if t > 1 {
			delta = math.Sqrt(float64(d)) * tol * dist
		}
		usable, ok := h.estimateGradient(cur, delta, evals, grad)
		if !ok {
			return
		}
		if !usable {
			break // every probe was clipped away: no direction to follow
		}
		// Geometric step search: start at dist/sqrt(t) and halve until the step stays adversarial.
		step := dist / math.Sqrt(float64(t))
		stepped := false
		for range maxStepHalvings {
			if h.left < 2+reserve {
				break
			}
			for i, v := range cur.Pix {
				cand.Pix[i] = clamp01(v + float32(step*grad[i]))
			}
			adv, p, ok := h.ask(cand)
			if !ok {
				return
			}
			if adv {
				stepped, pred = true, p
				break
			}
			step /= 2
		}
		if !stepped {
			break
		}
		cur, cand = cand, cur
		if !h.bisect(cur, pred, tol) {
			return
		}
		if !h.milestone() {
			return
		}
	}
	// The final delivery may use everything left: the loop may have stopped early for want of
	// progress.
	h.deliver(min(h.left, 2*deliverTries))
}

// done reports whether the image is broken: a delivered image lies within the budget.
func (h *hsj) done() bool { return h.out.Success && !math.IsInf(h.cfg.Epsilon, 1) }

// milestone delivers the raw point as soon as it enters the epsilon ball, so that the attack can
// stop there. ok is false when the run was stopped.
func (h *hsj) milestone() bool {
	if math.IsInf(h.cfg.Epsilon, 1) || h.rawL2 > h.cfg.Epsilon {
		return true
	}
	return h.deliver(min(deliverTries, h.left-reserve))
}

// checkpoint delivers the raw point before the next need queries would cross one of the budgets
// the L2 curve is read at. ok is false when the run was stopped.
func (h *hsj) checkpoint(need int) bool {
	// The last budget is MaxQueries itself: the final delivery serves it.
	crossing := false
	for h.next < len(h.budgets)-1 && h.used()+need+deliverTries > h.budgets[h.next] {
		crossing = true
		h.next++
	}
	if !crossing {
		return true
	}
	return h.deliver(min(deliverTries, h.left-reserve))
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
				v := quantize(h.rng.Float32())
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

// bisect moves adv (answered pred, adversarial) along the line towards the clean image to the
// closest blend still answered adversarial, to within tol of the blend factor, and records it as
// the raw point when it is the closest yet. adv always holds an image the oracle saw as
// adversarial. ok is false when the run was stopped.
func (h *hsj) bisect(adv *imaging.Float, pred int, tol float64) (ok bool) {
	x, far, mid := h.x, h.far, h.mid
	copy(far.Pix, adv.Pix) // the blend factor is measured along the line from x to the starting point
	lo, hi := 0.0, 1.0
	for hi-lo > tol && h.left > reserve {
		m := (lo + hi) / 2
		lambda := float32(m)
		for i, v := range x.Pix {
			mid.Pix[i] = v + lambda*(far.Pix[i]-v)
		}
		isAdv, p, ok := h.ask(mid)
		if !ok {
			return false
		}
		if isAdv {
			hi, pred = m, p
			copy(adv.Pix, mid.Pix)
		} else {
			lo = m
		}
	}
	h.improve(adv, pred)
	return true
}

// estimateGradient estimates the unit normal of the decision boundary at cur, pointing to the
// adversarial side, from the labels of evals probes cur+delta*u (clipped to the image range, as
// the probe actually sent). The paper draws u uniformly on the unit sphere; here u is a random
// vertex of the cube scaled to the sphere (independent random signs), which has the same mean
// (zero) and covariance (I/d), so the estimate is unbiased to first order in the same way, as in
// SPSA. Drawing 64 signs per random number instead of one Gaussian deviate per value made a probe
// on MNIST about 6x cheaper to fill, for the same L2 per query (1.91 vs 1.92, 100 images x 2
// seeds at 2,389 queries). Probes are streamed through the
// driver's buffers and folded into running sums, so memory does not grow with evals. usable is
// false when the estimate is zero; ok is false when the run was stopped.
func (h *hsj) estimateGradient(cur *imaging.Float, delta float64, evals int, grad []float64) (usable, ok bool) {
	// Probe offsets are summed apart for the two answers, so each probe is added once. They are
	// kept without the common 1/delta factor, which the final normalisation removes anyway, and
	// in float32: a sum of up to MaxEvals offsets of +-a is a random walk of size about
	// a*sqrt(evals), whose float32 rounding error stays below 1e-5 of it.
	adv, benign := h.advSum, h.benignSum
	clear(adv)
	clear(benign)
	nAdv := 0
	h.corners.set(cur.Pix, float32(delta/math.Sqrt(float64(len(cur.Pix)))))
	r := request{
		n:    evals,
		fill: func(_ int, dst *imaging.Float) { signProbe(h.src, &h.corners, dst.Pix) },
		take: func(_ int, sent *imaging.Float, p []float32) {
			sum := benign
			if predict(p) != h.label {
				sum = adv
				nAdv++
			}
			c := cur.Pix[:len(sum)]
			for i, v := range sent.Pix[:len(sum)] {
				sum[i] += v - c[i] // the probe as sent, clipping included
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
			grad[i] = -float64(benign[i])
		}
	case evals:
		for i := range grad {
			grad[i] = float64(adv[i])
		}
	default:
		a, b := float64(evals-nAdv), float64(nAdv)
		for i := range grad {
			grad[i] = a*float64(adv[i]) - b*float64(benign[i])
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

// probeCorners holds, per pixel value, the bit patterns of the two values a sign probe can take,
// min(cur+a, 1) and max(cur-a, 0), computed once per gradient estimate rather than per probe.
type probeCorners struct{ up, down []uint32 }

func (c *probeCorners) set(cur []float32, a float32) {
	if len(c.up) != len(cur) {
		c.up, c.down = make([]uint32, len(cur)), make([]uint32, len(cur))
	}
	for i, v := range cur {
		c.up[i] = math.Float32bits(min(v+a, 1))
		c.down[i] = math.Float32bits(max(v-a, 0))
	}
}

// signProbe writes a random vertex of the cube around cur (cur + a*s, s independent random signs,
// clipped to [0,1]): a direction uniform over the vertices, scaled to the sphere of radius
// a*sqrt(d). One 64-bit draw gives 64 signs, and each value is picked between the two corners by
// masking, without a branch: a random sign, or a clip that depends on it (MNIST backgrounds sit at
// 0), mispredicts half the time, which made a branchy version 4x slower.
func signProbe(src *rand.PCG, c *probeCorners, dst []float32) {
	for start := 0; start < len(c.up); start += 64 {
		bits := src.Uint64()
		end := min(start+64, len(c.up))
		up, down, d := c.up[start:end], c.down[start:end:end], dst[start:end:end]
		for i := range up {
			m := -uint32(bits & 1) // all ones for +a
			bits >>= 1
			d[i] = math.Float32frombits(down[i] ^ ((up[i] ^ down[i]) & m))
		}
	}
}
