// Package decode turns a detector's raw output tensors into detections: it recognizes the common
// output conventions from the outputs' shapes and names (or takes a declared one), decodes boxes
// in any of the usual encodings, and runs class-aware non-maximum suppression where the model
// leaves it to the caller. Boxes come out in model-input pixels; map them to the original image
// with box.Geometry.Inverse.
package decode

import (
	"fmt"
	"slices"
	"strings"
)

// Convention names a detector output layout.
type Convention string

// The conventions Resolve understands. A, C, K and N are anchors, classes, kept detections and
// the batch size.
const (
	// YOLOv5 is a raw head [N, A, 5+C]: cx, cy, w, h, objectness, then class scores; a box's score
	// for a class is objectness x class score.
	YOLOv5 Convention = "yolov5"
	// YOLOv8 is a raw head [N, 4+C, A] (also YOLOv11): cx, cy, w, h, then class scores, anchors last.
	YOLOv8 Convention = "yolov8"
	// YOLOv8Transposed is the same head anchors first, [N, A, 4+C].
	YOLOv8Transposed Convention = "yolov8-transposed"
	// BoxesScoresLabels is a post-NMS graph with separate outputs: boxes [K,4], scores [K] and
	// labels [K] as torchvision's detectors export them (batch 1), or batched [N,K,4], [N,K],
	// [N,K] with an optional count [N] or [N,1] of valid rows (TensorFlow's and TensorRT's form).
	BoxesScoresLabels Convention = "boxes-scores-labels"
	// Padded6 is a post-NMS [N, maxdet, 6] (x1, y1, x2, y2, score, class), rows past the last
	// detection zero; [K, 6] is its batch-1 form.
	Padded6 Convention = "padded6"
	// Padded7 is [N, maxdet, 7] with a batch index first (batch, x1, y1, x2, y2, score, class).
	Padded7 Convention = "padded7"
	// Flat7 is [K, 7], every detection of the batch in one list with its batch index first.
	Flat7 Convention = "flat7"
	// SSD is boxes [N, K, 4] with per-class scores [N, K, C] (optionally a background column
	// first), decoded and NMS'd by cvgate.
	SSD Convention = "ssd"
)

// Conventions lists every convention, for help texts.
var Conventions = []Convention{YOLOv5, YOLOv8, YOLOv8Transposed, BoxesScoresLabels, Padded6, Padded7, Flat7, SSD}

// Encoding is how four numbers describe a box.
type Encoding string

// Box encodings. YXYX is TensorFlow's (ymin, xmin, ymax, xmax).
const (
	XYXY   Encoding = "xyxy"
	XYWH   Encoding = "xywh"
	CXCYWH Encoding = "cxcywh"
	YXYX   Encoding = "yxyx"
)

// Units say whether box coordinates are input pixels or fractions of the input size.
type Units string

// Box units.
const (
	Pixels     Units = "pixels"
	Normalized Units = "normalized"
)

// Background says whether SSD-style scores have a background column first.
type Background string

// Background settings; BackgroundAuto decides from NumClasses when that is unambiguous.
const (
	BackgroundAuto  Background = ""
	BackgroundFirst Background = "first"
	BackgroundNone  Background = "none"
)

// Config declares what Resolve cannot infer and sets the post-processing. The zero value infers
// everything and uses the defaults documented on each field.
type Config struct {
	// Convention is the output layout; empty infers it from the outputs' shapes and names.
	Convention Convention
	// Boxes, Scores, Labels and Count name the outputs of multi-output conventions; empty
	// infers them from names (box, score, label/class, num) and shapes.
	Boxes, Scores, Labels, Count string
	// Encoding defaults to the convention's: cxcywh for YOLO heads, xyxy otherwise (yxyx for
	// TensorFlow's detection_boxes).
	Encoding Encoding
	// Units defaults to pixels (normalized for TensorFlow's detection_boxes).
	Units Units
	// ClassBeforeScore reads 6- and 7-column rows as (..., class, score) instead of
	// (..., score, class), as YOLOv7's end-to-end export writes them.
	ClassBeforeScore bool
	Background       Background
	// NumClasses, when known (e.g. from the annotations), disambiguates shapes and is checked.
	NumClasses int
	// InputWidth and InputHeight are the model input size: needed for normalized boxes, and used
	// to tell a raw head (anchors = grid cells of strides 8/16/32) from a padded list.
	InputWidth, InputHeight int
	// LabelOffset is subtracted from label outputs (1 for models whose label 0 is background).
	LabelOffset int
	// LabelIDs, when set, maps a label value to the class index whose id it is (e.g. COCO
	// category ids 1..90 with gaps from annot.Set.CategoryIDs); unknown labels are dropped and
	// counted (Decoder.Dropped).
	LabelIDs []int64
	// Logits applies a sigmoid to raw-head and SSD scores; without it scores above 1 are an error.
	Logits bool
	// ScoreThreshold keeps detections scoring strictly above it (so zero-padded rows drop at 0).
	ScoreThreshold float64
	// IoUThreshold suppresses a box overlapping a kept box of its class by more; default 0.7.
	IoUThreshold float64
	// MaxDetections caps detections per image after NMS; default 100 (COCO's).
	MaxDetections int
	// TopK caps the candidates entering NMS, highest scores first; default 30,000.
	TopK int
	// MultiLabel lets one raw-head box yield a candidate for every class above the threshold (as
	// YOLO's validation does); otherwise only its best class.
	MultiLabel bool
	// Agnostic suppresses across classes.
	Agnostic bool
}

func (c Config) withDefaults() Config {
	if c.IoUThreshold == 0 {
		c.IoUThreshold = 0.7
	}
	if c.MaxDetections == 0 {
		c.MaxDetections = 100
	}
	if c.TopK == 0 {
		c.TopK = 30000
	}
	return c
}

func (c Config) validate() error {
	var errs []string
	if c.Convention != "" && !slices.Contains(Conventions, c.Convention) {
		errs = append(errs, fmt.Sprintf("unknown output convention %q (want one of %s)", c.Convention, joinConv()))
	}
	switch c.Encoding {
	case "", XYXY, XYWH, CXCYWH, YXYX:
	default:
		errs = append(errs, fmt.Sprintf("unknown box encoding %q (want xyxy, xywh, cxcywh or yxyx)", c.Encoding))
	}
	switch c.Units {
	case "", Pixels, Normalized:
	default:
		errs = append(errs, fmt.Sprintf("unknown box units %q (want pixels or normalized)", c.Units))
	}
	switch c.Background {
	case BackgroundAuto, BackgroundFirst, BackgroundNone:
	default:
		errs = append(errs, fmt.Sprintf("unknown background setting %q (want first or none)", c.Background))
	}
	if c.IoUThreshold < 0 || c.IoUThreshold > 1 {
		errs = append(errs, fmt.Sprintf("IoU threshold %v must lie in [0, 1]", c.IoUThreshold))
	}
	if c.MaxDetections < 0 || c.TopK < 0 || c.NumClasses < 0 || c.InputWidth < 0 || c.InputHeight < 0 {
		errs = append(errs, "max detections, top-k, class count and input size must not be negative")
	}
	if len(errs) > 0 {
		return fmt.Errorf("detection output config: %s", strings.Join(errs, "; "))
	}
	return nil
}

// ConfigHelp is how a user declares the convention, quoted by Resolve's errors. The keys are
// those of cvgate's .cvgate.yml detection section.
const ConfigHelp = "declare the convention in .cvgate.yml under detection: output (" +
	"yolov5 | yolov8 | yolov8-transposed | boxes-scores-labels | padded6 | padded7 | flat7 | ssd), " +
	"boxes_output / scores_output / labels_output (output names), box_encoding (xyxy | xywh | cxcywh | yxyx), " +
	"box_units (pixels | normalized), background_class (first | none), class_before_score (true for YOLOv7's " +
	"end-to-end rows), scores_are_logits, label_offset, label_ids and num_classes"

func joinConv() string {
	var s []string
	for _, c := range Conventions {
		s = append(s, string(c))
	}
	return strings.Join(s, ", ")
}
