package guard

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"
	"golang.org/x/sys/unix"

	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
)

// BenchmarkGuardedOverhead runs the original and the guarded model alternately on the same batch
// of MNIST images, one intra-op thread each, and reports both times per image and their ratio
// (the guard's goal: at most 1.05). The guarded model is run for all its outputs, the original's
// and cvgate_ood_score and cvgate_reject. With one intra-op thread ONNX Runtime computes on the
// calling thread, so the thread's CPU time (cpu-ratio) measures the work itself; wall time also
// counts the waits of a busy machine.
func BenchmarkGuardedOverhead(b *testing.B) {
	for _, model := range []string{"mnist_cnn.onnx", "mnist_weak.onnx"} {
		p, _ := openProbe(b, model)
		ref, labels := idxSet(b, mnistDir(b), "train", 2000)
		g, _, err := Learn(context.Background(), p, ref, labels, BuildOptions{Seed: 1, TargetFRR: 0.05})
		if err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		if err := g.WriteFolder(dir, p); err != nil {
			b.Fatal(err)
		}
		for _, batch := range []int{1, 64} {
			b.Run(model+"/batch"+itoa(batch), func(b *testing.B) {
				orig := newTimedSession(b, p.Path, p.InputName, []string{g.Model.Output}, batch, ref)
				defer orig.destroy()
				guarded := newTimedSession(b, filepath.Join(dir, GuardedModelName), p.InputName, []string{g.Model.Output, OutputScore, OutputReject}, batch, ref)
				defer guarded.destroy()
				alternate(b, orig, guarded, batch)
			})
		}
	}
}

// alternate runs the original and the guarded session in turn from one locked OS thread, each
// first every other time so that neither always meets a cold cache, and reports their CPU time
// per image and the ratios.
func alternate(b *testing.B, orig, guarded *timedSession, batch int) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig.run(b)
	guarded.run(b) // warm up both
	var to, tg, co, cg time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		first, second := orig, guarded
		if i%2 == 1 {
			first, second = guarded, orig
		}
		w1, c1 := first.run(b)
		w2, c2 := second.run(b)
		if first == orig {
			to, co, tg, cg = to+w1, co+c1, tg+w2, cg+c2
		} else {
			tg, cg, to, co = tg+w1, cg+c1, to+w2, co+c2
		}
	}
	n := float64(b.N * batch)
	b.ReportMetric(float64(co.Nanoseconds())/n, "cpu-ns/img-original")
	b.ReportMetric(float64(cg.Nanoseconds())/n, "cpu-ns/img-guarded")
	b.ReportMetric(float64(cg)/float64(co), "cpu-ratio")
	b.ReportMetric(float64(tg)/float64(to), "wall-ratio")
}

type timedSession struct {
	s    *ort.DynamicAdvancedSession
	in   []ort.Value
	outs []ort.Value
}

// newSingleThreadSession opens the model with one intra-op and one inter-op thread, so that ONNX
// Runtime computes on the calling thread and its CPU time is the work itself.
func newSingleThreadSession(b *testing.B, path, input string, outputs []string) *ort.DynamicAdvancedSession {
	b.Helper()
	so, err := ort.NewSessionOptions()
	if err != nil {
		b.Fatal(err)
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(1); err != nil {
		b.Fatal(err)
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		b.Fatal(err)
	}
	s, err := ort.NewDynamicAdvancedSession(path, []string{input}, outputs, so)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func newTimedSession(b *testing.B, path, input string, outputs []string, batch int, imgs []*imaging.Image) *timedSession {
	b.Helper()
	s := newSingleThreadSession(b, path, input, outputs)
	data := make([]float32, 0, batch*784)
	for _, img := range imgs[:batch] {
		for _, v := range img.Pix {
			data = append(data, float32(v)/255)
		}
	}
	in, err := ort.NewTensor(ort.NewShape(int64(batch), 1, 28, 28), data)
	if err != nil {
		b.Fatal(err)
	}
	t := &timedSession{s: s, in: []ort.Value{in}}
	for _, o := range outputs {
		var v ort.Value
		switch o {
		case OutputScore:
			v, err = ort.NewEmptyTensor[float32](ort.NewShape(int64(batch)))
		case OutputReject:
			v, err = ort.NewEmptyTensor[bool](ort.NewShape(int64(batch)))
		default:
			v, err = ort.NewEmptyTensor[float32](ort.NewShape(int64(batch), 10))
		}
		if err != nil {
			b.Fatal(err)
		}
		t.outs = append(t.outs, v)
	}
	return t
}

// run returns the wall time and the calling thread's CPU time of one Run.
func (t *timedSession) run(b *testing.B) (time.Duration, time.Duration) {
	c0 := threadCPU(b)
	start := time.Now()
	if err := t.s.Run(t.in, t.outs); err != nil {
		b.Fatal(err)
	}
	return time.Since(start), threadCPU(b) - c0
}

func threadCPU(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (t *timedSession) destroy() {
	t.s.Destroy()
	for _, v := range append(t.in, t.outs...) {
		if v != nil {
			v.Destroy()
		}
	}
}

// BenchmarkBuild learns a guard from 10,000 observed MNIST training images (the statistics,
// the calibration and the combined score; ONNX Runtime's pass is timed by TestMNISTGuard).
func BenchmarkBuild(b *testing.B) {
	for _, model := range []string{"mnist_cnn.onnx", "mnist_weak.onnx"} {
		p, _ := openProbe(b, model)
		ref, labels := idxSet(b, mnistDir(b), "train", 10000)
		obs, err := p.Observe(context.Background(), ref, labels)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(model, func(b *testing.B) {
			for b.Loop() {
				if _, err := Build(obs, BuildOptions{Seed: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGuardedOverheadFile is BenchmarkGuardedOverhead for any model and its guarded form,
// named by CVGATE_GUARD_BENCH_MODEL and CVGATE_GUARD_BENCH_GUARDED (the output of `cvgate guard
// build`), for a model of ordinary size, which the test fixtures lack:
//
//	CVGATE_GUARD_BENCH_MODEL=m.onnx CVGATE_GUARD_BENCH_GUARDED=guard/model.guarded.onnx \
//	  go test ./internal/guard -run - -bench GuardedOverheadFile
//
// The input is seeded noise of the model's input shape (a dynamic batch becomes the benchmark's
// batch): the cost of dense layers and of the guard's arithmetic does not depend on the pixels.
func BenchmarkGuardedOverheadFile(b *testing.B) {
	orig, guarded := os.Getenv("CVGATE_GUARD_BENCH_MODEL"), os.Getenv("CVGATE_GUARD_BENCH_GUARDED")
	if orig == "" || guarded == "" {
		b.Skip("set CVGATE_GUARD_BENCH_MODEL and CVGATE_GUARD_BENCH_GUARDED")
	}
	rt := ortlib.Runtime(b)
	m, err := onnx.Open(rt, orig, onnx.Options{Threads: 1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	input, output, dims := m.Input.Name, m.Output.Name, m.Input.Shape
	m.Close()
	for _, batch := range []int{1, 16} {
		b.Run("batch"+itoa(batch), func(b *testing.B) {
			shape := make([]int64, len(dims))
			n := int64(1)
			for i, d := range dims {
				shape[i] = d
				if d <= 0 {
					shape[i] = int64(batch)
					if i > 0 {
						shape[i] = 1
					}
				}
				n *= shape[i]
			}
			rng := rand.New(rand.NewPCG(1, 2))
			data := make([]float32, n)
			for i := range data {
				data[i] = rng.Float32()
			}
			o := newFileSession(b, orig, input, []string{output}, shape, data)
			defer o.destroy()
			g := newFileSession(b, guarded, input, []string{output, OutputScore, OutputReject}, shape, data)
			defer g.destroy()
			alternate(b, o, g, int(shape[0]))
		})
	}
}

// newFileSession is newTimedSession for any float32 input, its outputs allocated by ONNX Runtime.
func newFileSession(b *testing.B, path, input string, outputs []string, shape []int64, data []float32) *timedSession {
	b.Helper()
	s := newSingleThreadSession(b, path, input, outputs)
	in, err := ort.NewTensor(ort.NewShape(shape...), data)
	if err != nil {
		b.Fatal(err)
	}
	return &timedSession{s: s, in: []ort.Value{in}, outs: make([]ort.Value, len(outputs))}
}
