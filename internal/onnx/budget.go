package onnx

import (
	"fmt"
	"math"
	"math/bits"
)

// Budget bounds the memory cvgate spends on one model's input tensors. A model file of a few
// hundred bytes can declare an input of [1,1,50000,50000] (10 GB of float32 per image); without a
// bound, the first batch buffer takes the process down with no report. The zero Budget means
// DefaultBudget.
type Budget struct {
	// Bytes is what the batch buffers of all models may hold at once.
	Bytes int64
}

// DefaultBudget is 1 GiB of batch buffers: at the pipeline's 32-image chunks, 4 chunks in flight
// and a candidate plus a baseline, that is 2 MiB per image (a 416x416 RGB float input), and any
// input of up to 64 MiB per image is accepted with smaller chunks.
const DefaultBudget = 1 << 30

func (b Budget) bytes() int64 {
	if b.Bytes <= 0 {
		return DefaultBudget
	}
	return b.Bytes
}

// MaxSampleBytes is the largest single input (one image, or one fixed batch) a model may declare:
// a sixteenth of the budget, so that a few batches always fit.
func (b Budget) MaxSampleBytes() int64 { return b.bytes() / 16 }

// Samples is how many images of sampleBytes each one buffer may hold when buffers of them are in
// flight at once (the pipeline's prepared chunks times the models run together): at least 1, at
// most limit (the caller's preferred size).
func (b Budget) Samples(sampleBytes int64, buffers, limit int) int {
	if sampleBytes <= 0 || buffers <= 0 {
		return max(limit, 1)
	}
	n := b.bytes() / (sampleBytes * int64(buffers))
	return int(min(max(n, 1), int64(max(limit, 1))))
}

// elemBytes is the size of one element of an input cvgate feeds.
func elemBytes(d DType) int64 {
	if d == Uint8 {
		return 1
	}
	return 4
}

// ValidateInput refuses an input whose declared shape cannot be fed within the budget: a rank
// beyond 8, dimensions below -1, more elements than fit an int64, or one sample (one fixed batch
// for a fixed-batch model) over MaxSampleBytes. Dynamic dimensions (-1) other than the batch are
// decided by preprocessing later and checked again by CheckDims. The message says what the model
// declares and what cvgate allows.
func ValidateInput(t TensorInfo, b Budget) error {
	if len(t.Shape) > 8 {
		return fmt.Errorf("input %q has rank %d; cvgate feeds images (rank 2 to 4)", t.Name, len(t.Shape))
	}
	for i, d := range t.Shape {
		if d < -1 {
			return fmt.Errorf("input %q declares dimension %d as %d", t.Name, i, d)
		}
	}
	if len(t.Shape) == 0 {
		return nil
	}
	batch := t.Shape[0]
	if batch <= 0 {
		batch = 1
	}
	return checkElements(t.Name, t.ShapeString(), t.DType, append([]int64{batch}, t.Shape[1:]...), b)
}

// CheckDims checks the shape of one sample as preprocessing decided it (dims without the batch
// dimension, e.g. when the model's spatial dimensions are dynamic) against the budget.
func CheckDims(m *Model, dims []int64, b Budget) error {
	batch := int64(1)
	if m.FixedBatch {
		batch = int64(m.Batch)
	}
	return checkElements(m.Input.Name, fmt.Sprint(dims), m.Input.DType, append([]int64{batch}, dims...), b)
}

func checkElements(name, shown string, dt DType, dims []int64, b Budget) error {
	n := uint64(elemBytes(dt))
	for _, d := range dims {
		if d <= 0 {
			continue // dynamic: decided later
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return fmt.Errorf("input %q declares shape %s: more bytes than a computer has; cvgate refuses it", name, shown)
		}
		n = lo
	}
	if limit := b.MaxSampleBytes(); int64(n) > limit {
		return fmt.Errorf("input %q declares shape %s: %s per forward pass, over the %s cvgate allows for one input (a sixteenth of runtime.memory_mb's batch buffers); "+
			"a model this large is refused before any image is fed", name, shown, size(int64(n)), size(limit))
	}
	return nil
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
