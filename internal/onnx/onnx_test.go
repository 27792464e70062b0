package onnx_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
)

func TestOpenSignatures(t *testing.T) {
	rt := ortlib.Runtime(t)
	tests := []struct {
		model      string
		input      string
		dtype      onnx.DType
		shape      string
		output     string
		fixedBatch bool
	}{
		{"mnist_cnn.onnx", "input", onnx.Float32, "[?,1,28,28]", "logits", false},
		{"mnist_nhwc_uint8.onnx", "image", onnx.Uint8, "[?,28,28,1]", "probabilities", false},
		{"mnist_fixed_b1_nonsquare.onnx", "pixel_values", onnx.Float32, "[1,1,32,24]", "scores", true},
		{"mnist_mlp_flat.onnx", "x", onnx.Float32, "[?,784]", "", false},
		{"mnist_rgb_color.onnx", "", onnx.Float32, "[?,3,28,28]", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			m, err := onnx.Open(rt, ortlib.Model(t, tt.model), onnx.Options{BatchSize: 16}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if tt.input != "" && m.Input.Name != tt.input {
				t.Errorf("input %q, want %q", m.Input.Name, tt.input)
			}
			if m.Input.DType != tt.dtype || m.Input.ShapeString() != tt.shape {
				t.Errorf("input %s %s, want %s %s", m.Input.DType, m.Input.ShapeString(), tt.dtype, tt.shape)
			}
			if tt.output != "" && m.Output.Name != tt.output {
				t.Errorf("output %q, want %q", m.Output.Name, tt.output)
			}
			if m.FixedBatch != tt.fixedBatch {
				t.Errorf("FixedBatch %v, want %v", m.FixedBatch, tt.fixedBatch)
			}
			if len(m.SHA256) != 64 || m.SizeBytes == 0 {
				t.Errorf("hash %q size %d", m.SHA256, m.SizeBytes)
			}
		})
	}
}

// TestRunBatchingIsInvisible runs the same samples with several batch sizes and with a fixed
// batch-1 model, and expects identical outputs: batching and padding must not change answers.
func TestRunBatchingIsInvisible(t *testing.T) {
	rt := ortlib.Runtime(t)
	const n = 37 // not a multiple of any batch size below
	data := make([]float32, n*28*28)
	for i := range data {
		data[i] = float32((i*7919)%255) / 255
	}
	var ref []float32
	for _, batch := range []int{1, 8, 64} {
		stats := &onnx.Stats{}
		m, err := onnx.Open(rt, ortlib.Model(t, "mnist_cnn.onnx"), onnx.Options{BatchSize: batch, Threads: 1}, stats)
		if err != nil {
			t.Fatal(err)
		}
		out, width, err := onnx.Run(context.Background(), m, data, n, []int64{1, 28, 28})
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		if width != 10 || len(out) != n*10 {
			t.Fatalf("batch %d: width %d len %d", batch, width, len(out))
		}
		if want := int64((n + batch - 1) / batch); stats.Calls() != want || stats.Samples() != n {
			t.Errorf("batch %d: %d calls %d samples, want %d calls %d samples", batch, stats.Calls(), stats.Samples(), want, n)
		}
		if ref == nil {
			ref = out
			continue
		}
		for i := range out {
			if math.Abs(float64(out[i]-ref[i])) > 1e-4 {
				t.Fatalf("batch %d: output %d is %g, batch 1 gave %g", batch, i, out[i], ref[i])
			}
		}
	}
}

func TestFixedBatchPadding(t *testing.T) {
	rt := ortlib.Runtime(t)
	m, err := onnx.Open(rt, ortlib.Model(t, "mnist_fixed_b1_nonsquare.onnx"), onnx.Options{BatchSize: 64}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Batch != 1 {
		t.Fatalf("Batch = %d, want the fixed 1", m.Batch)
	}
	data := make([]float32, 3*32*24)
	out, width, err := onnx.Run(context.Background(), m, data, 3, []int64{1, 32, 24})
	if err != nil {
		t.Fatal(err)
	}
	if width != 10 || len(out) != 30 {
		t.Errorf("width %d len %d", width, len(out))
	}
}

func TestOpenErrors(t *testing.T) {
	rt := ortlib.Runtime(t)
	dir := t.TempDir()
	good, err := os.ReadFile(ortlib.Model(t, "mnist_cnn.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
		opts onnx.Options
		want string
	}{
		{"missing", filepath.Join(dir, "nope.onnx"), onnx.Options{}, "no such file"},
		{"empty", write("empty.onnx", nil), onnx.Options{}, "empty"},
		{"truncated", write("half.onnx", good[:len(good)/2]), onnx.Options{}, "not a model ONNX Runtime can load"},
		{"not onnx", write("text.onnx", []byte("hello, I am not a model")), onnx.Options{}, "not a model ONNX Runtime can load"},
		{"directory", dir, onnx.Options{}, "directory"},
		{"unknown input", ortlib.Model(t, "mnist_cnn.onnx"), onnx.Options{Input: "pixels"}, `no input named "pixels"`},
		{"unknown output", ortlib.Model(t, "mnist_cnn.onnx"), onnx.Options{Output: "probs"}, `no output named "probs"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := onnx.Open(rt, tt.path, tt.opts, nil)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), filepath.Base(tt.path)) {
				t.Errorf("error %q should mention %q and the file", err, tt.want)
			}
		})
	}
}

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libonnxruntime.so.1")
	if err := os.WriteFile(lib, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	setup := filepath.Join(home, "onnxruntime", onnx.PinnedVersion, "libonnxruntime.so.1")
	if err := os.MkdirAll(filepath.Dir(setup), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(setup, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name     string
		explicit string
		env      map[string]string
		want     string
		wantErr  string
	}{
		{"explicit wins", lib, map[string]string{"ORT_LIB": "/nope"}, lib, ""},
		{"explicit missing", filepath.Join(dir, "missing.so"), nil, "", "--ort-lib"},
		{"env", "", map[string]string{"ORT_LIB": lib}, lib, ""},
		{"env missing", "", map[string]string{"ORT_LIB": "/nope/lib.so"}, "", "ORT_LIB"},
		{"setup location", "", map[string]string{"CVGATE_HOME": home}, setup, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := onnx.Locate(tt.explicit, env(tt.env), "")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Locate = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	// Nothing anywhere: a typed error naming the setup command.
	_, err := onnx.Locate("", env(map[string]string{"CVGATE_HOME": t.TempDir()}), "")
	var me *onnx.MissingLibraryError
	if _, statErr := os.Stat("/usr/local/lib/libonnxruntime.so.1"); statErr == nil {
		t.Skip("a system-wide library exists on this machine")
	}
	if !errors.As(err, &me) || !strings.Contains(err.Error(), onnx.SetupCommand) || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %v should be a one-line MissingLibraryError naming %s", err, onnx.SetupCommand)
	}
}

func TestDetectKindAndSoftmax(t *testing.T) {
	tests := []struct {
		name string
		rows []float32
		want onnx.OutputKind
	}{
		{"probabilities", []float32{0.1, 0.9, 0.5, 0.5}, onnx.Probabilities},
		{"logits", []float32{2, -1, 0.3, 0.1}, onnx.Logits},
		{"in range but not summing to one", []float32{0.2, 0.2, 0.1, 0.1}, onnx.Logits},
		{"NaN rows ignored", []float32{float32(math.NaN()), 1, 0.25, 0.75}, onnx.Probabilities},
		{"all NaN", []float32{float32(math.NaN()), 1}, onnx.Logits},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := onnx.DetectKind(tt.rows, 2); got != tt.want {
				t.Errorf("DetectKind = %s, want %s", got, tt.want)
			}
		})
	}
	p := onnx.ToProbabilities([]float32{1000, 1000, 0, math.MaxFloat32}, 2, onnx.Logits)
	if math.Abs(float64(p[0])-0.5) > 1e-6 || math.Abs(float64(p[1])-0.5) > 1e-6 {
		t.Errorf("softmax of large equal logits = %v, want 0.5 each (numerically stable)", p[:2])
	}
	if p[3] != 1 || p[2] != 0 {
		t.Errorf("softmax of (0, max) = %v, want (0, 1)", p[2:])
	}
}

func TestAutoBatch(t *testing.T) {
	tests := []struct{ sample, want int }{
		{784, 64},            // MNIST: capped at 64
		{3 * 224 * 224, 13},  // ImageNet size: ~8 MB of input per batch
		{3 * 1024 * 1024, 1}, // huge inputs: one at a time
		{0, 16},              // unknown size
	}
	for _, tt := range tests {
		if got := onnx.AutoBatch(tt.sample); got != tt.want {
			t.Errorf("AutoBatch(%d) = %d, want %d", tt.sample, got, tt.want)
		}
	}
}
