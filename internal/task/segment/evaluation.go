package segment

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/cvgate/cvgate/internal/segment/metrics"
	"github.com/cvgate/cvgate/internal/task"
	"github.com/cvgate/cvgate/report"
)

var headline = task.Metric{Key: "miou", Name: "mIoU", Percent: true}

// evaluation keeps one record of per-class pixel counts per image: every set metric over any
// multiset of images is a function of their sums.
type evaluation struct {
	t         *Task
	boundary  bool
	recs      []metrics.Record
	confusion *metrics.Confusion
	all       metrics.Summary
	pool      sync.Pool // *metrics.Accumulator
	err       error
}

var _ task.Evaluation = (*evaluation)(nil)

func (ev *evaluation) summary(rows []int) metrics.Summary {
	if ev.err != nil {
		return metrics.Summary{MIoU: math.NaN(), PixelAcc: math.NaN(), MAcc: math.NaN(), MDice: math.NaN(), FWIoU: math.NaN(), MBoundaryIoU: math.NaN()}
	}
	if rows == nil {
		return ev.all
	}
	a := ev.pool.Get().(*metrics.Accumulator)
	defer ev.pool.Put(a)
	a.Reset()
	for _, r := range rows {
		a.Add(&ev.recs[r])
	}
	return a.Summary()
}

func (ev *evaluation) Len() int              { return len(ev.recs) }
func (ev *evaluation) Headline() task.Metric { return headline }

// Score is mIoU over the rows, without building a full summary (the bootstrap's hot path).
func (ev *evaluation) Score(rows []int) float64 {
	if ev.err != nil {
		return math.NaN()
	}
	if rows == nil {
		return ev.all.MIoU
	}
	a := ev.pool.Get().(*metrics.Accumulator)
	defer ev.pool.Put(a)
	a.Reset()
	for _, r := range rows {
		a.Add(&ev.recs[r])
	}
	return a.MIoU()
}

func (ev *evaluation) Metrics(rows []int) map[string]float64 {
	s := ev.summary(rows)
	m := map[string]float64{"miou": s.MIoU, "pixel_accuracy": s.PixelAcc, "mean_class_accuracy": s.MAcc, "mdice": s.MDice,
		"fwiou": s.FWIoU, "classes_present": float64(s.Present), "valid_pixels": float64(s.Valid), "ignored_pixels": float64(s.Ignored)}
	if ev.boundary {
		m["boundary_iou"] = s.MBoundaryIoU
	}
	for k, v := range m {
		if math.IsNaN(v) {
			delete(m, k)
		}
	}
	return m
}

func (ev *evaluation) PerClass(rows []int) []float64 {
	s := ev.summary(rows)
	out := make([]float64, len(ev.t.classes))
	for k := range out {
		out[k] = math.NaN()
		if k < len(s.IoU) {
			out[k] = s.IoU[k]
		}
	}
	return out
}

// ImageScore is the image's own mIoU (1 for an image with no valid pixel).
func (ev *evaluation) ImageScore(r int) float64 {
	if ev.err != nil {
		return math.NaN()
	}
	v := ev.recs[r].MIoU()
	if math.IsNaN(v) {
		return 1
	}
	return v
}

// Highlights are the numbers after mIoU in a summary line.
func (ev *evaluation) Highlights() []task.Metric {
	h := []task.Metric{{Key: "pixel_accuracy", Name: "pixel accuracy", Percent: true}, {Key: "mdice", Name: "mDice", Percent: true}}
	if ev.boundary {
		h = append(h, task.Metric{Key: "boundary_iou", Name: "boundary IoU", Percent: true})
	}
	return h
}

// Describe names the classes an image gets most wrong.
func (ev *evaluation) Describe(r int) string {
	if ev.err != nil {
		return "not evaluated: " + ev.err.Error()
	}
	rec := &ev.recs[r]
	type miss struct {
		k    int
		iou  float64
		size int64
	}
	var ms []miss
	for k := range rec.Label {
		l, p, i := rec.Label[k], rec.Pred[k], rec.Intersect[k]
		if l+p-i == 0 {
			continue
		}
		iou := float64(i) / float64(l+p-i)
		if iou < 0.999 {
			ms = append(ms, miss{k, iou, l + p - i})
		}
	}
	if len(ms) == 0 {
		return "every class right"
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].iou < ms[j].iou })
	var parts []string
	for _, m := range ms[:min(3, len(ms))] {
		parts = append(parts, fmt.Sprintf("%s IoU %.0f%%", ev.t.className(m.k), 100*m.iou))
	}
	return fmt.Sprintf("image mIoU %.0f%%; worst: %s", 100*ev.ImageScore(r), strings.Join(parts, ", "))
}

func (t *Task) className(k int) string {
	if k >= 0 && k < len(t.classes) {
		return t.classes[k]
	}
	return fmt.Sprintf("class %d", k)
}

// Details are the per-class table (IoU, accuracy, Dice, boundary IoU, pixel share), an IoU bar
// chart and the confusion matrix (row-normalized, when there are few enough classes to read).
func (ev *evaluation) Details() []report.Section {
	if ev.err != nil {
		return []report.Section{{Title: "Evaluation", Text: "The evaluation failed: " + ev.err.Error()}}
	}
	s := ev.all
	cols := []string{"class", "pixel share", "IoU", "accuracy", "Dice"}
	if ev.boundary {
		cols = append(cols, "boundary IoU")
	}
	tb := &report.Table{Columns: cols}
	pc := func(v float64) string {
		if math.IsNaN(v) {
			return "n/a"
		}
		return fmt.Sprintf("%.1f%%", 100*v)
	}
	for k, name := range ev.t.classes {
		if k >= len(s.IoU) {
			break
		}
		row := []string{name, pc(s.Shares[k]), pc(s.IoU[k]), pc(s.Acc[k]), pc(s.Dice[k])}
		if ev.boundary && k < len(s.BoundaryIoU) {
			row = append(row, pc(s.BoundaryIoU[k]))
		}
		tb.Rows = append(tb.Rows, row)
	}
	out := []report.Section{{Title: fmt.Sprintf("Per class (mIoU averages the %d classes present in the ground truth or the predictions)", s.Present), Table: tb}}
	if ev.confusion != nil && len(ev.t.classes) <= 40 {
		C := ev.confusion.C
		m := &report.Matrix{RowLabel: "true", ColLabel: "predicted", Rows: ev.t.classes[:C], Cols: ev.t.classes[:C]}
		for t := 0; t < C; t++ {
			var row []float64
			var total int64
			for p := 0; p < C; p++ {
				total += ev.confusion.At(t, p)
			}
			for p := 0; p < C; p++ {
				v := 0.0
				if total > 0 {
					v = math.Round(1e4*float64(ev.confusion.At(t, p))/float64(total)) / 1e4
				}
				row = append(row, v)
			}
			m.Values = append(m.Values, row)
		}
		out = append(out, report.Section{Title: "Confusion matrix (share of each true class's pixels)", Matrix: m})
	}
	return out
}

// Short captions image r for a contact sheet.
func (ev *evaluation) Short(r int) (string, string) {
	return "mask", fmt.Sprintf("mIoU %.0f%%", 100*ev.ImageScore(r))
}
