package onnx

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// BenchmarkRunBatch measures ONNX Runtime's own cost per sample at the batch sizes attacks use, one
// thread, with prebuilt input and output tensors (no conversion, no allocation): the ceiling any
// caller can reach ("batchN"), and the same through Run ("RunN": a tensor per call, ORT's output
// copied out). Read cpu-us/sample. CVGATE_BENCH_MODEL names an [N,1,28,28] -> [N,10] model (default: the MNIST
// CNN fixture), e.g. the LeNet-5 that scripts/compare-art-hsj trains.
func BenchmarkRunBatch(b *testing.B) {
	lib := os.Getenv("ORT_LIB")
	if lib == "" {
		b.Skip("ORT_LIB is not set")
	}
	rt, err := Init(lib)
	if err != nil {
		b.Fatal(err)
	}
	path := os.Getenv("CVGATE_BENCH_MODEL")
	if path == "" {
		_, file, _, _ := runtime.Caller(0)
		path = filepath.Join(filepath.Dir(file), "..", "..", "testdata", "models", "mnist_cnn.onnx")
	}
	m, err := Open(rt, path, Options{Threads: 1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	for _, n := range []int{1, 16, 20, 32, 64, 128, 256} {
		b.Run(fmt.Sprint("batch", n), func(b *testing.B) {
			data := make([]float32, n*28*28)
			for i := range data {
				data[i] = float32(i%251) / 250
			}
			in, err := ort.NewTensor(ort.NewShape(int64(n), 1, 28, 28), data)
			if err != nil {
				b.Fatal(err)
			}
			defer in.Destroy()
			out, err := ort.NewEmptyTensor[float32](ort.NewShape(int64(n), 10))
			if err != nil {
				b.Fatal(err)
			}
			defer out.Destroy()
			// ONNX Runtime with one thread computes on the calling thread, whose CPU time a busy
			// shared machine disturbs far less than wall time.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPU(b)
			for b.Loop() {
				if err := m.session.Run([]ort.Value{in}, []ort.Value{out}); err != nil {
					b.Fatal(err)
				}
			}
			cpu := threadCPU(b) - cpu0
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N*n), "wall-us/sample")
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N*n), "cpu-us/sample")
		})
		b.Run(fmt.Sprint("Run", n), func(b *testing.B) {
			data := make([]float32, n*28*28)
			for i := range data {
				data[i] = float32(i%251) / 250
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPU(b)
			for b.Loop() {
				if _, _, err := Run(context.Background(), m, data, n, []int64{1, 28, 28}); err != nil {
					b.Fatal(err)
				}
			}
			cpu := threadCPU(b) - cpu0
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N*n), "cpu-us/sample")
		})
	}
}

// threadCPU is the CPU time the calling OS thread has used.
func threadCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
