package onnx_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/onnxproto/onnxtest"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
)

// TestEndlessLoopStops runs a model whose Loop has 10^15 iterations (hours of work) and expects
// every way of stopping a forward pass to stop it within a second or two: the model's own pass
// limit, the caller's deadline, and the caller's cancellation (what SIGTERM does).
func TestEndlessLoopStops(t *testing.T) {
	rt := ortlib.Runtime(t)
	path := onnxtest.Write(t, t.TempDir(), "endless.onnx", onnxtest.Loop(1e15))
	cause := errors.New("received SIGTERM")
	tests := []struct {
		name   string
		pass   time.Duration
		ctx    func() (context.Context, context.CancelFunc)
		wantIs error
		want   string
	}{
		{"pass timeout", 300 * time.Millisecond, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			context.DeadlineExceeded, "runtime.pass_timeout (300ms)"},
		{"caller deadline", 0, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		}, context.DeadlineExceeded, "deadline exceeded"},
		{"caller cancels", 0, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancelCause(context.Background())
			time.AfterFunc(300*time.Millisecond, func() { cancel(cause) })
			return ctx, func() { cancel(nil) }
		}, cause, "received SIGTERM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := onnx.Open(rt, path, onnx.Options{Threads: 1, PassTimeout: tt.pass}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			_, _, err = onnx.Run(ctx, m, make([]float32, 2*30), 2, []int64{1, 5, 6})
			took := time.Since(start)
			if err == nil {
				t.Fatal("the endless loop returned a result")
			}
			if !errors.Is(err, tt.wantIs) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q (is %v: %v), want %q", err, tt.wantIs, errors.Is(err, tt.wantIs), tt.want)
			}
			if took > 3*time.Second {
				t.Errorf("stopping took %s, want well under 3 s after the 300 ms limit", took)
			}
		})
	}
}

// TestLoopFinishes: the same graph with a few iterations runs normally under a pass limit, so the
// limit and the run options do not change answers.
func TestLoopFinishes(t *testing.T) {
	rt := ortlib.Runtime(t)
	m, err := onnx.Open(rt, onnxtest.Write(t, t.TempDir(), "short.onnx", onnxtest.Loop(3)), onnx.Options{Threads: 1, PassTimeout: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	in := make([]float32, 60)
	for i := range in {
		in[i] = float32(i)
	}
	out, width, err := onnx.Run(context.Background(), m, in, 2, []int64{1, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	if width != 30 || len(out) != 60 || out[43] != 43 {
		t.Errorf("width %d, out %v; want the input carried through", width, out)
	}
}

// TestHugeInputRefused: a model of a few hundred bytes declaring a [1,1,50000,50000] float input
// is refused when it is opened, with a message naming the shape and the limit, instead of
// crashing the first batch allocation.
func TestHugeInputRefused(t *testing.T) {
	rt := ortlib.Runtime(t)
	dir := t.TempDir()
	tests := []struct {
		name   string
		model  []byte
		budget onnx.Budget
		want   string
	}{
		{"50000x50000", onnxtest.HugeInput(50000, 50000), onnx.Budget{}, "input \"x\" declares shape [1,1,50000,50000]: 9.3 GiB per forward pass, over the 64.0 MiB"},
		{"overflows int64", onnxtest.HugeInput(1<<40, 1<<40), onnx.Budget{}, "more bytes than a computer has"},
		{"over a small budget", onnxtest.HugeInput(1024, 1024), onnx.Budget{Bytes: 32 << 20}, "4.0 MiB per forward pass, over the 2.0 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := onnxtest.Write(t, dir, tt.name+".onnx", tt.model)
			if len(tt.model) > 400 {
				t.Errorf("the model is %d bytes; the point is that it is tiny", len(tt.model))
			}
			m, err := onnx.Open(rt, p, onnx.Options{Budget: tt.budget}, nil)
			if err == nil {
				m.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
	// Within the budget the same graph opens and runs.
	m, err := onnx.Open(rt, onnxtest.Write(t, dir, "small.onnx", onnxtest.HugeInput(28, 28)), onnx.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out, w, err := onnx.Run(context.Background(), m, make([]float32, 28*28), 1, []int64{1, 28, 28})
	if err != nil || w != 10 || out[3] != 1 {
		t.Fatalf("run: %v %v %d", out, err, w)
	}
}

func TestBudgetSamples(t *testing.T) {
	tests := []struct {
		budget  int64
		sample  int64
		buffers int
		limit   int
		want    int
	}{
		{1 << 30, 602112, 8, 32, 32},      // 224x224x3 float: the pipeline's 32
		{1 << 30, 12 << 20, 8, 32, 10},    // 1024x1024x3 float: fewer per chunk
		{1 << 30, 64 << 20, 8, 32, 2},     // the largest accepted input
		{1 << 20, 64 << 20, 8, 32, 1},     // never zero
		{0, 602112, 8, 32, 32},            // zero budget: the default
		{1 << 30, 0, 8, 32, 32},           // unknown size: the caller's
		{1 << 30, 784 * 4, 8, 4096, 4096}, // small inputs: the caller's limit
	}
	for _, tt := range tests {
		if got := (onnx.Budget{Bytes: tt.budget}).Samples(tt.sample, tt.buffers, tt.limit); got != tt.want {
			t.Errorf("Budget{%d}.Samples(%d, %d, %d) = %d, want %d", tt.budget, tt.sample, tt.buffers, tt.limit, got, tt.want)
		}
	}
}
