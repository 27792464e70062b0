package onnx

import (
	"context"
	"errors"
	"fmt"

	ort "github.com/yalue/onnxruntime_go"
)

// Feed runs one model many times on batches that the caller writes straight into the input
// tensor's memory, for callers that make thousands of small calls (an attack's oracle). Run
// creates an input tensor per batch, lets ONNX Runtime allocate the output, copies it out and
// frees both; on a LeNet-5 that was 0.7-1.4 µs per sample at batch 64 on top of ONNX Runtime's
// 10. A Feed keeps one input buffer of Batch samples and, for full batches, the input and output
// tensors over it, so a full batch costs ONNX Runtime's own work only.
//
// A Feed is not safe for concurrent use. Close frees its tensors; the model stays open.
type Feed[T float32 | uint8] struct {
	m    *Model
	dims []int64
	per  int
	buf  []T
	// full and out are the tensors of a full batch; out is created after the first full batch
	// has shown the output's shape (nil while unknown, or when the output is not float32 or
	// several outputs are fetched).
	full *ort.Tensor[T]
	out  *ort.Tensor[float32]
	// outShape is the output shape of a full batch, once known.
	outShape ort.Shape
	// scratch receives a float64 output converted to float32.
	scratch []float32
}

// NewFeed returns a feed of m for samples of shape dims (the input shape without its batch
// dimension).
func NewFeed[T float32 | uint8](m *Model, dims []int64) (*Feed[T], error) {
	per := 1
	for _, d := range dims {
		if d <= 0 {
			return nil, fmt.Errorf("feed model %q: input dimensions %v are not all positive", m.Path, dims)
		}
		per *= int(d)
	}
	if m.Batch <= 0 {
		return nil, fmt.Errorf("feed model %q: batch size %d", m.Path, m.Batch)
	}
	f := &Feed[T]{m: m, dims: dims, per: per, buf: make([]T, m.Batch*per)}
	full, err := ort.NewTensor(f.shape(m.Batch), f.buf)
	if err != nil {
		return nil, fmt.Errorf("feed model %q: create input tensor: %w", m.Path, err)
	}
	f.full = full
	return f, nil
}

// Batch is the most samples one Run takes.
func (f *Feed[T]) Batch() int { return f.m.Batch }

// Input returns the memory of the first rows samples of the next Run (rows <= Batch), for the
// caller to fill completely.
func (f *Feed[T]) Input(rows int) []T { return f.buf[:rows*f.per] }

func (f *Feed[T]) shape(rows int) ort.Shape {
	return append(ort.Shape{int64(rows)}, f.dims...)
}

// Run runs the model on the first rows samples of the input and returns their outputs, rows*width
// values. The values belong to the feed: they are valid until the next Run or Close.
func (f *Feed[T]) Run(ctx context.Context, rows int) ([]float32, int, error) {
	m := f.m
	if rows <= 0 || rows > m.Batch {
		return nil, 0, fmt.Errorf("run model %q: batch of %d, want 1..%d", m.Path, rows, m.Batch)
	}
	in, sent := f.full, rows
	if rows < m.Batch {
		if m.FixedBatch {
			// The padding rows are zeros, as Run pads, whatever an earlier call left there.
			clear(f.buf[rows*f.per:])
			sent = m.Batch
		} else {
			// A short batch gets a tensor header over the same memory: no copy.
			t, err := ort.NewTensor(f.shape(rows), f.buf[:rows*f.per])
			if err != nil {
				return nil, 0, fmt.Errorf("run model %q: create input tensor of %d: %w", m.Path, rows, err)
			}
			defer t.Destroy()
			in = t
		}
	}
	outputs := make([]ort.Value, len(m.fetch))
	reuse := in == f.full && f.out != nil
	if reuse {
		outputs[0] = f.out
	}
	err := m.countedRun(ctx, []ort.Value{in}, outputs, int64(sent))
	if !reuse {
		defer func() {
			for _, o := range outputs {
				if o != nil {
					o.Destroy()
				}
			}
		}()
	}
	if err != nil {
		return nil, 0, fmt.Errorf("run model %q on a batch of %d: %w", m.Path, sent, err)
	}
	if reuse {
		return f.out.GetData()[:rows*f.width()], f.width(), nil
	}
	oshape := outputs[0].GetShape()
	if len(oshape) == 0 || oshape[0] != int64(sent) {
		return nil, 0, fmt.Errorf("run model %q: output %q has shape %v, want a first dimension of %d", m.Path, m.Output.Name, oshape, sent)
	}
	width := int(oshape.FlattenedSize() / oshape[0])
	var data []float32
	switch t := outputs[0].(type) {
	case *ort.Tensor[float32]:
		data = t.GetData()
	case *ort.Tensor[float64]:
		d := t.GetData()[:rows*width]
		if cap(f.scratch) < len(d) {
			f.scratch = make([]float32, len(d))
		}
		f.scratch = f.scratch[:len(d)]
		for i, v := range d {
			f.scratch[i] = float32(v)
		}
		return f.scratch, width, nil
	default:
		return nil, 0, fmt.Errorf("run model %q: output %q is not a float tensor", m.Path, m.Output.Name)
	}
	if in == f.full && len(m.fetch) == 1 && f.out == nil {
		// The next full batches write into a tensor of this shape; this one's values are copied
		// there so that they outlive the ORT-allocated output freed on return.
		out, err := ort.NewEmptyTensor[float32](oshape.Clone())
		if err != nil {
			return nil, 0, fmt.Errorf("run model %q: create output tensor %v: %w", m.Path, oshape, err)
		}
		f.out, f.outShape = out, oshape.Clone()
		copy(out.GetData(), data)
		return out.GetData()[:rows*width], width, nil
	}
	// data is freed on return: copy it into the feed's own memory.
	f.scratch = append(f.scratch[:0], data[:rows*width]...)
	return f.scratch, width, nil
}

// width is the values per sample of a full batch's output, once known.
func (f *Feed[T]) width() int { return int(f.outShape.FlattenedSize() / f.outShape[0]) }

// Close frees the feed's tensors.
func (f *Feed[T]) Close() error {
	var errs []error
	if f.full != nil {
		errs = append(errs, f.full.Destroy())
		f.full = nil
	}
	if f.out != nil {
		errs = append(errs, f.out.Destroy())
		f.out = nil
	}
	return errors.Join(errs...)
}
