package detect

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/cvgate/cvgate/internal/detect/box"
	"github.com/cvgate/cvgate/internal/detect/cocoeval"
	"github.com/cvgate/cvgate/internal/task"
	"github.com/cvgate/cvgate/report"
)

// headline is COCO's primary metric.
var headline = task.Metric{Key: "map", Name: "mAP@[.5:.95]"}

// statKeys name cocoeval's twelve statistics in report.json, in COCOeval's order.
var statKeys = [12]string{"map", "ap50", "ap75", "ap_small", "ap_medium", "ap_large", "ar1", "ar10", "ar100", "ar_small", "ar_medium", "ar_large"}

// evaluation is a COCOeval-equal evaluation with its per-image records: summaries over any
// multiset of images are re-accumulated from them without matching again.
type evaluation struct {
	t      *Task
	eval   *cocoeval.Eval
	images []cocoeval.Image
	all    cocoeval.Summary
	pool   sync.Pool // *cocoeval.Accumulator: each holds scratch memory for one goroutine
	// per image at the operating point
	score []float64
	match []cocoeval.ImageMatch
	err   error
}

var _ task.Evaluation = (*evaluation)(nil)

func newEvaluation(t *Task, preds []task.Prediction, truths []task.Truth) *evaluation {
	ev := &evaluation{t: t, images: make([]cocoeval.Image, len(preds))}
	for i := range preds {
		ev.images[i] = cocoeval.Image{GT: objectsOf(truths[i]), Dets: detectionsOf(preds[i])}
	}
	p := cocoeval.DefaultParams(len(t.classes))
	p.OperatingIoU = 0.5
	e, err := cocoeval.Evaluate(ev.images, p)
	if err != nil {
		// Decoded detections and read annotations are checked on input; an error here is a
		// cvgate bug, so it surfaces as NaN scores and a described error rather than a panic.
		ev.err = err
		ev.score = make([]float64, len(preds))
		for i := range ev.score {
			ev.score[i] = math.NaN()
		}
		return ev
	}
	ev.eval = e
	ev.pool.New = func() any { return e.NewAccumulator() }
	ev.all = e.Summary()
	ev.score = make([]float64, len(preds))
	ev.match = make([]cocoeval.ImageMatch, len(preds))
	for i := range preds {
		m, err := e.Matches(i, t.cfg.OperatingScore)
		if err != nil {
			ev.score[i] = math.NaN()
			continue
		}
		ev.match[i] = m
		ev.score[i] = f1(len(m.Matched), len(m.FalsePositives), len(m.Missed))
	}
	return ev
}

// f1 of one image's boxes; an image with nothing to find and nothing found is right (1).
func f1(tp, fp, fn int) float64 {
	if tp+fp+fn == 0 {
		return 1
	}
	return 2 * float64(tp) / float64(2*tp+fp+fn)
}

func (ev *evaluation) summary(rows []int) cocoeval.Summary {
	if ev.eval == nil {
		return cocoeval.Summary{Stats: [12]float64{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}}
	}
	if rows == nil {
		return ev.all
	}
	a := ev.pool.Get().(*cocoeval.Accumulator)
	defer ev.pool.Put(a)
	s, err := a.Summary(rows)
	if err != nil {
		return cocoeval.Summary{Stats: [12]float64{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}}
	}
	return s
}

// undefined turns COCOeval's -1 (no ground truth in range) into NaN.
func undefined(v float64) float64 {
	if v < 0 {
		return math.NaN()
	}
	return v
}

func (ev *evaluation) Len() int              { return len(ev.images) }
func (ev *evaluation) Headline() task.Metric { return headline }

func (ev *evaluation) Score(rows []int) float64 { return undefined(ev.summary(rows).Stats[0]) }

func (ev *evaluation) Metrics(rows []int) map[string]float64 {
	s := ev.summary(rows)
	m := map[string]float64{}
	for i, k := range statKeys {
		if v := s.Stats[i]; v >= 0 {
			m[k] = v
		}
	}
	objects := 0
	for _, n := range s.NumGT {
		objects += n
	}
	m["objects"] = float64(objects)
	if ev.eval != nil {
		a := ev.pool.Get().(*cocoeval.Accumulator)
		prf, err := a.OperatingPoint(rows, ev.t.cfg.OperatingScore)
		ev.pool.Put(a)
		if err == nil {
			micro := prf[len(prf)-1]
			for k, v := range map[string]float64{"precision": micro.Precision, "recall": micro.Recall, "f1": micro.F1} {
				if v >= 0 {
					m[k] = v
				}
			}
			m["true_positives"], m["false_positives"], m["false_negatives"] = float64(micro.TP), float64(micro.FP), float64(micro.FN)
		}
	}
	return m
}

func (ev *evaluation) PerClass(rows []int) []float64 {
	s := ev.summary(rows)
	out := make([]float64, len(ev.t.classes))
	for k := range out {
		out[k] = math.NaN()
		if k < len(s.PerClassAP) {
			out[k] = undefined(s.PerClassAP[k])
		}
	}
	return out
}

func (ev *evaluation) ImageScore(r int) float64 { return ev.score[r] }

// Highlights are the numbers after mAP in a summary line.
func (ev *evaluation) Highlights() []task.Metric {
	return []task.Metric{{Key: "ap50", Name: "AP50"}, {Key: "ap75", Name: "AP75"},
		{Key: "f1", Name: fmt.Sprintf("F1@%g", ev.t.cfg.OperatingScore), Percent: true}}
}

// Describe lists an image's misses and false positives at the operating point.
func (ev *evaluation) Describe(r int) string {
	if ev.err != nil {
		return "not evaluated: " + ev.err.Error()
	}
	m := ev.match[r]
	im := ev.images[r]
	var parts []string
	if len(m.Missed) > 0 {
		var names []string
		for _, g := range m.Missed {
			names = append(names, ev.t.className(im.GT[g].Class))
		}
		parts = append(parts, fmt.Sprintf("%d missed (%s)", len(m.Missed), listShort(names)))
	}
	if len(m.FalsePositives) > 0 {
		var names []string
		for _, d := range m.FalsePositives {
			names = append(names, fmt.Sprintf("%s %.2f", ev.t.className(im.Dets[d].Class), im.Dets[d].Score))
		}
		parts = append(parts, fmt.Sprintf("%d false %s (%s)", len(m.FalsePositives), plural(len(m.FalsePositives), "positive", "positives"), listShort(names)))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d of %d objects found, no false positive", len(m.Matched), len(m.Matched))
	}
	return fmt.Sprintf("%d found; ", len(m.Matched)) + strings.Join(parts, "; ")
}

func listShort(xs []string) string {
	if len(xs) > 5 {
		return strings.Join(xs[:5], ", ") + fmt.Sprintf(", +%d", len(xs)-5)
	}
	return strings.Join(xs, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Details are COCO's summary, the per-class table, precision-recall curves and the confusion
// matrix with its background row and column.
func (ev *evaluation) Details() []report.Section {
	if ev.eval == nil {
		return []report.Section{{Title: "Evaluation", Text: "The evaluation failed: " + ev.err.Error()}}
	}
	s := ev.all
	sum := &report.Table{Columns: []string{"metric", "IoU", "area", "max dets", "value"}}
	rows := [12][3]string{
		{"AP", "0.50:0.95", "all"}, {"AP", "0.50", "all"}, {"AP", "0.75", "all"}, {"AP", "0.50:0.95", "small"}, {"AP", "0.50:0.95", "medium"}, {"AP", "0.50:0.95", "large"},
		{"AR", "0.50:0.95", "all"}, {"AR", "0.50:0.95", "all"}, {"AR", "0.50:0.95", "all"}, {"AR", "0.50:0.95", "small"}, {"AR", "0.50:0.95", "medium"}, {"AR", "0.50:0.95", "large"},
	}
	dets := [12]int{100, 100, 100, 100, 100, 100, 1, 10, 100, 100, 100, 100}
	for i, r := range rows {
		v := "n/a (no object in range)"
		if s.Stats[i] >= 0 {
			v = fmt.Sprintf("%.3f", s.Stats[i])
		}
		sum.Rows = append(sum.Rows, []string{r[0], r[1], r[2], fmt.Sprint(dets[i]), v})
	}
	a := ev.pool.Get().(*cocoeval.Accumulator)
	prf, _ := a.OperatingPoint(nil, ev.t.cfg.OperatingScore)
	ev.pool.Put(a)
	per := &report.Table{Columns: []string{"class", "objects", "AP", "AP50", "AP75", "precision", "recall", "F1"}}
	for k, name := range ev.t.classes {
		if k >= len(s.NumGT) {
			break
		}
		row := []string{name, fmt.Sprint(s.NumGT[k]), num(s.PerClassAP[k]), num(s.PerClassAP50[k]), num(s.PerClassAP75[k])}
		if k < len(prf) {
			row = append(row, num(prf[k].Precision), num(prf[k].Recall), num(prf[k].F1))
		}
		per.Rows = append(per.Rows, row)
	}
	out := []report.Section{
		{Title: "COCO summary (pycocotools' twelve numbers)", Table: sum},
		{Title: fmt.Sprintf("Per class (precision/recall/F1 at score >= %g, IoU 0.5)", ev.t.cfg.OperatingScore), Table: per},
	}
	if ch := ev.prChart(); ch != nil {
		out = append(out, report.Section{Chart: ch})
	}
	out = append(out, report.Section{Title: fmt.Sprintf("Confusion matrix (IoU 0.5, score >= %g; background = missed / false positive)", ev.t.cfg.OperatingScore), Matrix: ev.confusion()})
	return out
}

func num(v float64) string {
	if v < 0 || math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", v)
}

// prChart plots the precision-recall curves at IoU 0.5 of up to eight classes, the ones with the
// most objects, on COCO's recall grid thinned to every tenth point.
func (ev *evaluation) prChart() *report.Chart {
	type cls struct{ k, n int }
	var cs []cls
	for k, n := range ev.all.NumGT {
		if n > 0 {
			cs = append(cs, cls{k, n})
		}
	}
	if len(cs) == 0 {
		return nil
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].n > cs[j].n })
	if len(cs) > 8 {
		cs = cs[:8]
	}
	ch := &report.Chart{Title: "Precision-recall at IoU 0.5", XLabel: "recall", YLabel: "precision", YMin: 0, YMax: 1}
	for r := 0; r <= 100; r += 10 {
		ch.X = append(ch.X, fmt.Sprintf("%.1f", float64(r)/100))
	}
	for _, c := range cs {
		curve, err := ev.eval.PRCurve(c.k, 0.5)
		if err != nil || !curve.Defined {
			continue
		}
		var vals []float64
		for r := 0; r <= 100; r += 10 {
			vals = append(vals, curve.Precision[r])
		}
		ch.Series = append(ch.Series, report.Series{Name: ev.t.className(c.k), Values: vals})
	}
	if len(ch.Series) == 0 {
		return nil
	}
	return ch
}

func (ev *evaluation) confusion() *report.Matrix {
	K := len(ev.t.classes)
	c := cocoeval.NewConfusion(K)
	for _, im := range ev.images {
		_ = c.Add(im, 0.5, ev.t.cfg.OperatingScore)
	}
	names := append(append([]string(nil), ev.t.classes...), "background")
	m := &report.Matrix{RowLabel: "true", ColLabel: "predicted", Rows: names, Cols: names}
	for _, row := range c.Counts {
		vals := make([]float64, len(row))
		for j, v := range row {
			vals[j] = float64(v)
		}
		m.Values = append(m.Values, vals)
	}
	return m
}

// objectsOf and detectionsOf unwrap the task's truth and prediction types.
func objectsOf(t task.Truth) []box.Object {
	if o, ok := t.(Truth); ok {
		return o.Objects
	}
	return nil
}

func detectionsOf(p task.Prediction) []box.Detection {
	if d, ok := p.(Prediction); ok {
		return d.Detections
	}
	return nil
}

// ScoreWithClasses is mAP and the per-class AP from one accumulation (a bootstrap draw's cost).
func (ev *evaluation) ScoreWithClasses(rows []int) (float64, []float64) {
	s := ev.summary(rows)
	out := make([]float64, len(ev.t.classes))
	for k := range out {
		out[k] = math.NaN()
		if k < len(s.PerClassAP) {
			out[k] = undefined(s.PerClassAP[k])
		}
	}
	return undefined(s.Stats[0]), out
}

// Short captions image r for a contact sheet: its objects, and what was found.
func (ev *evaluation) Short(r int) (string, string) {
	if ev.err != nil {
		return "", "not evaluated"
	}
	m := ev.match[r]
	objs := len(m.Matched) + len(m.Missed)
	return fmt.Sprintf("%d %s", objs, plural(objs, "object", "objects")),
		fmt.Sprintf("%d found, %d FP", len(m.Matched), len(m.FalsePositives))
}

// LabelSuspects lists likely label errors: a confident detection (score >= 0.8) of another class on an
// annotated object that no confident detection of its own class confirms, or one on no annotated
// object at all, as a relabelling to-do list.
func (ev *evaluation) LabelSuspects() []task.Finding {
	var out []task.Finding
	p := cocoeval.SuspectParams{Score: 0.8, IoU: 0.5, EmptyIoU: 0.1}
	for r, im := range ev.images {
		for _, s := range cocoeval.Suspects(im, p) {
			d := im.Dets[s.Det]
			switch s.Kind {
			case cocoeval.WrongClass:
				out = append(out, task.Finding{Row: r, Text: fmt.Sprintf("labelled %s, detected as %s (score %.2f, IoU %.2f): check the label",
					ev.t.className(im.GT[s.GT].Class), ev.t.className(d.Class), s.Score, s.IoU)})
			case cocoeval.MissingLabel:
				out = append(out, task.Finding{Row: r, Text: fmt.Sprintf("a %s at [%.0f, %.0f, %.0f, %.0f] (score %.2f) overlaps no annotated object: a missing label?",
					ev.t.className(d.Class), d.X1, d.Y1, d.X2, d.Y2, s.Score)})
			}
		}
	}
	return out
}

// ClassSupport is the number of ground-truth objects of each class that evaluation counts.
func (ev *evaluation) ClassSupport() []int { return append([]int(nil), ev.all.NumGT...) }
