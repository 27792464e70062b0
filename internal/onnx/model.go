package onnx

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// DType is a tensor element type cvgate understands.
type DType string

// The element types cvgate can feed or read.
const (
	Float32 DType = "float32"
	Float64 DType = "float64"
	Uint8   DType = "uint8"
	Other   DType = "other"
)

// TensorInfo is one input or output of a model. Dynamic dimensions are -1.
type TensorInfo struct {
	Name  string
	DType DType
	// ElemType is ONNX Runtime's name of the element type (e.g. "float16"), for messages.
	ElemType string
	Shape    []int64
	// tensor is false for sequence and map outputs, which cvgate never fetches.
	tensor bool
}

// ShapeString renders the shape with dynamic dimensions as "?", e.g. [?,1,28,28].
func (t TensorInfo) ShapeString() string {
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

// Options configure a session.
type Options struct {
	Threads   int    // intra-op threads; 0: all cores
	BatchSize int    // images per Run for models with a dynamic batch dimension; 0: AutoBatch
	Provider  string // ProviderCPU, ProviderCUDA or ProviderAuto; "" is the CPU
	Input     string // input name, when the model has several
	Output    string // output name, when the model has several
	// AllOutputs fetches every tensor output (detection and segmentation models) instead of the
	// one class-score output; Output then only names the output shown first.
	AllOutputs bool
	// PassTimeout bounds one forward pass (one batch); 0: only the caller's context does.
	PassTimeout time.Duration
	// Budget bounds the input tensors; the zero value is DefaultBudget.
	Budget Budget
}

// Model is an open ONNX Runtime session with its signature and usage counters. Run is safe for
// concurrent use.
type Model struct {
	Path      string
	SHA256    string
	SizeBytes int64
	Inputs    []TensorInfo
	Outputs   []TensorInfo
	Metadata  Metadata
	// Input and Output are the tensors cvgate feeds and reads.
	Input  TensorInfo
	Output TensorInfo
	// Batch is the number of samples per Run: the fixed batch dimension, or Options.BatchSize.
	Batch int
	// FixedBatch reports whether the model's batch dimension is fixed (often to 1).
	FixedBatch   bool
	LoadDuration time.Duration

	// PassTimeout and Budget are Options'.
	PassTimeout time.Duration
	Budget      Budget

	// fetch are the outputs each Run returns, in order: Output alone for classifiers, every
	// tensor output with Options.AllOutputs.
	fetch   []TensorInfo
	session *ort.DynamicAdvancedSession
	stats   *Stats
	// rt, file and opts are what the session was opened with, for WithThreads (callers may
	// rename Path for display).
	rt   *Runtime
	file string
	opts Options
	// placement is the provider asked for and obtained (Placement).
	placement Placement
}

// Metadata is what ONNX Runtime reports of the model's metadata.
type Metadata struct {
	Producer    string
	GraphName   string
	Domain      string
	Description string
	Version     int64
	Custom      map[string]string
}

// Stats counts work done inside ONNX Runtime. One Stats may be shared by several models so that a
// run can report its total.
type Stats struct {
	calls   atomic.Int64
	samples atomic.Int64
	nanos   atomic.Int64
}

// Calls is the number of session Run calls.
func (s *Stats) Calls() int64 { return s.calls.Load() }

// Samples is the number of samples (images) run through models.
func (s *Stats) Samples() int64 { return s.samples.Load() }

// Duration is the wall time spent inside session Run calls (summed over concurrent calls).
func (s *Stats) Duration() time.Duration { return time.Duration(s.nanos.Load()) }

// Open loads a model file into a new session. stats may be nil.
func Open(rt *Runtime, path string, opts Options, stats *Stats) (*Model, error) {
	if rt == nil {
		return nil, errors.New("open model: ONNX Runtime is not loaded")
	}
	if stats == nil {
		stats = &Stats{}
	}
	start := time.Now()
	sum, size, err := hashFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model %q: %w", path, err)
	}
	if size == 0 {
		return nil, fmt.Errorf("read model %q: the file is empty", path)
	}
	so, err := newSessionOptions(opts, true)
	if err != nil {
		return nil, fmt.Errorf("open model %q: %w", path, err)
	}
	defer so.Destroy()
	ins, outs, err := ort.GetInputOutputInfoWithOptions(path, so)
	if err != nil {
		return nil, fmt.Errorf("open model %q: not a model ONNX Runtime can load: %s", path, oneLine(err))
	}
	m := &Model{Path: path, SHA256: sum, SizeBytes: size, PassTimeout: opts.PassTimeout, Budget: opts.Budget, stats: stats, rt: rt, file: path, opts: opts}
	for _, in := range ins {
		m.Inputs = append(m.Inputs, info(in))
	}
	for _, out := range outs {
		m.Outputs = append(m.Outputs, info(out))
	}
	if m.Input, err = pickInput(m.Inputs, opts.Input); err != nil {
		return nil, fmt.Errorf("open model %q: %w", path, err)
	}
	if opts.AllOutputs {
		for _, o := range m.Outputs {
			if o.tensor {
				m.fetch = append(m.fetch, o)
			}
		}
		if len(m.fetch) == 0 {
			return nil, fmt.Errorf("open model %q: %w (outputs: %s)", path, errNoOutputs, names(m.Outputs))
		}
		m.Output = m.fetch[0]
		if opts.Output != "" {
			found := false
			for _, o := range m.fetch {
				if o.Name == opts.Output {
					m.Output, found = o, true
				}
			}
			if !found {
				return nil, fmt.Errorf("open model %q: no output named %q (outputs: %s)", path, opts.Output, names(m.Outputs))
			}
		}
	} else {
		if m.Output, err = pickOutput(m.Outputs, opts.Output); err != nil {
			return nil, fmt.Errorf("open model %q: %w", path, err)
		}
		m.fetch = []TensorInfo{m.Output}
	}
	switch m.Input.DType {
	case Float32, Uint8:
	default:
		return nil, fmt.Errorf("open model %q: input %q has element type %s; cvgate feeds float32 or uint8 images", path, m.Input.Name, m.Input.ElemType)
	}
	if len(m.Input.Shape) == 0 {
		return nil, fmt.Errorf("open model %q: input %q is a scalar, not an image batch", path, m.Input.Name)
	}
	if err := ValidateInput(m.Input, opts.Budget); err != nil {
		return nil, fmt.Errorf("open model %q: %w", path, err)
	}
	switch d := m.Input.Shape[0]; {
	case d > 0:
		m.Batch, m.FixedBatch = int(d), true
	case opts.BatchSize > 0:
		m.Batch = opts.BatchSize
	default:
		m.Batch = AutoBatch(m.SampleSize())
	}

	fetchNames := make([]string, len(m.fetch))
	for i, o := range m.fetch {
		fetchNames[i] = o.Name
	}
	if err := m.openSession(fetchNames); err != nil {
		return nil, fmt.Errorf("open model %q: %w", path, err)
	}
	if md, err := m.session.GetModelMetadata(); err == nil {
		m.Metadata = readMetadata(md)
		md.Destroy()
	}
	m.LoadDuration = time.Since(start)
	return m, nil
}

// openSession creates the session on the requested execution provider. CUDA is tried when asked
// for (cuda or auto); when it cannot be had, cuda is a *ProviderError and auto falls back to the
// CPU with a note in the placement. Either way the provider actually obtained is recorded, and
// later sessions of this model (WithThreads) ask for that one.
func (m *Model) openSession(fetch []string) error {
	requested := m.opts.Provider
	if requested == "" {
		requested = ProviderCPU
	}
	m.placement = Placement{Requested: requested, Obtained: ProviderCPU}
	var cudaErr error
	if requested == ProviderCUDA || requested == ProviderAuto {
		var session *ort.DynamicAdvancedSession
		session, cudaErr = m.cudaSession(fetch)
		if cudaErr == nil {
			m.session, m.placement.Obtained = session, ProviderCUDA
			m.opts.Provider = ProviderCUDA
			return nil
		}
		var pe *ProviderError
		if !errors.As(cudaErr, &pe) {
			return cudaErr
		}
		if requested == ProviderCUDA {
			return cudaErr
		}
		m.placement.Note = "execution provider auto ran on the CPU: " + pe.Reason
	}
	cpuOpts := m.opts
	cpuOpts.Provider = ProviderCPU
	so, err := newSessionOptions(cpuOpts, false)
	if err != nil {
		return err
	}
	defer so.Destroy()
	m.session, err = ort.NewDynamicAdvancedSession(m.file, []string{m.Input.Name}, fetch, so)
	if err != nil {
		return errors.New(oneLine(err))
	}
	m.opts.Provider = ProviderCPU
	return nil
}

// cudaSession opens the session with the CUDA provider. Errors that come from the provider (its
// libraries, the CUDA libraries, the driver, the device) are *ProviderError; a session the CPU
// cannot open either is the model's own error.
func (m *Model) cudaSession(fetch []string) (*ort.DynamicAdvancedSession, error) {
	if err := missingCUDAFiles(m.rt.LibPath); err != nil {
		return nil, &ProviderError{Requested: ProviderCUDA, Reason: err.Error()}
	}
	opts := m.opts
	opts.Provider = ProviderCUDA
	so, err := newSessionOptions(opts, false)
	if err != nil {
		var pe *ProviderError
		if errors.As(err, &pe) {
			pe.Reason = cudaLoadReason(m.rt.LibPath)
		}
		return nil, err
	}
	defer so.Destroy()
	session, err := ort.NewDynamicAdvancedSession(m.file, []string{m.Input.Name}, fetch, so)
	if err == nil {
		return session, nil
	}
	// ONNX Runtime creates the CUDA provider with the session: no device, or a driver too old
	// for CUDA 13, fails here. If the CPU opens the model, the provider is what failed.
	opts.Provider = ProviderCPU
	cpu, cerr := newSessionOptions(opts, false)
	if cerr != nil {
		return nil, cerr
	}
	defer cpu.Destroy()
	probe, perr := ort.NewDynamicAdvancedSession(m.file, []string{m.Input.Name}, fetch, cpu)
	if perr != nil {
		return nil, errors.New(oneLine(err))
	}
	probe.Destroy()
	return nil, &ProviderError{Requested: ProviderCUDA, Reason: fmt.Sprintf(
		"ONNX Runtime loaded its CUDA provider but could not create a CUDA session (no GPU, or a driver without CUDA 13 support?): %s", oneLine(err))}
}

// Close releases the session.
func (m *Model) Close() error {
	if m.session == nil {
		return nil
	}
	err := m.session.Destroy()
	m.session = nil
	return err
}

// WithThreads opens a second session of the same file with the same options except the number
// of intra-op threads (0: all cores). The caller closes it. model.latency times batch-1 runs on
// single-threaded sessions: with a thread pool per session, on a loaded machine each session's
// workers land on different, differently loaded cores, and two sessions of one file then measure
// persistently different latencies.
func (m *Model) WithThreads(threads int) (*Model, error) {
	opts := m.opts
	opts.Threads = threads
	return Open(m.rt, m.file, opts, nil)
}

// Stats returns the counters this model adds to.
func (m *Model) Stats() *Stats { return m.stats }

// autoBatchElements is the input size an automatic batch aims at: about 8 MB of float32. Larger
// batches do not make CPU inference faster (measured on a 224x224 RGB CNN: 3.9 ms per image at
// batch 8, 4.3 at batch 64) but multiply the activation memory ONNX Runtime holds.
const autoBatchElements = 1 << 21

// AutoBatch is the batch size used when none is configured: up to 64 samples, fewer for large
// inputs so that a batch holds about autoBatchElements values; 16 when the size is unknown.
func AutoBatch(sampleSize int) int {
	if sampleSize <= 0 {
		return 16
	}
	return min(max(autoBatchElements/sampleSize, 1), 64)
}

// SampleSize is the number of input elements per sample (the input shape without its batch
// dimension). It is 0 when a non-batch dimension is dynamic: the caller must then decide the
// image size (preprocess.size) and pass explicit dims to RunDims.
func (m *Model) SampleSize() int {
	n := 1
	for _, d := range m.Input.Shape[1:] {
		if d <= 0 {
			return 0
		}
		n *= int(d)
	}
	return n
}

// newSessionOptions builds session options. Spinning is disabled because cvgate prepares the
// next batch on the same cores while ONNX Runtime works: spinning threads would steal that time.
func newSessionOptions(opts Options, probe bool) (*ort.SessionOptions, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("create session options: %w", err)
	}
	fail := func(err error) (*ort.SessionOptions, error) {
		so.Destroy()
		return nil, err
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	if probe {
		// Reading the signature needs no optimisation and one thread.
		if err := so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll); err != nil {
			return fail(fmt.Errorf("set optimisation level: %w", err))
		}
		threads = 1
	}
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		return fail(fmt.Errorf("set intra-op threads: %w", err))
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return fail(fmt.Errorf("set inter-op threads: %w", err))
	}
	if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		return fail(fmt.Errorf("disable spinning: %w", err))
	}
	if !probe && opts.Provider == ProviderCUDA {
		cuda, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return fail(&ProviderError{Requested: ProviderCUDA, Reason: "create CUDA provider options: " + oneLine(err)})
		}
		defer cuda.Destroy()
		if err := so.AppendExecutionProviderCUDA(cuda); err != nil {
			return fail(&ProviderError{Requested: ProviderCUDA, Reason: "enable the CUDA execution provider: " + oneLine(err)})
		}
	}
	return so, nil
}

func info(in ort.InputOutputInfo) TensorInfo {
	t := TensorInfo{Name: in.Name, Shape: append([]int64(nil), in.Dimensions...), ElemType: elemName(in.DataType), tensor: in.OrtValueType == ort.ONNXTypeTensor}
	if !t.tensor {
		t.DType, t.ElemType = Other, in.OrtValueType.String()
		return t
	}
	switch in.DataType {
	case ort.TensorElementDataTypeFloat:
		t.DType = Float32
	case ort.TensorElementDataTypeDouble:
		t.DType = Float64
	case ort.TensorElementDataTypeUint8:
		t.DType = Uint8
	default:
		t.DType = Other
	}
	return t
}

func elemName(t ort.TensorElementDataType) string {
	s := strings.ToLower(t.String())
	s = strings.TrimPrefix(s, "onnx_tensor_element_data_type_")
	return s
}

func pickInput(ins []TensorInfo, name string) (TensorInfo, error) {
	if name != "" {
		for _, in := range ins {
			if in.Name == name {
				return in, nil
			}
		}
		return TensorInfo{}, fmt.Errorf("no input named %q (inputs: %s)", name, names(ins))
	}
	if len(ins) == 1 {
		return ins[0], nil
	}
	// Several inputs: the image is the one of rank 2 to 4; anything else needs config.
	var images []TensorInfo
	for _, in := range ins {
		if len(in.Shape) >= 2 && len(in.Shape) <= 4 && in.DType != Other {
			images = append(images, in)
		}
	}
	if len(images) == 1 {
		return images[0], nil
	}
	return TensorInfo{}, fmt.Errorf("the model has %d inputs (%s); cvgate feeds one image tensor: set preprocess.input", len(ins), names(ins))
}

func pickOutput(outs []TensorInfo, name string) (TensorInfo, error) {
	if name != "" {
		for _, o := range outs {
			if o.Name == name {
				if o.DType != Float32 && o.DType != Float64 {
					return TensorInfo{}, fmt.Errorf("output %q has element type %s; cvgate reads float class scores", name, o.ElemType)
				}
				return o, nil
			}
		}
		return TensorInfo{}, fmt.Errorf("no output named %q (outputs: %s)", name, names(outs))
	}
	// The class scores: the first float output shaped [N, C] (or [N, C, 1, 1]).
	for _, o := range outs {
		if (o.DType == Float32 || o.DType == Float64) && classDims(o.Shape) {
			return o, nil
		}
	}
	return TensorInfo{}, fmt.Errorf("no output looks like class scores [batch, classes] (outputs: %s): set preprocess.output", names(outs))
}

func classDims(shape []int64) bool {
	switch len(shape) {
	case 2:
		return shape[1] != 0 && shape[1] != 1
	case 4:
		return shape[2] == 1 && shape[3] == 1
	}
	return false
}

func names(ts []TensorInfo) string {
	var s []string
	for _, t := range ts {
		s = append(s, fmt.Sprintf("%s %s %s", t.Name, t.ElemType, t.ShapeString()))
	}
	return strings.Join(s, "; ")
}

func readMetadata(md *ort.ModelMetadata) Metadata {
	var m Metadata
	m.Producer, _ = md.GetProducerName()
	m.GraphName, _ = md.GetGraphName()
	m.Domain, _ = md.GetDomain()
	m.Description, _ = md.GetDescription()
	m.Version, _ = md.GetVersion()
	keys, _ := md.GetCustomMetadataMapKeys()
	sort.Strings(keys)
	if len(keys) > 0 {
		m.Custom = map[string]string{}
		for _, k := range keys {
			if v, ok, err := md.LookupCustomMetadataMap(k); err == nil && ok {
				m.Custom[k] = v
			}
		}
	}
	return m
}

func hashFile(path string) (string, int64, error) {
	// Non-blocking, so that a FIFO named like a model is refused instead of waiting for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	if st.IsDir() {
		return "", 0, errors.New("is a directory, not a model file")
	}
	if !st.Mode().IsRegular() {
		return "", 0, fmt.Errorf("is not a regular file (mode %s): devices and FIFOs are refused", st.Mode())
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// oneLine shortens ONNX Runtime's multi-line messages for a one-line error.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	s = strings.TrimPrefix(s, "Error creating C session from file: ")
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

// Run feeds n samples (data holds n*sampleSize elements, dims the shape of one sample) and returns
// the chosen output, flattened: n rows of the output's per-sample size. Samples are split into
// batches of m.Batch; a fixed batch larger than the remainder is padded with zeros and the padding
// dropped.
func Run[T float32 | uint8](ctx context.Context, m *Model, data []T, n int, dims []int64) ([]float32, int, error) {
	if n == 0 {
		return nil, 0, nil
	}
	per := len(data) / n
	if per*n != len(data) || per == 0 {
		return nil, 0, fmt.Errorf("run model %q: %d elements do not split into %d samples", m.Path, len(data), n)
	}
	var out []float32
	width := 0
	for start := 0; start < n; start += m.Batch {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		count := min(m.Batch, n-start)
		batch := data[start*per : (start+count)*per]
		rows := count
		if m.FixedBatch && count < m.Batch {
			padded := make([]T, m.Batch*per)
			copy(padded, batch)
			batch, rows = padded, m.Batch
		}
		shape := append([]int64{int64(rows)}, dims...)
		res, w, err := runBatch(ctx, m, batch, shape)
		if err != nil {
			return nil, 0, fmt.Errorf("run model %q on a batch of %d: %w", m.Path, rows, err)
		}
		if width == 0 {
			// The output is kept for every sample: a model whose output is huge per sample (ONNX
			// Runtime computed one batch of it already) must not multiply that by the data.
			if err := m.OutputFits(n, w); err != nil {
				return nil, 0, err
			}
			width = w
			out = make([]float32, 0, n*w)
		}
		out = append(out, res[:count*w]...)
	}
	return out, width, nil
}

// OutputFits checks that n samples of width output values each fit the memory budget: a model
// whose output is huge per sample (ONNX Runtime computed one batch of it already) must not
// multiply that by the data.
func (m *Model) OutputFits(n, width int) error {
	if limit := m.Budget.bytes(); int64(n)*int64(width)*4 > limit {
		return fmt.Errorf("run model %q: output %q has %d values per sample; for %d samples that is %s, over the %s budget",
			m.Path, m.Output.Name, width, n, size(int64(n)*int64(width)*4), size(limit))
	}
	return nil
}

func runBatch[T float32 | uint8](ctx context.Context, m *Model, batch []T, shape []int64) ([]float32, int, error) {
	in, err := ort.NewTensor(ort.NewShape(shape...), batch)
	if err != nil {
		return nil, 0, fmt.Errorf("create input tensor %v: %w", shape, err)
	}
	defer in.Destroy()
	outputs := make([]ort.Value, len(m.fetch))
	err = m.countedRun(ctx, []ort.Value{in}, outputs, shape[0])
	defer func() {
		for _, o := range outputs {
			if o != nil {
				o.Destroy()
			}
		}
	}()
	if err != nil {
		return nil, 0, err
	}
	oshape := outputs[0].GetShape()
	if len(oshape) == 0 || oshape[0] != shape[0] {
		return nil, 0, fmt.Errorf("output %q has shape %v, want a first dimension of %d", m.Output.Name, oshape, shape[0])
	}
	width := int(oshape.FlattenedSize() / oshape[0])
	switch t := outputs[0].(type) {
	case *ort.Tensor[float32]:
		return append([]float32(nil), t.GetData()...), width, nil
	case *ort.Tensor[float64]:
		d := t.GetData()
		res := make([]float32, len(d))
		for i, v := range d {
			res[i] = float32(v)
		}
		return res, width, nil
	}
	return nil, 0, fmt.Errorf("output %q is not a float tensor", m.Output.Name)
}

// Fetched lists the outputs each run returns, in order.
func (m *Model) Fetched() []TensorInfo { return m.fetch }

// countedRun is runSession for a batch of samples, counted in the model's statistics (passes,
// samples, time inside ONNX Runtime) whether it succeeds or not.
func (m *Model) countedRun(ctx context.Context, in, out []ort.Value, samples int64) error {
	start := time.Now()
	err := m.runSession(ctx, in, out)
	m.stats.nanos.Add(int64(time.Since(start)))
	m.stats.calls.Add(1)
	m.stats.samples.Add(samples)
	return err
}

// runSession is the one place a session runs, so that every forward pass shares its handling of
// cancellation and errors.
func (m *Model) runSession(ctx context.Context, in, out []ort.Value) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := runUnder(ctx, m.PassTimeout, func(ro *ort.RunOptions) error {
		return m.session.RunWithOptions(in, out, ro)
	})
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		var pt *PassTimeoutError
		if errors.As(err, &pt) {
			return err
		}
		return errors.New(oneLine(err))
	}
	return nil
}
