// Package metrics scores predicted label maps against ground truth: a per-image Record of
// per-class pixel counts (and boundary counts), set metrics over any multiset of records (so that
// an image-level bootstrap resamples records, not pixels), the confusion matrix, per-image
// summaries for ranking and regression, and connected components for object-size slices.
//
// Definitions follow mmsegmentation's IoUMetric: counts are summed over the evaluated images
// first, then per class IoU = I/(L+P-I), accuracy = I/L, Dice = 2I/(L+P), where I is the pixels
// of the class both in the truth and the prediction, L its ground-truth pixels and P its predicted
// pixels, over pixels whose ground truth is not the ignore index. A class whose denominator is 0
// over the evaluated set (for IoU and Dice: absent from both its truth and its predictions; for
// accuracy: absent from its truth) is NaN and left out of the means, so mIoU averages over the
// classes present in the ground truth or the predictions of the evaluated set.
package metrics

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/cvgate/cvgate/internal/segment"
)

// DefaultDilationRatio is the boundary width of boundary IoU as a fraction of the image diagonal
// (Cheng et al. 2021, "Boundary IoU: Improving Object-Centric Image Segmentation Evaluation").
const DefaultDilationRatio = 0.02

// Limits. Records take 5 x 8 bytes per class per image, so the class count bounds memory per
// image; a confusion matrix takes 8 x C^2 bytes (8 MiB at 1024 classes), so larger sets are
// scored without one.
const (
	MaxClasses          = 4096
	MaxConfusionClasses = 1024
)

// Confusion is a C x C matrix of pixel counts: Counts[t*C+p] counts pixels of true class t
// predicted as p (ignored pixels excluded).
type Confusion struct {
	C      int
	Counts []int64
}

// NewConfusion returns a zero C x C matrix, for at most MaxConfusionClasses classes.
func NewConfusion(c int) (*Confusion, error) {
	if c < 1 || c > MaxConfusionClasses {
		return nil, fmt.Errorf("confusion matrix of %d classes: want 1 to %d (%d MiB at most)", c, MaxConfusionClasses, MaxConfusionClasses*MaxConfusionClasses*8>>20)
	}
	return &Confusion{C: c, Counts: make([]int64, c*c)}, nil
}

// Add adds o into m (same C).
func (m *Confusion) Add(o *Confusion) {
	for i, v := range o.Counts {
		m.Counts[i] += v
	}
}

// At is the count of true class t predicted as p.
func (m *Confusion) At(t, p int) int64 { return m.Counts[t*m.C+p] }

// Record is one image's score: per-class counts over its non-ignored pixels. Set metrics are
// functions of sums of records, so any multiset of images (a bootstrap resample, a slice, a shard)
// is scored by summing its records.
type Record struct {
	Intersect []int64 // pixels of class c in both truth and prediction
	Label     []int64 // ground-truth pixels of class c
	Pred      []int64 // predicted pixels of class c (where the truth is not ignored)
	// Boundary IoU counts: the ground-truth and predicted boundary bands of class c, their
	// intersection and union. Nil when the scorer does not compute boundaries.
	BoundaryIntersect []int64
	BoundaryUnion     []int64
	Valid             int64 // pixels whose truth is not the ignore index
	Ignored           int64
}

// Options configure a Scorer.
type Options struct {
	Classes int
	// Ignore is the ground truth's ignore index; negative for none.
	Ignore int
	// Boundary computes boundary IoU counts with the band DilationRatio of the image diagonal
	// wide (0 means DefaultDilationRatio).
	Boundary      bool
	DilationRatio float64
}

// Scorer scores images with fixed options. It keeps scratch memory between calls, so it is not
// safe for concurrent use: give each worker its own.
type Scorer struct {
	opts Options
	cm   []int64 // the current image's confusion matrix, when the caller wants one
	// Boundary IoU: per-column counters of the truth and the prediction.
	cntG, cntP []int32
	bl, bp     []int64
	badT       map[uint16]int64
	badPred    map[uint16]int64
}

// NewScorer validates the options.
func NewScorer(o Options) (*Scorer, error) {
	if o.Classes < 1 || o.Classes > MaxClasses {
		return nil, fmt.Errorf("score segmentation: %d classes, want 1 to %d", o.Classes, MaxClasses)
	}
	if o.Ignore >= 0 && o.Ignore < o.Classes {
		return nil, fmt.Errorf("score segmentation: ignore index %d is one of the %d classes", o.Ignore, o.Classes)
	}
	if o.Ignore > 65535 {
		return nil, fmt.Errorf("score segmentation: ignore index %d does not fit a label map", o.Ignore)
	}
	if o.DilationRatio == 0 {
		o.DilationRatio = DefaultDilationRatio
	}
	if !(o.DilationRatio > 0 && o.DilationRatio < 1) {
		return nil, fmt.Errorf("score segmentation: boundary dilation ratio %g, want (0,1)", o.DilationRatio)
	}
	return &Scorer{opts: o}, nil
}

// Classes is the number of classes scored.
func (s *Scorer) Classes() int { return s.opts.Classes }

// Dilation is the boundary band width in pixels for a w x h image: the dilation ratio times the
// diagonal, rounded half to even (as Python's round in the reference code), at least 1.
func Dilation(w, h int, ratio float64) int {
	d := int(math.RoundToEven(ratio * math.Sqrt(float64(w)*float64(w)+float64(h)*float64(h))))
	return max(d, 1)
}

// Score scores one image and, when cm is not nil, adds its pixels to cm. The truth may hold the
// ignore index; any other value at or beyond the classes, in truth or prediction, is an error.
func (s *Scorer) Score(truth, pred segment.LabelMap, cm *Confusion) (Record, error) {
	c := s.opts.Classes
	if err := truth.Validate(); err != nil {
		return Record{}, fmt.Errorf("score segmentation: ground truth: %w", err)
	}
	if err := pred.Validate(); err != nil {
		return Record{}, fmt.Errorf("score segmentation: prediction: %w", err)
	}
	if truth.W != pred.W || truth.H != pred.H {
		return Record{}, fmt.Errorf("score segmentation: the prediction is %s but the ground truth is %s", pred.SizeString(), truth.SizeString())
	}
	if cm != nil && cm.C != c {
		return Record{}, fmt.Errorf("score segmentation: confusion matrix has %d classes, want %d", cm.C, c)
	}
	rec := Record{Intersect: make([]int64, c), Label: make([]int64, c), Pred: make([]int64, c)}
	// The image's own matrix is added to cm only once the image is known to be valid, so that a
	// bad image leaves cm as it was.
	var imageCM []int64
	if cm != nil {
		if len(s.cm) != c*c {
			s.cm = make([]int64, c*c)
		}
		clear(s.cm)
		imageCM = s.cm
	}
	k := counter{s: s, c: uint32(c), inter: rec.Intersect, lab: rec.Label, pred: rec.Pred, cm: imageCM,
		hasIgn: s.opts.Ignore >= 0, ign: uint32(max(s.opts.Ignore, 0))}
	if s.opts.Boundary {
		// The band pass visits every pixel with its truth and prediction, so it does the
		// counting too.
		rec.BoundaryIntersect, rec.BoundaryUnion = s.boundary(truth, pred, &k)
	} else {
		k.count(truth.Pix, pred.Pix)
	}
	if len(s.badT) > 0 || len(s.badPred) > 0 {
		return Record{}, s.rangeError()
	}
	rec.Ignored = k.ignored
	rec.Valid = int64(len(truth.Pix)) - k.ignored
	if cm != nil {
		for i, v := range imageCM {
			cm.Counts[i] += v
		}
	}
	return rec, nil
}

// counter accumulates one image's per-class counts (and its confusion matrix when cm is set) by
// runs. Label maps are piecewise constant, so pixels are counted per run of equal (truth,
// prediction) pairs: incrementing one counter per pixel would chain every pixel of a region on
// the same memory cell (a store-to-load dependency per pixel), which costs several times more.
type counter struct {
	s                *Scorer
	c                uint32
	inter, lab, pred []int64
	cm               []int64
	bl, bp, bi       []int64 // boundary band counts, when scoring boundaries
	hasIgn           bool
	ign              uint32
	ignored          int64
}

// Key bits: truth in bits 0-15, prediction in 16-31, then the band flags.
const (
	truthBand = 1 << 32
	predBand  = 1 << 33
)

// flush counts run pixels of one key; values out of range are collected for the error.
func (k *counter) flush(key uint64, run int64) {
	t, p := uint32(key&0xffff), uint32(key>>16&0xffff)
	if k.hasIgn && t == k.ign {
		k.ignored += run
		return
	}
	if t >= k.c || p >= k.c {
		k.s.noteBad(uint16(t), uint16(p), run)
		return
	}
	k.lab[t] += run
	k.pred[p] += run
	if t == p {
		k.inter[t] += run
	}
	if k.cm != nil {
		k.cm[t*k.c+p] += run
	}
	if key&(truthBand|predBand) == 0 {
		return
	}
	gb := key&truthBand != 0
	if gb {
		k.bl[t] += run
	}
	if key&predBand != 0 {
		k.bp[p] += run
		if gb && t == p {
			k.bi[t] += run
		}
	}
}

// count counts the pixels of a whole image, with band flags set to both or neither.
func (k *counter) count(truth, pred []uint16) { k.countFlags(truth, pred, 0) }

func (k *counter) countFlags(truth, pred []uint16, flags uint64) {
	if len(truth) == 0 {
		return
	}
	pred = pred[:len(truth)]
	prev := uint64(truth[0]) | uint64(pred[0])<<16 | flags
	run := int64(0)
	for i, t := range truth {
		key := uint64(t) | uint64(pred[i])<<16 | flags
		if key == prev {
			run++
			continue
		}
		k.flush(prev, run)
		prev, run = key, 1
	}
	k.flush(prev, run)
}

func (s *Scorer) noteBad(t, p uint16, n int64) {
	c := s.opts.Classes
	if int(t) >= c {
		if s.badT == nil {
			s.badT = map[uint16]int64{}
		}
		s.badT[t] += n
	}
	if int(p) >= c {
		if s.badPred == nil {
			s.badPred = map[uint16]int64{}
		}
		s.badPred[p] += n
	}
}

func (s *Scorer) rangeError() error {
	var parts []string
	if len(s.badT) > 0 {
		parts = append(parts, "ground truth holds "+values(s.badT))
	}
	if len(s.badPred) > 0 {
		parts = append(parts, "prediction holds "+values(s.badPred))
	}
	s.badT, s.badPred = nil, nil
	return fmt.Errorf("score segmentation: %s, beyond the %d classes and not the ignore index", strings.Join(parts, "; "), s.opts.Classes)
}

func values(m map[uint16]int64) string {
	vs := make([]int, 0, len(m))
	for v := range m {
		vs = append(vs, int(v))
	}
	sort.Ints(vs)
	var parts []string
	for i, v := range vs {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more values", len(vs)-5))
			break
		}
		parts = append(parts, fmt.Sprintf("%d (%d px)", v, m[uint16(v)]))
	}
	return strings.Join(parts, ", ")
}

// boundary counts boundary IoU per class, and the image's confusion matrix. The boundary band of
// class c in a map is the pixels of class c within Chebyshev distance d of a pixel of another
// value or of the image border (the reference implementation erodes the zero-padded binary mask
// with a 3x3 kernel d times). Ignore pixels of the truth are another value there, and the pixels
// whose truth is ignored are left out of both bands, as they are out of IoU.
//
// A pixel is interior (not band) when its (2d+1)x(2d+1) square lies inside the image and holds one
// value. Rows stream through: per column a counter holds how many consecutive rows up to this one
// are uniform over the pixel's horizontal window (its run of equal values reaches d pixels either
// way) and equal to the row above; when it reaches 2d+1, the pixel d rows up is interior, and that
// row is counted at once. Memory is two rows of counters, time O(1) per pixel whatever d is.
func (s *Scorer) boundary(truth, pred segment.LabelMap, k *counter) (bi, bu []int64) {
	c := s.opts.Classes
	w, h := truth.W, truth.H
	d := Dilation(w, h, s.opts.DilationRatio)
	side := 2*d + 1
	if len(s.bl) != c {
		s.bl, s.bp = make([]int64, c), make([]int64, c)
	}
	clear(s.bl)
	clear(s.bp)
	k.bl, k.bp, k.bi = s.bl, s.bp, make([]int64, c)
	const both = truthBand | predBand
	if side > w || side > h {
		// No square fits: every pixel is band.
		k.countFlags(truth.Pix, pred.Pix, both)
		return k.union()
	}
	s.cntG, s.cntP = grow32(s.cntG, w), grow32(s.cntP, w)
	k.countFlags(truth.Pix[:d*w], pred.Pix[:d*w], both)
	for y := 0; y < h; y++ {
		var aboveT, aboveP []uint16
		if y > 0 {
			aboveT, aboveP = truth.Pix[(y-1)*w:y*w], pred.Pix[(y-1)*w:y*w]
		}
		advance(s.cntG, truth.Pix[y*w:(y+1)*w], aboveT, d)
		advance(s.cntP, pred.Pix[y*w:(y+1)*w], aboveP, d)
		if y >= 2*d {
			r := y - d
			k.row(truth.Pix[r*w:(r+1)*w], pred.Pix[r*w:(r+1)*w], s.cntG, s.cntP, int32(side))
		}
	}
	k.countFlags(truth.Pix[(h-d)*w:], pred.Pix[(h-d)*w:], both)
	return k.union()
}

// advance moves the column counters down to row (above is the row before, nil at the top): in
// each run of equal values, the pixels at least d from the run's ends extend their column's count
// when the pixel above holds the same value and restart it at 1 otherwise; every other pixel
// resets its count to 0.
func advance(cnt []int32, row, above []uint16, d int) {
	w := len(row)
	cnt = cnt[:w]
	for start := 0; start < w; {
		v := row[start]
		x := start + 1
		for x < w && row[x] == v {
			x++
		}
		lo, hi := start+d, x-d
		if hi <= lo {
			clear(cnt[start:x])
			start = x
			continue
		}
		clear(cnt[start:lo])
		clear(cnt[hi:x])
		c := cnt[lo:hi]
		if above == nil {
			for i := range c {
				c[i] = 1
			}
		} else {
			a := above[lo:hi]
			a = a[:len(c)]
			for i := range c {
				if a[i] == v {
					c[i]++
				} else {
					c[i] = 1
				}
			}
		}
		start = x
	}
}

// row counts one row whose interior flags are the column counters reaching side (2d+1).
func (k *counter) row(tr, pr []uint16, cntG, cntP []int32, side int32) {
	pr, cntG, cntP = pr[:len(tr)], cntG[:len(tr)], cntP[:len(tr)]
	var prev uint64 = 1 << 63 // no key has this bit
	run := int64(0)
	for x, t := range tr {
		key := uint64(t) | uint64(pr[x])<<16
		if cntG[x] < side {
			key |= truthBand
		}
		if cntP[x] < side {
			key |= predBand
		}
		if key == prev {
			run++
			continue
		}
		if run > 0 {
			k.flush(prev, run)
		}
		prev, run = key, 1
	}
	k.flush(prev, run)
}

// union returns the band intersection and union per class.
func (k *counter) union() ([]int64, []int64) {
	bu := make([]int64, len(k.bi))
	for c := range bu {
		bu[c] = k.bl[c] + k.bp[c] - k.bi[c]
	}
	return k.bi, bu
}

func grow32(s []int32, n int) []int32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]int32, n)
}
