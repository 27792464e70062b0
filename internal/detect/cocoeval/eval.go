package cocoeval

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

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
	// hits[k] are the records of lists[k][0] that are true positives at some threshold: all a
	// recall-only pass needs.
	hits [][]rec
	// ops are the per-image matches at the operating IoU over all areas.
	ops []opImage
	// top[k] is the highest score of an evaluated class-k detection (hasTop[k] when there is one).
	top    []float64
	hasTop []bool
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

// entry is one evaluated detection with its flags in every area range, before the final sort.
type entry struct {
	score      float64
	img, rank  int32
	class      int32
	match, ign [areaCount]uint32
}

// opImage holds one image's matching at the operating IoU (area "all", per-class cut-off applied).
type opImage struct {
	dets       []box.Detection
	gt         []box.Object
	detGT      []int32   // per detection: the matched object's index, -1 none, -2 beyond the cut-off
	detIgnored []bool    // matched an ignored object
	detIoU     []float64 // IoU with the matched object
}

// Evaluate matches every image's detections to its ground truth as COCOeval.evaluate does and
// keeps the records. It rejects inputs pycocotools would mis-evaluate silently: classes outside
// [0, NumClasses), non-finite or inverted boxes, non-finite scores and negative areas. Images are
// matched in parallel; the result does not depend on the number of workers.
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
		hits:  make([][]rec, p.NumClasses),
		gts:   make([][areaCount][]gtCount, p.NumClasses),
		ops:   make([]opImage, len(images)),
		top:   make([]float64, p.NumClasses), hasTop: make([]bool, p.NumClasses),
	}
	// Contiguous chunks of images per worker, concatenated in chunk order, keep the image order
	// that COCOeval's tie-breaking depends on.
	workers := max(1, min(runtime.GOMAXPROCS(0), len(images)/64))
	parts := make([]*matcher, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*len(images)/workers, (w+1)*len(images)/workers
		m := newMatcher(p)
		n := 0
		for _, im := range images[lo:hi] {
			n += len(im.Dets)
		}
		m.entries = make([]entry, 0, n)
		parts[w] = m
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				m.image(e, int32(i), images[i])
			}
		})
	}
	wg.Wait()
	e.collect(parts)
	return e, nil
}

// collect merges the workers' entries: one stable sort by descending score over all of them
// (ties keep image, then rank order), then a stable split by class into the per-area lists.
func (e *Eval) collect(parts []*matcher) {
	n := 0
	for _, m := range parts {
		n += len(m.entries)
	}
	all := make([]entry, 0, n)
	for _, m := range parts {
		all = append(all, m.entries...)
		m.entries = nil
		for k := range e.p.NumClasses {
			for a := range areaCount {
				e.gts[k][a] = append(e.gts[k][a], m.gts[k][a]...)
			}
			if m.hasTop[k] && (!e.hasTop[k] || m.top[k] > e.top[k]) {
				e.top[k], e.hasTop[k] = m.top[k], true
			}
		}
	}
	keys := make([]uint64, len(all))
	for i, en := range all {
		keys[i] = descendingKey(en.score)
	}
	order := radixOrder(keys)
	T := len(e.p.IoUThresholds)
	full := uint32(1)<<T - 1
	counts := make([][areaCount]int, e.p.NumClasses)
	for _, en := range all {
		for a := range areaCount {
			if en.ign[a] != full {
				counts[en.class][a]++
			}
		}
	}
	for k := range counts {
		for a := range areaCount {
			e.lists[k][a] = make([]rec, 0, counts[k][a])
		}
	}
	for _, i := range order {
		en := &all[i]
		for a := range areaCount {
			if en.ign[a] == full {
				continue
			}
			r := rec{score: en.score, img: en.img, rank: en.rank, match: en.match[a], ign: en.ign[a]}
			e.lists[en.class][a] = append(e.lists[en.class][a], r)
			if a == 0 && r.match&^r.ign != 0 {
				e.hits[en.class] = append(e.hits[en.class], r)
			}
		}
	}
}

// descendingKey maps a score to a key whose ascending unsigned order is the descending score
// order; -0 and +0 share a key, as they tie in pycocotools' sort.
func descendingKey(s float64) uint64 {
	if s == 0 {
		s = 0
	}
	b := math.Float64bits(s)
	if b>>63 == 1 {
		b = ^b
	} else {
		b |= 1 << 63
	}
	return ^b
}

// radixOrder is the stable ascending order of keys: an LSD radix sort over 16-bit digits that
// moves keys with their indices (sequential memory access), skipping digits all keys share.
func radixOrder(keys []uint64) []int32 {
	type item struct {
		key uint64
		idx int32
	}
	n := len(keys)
	cur, tmp := make([]item, n), make([]item, n)
	for i, k := range keys {
		cur[i] = item{k, int32(i)}
	}
	var count [1 << 16]int
	for shift := uint(0); shift < 64; shift += 16 {
		clear(count[:])
		for _, it := range cur {
			count[(it.key>>shift)&0xffff]++
		}
		if n == 0 || count[(cur[0].key>>shift)&0xffff] == n {
			continue
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, it := range cur {
			d := (it.key >> shift) & 0xffff
			tmp[count[d]] = it
			count[d]++
		}
		cur, tmp = tmp, cur
	}
	order := make([]int32, n)
	for i, it := range cur {
		order[i] = it.idx
	}
	return order
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

// matcher evaluates a run of images with its own scratch buffers and outputs.
type matcher struct {
	p            Params
	entries      []entry
	gts          [][areaCount][]gtCount
	top          []float64
	hasTop       []bool
	gtIdx, dtIdx []int
	order        []int
	ious         []float64
	gtIg, crowd  []bool
	gtm          []bool
	dtm          []int
	dtIg         []bool
}

func newMatcher(p Params) *matcher {
	return &matcher{
		p: p, gts: make([][areaCount][]gtCount, p.NumClasses),
		top: make([]float64, p.NumClasses), hasTop: make([]bool, p.NumClasses),
	}
}

// image evaluates one image, class by class.
func (m *matcher) image(e *Eval, img int32, im Image) {
	op := opImage{
		dets: slices.Clone(im.Dets), gt: slices.Clone(im.GT),
		detGT: make([]int32, len(im.Dets)), detIgnored: make([]bool, len(im.Dets)),
		detIoU: make([]float64, len(im.Dets)),
	}
	for j := range op.detGT {
		op.detGT[j] = -2
	}
	// Group by class: objects in source order, detections by score (descending, stable).
	// Sorting class*n+index as plain integers groups by class and keeps the source order.
	m.gtIdx = grow(m.gtIdx, len(im.GT))
	for j, o := range im.GT {
		m.gtIdx[j] = o.Class*len(im.GT) + j
	}
	slices.Sort(m.gtIdx)
	for j := range m.gtIdx {
		m.gtIdx[j] %= len(im.GT)
	}
	m.dtIdx = grow(m.dtIdx, len(im.Dets))
	for j, d := range im.Dets {
		m.dtIdx[j] = d.Class*len(im.Dets) + j
	}
	slices.Sort(m.dtIdx)
	for j := range m.dtIdx {
		m.dtIdx[j] %= len(im.Dets)
	}
	// Within a class, a stable insertion sort by descending score (runs are short).
	for j := 1; j < len(m.dtIdx); j++ {
		x := m.dtIdx[j]
		dx := &im.Dets[x]
		i := j
		for i > 0 {
			dp := &im.Dets[m.dtIdx[i-1]]
			if dp.Class != dx.Class || dp.Score >= dx.Score {
				break
			}
			m.dtIdx[i] = m.dtIdx[i-1]
			i--
		}
		m.dtIdx[i] = x
	}
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
		m.class(img, k, im, m.gtIdx[g0:gi], m.dtIdx[d0:di], &op)
	}
	e.ops[img] = op
}

// class evaluates one (image, class) pair as COCOeval.evaluateImg does for every area range.
func (m *matcher) class(img int32, k int, im Image, gts, dts []int, op *opImage) {
	p := m.p
	if len(dts) > p.MaxDets[2] {
		dts = dts[:p.MaxDets[2]]
	}
	if len(dts) > 0 && (!m.hasTop[k] || im.Dets[dts[0]].Score > m.top[k]) {
		m.top[k], m.hasTop[k] = im.Dets[dts[0]].Score, true
	}
	G, D := len(gts), len(dts)
	T := len(p.IoUThresholds)
	full := uint32(1)<<T - 1
	base := len(m.entries)
	for d, dj := range dts {
		m.entries = append(m.entries, entry{score: im.Dets[dj].Score, img: img, rank: int32(d), class: int32(k)})
		op.detGT[dj] = -1
	}
	ents := m.entries[base:]
	if G == 0 {
		// Nothing to match: every detection is a false positive where its area is in range and
		// ignored where it is not.
		for d, dj := range dts {
			area := im.Dets[dj].W() * im.Dets[dj].H()
			for a, ar := range Areas {
				if area < ar.Lo || area > ar.Hi {
					ents[d].ign[a] = full
				}
			}
		}
		m.dropIgnored(base, full)
		return
	}
	m.ious = grow(m.ious, D*G)
	m.crowd = grow(m.crowd, G)
	for g, gj := range gts {
		m.crowd[g] = im.GT[gj].Crowd
	}
	for d, dj := range dts {
		for g, gj := range gts {
			if m.crowd[g] {
				m.ious[d*G+g] = box.CrowdIoU(im.Dets[dj].Box, im.GT[gj].Box)
			} else {
				m.ious[d*G+g] = box.IoU(im.Dets[dj].Box, im.GT[gj].Box)
			}
		}
	}
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
			m.gts[k][a] = append(m.gts[k][a], gtCount{img, npig})
		}
		if D == 0 {
			continue
		}
		m.sortIgnoredLast(G)
		for t, thr := range p.IoUThresholds {
			m.greedy(G, D, thr)
			bit := uint32(1) << t
			for d := range D {
				if m.dtm[d] >= 0 {
					ents[d].match[a] |= bit
					if m.dtIg[d] {
						ents[d].ign[a] |= bit
					}
				}
			}
		}
		for d, dj := range dts {
			if area := im.Dets[dj].W() * im.Dets[dj].H(); area < ar.Lo || area > ar.Hi {
				ents[d].ign[a] |= full &^ ents[d].match[a]
			}
		}
		if a == 0 {
			m.greedy(G, D, p.OperatingIoU)
			for d, dj := range dts {
				if g := m.dtm[d]; g >= 0 {
					op.detGT[dj] = int32(gts[g])
					op.detIgnored[dj] = m.dtIg[d]
					op.detIoU[dj] = m.ious[d*G+g]
				}
			}
		}
	}
	m.dropIgnored(base, full)
}

// dropIgnored removes the entries from base on that every area ignores at every threshold: they
// add no point to any curve.
func (m *matcher) dropIgnored(base int, full uint32) {
	kept := m.entries[:base]
	for _, en := range m.entries[base:] {
		if en.ign != [areaCount]uint32{full, full, full, full} {
			kept = append(kept, en)
		}
	}
	m.entries = kept
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
