// Package attack runs black-box adversarial attacks against an image classifier that it can only
// query, as an attacker behind an API would: Square (score-based, L-inf) and HopSkipJump
// (decision-based, L2).
//
// Perturbations are applied to the working image before any model preprocessing, so every budget
// is in pixel units of a [0,1] image. Queries are counted honestly (every image sent to the oracle,
// the first look at the clean image included), each image stops being queried as soon as it is
// broken, and the candidates of all images still under attack travel together in batched oracle
// calls, which is where the speed comes from.
//
// Every random choice comes from a generator seeded by (Seed, image index or Streams), so an image's outcome
// does not depend on which other images are attacked with it or on the batch size, provided the
// oracle answers each image independently of its batch.
package attack

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/cvgate/cvgate/internal/imaging"
)

// Oracle is the attacked model as the attacker sees it.
type Oracle interface {
	// Probs returns one row of class probabilities per image, in order. A call with k images costs k
	// queries. Probs must not keep or modify the images after it returns (their buffers are reused)
	// and is never called concurrently by this package.
	Probs(ctx context.Context, imgs []*imaging.Float) ([][]float32, error)
}

// Outcome is the result of attacking one image.
//
// An attacker delivers image files, so every adversarial image an attack returns is on the 8-bit
// grid (each value k/255) and was answered misclassified exactly as returned: rounding it to 8 bits
// changes nothing. HopSkipJump also reports the closest unrounded point it found (Raw*), which is
// what float-valued attacks usually quote.
type Outcome struct {
	// Success: Adversarial lies within the epsilon ball.
	Success bool
	// Skipped: the clean image was already misclassified, so it was not attacked. It is neither a
	// success nor a failure and must be left out of success rates.
	Skipped bool
	// Queries is the number of images this attack sent to the oracle for this image, the first
	// query of the clean image included.
	Queries int
	// SuccessQueries is the number of queries spent when the first success was verified: what it
	// cost to break the image (0 without a success). With no epsilon budget any adversarial image
	// is a success, so this is when the first one was found.
	SuccessQueries int
	// FinalQueries is the number of queries spent when Adversarial was verified (0 when nil).
	FinalQueries int
	// Adversarial is the closest misclassified 8-bit image found, exactly as the oracle saw it;
	// nil when none was found. HopSkipJump may return one outside the epsilon ball (Success is
	// then false).
	Adversarial *imaging.Float
	// Linf and L2 are the distances of Adversarial from the clean image (0 when it is nil).
	Linf, L2 float64
	// RawSuccess, RawLinf and RawL2 describe the closest misclassified image found before rounding
	// to 8 bits (for Square, which only sends 8-bit images, they equal Success, Linf and L2).
	RawSuccess     bool
	RawLinf, RawL2 float64
	// Label is the true label. AdvLabel is the oracle's label for Adversarial, or for the clean
	// image when Adversarial is nil (so it differs from Label only for successes and skips).
	Label, AdvLabel int
	// Trace lists the adversarial images this attack could have returned had it stopped earlier:
	// after Trace[k].Queries queries the best one was at Trace[k]'s distances. The last entry is
	// Adversarial. It is what L2Curve reads.
	Trace []Point
}

// Point is a deliverable adversarial image's distances and the queries spent when it was verified.
type Point struct {
	Queries  int
	L2, Linf float64
}

// Summary aggregates outcomes the way robustness reports quote them.
type Summary struct {
	Images    int // outcomes summarised
	Skipped   int // already misclassified, not attacked
	Attacked  int // Images - Skipped
	Succeeded int
	// SuccessRate is Succeeded / Attacked (0 when nothing was attacked); robust accuracy on the
	// attacked images is 1 - SuccessRate.
	SuccessRate float64
	// RawSucceeded and RawSuccessRate count unrounded successes (Outcome.RawSuccess).
	RawSucceeded   int
	RawSuccessRate float64
	// MedianQueries and MeanQueries are over successes: the queries needed to break an image
	// (Outcome.SuccessQueries).
	MedianQueries, MeanQueries float64
	// TotalQueries is every query spent, failures and skips included.
	TotalQueries int
	// MedianLinf and MedianL2 are over successes.
	MedianLinf, MedianL2 float64
}

// Summarize aggregates outcomes.
func Summarize(outs []Outcome) Summary {
	s := Summary{Images: len(outs)}
	var queries, linf, l2 []float64
	for _, o := range outs {
		s.TotalQueries += o.Queries
		if o.Skipped {
			s.Skipped++
			continue
		}
		if o.RawSuccess {
			s.RawSucceeded++
		}
		if o.Success {
			s.Succeeded++
			queries = append(queries, float64(o.SuccessQueries))
			linf = append(linf, o.Linf)
			l2 = append(l2, o.L2)
		}
	}
	s.Attacked = s.Images - s.Skipped
	if s.Attacked > 0 {
		s.SuccessRate = float64(s.Succeeded) / float64(s.Attacked)
		s.RawSuccessRate = float64(s.RawSucceeded) / float64(s.Attacked)
	}
	s.MedianQueries, s.MeanQueries = median(queries), mean(queries)
	s.MedianLinf, s.MedianL2 = median(linf), median(l2)
	return s
}

// Budgets are the query budgets a curve is read at: 10, 30, 100, 300, 1000, ... below max, then
// max itself (nothing when max < 1).
func Budgets(max int) []int {
	var out []int
	for b, three := 10, true; b < max; three = !three {
		out = append(out, b)
		if three {
			b *= 3
		} else {
			b = b / 3 * 10
		}
	}
	if max >= 1 {
		out = append(out, max)
	}
	return out
}

// L2At is the L2 distance of the adversarial image an attack on o would have returned with a
// budget of q queries: +Inf when it had found none by then, NaN for a skipped image.
func (o *Outcome) L2At(q int) float64 {
	if o.Skipped {
		return math.NaN()
	}
	d := math.Inf(1)
	for _, p := range o.Trace {
		if p.Queries > q {
			break
		}
		d = p.L2
	}
	return d
}

// L2Curve is, for each budget, the median over the attacked images of L2At: how close an attacker
// with that many queries per image gets (+Inf while fewer than half the images have an adversarial
// image; NaN when nothing was attacked). A team reads off the budget an attacker needs.
func L2Curve(outs []Outcome, budgets []int) []float64 {
	curve := make([]float64, len(budgets))
	d := make([]float64, 0, len(outs))
	for j, q := range budgets {
		d = d[:0]
		for i := range outs {
			if !outs[i].Skipped {
				d = append(d, outs[i].L2At(q))
			}
		}
		curve[j] = math.NaN()
		if len(d) > 0 {
			curve[j] = median(d)
		}
	}
	return curve
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var sum float64
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// checkInputs rejects what would make an attack meaningless or crash: mismatched lengths, malformed
// images, pixels outside [0,1] (the ball and the clipping are defined on that range) and negative
// labels. Labels beyond the model's classes are caught at the first answer.
func checkInputs(imgs []*imaging.Float, labels []int) error {
	if len(imgs) != len(labels) {
		return fmt.Errorf("check inputs: %d images but %d labels", len(imgs), len(labels))
	}
	for i, m := range imgs {
		if m == nil {
			return fmt.Errorf("check image %d: nil", i)
		}
		if m.Width <= 0 || m.Height <= 0 || (m.Channels != 1 && m.Channels != 3) ||
			len(m.Pix) != m.Width*m.Height*m.Channels {
			return fmt.Errorf("check image %d: shape %dx%dx%d with %d values", i, m.Width, m.Height, m.Channels, len(m.Pix))
		}
		for j, v := range m.Pix {
			if !(v >= 0 && v <= 1) {
				return fmt.Errorf("check image %d: value %g at index %d is outside [0,1]", i, v, j)
			}
		}
		if labels[i] < 0 {
			return fmt.Errorf("check image %d: negative label %d", i, labels[i])
		}
	}
	return nil
}

// imageSource gives each image its own stream, so outcomes do not depend on batching or
// scheduling.
func imageSource(seed, stream uint64) *rand.PCG { return rand.NewPCG(seed, stream) }

// streamOf is image i's stream: streams[i] when given, else its index in the whole sample
// (first is the index of the call's first image).
func streamOf(streams []uint64, first, i int) uint64 {
	if streams != nil {
		return streams[i]
	}
	return uint64(first + i)
}

// predict is the arg max of a probability row (the first one on ties; NaN never wins).
func predict(p []float32) int {
	best := -1
	for k, v := range p {
		if best < 0 && !math.IsNaN(float64(v)) || best >= 0 && v > p[best] {
			best = k
		}
	}
	if best < 0 {
		return 0
	}
	return best
}

// logFloor keeps the margin finite when a probability underflows to zero in float32.
func logFloor(v float32) float64 {
	if !(v > math.SmallestNonzeroFloat32) {
		return math.Log(math.SmallestNonzeroFloat32)
	}
	return math.Log(float64(v))
}

// margin is log p[label] - log max_{k != label} p[k]: for softmax outputs it equals the logit
// margin that Square minimises, and it keeps a signal when p[label] rounds to 1 in float32.
func margin(p []float32, label int) float64 {
	other := float32(0)
	for k, v := range p {
		if k != label && v > other {
			other = v
		}
	}
	return logFloor(p[label]) - logFloor(other)
}

// distances returns the L-inf and L2 distances between two images of the same shape.
func distances(a, b *imaging.Float) (linf, l2 float64) {
	var sum float64
	for i, v := range a.Pix {
		d := math.Abs(float64(v) - float64(b.Pix[i]))
		linf = max(linf, d)
		sum += d * d
	}
	return linf, math.Sqrt(sum)
}

// quantize is the value an 8-bit image file stores for v: exactly what imaging.Float.Bytes then
// Float give back, so an image of quantized values survives being saved.
func quantize(v float32) float32 { return imaging.ByteToUnit(imaging.UnitToByte(v)) }

// quantized reports whether every value of m is on the 8-bit grid.
func quantized(m *imaging.Float) bool {
	for _, v := range m.Pix {
		if quantize(v) != v {
			return false
		}
	}
	return true
}

func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}
