package cocoeval

import (
	"fmt"
	"math"
	"slices"

	"github.com/cvgate/cvgate/internal/detect/box"
)

// Image is one image's ground truth and detections, each in the order its source gave them
// (pycocotools breaks score ties by that order).
type Image struct {
	GT   []box.Object
	Dets []box.Detection
}

// Eval is a finished evaluation: per-image records from which every summary is accumulated. It is
// immutable and safe for concurrent use; each goroutine accumulating resamples needs its own
// Accumulator.
type Eval struct {
	p       Params
	rec     []float64 // recall thresholds
	nImages int
	// lists[k][a] are class k's detections that area range a does not ignore at every threshold,
	// sorted by score (descending), then image, then rank within the image: the order in which
	// COCOeval's accumulate concatenates images and stably sorts scores.
	lists [][areaCount][]rec
	// gts[k][a] are, per image with any, the class-k objects that area range a does not ignore.
	gts [][areaCount][]gtCount
	// ops are the per-image matches at the operating IoU over all areas.
	ops []opImage
}

type rec struct {
	score float64
	img   int32
	rank  int32
	// match has bit t set when the detection matched an object at threshold t; ign when it is
	// ignored there (matched a crowd/difficult or out-of-range object, or is itself out of range
	// and unmatched).
	match, ign uint32
}

type gtCount struct{ img, n int32 }

// opImage holds one image's matching at the operating IoU (area "all", per-class cut-off applied).
type opImage struct {
	detGT      []int32   // per detection: the matched object's index, -1 none, -2 beyond the cut-off
	detIgnored []bool    // matched an ignored object
	detIoU     []float64 // IoU with the matched object
	gtIgnored  []bool
}

// Evaluate matches every image's detections to its ground truth as COCOeval.evaluate does and
// keeps the records. It rejects inputs pycocotools would mis-evaluate silently: classes outside
// [0, NumClasses), non-finite or inverted boxes, non-finite scores and negative areas.
func Evaluate(images []Image, p Params) (*Eval, error) {
	if p.OperatingIoU == 0 {
		p.OperatingIoU = 0.5
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("evaluate detections: %w", err)
	}
	if len(images) > math.MaxInt32 {
		return nil, fmt.Errorf("evaluate detections: %d images exceed the limit", len(images))
	}
	for i, im := range images {
		if err := checkImage(im, p.NumClasses); err != nil {
			return nil, fmt.Errorf("evaluate image %d: %w", i, err)
		}
	}
	e := &Eval{
		p: p, rec: RecallThresholds(), nImages: len(images),
		lists: make([][areaCount][]rec, p.NumClasses),
		gts:   make([][areaCount][]gtCount, p.NumClasses),
		ops:   make([]opImage, len(images)),
	}
	var m matcher
	for i, im := range images {
		m.image(e, int32(i), im)
	}
	for k := range e.lists {
		for a := range e.lists[k] {
			slices.SortFunc(e.lists[k][a], compareRec)
		}
	}
	return e, nil
}

func compareRec(x, y rec) int {
	switch {
	case x.score > y.score:
		return -1
	case x.score < y.score:
		return 1
	case x.img != y.img:
		return int(x.img - y.img)
	}
	return int(x.rank - y.rank)
}

func checkImage(im Image, classes int) error {
	for j, o := range im.GT {
		switch {
		case o.Class < 0 || o.Class >= classes:
			return fmt.Errorf("object %d: class %d is outside 0..%d", j, o.Class, classes-1)
		case !o.Finite() || o.W() < 0 || o.H() < 0:
			return fmt.Errorf("object %d: box %+v is not finite or is inverted", j, o.Box)
		case math.IsNaN(o.Area) || math.IsInf(o.Area, 0) || o.Area < 0:
			return fmt.Errorf("object %d: area %v must be a non-negative number", j, o.Area)
		}
	}
	for j, d := range im.Dets {
		switch {
		case d.Class < 0 || d.Class >= classes:
			return fmt.Errorf("detection %d: class %d is outside 0..%d", j, d.Class, classes-1)
		case !d.Finite() || d.W() < 0 || d.H() < 0:
			return fmt.Errorf("detection %d: box %+v is not finite or is inverted", j, d.Box)
		case math.IsNaN(d.Score) || math.IsInf(d.Score, 0):
			return fmt.Errorf("detection %d: score %v is not finite", j, d.Score)
		}
	}
	return nil
}

// NumImages is the number of evaluated images.
func (e *Eval) NumImages() int { return e.nImages }

// Params are the evaluation's parameters.
func (e *Eval) Params() Params { return e.p }

// matcher holds scratch buffers reused across images.
type matcher struct {
	gtIdx, dtIdx []int
	order        []int
	ious         []float64
	gtIg, crowd  []bool
	gtm          []bool
	dtm          []int
	dtIg         []bool
	match, ign   []uint32
}

// image evaluates one image, class by class.
func (m *matcher) image(e *Eval, img int32, im Image) {
	op := opImage{
		detGT: make([]int32, len(im.Dets)), detIgnored: make([]bool, len(im.Dets)),
		detIoU: make([]float64, len(im.Dets)), gtIgnored: make([]bool, len(im.GT)),
	}
	for j := range op.detGT {
		op.detGT[j] = -2
	}
	for j, o := range im.GT {
		op.gtIgnored[j] = o.Ignored()
	}
	// Group by class: objects in source order, detections by score (descending, stable).
	m.gtIdx = m.gtIdx[:0]
	for j := range im.GT {
		m.gtIdx = append(m.gtIdx, j)
	}
	slices.SortStableFunc(m.gtIdx, func(a, b int) int { return im.GT[a].Class - im.GT[b].Class })
	m.dtIdx = m.dtIdx[:0]
	for j := range im.Dets {
		m.dtIdx = append(m.dtIdx, j)
	}
	slices.SortStableFunc(m.dtIdx, func(a, b int) int {
		da, db := im.Dets[a], im.Dets[b]
		if da.Class != db.Class {
			return da.Class - db.Class
		}
		switch {
		case da.Score > db.Score:
			return -1
		case da.Score < db.Score:
			return 1
		}
		return 0
	})
	gi, di := 0, 0
	for gi < len(m.gtIdx) || di < len(m.dtIdx) {
		k := math.MaxInt
		if gi < len(m.gtIdx) {
			k = im.GT[m.gtIdx[gi]].Class
		}
		if di < len(m.dtIdx) {
			k = min(k, im.Dets[m.dtIdx[di]].Class)
		}
		g0, d0 := gi, di
		for gi < len(m.gtIdx) && im.GT[m.gtIdx[gi]].Class == k {
			gi++
		}
		for di < len(m.dtIdx) && im.Dets[m.dtIdx[di]].Class == k {
			di++
		}
		m.class(e, img, k, im, m.gtIdx[g0:gi], m.dtIdx[d0:di], &op)
	}
	e.ops[img] = op
}

// class evaluates one (image, class) pair as COCOeval.evaluateImg does for every area range.
func (m *matcher) class(e *Eval, img int32, k int, im Image, gts, dts []int, op *opImage) {
	maxDet := e.p.MaxDets[len(e.p.MaxDets)-1]
	if len(dts) > maxDet {
		dts = dts[:maxDet]
	}
	G, D := len(gts), len(dts)
	m.ious = grow(m.ious, D*G)
	for d, dj := range dts {
		for g, gj := range gts {
			if im.GT[gj].Crowd {
				m.ious[d*G+g] = box.CrowdIoU(im.Dets[dj].Box, im.GT[gj].Box)
			} else {
				m.ious[d*G+g] = box.IoU(im.Dets[dj].Box, im.GT[gj].Box)
			}
		}
	}
	m.crowd = grow(m.crowd, G)
	for g, gj := range gts {
		m.crowd[g] = im.GT[gj].Crowd
	}
	T := len(e.p.IoUThresholds)
	full := uint32(1)<<T - 1
	m.match, m.ign = grow(m.match, D), grow(m.ign, D)
	for a, ar := range Areas {
		m.gtIg = grow(m.gtIg, G)
		npig := int32(0)
		for g, gj := range gts {
			o := im.GT[gj]
			m.gtIg[g] = o.Ignored() || o.Area < ar.Lo || o.Area > ar.Hi
			if !m.gtIg[g] {
				npig++
			}
		}
		if npig > 0 {
			e.gts[k][a] = append(e.gts[k][a], gtCount{img, npig})
		}
		if D == 0 {
			continue
		}
		m.sortIgnoredLast(G)
		clear(m.match[:D])
		clear(m.ign[:D])
		for t, thr := range e.p.IoUThresholds {
			m.greedy(G, D, thr)
			bit := uint32(1) << t
			for d := range D {
				if m.dtm[d] >= 0 {
					m.match[d] |= bit
					if m.dtIg[d] {
						m.ign[d] |= bit
					}
				}
			}
		}
		for d, dj := range dts {
			if area := im.Dets[dj].W() * im.Dets[dj].H(); area < ar.Lo || area > ar.Hi {
				m.ign[d] |= full &^ m.match[d]
			}
			if m.ign[d] == full {
				continue // ignored at every threshold: adds no point to any curve
			}
			e.lists[k][a] = append(e.lists[k][a], rec{
				score: im.Dets[dj].Score, img: img, rank: int32(d), match: m.match[d], ign: m.ign[d],
			})
		}
		if a == 0 {
			m.greedy(G, D, e.p.OperatingIoU)
			for d, dj := range dts {
				op.detGT[dj] = -1
				if g := m.dtm[d]; g >= 0 {
					op.detGT[dj] = int32(gts[g])
					op.detIgnored[dj] = m.dtIg[d]
					op.detIoU[dj] = m.ious[d*G+g]
				}
			}
		}
	}
}

// sortIgnoredLast orders the objects non-ignored first, stably (COCOeval's mergesort on _ignore).
func (m *matcher) sortIgnoredLast(G int) {
	m.order = m.order[:0]
	for g := range G {
		if !m.gtIg[g] {
			m.order = append(m.order, g)
		}
	}
	for g := range G {
		if m.gtIg[g] {
			m.order = append(m.order, g)
		}
	}
}

// greedy is COCOeval's matching at one threshold: detections in score order each take the
// unmatched object (crowds may be taken again) of highest IoU >= thr, later objects winning ties,
// and never trade a real object for an ignored one. It leaves dtm[d] = object index or -1 and
// dtIg[d] = whether that object is ignored.
func (m *matcher) greedy(G, D int, thr float64) {
	m.gtm = grow(m.gtm, G)
	clear(m.gtm[:G])
	m.dtm, m.dtIg = grow(m.dtm, D), grow(m.dtIg, D)
	for d := range D {
		iou := min(thr, 1-1e-10)
		best := -1
		row := m.ious[d*G : d*G+G]
		for _, g := range m.order {
			if m.gtm[g] && !m.crowd[g] {
				continue
			}
			if best > -1 && !m.gtIg[best] && m.gtIg[g] {
				break
			}
			if row[g] < iou {
				continue
			}
			iou, best = row[g], g
		}
		m.dtm[d], m.dtIg[d] = best, false
		if best >= 0 {
			m.dtIg[d] = m.gtIg[best]
			m.gtm[best] = true
		}
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
