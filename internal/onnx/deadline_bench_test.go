package onnx

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// BenchmarkRunDeadline measures what the run options and their watcher add to one forward pass
// of the MNIST CNN at batch 1 (the latency check's setting, where a fixed cost shows most):
// "bare" is the session's own Run, "deadline" the same call through runUnder with a pass limit
// and a caller deadline. Compare the two within one run.
func BenchmarkRunDeadline(b *testing.B) {
	lib := os.Getenv("ORT_LIB")
	if lib == "" {
		b.Skip("ORT_LIB is not set")
	}
	rt, err := Init(lib)
	if err != nil {
		b.Fatal(err)
	}
	_, file, _, _ := runtime.Caller(0)
	m, err := Open(rt, filepath.Join(filepath.Dir(file), "..", "..", "testdata", "models", "mnist_cnn.onnx"), Options{Threads: 1, BatchSize: 1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	in, err := ort.NewTensor(ort.NewShape(1, 1, 28, 28), make([]float32, 28*28))
	if err != nil {
		b.Fatal(err)
	}
	defer in.Destroy()
	run := func(ro *ort.RunOptions) error {
		out := []ort.Value{nil}
		err := m.session.RunWithOptions([]ort.Value{in}, out, ro)
		if out[0] != nil {
			out[0].Destroy()
		}
		return err
	}
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			if err := run(nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("deadline", func(b *testing.B) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		for b.Loop() {
			if err := runUnder(ctx, time.Minute, run); err != nil {
				b.Fatal(err)
			}
		}
	})
}
