package onnx_test

import (
	"context"
	"slices"
	"testing"

	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
)

// TestFeedMatchesRun: a Feed gives exactly what Run gives for the same samples, for short and full
// batches, when full batches reuse their output tensor (the same batch twice, another in between),
// for uint8 input and for a fixed batch of 1, and counts its passes and samples in the stats.
func TestFeedMatchesRun(t *testing.T) {
	rt := ortlib.Runtime(t)
	tests := []struct {
		model string
		batch int
		dims  []int64
		rows  []int // batch sizes fed in turn
	}{
		{"mnist_cnn.onnx", 4, []int64{1, 28, 28}, []int{4, 1, 4, 3, 4, 4}},
		{"mnist_nhwc_uint8.onnx", 3, []int64{28, 28, 1}, []int{2, 3, 3, 1}},
		{"mnist_fixed_b1_nonsquare.onnx", 8, []int64{1, 32, 24}, []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			stats := &onnx.Stats{}
			m, err := onnx.Open(rt, ortlib.Model(t, tt.model), onnx.Options{BatchSize: tt.batch, Threads: 1}, stats)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Input.DType == onnx.Uint8 {
				checkFeed[uint8](t, m, stats, tt.dims, tt.rows, func(i int) uint8 { return uint8(i * 7 % 256) })
			} else {
				checkFeed[float32](t, m, stats, tt.dims, tt.rows, func(i int) float32 { return float32(i*7%256) / 255 })
			}
		})
	}
}

func checkFeed[T float32 | uint8](t *testing.T, m *onnx.Model, stats *onnx.Stats, dims []int64, rows []int, value func(int) T) {
	t.Helper()
	ctx := context.Background()
	per := 1
	for _, d := range dims {
		per *= int(d)
	}
	f, err := onnx.NewFeed[T](m, dims)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var prev []float32
	for call, n := range rows {
		data := make([]T, n*per)
		for i := range data {
			data[i] = value(i + call*13) // each call different
		}
		want, wantWidth, err := onnx.Run(ctx, m, data, n, dims)
		if err != nil {
			t.Fatal(err)
		}
		before := stats.Samples()
		copy(f.Input(n), data)
		got, width, err := f.Run(ctx, n)
		if err != nil {
			t.Fatalf("call %d (%d rows): %v", call, n, err)
		}
		if width != wantWidth || !slices.Equal(got, want) {
			t.Fatalf("call %d (%d rows): width %d values %v, want width %d %v", call, n, width, got, wantWidth, want)
		}
		wantSamples := int64(n)
		if m.FixedBatch {
			wantSamples = int64(m.Batch) // padded
		}
		if d := stats.Samples() - before; d != wantSamples {
			t.Errorf("call %d: stats counted %d samples for %d", call, d, n)
		}
		if slices.Equal(got, prev) {
			t.Errorf("call %d: same output as the call before for different input", call)
		}
		prev = slices.Clone(got)
	}
	if _, _, err := f.Run(ctx, f.Batch()+1); err == nil {
		t.Error("a batch over Batch ran")
	}
	if _, _, err := f.Run(ctx, 0); err == nil {
		t.Error("an empty batch ran")
	}
}
