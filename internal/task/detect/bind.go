package detect

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/detect/box"
	"github.com/cvgate/cvgate/internal/detect/decode"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/preprocess"
	"github.com/cvgate/cvgate/internal/task"
)

// decoder reads one detector's outputs and maps its boxes back to the original image.
type decoder struct {
	d        *decode.Decoder
	batchOne bool
	classes  int
	// outs and cfg rebuild the decoder when the first batch shows that box units were not what
	// the signature suggested (normalized boxes declared as nothing).
	outs      []decode.Output
	cfg       decode.Config
	unitsAuto bool
	once      sync.Once
	resolved  atomic.Bool
	unitsNote string
	inputW    int
	inputH    int
}

// Bind implements task.Task: the declared output convention, or the one the outputs' names and
// shapes allow (the error lists every output and how to declare it).
func (t *Task) Bind(m *onnx.Model, spec preprocess.Spec) (task.Decoder, error) {
	var outs []decode.Output
	for _, o := range m.Fetched() {
		outs = append(outs, decode.Output{Name: o.Name, Shape: o.Shape, Int: o.DType != onnx.Float32 && o.DType != onnx.Float64})
	}
	cfg := decodeConfig(t.cfg, len(t.classes), spec)
	switch {
	case t.cfg.CategoryIDs:
		cfg.LabelIDs = t.categoryIDs
	case len(t.cfg.LabelIDs) > 0:
		if len(t.cfg.LabelIDs) != len(t.classes) {
			return nil, fmt.Errorf("detection.label_ids has %d values but there are %d classes: give one label value per class, in class order", len(t.cfg.LabelIDs), len(t.classes))
		}
		cfg.LabelIDs = t.cfg.LabelIDs
	}
	d, err := decode.Resolve(outs, cfg)
	if err != nil {
		return nil, err
	}
	if n := d.Classes(); n > 0 && n != len(t.classes) {
		return nil, fmt.Errorf("the model scores %d classes but the ground truth has %d (%s): the annotations and the model must share one class list",
			n, len(t.classes), previewNames(t.classes))
	}
	dec := &decoder{d: d, classes: len(t.classes), outs: outs, cfg: cfg, unitsAuto: cfg.Units == "", inputW: spec.Width, inputH: spec.Height}
	// Outputs without a batch dimension (torchvision's boxes [K,4], a [K,6] list) describe one
	// image per run.
	for _, o := range m.Fetched() {
		if len(o.Shape) == 2 && (d.Convention() == decode.BoxesScoresLabels || d.Convention() == decode.Padded6) {
			dec.batchOne = true
		}
	}
	return dec, nil
}

func decodeConfig(c config.Detection, classes int, spec preprocess.Spec) decode.Config {
	auto := func(s string) string {
		if s == "auto" {
			return ""
		}
		return s
	}
	bg := decode.BackgroundAuto
	switch c.BackgroundClass {
	case "first":
		bg = decode.BackgroundFirst
	case "none":
		bg = decode.BackgroundNone
	}
	return decode.Config{
		Convention: decode.Convention(auto(c.Output)),
		Boxes:      c.BoxesOutput, Scores: c.ScoresOutput, Labels: c.LabelsOutput,
		Encoding:         decode.Encoding(auto(c.BoxEncoding)),
		Units:            decode.Units(auto(c.BoxUnits)),
		ClassBeforeScore: c.ClassBeforeScore,
		Background:       bg,
		NumClasses:       classes,
		InputWidth:       spec.Width, InputHeight: spec.Height,
		LabelOffset:    c.LabelOffset,
		Logits:         c.ScoresAreLogits,
		ScoreThreshold: c.ScoreThreshold,
		IoUThreshold:   c.NMSIoU,
		MaxDetections:  c.MaxDetections,
		MultiLabel:     c.MultiLabel,
	}
}

func previewNames(names []string) string {
	if len(names) > 5 {
		return fmt.Sprintf("%s, ... %d in all", names[0]+", "+names[1]+", "+names[2], len(names))
	}
	return fmt.Sprint(names)
}

func (d *decoder) Describe() string { return d.d.Describe() + d.unitsNote }

// Resolved reports whether the conventions inferred from the first batch (box units) are
// settled: a run whose predictions all come from the cache still decodes one batch first.
func (d *decoder) Resolved() bool { return d.resolved.Load() }

func (d *decoder) BatchOne() bool { return d.batchOne }

// Decode implements task.Decoder: boxes come out of the model in its input pixels and go back to
// the image through the preprocessing geometry (letterbox padding and scale, or stretch), clipped
// to the image; boxes with no area left are dropped.
func (d *decoder) Decode(outs []onnx.Tensor, count int, geoms []preprocess.Geometry) ([]task.Prediction, error) {
	ts := make([]decode.Tensor, len(outs))
	rows := count
	for i, o := range outs {
		ts[i] = decode.Tensor{Name: o.Name, Shape: o.Shape, F32: o.F32, I64: o.I64}
		if !d.batchOne && len(o.Shape) > 0 && int(o.Shape[0]) > rows {
			rows = int(o.Shape[0]) // a fixed batch padded beyond the real images
		}
	}
	if d.batchOne {
		rows = 1
	}
	per, drops, err := d.d.DecodeCounted(ts, rows)
	if err != nil {
		return nil, err
	}
	// Box units are rarely declared: on the first batch, boxes that all lie within [0, 1.5] on
	// an input of 32 px or more are fractions of the input, not pixels.
	d.once.Do(func() {
		defer d.resolved.Store(true)
		if !d.unitsAuto || min(d.inputW, d.inputH) < 32 {
			return
		}
		seen, small := 0, true
		for _, dets := range per {
			for _, det := range dets {
				seen++
				if max(math.Abs(det.X1), math.Abs(det.Y1), math.Abs(det.X2), math.Abs(det.Y2)) > 1.5 {
					small = false
				}
			}
		}
		if seen == 0 || !small {
			return
		}
		cfg := d.cfg
		cfg.Units = decode.Normalized
		nd, rerr := decode.Resolve(d.outs, cfg)
		if rerr != nil {
			return
		}
		if again, againDrops, derr := nd.DecodeCounted(ts, rows); derr == nil {
			d.d, per, drops = nd, again, againDrops
			d.unitsNote = " (normalized units inferred from the first batch's boxes: set detection.box_units to declare them)"
		}
	})
	if len(per) < count {
		return nil, fmt.Errorf("decoded %d images from a batch of %d", len(per), count)
	}
	preds := make([]task.Prediction, count)
	for j := 0; j < count; j++ {
		g := geoms[j]
		var kept []box.Detection
		for _, det := range per[j] {
			x1, y1 := g.ToImage(det.X1, det.Y1)
			x2, y2 := g.ToImage(det.X2, det.Y2)
			b := box.Box{X1: x1, Y1: y1, X2: x2, Y2: y2}.Clip(float64(g.ImageW), float64(g.ImageH))
			if b.Area() <= 0 {
				continue
			}
			det.Box = b
			kept = append(kept, det)
		}
		preds[j] = Prediction{Detections: kept, Dropped: drops[j]}
	}
	return preds, nil
}
