// Package detect is cvgate's object-detection task: it binds a detector's outputs to a decoder
// (internal/detect/decode), scores detections with a COCOeval-equal evaluation
// (internal/detect/cocoeval), moves boxes with geometric transforms, and reads COCO, YOLO and VOC
// ground truth (internal/detect/annot).
package detect

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/detect/box"
	"github.com/cvgate/cvgate/internal/perturb"
	"github.com/cvgate/cvgate/internal/task"
)

// Truth is one image's ground-truth objects, in original image pixels.
type Truth struct{ Objects []box.Object }

// ObjectCount is the number of objects, for the report.
func (t Truth) ObjectCount() int { return len(t.Objects) }

// Prediction is one image's detections after decoding and NMS, in original image pixels, highest
// score first. Dropped counts the detections of the image whose label named no class.
type Prediction struct {
	Detections []box.Detection
	Dropped    int
}

// Warnings are what the decoding saw that the report must state, from the predictions of a
// pass (each carries its own count, so a cached prediction says the same as a decoded one):
// detections dropped because their labels name no class (a model counting the background as
// label 0 needs label_offset 1).
func (t *Task) Warnings(preds []task.Prediction) []string {
	n := 0
	for _, p := range preds {
		if pr, ok := p.(Prediction); ok {
			n += pr.Dropped
		}
	}
	if n == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%d detections carried labels outside the %d classes and were dropped: if the model counts the background as label 0 (torchvision detectors do), set detection.label_offset: 1; if its labels are COCO category ids, set detection.category_ids: true", n, len(t.classes))}
}

// Task is the detection task for one set of classes.
type Task struct {
	classes []string
	cfg     config.Detection
	// categoryIDs are the COCO category ids of the classes, for models whose labels are ids.
	categoryIDs []int64
}

var _ task.Task = (*Task)(nil)

// New returns the detection task.
func New(classes []string, cfg config.Detection) *Task {
	return &Task{classes: classes, cfg: cfg}
}

// Kind implements task.Task.
func (t *Task) Kind() task.Kind { return task.Detection }

// Classes implements task.Task.
func (t *Task) Classes() []string { return t.classes }

// OperatingScore is the score detections are kept at for per-image decisions.
func (t *Task) OperatingScore() float64 { return t.cfg.OperatingScore }

func (t *Task) className(k int) string {
	if k >= 0 && k < len(t.classes) {
		return t.classes[k]
	}
	return fmt.Sprintf("class %d", k)
}

// Evaluate implements task.Task.
func (t *Task) Evaluate(preds []task.Prediction, truths []task.Truth, _ [][2]int) task.Evaluation {
	return newEvaluation(t, preds, truths)
}

// Agreement is the F1 of the perturbed detections matched one to one to the clean ones of the
// same class at IoU 0.5, both kept at the operating score (1 when both are empty).
func (t *Task) Agreement(clean, perturbed task.Prediction) float64 {
	a := t.kept(detectionsOf(clean))
	b := t.kept(detectionsOf(perturbed))
	tp := matchCount(a, b, 0.5)
	return f1(tp, len(b)-tp, len(a)-tp)
}

func (t *Task) kept(ds []box.Detection) []box.Detection {
	var out []box.Detection
	for _, d := range ds {
		if d.Score >= t.cfg.OperatingScore {
			out = append(out, d)
		}
	}
	return out
}

// matchCount pairs b's detections (highest score first) with a's unmatched ones of the same class
// at the best IoU >= thr, greedily as COCO does, and counts the pairs.
func matchCount(a, b []box.Detection, thr float64) int {
	order := make([]int, len(b))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return b[order[i]].Score > b[order[j]].Score })
	used := make([]bool, len(a))
	n := 0
	for _, j := range order {
		best, bi := thr, -1
		for i, d := range a {
			if used[i] || d.Class != b[j].Class {
				continue
			}
			if v := box.IoU(d.Box, b[j].Box); v >= best {
				best, bi = v, i
			}
		}
		if bi >= 0 {
			used[bi] = true
			n++
		}
	}
	return n
}

// Move maps boxes of ground truth or predictions with a geometric transform of a w x h image: the
// box's corners go through the transform and the box becomes their bounding box (exact for flips,
// shifts and scaling; for rotations the enclosing box of the rotated box, as detection
// augmentation does), clipped to the image; objects less than half inside are dropped.
func (t *Task) Move(x any, tr perturb.Transform, w, h int) any {
	if !tr.Geometric() {
		return x
	}
	m := tr.Forward(w, h)
	mv := func(b box.Box) (box.Box, float64, bool) {
		xs := [4]float64{b.X1, b.X2, b.X1, b.X2}
		ys := [4]float64{b.Y1, b.Y1, b.Y2, b.Y2}
		out := box.Box{X1: math.Inf(1), Y1: math.Inf(1), X2: math.Inf(-1), Y2: math.Inf(-1)}
		for k := range xs {
			px := m[0]*xs[k] + m[1]*ys[k] + m[2]
			py := m[3]*xs[k] + m[4]*ys[k] + m[5]
			out.X1, out.X2 = math.Min(out.X1, px), math.Max(out.X2, px)
			out.Y1, out.Y2 = math.Min(out.Y1, py), math.Max(out.Y2, py)
		}
		full := out.Area()
		c := out.Clip(float64(w), float64(h))
		if full <= 0 {
			return c, 1, c == out
		}
		share := c.Area() / full
		return c, share * full / math.Max(b.Area(), 1e-12), share >= 0.5
	}
	switch v := x.(type) {
	case Truth:
		var objs []box.Object
		for _, o := range v.Objects {
			b, areaScale, ok := mv(o.Box)
			if !ok {
				continue
			}
			o.Box = b
			o.Area *= areaScale
			objs = append(objs, o)
		}
		return Truth{Objects: objs}
	case Prediction:
		var ds []box.Detection
		for _, d := range v.Detections {
			b, _, ok := mv(d.Box)
			if !ok {
				continue
			}
			d.Box = b
			ds = append(ds, d)
		}
		return Prediction{Detections: ds}
	}
	return x
}

// Phantoms counts detections scoring at least confidence; any one is a phantom on an empty input.
func (t *Task) Phantoms(p task.Prediction, confidence float64) (float64, bool) {
	n := 0
	for _, d := range detectionsOf(p) {
		if d.Score >= confidence {
			n++
		}
	}
	return float64(n), n > 0
}

// Targets implements checks.Attackable: the objects evaluation does not ignore.
func (t *Task) Targets(tr task.Truth) int {
	n := 0
	for _, o := range objectsOf(tr) {
		if !o.Ignored() {
			n++
		}
	}
	return n
}

// AttackLoss is what a vanishing attack lowers: for every object, the best score of a detection
// of its class overlapping it at IoU >= 0.5, summed.
func (t *Task) AttackLoss(p task.Prediction, tr task.Truth) float64 {
	dets := detectionsOf(p)
	sum := 0.0
	for _, o := range objectsOf(tr) {
		if o.Ignored() {
			continue
		}
		best := 0.0
		for _, d := range dets {
			if d.Class == o.Class && d.Score > best && box.IoU(d.Box, o.Box) >= 0.5 {
				best = d.Score
			}
		}
		sum += best
	}
	return sum
}

// Fooled reports whether no object is found any more at the operating score.
func (t *Task) Fooled(p task.Prediction, tr task.Truth) bool {
	for _, o := range objectsOf(tr) {
		if o.Ignored() {
			continue
		}
		for _, d := range detectionsOf(p) {
			if d.Class == o.Class && d.Score >= t.cfg.OperatingScore && box.IoU(d.Box, o.Box) >= 0.5 {
				return false
			}
		}
	}
	return true
}

// Unsupported leaves rotations out of invariance checks: a rotated box is no longer axis-aligned,
// and its enclosing box is larger than the object, so box agreement would fall even for a
// perfectly invariant detector.
func (t *Task) Unsupported(tr perturb.Transform) string {
	if strings.HasPrefix(tr.String(), "rotate") {
		return "rotations do not keep boxes axis-aligned"
	}
	return ""
}
