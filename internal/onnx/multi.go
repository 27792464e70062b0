package onnx

import (
	"context"
	"errors"
	"fmt"

	ort "github.com/yalue/onnxruntime_go"
)

// Tensor is one output of one Run, copied out of ONNX Runtime's memory. Float outputs (float32,
// float64) fill F32; integer and boolean outputs (int64, int32, uint8, bool ...) fill I64.
// Detection and segmentation models return several outputs of mixed types, which is why tasks
// other than classification read Tensors rather than Run's flat float rows.
type Tensor struct {
	Name  string
	Shape []int64
	F32   []float32
	I64   []int64
}

// Len is the number of elements.
func (t Tensor) Len() int {
	if t.F32 != nil {
		return len(t.F32)
	}
	return len(t.I64)
}

// Float returns element i as a float64, whichever slice holds the data.
func (t Tensor) Float(i int) float64 {
	if t.F32 != nil {
		return float64(t.F32[i])
	}
	return float64(t.I64[i])
}

// IsFloat reports whether the tensor holds floating-point data.
func (t Tensor) IsFloat() bool { return t.F32 != nil }

// Info describes the tensor in the form of a model signature entry (for error messages).
func (t Tensor) Info() TensorInfo {
	dt := DType(Other)
	if t.F32 != nil {
		dt = Float32
	}
	return TensorInfo{Name: t.Name, DType: dt, Shape: t.Shape}
}

// BatchFunc receives the outputs of one batch: count real samples starting at sample start. With a
// fixed batch dimension the tensors may hold padding rows beyond count.
type BatchFunc func(start, count int, outs []Tensor) error

// RunBatches feeds n samples in batches of m.Batch (padding a fixed batch with zeros) and hands
// every output tensor of each batch to fn. Unlike Run it reads every output the session fetches
// (Options.AllOutputs), of any numeric type, and imposes no shape on them: the task decides what
// the outputs mean.
func RunBatches[T float32 | uint8](ctx context.Context, m *Model, data []T, n int, dims []int64, fn BatchFunc) error {
	if n == 0 {
		return nil
	}
	per := len(data) / n
	if per*n != len(data) || per == 0 {
		return fmt.Errorf("run model %q: %d elements do not split into %d samples", m.Path, len(data), n)
	}
	for start := 0; start < n; start += m.Batch {
		if err := ctx.Err(); err != nil {
			return err
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
		outs, err := runAll(ctx, m, batch, shape)
		if err != nil {
			return fmt.Errorf("run model %q on a batch of %d: %w", m.Path, rows, err)
		}
		if err := fn(start, count, outs); err != nil {
			return err
		}
	}
	return nil
}

// runAll runs one batch and copies every fetched output.
func runAll[T float32 | uint8](ctx context.Context, m *Model, batch []T, shape []int64) ([]Tensor, error) {
	in, err := ort.NewTensor(ort.NewShape(shape...), batch)
	if err != nil {
		return nil, fmt.Errorf("create input tensor %v: %w", shape, err)
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
		return nil, err
	}
	res := make([]Tensor, len(outputs))
	for i, o := range outputs {
		t, err := copyTensor(m.fetch[i].Name, o)
		if err != nil {
			return nil, err
		}
		res[i] = t
	}
	return res, nil
}

// copyTensor copies an output value into a Tensor, converting its elements to float32 or int64.
func copyTensor(name string, v ort.Value) (Tensor, error) {
	if v == nil {
		return Tensor{}, fmt.Errorf("output %q: ONNX Runtime returned nothing", name)
	}
	t := Tensor{Name: name, Shape: append([]int64(nil), v.GetShape()...)}
	switch x := v.(type) {
	case *ort.Tensor[float32]:
		t.F32 = append(make([]float32, 0, len(x.GetData())), x.GetData()...)
	case *ort.Tensor[float64]:
		t.F32 = convert[float64, float32](x.GetData())
	case *ort.Tensor[int64]:
		t.I64 = append(make([]int64, 0, len(x.GetData())), x.GetData()...)
	case *ort.Tensor[int32]:
		t.I64 = convert[int32, int64](x.GetData())
	case *ort.Tensor[int16]:
		t.I64 = convert[int16, int64](x.GetData())
	case *ort.Tensor[int8]:
		t.I64 = convert[int8, int64](x.GetData())
	case *ort.Tensor[uint8]:
		t.I64 = convert[uint8, int64](x.GetData())
	case *ort.Tensor[uint16]:
		t.I64 = convert[uint16, int64](x.GetData())
	case *ort.Tensor[uint32]:
		t.I64 = convert[uint32, int64](x.GetData())
	default:
		return Tensor{}, fmt.Errorf("output %q has a type cvgate cannot read (%T); outputs must be float or integer tensors", name, v)
	}
	if t.F32 == nil && t.I64 == nil {
		// An empty tensor (no detections) is valid: keep the type visible by a non-nil slice.
		if _, ok := v.(*ort.Tensor[float32]); ok {
			t.F32 = []float32{}
		} else {
			t.I64 = []int64{}
		}
	}
	return t, nil
}

func convert[S int8 | int16 | int32 | uint8 | uint16 | uint32 | float64, D int64 | float32](src []S) []D {
	out := make([]D, len(src))
	for i, v := range src {
		out[i] = D(v)
	}
	return out
}

// errNoOutputs is returned by Open when AllOutputs finds no tensor output to fetch.
var errNoOutputs = errors.New("the model has no tensor output cvgate can read")
