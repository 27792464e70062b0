// Package decode turns a segmentation model's raw output tensors into label maps at the label's
// resolution: argmax over class scores ([N,C,H,W] or NHWC logits or probabilities), class indices
// ([N,H,W] or single-channel, integer or float), or a thresholded single-channel foreground score
// (sigmoid probabilities or logits) for binary and matting models. Outputs at another resolution
// than the label are resized back through the preprocessing geometry: bilinear on scores before the
// argmax (as mmsegmentation resizes logits), nearest on indices.
package decode

import (
	"fmt"
	"math"
	"strings"

	"github.com/cvgate/cvgate/internal/segment"
)

// Config keys named in errors, so that a message says what to set. The config package owns the
// keys; these are their spellings.
const (
	KeyOutput     = "segmentation.output"
	KeyKind       = "segmentation.output_kind"
	KeyLayout     = "segmentation.output_layout"
	KeyActivation = "segmentation.activation"
	KeyThreshold  = "segmentation.threshold"
)

// Tensor is one raw model output: exactly one of the data slices is set, row-major in Shape.
type Tensor struct {
	Name  string
	Shape []int64
	F32   []float32
	I64   []int64
	I32   []int32
	U8    []uint8
}

func (t Tensor) dtype() string {
	switch {
	case t.F32 != nil:
		return "float32"
	case t.I64 != nil:
		return "int64"
	case t.I32 != nil:
		return "int32"
	case t.U8 != nil:
		return "uint8"
	}
	return "none"
}

func (t Tensor) length() int {
	switch {
	case t.F32 != nil:
		return len(t.F32)
	case t.I64 != nil:
		return len(t.I64)
	case t.I32 != nil:
		return len(t.I32)
	}
	return len(t.U8)
}

// ShapeString is "[1,21,128,128]".
func ShapeString(shape []int64) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Kind is what an output's values mean.
type Kind string

// The kinds.
const (
	KindAuto Kind = ""
	// Scores: one channel per class, logits or probabilities; the class is the argmax.
	Scores Kind = "scores"
	// Indices: the class index per pixel (integer, or float holding integers).
	Indices Kind = "indices"
	// Binary: one foreground score per pixel (probability or logit) for two classes, background 0
	// and foreground 1, thresholded.
	Binary Kind = "binary"
)

// Layout is the order of an output's dimensions.
type Layout string

// The layouts. NHW has no channel dimension.
const (
	LayoutAuto Layout = ""
	NCHW       Layout = "nchw"
	NHWC       Layout = "nhwc"
	NHW        Layout = "nhw"
)

// Activation says whether scores are probabilities or logits. The argmax does not depend on it;
// the binary threshold and the per-pixel confidence do.
type Activation string

// The activations.
const (
	ActivationAuto Activation = ""
	Probabilities  Activation = "probabilities"
	Logits         Activation = "logits"
)

// Config declares an output convention; zero fields are inferred where unambiguous.
type Config struct {
	Output     string // output tensor name
	Kind       Kind
	Layout     Layout
	Activation Activation
	// Threshold is the foreground probability of binary outputs, in (0,1); 0 means 0.5. Logit
	// outputs compare with its logit.
	Threshold float64
	// NumClasses is the number of classes of the ground truth (required).
	NumClasses int
	// Confidence asks for the per-pixel confidence of the winning class (the softmax or sigmoid
	// probability), for checks on abnormal inputs. It costs one exp per class per pixel on logits.
	Confidence bool
}

// Decoder decodes the output convention it was resolved for. It is immutable and safe for
// concurrent use; each goroutine needs its own Scratch.
type Decoder struct {
	output     int // index among the outputs
	name       string
	kind       Kind
	layout     Layout
	activation Activation
	threshold  float32 // in the output's units (probability or logit)
	classes    int
	confidence bool
	desc       string
}

// Resolve picks the output and its convention from the declared Config and, for what is left,
// the outputs of a first batch (shapes, and values to tell probabilities from logits).
func Resolve(outputs []Tensor, c Config) (*Decoder, error) {
	if c.NumClasses < 1 || c.NumClasses > 1<<16 {
		return nil, fmt.Errorf("resolve segmentation output: %d classes; give the class names (1 to 65536 classes)", c.NumClasses)
	}
	if len(outputs) == 0 {
		return nil, fmt.Errorf("resolve segmentation output: the model has no outputs")
	}
	switch c.Kind {
	case KindAuto, Scores, Indices, Binary:
	default:
		return nil, fmt.Errorf("resolve segmentation output: %s %q: want scores, indices or binary", KeyKind, c.Kind)
	}
	switch c.Layout {
	case LayoutAuto, NCHW, NHWC, NHW:
	default:
		return nil, fmt.Errorf("resolve segmentation output: %s %q: want nchw, nhwc or nhw", KeyLayout, c.Layout)
	}
	switch c.Activation {
	case ActivationAuto, Probabilities, Logits:
	default:
		return nil, fmt.Errorf("resolve segmentation output: %s %q: want probabilities or logits", KeyActivation, c.Activation)
	}
	if c.Threshold < 0 || c.Threshold >= 1 || math.IsNaN(c.Threshold) {
		return nil, fmt.Errorf("resolve segmentation output: %s %g: want a probability in (0,1)", KeyThreshold, c.Threshold)
	}
	idx, err := pickOutput(outputs, c.Output)
	if err != nil {
		return nil, fmt.Errorf("resolve segmentation output: %w", err)
	}
	t := outputs[idx]
	d := &Decoder{output: idx, name: t.Name, classes: c.NumClasses, confidence: c.Confidence}
	if err := d.inferShape(t, c); err != nil {
		return nil, fmt.Errorf("resolve segmentation output %q %s: %w", t.Name, ShapeString(t.Shape), err)
	}
	if err := d.inferActivation(t, c); err != nil {
		return nil, fmt.Errorf("resolve segmentation output %q %s: %w", t.Name, ShapeString(t.Shape), err)
	}
	d.desc = d.describe(t, c)
	return d, nil
}

// pickOutput chooses the named output, or the only output that can be a map (rank 3 or 4).
func pickOutput(outputs []Tensor, name string) (int, error) {
	list := func() string {
		var parts []string
		for _, o := range outputs {
			parts = append(parts, fmt.Sprintf("%q %s %s", o.Name, o.dtype(), ShapeString(o.Shape)))
		}
		return strings.Join(parts, ", ")
	}
	if name != "" {
		for i, o := range outputs {
			if o.Name == name {
				return i, nil
			}
		}
		return 0, fmt.Errorf("%s %q: the model has no such output (outputs: %s)", KeyOutput, name, list())
	}
	var maps []int
	for i, o := range outputs {
		if len(o.Shape) == 3 || len(o.Shape) == 4 {
			maps = append(maps, i)
		}
	}
	switch len(maps) {
	case 1:
		return maps[0], nil
	case 0:
		return 0, fmt.Errorf("no output is a [N,C,H,W], [N,H,W,C] or [N,H,W] map (outputs: %s)", list())
	}
	return 0, fmt.Errorf("several outputs could be the segmentation map (%s): set %s to the one to score", list(), KeyOutput)
}

func (d *Decoder) inferShape(t Tensor, c Config) error {
	if t.length() == 0 && t.dtype() == "none" {
		return fmt.Errorf("no data")
	}
	s := t.Shape
	for _, v := range s {
		if v <= 0 {
			return fmt.Errorf("dimension %d is not a concrete size", v)
		}
	}
	hint := fmt.Sprintf("set %s (scores, indices, binary) and %s (nchw, nhwc, nhw)", KeyKind, KeyLayout)
	isFloat := t.F32 != nil
	layout := c.Layout
	channels := int64(1)
	switch len(s) {
	case 3:
		if layout != LayoutAuto && layout != NHW {
			return fmt.Errorf("%s %s needs a 4-d output; this one is 3-d [N,H,W]", KeyLayout, layout)
		}
		layout = NHW
	case 4:
		if layout == NHW {
			return fmt.Errorf("%s nhw needs a 3-d output; this one is 4-d", KeyLayout)
		}
		if layout == LayoutAuto {
			a, b := s[1], s[3]
			n := int64(c.NumClasses)
			single := c.Kind == Indices || c.Kind == Binary
			switch {
			case a == 1 && b != 1:
				layout = NCHW
			case b == 1 && a != 1:
				layout = NHWC
			case single:
				return fmt.Errorf("cannot tell the channel dimension of a single-channel map: %s", hint)
			case a == n && b != n:
				layout = NCHW
			case b == n && a != n:
				layout = NHWC
			case a == n && b == n:
				return fmt.Errorf("both dimension 1 and 3 could be the %d class channels: %s", n, hint)
			case a <= min(s[2], b):
				return fmt.Errorf("%d score channels (NCHW) but %d classes: the model and the class list disagree; fix the class names or the model (or set %s if this is not NCHW)", a, n, KeyLayout)
			default:
				return fmt.Errorf("%d score channels (NHWC) but %d classes: the model and the class list disagree; fix the class names or the model (or set %s if this is not NHWC)", b, n, KeyLayout)
			}
		}
		if layout == NCHW {
			channels = s[1]
		} else {
			channels = s[3]
		}
	default:
		return fmt.Errorf("a segmentation map is 3-d [N,H,W] or 4-d [N,C,H,W] / [N,H,W,C]: %s", hint)
	}
	kind := c.Kind
	if kind == KindAuto {
		switch {
		case channels > 1:
			kind = Scores
		case !isFloat:
			kind = Indices
		case c.NumClasses == 2:
			// A float single-channel map with two classes is a foreground score; 0/1 index maps
			// give the same classes under the 0.5 threshold.
			kind = Binary
		default:
			kind = Indices
		}
	}
	switch kind {
	case Scores:
		if channels != int64(c.NumClasses) {
			return fmt.Errorf("%d score channels but %d classes: the model and the class list disagree; fix the class names or the model", channels, c.NumClasses)
		}
		if !isFloat {
			return fmt.Errorf("score maps must be float32, this output is %s (dequantize, or set %s indices if it holds class indices)", t.dtype(), KeyKind)
		}
	case Indices, Binary:
		if channels != 1 {
			return fmt.Errorf("%s outputs have one channel, this one has %d", kind, channels)
		}
		if kind == Binary {
			if c.NumClasses != 2 {
				return fmt.Errorf("binary outputs score two classes (background, foreground) but the class list has %d", c.NumClasses)
			}
			if !isFloat {
				return fmt.Errorf("binary outputs are float32 scores, this output is %s (set %s indices for 0/1 maps)", t.dtype(), KeyKind)
			}
		}
	}
	d.kind, d.layout = kind, layout
	return nil
}

// inferActivation tells probabilities from logits by the first batch's values: probabilities lie
// in [0,1] and, for scores, sum to 1 over the classes at each pixel.
func (d *Decoder) inferActivation(t Tensor, c Config) error {
	th := c.Threshold
	if th == 0 {
		th = 0.5
	}
	if d.kind == Indices {
		return nil
	}
	act := c.Activation
	if act == ActivationAuto {
		if t.F32 == nil {
			return fmt.Errorf("no values to tell probabilities from logits: set %s", KeyActivation)
		}
		act = Probabilities
		if d.kind == Binary {
			for _, v := range t.F32 {
				if v < 0 || v > 1 {
					act = Logits
					break
				}
			}
		} else if !sumsToOne(t.F32, t.Shape, d.layout) {
			act = Logits
		}
	}
	d.activation = act
	d.threshold = float32(th)
	if act == Logits {
		d.threshold = float32(math.Log(th / (1 - th)))
	}
	return nil
}

// sumsToOne reports whether every pixel's scores lie in [0,1] and sum to 1 within float32
// rounding.
func sumsToOne(v []float32, shape []int64, layout Layout) bool {
	n, c := int(shape[0]), 0
	var hw int
	if layout == NCHW {
		c, hw = int(shape[1]), int(shape[2]*shape[3])
	} else {
		c, hw = int(shape[3]), int(shape[1]*shape[2])
	}
	for b := 0; b < n; b++ {
		for p := 0; p < hw; p++ {
			var sum float64
			for k := 0; k < c; k++ {
				var x float32
				if layout == NCHW {
					x = v[(b*c+k)*hw+p]
				} else {
					x = v[(b*hw+p)*c+k]
				}
				if x < 0 || x > 1 {
					return false
				}
				sum += float64(x)
			}
			if math.Abs(sum-1) > 1e-3 {
				return false
			}
		}
	}
	return true
}

func (d *Decoder) describe(t Tensor, c Config) string {
	var b strings.Builder
	// The first dimension is the batch, whose size is whichever batch resolved the decoder:
	// leave it out, so that the description is the same for every run of the model.
	shape := ShapeString(t.Shape)
	if len(t.Shape) >= 3 {
		shape = "[N," + strings.TrimPrefix(ShapeString(t.Shape[1:]), "[")
	}
	fmt.Fprintf(&b, "output %q %s %s: ", t.Name, t.dtype(), shape)
	switch d.kind {
	case Scores:
		fmt.Fprintf(&b, "%d class %s, %s, argmax", d.classes, d.activation, d.layout)
	case Indices:
		fmt.Fprintf(&b, "class indices, %s", d.layout)
	case Binary:
		th := c.Threshold
		if th == 0 {
			th = 0.5
		}
		fmt.Fprintf(&b, "foreground %s, %s, threshold %g", d.activation, d.layout, th)
	}
	var inferred []string
	if c.Kind == KindAuto {
		inferred = append(inferred, "kind")
	}
	if c.Layout == LayoutAuto {
		inferred = append(inferred, "layout")
	}
	if c.Activation == ActivationAuto && d.kind != Indices {
		inferred = append(inferred, "activation")
	}
	if c.Output == "" {
		inferred = append(inferred, "output")
	}
	if len(inferred) > 0 {
		fmt.Fprintf(&b, " (inferred: %s)", strings.Join(inferred, ", "))
	}
	return b.String()
}

// Describe says which output and convention are decoded and what was inferred, for the report.
func (d *Decoder) Describe() string { return d.desc }

// Kind is the resolved kind.
func (d *Decoder) Kind() Kind { return d.kind }

// Prediction is one image's decoded map at the label's resolution.
type Prediction struct {
	Map segment.LabelMap
	// Conf is the winning class's probability per pixel when Config.Confidence is set, else nil.
	Conf []float32
	// Resized reports that the output's resolution differed from the label's (for the report).
	Resized bool
}

// Scratch holds a worker's buffers between Decode calls, so that decoding every image of every
// perturbed variant does not allocate. The zero value is ready.
type Scratch struct {
	tx, ty     taps
	rows       [2][]float32 // horizontally resized source rows, all classes: [c*W + x]
	rowOf      [2]int       // which source row each holds; -1 none
	vals       []float32    // one label row of interpolated scores [c*W + x]
	best       []float32
	bestIdx    []uint16
	nearestRow []int64
}

// Decode decodes item n of the batch outputs (as passed to Resolve, same order) into dst at the
// label resolution of g. dst's memory is reused.
func (d *Decoder) Decode(outputs []Tensor, n int, g Geometry, dst *Prediction, sc *Scratch) error {
	if d.output >= len(outputs) {
		return fmt.Errorf("decode segmentation output %q: the model returned %d outputs", d.name, len(outputs))
	}
	t := outputs[d.output]
	fail := func(format string, args ...any) error {
		return fmt.Errorf("decode segmentation output %q %s item %d: %s", t.Name, ShapeString(t.Shape), n, fmt.Sprintf(format, args...))
	}
	if err := g.Validate(); err != nil {
		return fail("%v", err)
	}
	wantRank := 4
	if d.layout == NHW {
		wantRank = 3
	}
	if len(t.Shape) != wantRank {
		return fail("rank %d, resolved for rank %d", len(t.Shape), wantRank)
	}
	var size int64 = 1
	for _, v := range t.Shape {
		if v <= 0 {
			return fail("dimension %d is not a concrete size", v)
		}
		size *= v
	}
	if int64(t.length()) != size {
		return fail("holds %d values, its shape needs %d", t.length(), size)
	}
	batch := int(t.Shape[0])
	if n < 0 || n >= batch {
		return fail("the batch has %d items", batch)
	}
	var ch, oh, ow int
	switch d.layout {
	case NCHW:
		ch, oh, ow = int(t.Shape[1]), int(t.Shape[2]), int(t.Shape[3])
	case NHWC:
		oh, ow, ch = int(t.Shape[1]), int(t.Shape[2]), int(t.Shape[3])
	default:
		ch, oh, ow = 1, int(t.Shape[1]), int(t.Shape[2])
	}
	if d.kind == Scores && ch != d.classes {
		return fail("%d score channels but %d classes: the model and the class list disagree", ch, d.classes)
	}
	if d.kind != Scores && ch != 1 {
		return fail("%d channels, resolved for a single-channel map", ch)
	}
	dst.Map.Reshape(g.W, g.H)
	dst.Resized = !g.identity(ow, oh)
	if d.confidence && d.kind != Indices {
		if cap(dst.Conf) >= g.W*g.H {
			dst.Conf = dst.Conf[:g.W*g.H]
		} else {
			dst.Conf = make([]float32, g.W*g.H)
		}
	} else {
		dst.Conf = nil
	}
	ax, ay := g.axes(ow, oh)
	sc.tx.compute(ax)
	sc.ty.compute(ay)
	plane := oh * ow * ch
	switch d.kind {
	case Indices:
		return d.indices(t, n*plane, oh, ow, g, dst, sc, fail)
	case Binary:
		src := t.F32[n*plane : (n+1)*plane]
		if bad := countNaN(src); bad > 0 {
			return fail("%d NaN values: the model's numerics are broken", bad)
		}
		d.binary(src, oh, ow, g, dst, sc)
	default:
		src := t.F32[n*plane : (n+1)*plane]
		if bad := countNaN(src); bad > 0 {
			return fail("%d NaN values: the model's numerics are broken", bad)
		}
		d.scores(src, ch, oh, ow, g, dst, sc)
	}
	return nil
}

func countNaN(v []float32) int {
	n := 0
	for _, x := range v {
		if x != x {
			n++
		}
	}
	return n
}

// indices samples a class-index map by nearest neighbour, refusing values outside the classes.
func (d *Decoder) indices(t Tensor, off, oh, ow int, g Geometry, dst *Prediction, sc *Scratch, fail func(string, ...any) error) error {
	if cap(sc.nearestRow) >= ow {
		sc.nearestRow = sc.nearestRow[:ow]
	} else {
		sc.nearestRow = make([]int64, ow)
	}
	row := sc.nearestRow
	classes := int64(d.classes)
	var bad int
	var firstBad string
	for y := 0; y < g.H; y++ {
		sy := int(sc.ty.nearest[y])
		base := off + sy*ow
		// Read the source row once as int64 (and check it), then sample it.
		for x := 0; x < ow; x++ {
			var v int64
			switch {
			case t.I64 != nil:
				v = t.I64[base+x]
			case t.I32 != nil:
				v = int64(t.I32[base+x])
			case t.U8 != nil:
				v = int64(t.U8[base+x])
			default:
				f := t.F32[base+x]
				if f != float32(math.Floor(float64(f))) || f < 0 || f >= float32(classes) {
					bad++
					if firstBad == "" {
						firstBad = fmt.Sprintf("%g at (%d,%d)", f, x, sy)
					}
					v = 0
				} else {
					v = int64(f)
				}
			}
			if v < 0 || v >= classes {
				bad++
				if firstBad == "" {
					firstBad = fmt.Sprintf("%d at (%d,%d)", v, x, sy)
				}
				v = 0
			}
			row[x] = v
		}
		out := dst.Map.Pix[y*g.W : (y+1)*g.W]
		for x := range out {
			out[x] = uint16(row[sc.tx.nearest[x]])
		}
	}
	if bad > 0 {
		return fail("%d sampled pixels hold values that are not class indices 0..%d (first: %s); if the output holds scores, set %s scores", bad, d.classes-1, firstBad, KeyKind)
	}
	return nil
}

// loadRow fills buf with source row sy resized horizontally, for every channel: buf[c*W + x].
func loadRow(buf []float32, src []float32, ch, ow int, layout Layout, sy int, tx *taps) {
	w := len(tx.lo)
	oh := len(src) / ch / ow
	for c := 0; c < ch; c++ {
		out := buf[c*w : (c+1)*w]
		if layout == NCHW || ch == 1 {
			// One channel is stored alike in every layout.
			row := src[(c*oh+sy)*ow : (c*oh+sy+1)*ow]
			for x := range out {
				a, b := row[tx.lo[x]], row[tx.hi[x]]
				out[x] = a + tx.w[x]*(b-a)
			}
			continue
		}
		base := sy * ow * ch
		for x := range out {
			a, b := src[base+int(tx.lo[x])*ch+c], src[base+int(tx.hi[x])*ch+c]
			out[x] = a + tx.w[x]*(b-a)
		}
	}
}

// sourceRows makes sc.rows hold the resized source rows lo and hi, reusing what it has.
func sourceRows(sc *Scratch, src []float32, ch, ow int, layout Layout, lo, hi int) ([]float32, []float32) {
	w := len(sc.tx.lo)
	for i := range sc.rows {
		if len(sc.rows[i]) != ch*w {
			if cap(sc.rows[i]) >= ch*w {
				sc.rows[i] = sc.rows[i][:ch*w]
			} else {
				sc.rows[i] = make([]float32, ch*w)
			}
			sc.rowOf[i] = -1
		}
	}
	get := func(sy, avoid int) []float32 {
		for i := range sc.rows {
			if sc.rowOf[i] == sy {
				return sc.rows[i]
			}
		}
		slot := 0
		if sc.rowOf[0] == avoid {
			slot = 1
		}
		loadRow(sc.rows[slot], src, ch, ow, layout, sy, &sc.tx)
		sc.rowOf[slot] = sy
		return sc.rows[slot]
	}
	r0 := get(lo, hi)
	r1 := get(hi, lo)
	return r0, r1
}

// scores resizes class scores bilinearly to the label resolution and takes the argmax (ties go to
// the lower class index, as numpy's and torch's argmax). Rows are interpolated horizontally once
// per source row and blended vertically per label row, so the cost per label pixel is one
// multiply-add and one compare per class.
func (d *Decoder) scores(src []float32, ch, oh, ow int, g Geometry, dst *Prediction, sc *Scratch) {
	w := g.W
	sc.rowOf = [2]int{-1, -1}
	sc.best = growF(sc.best, w)
	if cap(sc.bestIdx) >= w {
		sc.bestIdx = sc.bestIdx[:w]
	} else {
		sc.bestIdx = make([]uint16, w)
	}
	best, bestIdx := sc.best, sc.bestIdx
	wantConf := dst.Conf != nil
	if wantConf {
		sc.vals = growF(sc.vals, ch*w)
	}
	// An NCHW output at the label's width is read in place, without copying rows.
	direct := sc.tx.identity && d.layout == NCHW
	for y := 0; y < g.H; y++ {
		lo, hi, wy := int(sc.ty.lo[y]), int(sc.ty.hi[y]), sc.ty.w[y]
		var r0, r1 []float32
		if !direct {
			r0, r1 = sourceRows(sc, src, ch, ow, d.layout, lo, hi)
		}
		for c := 0; c < ch; c++ {
			var a, b []float32
			if direct {
				a, b = src[(c*oh+lo)*ow:][:w], src[(c*oh+hi)*ow:][:w]
			} else {
				a, b = r0[c*w:][:w], r1[c*w:][:w]
			}
			cw := wy // this class's vertical weight, 0 once the row is blended
			switch {
			case wantConf:
				// Keep every class's resized score for the softmax.
				row := sc.vals[c*w:][:w]
				blend(row, a, b, wy)
				a, b, cw = row, row, 0
			case lo == hi:
				b, cw = a, 0
			}
			if c == 0 {
				blend(best, a, b, cw)
				clear(bestIdx)
				continue
			}
			if cw == 0 {
				argmaxStep(best, bestIdx, a, uint16(c))
			} else {
				argmaxBlend(best, bestIdx, a, b, cw, uint16(c))
			}
		}
		copy(dst.Map.Pix[y*w:(y+1)*w], bestIdx)
		if !wantConf {
			continue
		}
		conf := dst.Conf[y*w : (y+1)*w]
		if d.activation == Probabilities {
			// Resized probabilities still sum to one (bilinear weights sum to one).
			copy(conf, best)
			continue
		}
		softmaxMax(conf, best, sc.vals, ch, w)
	}
}

// blend writes a + wy*(b-a).
func blend(dst, a, b []float32, wy float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for x := range dst {
		dst[x] = a[x] + wy*(b[x]-a[x])
	}
}

// argmaxStep keeps the running maximum over classes.
func argmaxStep(best []float32, idx []uint16, row []float32, c uint16) {
	idx, row = idx[:len(best)], row[:len(best)]
	for x, v := range row {
		// Written to compile without a branch (a conditional move and MAXSS): on scores where the
		// winner changes unpredictably from class to class, a branch mispredicts often.
		bv, i := best[x], idx[x]
		if v > bv {
			i = c
		}
		idx[x], best[x] = i, max(bv, v)
	}
}

// argmaxBlend is argmaxStep over the row a + wy*(b-a), without storing it.
func argmaxBlend(best []float32, idx []uint16, a, b []float32, wy float32, c uint16) {
	idx, a, b = idx[:len(best)], a[:len(best)], b[:len(best)]
	for x, av := range a {
		v := av + wy*(b[x]-av)
		bv, i := best[x], idx[x]
		if v > bv {
			i = c
		}
		idx[x], best[x] = i, max(bv, v)
	}
}

// softmaxMax is the softmax probability of the maximum logit: 1 / sum_c exp(v_c - max).
func softmaxMax(conf, best, vals []float32, ch, w int) {
	for x := range conf {
		var sum float64
		m := best[x]
		for c := 0; c < ch; c++ {
			sum += math.Exp(float64(vals[c*w+x] - m))
		}
		conf[x] = float32(1 / sum)
	}
}

// binary resizes a foreground score bilinearly and thresholds it (score > threshold is foreground,
// so a probability of exactly 0.5 stays background, as torch's `> 0.5` masks do).
func (d *Decoder) binary(src []float32, oh, ow int, g Geometry, dst *Prediction, sc *Scratch) {
	w := g.W
	sc.rowOf = [2]int{-1, -1}
	th := d.threshold
	for y := 0; y < g.H; y++ {
		lo, hi, wy := int(sc.ty.lo[y]), int(sc.ty.hi[y]), sc.ty.w[y]
		r0, r1 := sourceRows(sc, src, 1, ow, NCHW, lo, hi)
		out := dst.Map.Pix[y*w : (y+1)*w]
		for x := range out {
			s := r0[x] + wy*(r1[x]-r0[x])
			if s > th {
				out[x] = 1
			} else {
				out[x] = 0
			}
			if dst.Conf != nil {
				p := s
				if d.activation == Logits {
					p = float32(1 / (1 + math.Exp(-float64(s))))
				}
				if out[x] == 0 {
					p = 1 - p
				}
				dst.Conf[y*w+x] = p
			}
		}
	}
}

func growF(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float32, n)
}
