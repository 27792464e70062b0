package cocoeval

import (
	"fmt"
	"math/bits"
	"slices"
)

// StatNames are the names of Summary.Stats, in COCOeval's order.
var StatNames = [12]string{"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"}

// Summary is COCOeval.summarize's output over one multiset of images. -1 marks a number with
// no ground truth to define it (e.g. APl when no object is large), as in pycocotools.
type Summary struct {
	// Stats are AP@[.5:.95], AP50, AP75, AP small/medium/large, AR@1, AR@10, AR@100 and AR
	// small/medium/large (see StatNames; the cut-offs are Params.MaxDets).
	Stats [12]float64
	// PerClassAP is AP@[.5:.95] per class (area all, the last cut-off), PerClassAP50 and
	// PerClassAP75 at IoU 0.5 and 0.75, PerClassAR the recall at the last cut-off.
	PerClassAP, PerClassAP50, PerClassAP75, PerClassAR []float64
	// NumGT counts the non-ignored objects per class.
	NumGT []int
}

// Accumulator recomputes summaries over multisets of images from an Eval's records. It holds
// scratch memory; use one per goroutine.
type Accumulator struct {
	e      *Eval
	weight []int32
	ones   []int32
	tp     [maxThresholds]float64
	rc, pr [maxThresholds][]float64
	sc     [maxThresholds][]float64
	prec   []float64 // [T][R] of one (class, area)
	scores []float64 // [T][R]: the score at each sampled point
	recall []float64 // [T]
}

// NewAccumulator returns an Accumulator over e.
func (e *Eval) NewAccumulator() *Accumulator {
	a := &Accumulator{e: e, weight: make([]int32, e.nImages), ones: make([]int32, e.nImages)}
	for i := range a.ones {
		a.ones[i] = 1
	}
	T := len(e.p.IoUThresholds)
	a.prec = make([]float64, T*len(e.rec))
	a.scores = make([]float64, T*len(e.rec))
	a.recall = make([]float64, T)
	return a
}

// Summary is the summary over all images once: COCOeval's numbers.
func (e *Eval) Summary() Summary {
	s, _ := e.NewAccumulator().Summary(nil)
	return s
}

// weights turns a multiset of image indices into per-image multiplicities (nil: every image once).
func (a *Accumulator) weights(images []int) ([]int32, error) {
	if images == nil {
		return a.ones, nil
	}
	clear(a.weight)
	for _, i := range images {
		if i < 0 || i >= len(a.weight) {
			return nil, fmt.Errorf("image index %d is outside 0..%d", i, len(a.weight)-1)
		}
		a.weight[i]++
	}
	return a.weight, nil
}

// Summary is the summary over a multiset of image indices (repetition allowed, as in a bootstrap
// resample; nil means every image once). An image drawn n times counts as n copies whose
// detections sit next to each other in the score order; over the plain image set this is exactly
// COCOeval's order.
func (a *Accumulator) Summary(images []int) (Summary, error) {
	w, err := a.weights(images)
	if err != nil {
		return Summary{}, fmt.Errorf("summarize detections: %w", err)
	}
	p := a.e.p
	K, T, R := p.NumClasses, len(p.IoUThresholds), len(a.e.rec)
	t50, t75 := p.thresholdIndex(0.5), p.thresholdIndex(0.75)
	last := p.MaxDets[2]
	s := Summary{
		PerClassAP: make([]float64, K), PerClassAP50: make([]float64, K), PerClassAP75: make([]float64, K),
		PerClassAR: make([]float64, K), NumGT: make([]int, K),
	}
	var ap, ap50, ap75, ar [areaCount]mean
	var arAt [2]mean
	for k := range K {
		s.PerClassAP[k], s.PerClassAP50[k], s.PerClassAP75[k], s.PerClassAR[k] = -1, -1, -1, -1
		for area := range areaCount {
			npig := a.npig(k, area, w)
			if area == 0 {
				s.NumGT[k] = int(npig)
			}
			if npig == 0 {
				continue
			}
			a.curves(k, area, last, w, npig, true, false)
			var all, at50, at75 mean
			for t := range T {
				for r := range R {
					v := a.prec[t*R+r]
					all.add(v)
					if t == t50 {
						at50.add(v)
					}
					if t == t75 {
						at75.add(v)
					}
				}
				ar[area].add(a.recall[t])
			}
			ap[area].merge(all)
			if area == 0 {
				ap50[0].merge(at50)
				ap75[0].merge(at75)
				s.PerClassAP[k], s.PerClassAP50[k], s.PerClassAP75[k] = all.value(), at50.value(), at75.value()
				var rk mean
				for t := range T {
					rk.add(a.recall[t])
				}
				s.PerClassAR[k] = rk.value()
				for j := range 2 {
					a.curves(k, 0, p.MaxDets[j], w, npig, false, false)
					for t := range T {
						arAt[j].add(a.recall[t])
					}
				}
			}
		}
	}
	// COCOeval's summarize takes the headline AP at a cut-off of exactly 100 detections, whatever
	// MaxDets says, and reports -1 when none is 100; the other statistics use MaxDets[2].
	apHeadline := ap[0].value()
	if i := slices.Index(p.MaxDets, 100); i < 0 {
		apHeadline = -1
	} else if i != 2 {
		var m mean
		for k := range K {
			if npig := a.npig(k, 0, w); npig > 0 {
				a.curves(k, 0, 100, w, npig, true, false)
				for _, v := range a.prec {
					m.add(v)
				}
			}
		}
		apHeadline = m.value()
	}
	s.Stats = [12]float64{
		apHeadline, ap50[0].value(), ap75[0].value(), ap[1].value(), ap[2].value(), ap[3].value(),
		arAt[0].value(), arAt[1].value(), ar[0].value(), ar[1].value(), ar[2].value(), ar[3].value(),
	}
	return s, nil
}

// mean averages the entries COCOeval's summarize keeps (those > -1); -1 when there are none.
type mean struct {
	sum float64
	n   int
}

func (m *mean) add(v float64) { m.sum += v; m.n++ }
func (m *mean) merge(o mean)  { m.sum += o.sum; m.n += o.n }
func (m mean) value() float64 {
	if m.n == 0 {
		return -1
	}
	return m.sum / float64(m.n)
}

func (a *Accumulator) npig(k, area int, w []int32) float64 {
	n := int64(0)
	for _, g := range a.e.gts[k][area] {
		n += int64(w[g.img]) * int64(g.n)
	}
	return float64(n)
}

// curves runs COCOeval.accumulate for one (class, area, cut-off): the cumulative true and false
// positives in score order, recall a.recall[t] = tp/npig and, when withPrecision, the precision
// envelope sampled at the recall thresholds into a.prec (and, with withScores, the score at each
// sampled point into a.scores).
//
// Only true positives are kept as curve points. That loses nothing: recall only grows at a true
// positive, so every recall threshold is first reached at one (or, for recall 0, at the first
// detection, whose envelope is the maximum over all points), and precision only falls at a false
// positive, so the envelope - the best precision at or after a point - is attained at true
// positives. False positives enter through the running count total - ignored[t] - tp[t].
func (a *Accumulator) curves(k, area, maxDet int, w []int32, npig float64, withPrecision, withScores bool) {
	T := len(a.e.p.IoUThresholds)
	var ignored [maxThresholds]float64
	for t := range T {
		a.tp[t] = 0
		a.rc[t], a.pr[t], a.sc[t] = a.rc[t][:0], a.pr[t][:0], a.sc[t][:0]
	}
	list := a.e.lists[k][area]
	if !withPrecision && area == 0 {
		list = a.e.hits[k] // recall needs the true positives only
	}
	total := 0.0
	for i := range list {
		r := &list[i]
		wt := w[r.img]
		if wt == 0 || int(r.rank) >= maxDet {
			continue
		}
		fw := float64(wt)
		total += fw
		for b := r.ign; b != 0; b &= b - 1 {
			ignored[bits.TrailingZeros32(b)] += fw
		}
		for b := r.match &^ r.ign; b != 0; b &= b - 1 {
			t := bits.TrailingZeros32(b)
			a.tp[t] += fw
			if withPrecision {
				tp := a.tp[t]
				fp := total - ignored[t] - tp
				a.rc[t] = append(a.rc[t], tp/npig)
				a.pr[t] = append(a.pr[t], tp/(tp+fp+eps))
				if withScores {
					a.sc[t] = append(a.sc[t], r.score)
				}
			}
		}
	}
	for t := range T {
		a.recall[t] = a.tp[t] / npig
	}
	if !withPrecision {
		return
	}
	R := len(a.e.rec)
	for t := range T {
		pr, rc := a.pr[t], a.rc[t]
		for i := len(pr) - 1; i > 0; i-- {
			if pr[i] > pr[i-1] {
				pr[i-1] = pr[i]
			}
		}
		q := a.prec[t*R : (t+1)*R]
		clear(q)
		if withScores {
			clear(a.scores[t*R : (t+1)*R])
		}
		j := 0
		for r, thr := range a.e.rec {
			for j < len(rc) && rc[j] < thr {
				j++
			}
			if j == len(rc) {
				break
			}
			q[r] = pr[j]
			if withScores {
				a.scores[t*R+r] = a.sc[t][j]
			}
		}
	}
}
