package metrics

import (
	"fmt"
	"math"
	"sort"
)

// Summary is the set metrics of a multiset of records. Per-class values are NaN where their
// denominator is 0 over the set (see the package comment); means skip NaN classes and are NaN
// when every class is.
type Summary struct {
	Images int
	IoU    []float64 // per class
	Acc    []float64 // per class: recall of the class's pixels
	Dice   []float64 // per class
	// Present counts the classes with a defined IoU: the classes mIoU averages over.
	Present     int
	MIoU        float64
	MAcc        float64 // mean class accuracy
	MDice       float64
	PixelAcc    float64 // correct pixels over valid pixels (mmsegmentation's aAcc)
	FWIoU       float64 // frequency-weighted IoU: IoU weighted by each class's share of the truth
	BoundaryIoU []float64
	// MBoundaryIoU is the mean boundary IoU over classes with a non-empty band union; NaN when
	// boundaries were not computed.
	MBoundaryIoU float64
	// Shares is each class's share of the valid ground-truth pixels.
	Shares  []float64
	Valid   int64
	Ignored int64
}

// Accumulator sums records. Reset and reuse it in a bootstrap loop: Add does not allocate, and
// MIoU reads the mean without building a Summary.
type Accumulator struct {
	c                int
	boundary         bool
	inter, lab, pred []int64
	bi, bu           []int64
	valid, ignored   int64
	n                int
}

// NewAccumulator returns an empty accumulator for c classes; boundary says whether records carry
// boundary counts.
func NewAccumulator(c int, boundary bool) *Accumulator {
	a := &Accumulator{c: c, boundary: boundary, inter: make([]int64, c), lab: make([]int64, c), pred: make([]int64, c)}
	if boundary {
		a.bi, a.bu = make([]int64, c), make([]int64, c)
	}
	return a
}

// Reset empties the accumulator.
func (a *Accumulator) Reset() {
	clear(a.inter)
	clear(a.lab)
	clear(a.pred)
	clear(a.bi)
	clear(a.bu)
	a.valid, a.ignored, a.n = 0, 0, 0
}

// Add adds one record (of the accumulator's class count).
func (a *Accumulator) Add(r *Record) {
	addTo(a.inter, r.Intersect)
	addTo(a.lab, r.Label)
	addTo(a.pred, r.Pred)
	if a.boundary {
		addTo(a.bi, r.BoundaryIntersect)
		addTo(a.bu, r.BoundaryUnion)
	}
	a.valid += r.Valid
	a.ignored += r.Ignored
	a.n++
}

func addTo(dst, src []int64) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

// Check refuses records that do not fit c classes (or lack boundary counts when wanted), so that
// Add can stay a plain loop.
func Check(recs []Record, c int, boundary bool) error {
	for i := range recs {
		r := &recs[i]
		if len(r.Intersect) != c || len(r.Label) != c || len(r.Pred) != c {
			return fmt.Errorf("record %d has %d classes, want %d", i, len(r.Intersect), c)
		}
		if boundary && (len(r.BoundaryIntersect) != c || len(r.BoundaryUnion) != c) {
			return fmt.Errorf("record %d has no boundary counts", i)
		}
	}
	return nil
}

// MIoU is the mean IoU of what was added (NaN when no class is present).
func (a *Accumulator) MIoU() float64 {
	var sum float64
	n := 0
	for k := 0; k < a.c; k++ {
		u := a.lab[k] + a.pred[k] - a.inter[k]
		if u > 0 {
			sum += float64(a.inter[k]) / float64(u)
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// PixelAcc is the pixel accuracy of what was added.
func (a *Accumulator) PixelAcc() float64 {
	var correct int64
	for _, v := range a.inter {
		correct += v
	}
	return ratio(correct, a.valid)
}

// MBoundaryIoU is the mean boundary IoU of what was added.
func (a *Accumulator) MBoundaryIoU() float64 {
	if !a.boundary {
		return math.NaN()
	}
	var sum float64
	n := 0
	for k := 0; k < a.c; k++ {
		if a.bu[k] > 0 {
			sum += float64(a.bi[k]) / float64(a.bu[k])
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// ClassIoU is class k's IoU of what was added.
func (a *Accumulator) ClassIoU(k int) float64 {
	return ratio(a.inter[k], a.lab[k]+a.pred[k]-a.inter[k])
}

func ratio(num, den int64) float64 {
	if den == 0 {
		return math.NaN()
	}
	return float64(num) / float64(den)
}

// nanMean averages the non-NaN values; NaN when there are none.
func nanMean(v []float64) (float64, int) {
	var sum float64
	n := 0
	for _, x := range v {
		if !math.IsNaN(x) {
			sum += x
			n++
		}
	}
	if n == 0 {
		return math.NaN(), 0
	}
	return sum / float64(n), n
}

// Summary computes every set metric of what was added.
func (a *Accumulator) Summary() Summary {
	c := a.c
	s := Summary{Images: a.n, IoU: make([]float64, c), Acc: make([]float64, c), Dice: make([]float64, c),
		Shares: make([]float64, c), Valid: a.valid, Ignored: a.ignored}
	var correct int64
	for k := 0; k < c; k++ {
		i, l, p := a.inter[k], a.lab[k], a.pred[k]
		correct += i
		s.IoU[k] = ratio(i, l+p-i)
		s.Acc[k] = ratio(i, l)
		s.Dice[k] = ratio(2*i, l+p)
		s.Shares[k] = ratio(l, a.valid)
	}
	s.MIoU, s.Present = nanMean(s.IoU)
	s.MAcc, _ = nanMean(s.Acc)
	s.MDice, _ = nanMean(s.Dice)
	s.PixelAcc = ratio(correct, a.valid)
	s.FWIoU = math.NaN()
	if a.valid > 0 {
		var fw float64
		for k := 0; k < c; k++ {
			if a.lab[k] > 0 { // a class with truth pixels has a defined IoU
				fw += float64(a.lab[k]) / float64(a.valid) * s.IoU[k]
			}
		}
		s.FWIoU = fw
	}
	s.MBoundaryIoU = math.NaN()
	if a.boundary {
		s.BoundaryIoU = make([]float64, c)
		for k := 0; k < c; k++ {
			s.BoundaryIoU[k] = ratio(a.bi[k], a.bu[k])
		}
		s.MBoundaryIoU, _ = nanMean(s.BoundaryIoU)
	}
	return s
}

// Aggregate summarizes the multiset of records at idx (nil: all of them once). Repeated indices
// count repeatedly, as a bootstrap resample needs.
func Aggregate(recs []Record, idx []int, c int, boundary bool) (Summary, error) {
	if err := Check(recs, c, boundary); err != nil {
		return Summary{}, fmt.Errorf("aggregate segmentation records: %w", err)
	}
	a := NewAccumulator(c, boundary)
	if idx == nil {
		for i := range recs {
			a.Add(&recs[i])
		}
		return a.Summary(), nil
	}
	for _, i := range idx {
		if i < 0 || i >= len(recs) {
			return Summary{}, fmt.Errorf("aggregate segmentation records: index %d outside the %d records", i, len(recs))
		}
		a.Add(&recs[i])
	}
	return a.Summary(), nil
}

// MIoU is the image's own mean IoU, over the classes in its truth or prediction (NaN when every
// pixel is ignored): the per-image summary for worst-image ranking and regressions.
func (r *Record) MIoU() float64 {
	var sum float64
	n := 0
	for k := range r.Intersect {
		u := r.Label[k] + r.Pred[k] - r.Intersect[k]
		if u > 0 {
			sum += float64(r.Intersect[k]) / float64(u)
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// PixelAcc is the image's pixel accuracy (NaN when every pixel is ignored).
func (r *Record) PixelAcc() float64 {
	var correct int64
	for _, v := range r.Intersect {
		correct += v
	}
	return ratio(correct, r.Valid)
}

// Shares is each class's share of the image's valid ground-truth pixels (all NaN when none).
func (r *Record) Shares() []float64 {
	out := make([]float64, len(r.Label))
	for k, v := range r.Label {
		out[k] = ratio(v, r.Valid)
	}
	return out
}

// Change is one image's per-image mIoU under a baseline and a candidate.
type Change struct {
	Index           int
	Base, Candidate float64
	Delta           float64 // Candidate - Base
}

// Worse lists the images whose mIoU dropped by more than minDrop from base to cand (records of
// the same images in the same order), largest drop first, ties by index. Images whose mIoU is NaN
// under either model are left out.
func Worse(base, cand []Record, minDrop float64) ([]Change, error) {
	if len(base) != len(cand) {
		return nil, fmt.Errorf("compare segmentation records: %d baseline records, %d candidate records", len(base), len(cand))
	}
	var out []Change
	for i := range base {
		b, c := base[i].MIoU(), cand[i].MIoU()
		if math.IsNaN(b) || math.IsNaN(c) {
			continue
		}
		if d := c - b; -d > minDrop {
			out = append(out, Change{Index: i, Base: b, Candidate: c, Delta: d})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Delta < out[j].Delta })
	return out, nil
}
