// Package segment is cvgate's semantic segmentation task: it decodes score maps or class maps
// to label maps at the label's resolution (internal/segment/decode), scores them with per-image
// records that aggregate over any multiset of images (internal/segment/metrics), moves label maps
// with geometric transforms (internal/segment/masktf), and reads masks beside the images
// (internal/segment/mask).
package segment

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/perturb"
	"github.com/cvgate/cvgate/internal/preprocess"
	seg "github.com/cvgate/cvgate/internal/segment"
	"github.com/cvgate/cvgate/internal/segment/decode"
	"github.com/cvgate/cvgate/internal/segment/masktf"
	"github.com/cvgate/cvgate/internal/segment/metrics"
	"github.com/cvgate/cvgate/internal/task"
)

// Truth is one image's ground-truth label map (it may hold the ignore index).
type Truth struct{ Map seg.LabelMap }

// Prediction is one image's predicted label map at the label's resolution.
type Prediction struct{ Map seg.LabelMap }

// Task is the segmentation task for one set of classes.
type Task struct {
	classes []string
	cfg     config.Segmentation
	ignore  int
}

var _ task.Task = (*Task)(nil)

// New returns the segmentation task.
func New(classes []string, cfg config.Segmentation) *Task {
	return &Task{classes: classes, cfg: cfg, ignore: cfg.IgnoreIndex}
}

// Kind implements task.Task.
func (t *Task) Kind() task.Kind { return task.Segmentation }

// Classes implements task.Task.
func (t *Task) Classes() []string { return t.classes }

// Bind implements task.Task. Telling probabilities from logits needs output values, so the
// convention is resolved on the first batch the model returns (the clean pass); declared fields
// are checked against the signature now.
func (t *Task) Bind(m *onnx.Model, spec preprocess.Spec) (task.Decoder, error) {
	if spec.CropFraction > 0 {
		return nil, fmt.Errorf("segmentation scores every label pixel, but preprocess.fit crop cuts part of each image off: use fit stretch or letterbox")
	}
	auto := func(v string) string {
		if v == "auto" {
			return ""
		}
		return v
	}
	cfg := decode.Config{NumClasses: len(t.classes), Threshold: t.cfg.Threshold, Output: t.cfg.Output,
		Kind: decode.Kind(auto(t.cfg.OutputKind)), Layout: decode.Layout(auto(t.cfg.OutputLayout)),
		Activation: decode.Activation(auto(t.cfg.Activation))}
	if cfg.Output == "" && len(m.Fetched()) == 1 {
		cfg.Output = m.Fetched()[0].Name
	}
	return &decoder{cfg: cfg}, nil
}

// decoder resolves its convention on the first batch, then decodes every image of every batch.
type decoder struct {
	cfg      decode.Config
	once     sync.Once
	resolved atomic.Bool
	d        *decode.Decoder
	err      error
	scratch  sync.Pool
}

func (d *decoder) Describe() string {
	if d.d != nil {
		return d.d.Describe()
	}
	return "segmentation output (convention resolved on the first batch)"
}

func (d *decoder) BatchOne() bool { return false }

// Resolved reports whether the output convention is settled (it is on the first batch).
func (d *decoder) Resolved() bool { return d.resolved.Load() }

func toTensors(outs []onnx.Tensor) []decode.Tensor {
	ts := make([]decode.Tensor, len(outs))
	for i, o := range outs {
		ts[i] = decode.Tensor{Name: o.Name, Shape: o.Shape, F32: o.F32, I64: o.I64}
	}
	return ts
}

func (d *decoder) Decode(outs []onnx.Tensor, count int, geoms []preprocess.Geometry) ([]task.Prediction, error) {
	ts := toTensors(outs)
	d.once.Do(func() {
		d.d, d.err = decode.Resolve(ts, d.cfg)
		d.resolved.Store(true)
	})
	if d.err != nil {
		return nil, d.err
	}
	sc, _ := d.scratch.Get().(*decode.Scratch)
	if sc == nil {
		sc = &decode.Scratch{}
	}
	defer d.scratch.Put(sc)
	preds := make([]task.Prediction, count)
	for j := 0; j < count; j++ {
		g := geoms[j]
		dg := decode.Geometry{W: g.ImageW, H: g.ImageH, InW: g.InputW, InH: g.InputH,
			X0: g.PadX, Y0: g.PadY, CW: float64(g.ImageW) * g.ScaleX, CH: float64(g.ImageH) * g.ScaleY}
		var p decode.Prediction
		if err := d.d.Decode(ts, j, dg, &p, sc); err != nil {
			return nil, err
		}
		preds[j] = Prediction{Map: p.Map}
	}
	return preds, nil
}

// Evaluate implements task.Task.
func (t *Task) Evaluate(preds []task.Prediction, truths []task.Truth, _ [][2]int) task.Evaluation {
	return t.evaluate(preds, truths, false)
}

// EvaluateFull also computes boundary IoU and the confusion matrix: the clean pass's metrics.
// Sweeps over perturbed variants use Evaluate, which skips the boundary band (about five times
// the cost of the region counts).
func (t *Task) EvaluateFull(preds []task.Prediction, truths []task.Truth, _ [][2]int) task.Evaluation {
	return t.evaluate(preds, truths, true)
}

func (t *Task) evaluate(preds []task.Prediction, truths []task.Truth, full bool) *evaluation {
	tm := make([]seg.LabelMap, len(preds))
	pm := make([]seg.LabelMap, len(preds))
	for i := range preds {
		tm[i] = mapOf(truths[i])
		pm[i] = mapOf(preds[i])
	}
	ev := &evaluation{t: t, boundary: full}
	recs, cm, err := metrics.ScoreAll(tm, pm, metrics.Options{Classes: len(t.classes), Ignore: t.ignore, Boundary: full}, runtime.NumCPU())
	if err != nil {
		ev.err = err
		ev.recs = make([]metrics.Record, len(preds))
		return ev
	}
	ev.recs, ev.confusion = recs, cm
	ev.all, ev.err = metrics.Aggregate(recs, nil, len(t.classes), full)
	ev.pool.New = func() any { return metrics.NewAccumulator(len(t.classes), full) }
	return ev
}

func mapOf(x any) seg.LabelMap {
	switch v := x.(type) {
	case Truth:
		return v.Map
	case Prediction:
		return v.Map
	}
	return seg.LabelMap{}
}

// Agreement is the share of pixels (not ignored in either map) with the same class.
func (t *Task) Agreement(clean, perturbed task.Prediction) float64 {
	a, b := mapOf(clean), mapOf(perturbed)
	if a.W != b.W || a.H != b.H || len(a.Pix) == 0 {
		return math.NaN()
	}
	same, n := 0, 0
	ign := uint16(max(t.ignore, 0))
	for i, v := range a.Pix {
		w := b.Pix[i]
		if t.ignore >= 0 && (v == ign || w == ign) {
			continue
		}
		n++
		if v == w {
			same++
		}
	}
	if n == 0 {
		return 1
	}
	return float64(same) / float64(n)
}

// Move moves a label map with a geometric transform (nearest sampling); pixels the transform
// fills from outside the image become the ignore index.
func (t *Task) Move(x any, tr perturb.Transform, w, h int) any {
	if !tr.Geometric() {
		return x
	}
	src := mapOf(x)
	if len(src.Pix) == 0 {
		return x
	}
	var dst seg.LabelMap
	ign := uint16(max(t.ignore, 0))
	if t.ignore < 0 {
		ign = math.MaxUint16
	}
	if err := masktf.Apply(tr, &dst, src, ign); err != nil {
		return x
	}
	switch x.(type) {
	case Truth:
		return Truth{Map: dst}
	default:
		return Prediction{Map: dst}
	}
}

// Phantoms is the share of pixels labelled as a class other than the background (class 0),
// whatever the confidence: an empty input should be all background. An input counts as a
// phantom when more than 1% of it is labelled foreground.
func (t *Task) Phantoms(p task.Prediction, _ float64) (float64, bool) {
	m := mapOf(p)
	if len(m.Pix) == 0 {
		return 0, false
	}
	fg := 0
	for _, v := range m.Pix {
		if v != 0 {
			fg++
		}
	}
	share := float64(fg) / float64(len(m.Pix))
	return share, share > 0.01
}

// palette colours classes in overlays: a fixed, well-separated cycle.
var palette = []color.RGBA{{0, 0, 0, 0}, {230, 25, 75, 255}, {60, 180, 75, 255}, {255, 225, 25, 255}, {0, 130, 200, 255},
	{245, 130, 48, 255}, {145, 30, 180, 255}, {70, 240, 240, 255}, {240, 50, 230, 255}, {210, 245, 60, 255}, {250, 190, 212, 255},
	{0, 128, 128, 255}, {220, 190, 255, 255}, {170, 110, 40, 255}, {128, 0, 0, 255}, {170, 255, 195, 255}}

// Render shows image | ground truth | prediction | errors side by side: classes as colours over
// the dimmed image (background left clear), errors in red, ignored pixels in gray.
func (t *Task) Render(img *imaging.Image, truth task.Truth, pred task.Prediction) *imaging.Image {
	if img == nil || img.Width == 0 {
		return nil
	}
	w, h := img.Width, img.Height
	tm, pm := mapOf(truth), mapOf(pred)
	rgb := img.ToRGB()
	panels := 2
	if len(tm.Pix) == w*h {
		panels = 4
	}
	out := image.NewRGBA(image.Rect(0, 0, w*panels+2*(panels-1), h))
	for i := range out.Pix {
		out.Pix[i] = 255
	}
	put := func(panel, x, y int, c color.RGBA) {
		out.SetRGBA(panel*(w+2)+x, y, c)
	}
	ign := uint16(max(t.ignore, 0))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := (y*w + x) * 3
			base := color.RGBA{rgb.Pix[o], rgb.Pix[o+1], rgb.Pix[o+2], 255}
			dim := color.RGBA{base.R / 2, base.G / 2, base.B / 2, 255}
			put(0, x, y, base)
			var pv uint16
			if len(pm.Pix) == w*h {
				pv = pm.Pix[y*w+x]
			}
			if panels == 2 {
				put(1, x, y, overlay(dim, pv))
				continue
			}
			tv := tm.Pix[y*w+x]
			if t.ignore >= 0 && tv == ign {
				put(1, x, y, color.RGBA{128, 128, 128, 255})
				put(3, x, y, color.RGBA{128, 128, 128, 255})
			} else {
				put(1, x, y, overlay(dim, tv))
				e := color.RGBA{dim.R / 2, dim.G / 2, dim.B / 2, 255}
				if tv != pv {
					e = color.RGBA{230, 30, 30, 255}
				}
				put(3, x, y, e)
			}
			put(2, x, y, overlay(dim, pv))
		}
	}
	return imaging.FromStd(out)
}

func overlay(dim color.RGBA, class uint16) color.RGBA {
	if class == 0 {
		return dim
	}
	c := palette[1+int(class-1)%(len(palette)-1)]
	return color.RGBA{uint8((int(dim.R) + 2*int(c.R)) / 3), uint8((int(dim.G) + 2*int(c.G)) / 3), uint8((int(dim.B) + 2*int(c.B)) / 3), 255}
}

// PhantomRule says when an empty input counts as answered, for the report.
func (t *Task) PhantomRule(float64) string {
	return "more than 1% of their pixels labelled as a class other than the background (class 0)"
}
