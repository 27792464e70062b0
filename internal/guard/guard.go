// Package guard learns an input guard for a model from reference images and applies it: input
// checks on each decoded image (its properties within bounds learned from the reference set, and
// the model input tensor's mean and variance), a model-level out-of-distribution score (the energy
// of the logits, and a class-conditional Mahalanobis distance on the penultimate activations), and
// a split-conformal threshold on that score for a target false-reject rate.
//
// A Guard is what guard.json holds: everything needed to re-score an input, in cvgate or
// elsewhere. Additions turns it into ONNX nodes that compute the same score inside the model, so
// that the guarded model flags inputs in any runtime.
package guard

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// File names inside a guard folder, and the names of the outputs the guarded model adds.
const (
	FileName         = "guard.json"
	GuardedModelName = "model.guarded.onnx"
	OutputScore      = "cvgate_ood_score"
	OutputReject     = "cvgate_reject"
	SchemaVersion    = 1
)

// Score names.
const (
	ScoreEnergy      = "energy"
	ScoreMahalanobis = "mahalanobis"
	ScoreCombined    = "combined"
	ScoreAuto        = "auto"
	// ScoreNone is a guard of input checks alone; its score is 0 for every input.
	ScoreNone = "none"
)

// Guard is a learned guard, as stored in guard.json.
type Guard struct {
	SchemaVersion int    `json:"schema_version"`
	Tool          string `json:"tool"`
	Task          string `json:"task"`
	Model         Model  `json:"model"`
	// Preprocess is the preprocessing configuration the reference tensors were made with.
	Preprocess  Preprocess  `json:"preprocess"`
	Reference   Reference   `json:"reference"`
	InputChecks InputChecks `json:"input_checks"`
	// Score is the score the threshold applies to: "energy", "mahalanobis" or "combined".
	Score       string       `json:"score"`
	Energy      *Energy      `json:"energy,omitempty"`
	Mahalanobis *Mahalanobis `json:"mahalanobis,omitempty"`
	Combined    *Combined    `json:"combined,omitempty"`
	Threshold   Threshold    `json:"threshold"`
	// Evaluation is what `cvgate guard build --ood` measured, when it was given.
	Evaluation *Evaluation `json:"evaluation,omitempty"`
	// Notes say what the guard could not do and why (no feature layer, a fallback).
	Notes []string `json:"notes"`
}

// Evaluation measures a guard on held-out reference images and an out-of-distribution set.
type Evaluation struct {
	OOD       string `json:"ood"`
	OODImages int    `json:"ood_images"`
	// HeldOut are the calibration images, scored as clean inputs.
	HeldOut     int          `json:"held_out_images"`
	OODCaught   float64      `json:"ood_caught"`
	Separations []Separation `json:"separations"`
}

// Model identifies the guarded model and the tensors the guard reads.
type Model struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	Input  string `json:"input"`
	Output string `json:"output"`
	// Logits is the tensor the energy score reads; Softmax says Output is its softmax.
	Logits  string `json:"logits"`
	Softmax bool   `json:"softmax"`
	// Features is the tensor the Mahalanobis score reads, empty when none; FeatureSource says
	// what it is ("input of the final layer", or "pre-activation of its Relu").
	Features      string `json:"features,omitempty"`
	FeatureSource string `json:"feature_source,omitempty"`
	Layer         string `json:"layer,omitempty"`
	// Guarded names the guarded model file in the guard folder and its sha256.
	GuardedFile   string `json:"guarded_file,omitempty"`
	GuardedSHA256 string `json:"guarded_sha256,omitempty"`
}

// Preprocess mirrors the config keys of preprocessing (config.Preprocess), so that screening
// feeds the model exactly as the guard was built.
type Preprocess struct {
	Preset     string    `json:"preset,omitempty"`
	Size       []int     `json:"size,omitempty"`
	Resize     string    `json:"resize,omitempty"`
	Fit        string    `json:"fit,omitempty"`
	PadValue   *float64  `json:"pad_value,omitempty"`
	CenterCrop float64   `json:"center_crop,omitempty"`
	Color      string    `json:"color,omitempty"`
	Scale      *float64  `json:"scale,omitempty"`
	Mean       []float64 `json:"mean,omitempty"`
	Std        []float64 `json:"std,omitempty"`
	Layout     string    `json:"layout,omitempty"`
	Input      string    `json:"input,omitempty"`
	Output     string    `json:"output,omitempty"`
	// Described is the resolved recipe in words, for people reading the file.
	Described string `json:"described,omitempty"`
}

// Reference describes the images the guard was learned from.
type Reference struct {
	Images           int     `json:"images"`
	Fit              int     `json:"fit_images"`
	Calibration      int     `json:"calibration_images"`
	CalibrationShare float64 `json:"calibration_share"`
	Seed             uint64  `json:"seed"`
	// ClassSource is where the class of each reference image came from for the class means:
	// "labels" or "predictions".
	ClassSource string `json:"class_source,omitempty"`
}

// InputChecks are the checks on the image and the input tensor, before any score.
type InputChecks struct {
	// Properties bound the image properties of internal/imgprops, by name.
	Properties []Bound `json:"properties"`
	// TensorMean and TensorVariance bound the mean and variance of the model's input tensor
	// over its elements (the check the guarded model can compute itself).
	TensorMean     Bound `json:"tensor_mean"`
	TensorVariance Bound `json:"tensor_variance"`
}

// Energy is the energy score: -T log sum_k exp(logit_k / T) (Liu et al. 2020). Higher is less
// like the reference; T is 1.
type Energy struct {
	Temperature float64 `json:"temperature"`
}

// Mahalanobis is the class-conditional Mahalanobis score (Lee et al. 2018): the smallest squared
// distance from the features z to a class mean, under one shared covariance C:
// min_k (z - mu_k)^T C^-1 (z - mu_k) = min_k |z W - mu_k W|^2, with W the whitening of C.
type Mahalanobis struct {
	Dim     int `json:"dim"`
	Classes int `json:"classes"`
	// ClassCounts are the fit images per class; classes with none have no mean and are skipped.
	ClassCounts []int   `json:"class_counts"`
	Estimator   string  `json:"estimator"`
	Shrinkage   float64 `json:"shrinkage"`
	// Means are the class means (Classes x Dim); classes without images hold zeros.
	Means Matrix `json:"means"`
	// Whitening is W (Dim x Dim), with W W^T the inverse of the shrunk covariance.
	Whitening Matrix `json:"whitening"`

	// Derived on first use: the whitened means and their squared norms.
	ready  bool
	w, mw  []float64
	mm     []float64
	active []int
}

// Combined adds the two scores after standardizing each on the fit images: (energy - mean) / sd
// plus (log(1 + mahalanobis) - mean) / sd. The two fail differently: the energy is low when the
// logits are small whatever the features, the distance is large when the features are unusual
// whatever the logits. The log tames the distance's long right tail so neither dominates.
type Combined struct {
	EnergyMean         float64 `json:"energy_mean"`
	EnergySD           float64 `json:"energy_sd"`
	LogMahalanobisMean float64 `json:"log_mahalanobis_mean"`
	LogMahalanobisSD   float64 `json:"log_mahalanobis_sd"`
}

func (c *Combined) score(energy, maha float64) float64 {
	return (energy-c.EnergyMean)*(1/c.EnergySD) + (math.Log1p(maha)-c.LogMahalanobisMean)*(1/c.LogMahalanobisSD)
}

// Matrix is a row-major float64 matrix, stored as base64 of little-endian IEEE 754 doubles so
// that it round-trips exactly and stays compact.
type Matrix struct {
	Rows     int    `json:"rows"`
	Cols     int    `json:"cols"`
	Encoding string `json:"encoding"`
	Data     string `json:"data"`
}

const matrixEncoding = "float64-le-base64"

func newMatrix(rows, cols int, v []float64) Matrix {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return Matrix{Rows: rows, Cols: cols, Encoding: matrixEncoding, Data: base64.StdEncoding.EncodeToString(b)}
}

// Values decodes the matrix.
func (m Matrix) Values() ([]float64, error) {
	if m.Encoding != matrixEncoding {
		return nil, fmt.Errorf("matrix encoding %q is not %q", m.Encoding, matrixEncoding)
	}
	if m.Rows < 0 || m.Cols < 0 || m.Rows*m.Cols > maxMatrix {
		return nil, fmt.Errorf("matrix of %d x %d is over the %d-value limit", m.Rows, m.Cols, maxMatrix)
	}
	b, err := base64.StdEncoding.DecodeString(m.Data)
	if err != nil {
		return nil, fmt.Errorf("decode matrix: %w", err)
	}
	if len(b) != 8*m.Rows*m.Cols {
		return nil, fmt.Errorf("matrix of %d x %d holds %d bytes, want %d", m.Rows, m.Cols, len(b), 8*m.Rows*m.Cols)
	}
	v := make([]float64, m.Rows*m.Cols)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		if math.IsNaN(v[i]) || math.IsInf(v[i], 0) {
			return nil, errors.New("matrix holds a value that is not finite")
		}
	}
	return v, nil
}

// MaxFeatures bounds the penultimate width the Mahalanobis score accepts: its whitening matrix
// has Dim^2 values (4096 features: 128 MiB of float64), and its build time grows as Dim^3.
const MaxFeatures = 4096

// maxMatrix bounds a decoded matrix (a hostile guard.json cannot make cvgate allocate more).
const maxMatrix = MaxFeatures*MaxFeatures + 1<<20

// prepare decodes the matrices and whitens the means, once.
func (m *Mahalanobis) prepare() error {
	if m.ready {
		return nil
	}
	if m.Dim < 1 || m.Dim > MaxFeatures || m.Classes < 1 || m.Classes > 1<<16 {
		return fmt.Errorf("mahalanobis: %d features and %d classes are out of range", m.Dim, m.Classes)
	}
	if m.Means.Rows != m.Classes || m.Means.Cols != m.Dim || m.Whitening.Rows != m.Dim || m.Whitening.Cols != m.Dim || len(m.ClassCounts) != m.Classes {
		return errors.New("mahalanobis: matrix shapes do not match dim and classes")
	}
	means, err := m.Means.Values()
	if err != nil {
		return fmt.Errorf("mahalanobis means: %w", err)
	}
	w, err := m.Whitening.Values()
	if err != nil {
		return fmt.Errorf("mahalanobis whitening: %w", err)
	}
	d := m.Dim
	m.w = w
	m.mw = make([]float64, m.Classes*d)
	m.mm = make([]float64, m.Classes)
	m.active = m.active[:0]
	for k := range m.Classes {
		if m.ClassCounts[k] == 0 {
			continue
		}
		m.active = append(m.active, k)
		mulVec(means[k*d:(k+1)*d], w, d, m.mw[k*d:(k+1)*d])
		for _, v := range m.mw[k*d : (k+1)*d] {
			m.mm[k] += v * v
		}
	}
	if len(m.active) == 0 {
		return errors.New("mahalanobis: no class has a mean")
	}
	m.ready = true
	return nil
}

// mulVec sets out = z W for a row vector z of length d and the upper-triangular d x d whitening
// W (W = L^-T), skipping the zeros below its diagonal: half the work of a full product.
func mulVec[T float32 | float64](z []T, w []float64, d int, out []float64) {
	clear(out)
	for i, zi := range z {
		if zi == 0 {
			continue
		}
		f := float64(zi)
		row := w[i*d+i : (i+1)*d]
		o := out[i:d]
		for j, wij := range row {
			o[j] += f * wij
		}
	}
}

// score is the squared Mahalanobis distance from z to the nearest class mean. It is computed as
// the guarded graph computes it (|y|^2 - 2 y.m_k + |m_k|^2 with y = z W), so that both agree.
func (m *Mahalanobis) score(z []float32, y []float64) float64 {
	d := m.Dim
	mulVec(z, m.w, d, y)
	var yy float64
	for _, v := range y {
		yy += v * v
	}
	best := math.Inf(1)
	for _, k := range m.active {
		mk := m.mw[k*d : (k+1)*d]
		var dot float64
		for j, v := range y {
			dot += v * mk[j]
		}
		best = min(best, yy-2*dot+m.mm[k])
	}
	return best
}

// score is the energy of one row of logits.
func (e *Energy) score(logits []float32) float64 {
	t := e.Temperature
	hi := math.Inf(-1)
	for _, v := range logits {
		hi = max(hi, float64(v)/t)
	}
	if math.IsInf(hi, 0) || math.IsNaN(hi) {
		return math.NaN()
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v)/t - hi)
	}
	return -t * (hi + math.Log(sum))
}

// Save writes the guard as indented JSON.
func (g *Guard) Save(path string) error {
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return fmt.Errorf("encode guard: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write guard %q: %w", path, err)
	}
	return nil
}

// maxGuardBytes bounds the guard.json cvgate reads (the Mahalanobis matrices of MaxFeatures
// features are about 180 MB of base64).
const maxGuardBytes = 256 << 20

// Load reads a guard.json, or the guard.json inside a guard folder, and checks that it is
// complete and consistent.
func Load(path string) (*Guard, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, FileName)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read guard %q: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read guard %q: %w", path, err)
	}
	if st.Size() > maxGuardBytes {
		return nil, fmt.Errorf("read guard %q: %d bytes is over the %d-byte limit", path, st.Size(), maxGuardBytes)
	}
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var g Guard
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("read guard %q: %w", path, err)
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("read guard %q: %w", path, err)
	}
	return &g, nil
}

// Validate checks that a guard (from a file anyone may have edited) can be applied.
func (g *Guard) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if g.SchemaVersion != SchemaVersion {
		add("schema_version %d is not %d (rebuild the guard with this cvgate)", g.SchemaVersion, SchemaVersion)
	}
	if len(g.Model.SHA256) != 64 {
		add("model.sha256 is not a sha256")
	}
	switch g.Score {
	case ScoreEnergy:
		if g.Energy == nil {
			add("score is energy but the energy section is missing")
		}
	case ScoreMahalanobis:
		if g.Mahalanobis == nil {
			add("score is mahalanobis but the mahalanobis section is missing")
		}
	case ScoreCombined:
		if g.Combined == nil || g.Energy == nil || g.Mahalanobis == nil {
			add("score is combined but the combined, energy or mahalanobis section is missing")
		} else if !(g.Combined.EnergySD > 0 && g.Combined.LogMahalanobisSD > 0) {
			add("combined: the standard deviations must be positive")
		}
	case ScoreNone:
	default:
		add("score %q is not energy, mahalanobis, combined or none", g.Score)
	}
	if g.Energy != nil && !(g.Energy.Temperature > 0) {
		add("energy.temperature must be positive")
	}
	if g.Mahalanobis != nil {
		if err := g.Mahalanobis.prepare(); err != nil {
			errs = append(errs, err)
		}
	}
	t := g.Threshold
	if math.IsNaN(t.Value) || math.IsInf(t.Value, 0) || !(t.TargetFRR > 0 && t.TargetFRR < 1) {
		add("threshold must have a finite value and a target_frr in (0, 1)")
	}
	for _, b := range append(slices.Clone(g.InputChecks.Properties), g.InputChecks.TensorMean, g.InputChecks.TensorVariance) {
		if math.IsNaN(b.Lo) || math.IsNaN(b.Hi) || b.Lo > b.Hi {
			add("input check %q has bounds [%g, %g]", b.Name, b.Lo, b.Hi)
		}
	}
	return errors.Join(errs...)
}
