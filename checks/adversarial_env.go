package checks

import (
	"context"
	"fmt"

	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/preprocess"
)

// attackOracle lets an attack query a subject the way Env.ForwardFloat runs images (the subject's
// preprocessing, then ONNX Runtime, then probabilities). HopSkipJump sends thousands of images
// per attacked image, so the oracle allocates nothing per image: preprocessing writes straight
// into the memory of an input tensor the oracle keeps (onnx.Feed), full batches reuse their
// input and output tensors, and only the probability rows it returns are new per call. The
// attack package counts the queries: each image passed to Probs is one.
type attackOracle struct {
	subject *Subject
	f32     *onnx.Feed[float32]
	u8      *onnx.Feed[uint8]
	sc      preprocess.Scratch
}

// newAttackOracle returns an oracle over s; the clean pass runs first, since it decides how the
// model's outputs are read. Close frees it.
func (e *Env) newAttackOracle(ctx context.Context, s *Subject) (*attackOracle, error) {
	if _, _, err := e.Clean(ctx); err != nil {
		return nil, err
	}
	o := &attackOracle{subject: s}
	var err error
	if s.Spec.DType == onnx.Uint8 {
		o.u8, err = onnx.NewFeed[uint8](s.Model, s.Spec.Dims)
	} else {
		o.f32, err = onnx.NewFeed[float32](s.Model, s.Spec.Dims)
	}
	if err != nil {
		return nil, fmt.Errorf("attack oracle: %w", err)
	}
	return o, nil
}

// Close frees the oracle's tensors.
func (o *attackOracle) Close() error {
	if o.u8 != nil {
		return o.u8.Close()
	}
	return o.f32.Close()
}

// Probs implements attack.Oracle. The rows it returns are its caller's: an attack may read them
// after later calls (a round of the attack driver spans several). It is not safe for concurrent
// use, which the attack package never needs.
func (o *attackOracle) Probs(ctx context.Context, imgs []*imaging.Float) ([][]float32, error) {
	s := o.subject
	n := len(imgs)
	if n == 0 {
		return nil, nil
	}
	var probs []float32
	width := 0
	batch := s.Model.Batch
	for start := 0; start < n; start += batch {
		chunk := imgs[start:min(start+batch, n)]
		raw, w, err := o.run(ctx, chunk)
		if err != nil {
			return nil, err
		}
		if probs == nil {
			if err := s.Model.OutputFits(n, w); err != nil {
				return nil, err
			}
			width, probs = w, make([]float32, n*w)
		} else if w != width {
			return nil, fmt.Errorf("run model %q: %d output values per sample, %d in an earlier batch", s.Model.Path, w, width)
		}
		onnx.ToProbabilitiesInto(probs[start*width:(start+len(chunk))*width], raw, width, s.OutputKind())
	}
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = probs[i*width : (i+1)*width : (i+1)*width]
	}
	return rows, nil
}

// run preprocesses one batch into the feed's input and runs it; the values returned belong to the
// feed until the next run.
func (o *attackOracle) run(ctx context.Context, imgs []*imaging.Float) ([]float32, int, error) {
	s := o.subject
	per := s.Spec.SampleSize()
	if o.u8 != nil {
		in := o.u8.Input(len(imgs))
		for j, img := range imgs {
			s.Spec.ApplyFloatUint8(img, in[j*per:(j+1)*per], &o.sc)
		}
		return o.u8.Run(ctx, len(imgs))
	}
	in := o.f32.Input(len(imgs))
	for j, img := range imgs {
		s.Spec.ApplyFloat(img, in[j*per:(j+1)*per], &o.sc)
	}
	return o.f32.Run(ctx, len(imgs))
}
