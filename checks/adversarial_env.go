package checks

import (
	"context"

	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/preprocess"
)

// attackOracle lets an attack query a subject the way Env.ForwardFloat runs images (the subject's
// preprocessing, then ONNX Runtime, then probabilities), keeping its input buffer across calls.
// The attack package counts the queries: each image passed to Probs is one. HopSkipJump sends
// thousands of images per attacked image, in calls of up to 256; a fresh input buffer per call
// (800 KB for 256 MNIST images) was most of what the run allocated, and the collections it caused
// took their share of a core.
type attackOracle struct {
	subject *Subject
	f32     []float32
	u8      []uint8
	sc      preprocess.Scratch
}

// newAttackOracle returns an oracle over s; the clean pass runs first, since it decides how the
// model's outputs are read.
func (e *Env) newAttackOracle(ctx context.Context, s *Subject) (*attackOracle, error) {
	if _, _, err := e.Clean(ctx); err != nil {
		return nil, err
	}
	return &attackOracle{subject: s}, nil
}

// Probs implements attack.Oracle. It is not safe for concurrent use, which the attack package
// never needs.
func (o *attackOracle) Probs(ctx context.Context, imgs []*imaging.Float) ([][]float32, error) {
	s := o.subject
	per, n := s.Spec.SampleSize(), len(imgs)
	var raw []float32
	var width int
	var err error
	if s.Spec.DType == onnx.Uint8 {
		o.u8 = reuseBuf(o.u8, n*per)
		for j, img := range imgs {
			s.Spec.ApplyFloatUint8(img, o.u8[j*per:(j+1)*per], &o.sc)
		}
		raw, width, err = onnx.Run(ctx, s.Model, o.u8, n, s.Spec.Dims)
	} else {
		o.f32 = reuseBuf(o.f32, n*per)
		for j, img := range imgs {
			s.Spec.ApplyFloat(img, o.f32[j*per:(j+1)*per], &o.sc)
		}
		raw, width, err = onnx.Run(ctx, s.Model, o.f32, n, s.Spec.Dims)
	}
	if err != nil {
		return nil, err
	}
	probs := onnx.ToProbabilities(raw, width, s.OutputKind())
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = probs[i*width : (i+1)*width : (i+1)*width]
	}
	return rows, nil
}

// reuseBuf returns buf with length n, reusing its storage when it is large enough. Every value is
// overwritten by the caller, so nothing is cleared.
func reuseBuf[T any](buf []T, n int) []T {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]T, n)
}
