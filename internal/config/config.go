// Package config turns cvgate's inputs (built-in defaults, .cvgate.yml, GitHub Action inputs and
// command-line flags) into one validated Config.
//
// Precedence is the order in which Load applies the sources: defaults < built-in profile < config
// file < profile from the file < action inputs < flags. Every problem found by Validate is
// reported at once, each naming its key path, before any model runs.
package config

import (
	"bytes"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cvgate/cvgate/report"
)

// Version is the only config file version this cvgate reads.
const Version = 1

// Config is the effective configuration of one run. Its YAML form is also what audit records
// and `cvgate config` print, so every field has a yaml tag.
type Config struct {
	Version  int           `yaml:"version"`
	Models   []string      `yaml:"models"`
	Data     string        `yaml:"data"`
	Labels   string        `yaml:"labels"`
	Baseline string        `yaml:"baseline"`
	Out      string        `yaml:"out"`
	FailOn   report.FailOn `yaml:"fail_on"`
	Profile  string        `yaml:"profile"`
	Checks   []string      `yaml:"checks"` // check IDs or prefixes ("perf.*"); empty: all enabled
	Skip     []string      `yaml:"skip"`   // check IDs or prefixes to leave out
	Seed     uint64        `yaml:"seed"`
	// Command is what the GitHub action runs: "check" (the default) or "drift" (monitoring).
	// Only `cvgate action` reads it; the CLI's subcommand says it there.
	Command string `yaml:"command"`
	// MaxUnreadable is the share of images that may fail to decode before the run gives up.
	MaxUnreadable float64    `yaml:"max_unreadable"`
	Runtime       Runtime    `yaml:"runtime"`
	Preprocess    Preprocess `yaml:"preprocess"`
	// Task is "classification", "detection" or "segmentation"; empty: inferred from the data
	// (annotation files mean detection, mask folders segmentation) and the model's outputs.
	Task string `yaml:"task"`
	// Annotations is the ground truth of detection and segmentation: a COCO JSON file, a YOLO
	// labels folder, a VOC Annotations folder or a masks folder; empty: found in the data folder.
	Annotations  string       `yaml:"annotations"`
	Detection    Detection    `yaml:"detection"`
	Segmentation Segmentation `yaml:"segmentation"`
	Thresholds   Thresholds   `yaml:"thresholds"`
	Publish      Publish      `yaml:"publish"`
	Card         Card         `yaml:"model_card"`
}

// Runtime configures ONNX Runtime.
type Runtime struct {
	Threads           int           `yaml:"threads"`    // intra-op threads; 0: all cores
	BatchSize         int           `yaml:"batch_size"` // images per forward pass when the model allows batching; 0: automatic
	ExecutionProvider Provider      `yaml:"execution_provider"`
	ORTLib            string        `yaml:"ort_lib"`
	CheckTimeout      time.Duration `yaml:"check_timeout"` // per check (the clean pass counts as one)
	// Timeout bounds the whole run; past it the run stops with a report marked interrupted.
	Timeout time.Duration `yaml:"timeout"`
	// PassTimeout bounds one forward pass (one batch through one model).
	PassTimeout time.Duration `yaml:"pass_timeout"`
	// MaxPixels and MaxAspect bound one image, read from its header before decoding.
	MaxPixels int64   `yaml:"max_pixels"`
	MaxAspect float64 `yaml:"max_aspect"`
	// MaxFileMB caps the bytes read of one image, manifest or labels file.
	MaxFileMB int64 `yaml:"max_file_mb"`
	// MemoryMB bounds the decoded images of a dataset; a quarter of it bounds the models' batch
	// buffers (which also bounds the input shapes a model may declare).
	MemoryMB int64 `yaml:"memory_mb"`
	// Cache is the prediction cache folder ("off": none; empty: the runner's tool cache, else
	// ~/.cache/cvgate/predictions). Only a flag or an input may set it: see Load.
	Cache string `yaml:"cache"`
	// CacheMaxMB bounds the cache folder; the least recently used records go first.
	CacheMaxMB int64 `yaml:"cache_max_mb"`
	// Shard is "I/N": compute the per-image records of shard I of N (0-based) into the output
	// folder, for `cvgate merge`; ShardCount N with the shard index from JOB_COMPLETION_INDEX
	// (Kubernetes Indexed Jobs) does the same.
	Shard      string `yaml:"shard"`
	ShardCount int    `yaml:"shard_count"`
}

// Preprocess says how decoded images become the model's input tensor. Unset fields are inferred
// from the model's input signature where that is unambiguous; the report says which.
type Preprocess struct {
	Preset     string    `yaml:"preset"`    // "imagenet", "inception", "unit", "raw" or empty
	Size       []int     `yaml:"size"`      // [width, height]
	Resize     string    `yaml:"resize"`    // "bilinear" (default), "nearest", "area"
	Fit        string    `yaml:"fit"`       // "stretch" (default), "crop" (shorter side to size/center_crop, then center crop) or "letterbox" (keep aspect, pad)
	PadValue   *float64  `yaml:"pad_value"` // letterbox border, 0..255; default 114
	CenterCrop float64   `yaml:"center_crop"`
	Color      string    `yaml:"color"`  // "gray", "rgb" or "bgr"; default from the channel count
	Scale      *float64  `yaml:"scale"`  // multiplies 0..255 pixel values; default 1/255 (float inputs)
	Mean       []float64 `yaml:"mean"`   // per channel, after scaling
	Std        []float64 `yaml:"std"`    // per channel, after scaling
	Layout     string    `yaml:"layout"` // "auto", "nchw", "nhwc", "nhw", "flat"
	Input      string    `yaml:"input"`  // input tensor name when the model has several
	Output     string    `yaml:"output"` // output tensor name when the model has several
	Outputs    string    `yaml:"outputs"`
}

// Detection says how a detector's outputs are read and matched. Empty fields are inferred from
// the outputs' names and shapes; the report says what was used.
type Detection struct {
	// Output is the output convention: "auto", "yolov5" ([N,A,5+C]), "yolov8" ([N,4+C,A]),
	// "yolov8-transposed" ([N,A,4+C]), "boxes-scores-labels" (torchvision: boxes [K,4], scores
	// [K], labels [K]), "padded6" ([N,K,6] x1,y1,x2,y2,score,class), "padded7" ([N,K,7] with a
	// batch index first), "flat7" ([K,7]) or "ssd" (boxes [N,A,4] + scores [N,A,C]).
	Output string `yaml:"output"`
	// BoxesOutput, ScoresOutput and LabelsOutput name the outputs of multi-output conventions.
	BoxesOutput  string `yaml:"boxes_output"`
	ScoresOutput string `yaml:"scores_output"`
	LabelsOutput string `yaml:"labels_output"`
	// BoxEncoding is "auto", "xyxy", "xywh", "cxcywh" or "yxyx"; BoxUnits "auto", "pixels" (model
	// input pixels) or "normalized" ([0,1] of the input).
	BoxEncoding string `yaml:"box_encoding"`
	BoxUnits    string `yaml:"box_units"`
	// BackgroundClass says whether SSD-style scores have a background column: "auto", "first"
	// or "none".
	BackgroundClass string `yaml:"background_class"`
	// ClassBeforeScore reads 6/7-column rows as (..., class, score), as YOLOv7 end-to-end exports.
	ClassBeforeScore bool `yaml:"class_before_score"`
	// ScoresAreLogits applies a sigmoid to raw-head scores.
	ScoresAreLogits bool `yaml:"scores_are_logits"`
	// LabelOffset is subtracted from label outputs (1 when label 0 is background). LabelIDs lists
	// the label value of each class, in class order, for models whose labels are ids (COCO's
	// 1..90 with gaps); CategoryIDs takes them from the COCO file's categories.
	LabelOffset int     `yaml:"label_offset"`
	LabelIDs    []int64 `yaml:"label_ids"`
	CategoryIDs bool    `yaml:"category_ids"`
	// MultiLabel lets one raw-head box yield a candidate per class above the threshold, as YOLO's
	// own validation does (slower; off matches a deployment's best-class decoding).
	MultiLabel bool `yaml:"multi_label"`
	// NMSIoU, ScoreThreshold and MaxDetections configure decoding of raw heads (class-aware
	// NMS). The low score threshold and 100 detections per image are COCO evaluation's defaults.
	NMSIoU         float64 `yaml:"nms_iou"`
	ScoreThreshold float64 `yaml:"score_threshold"`
	MaxDetections  int     `yaml:"max_detections"`
	// OperatingScore is the score a deployment keeps detections at: precision, recall, F1, the
	// confusion matrix, image scores, flips and phantom detections use it.
	OperatingScore float64 `yaml:"operating_score"`
}

// Segmentation says how masks and segmentation outputs are read.
type Segmentation struct {
	// Masks finds each image's mask: a folder mirroring the images (e.g. "masks") or empty to
	// look beside the images (masks/, labels/, annotations/, SegmentationClass/, x_mask.png).
	Masks string `yaml:"masks"`
	// IgnoreIndex is the mask value that marks pixels left out of every metric.
	IgnoreIndex int `yaml:"ignore_index"`
	// Output names the output to read when the model has several 3-d or 4-d outputs. OutputKind
	// is "auto", "scores" (one channel per class), "indices" or "binary" (one foreground
	// channel); OutputLayout "auto", "nchw", "nhwc" or "nhw"; Activation "auto", "logits" or
	// "probabilities"; Threshold the foreground threshold of binary outputs.
	Output       string  `yaml:"output"`
	OutputKind   string  `yaml:"output_kind"`
	OutputLayout string  `yaml:"output_layout"`
	Activation   string  `yaml:"activation"`
	Threshold    float64 `yaml:"threshold"`
	// Binary treats masks as foreground/background (0 vs non-zero, e.g. 0/255).
	Binary bool `yaml:"binary"`
	// Colors maps RGB colour masks to classes, in class order.
	Colors []ClassColor `yaml:"colors"`
}

// ClassColor is one class of an RGB colour mask.
type ClassColor struct {
	Name string `yaml:"name"`
	RGB  []int  `yaml:"rgb"`
}

// Publish configures what cvgate does on GitHub.
type Publish struct {
	Comment   string `yaml:"comment"`    // "update" (default), "new" or "off"
	CommentID string `yaml:"comment_id"` // keeps several runs' comments apart
}

// Card holds the parts of the model card only people can write.
type Card struct {
	IntendedUse string   `yaml:"intended_use"`
	Owners      []string `yaml:"owners"`
	Limitations string   `yaml:"limitations"`
	License     string   `yaml:"license"`
}

// Provider is an ONNX Runtime execution provider.
type Provider string

// The supported execution providers.
const (
	ProviderCPU  Provider = "cpu"
	ProviderCUDA Provider = "cuda"
	// ProviderAuto uses CUDA when ONNX Runtime can create it, and the CPU otherwise.
	ProviderAuto Provider = "auto"
)

// Thresholds holds each check's settings, keyed by check ID in YAML.
type Thresholds struct {
	ModelLoad         ModelLoad         `yaml:"model.load"`
	ModelSignature    ModelSignature    `yaml:"model.signature"`
	ModelNumerics     ModelNumerics     `yaml:"model.numerics"`
	ModelMetadata     ModelMetadata     `yaml:"model.metadata"`
	ModelLatency      ModelLatency      `yaml:"model.latency"`
	PerfMetrics       PerfMetrics       `yaml:"perf.metrics"`
	PerfBaseline      PerfBaseline      `yaml:"perf.baseline"`
	PerfSegments      PerfSegments      `yaml:"perf.segments"`
	PerfTrivial       PerfTrivial       `yaml:"perf.trivial"`
	RobustCorruptions RobustCorruptions `yaml:"robust.corruptions"`
	RobustInvariance  RobustInvariance  `yaml:"robust.invariance"`
	RobustAdversarial RobustAdversarial `yaml:"robust.adversarial"`
	RobustAbnormal    RobustAbnormal    `yaml:"robust.abnormal"`
	RobustGuard       RobustGuard       `yaml:"robust.guard"`
	DataIntegrity     DataIntegrity     `yaml:"data.integrity"`
	DataLeakage       DataLeakage       `yaml:"data.leakage"`
	Drift             Drift             `yaml:"drift"`
	Failures          Failures          `yaml:"failures"`
}

// Common settings every check has.
type Common struct {
	Enabled *bool `yaml:"enabled"` // nil: the check's default
}

// IsEnabled reports whether the check runs, given its default.
func (c Common) IsEnabled(byDefault bool) bool {
	if c.Enabled == nil {
		return byDefault
	}
	return *c.Enabled
}

// ModelLoad configures model.load.
type ModelLoad struct {
	Common    `yaml:",inline"`
	MaxSizeMB float64 `yaml:"max_size_mb"` // 0: no limit
}

// ModelSignature configures model.signature.
type ModelSignature struct {
	Common        `yaml:",inline"`
	AllowBreaking bool `yaml:"allow_breaking"`
	// Renames maps a baseline tensor name to the candidate's: a tensor renamed on purpose is
	// compared under its new name instead of failing as removed and added.
	Renames map[string]string `yaml:"renames"`
}

// ModelNumerics configures model.numerics.
type ModelNumerics struct {
	Common `yaml:",inline"`
	// Tolerance is the largest difference allowed between two runs on the same input.
	Tolerance float64 `yaml:"tolerance"`
	// MaxNaNShare is the share of images with NaN or Inf outputs tolerated (default 0).
	MaxNaNShare float64 `yaml:"max_nan_share"`
}

// ModelMetadata configures model.metadata.
type ModelMetadata struct {
	Common   `yaml:",inline"`
	Required []string `yaml:"required"` // metadata_props keys that must be present
	// Patterns maps keys to regular expressions their values must match.
	Patterns map[string]string `yaml:"patterns"`
}

// ModelLatency configures model.latency.
type ModelLatency struct {
	Common      `yaml:",inline"`
	Repeats     int     `yaml:"repeats"`      // batch-1 rounds; each model runs twice per round
	MaxSlowdown float64 `yaml:"max_slowdown"` // warn when latency grows by more than this share
	MaxP95Ms    float64 `yaml:"max_p95_ms"`   // 0: no absolute limit
	// Threads is the intra-op thread count of the batch-1 timing sessions; 0: runtime.threads.
	Threads int `yaml:"threads"`
}

// PerfMetrics configures perf.metrics.
type PerfMetrics struct {
	Common      `yaml:",inline"`
	MinAccuracy *float64 `yaml:"min_accuracy"`
	// MinScore bounds the headline metric of detection (COCO mAP@[.5:.95]) and segmentation (mIoU).
	MinScore        *float64 `yaml:"min_score"`
	MinMacroF1      *float64 `yaml:"min_macro_f1"`
	MaxECE          *float64 `yaml:"max_ece"`
	TopK            int      `yaml:"top_k"`
	Bootstrap       int      `yaml:"bootstrap"` // resamples for intervals
	CalibrationBins int      `yaml:"calibration_bins"`
}

// PerfBaseline configures perf.baseline.
type PerfBaseline struct {
	Common  `yaml:",inline"`
	MaxDrop float64 `yaml:"max_drop"` // accuracy drop (absolute) that matters
	Alpha   float64 `yaml:"alpha"`    // significance level
	// MaxNegativeFlipRate fails when more than this share of images go from right to wrong.
	MaxNegativeFlipRate *float64 `yaml:"max_negative_flip_rate"`
	// ClassMaxDrop is the recall drop a class may lose before it warns; nil: max_drop. It is
	// never finer than one image of the class.
	ClassMaxDrop *float64 `yaml:"class_max_drop"`
	Bootstrap    int      `yaml:"bootstrap"`
}

// PerfSegments configures perf.segments.
type PerfSegments struct {
	Common     `yaml:",inline"`
	MinRatio   float64  `yaml:"min_ratio"`    // warn when a slice's accuracy < min_ratio x overall
	MinSize    int      `yaml:"min_size"`     // smallest slice considered
	Bins       int      `yaml:"bins"`         // quantile bins per image property
	Attributes []string `yaml:"attributes"`   // manifest columns to slice on; empty: all
	Properties []string `yaml:"properties"`   // image properties to slice on; empty: all
	Fail       bool     `yaml:"fail"`         // fail instead of warn
	MaxReport  int      `yaml:"max_reported"` // weakest slices listed
}

// PerfTrivial configures perf.trivial.
type PerfTrivial struct {
	Common  `yaml:",inline"`
	MinGain float64 `yaml:"min_gain"` // accuracy gain over the majority-class model
}

// RobustCorruptions configures robust.corruptions.
type RobustCorruptions struct {
	Common      `yaml:",inline"`
	Corruptions []string `yaml:"corruptions"` // empty: all 19
	Severities  []int    `yaml:"severities"`
	Sample      int      `yaml:"sample"` // images per corruption and severity at most; 0: all
	MaxMeanDrop float64  `yaml:"max_mean_drop"`
	MaxMCE      float64  `yaml:"max_mce"`
	// BudgetSeconds bounds the wall time of the sweep: the sample grows look by look until the
	// verdict is settled, the sample cap is reached, or the next look would not fit. 0 runs every
	// configured image at every configured severity in one look (the full profile).
	BudgetSeconds float64 `yaml:"budget_seconds"`
}

// RobustInvariance configures robust.invariance.
type RobustInvariance struct {
	Common         `yaml:",inline"`
	Transforms     []string `yaml:"transforms"`
	MinConsistency float64  `yaml:"min_consistency"`
	Sample         int      `yaml:"sample"`
	// BudgetSeconds caps the images per transform so that the check's forward passes, at the
	// clean pass's measured speed, fit in this time; 0: no cap. The report says what it left out.
	BudgetSeconds float64 `yaml:"budget_seconds"`
}

// RobustAdversarial configures robust.adversarial.
type RobustAdversarial struct {
	Common            `yaml:",inline"`
	Attacks           []string `yaml:"attacks"`     // "square", "hopskipjump"
	Sample            int      `yaml:"sample"`      // correctly classified images attacked
	Epsilon           float64  `yaml:"epsilon"`     // L-inf budget on 0..1 pixels (square)
	EpsilonL2         float64  `yaml:"epsilon_l2"`  // L2 budget on 0..1 pixels (hopskipjump); .inf: none
	MaxQueries        int      `yaml:"max_queries"` // per image and attack
	MinRobustAccuracy *float64 `yaml:"min_robust_accuracy"`
	MaxDrop           *float64 `yaml:"max_drop"` // robust accuracy drop vs baseline
	Fail              bool     `yaml:"fail"`     // fail instead of warn
	// PInit is the share of the image Square's first squares cover: 0.05, the paper's value for
	// natural images, by default; 0.8 breaks MNIST-like digits at epsilon 0.3 fastest.
	PInit float64 `yaml:"p_init"`
	// BudgetSeconds bounds the attacks' wall time: the sample is attacked in looks (10, 20, 35,
	// 50, ... images) until the gates are settled, the sample is used up or the next look would
	// not fit, and max_queries is cut when 20 images spending all their queries would not fit. 0
	// attacks the whole sample at max_queries in one look (the full profile).
	BudgetSeconds float64 `yaml:"budget_seconds"`
}

// RobustAbnormal configures robust.abnormal.
type RobustAbnormal struct {
	Common     `yaml:",inline"`
	Confidence float64 `yaml:"confidence"` // "high confidence" means above this
	MaxShare   float64 `yaml:"max_share"`  // warn past this share of confident answers
	FailShare  float64 `yaml:"fail_share"` // fail past this share (0: never fail)
	Samples    int     `yaml:"samples"`    // abnormal inputs per kind
}

// RobustGuard configures robust.guard and the defaults of `cvgate guard build`.
type RobustGuard struct {
	Common `yaml:",inline"`
	// Reference are the images the guard is built from on the fly (training or validation
	// images, a folder or manifest); Guard is a guard folder or guard.json made by
	// `cvgate guard build`, used instead. The check skips when neither is set.
	Reference string `yaml:"reference"`
	Guard     string `yaml:"guard"`
	// OOD are images the guard should reject (another domain), a folder or manifest.
	OOD string `yaml:"ood"`
	// TargetFRR is the false-reject rate the threshold is calibrated for.
	TargetFRR float64 `yaml:"target_frr"`
	// CalibrationShare is the part of the reference images held out to calibrate the threshold.
	CalibrationShare float64 `yaml:"calibration_share"`
	// Score is "auto", "energy", "mahalanobis" or "combined".
	Score string `yaml:"score"`
	// MinAbnormalCatch warns when the guard lets more blank, constant and noise inputs through.
	MinAbnormalCatch float64 `yaml:"min_abnormal_catch"`
	// MinAUROC warns when the guard separates the OOD images from clean ones less well.
	MinAUROC float64 `yaml:"min_auroc"`
	Fail     bool    `yaml:"fail"` // fail instead of warn
}

// DataIntegrity configures data.integrity.
type DataIntegrity struct {
	Common                `yaml:",inline"`
	NearDuplicateDistance int     `yaml:"near_duplicate_distance"` // perceptual-hash radius of near-duplicate candidates, bits
	MinSimilarity         float64 `yaml:"min_similarity"`          // thumbnail correlation that confirms a candidate
	MaxDuplicateShare     float64 `yaml:"max_duplicate_share"`
	// MinClassShare warns when a class has fewer images than this fraction of the average class
	// (images / classes): 0.2 flags a class five times rarer than an even split.
	MinClassShare float64 `yaml:"min_class_share"`
}

// DataLeakage configures data.leakage.
type DataLeakage struct {
	Common        `yaml:",inline"`
	Train         string  `yaml:"train"` // training images (folder or manifest)
	MaxShare      float64 `yaml:"max_share"`
	Distance      int     `yaml:"distance"`       // perceptual-hash radius of candidates, bits
	MinSimilarity float64 `yaml:"min_similarity"` // thumbnail correlation that confirms a candidate
}

// Drift configures drift.* and `cvgate drift`.
type Drift struct {
	Common           `yaml:",inline"`
	Reference        string  `yaml:"reference"`        // the images drift is measured against
	Current          string  `yaml:"current"`          // the images checked for drift (e.g. recent production)
	KSPValue         float64 `yaml:"ks_p_value"`       // property drift when p < this (after Holm)
	MinEffect        float64 `yaml:"min_effect"`       // and the KS statistic D exceeds this
	MaxPSI           float64 `yaml:"max_psi"`          // population stability index
	MaxCramersV      float64 `yaml:"max_cramers_v"`    // categorical drift (labels, predictions)
	MaxDomainScore   float64 `yaml:"max_domain_score"` // 2*AUC-1 of the domain classifier
	FailDomainScore  float64 `yaml:"fail_domain_score"`
	Sample           int     `yaml:"sample"` // images per set (0: all)
	IssueLabel       string  `yaml:"issue_label"`
	CloseWhenResolve bool    `yaml:"close_when_resolved"`
}

// Failures configures the failure-case exporter.
type Failures struct {
	MaxPerCheck  int `yaml:"max_per_check"`
	SheetColumns int `yaml:"sheet_columns"`
}

// YAML renders the configuration as a config file would say it.
func (c Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return buf.Bytes(), enc.Close()
}
