package decode

import (
	"fmt"
	"strings"
	"sync"
)

// Output describes one model output as its signature gives it; -1 marks a dynamic dimension.
type Output struct {
	Name  string
	Shape []int64
	// Int is true for an integer element type (label outputs).
	Int bool
}

func (o Output) String() string {
	dims := make([]string, len(o.Shape))
	for i, d := range o.Shape {
		dims[i] = fmt.Sprint(d)
		if d < 0 {
			dims[i] = "?"
		}
	}
	kind := "float"
	if o.Int {
		kind = "int"
	}
	return fmt.Sprintf("%q [%s] %s", o.Name, strings.Join(dims, ","), kind)
}

// Decoder decodes one model's outputs under a resolved convention. It is safe for concurrent use.
type Decoder struct {
	cfg        Config
	conv       Convention
	enc        Encoding
	units      Units
	background bool // SSD: the first score column is background
	classes    int  // classes in the output's score columns (raw heads, SSD); 0 for post-NMS lists
	// Output names by role: single for one-tensor conventions.
	single, boxes, scores, labels, count string
	desc                                 string
	scratch                              sync.Pool
}

// Convention is the resolved convention.
func (d *Decoder) Convention() Convention { return d.conv }

// Describe says in one line how outputs are read, for the report: the convention, the outputs
// it reads, the box encoding and units, and the post-processing.
func (d *Decoder) Describe() string { return d.desc }

// Classes is the number of classes the outputs' score columns hold (0 for post-NMS lists, whose
// labels carry the class).
func (d *Decoder) Classes() int { return d.classes }

// candidate is a single-tensor reading of one output.
type candidate struct {
	conv    Convention
	out     Output
	classes int
	// fit: +1 the anchor count agrees with the input size (raw heads) or is clearly not an anchor
	// count (padded lists); 0 unknown; -1 contradicts it.
	fit int
}

// Resolve decides how to read a model's outputs: the declared convention, or the single one the
// outputs' shapes and names allow. When none or several fit it returns an error listing every
// output with its shape and saying how to declare the convention.
func Resolve(outs []Output, cfg Config) (*Decoder, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	d, err := resolve(outs, cfg)
	if err != nil {
		return nil, fmt.Errorf("read detector outputs %s: %w; %s", listOutputs(outs), err, ConfigHelp)
	}
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("read detector outputs %s: %w; %s", listOutputs(outs), err, ConfigHelp)
	}
	return d, nil
}

func listOutputs(outs []Output) string {
	s := make([]string, len(outs))
	for i, o := range outs {
		s[i] = o.String()
	}
	return "(" + strings.Join(s, ", ") + ")"
}

func resolve(outs []Output, cfg Config) (*Decoder, error) {
	if len(outs) == 0 {
		return nil, fmt.Errorf("the model has no outputs")
	}
	d := &Decoder{cfg: cfg}
	switch cfg.Convention {
	case "":
	case BoxesScoresLabels, SSD:
		if err := d.roles(outs, cfg.Convention); err != nil {
			return nil, err
		}
		return d, nil
	default:
		cands := singleCandidates(outs, cfg, true)
		var match []candidate
		for _, c := range cands {
			if c.conv == cfg.Convention {
				match = append(match, c)
			}
		}
		if len(match) != 1 {
			return nil, fmt.Errorf("%d outputs have a shape that fits the declared convention %s", len(match), cfg.Convention)
		}
		d.take(match[0])
		return d, nil
	}
	if len(outs) > 1 {
		multi := &Decoder{cfg: cfg}
		if err := multi.roles(outs, ""); err == nil {
			return multi, nil
		}
	}
	// Prefer readings whose anchor count agrees with the input size, then those it cannot judge.
	cands := singleCandidates(outs, cfg, false)
	var pick []candidate
	for tier := 1; tier >= -1 && len(pick) == 0; tier-- {
		for _, c := range cands {
			if c.fit == tier {
				pick = append(pick, c)
			}
		}
	}
	switch len(pick) {
	case 0:
		return nil, fmt.Errorf("no known detection convention fits these shapes")
	case 1:
		d.take(pick[0])
		return d, nil
	}
	var names []string
	for _, c := range pick {
		names = append(names, fmt.Sprintf("%s with %d classes", c.conv, c.classes))
	}
	hint := "set num_classes or the input size to tell them apart"
	if cfg.NumClasses > 0 && cfg.InputWidth > 0 {
		hint = "declare which"
	}
	return nil, fmt.Errorf("the shapes fit several conventions (%s): %s", strings.Join(names, "; "), hint)
}

func (d *Decoder) take(c candidate) {
	d.conv, d.single, d.classes = c.conv, c.out.Name, c.classes
}

// singleCandidates are the one-tensor readings each float output's shape allows. Inferring, a
// raw head must have more anchors than channels (real heads have thousands of anchors); a declared
// convention needs only the arithmetic to work.
func singleCandidates(outs []Output, cfg Config, declared bool) []candidate {
	var out []candidate
	anchors := anchorCounts(cfg.InputWidth, cfg.InputHeight)
	for _, o := range outs {
		if o.Int {
			continue
		}
		s := o.Shape
		add := func(conv Convention, classes int, a int64, raw bool) {
			if raw && (classes < 1 || (cfg.NumClasses > 0 && classes != cfg.NumClasses)) {
				return
			}
			fit := 0
			if kind, isAnchor := anchors[a]; a > 0 && anchors != nil {
				switch {
				case raw && isAnchor && kind == anchorKind(conv):
					fit = 1
				case raw || isAnchor:
					fit = -1
				default:
					fit = 1
				}
			}
			out = append(out, candidate{conv: conv, out: o, classes: classes, fit: fit})
		}
		switch len(s) {
		case 3:
			d1, d2 := s[1], s[2]
			if d1 > 0 && (declared || d2 < 0 || d2 > d1) {
				add(YOLOv8, int(d1-4), d2, true)
			}
			if d2 > 0 && (declared || d1 < 0 || d1 > d2) {
				add(YOLOv5, int(d2-5), d1, true)
				add(YOLOv8Transposed, int(d2-4), d1, true)
			}
			switch d2 {
			case 6:
				add(Padded6, 0, d1, false)
			case 7:
				add(Padded7, 0, d1, false)
			}
		case 2:
			switch s[1] {
			case 6:
				add(Padded6, 0, s[0], false)
			case 7:
				add(Flat7, 0, s[0], false)
			}
		}
	}
	return out
}

// anchorKind is the convention whose anchor count a raw head shares.
func anchorKind(c Convention) Convention {
	if c == YOLOv5 {
		return YOLOv5
	}
	return YOLOv8
}

// anchorCounts maps the anchor counts of YOLO heads at this input size to their convention:
// one anchor per grid cell of strides 8, 16, 32 (and 64 for P6 models) for YOLOv8, three per
// cell for YOLOv5. Nil when the size is unknown.
func anchorCounts(w, h int) map[int64]Convention {
	if w <= 0 || h <= 0 {
		return nil
	}
	m := map[int64]Convention{}
	cells := int64(0)
	for _, s := range []int{8, 16, 32, 64} {
		cells += int64((w+s-1)/s) * int64((h+s-1)/s)
		if s >= 32 {
			m[cells] = YOLOv8
			m[3*cells] = YOLOv5
		}
	}
	return m
}

// roles finds the outputs of the multi-output conventions, by configured or conventional names
// first and by shapes second.
func (d *Decoder) roles(outs []Output, want Convention) error {
	cfg := d.cfg
	find := func(explicit string, keys ...string) (Output, bool, error) {
		if explicit != "" {
			for _, o := range outs {
				if o.Name == explicit {
					return o, true, nil
				}
			}
			return Output{}, false, fmt.Errorf("no output is named %q", explicit)
		}
		var hits []Output
		for _, o := range outs {
			n := strings.ToLower(o.Name)
			for _, k := range keys {
				if strings.Contains(n, k) {
					hits = append(hits, o)
					break
				}
			}
		}
		if len(hits) == 1 {
			return hits[0], true, nil
		}
		return Output{}, false, nil
	}
	boxes, okB, err := find(cfg.Boxes, "box")
	if err != nil {
		return err
	}
	if !okB {
		var hits []Output
		for _, o := range outs {
			if !o.Int && len(o.Shape) >= 2 && o.Shape[len(o.Shape)-1] == 4 {
				hits = append(hits, o)
			}
		}
		if len(hits) != 1 {
			return fmt.Errorf("no single output looks like boxes (name containing \"box\", or last dimension 4)")
		}
		boxes = hits[0]
	}
	if n := len(boxes.Shape); n != 2 && n != 3 || boxes.Shape[n-1] != 4 && boxes.Shape[n-1] > 0 {
		return fmt.Errorf("boxes output %s must be [K,4] or [N,K,4]", boxes)
	}
	rest := make([]Output, 0, len(outs))
	for _, o := range outs {
		if o.Name != boxes.Name {
			rest = append(rest, o)
		}
	}
	outs = rest
	scores, okS, err := find(cfg.Scores, "score", "conf")
	if err != nil {
		return err
	}
	labels, okL, err := find(cfg.Labels, "label", "class")
	if err != nil {
		return err
	}
	count, okC, err := find(cfg.Count, "num")
	if err != nil {
		return err
	}
	br := len(boxes.Shape)
	if !okS {
		// By shape: a float output one rank below boxes (post-NMS scores) or of equal rank (SSD).
		var hits []Output
		for _, o := range outs {
			if !o.Int && !(okL && o.Name == labels.Name) && (len(o.Shape) == br-1 || len(o.Shape) == br && br == 3) {
				hits = append(hits, o)
			}
		}
		if len(hits) != 1 {
			return fmt.Errorf("cannot tell which output holds the scores")
		}
		scores = hits[0]
	}
	sr := len(scores.Shape)
	conv := BoxesScoresLabels
	if sr == br && br == 3 {
		conv = SSD
	} else if sr != br-1 {
		return fmt.Errorf("scores output %s must have one dimension fewer than boxes %s (or, SSD-style, [N,K,C])", scores, boxes)
	}
	if want != "" && want != conv {
		return fmt.Errorf("the declared convention is %s but the outputs are shaped like %s", want, conv)
	}
	if conv == BoxesScoresLabels {
		if !okL {
			var hits []Output
			for _, o := range outs {
				if o.Name != scores.Name && len(o.Shape) == br-1 && o.Int {
					hits = append(hits, o)
				}
			}
			if len(hits) != 1 {
				return fmt.Errorf("cannot tell which output holds the labels")
			}
			labels = hits[0]
		}
		if len(labels.Shape) != br-1 {
			return fmt.Errorf("labels output %s must have the shape of the scores %s", labels, scores)
		}
		d.labels = labels.Name
		if okC {
			d.count = count.Name
		}
	} else {
		d.classes = int(scores.Shape[2])
	}
	for i := 0; i < br-1; i++ {
		if b, s := boxes.Shape[i], scores.Shape[i]; b > 0 && s > 0 && b != s {
			return fmt.Errorf("boxes %s and scores %s disagree on dimension %d", boxes, scores, i)
		}
	}
	d.conv, d.boxes, d.scores = conv, boxes.Name, scores.Name
	if strings.Contains(strings.ToLower(boxes.Name), "detection_boxes") {
		// TensorFlow's object-detection exports: normalized (ymin, xmin, ymax, xmax).
		if d.cfg.Encoding == "" {
			d.cfg.Encoding = YXYX
		}
		if d.cfg.Units == "" {
			d.cfg.Units = Normalized
		}
	}
	return nil
}

// finish settles encoding, units and the background column, and writes the description.
func (d *Decoder) finish() error {
	cfg := d.cfg
	d.enc, d.units = cfg.Encoding, cfg.Units
	if d.enc == "" {
		d.enc = XYXY
		if d.conv == YOLOv5 || d.conv == YOLOv8 || d.conv == YOLOv8Transposed {
			d.enc = CXCYWH
		}
	}
	if d.units == "" {
		d.units = Pixels
	}
	if d.units == Normalized && (cfg.InputWidth <= 0 || cfg.InputHeight <= 0) {
		return fmt.Errorf("normalized boxes need the model input size")
	}
	if d.conv == SSD {
		switch {
		case d.classes <= 0:
			return fmt.Errorf("SSD scores need a known class dimension")
		case cfg.Background == BackgroundFirst:
			d.background = true
		case cfg.Background == BackgroundNone:
		case cfg.NumClasses > 0 && d.classes == cfg.NumClasses+1:
			d.background = true
		case cfg.NumClasses > 0 && d.classes == cfg.NumClasses:
		default:
			return fmt.Errorf("SSD scores have %d columns: say whether the first is background (background_class) or give num_classes", d.classes)
		}
		if d.background {
			d.classes--
		}
		if cfg.NumClasses > 0 && d.classes != cfg.NumClasses {
			return fmt.Errorf("SSD scores hold %d classes, the data %d", d.classes, cfg.NumClasses)
		}
	}
	var b strings.Builder
	switch d.conv {
	case BoxesScoresLabels:
		fmt.Fprintf(&b, "%s (outputs %q, %q, %q", d.conv, d.boxes, d.scores, d.labels)
		if d.count != "" {
			fmt.Fprintf(&b, ", count %q", d.count)
		}
		b.WriteString(")")
	case SSD:
		bg := "no background column"
		if d.background {
			bg = "background column first"
		}
		fmt.Fprintf(&b, "%s (outputs %q, %q; %d classes, %s)", d.conv, d.boxes, d.scores, d.classes, bg)
	default:
		fmt.Fprintf(&b, "%s (output %q", d.conv, d.single)
		if d.classes > 0 {
			fmt.Fprintf(&b, ", %d classes", d.classes)
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, ", boxes %s in %s", d.enc, map[Units]string{Pixels: "input pixels", Normalized: "normalized coordinates"}[d.units])
	if d.nms() {
		sel := "best class per box"
		if cfg.MultiLabel {
			sel = "every class per box"
		}
		scope := "class-aware"
		if cfg.Agnostic {
			scope = "class-agnostic"
		}
		fmt.Fprintf(&b, ", %s, %s NMS at IoU %g", sel, scope, cfg.IoUThreshold)
		if cfg.Logits {
			b.WriteString(", sigmoid on scores")
		}
	}
	fmt.Fprintf(&b, ", scores above %g, at most %d per image", cfg.ScoreThreshold, cfg.MaxDetections)
	d.desc = b.String()
	return nil
}

// nms reports whether cvgate runs NMS (raw heads and SSD) rather than the model.
func (d *Decoder) nms() bool {
	switch d.conv {
	case YOLOv5, YOLOv8, YOLOv8Transposed, SSD:
		return true
	}
	return false
}
