// Package report owns cvgate's result model: one Report per run, with a Target per evaluated model
// and a Result per check. Writers in this package render a Report (markdown, JSON, JUnit XML, HTML,
// badges); they format and never decide. The verdict is computed once, by Gate.
//
// This package imports only the standard library so that every other package can depend on it.
package report

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// SchemaVersion is the version of the report.json layout. Bump it on incompatible changes.
const SchemaVersion = 1

// Status is the outcome of one check.
type Status string

// The statuses, from best to worst for gating purposes (see Severity).
const (
	StatusPass  Status = "pass"
	StatusSkip  Status = "skip"
	StatusWarn  Status = "warn"
	StatusFail  Status = "fail"
	StatusError Status = "error"
)

// Statuses lists every status in severity order.
func Statuses() []Status {
	return []Status{StatusPass, StatusSkip, StatusWarn, StatusFail, StatusError}
}

// Severity orders statuses: a higher number is worse. An error ranks above fail because a check
// that could not run must never look better than one that ran and failed.
func (s Status) Severity() int {
	switch s {
	case StatusPass:
		return 0
	case StatusSkip:
		return 1
	case StatusWarn:
		return 2
	case StatusFail:
		return 3
	case StatusError:
		return 4
	}
	return 4
}

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	for _, k := range Statuses() {
		if s == k {
			return true
		}
	}
	return false
}

// Worst returns the most severe of the statuses, or pass when there are none.
func Worst(statuses ...Status) Status {
	w := StatusPass
	for _, s := range statuses {
		if s.Severity() > w.Severity() {
			w = s
		}
	}
	return w
}

// Report is everything one cvgate run found. It is serialised as report.json.
type Report struct {
	SchemaVersion int      `json:"schema_version"`
	Kind          string   `json:"kind"` // "check", "compare" or "drift"
	Tool          Tool     `json:"tool"`
	Run           Run      `json:"run"`
	Inputs        Inputs   `json:"inputs"`
	Gate          Gate     `json:"gate"`
	Targets       []Target `json:"targets"`
	// Comparison is set by `cvgate compare`: the ranking of several candidates.
	Comparison *Comparison `json:"comparison,omitempty"`
}

// Tool identifies the cvgate build and the inference runtime.
type Tool struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Commit     string `json:"commit,omitempty"`
	GoVersion  string `json:"go_version,omitempty"`
	ORTVersion string `json:"ort_version,omitempty"`
}

// Run holds metadata and counters of the run. Times are injected by the caller so that golden
// files stay stable.
type Run struct {
	StartedAt string            `json:"started_at,omitempty"` // RFC 3339, UTC
	CI        map[string]string `json:"ci,omitempty"`         // commit, ref, PR number, workflow, run id
	Counters  Counters          `json:"counters"`
	Notes     []string          `json:"notes"` // things the user should know about the run itself
}

// Counters separate fixed costs from the time spent inside ONNX Runtime, so that cvgate's own
// overhead can be read off every report.
type Counters struct {
	Images          int     `json:"images"`            // images decoded and evaluated
	Unreadable      int     `json:"unreadable"`        // images that could not be decoded
	ForwardPasses   int64   `json:"forward_passes"`    // images run through a model, all models
	ORTCalls        int64   `json:"ort_calls"`         // session Run calls (batches)
	ORTSeconds      float64 `json:"ort_seconds"`       // wall time inside session Run
	ORTInitSeconds  float64 `json:"ort_init_seconds"`  // runtime library load and environment
	LoadSeconds     float64 `json:"load_seconds"`      // model sessions created
	DecodeSeconds   float64 `json:"decode_seconds"`    // reading and decoding images
	ChecksSeconds   float64 `json:"checks_seconds"`    // the check suite, inference included
	TotalSeconds    float64 `json:"total_seconds"`     // the whole run
	PeakRSSBytes    int64   `json:"peak_rss_bytes"`    // peak resident memory of the process
	DecodedStoreMiB float64 `json:"decoded_store_mib"` // memory held by decoded images
}

// Inputs records what was evaluated, by content hash, for audit.
type Inputs struct {
	ConfigPath   string   `json:"config_path,omitempty"`
	ConfigSHA256 string   `json:"config_sha256,omitempty"`
	Dataset      *Dataset `json:"dataset,omitempty"`
	// Reference is the reference set of `cvgate drift` (Dataset is then the current set).
	Reference *Dataset `json:"reference,omitempty"`
	// Train is the training set searched by data.leakage, when configured.
	Train *Dataset `json:"train,omitempty"`
}

// Dataset describes the evaluation data.
type Dataset struct {
	Path string `json:"path"`
	// Task is what the models are evaluated as, and TaskSource where that came from (config, or
	// what it was inferred from).
	Task          string    `json:"task,omitempty"`
	TaskSource    string    `json:"task_source,omitempty"`
	Annotations   string    `json:"annotations,omitempty"` // the ground-truth source and its format
	Objects       int       `json:"objects,omitempty"`     // ground-truth objects (detection)
	SHA256        string    `json:"sha256"`                // of the canonical listing (paths, sizes, hashes, labels)
	Images        int       `json:"images"`
	Classes       []string  `json:"classes"`
	LabelSource   string    `json:"label_source"` // e.g. "folder names", "labels file labels.txt"
	PerClass      []int     `json:"per_class"`
	Unreadable    []Problem `json:"unreadable"`
	Attributes    []string  `json:"attributes"` // manifest columns kept for slicing
	DecodeSeconds float64   `json:"decode_seconds"`
	// Properties are the image properties of every image, when computed.
	Properties *ImageProperties `json:"properties,omitempty"`
}

// ImageProperties lists the properties of every readable image compactly: the names once, a
// summary per property, then one row per image with its values in name order (4 significant
// digits).
type ImageProperties struct {
	Names   []string          `json:"names"`
	Summary []PropertySummary `json:"summary"`
	Images  []ImageRow        `json:"images"`
}

// PropertySummary describes one property's distribution over the images.
type PropertySummary struct {
	Name   string  `json:"name"`
	Min    float64 `json:"min"`
	P05    float64 `json:"p05"`
	Median float64 `json:"median"`
	Mean   float64 `json:"mean"`
	P95    float64 `json:"p95"`
	Max    float64 `json:"max"`
}

// ImageRow is one image's properties.
type ImageRow struct {
	Path   string    `json:"path"`
	Values []float64 `json:"p"`
}

// Problem is one input file cvgate could not use, and why.
type Problem struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Gate is the verdict and the policy that produced it.
type Gate struct {
	FailOn  FailOn `json:"fail_on"`
	Verdict Status `json:"verdict"` // pass, warn or fail; a check that could not run counts as failed
	Passed  int    `json:"passed"`
	Warned  int    `json:"warned"`
	Failed  int    `json:"failed"`  // fail and error
	Errored int    `json:"errored"` // of Failed, the checks that could not run
	Skipped int    `json:"skipped"`
	// ExitFailed reports whether the policy turns the verdict into a failing exit code.
	ExitFailed bool `json:"exit_failed"`
}

// Target is one evaluated model and, optionally, the baseline it was compared with.
type Target struct {
	Name     string   `json:"name"` // stable identifier (the model path as given)
	Model    Model    `json:"model"`
	Baseline *Model   `json:"baseline,omitempty"`
	Verdict  Status   `json:"verdict"`
	Results  []Result `json:"results"`
	// BaselineNote says why there is no baseline, when there is none.
	BaselineNote string `json:"baseline_note,omitempty"`
	// Cache says where the target's per-image records (predictions, attack outcomes) came from;
	// nil when none was needed.
	Cache *CacheUse `json:"cache,omitempty"`
}

// CacheUse counts a target's per-image records by where they came from, per model.
type CacheUse struct {
	Candidate RecordUse  `json:"candidate"`
	Baseline  *RecordUse `json:"baseline,omitempty"`
	// IdenticalBaseline: the baseline has the candidate's bytes and preprocessing, so it was
	// evaluated once, as the candidate.
	IdenticalBaseline bool `json:"identical_baseline,omitempty"`
}

// RecordUse counts one model's per-image records: read from the cache (hits), computed by
// running the model (misses), or copied from an identical candidate (shared).
type RecordUse struct {
	Hits   int64 `json:"hits"`
	Misses int64 `json:"misses"`
	Shared int64 `json:"shared,omitempty"`
}

// grouped writes n with thousands separators ("12,750"), as the reports write counts.
func grouped(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Line is the cache's one line for a report, e.g. "prediction cache: candidate 120 of 1,200
// records read (1,080 computed); baseline 1,200 of 1,200 read".
func (c *CacheUse) Line() string {
	part := func(name string, u RecordUse) string {
		total := u.Hits + u.Misses + u.Shared
		s := fmt.Sprintf("%s %s of %s records read", name, grouped(u.Hits), grouped(total))
		if u.Misses > 0 {
			s += fmt.Sprintf(" (%s computed)", grouped(u.Misses))
		}
		if u.Shared > 0 {
			s += fmt.Sprintf(" (%s from the identical candidate)", grouped(u.Shared))
		}
		return s
	}
	line := "prediction cache: " + part("candidate", c.Candidate)
	if c.Baseline != nil {
		line += "; " + part("baseline", *c.Baseline)
	}
	return line
}

// Model describes one ONNX model as cvgate ran it.
type Model struct {
	Path       string            `json:"path"`
	Source     string            `json:"source,omitempty"` // for baselines: "git:main", "release:v1:model.onnx", a path
	SHA256     string            `json:"sha256"`
	SizeBytes  int64             `json:"size_bytes"`
	Signature  *Signature        `json:"signature,omitempty"`
	Preprocess *Preprocess       `json:"preprocess,omitempty"`
	Output     string            `json:"output,omitempty"` // "logits (softmax applied)" or "probabilities"
	Metadata   map[string]string `json:"metadata,omitempty"`
	IRVersion  int64             `json:"ir_version,omitempty"`
	Opsets     map[string]int64  `json:"opsets,omitempty"`
	Producer   string            `json:"producer,omitempty"`
	// ExecutionProvider is what ONNX Runtime ran this model's session on.
	ExecutionProvider *ExecutionProvider `json:"execution_provider,omitempty"`
}

// ExecutionProvider records the ONNX Runtime execution provider a model's session asked for and
// the one it obtained: ONNX Runtime falls back to the CPU quietly, for a whole session (auto) or
// node by node.
type ExecutionProvider struct {
	Requested string `json:"requested"` // cpu, cuda or auto
	Obtained  string `json:"obtained"`  // cpu or cuda
	// Nodes counts the optimised graph's nodes per ONNX Runtime provider name over one profiled
	// forward pass; measured only for sessions that obtained CUDA.
	Nodes map[string]int `json:"nodes,omitempty"`
	// CPUOps are the op types that ran on the CPU in a CUDA session.
	CPUOps []string `json:"cpu_ops,omitempty"`
	// Note says what the user should know: a fallback to the CPU, nodes left on the CPU, or why
	// the placement was not measured.
	Note string `json:"note,omitempty"`
}

// Signature is a model's inputs and outputs.
type Signature struct {
	Inputs  []Tensor `json:"inputs"`
	Outputs []Tensor `json:"outputs"`
}

// Tensor is one input or output. A dimension of -1 is dynamic.
type Tensor struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

// ShapeString renders a shape like [N,1,28,28], with dynamic dimensions as "?".
func (t Tensor) ShapeString() string {
	parts := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		if d < 0 {
			parts[i] = "?"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Preprocess records exactly how images became tensors, and where each choice came from.
type Preprocess struct {
	Width        int       `json:"width"`
	Height       int       `json:"height"`
	Channels     int       `json:"channels"`
	ChannelOrder string    `json:"channel_order"` // "gray", "rgb" or "bgr"
	Layout       string    `json:"layout"`        // "nchw", "nhwc", "nhw" or "flat"
	DType        string    `json:"dtype"`         // "float32" or "uint8"
	Resize       string    `json:"resize"`        // e.g. "bilinear to 28x28 (stretch)"
	CenterCrop   float64   `json:"center_crop,omitempty"`
	Scale        float64   `json:"scale"` // pixel value in 0..255 is multiplied by Scale
	Mean         []float64 `json:"mean"`
	Std          []float64 `json:"std"`
	Source       string    `json:"source"` // "config", "inferred from input shape [?,1,28,28]", ...
}

// Result is one check's outcome for one target.
type Result struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	// Summary is one line for the results table.
	Summary string `json:"summary"`
	// Threshold states the rule that decided the status, e.g. "accuracy >= 0.95".
	Threshold string `json:"threshold,omitempty"`
	// VsBaseline is a short comparison for the table, e.g. "-4.1 pp ▼ (p<0.001)".
	VsBaseline string `json:"vs_baseline,omitempty"`
	// Metrics are the named numbers of this check (e.g. "accuracy" for perf.metrics).
	Metrics map[string]float64 `json:"metrics"`
	// BaselineMetrics are the same metrics measured on the baseline model.
	BaselineMetrics map[string]float64 `json:"baseline_metrics,omitempty"`
	// Details are rendered below the table, inside a collapsible block.
	Details []Section `json:"details"`
	// Failures points at the exported failure cases, when any were written.
	Failures *Failures `json:"failures,omitempty"`
	// Attacks are robust.adversarial's per-image records and curves (JSON only).
	Attacks []AttackRun `json:"attacks,omitempty"`
	// Error says why a check could not run (status error) or why it was skipped (status skip).
	Error           string  `json:"error,omitempty"`
	DurationSeconds float64 `json:"duration_seconds"`
	// ForwardPasses and ORTSeconds are the images this check ran through the models (all of
	// them) and the wall time it spent inside ONNX Runtime. A pass memoized by an earlier check
	// (the clean pass) counts only where it was first run.
	ForwardPasses int64   `json:"forward_passes"`
	ORTSeconds    float64 `json:"ort_seconds"`
}

// Section is one block of details: some text, a table, a chart, a matrix or images.
type Section struct {
	Title  string  `json:"title,omitempty"`
	Text   string  `json:"text,omitempty"`
	Table  *Table  `json:"table,omitempty"`
	Chart  *Chart  `json:"chart,omitempty"`
	Matrix *Matrix `json:"matrix,omitempty"`
	// Images are paths relative to the output folder (e.g. contact sheets).
	Images []string `json:"images,omitempty"`
}

// Table is a plain table of preformatted cells.
type Table struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// Chart is a line chart over categorical x values (e.g. severities), one line per series.
type Chart struct {
	Title  string   `json:"title"`
	XLabel string   `json:"x_label"`
	YLabel string   `json:"y_label"`
	X      []string `json:"x"`
	Series []Series `json:"series"`
	// YMin and YMax fix the y axis (e.g. 0..1 for accuracy).
	YMin float64 `json:"y_min"`
	YMax float64 `json:"y_max"`
}

// Series is one line of a chart.
type Series struct {
	Name   string    `json:"name"`
	Values []float64 `json:"values"`
}

// Matrix is a labelled square or rectangular matrix, e.g. a confusion matrix (rows: true class).
type Matrix struct {
	RowLabel string      `json:"row_label"`
	ColLabel string      `json:"col_label"`
	Rows     []string    `json:"rows"`
	Cols     []string    `json:"cols"`
	Values   [][]float64 `json:"values"`
}

// Failures points at exported failure cases of a check.
type Failures struct {
	Dir          string `json:"dir"`           // relative to the output folder
	Index        string `json:"index"`         // index.csv, relative to the output folder
	ContactSheet string `json:"contact_sheet"` // PNG, relative to the output folder
	Count        int    `json:"count"`         // cases exported
	Total        int    `json:"total"`         // failures found (may exceed Count)
	// Sheets lists every contact sheet when the cases are of several kinds (perf.baseline: flips
	// to wrong and flips to right); ContactSheet is the first.
	Sheets []FailureSheet `json:"sheets,omitempty"`
}

// FailureSheet is one contact sheet of a check's cases.
type FailureSheet struct {
	Title string `json:"title"` // e.g. "flips to right"
	Path  string `json:"path"`  // PNG, relative to the output folder
	Count int    `json:"count"` // cases on it
}

// Comparison ranks several candidate models evaluated on the same data.
type Comparison struct {
	Objective string `json:"objective"`
	// Metric is the key of the objective in each row's Metrics ("accuracy", "macro_f1").
	Metric string           `json:"metric,omitempty"`
	Rows   []ComparisonRow  `json:"rows"` // ranked, best first
	Pairs  []ComparisonPair `json:"pairs"`
	Best   string           `json:"best,omitempty"`
	Note   string           `json:"note,omitempty"`
}

// ComparisonRow is one candidate's line in the ranking.
type ComparisonRow struct {
	Rank     int                `json:"rank"`
	Model    string             `json:"model"`
	Eligible bool               `json:"eligible"`
	Reason   string             `json:"reason,omitempty"` // why it is not eligible
	Score    float64            `json:"score"`
	Metrics  map[string]float64 `json:"metrics"`
	// SizeBytes is the model file's size.
	SizeBytes int64 `json:"size_bytes,omitempty"`
	// Next is the paired test of this model against the one ranked right below it.
	Next *ComparisonPair `json:"next,omitempty"`
	// Required is each --require limit in the order given, as this model met it.
	Required []Requirement `json:"required,omitempty"`
}

// Requirement is one --require limit (e.g. "robust.corruptions:mean_accuracy>=0.8") for one model.
type Requirement struct {
	Rule  string  `json:"rule"`
	Value float64 `json:"value"`
	Found bool    `json:"found"` // the check ran and reported the metric
	Met   bool    `json:"met"`
}

// ComparisonPair is a paired test between the best model and another one, on the same images.
type ComparisonPair struct {
	A      string `json:"a"`
	B      string `json:"b"`
	Metric string `json:"metric"` // the objective the difference is in: "accuracy" or "macro_f1"
	// Diff is Metric(A) - Metric(B), with its paired bootstrap interval.
	Diff     float64 `json:"diff"`
	DiffLow  float64 `json:"diff_low"`
	DiffHigh float64 `json:"diff_high"`
	// PValue is McNemar's exact test on the images exactly one model gets right; PValueAdjusted
	// is Holm-adjusted over the pairs, and Significant compares it with alpha.
	PValue         float64 `json:"p_value"`
	PValueAdjusted float64 `json:"p_value_adjusted"`
	Significant    bool    `json:"significant"`
}

// Normalize sorts targets and results into their canonical order and replaces nil slices and maps
// with empty ones, so that every writer produces stable output ("[]" never "null").
// Targets keep the order they were given in (it is the user's order); results are sorted by the
// check order given, then ID.
func (r *Report) Normalize(checkOrder []string) {
	rank := map[string]int{}
	for i, id := range checkOrder {
		rank[id] = i
	}
	if r.Targets == nil {
		r.Targets = []Target{}
	}
	if r.Run.Notes == nil {
		r.Run.Notes = []string{}
	}
	if r.Inputs.Dataset != nil {
		d := r.Inputs.Dataset
		if d.Classes == nil {
			d.Classes = []string{}
		}
		if d.PerClass == nil {
			d.PerClass = []int{}
		}
		if d.Unreadable == nil {
			d.Unreadable = []Problem{}
		}
		if d.Attributes == nil {
			d.Attributes = []string{}
		}
	}
	for ti := range r.Targets {
		t := &r.Targets[ti]
		if t.Results == nil {
			t.Results = []Result{}
		}
		sort.SliceStable(t.Results, func(i, j int) bool {
			ri, iok := rank[t.Results[i].ID]
			rj, jok := rank[t.Results[j].ID]
			switch {
			case iok && jok && ri != rj:
				return ri < rj
			case iok != jok:
				return iok
			}
			return t.Results[i].ID < t.Results[j].ID
		})
		for ri := range t.Results {
			res := &t.Results[ri]
			if res.Metrics == nil {
				res.Metrics = map[string]float64{}
			}
			if res.Details == nil {
				res.Details = []Section{}
			}
		}
	}
}
