package decode

import (
	"github.com/cvgate/cvgate/internal/detect/box"
)

// cand is a candidate before NMS: its probability and its position in the output (anchor x
// classes + class), from which NMS looks up the box and class when it reaches the candidate, and
// which orders equal scores so that the result depends neither on the layout nor on sort
// internals. Sixteen bytes: a low threshold can make hundreds of thousands of them.
type cand struct {
	score float64
	tie   int64
}

// NMS keeps, in descending score order, each detection that overlaps no kept detection of its
// class (of any class when agnostic) by an IoU above iou, until maxDet are kept (0: no cap). Equal
// scores keep their input order, so the result is deterministic.
func NMS(dets []box.Detection, iou float64, maxDet int, agnostic bool) []box.Detection {
	var s nmsScratch
	for i, d := range dets {
		s.cands = append(s.cands, cand{score: d.Score, tie: int64(i)})
	}
	out, _ := s.run(func(tie int64) (box.Box, int, error) { return dets[tie].Box, dets[tie].Class, nil }, iou, maxDet, 0, agnostic, nil)
	return out
}

// nmsScratch holds the candidates of one image and the buffers NMS reuses.
type nmsScratch struct {
	cands []cand
	kept  [][]kept
}

type kept struct {
	box.Box
	area float64
}

// before orders candidates: higher score first, then lower tie.
func before(a, b *cand) bool {
	return a.score > b.score || a.score == b.score && a.tie < b.tie
}

func down(h []cand, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && before(&h[r], &h[l]) {
			m = r
		}
		if !before(&h[m], &h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// run suppresses greedily over s.cands, taking them best first from a heap: building it is linear
// and NMS usually reaches its cap after a few hundred candidates, so no full sort is needed. At
// most topK candidates (0: all) are considered, as if the list were sorted and cut there. boxOf
// converts a candidate's coordinates; its error aborts the run.
func (s *nmsScratch) run(boxOf func(tie int64) (box.Box, int, error), iou float64, maxDet, topK int, agnostic bool, out []box.Detection) ([]box.Detection, error) {
	h := s.cands
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(h, i)
	}
	for i := range s.kept {
		s.kept[i] = s.kept[i][:0]
	}
	visited, nkept := 0, 0
	for len(h) > 0 && (topK == 0 || visited < topK) && (maxDet == 0 || nkept < maxDet) {
		c := h[0]
		h[0] = h[len(h)-1]
		h = h[:len(h)-1]
		down(h, 0)
		visited++
		b, class, err := boxOf(c.tie)
		if err != nil {
			return nil, err
		}
		k := 0
		if !agnostic {
			k = class
		}
		for len(s.kept) <= k {
			s.kept = append(s.kept, nil)
		}
		cur := kept{b, b.W() * b.H()}
		suppressed := false
		for i := range s.kept[k] {
			if overlap(&cur, &s.kept[k][i]) > iou {
				suppressed = true
				break
			}
		}
		if suppressed {
			continue
		}
		s.kept[k] = append(s.kept[k], cur)
		out = append(out, box.Detection{Box: b, Class: class, Score: c.score})
		nkept++
	}
	return out, nil
}

// overlap is the IoU of two boxes with precomputed areas.
func overlap(a, b *kept) float64 {
	w := min(a.X2, b.X2) - max(a.X1, b.X1)
	if w <= 0 {
		return 0
	}
	h := min(a.Y2, b.Y2) - max(a.Y1, b.Y1)
	if h <= 0 {
		return 0
	}
	i := w * h
	return i / (a.area + b.area - i)
}
