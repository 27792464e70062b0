package attack

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/cvgate/cvgate/internal/imaging"
)

// Defaults applied to zero config fields.
const (
	DefaultMaxQueries = 1000
	DefaultMaxBatch   = 256
	// DefaultPInit is the paper's initial square size for L-inf on CIFAR-10 and ImageNet: squares
	// start at 5% of the image. MNIST-size images break faster with larger ones (the paper used 0.8).
	DefaultPInit = 0.05
)

// SquareConfig configures Square.
type SquareConfig struct {
	// Epsilon is the L-inf radius in [0,1] pixel units (0.3 is the usual MNIST budget, 8/255 the
	// usual CIFAR-10 one). Zero leaves nothing to try: the attack stops after the clean query.
	Epsilon float64
	// MaxQueries is the per-image query budget, the clean query included (0: DefaultMaxQueries).
	MaxQueries int
	// PInit is the share of the image the first squares cover (0: DefaultPInit); it shrinks along
	// the paper's piecewise schedule, rescaled from 10,000 iterations to the budget.
	PInit float64
	// Seed makes the attack reproducible; each image draws from its own stream of it.
	Seed uint64
	// Streams, when set, names each image's stream (one per image, e.g. from its content)
	// instead of its index, so that an image's outcome does not depend on where it stands among
	// the images attacked with it: what per-image records and shards need.
	Streams []uint64
	// MaxBatch caps the images per oracle call (0: DefaultMaxBatch).
	MaxBatch int
	// FirstIndex is the index of imgs[0] in the whole sample: image i draws from stream
	// FirstIndex+i, so a sample attacked in parts meets the same random draws as in one call.
	FirstIndex int
}

func (c SquareConfig) withDefaults() (SquareConfig, error) {
	if c.MaxQueries == 0 {
		c.MaxQueries = DefaultMaxQueries
	}
	if c.PInit == 0 {
		c.PInit = DefaultPInit
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	switch {
	case !(c.Epsilon >= 0) || math.IsInf(c.Epsilon, 1):
		return c, fmt.Errorf("check square epsilon %g: want a finite value >= 0", c.Epsilon)
	case c.MaxQueries < 0:
		return c, fmt.Errorf("check square max queries %d: want > 0", c.MaxQueries)
	case !(c.PInit > 0 && c.PInit <= 1):
		return c, fmt.Errorf("check square p_init %g: want a share in (0,1]", c.PInit)
	case c.MaxBatch < 0:
		return c, fmt.Errorf("check square max batch %d: want > 0", c.MaxBatch)
	case c.FirstIndex < 0:
		return c, fmt.Errorf("check square first index %d: want >= 0", c.FirstIndex)
	}
	return c, nil
}

// Square runs the L-inf Square Attack (Andriushchenko et al., ECCV 2020) on every image: a random
// search that starts from vertical stripes at +-epsilon and, each iteration, resets one random
// square window to a random +-epsilon per channel, keeping it only when the margin between the
// true class and the runner-up (in log probabilities, i.e. the logit margin) decreases. It stops
// per image at the first misclassification or when the budget is spent.
//
// Queries per image: 1 for the clean image (images already misclassified are reported Skipped),
// 1 for the stripes, then 1 per iteration; all active images' candidates share each oracle call.
func Square(ctx context.Context, o Oracle, imgs []*imaging.Float, labels []int, cfg SquareConfig) ([]Outcome, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Streams != nil && len(cfg.Streams) != len(imgs) {
		return nil, fmt.Errorf("check square streams: %d for %d images", len(cfg.Streams), len(imgs))
	}
	return attackAll(ctx, "square", o, imgs, labels, cfg.MaxQueries, cfg.MaxBatch, func(i int, out *Outcome) attack {
		return squareAttack(imgs[i], labels[i], cfg, rand.New(imageSource(cfg.Seed, streamOf(cfg.Streams, cfg.FirstIndex, i))), out)
	})
}

// maxSignTries bounds the redraws of a window's signs when they would leave the image unchanged.
// Only the one sign vector equal to the window's current one can do that, unless the ball holds
// no other 8-bit value (epsilon below 1/255), so 64 draws fail only then.
const maxSignTries = 64

// vertices are, per pixel value, the two corners of the L-inf ball that Square moves between,
// taken on the 8-bit grid: lo is the smallest value k/255 >= max(x-eps, 0), hi the largest <=
// min(x+eps, 1). Every image Square sends is then already what an image file would hold, so its
// successes survive being saved; the price is at most 1/255 of the budget (0.3 is 76.5/255, so
// Square moves by 76/255 = 0.298).
type vertices struct{ lo, hi []float32 }

// slack absorbs float error when eps*255 is meant to be a whole number (8/255*255 may come out
// as 7.999999999999999).
const slack = 1e-6

func newVertices(x *imaging.Float, eps float64) vertices {
	v := vertices{lo: make([]float32, len(x.Pix)), hi: make([]float32, len(x.Pix))}
	steps := math.Floor(eps*255 + slack) // whole 8-bit steps inside the ball
	for i, p := range x.Pix {
		var lo, hi float64
		if b := imaging.UnitToByte(p); imaging.ByteToUnit(b) == p {
			// On the grid, as pixels read from files are: count in steps, exactly.
			lo, hi = float64(b)-steps, float64(b)+steps
		} else {
			lo = math.Ceil((float64(p)-eps)*255 - slack)
			hi = math.Floor((float64(p)+eps)*255 + slack)
		}
		if lo > hi {
			// An off-grid value with no 8-bit value within eps: the nearest one is the best an
			// image file can do, slightly outside the ball (success then says so).
			lo = float64(imaging.UnitToByte(p))
			hi = lo
		}
		v.lo[i] = imaging.ByteToUnit(uint8(max(lo, 0)))
		v.hi[i] = imaging.ByteToUnit(uint8(min(hi, 255)))
	}
	return v
}

func (v vertices) at(i int, up bool) float32 {
	if up {
		return v.hi[i]
	}
	return v.lo[i]
}

func squareAttack(x *imaging.Float, label int, cfg SquareConfig, rng *rand.Rand, out *Outcome) attack {
	return func(yield func(request) bool) {
		*out = Outcome{Label: label, AdvLabel: label}
		p, ok := askOne(yield, x)
		if !ok {
			return
		}
		used := 1
		if pred := predict(p); pred != label {
			out.Skipped, out.AdvLabel = true, pred
			return
		}
		queriesLeft := cfg.MaxQueries - 1
		if !(cfg.Epsilon > 0) || queriesLeft == 0 {
			return
		}
		w, h, c := x.Width, x.Height, x.Channels
		corner := newVertices(x, cfg.Epsilon)
		succeed := func(adv *imaging.Float, pred int) {
			out.Adversarial, out.AdvLabel = adv, pred
			out.Linf, out.L2 = distances(adv, x)
			out.Success = out.Linf <= cfg.Epsilon+1e-7 // float32 pixels measured in float64
			out.RawSuccess, out.RawLinf, out.RawL2 = out.Success, out.Linf, out.L2
			out.FinalQueries = used
			if out.Success {
				out.SuccessQueries = used
			}
			out.Trace = []Point{{Queries: used, L2: out.L2, Linf: out.Linf}}
		}

		// Vertical stripes: one random sign per column and channel, already a strong start.
		best := x.Clone()
		for col := range w {
			for ch := range c {
				up := randomSign(rng)
				for row := range h {
					i := (row*w+col)*c + ch
					best.Pix[i] = corner.at(i, up)
				}
			}
		}
		p, ok = askOne(yield, best)
		if !ok {
			return
		}
		queriesLeft--
		used++
		if pred := predict(p); pred != label {
			succeed(best, pred)
			return
		}
		bestMargin := margin(p, label)

		iterations := queriesLeft
		signs := make([]bool, c)
		var saved []float32
		for it := 0; queriesLeft > 0; it++ {
			side := squareSide(squareFraction(cfg.PInit, it, iterations), w, h)
			top, left := rng.IntN(h-side+1), rng.IntN(w-side+1)
			changed := false
			for try := 0; try < maxSignTries && !changed; try++ {
				for ch := range signs {
					signs[ch] = randomSign(rng)
				}
				changed = windowChanges(corner, best, top, left, side, w, signs)
			}
			if !changed {
				return // no representable perturbation: querying would only repeat the best image
			}
			saved = saved[:0]
			for row := top; row < top+side; row++ {
				start := (row*w + left) * c
				saved = append(saved, best.Pix[start:start+side*c]...)
				for i := start; i < start+side*c; i++ {
					best.Pix[i] = corner.at(i, signs[(i-start)%c])
				}
			}
			p, ok = askOne(yield, best)
			if !ok {
				return
			}
			queriesLeft--
			used++
			if pred := predict(p); pred != label {
				succeed(best, pred)
				return
			}
			if m := margin(p, label); m < bestMargin {
				bestMargin = m
				continue
			}
			for j, row := 0, top; row < top+side; j, row = j+1, row+1 {
				start := (row*w + left) * c
				copy(best.Pix[start:start+side*c], saved[j*side*c:(j+1)*side*c])
			}
		}
	}
}

// randomSign picks a corner: true for x+eps, false for x-eps.
func randomSign(rng *rand.Rand) bool { return rng.Uint64()&1 == 1 }

// windowChanges reports whether setting the window to the corners given by signs would change
// best at all; the paper redraws such no-op proposals rather than waste a query on them.
func windowChanges(corner vertices, best *imaging.Float, top, left, side, w int, signs []bool) bool {
	c := len(signs)
	for row := top; row < top+side; row++ {
		start := (row*w + left) * c
		for i := start; i < start+side*c; i++ {
			if corner.at(i, signs[(i-start)%c]) != best.Pix[i] {
				return true
			}
		}
	}
	return false
}

// squareFraction is the paper's piecewise-constant schedule of the share of pixels a square
// covers: it halves at fixed points of a 10,000-iteration run, here rescaled to n iterations.
func squareFraction(pInit float64, it, n int) float64 {
	r := 10000 * it / max(n, 1)
	var halvings int
	switch {
	case r <= 10:
		halvings = 0
	case r <= 50:
		halvings = 1
	case r <= 200:
		halvings = 2
	case r <= 500:
		halvings = 3
	case r <= 1000:
		halvings = 4
	case r <= 2000:
		halvings = 5
	case r <= 4000:
		halvings = 6
	case r <= 6000:
		halvings = 7
	case r <= 8000:
		halvings = 8
	default:
		halvings = 9
	}
	return pInit / float64(int(1)<<halvings)
}

// squareSide turns a share of the image area into a square side. Squares stay smaller than the
// shorter image side (as in the paper) so that their position is still random.
func squareSide(p float64, w, h int) int {
	s := int(math.Round(math.Sqrt(p * float64(w*h))))
	return max(1, min(s, min(w, h)-1))
}
