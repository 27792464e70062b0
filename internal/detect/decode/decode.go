package decode

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/cvgate/cvgate/internal/detect/box"
)

// Tensor is one output's values: float outputs fill F32, integer ones I64.
type Tensor struct {
	Name  string
	Shape []int64
	F32   []float32
	I64   []int64
}

// scoreSlack tolerates float rounding above 1 in probabilities before calling them logits.
const scoreSlack = 1e-3

type scratch struct {
	best []float32
	arg  []int32
	nms  nmsScratch
}

// Decode reads one batch of outputs (batch images) into detections per image, boxes in
// model-input pixels, highest score first.
func (d *Decoder) Decode(ts []Tensor, batch int) ([][]box.Detection, error) {
	out, _, err := d.DecodeCounted(ts, batch)
	return out, err
}

// DecodeCounted is Decode that also returns, per image, how many detections were dropped
// because their label maps to no class, so that the count can travel with each image's
// prediction (a cached prediction is never decoded again).
func (d *Decoder) DecodeCounted(ts []Tensor, batch int) ([][]box.Detection, []int, error) {
	if batch <= 0 {
		return nil, nil, fmt.Errorf("decode detector outputs: batch size %d must be positive", batch)
	}
	s, _ := d.scratch.Get().(*scratch)
	if s == nil {
		s = &scratch{}
	}
	defer d.scratch.Put(s)
	out, drops, err := d.decode(ts, batch, s)
	if err != nil {
		return nil, nil, fmt.Errorf("decode detector outputs (%s): %w", d.conv, err)
	}
	return out, drops, nil
}

func (d *Decoder) decode(ts []Tensor, batch int, s *scratch) ([][]box.Detection, []int, error) {
	drops := make([]int, batch)
	out := make([][]box.Detection, batch)
	switch d.conv {
	case YOLOv5, YOLOv8, YOLOv8Transposed:
		t, err := tensor(ts, d.single, 3, true)
		if err != nil {
			return nil, nil, err
		}
		if t.Shape[0] != int64(batch) {
			return nil, nil, fmt.Errorf("output %q has batch %d, want %d", t.Name, t.Shape[0], batch)
		}
		for b := range batch {
			if err := d.rawHead(t, b, s); err != nil {
				return nil, nil, err
			}
			if out[b], err = d.suppress(s, d.classes, d.rawCoords(t, b)); err != nil {
				return nil, nil, err
			}
		}
	case SSD:
		bt, err := tensor(ts, d.boxes, 3, true)
		if err != nil {
			return nil, nil, err
		}
		st, err := tensor(ts, d.scores, 3, true)
		if err != nil {
			return nil, nil, err
		}
		if bt.Shape[0] != int64(batch) || st.Shape[0] != int64(batch) || bt.Shape[1] != st.Shape[1] || bt.Shape[2] != 4 {
			return nil, nil, fmt.Errorf("boxes %v and scores %v do not fit a batch of %d", bt.Shape, st.Shape, batch)
		}
		cols := int(st.Shape[2])
		if cols != d.classes+boolInt(d.background) {
			return nil, nil, fmt.Errorf("scores have %d columns, resolved %d", cols, d.classes+boolInt(d.background))
		}
		K := int(bt.Shape[1])
		for b := range batch {
			if err := d.ssd(bt, st, b, s); err != nil {
				return nil, nil, err
			}
			coords := func(k int) [4]float32 { return [4]float32(bt.F32[(b*K+k)*4 : (b*K+k)*4+4]) }
			if out[b], err = d.suppress(s, cols, coords); err != nil {
				return nil, nil, err
			}
		}
	case BoxesScoresLabels:
		if err := d.lists(ts, batch, out, drops); err != nil {
			return nil, nil, err
		}
	case Padded6, Padded7, Flat7:
		if err := d.rows(ts, batch, out, drops); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("unresolved convention")
	}
	return out, drops, nil
}

// tensor finds an output by name and checks its rank and element count.
func tensor(ts []Tensor, name string, rank int, float bool) (*Tensor, error) {
	for i := range ts {
		t := &ts[i]
		if t.Name != name {
			continue
		}
		if rank > 0 && len(t.Shape) != rank {
			return nil, fmt.Errorf("output %q has shape %v, want rank %d", name, t.Shape, rank)
		}
		n := int64(1)
		for _, v := range t.Shape {
			if v < 0 {
				return nil, fmt.Errorf("output %q has shape %v", name, t.Shape)
			}
			n *= v
		}
		have := int64(len(t.F32))
		if !float && len(t.I64) > 0 {
			have = int64(len(t.I64))
		}
		if float && len(t.F32) == 0 && n > 0 {
			return nil, fmt.Errorf("output %q holds no float values", name)
		}
		if have != n {
			return nil, fmt.Errorf("output %q has %d values for shape %v", name, have, t.Shape)
		}
		return t, nil
	}
	return nil, fmt.Errorf("the outputs lack %q", name)
}

// rawHead collects image b's candidates of a YOLO head into s.cands.
func (d *Decoder) rawHead(t *Tensor, b int, s *scratch) error {
	cfg := d.cfg
	C := d.classes
	thr := float32(cfg.ScoreThreshold)
	s.nms.cands = s.nms.cands[:0]
	switch d.conv {
	case YOLOv8:
		if int(t.Shape[1]) != 4+C {
			return fmt.Errorf("output %q has %d channels, resolved %d", t.Name, t.Shape[1], 4+C)
		}
		A := int(t.Shape[2])
		img := t.F32[b*(4+C)*A : (b+1)*(4+C)*A]
		row := func(c int) []float32 { return img[c*A : (c+1)*A] }
		limit := d.rawThreshold(thr)
		if cfg.MultiLabel {
			for c := range C {
				for a, v := range row(4 + c) {
					if v > limit {
						if err := addCand(s, d.prob(v), int64(a)*int64(C)+int64(c)); err != nil {
							return err
						}
					}
				}
			}
			return nil
		}
		// Best class per anchor, one class row at a time: sequential memory in this layout. The
		// running best starts at the threshold, so background scores below it never take the
		// (mispredicted) update branch; anchors that stay at -1 have nothing above it.
		s.best, s.arg = grow(s.best, A), grow(s.arg, A)
		for a := range s.best {
			s.best[a], s.arg[a] = limit, -1
		}
		c := 0
		for ; c < C; c++ {
			r := row(4 + c)
			best, arg := s.best[:len(r)], s.arg[:len(r)]
			for a, v := range r {
				if v > best[a] {
					best[a], arg[a] = v, int32(c)
				}
			}
		}
		for a, c := range s.arg {
			if c >= 0 {
				if err := addCand(s, d.prob(s.best[a]), int64(a)*int64(C)+int64(c)); err != nil {
					return err
				}
			}
		}
	case YOLOv8Transposed, YOLOv5:
		off := 4
		if d.conv == YOLOv5 {
			off = 5
		}
		W := off + C
		if int(t.Shape[2]) != W {
			return fmt.Errorf("output %q has rows of %d, resolved %d", t.Name, t.Shape[2], W)
		}
		A := int(t.Shape[1])
		img := t.F32[b*A*W : (b+1)*A*W]
		for a := range A {
			r := img[a*W : (a+1)*W]
			obj := float32(1)
			if d.conv == YOLOv5 {
				// score = objectness x class score <= objectness: most anchors stop here.
				obj = d.prob(r[4])
				if !(obj > thr) {
					continue
				}
				if obj > 1+scoreSlack {
					return fmt.Errorf("objectness %v above 1: the head emits logits (set scores_are_logits)", obj)
				}
			}
			cls := r[off:]
			if cfg.MultiLabel {
				for c, v := range cls {
					if p := d.prob(v) * obj; p > thr {
						if err := addCand(s, p, int64(a)*int64(C)+int64(c)); err != nil {
							return err
						}
					}
				}
				continue
			}
			bc, bv := 0, cls[0]
			for c, v := range cls {
				if v > bv {
					bc, bv = c, v
				}
			}
			// The sigmoid is monotonic: the best logit is the best probability.
			if p := d.prob(bv) * obj; p > thr {
				if err := addCand(s, p, int64(a)*int64(C)+int64(bc)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// rawThreshold is the threshold on raw values: with logits, the logit of the score threshold,
// so that the sigmoid runs on candidates only.
func (d *Decoder) rawThreshold(thr float32) float32 {
	if !d.cfg.Logits {
		return thr
	}
	switch {
	case thr <= 0:
		return float32(math.Inf(-1))
	case thr >= 1:
		return float32(math.Inf(1))
	}
	return float32(math.Log(float64(thr) / (1 - float64(thr))))
}

// addCand appends a candidate whose score is a probability; tie is its position, row x classes +
// class, from which suppress finds its box again.
func addCand(s *scratch, score float32, tie int64) error {
	if score > 1+scoreSlack {
		return fmt.Errorf("score %v above 1: the scores are logits (set scores_are_logits)", score)
	}
	s.nms.cands = append(s.nms.cands, cand{score: float64(score), tie: tie})
	return nil
}

// ssd collects image b's candidates of SSD-style boxes and per-class scores.
func (d *Decoder) ssd(bt, st *Tensor, b int, s *scratch) error {
	K, cols := int(bt.Shape[1]), int(st.Shape[2])
	first := boolInt(d.background)
	thr := float32(d.cfg.ScoreThreshold)
	s.nms.cands = s.nms.cands[:0]
	for k := range K {
		sc := st.F32[(b*K+k)*cols+first : (b*K+k+1)*cols]
		if d.cfg.MultiLabel {
			for c, v := range sc {
				if v = d.prob(v); v > thr {
					if err := addCand(s, v, int64(k)*int64(cols)+int64(c)); err != nil {
						return err
					}
				}
			}
			continue
		}
		bc, best := 0, sc[0]
		for c, v := range sc {
			if v > best {
				bc, best = c, v
			}
		}
		if best = d.prob(best); best > thr {
			if err := addCand(s, best, int64(k)*int64(cols)+int64(bc)); err != nil {
				return err
			}
		}
	}
	return nil
}

// rawCoords looks up the four box numbers of anchor a of image b in a raw head.
func (d *Decoder) rawCoords(t *Tensor, b int) func(a int) [4]float32 {
	if d.conv == YOLOv8 {
		A, W := int(t.Shape[2]), int(t.Shape[1])
		img := t.F32[b*W*A : (b+1)*W*A]
		return func(a int) [4]float32 { return [4]float32{img[a], img[A+a], img[2*A+a], img[3*A+a]} }
	}
	A, W := int(t.Shape[1]), int(t.Shape[2])
	img := t.F32[b*A*W : (b+1)*A*W]
	return func(a int) [4]float32 { return [4]float32(img[a*W : a*W+4]) }
}

// suppress runs NMS on the collected candidates; a candidate's tie is row x stride + class, and
// coords gives a row's box numbers.
func (d *Decoder) suppress(s *scratch, stride int, coords func(row int) [4]float32) ([]box.Detection, error) {
	cfg := d.cfg
	boxOf := func(tie int64) (box.Box, int, error) {
		row, class := int(tie/int64(stride)), int(tie%int64(stride))
		b, err := d.toBox(coords(row))
		if err != nil {
			return b, class, fmt.Errorf("box of row %d: %w", row, err)
		}
		return b, class, nil
	}
	out, err := s.nms.run(boxOf, cfg.IoUThreshold, cfg.MaxDetections, cfg.TopK, cfg.Agnostic, make([]box.Detection, 0, min(len(s.nms.cands), cfg.MaxDetections)))
	if err == nil && out == nil {
		out = []box.Detection{}
	}
	return out, err
}

// toBox decodes four numbers into a box in input pixels.
func (d *Decoder) toBox(v [4]float32) (box.Box, error) {
	a, b, c, e := float64(v[0]), float64(v[1]), float64(v[2]), float64(v[3])
	var r box.Box
	switch d.enc {
	case XYXY:
		r = box.Box{X1: a, Y1: b, X2: c, Y2: e}
	case XYWH:
		r = box.Box{X1: a, Y1: b, X2: a + c, Y2: b + e}
	case CXCYWH:
		r = box.FromCXCYWH(a, b, c, e)
	case YXYX:
		r = box.Box{X1: b, Y1: a, X2: e, Y2: c}
	}
	if d.units == Normalized {
		w, h := float64(d.cfg.InputWidth), float64(d.cfg.InputHeight)
		r = box.Box{X1: r.X1 * w, Y1: r.Y1 * h, X2: r.X2 * w, Y2: r.Y2 * h}
	}
	if !r.Finite() {
		return box.Box{}, fmt.Errorf("box %v is not finite", v)
	}
	if r.X2 < r.X1 || r.Y2 < r.Y1 {
		// A negative width from a raw head, or corners in the other order: keep the box, as an
		// ordered rectangle, rather than inventing a size.
		r = box.Box{X1: min(r.X1, r.X2), Y1: min(r.Y1, r.Y2), X2: max(r.X1, r.X2), Y2: max(r.Y1, r.Y2)}
	}
	return r, nil
}

// classOf maps a label value to a class index; ok is false for labels that map to no class.
func (d *Decoder) classOf(v int64) (int, bool) {
	v -= int64(d.cfg.LabelOffset)
	if d.cfg.LabelIDs != nil {
		i := slices.Index(d.cfg.LabelIDs, v)
		return i, i >= 0
	}
	if v < 0 || (d.cfg.NumClasses > 0 && v >= int64(d.cfg.NumClasses)) {
		return 0, false
	}
	return int(v), true
}

// lists reads separate boxes, scores and labels (and an optional count).
func (d *Decoder) lists(ts []Tensor, batch int, out [][]box.Detection, drops []int) error {
	bt, err := tensor(ts, d.boxes, 0, true)
	if err != nil {
		return err
	}
	st, err := tensor(ts, d.scores, len(bt.Shape)-1, true)
	if err != nil {
		return err
	}
	lt, err := tensor(ts, d.labels, len(bt.Shape)-1, false)
	if err != nil {
		return err
	}
	batched := len(bt.Shape) == 3
	if !batched && batch != 1 {
		return fmt.Errorf("unbatched outputs (%v) for a batch of %d: run the model at batch 1", bt.Shape, batch)
	}
	K := int(bt.Shape[len(bt.Shape)-2])
	if bt.Shape[len(bt.Shape)-1] != 4 || int(st.Shape[len(st.Shape)-1]) != K || int(lt.Shape[len(lt.Shape)-1]) != K ||
		batched && (bt.Shape[0] != int64(batch) || st.Shape[0] != int64(batch) || lt.Shape[0] != int64(batch)) {
		return fmt.Errorf("boxes %v, scores %v and labels %v do not fit a batch of %d", bt.Shape, st.Shape, lt.Shape, batch)
	}
	var counts []int
	if d.count != "" {
		ct, err := tensor(ts, d.count, 0, false)
		if err != nil {
			return err
		}
		if n := len(ct.F32) + len(ct.I64); n != batch {
			return fmt.Errorf("count output %q has %d values for a batch of %d", d.count, n, batch)
		}
		for i := range batch {
			v := 0.0
			if len(ct.I64) > 0 {
				v = float64(ct.I64[i])
			} else {
				v = float64(ct.F32[i])
			}
			if math.IsNaN(v) || v < 0 {
				v = 0
			}
			counts = append(counts, int(min(v, float64(K))))
		}
	}
	for b := range batch {
		n := K
		if counts != nil {
			n = counts[b]
		}
		var dets []box.Detection
		for k := range n {
			i := b*K + k
			score := float64(st.F32[i])
			if !(score > d.cfg.ScoreThreshold) {
				continue
			}
			var label int64
			if len(lt.I64) > 0 {
				label = lt.I64[i]
			} else {
				label = int64(math.Round(float64(lt.F32[i])))
			}
			class, ok := d.classOf(label)
			if !ok {
				drops[b]++
				continue
			}
			bx, err := d.toBox([4]float32(bt.F32[4*i : 4*i+4]))
			if err != nil {
				return fmt.Errorf("image %d detection %d: %w", b, k, err)
			}
			dets = append(dets, box.Detection{Box: bx, Class: class, Score: score})
		}
		out[b] = d.cap(dets)
	}
	return nil
}

// rows reads the one-tensor post-NMS forms.
func (d *Decoder) rows(ts []Tensor, batch int, out [][]box.Detection, drops []int) error {
	t, err := tensor(ts, d.single, 0, true)
	if err != nil {
		return err
	}
	width := 6
	if d.conv != Padded6 {
		width = 7
	}
	var per int // rows per image; 0 for the flat form
	switch {
	case d.conv == Flat7 && len(t.Shape) == 2:
	case d.conv != Flat7 && len(t.Shape) == 3 && t.Shape[0] == int64(batch):
		per = int(t.Shape[1])
	case d.conv == Padded6 && len(t.Shape) == 2 && batch == 1:
		per = int(t.Shape[0])
	default:
		return fmt.Errorf("output %q has shape %v, which does not fit %s for a batch of %d", t.Name, t.Shape, d.conv, batch)
	}
	if t.Shape[len(t.Shape)-1] != int64(width) {
		return fmt.Errorf("output %q has rows of %d, want %d", t.Name, t.Shape[len(t.Shape)-1], width)
	}
	lists := make([][]box.Detection, batch)
	n := len(t.F32) / width
	for r := range n {
		row := t.F32[r*width : (r+1)*width]
		b := 0
		if per > 0 {
			b = r / per
		}
		if width == 7 {
			bi := float64(row[0])
			if bi < 0 || math.IsNaN(bi) {
				continue // padding
			}
			if d.conv == Flat7 {
				b = int(math.Round(bi))
				if b >= batch {
					return fmt.Errorf("row %d has batch index %v for a batch of %d", r, bi, batch)
				}
			}
			row = row[1:]
		}
		score, label := float64(row[4]), float64(row[5])
		if d.cfg.ClassBeforeScore {
			score, label = label, score
		}
		if !(score > d.cfg.ScoreThreshold) || label < 0 || math.IsNaN(label) {
			continue
		}
		class, ok := d.classOf(int64(math.Round(label)))
		if !ok {
			drops[b]++
			continue
		}
		bx, err := d.toBox([4]float32(row[:4]))
		if err != nil {
			return fmt.Errorf("row %d: %w", r, err)
		}
		lists[b] = append(lists[b], box.Detection{Box: bx, Class: class, Score: score})
	}
	for b := range batch {
		out[b] = d.cap(lists[b])
	}
	return nil
}

// cap orders a post-NMS list by score (stable) and keeps MaxDetections.
func (d *Decoder) cap(dets []box.Detection) []box.Detection {
	slices.SortStableFunc(dets, func(a, b box.Detection) int { return cmp.Compare(b.Score, a.Score) })
	if len(dets) > d.cfg.MaxDetections {
		dets = dets[:d.cfg.MaxDetections]
	}
	if dets == nil {
		dets = []box.Detection{}
	}
	return dets
}

func sigmoid(v float32) float32 { return float32(1 / (1 + math.Exp(-float64(v)))) }

// prob is a raw score as a probability: the sigmoid of a logit when the head emits logits.
func (d *Decoder) prob(v float32) float32 {
	if d.cfg.Logits {
		return sigmoid(v)
	}
	return v
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
