package guard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/imgprops"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/onnxgraph"
	"github.com/cvgate/cvgate/internal/onnxproto"
	"github.com/cvgate/cvgate/internal/preprocess"
)

// Probe runs a model with the tensors the guard reads (its logits and penultimate activations)
// exposed as extra outputs. ONNX Runtime fetches graph outputs only, so the probe is a copy of
// the model with those outputs appended (the model itself is never changed).
type Probe struct {
	// Path and SHA256 identify the model file the probe was made from.
	Path   string
	SHA256 string
	Bytes  []byte
	Graph  *onnxgraph.Graph
	Head   onnxgraph.Head
	// Features is the tensor the Mahalanobis score reads: the final layer's input, or the values
	// before the activation that produced it (Head.PreActivation); FeatureSource says which.
	Features      string
	FeatureSource string
	Spec          preprocess.Spec
	// InputName is the input fed.
	InputName string
	session   *onnx.Model
}

// ProbeOptions configure the probe's session.
type ProbeOptions struct {
	Threads, BatchSize int
	Provider           string
	// Input and Output name the model's image input and class-score output.
	Input, Output string
	// DropOutputs are outputs of the model file to leave out of the probe (a guarded model's
	// boolean cvgate_reject, which ONNX Runtime's Go binding cannot copy out).
	DropOutputs []string
	// Features names the tensor the Mahalanobis score reads, overriding the automatic choice
	// (the pre-activation of the final layer's input, or that input); it must be [batch, D].
	Features string
}

// ReadModel reads a model file into memory, refusing what the guard cannot rewrite.
func ReadModel(path string) ([]byte, string, error) {
	proto, err := onnxproto.Read(path)
	if err != nil {
		return nil, "", err
	}
	if len(proto.ExternalData) > 0 {
		return nil, "", fmt.Errorf("read model %q: its tensors live in external data files (%q...); the guard rewrites single-file models only", path, proto.ExternalData[0].Location)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("read model %q: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, onnxgraph.MaxModelBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("read model %q: %w", path, err)
	}
	if len(b) > onnxgraph.MaxModelBytes {
		return nil, "", fmt.Errorf("read model %q: over the 2 GiB protobuf limit", path)
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:]), nil
}

// NewProbe opens a probe session of the model at path. spec is the model's preprocessing;
// opts.Output must name the class-score output (the one cvgate reads).
func NewProbe(rt *onnx.Runtime, path string, spec preprocess.Spec, opts ProbeOptions) (*Probe, error) {
	b, sum, err := ReadModel(path)
	if err != nil {
		return nil, err
	}
	g, err := onnxgraph.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("read model %q: %w", path, err)
	}
	head, err := g.FindHead(opts.Output)
	if err != nil {
		return nil, fmt.Errorf("read model %q: %w", path, err)
	}
	in, ok := g.Input(opts.Input)
	if !ok {
		return nil, fmt.Errorf("read model %q: no image input %q", path, opts.Input)
	}
	p := &Probe{Path: path, SHA256: sum, Bytes: b, Graph: g, Head: head, Spec: spec, InputName: in.Name, Features: head.Features}
	switch {
	case opts.Features != "":
		if !g.Names()[opts.Features] {
			return nil, fmt.Errorf("read model %q: no tensor %q for the features", path, opts.Features)
		}
		p.Features, p.FeatureSource = opts.Features, "chosen by name"
	case head.PreActivation != "":
		p.Features, p.FeatureSource = head.PreActivation, "pre-activation of the "+head.Activation+" before the final layer"
	case head.Features != "":
		p.FeatureSource = "input of the final layer"
	}
	var add onnxgraph.Additions
	add.DropOutputs = opts.DropOutputs
	for _, name := range []string{head.Logits, p.Features} {
		if _, isOutput := g.Output(name); name != "" && !isOutput {
			add.Outputs = append(add.Outputs, onnxgraph.Value{Name: name, ElemType: onnxproto.Float})
		}
	}
	probe, err := g.Append(add)
	if err != nil {
		return nil, fmt.Errorf("expose the guard's tensors of %q: %w", path, err)
	}
	dir, err := os.MkdirTemp("", "cvgate-probe-")
	if err != nil {
		return nil, fmt.Errorf("create temporary folder: %w", err)
	}
	defer os.RemoveAll(dir) // ONNX Runtime holds the model in memory once the session is open
	file := filepath.Join(dir, "probe.onnx")
	if err := os.WriteFile(file, probe, 0o600); err != nil {
		return nil, fmt.Errorf("write probe model: %w", err)
	}
	p.session, err = onnx.Open(rt, file, onnx.Options{Threads: opts.Threads, BatchSize: opts.BatchSize, Provider: opts.Provider,
		Input: in.Name, Output: opts.Output, AllOutputs: true}, nil)
	if err != nil {
		return nil, fmt.Errorf("open %q with the guard's tensors exposed: %w", path, err)
	}
	return p, nil
}

// Close releases the session.
func (p *Probe) Close() error {
	if p.session == nil {
		return nil
	}
	return p.session.Close()
}

// Batch is the session's batch size.
func (p *Probe) Batch() int { return p.session.Batch }

// observeChunk bounds the images preprocessed at once, so that memory holds one chunk of input
// tensors whatever the number of images.
const observeChunk = 512

// Observe runs the images through the probe and returns what the guard sees of them. labels may
// be nil. Extra, if set, receives each chunk's raw output tensors (tests compare them).
func (p *Probe) Observe(ctx context.Context, imgs []*imaging.Image, labels []int) (*Observations, error) {
	return p.observe(ctx, imgs, labels, nil)
}

// ObserveTensors is Observe that also hands every output tensor of each batch to fn (count real
// images starting at start), for callers that read the model's other outputs.
func (p *Probe) ObserveTensors(ctx context.Context, imgs []*imaging.Image, labels []int, fn onnx.BatchFunc) (*Observations, error) {
	return p.observe(ctx, imgs, labels, fn)
}

func (p *Probe) observe(ctx context.Context, imgs []*imaging.Image, labels []int, fn onnx.BatchFunc) (*Observations, error) {
	n := len(imgs)
	if n == 0 {
		return nil, errors.New("no images to observe")
	}
	if labels != nil && len(labels) != n {
		return nil, fmt.Errorf("%d labels for %d images", len(labels), n)
	}
	o := &Observations{N: n, PropNames: imgprops.Names(), Props: make([][]float64, n), Mean: make([]float64, n), Var: make([]float64, n), Labels: labels}
	spec := p.Spec
	per := spec.SampleSize()
	if per <= 0 {
		return nil, errors.New("the preprocessing gives an empty input tensor")
	}
	var f32 []float32
	var u8 []uint8
	for start := 0; start < n; start += observeChunk {
		count := min(observeChunk, n-start)
		chunk := imgs[start : start+count]
		if spec.DType == onnx.Uint8 {
			u8 = grow(u8, count*per)
		} else {
			f32 = grow(f32, count*per)
		}
		if err := parallel(count, func(j int, sc *preprocess.Scratch) error {
			img := chunk[j]
			if img == nil {
				return fmt.Errorf("image %d has no pixels", start+j)
			}
			props, err := imgprops.Compute(img)
			if err != nil {
				return fmt.Errorf("image %d: %w", start+j, err)
			}
			o.Props[start+j] = props.Values()
			if spec.DType == onnx.Uint8 {
				dst := u8[j*per : (j+1)*per]
				spec.ApplyUint8(img, dst, sc)
				o.Mean[start+j], o.Var[start+j] = moments(dst)
			} else {
				dst := f32[j*per : (j+1)*per]
				spec.Apply(img, dst, sc)
				o.Mean[start+j], o.Var[start+j] = moments(dst)
			}
			return nil
		}); err != nil {
			return nil, err
		}
		collect := func(bstart, bcount int, outs []onnx.Tensor) error {
			if err := p.collect(o, start+bstart, bcount, outs); err != nil {
				return err
			}
			if fn != nil {
				return fn(start+bstart, bcount, outs)
			}
			return nil
		}
		if p.session == nil {
			continue // input checks only
		}
		var err error
		if spec.DType == onnx.Uint8 {
			err = onnx.RunBatches(ctx, p.session, u8[:count*per], count, spec.Dims, collect)
		} else {
			err = onnx.RunBatches(ctx, p.session, f32[:count*per], count, spec.Dims, collect)
		}
		if err != nil {
			return nil, err
		}
	}
	return o, nil
}

// ObserveInputs computes what the input checks read (properties, tensor moments) without a
// model, for tasks whose outputs the guard does not read yet.
func ObserveInputs(ctx context.Context, imgs []*imaging.Image, spec preprocess.Spec) (*Observations, error) {
	return (&Probe{Spec: spec}).observe(ctx, imgs, nil, nil)
}

func grow[T any](b []T, n int) []T {
	if cap(b) >= n {
		return b[:n]
	}
	return make([]T, n)
}

// parallel runs fn for 0..n-1 on every core, each worker with its own preprocessing scratch.
func parallel(n int, fn func(j int, sc *preprocess.Scratch) error) error {
	workers := min(runtime.NumCPU(), n)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sc preprocess.Scratch
			for j := w; j < n; j += workers {
				if err := fn(j, &sc); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// moments returns the mean and (population) variance of a tensor's elements.
func moments[T float32 | uint8](x []T) (float64, float64) {
	var s, ss float64
	for _, v := range x {
		f := float64(v)
		s += f
		ss += f * f
	}
	n := float64(len(x))
	mean := s / n
	return mean, math.Max(ss/n-mean*mean, 0)
}

// collect copies one batch's logits and features into o.
func (p *Probe) collect(o *Observations, start, count int, outs []onnx.Tensor) error {
	var logits, feats *onnx.Tensor
	for i := range outs {
		switch outs[i].Name {
		case p.Head.Logits:
			logits = &outs[i]
		case p.Features:
			feats = &outs[i]
		}
	}
	if logits == nil {
		return fmt.Errorf("the probe returned no %q", p.Head.Logits)
	}
	k, err := rowWidth(*logits, count)
	if err != nil {
		return fmt.Errorf("class scores %q: %w", p.Head.Logits, err)
	}
	if o.K == 0 {
		o.K = k
		o.Logits = make([]float32, 0, o.N*k)
	} else if k != o.K {
		return fmt.Errorf("class scores %q changed width from %d to %d between batches", p.Head.Logits, o.K, k)
	}
	o.Logits = append(o.Logits, logits.F32[:count*k]...)
	if feats == nil || p.Features == "" {
		return nil
	}
	d, err := rowWidth(*feats, count)
	if err != nil {
		// Not a [N, D] tensor: the Mahalanobis score cannot use it.
		p.Head.FeaturesNote = fmt.Sprintf("the features %q are not a [batch, features] tensor (%v)", p.Features, err)
		p.Features = ""
		o.Features, o.D = nil, 0
		return nil
	}
	if o.D == 0 {
		o.D = d
		o.Features = make([]float32, 0, o.N*d)
	}
	o.Features = append(o.Features, feats.F32[:count*d]...)
	return nil
}

// rowWidth checks that t is a float [rows, width] tensor with at least count rows.
func rowWidth(t onnx.Tensor, count int) (int, error) {
	if !t.IsFloat() {
		return 0, errors.New("not a float tensor")
	}
	if len(t.Shape) != 2 || t.Shape[0] < int64(count) || t.Shape[1] < 1 {
		return 0, fmt.Errorf("shape %v, want [batch, width]", t.Shape)
	}
	return int(t.Shape[1]), nil
}
