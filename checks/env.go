package checks

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/cvgate/cvgate/internal/analysis"
	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/onnxproto"
	"github.com/cvgate/cvgate/internal/predcache"
	"github.com/cvgate/cvgate/internal/preprocess"
	"github.com/cvgate/cvgate/internal/task"
	"github.com/cvgate/cvgate/report"
)

// Subject is one model under evaluation (the candidate or its baseline) with the preprocessing
// that feeds it.
type Subject struct {
	Role  string // "candidate" or "baseline"
	Name  string // as shown in reports
	Model *onnx.Model
	Spec  preprocess.Spec
	// Info is the report's description of the model; checks may add to it (output kind).
	Info *report.Model
	// Proto is the model file's header as read without ONNX Runtime (IR version, opsets,
	// metadata, external data).
	Proto *onnxproto.Model
	// RepoRoot bounds external data paths (the workspace); empty: the model's folder.
	RepoRoot string
	// Reopen opens a fresh session of the same model file with the same options, for
	// model.latency to time a load and measure the memory it takes; nil: not available.
	Reopen func() (*onnx.Model, error)
	// Decoder reads the outputs of models whose task is not classification; nil for classifiers,
	// whose class scores the Env reads itself (logits or probabilities, decided on the clean pass).
	Decoder task.Decoder

	// CacheID identifies, for per-image records, what decides the subject's outputs besides its
	// preprocessing and task: the model's bytes with its external data, the runtime and the
	// execution provider. Empty: the subject's records are neither read nor stored.
	CacheID string

	kindOnce sync.Once
	kind     onnx.OutputKind
	keyOnce  sync.Once
	key      string
}

// OutputKind is how the subject's outputs are read; it is decided on the clean pass.
func (s *Subject) OutputKind() onnx.OutputKind { return s.kind }

// Env is the checks' only route to models and data. It decodes nothing itself (the dataset is
// decoded once, before the suite) and memoizes every prediction pass, so that each check reuses
// the clean predictions and a perturbed variant is computed once for candidate and baseline
// together. It is safe for concurrent use.
type Env struct {
	Config *config.Config
	// Task says what the models' outputs mean; nil means classification.
	Task      task.Task
	Data      *dataset.Dataset
	Candidate *Subject
	Baseline  *Subject // nil when there is no baseline
	// BaselineNote says why there is no baseline, when Baseline is nil.
	BaselineNote string
	// Out is the output folder; failure cases are exported below it. Empty disables exports.
	Out      string
	Progress Progress
	// Facts are what the decoding pass computed for each of Data's items (properties, pixel
	// digest, perceptual hash, thumbnail), in Items order; nil when not computed.
	Facts *analysis.Facts
	// Export writes failure cases; nil disables exports.
	Export *failures.Exporter
	// Train is the training set for leakage checks, when configured (may be nil). It is decoded
	// for hashing only: its items have no pixels. TrainFacts are its hashes, in Items order.
	Train      *dataset.Dataset
	TrainFacts *analysis.Facts
	// Cache holds per-image records (predictions, attack outcomes) across runs; nil: none.
	Cache *predcache.Store
	// Shard makes this a cache-warming run over one shard of the images; nil: a normal run.
	Shard *Shard
	// Reference is the reference side of the drift checks: the same subjects over the reference
	// images, with their own Facts and memo; nil outside `cvgate drift`.
	Reference *Env

	memoMu sync.Mutex
	memo   map[string]*memoEntry
	// evals holds the task evaluation of memoized passes (*Predictions -> task.Evaluation).
	evals sync.Map
	// cleanPerImage is the clean pass's wall time per image (every subject), for checks that size
	// their sample to a time budget.
	cleanPerImage time.Duration
	// attacks keeps the candidate's attack outcomes by attack and sample, for a baseline
	// identical to it.
	attacks sync.Map
	// counts says where each subject's per-image records came from.
	counts [2]recordCounters

	// Batch buffers are recycled between prediction passes: a batch of 64 224x224 RGB images is
	// 38 MB of float32, too much to allocate and zero for every batch.
	f32Pool, u8Pool sync.Pool
}

func (e *Env) f32Buf(n int) []float32 {
	if b, ok := e.f32Pool.Get().(*[]float32); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]float32, n)
}

func (e *Env) u8Buf(n int) []uint8 {
	if b, ok := e.u8Pool.Get().(*[]uint8); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]uint8, n)
}

// release returns a batch's buffers once ONNX Runtime has consumed them.
func (e *Env) release(c chunk) {
	// Subjects may share one buffer: return each buffer once.
	for i, b := range c.f32 {
		if b != nil && !seenBefore(c.f32[:i], b) {
			e.f32Pool.Put(&b)
		}
	}
	for i, b := range c.u8 {
		if b != nil && !seenBefore(c.u8[:i], b) {
			e.u8Pool.Put(&b)
		}
	}
}

func seenBefore[T any](earlier [][]T, b []T) bool {
	for _, x := range earlier {
		if len(x) > 0 && len(b) > 0 && &x[0] == &b[0] {
			return true
		}
	}
	return false
}

type memoEntry struct {
	done       chan struct{}
	cand, base *Predictions
	err        error
}

// Subjects returns the candidate and, when present, the baseline.
func (e *Env) Subjects() []*Subject {
	if e.Baseline == nil {
		return []*Subject{e.Candidate}
	}
	return []*Subject{e.Candidate, e.Baseline}
}

// Predictions are one model's outputs over a set of images.
type Predictions struct {
	Indices []int // dataset item index of each row
	Classes int
	Raw     []float32 // rows x Classes, as the model returned them
	Probs   []float32 // rows x Classes
	Top1    []int32   // -1 where the row has NaN or Inf
	Conf    []float32 // probability of Top1
	// Task holds, for tasks other than classification, each row's decoded prediction (boxes,
	// label maps); the class-score fields above are then empty.
	Task []task.Prediction
}

// Rows is the number of images predicted.
func (p *Predictions) Rows() int { return len(p.Indices) }

// Row returns the probabilities of row r.
func (p *Predictions) Row(r int) []float32 { return p.Probs[r*p.Classes : (r+1)*p.Classes] }

// Correct reports, per row, whether the prediction equals the label of the image.
func (p *Predictions) Correct(ds *dataset.Dataset) []bool {
	out := make([]bool, len(p.Indices))
	for r, i := range p.Indices {
		out[r] = int(p.Top1[r]) == ds.Items[i].Label && p.Top1[r] >= 0
	}
	return out
}

// Accuracy is the share of rows predicted correctly.
func (p *Predictions) Accuracy(ds *dataset.Dataset) float64 {
	if p.Rows() == 0 {
		return math.NaN()
	}
	n := 0
	for _, ok := range p.Correct(ds) {
		if ok {
			n++
		}
	}
	return float64(n) / float64(p.Rows())
}

// Variant is a set of images, optionally transformed, to predict on.
type Variant struct {
	// Key identifies the variant in the memo; it must change whenever the images would.
	Key string
	// Indices are the dataset items to use; nil means all.
	Indices []int
	// Transform produces the image the models see for item i. It must be deterministic in the
	// image (seed any randomness from Env.itemSeed) and safe for concurrent use; nil means the
	// clean image.
	Transform func(i int, img *imaging.Image) *imaging.Image
	// Record describes the transform to per-image records: everything besides the image that
	// decides what the models see (transform name, parameters, seed), so that a record is valid
	// for any variant that shows the models the same image. Empty: not cached, never sharded.
	Record string
}

// CleanKey is the memo key of the clean pass over all images.
const CleanKey = "clean"

// Clean returns the predictions of candidate and baseline (nil without one) on every image.
func (e *Env) Clean(ctx context.Context) (cand, base *Predictions, err error) {
	return e.Predict(ctx, Variant{Key: CleanKey, Record: CleanKey})
}

// Predict runs the variant through the candidate and the baseline, once: later calls with the same
// key return the memoized predictions. Images are transformed and preprocessed in parallel,
// streamed in batches while ONNX Runtime works on the previous batch, so that no perturbed
// dataset is ever held in memory.
func (e *Env) Predict(ctx context.Context, v Variant) (cand, base *Predictions, err error) {
	if v.Key != CleanKey {
		// The output kind (logits or probabilities) is decided on the clean pass.
		if _, _, err := e.Clean(ctx); err != nil {
			return nil, nil, err
		}
	}
	e.memoMu.Lock()
	if e.memo == nil {
		e.memo = map[string]*memoEntry{}
	}
	ent, ok := e.memo[v.Key]
	if !ok {
		ent = &memoEntry{done: make(chan struct{})}
		e.memo[v.Key] = ent
	}
	e.memoMu.Unlock()
	if ok {
		select {
		case <-ent.done:
			return ent.cand, ent.base, ent.err
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	started := time.Now()
	preds, err := e.run(ctx, v)
	if err == nil && v.Key == CleanKey && len(e.Data.Items) > 0 {
		e.cleanPerImage = time.Since(started) / time.Duration(len(e.Data.Items))
	}
	if err != nil {
		ent.err = err
		if ctx.Err() != nil {
			// A cancelled pass must not poison the memo for later checks.
			e.memoMu.Lock()
			delete(e.memo, v.Key)
			e.memoMu.Unlock()
		}
	} else {
		ent.cand = preds[0]
		if len(preds) > 1 {
			ent.base = preds[1]
		}
	}
	close(ent.done)
	return ent.cand, ent.base, ent.err
}

type chunk struct {
	start int // position in the variant's index list
	n     int
	f32   [][]float32 // per subject, when its input is float32
	u8    [][]uint8   // per subject, when its input is uint8
	err   error
}

// run predicts a variant with every subject through the shared pipeline and reads the outputs.
func (e *Env) run(ctx context.Context, v Variant) ([]*Predictions, error) {
	subjects := e.Subjects()
	idx := v.Indices
	if idx == nil {
		idx = make([]int, len(e.Data.Items))
		for i := range idx {
			idx[i] = i
		}
	}
	n := len(idx)
	preds := make([]*Predictions, len(subjects))
	raw := make([][]float32, len(subjects))
	for i := range preds {
		preds[i] = &Predictions{Indices: idx}
	}
	err := e.predictJobs(ctx, []batchJob{{indices: idx, transform: v.Transform, record: v.Record}}, runtime.NumCPU(),
		func(_, start, _, si int, out batchOut) error {
			if out.preds != nil {
				if preds[si].Task == nil {
					preds[si].Task = make([]task.Prediction, n)
				}
				copy(preds[si].Task[start:], out.preds)
				return nil
			}
			width := out.width
			if raw[si] == nil {
				preds[si].Classes = width
				raw[si] = make([]float32, n*width)
			}
			copy(raw[si][start*width:], out.raw)
			return nil
		})
	if err != nil {
		return nil, err
	}
	for si, s := range subjects {
		p := preds[si]
		if s.Decoder != nil {
			continue
		}
		p.Raw = raw[si]
		if err := e.checkWidth(s, p.Classes); err != nil {
			return nil, err
		}
		s.kindOnce.Do(func() {
			s.kind = onnx.DetectKind(p.Raw, p.Classes)
			if s.Info != nil {
				s.Info.Output = s.kind.Describe()
			}
		})
		p.Probs = onnx.ToProbabilities(p.Raw, p.Classes, s.kind)
		p.Top1, p.Conf = argmax(p.Probs, p.Classes)
	}
	return preds, nil
}

func (e *Env) checkWidth(s *Subject, width int) error {
	if e.Data.Classes == nil {
		return nil
	}
	if want := len(e.Data.Classes.Names); width != want {
		return fmt.Errorf("model %q returns %d scores per image but the data has %d classes (from %s); give --labels FILE with one class per model output, in output order",
			s.Name, width, want, e.Data.Classes.Source)
	}
	return nil
}

func (e *Env) prepare(idx []int, start, n int, transform func(int, *imaging.Image) *imaging.Image, subjects []*Subject, scratch []preprocess.Scratch) chunk {
	c := chunk{start: start, n: n, f32: make([][]float32, len(subjects)), u8: make([][]uint8, len(subjects))}
	// A baseline preprocessed exactly like the candidate is fed the candidate's tensor: it is
	// computed once (shared[si] is the subject whose buffer si reuses).
	shared := make([]int, len(subjects))
	for si, s := range subjects {
		shared[si] = si
		for sj := 0; sj < si; sj++ {
			if shared[sj] == sj && subjects[sj].Spec.SameTensor(s.Spec) {
				shared[si] = sj
				break
			}
		}
		if shared[si] != si {
			c.f32[si], c.u8[si] = c.f32[shared[si]], c.u8[shared[si]]
			continue
		}
		per := s.Spec.SampleSize()
		if s.Spec.DType == onnx.Uint8 {
			c.u8[si] = e.u8Buf(n * per)
		} else {
			c.f32[si] = e.f32Buf(n * per)
		}
	}
	for j := 0; j < n; j++ {
		i := idx[start+j]
		img := e.Data.Items[i].Image
		if transform != nil {
			img = transform(i, img)
			if img == nil {
				c.err = fmt.Errorf("transform of image %q returned nothing", e.Data.Items[i].Path)
				return c
			}
		}
		for si, s := range subjects {
			if shared[si] != si {
				continue
			}
			per := s.Spec.SampleSize()
			if c.u8[si] != nil {
				s.Spec.ApplyUint8(img, c.u8[si][j*per:(j+1)*per], &scratch[si])
			} else {
				s.Spec.Apply(img, c.f32[si][j*per:(j+1)*per], &scratch[si])
			}
		}
	}
	return c
}

func argmax(probs []float32, width int) ([]int32, []float32) {
	rows := len(probs) / width
	top := make([]int32, rows)
	conf := make([]float32, rows)
	for r := 0; r < rows; r++ {
		row := probs[r*width : (r+1)*width]
		best, bestV, bad := 0, float32(math.Inf(-1)), false
		for i, v := range row {
			if v != v || math.IsInf(float64(v), 0) {
				bad = true
				break
			}
			if v > bestV {
				best, bestV = i, v
			}
		}
		if bad {
			top[r], conf[r] = -1, float32(math.NaN())
			continue
		}
		top[r], conf[r] = int32(best), bestV
	}
	return top, conf
}

// Forward runs images through one subject without memoizing (determinism checks) and returns the
// raw outputs and the probabilities, rows x classes.
func (e *Env) Forward(ctx context.Context, s *Subject, imgs []*imaging.Image) ([]float32, []float32, error) {
	raw, width, err := forward(ctx, e, s, imgs, s.Spec.Apply, s.Spec.ApplyUint8)
	if err != nil || raw == nil {
		return nil, nil, err
	}
	return raw, onnx.ToProbabilities(raw, width, s.kind), nil
}

// ForwardFloat runs working images (values in [0,1]) through one subject and returns
// probabilities, rows x classes. Adversarial attacks query the model through it.
func (e *Env) ForwardFloat(ctx context.Context, s *Subject, imgs []*imaging.Float) ([]float32, int, error) {
	raw, width, err := forward(ctx, e, s, imgs, s.Spec.ApplyFloat, s.Spec.ApplyFloatUint8)
	if err != nil || raw == nil {
		return nil, 0, err
	}
	return onnx.ToProbabilities(raw, width, s.kind), width, nil
}

// forward preprocesses images with the subject's spec (toFloat or toBytes, by the model's input
// type) and runs them, after making sure the clean pass decided how outputs are read.
func forward[I any](ctx context.Context, e *Env, s *Subject, imgs []I,
	toFloat func(I, []float32, *preprocess.Scratch), toBytes func(I, []uint8, *preprocess.Scratch)) ([]float32, int, error) {
	if len(imgs) == 0 {
		return nil, 0, nil
	}
	if _, _, err := e.Clean(ctx); err != nil {
		return nil, 0, err
	}
	var sc preprocess.Scratch
	per := s.Spec.SampleSize()
	if s.Spec.DType == onnx.Uint8 {
		buf := make([]uint8, len(imgs)*per)
		for j, img := range imgs {
			toBytes(img, buf[j*per:(j+1)*per], &sc)
		}
		return onnx.Run(ctx, s.Model, buf, len(imgs), s.Spec.Dims)
	}
	buf := make([]float32, len(imgs)*per)
	for j, img := range imgs {
		toFloat(img, buf[j*per:(j+1)*per], &sc)
	}
	return onnx.Run(ctx, s.Model, buf, len(imgs), s.Spec.Dims)
}

// ForwardTensor runs a ready-made float32 tensor (n samples) through a subject, bypassing
// preprocessing: robust.abnormal uses it to feed values in the wrong range.
func (e *Env) ForwardTensor(ctx context.Context, s *Subject, data []float32, n int) ([]float32, int, error) {
	if _, _, err := e.Clean(ctx); err != nil { // decides how outputs are read
		return nil, 0, err
	}
	raw, width, err := onnx.Run(ctx, s.Model, data, n, s.Spec.Dims)
	if err != nil {
		return nil, 0, err
	}
	return onnx.ToProbabilities(raw, width, s.kind), width, nil
}

// CleanPerImage is the clean pass's measured wall time per image, through every subject (0 before
// the clean pass).
func (e *Env) CleanPerImage() time.Duration { return e.cleanPerImage }

// budgetSample caps a sample of n images so that passes passes over it (each image through every
// subject) fit in budget, at the clean pass's measured speed; at least min(n, floor) images.
func (e *Env) budgetSample(n, passes int, budget time.Duration, floor int) (int, bool) {
	per := e.cleanPerImage
	if budget <= 0 || per <= 0 || passes <= 0 || e.Exhaustive() {
		return n, false
	}
	fit := int(budget / (per * time.Duration(passes)))
	if fit >= n {
		return n, false
	}
	return max(fit, min(n, floor)), true
}
