// Package task is the one seam between cvgate's checks and what a model's outputs mean. A Task
// knows three things the rest of cvgate does not: how raw output tensors become predictions
// (decode), how predictions are scored against ground truth per image and over a set (score), and
// how a geometric transform of an image moves its ground truth and predictions (transform
// targets). Checks, the prediction memo, the pipeline, reports and statistics are written against
// these interfaces; each task lives in a folder of its own below this one (classify, detect,
// segment) and is listed once in the registry.
package task

import (
	"fmt"
	"math"

	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/perturb"
	"github.com/cvgate/cvgate/internal/preprocess"
	"github.com/cvgate/cvgate/report"
)

// Kind names a task in config, reports and flags.
type Kind string

// The tasks cvgate knows.
const (
	Classification Kind = "classification"
	Detection      Kind = "detection"
	Segmentation   Kind = "segmentation"
)

// Prediction is one image's decoded prediction; its concrete type belongs to the task (a list of
// boxes for detection, a label map for segmentation).
type Prediction any

// Truth is one image's ground truth; its concrete type belongs to the task.
type Truth any

// Task is the plug-in interface of one task.
type Task interface {
	Kind() Kind
	// Bind decides how to read a model's outputs (declared in config or inferred from their
	// names and shapes) for a model whose input the spec describes. The error of a model whose
	// outputs fit no known convention lists the outputs and the config keys that declare one.
	Bind(m *onnx.Model, spec preprocess.Spec) (Decoder, error)
	// Evaluate scores predictions against ground truth; preds[i] and truths[i] describe the
	// same image, and sizes[i] is its width and height.
	Evaluate(preds []Prediction, truths []Truth, sizes [][2]int) Evaluation
	// Agreement is how far a prediction on a perturbed image agrees with the prediction on the
	// clean image (already moved by the same transform), in [0, 1]: 1 means the same answer.
	Agreement(clean, perturbed Prediction) float64
	// Move applies a geometric transform to a ground truth or a prediction of an image of w x h
	// pixels, so that it describes the transformed image. Photometric transforms leave it as is.
	Move(x any, t perturb.Transform, w, h int) any
	// Phantoms measures how much a prediction claims with at least the given confidence, for
	// inputs that hold nothing (blank, noise): a detector counts its confident boxes, a segmenter
	// the share of confidently labelled foreground pixels. flagged says whether that amount makes
	// the answer a confident answer to nothing.
	Phantoms(p Prediction, confidence float64) (amount float64, flagged bool)
	// Classes are the class names in output order.
	Classes() []string
}

// Decoder turns one batch of raw outputs into per-image predictions.
type Decoder interface {
	// Describe names the output convention for the report, e.g. "YOLOv8 head [N,14,1344],
	// cxcywh in input pixels, class-aware NMS IoU 0.7".
	Describe() string
	// Decode reads count images of a batch; geoms[j] maps image j to the model input.
	Decode(outs []onnx.Tensor, count int, geoms []preprocess.Geometry) ([]Prediction, error)
	// BatchOne reports whether the outputs have no batch dimension, so the model must be run
	// one image at a time.
	BatchOne() bool
}

// Evaluation is a task's score of one model's predictions on a set of images, kept as per-image
// records so that every statistic can be recomputed on any multiset of those images (a
// bootstrap resample, a slice, a shard): rows index the evaluated images, with repetition allowed;
// nil means every image once.
type Evaluation interface {
	// Len is the number of evaluated images.
	Len() int
	// Headline is the metric the task is judged by (accuracy, COCO mAP, mIoU).
	Headline() Metric
	// Score is the headline metric over rows.
	Score(rows []int) float64
	// Metrics are every set-level metric over rows, keyed as in report.json.
	Metrics(rows []int) map[string]float64
	// PerClass is the headline metric per class over rows (NaN where a class is absent).
	PerClass(rows []int) []float64
	// ImageScore is one image's quality in [0, 1] (correct, F1 of its boxes, its mIoU), for
	// ranking the worst images and finding images that got worse.
	ImageScore(r int) float64
	// Describe explains image r's errors in a line (missed objects, false positives).
	Describe(r int) string
	// Details are the tables and charts perf.metrics shows (per-class AP, PR curves, IoU bars).
	Details() []report.Section
}

// Metric names a metric: Key as in report.json, Name as people read it.
type Metric struct {
	Key, Name string
	// Percent says whether the metric is a share rendered as a percentage.
	Percent bool
}

// Format renders a value of the metric.
func (m Metric) Format(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case m.Percent:
		return fmt.Sprintf("%.1f%%", 100*v)
	}
	return fmt.Sprintf("%.3f", v)
}

// FormatDelta renders a difference of the metric: percentage points or plain.
func (m Metric) FormatDelta(d float64) string {
	switch {
	case math.IsNaN(d):
		return "n/a"
	case m.Percent:
		return fmt.Sprintf("%+.1f pp", 100*d)
	}
	return fmt.Sprintf("%+.3f", d)
}

// All rows of an evaluation: a helper for callers that want every image once.
func All(e Evaluation) []int {
	rows := make([]int, e.Len())
	for i := range rows {
		rows[i] = i
	}
	return rows
}

// Reader reads the ground truth of a detection or segmentation data set. Classification keeps
// the dataset package's class folders and manifests.
type Reader interface {
	// Describe names the format and where it was read from, e.g. "COCO instances_val.json".
	Describe() string
	// List returns the images to evaluate; each entry carries its ground truth in Entry.Truth,
	// possibly incomplete until Resolve sees the image's size.
	List() (*dataset.Listing, error)
	// Resolve completes and checks one image's ground truth once its size is known (YOLO's
	// normalized boxes, a mask that must match the image).
	Resolve(t Truth, w, h int, path string) (Truth, error)
	// Classes are the class names in class-index order, and ClassSource where they came from.
	Classes() []string
	ClassSource() string
	// Notes are facts the report states about the ground truth (images taken as negatives...).
	Notes() []string
}

// Auditor is implemented by tasks that check their ground truth for data problems (boxes outside
// the image, duplicate boxes, empty masks, values outside the classes); data.integrity reports
// what it finds.
type Auditor interface {
	Audit(truths []Truth, sizes [][2]int, paths []string) Audit
}

// Audit is what an Auditor found: problems make data.integrity warn, notes are information.
type Audit struct {
	Problems, Notes []string
	Sections        []report.Section
	Metrics         map[string]float64
}

// Input is where a task's ground truth is looked for.
type Input struct {
	// Data and Annotations are paths on disk; Annotations may be empty.
	Data, Annotations string
	// Within is the folder every ground-truth file must resolve into (the workspace); empty
	// when the caller lifted the confinement.
	Within string
	// List lists a manifest through the caller's confined dataset reader.
	List func(path string) (*dataset.Listing, error)
}

// Signals are what drift compares between a reference and a current set: numeric samples (one per
// image or per object) and categorical values, by signal name.
type Signals struct {
	Numeric     map[string][]float64
	Categorical map[string][]string
}

// Profiler is implemented by tasks that describe a set of ground truths or predictions as drift
// signals (objects per image, box sizes and positions, class shares...).
type Profiler interface {
	Profile(xs []any, sizes [][2]int) Signals
}

// Finding is one image's entry in a list an evaluation gives (row: its position in the
// evaluation).
type Finding struct {
	Row  int
	Text string
}

// LabelSuspecter is implemented by evaluations that point at likely annotation mistakes (a
// detector's confident detections that disagree with the boxes), for relabelling.
type LabelSuspecter interface {
	LabelSuspects() []Finding
}

// Codec is implemented by tasks whose predictions can be kept as per-image records (the
// prediction cache, shards). ReadPrediction reads what AppendPrediction wrote; it must reject
// anything else with an error, never panic, whatever the bytes.
type Codec interface {
	AppendPrediction(dst []byte, p Prediction) ([]byte, error)
	ReadPrediction(b []byte) (Prediction, error)
}
