package cocoeval

import "fmt"

// Curve is one class's precision-recall curve as COCOeval samples it: at each recall threshold
// (0, 0.01, ..., 1) the interpolated precision (the best precision at that recall or beyond, 0
// where the recall is never reached) and the score of the detection where the recall is first
// reached (the operating threshold that attains it).
type Curve struct {
	Recall, Precision, Score []float64
	// Defined is false when the class has no (non-ignored) ground truth; the slices are then nil.
	Defined bool
}

// PRCurve is class k's curve at the IoU threshold iou (one of Params.IoUThresholds), over all
// areas at the last cut-off, as pycocotools' precision[t,:,k,0,-1] and scores[t,:,k,0,-1].
//
// At recall 0 pycocotools reports the score of the highest-scoring detection even when that one
// matched a crowd region; so does Score[0].
func (e *Eval) PRCurve(k int, iou float64) (Curve, error) {
	if k < 0 || k >= e.p.NumClasses {
		return Curve{}, fmt.Errorf("PR curve of class %d: outside 0..%d", k, e.p.NumClasses-1)
	}
	t := e.p.thresholdIndex(iou)
	if t < 0 {
		return Curve{}, fmt.Errorf("PR curve at IoU %v: not one of the evaluated thresholds %v", iou, e.p.IoUThresholds)
	}
	a := e.NewAccumulator()
	npig := a.npig(k, 0, a.ones)
	if npig == 0 {
		return Curve{}, nil
	}
	a.curves(k, 0, e.p.MaxDets[2], a.ones, npig, true, true)
	R := len(e.rec)
	c := Curve{
		Recall:    append([]float64(nil), e.rec...),
		Precision: append([]float64(nil), a.prec[t*R:(t+1)*R]...),
		Score:     append([]float64(nil), a.scores[t*R:(t+1)*R]...),
		Defined:   true,
	}
	if e.hasTop[k] {
		c.Score[0] = e.top[k]
	}
	return c, nil
}

// ClassPRF is one class's counts and rates at an operating point. Precision, Recall and F1 are -1
// where undefined (no detections, no ground truth, neither).
type ClassPRF struct {
	TP, FP, FN            int
	Precision, Recall, F1 float64
}

func newPRF(tp, fp, fn int) ClassPRF {
	r := ClassPRF{TP: tp, FP: fp, FN: fn, Precision: -1, Recall: -1, F1: -1}
	if tp+fp > 0 {
		r.Precision = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		r.Recall = float64(tp) / float64(tp+fn)
	}
	if 2*tp+fp+fn > 0 {
		r.F1 = 2 * float64(tp) / float64(2*tp+fp+fn)
	}
	return r
}

// OperatingPoint counts, per class, the detections scoring at least scoreThr that match an
// object at the operating IoU (true positives), those that match nothing (false positives) and
// the objects left unmatched (false negatives), over a multiset of images (nil: each once).
// Matching is COCOeval's greedy matching at that IoU, so a low-scoring detection never takes an
// object from a higher one and the counts equal matching only the detections above the threshold.
// Detections matching crowd or difficult objects count as neither. The last element is the sum
// over classes (micro average).
func (a *Accumulator) OperatingPoint(images []int, scoreThr float64) ([]ClassPRF, error) {
	w, err := a.weights(images)
	if err != nil {
		return nil, fmt.Errorf("operating point: %w", err)
	}
	K := a.e.p.NumClasses
	tp, fp, gt := make([]int, K), make([]int, K), make([]int, K)
	for i, op := range a.e.ops {
		wt := int(w[i])
		if wt == 0 {
			continue
		}
		for j, d := range op.dets {
			g := op.detGT[j]
			if g == -2 || d.Score < scoreThr || (g >= 0 && op.detIgnored[j]) {
				continue
			}
			if g >= 0 {
				tp[d.Class] += wt
			} else {
				fp[d.Class] += wt
			}
		}
		for _, o := range op.gt {
			if !o.Ignored() {
				gt[o.Class] += wt
			}
		}
	}
	out := make([]ClassPRF, K+1)
	var sum [3]int
	for k := range K {
		out[k] = newPRF(tp[k], fp[k], gt[k]-tp[k])
		sum[0], sum[1], sum[2] = sum[0]+tp[k], sum[1]+fp[k], sum[2]+gt[k]-tp[k]
	}
	out[K] = newPRF(sum[0], sum[1], sum[2])
	return out, nil
}

// Pair is a detection matched to an object, by their indices in the image's lists.
type Pair struct {
	GT, Det int
	IoU     float64
}

// ImageMatch is one image's outcome at an operating point.
type ImageMatch struct {
	// Matched are detections scoring at least the threshold that found an object.
	Matched []Pair
	// Missed are objects (not crowd or difficult) that no such detection found.
	Missed []int
	// FalsePositives are detections scoring at least the threshold that found no object.
	FalsePositives []int
}

// Matches is image i's outcome at the operating IoU for detections scoring at least scoreThr
// (per-class cut-off applied: detections beyond it are in no list), for failure exports and
// regression flips.
func (e *Eval) Matches(i int, scoreThr float64) (ImageMatch, error) {
	if i < 0 || i >= e.nImages {
		return ImageMatch{}, fmt.Errorf("matches of image %d: outside 0..%d", i, e.nImages-1)
	}
	op := e.ops[i]
	var m ImageMatch
	found := make([]bool, len(op.gt))
	for j, d := range op.dets {
		g := op.detGT[j]
		if g == -2 || d.Score < scoreThr {
			continue
		}
		switch {
		case g < 0:
			m.FalsePositives = append(m.FalsePositives, j)
		case !op.detIgnored[j]:
			m.Matched = append(m.Matched, Pair{GT: int(g), Det: j, IoU: op.detIoU[j]})
			found[g] = true
		}
	}
	for j, o := range op.gt {
		if !o.Ignored() && !found[j] {
			m.Missed = append(m.Missed, j)
		}
	}
	return m, nil
}
