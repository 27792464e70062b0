package onnx_test

import (
	"context"
	"testing"

	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
)

// TestWithThreads: a second session with another thread count keeps the file, the batch and the
// answers, and counts its work apart from the first.
func TestWithThreads(t *testing.T) {
	rt := ortlib.Runtime(t)
	stats := &onnx.Stats{}
	m, err := onnx.Open(rt, ortlib.Model(t, "mnist_cnn.onnx"), onnx.Options{BatchSize: 16}, stats)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	path := m.Path
	m.Path = "shown as models/m.onnx" // callers rename models for display; the file stays
	one, err := m.WithThreads(1)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if one.Path != path || one.Batch != 16 || one.SHA256 != m.SHA256 || one.Stats() == m.Stats() {
		t.Errorf("reopened: path %q batch %d sha %.8s; shared stats %v", one.Path, one.Batch, one.SHA256, one.Stats() == m.Stats())
	}
	data := make([]float32, 20*28*28)
	for i := range data {
		data[i] = float32(i%251) / 251
	}
	a, _, err := onnx.Run(context.Background(), m, data, 20, []int64{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := onnx.Run(context.Background(), one, data, 20, []int64{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if d := a[i] - b[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("output %d: %g with all cores, %g with one thread", i, a[i], b[i])
		}
	}
	if stats.Samples() != 20 || one.Stats().Samples() != 20 {
		t.Errorf("samples counted %d and %d, want 20 each", stats.Samples(), one.Stats().Samples())
	}
}
