package onnx_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
)

// The CPU path records what it ran on and never looks for the CUDA libraries.
func TestPlacementCPU(t *testing.T) {
	rt := ortlib.Runtime(t)
	for _, tt := range []struct {
		model string
		dims  []int64
	}{
		{"mnist_cnn.onnx", []int64{1, 28, 28}},
		{"mnist_nhwc_uint8.onnx", []int64{28, 28, 1}},
		{"mnist_fixed_b1_nonsquare.onnx", nil},
	} {
		t.Run(tt.model, func(t *testing.T) {
			m, err := onnx.Open(rt, ortlib.Model(t, tt.model), onnx.Options{Threads: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if p := m.Placement(); p.Requested != onnx.ProviderCPU || p.Obtained != onnx.ProviderCPU || p.Note != "" || p.Nodes != nil {
				t.Errorf("placement %+v, want cpu obtained, nothing measured", p)
			}
			dims := tt.dims
			if dims == nil {
				dims = m.Input.Shape[1:]
			}
			// The profiler itself, on the CPU: every node of the optimised graph, on the CPU.
			nodes, ops, err := onnx.ProfilePlacement(context.Background(), m, dims)
			if err != nil {
				t.Fatal(err)
			}
			if len(nodes) != 1 || nodes["CPUExecutionProvider"] < 2 || len(ops) == 0 {
				t.Errorf("nodes %v, cpu ops %v: want only CPUExecutionProvider, at least 2 nodes", nodes, ops)
			}
		})
	}
}

// withLibDir is rt as if its core library sat in dir (the CUDA provider files are looked for
// beside it), with the real library copied or linked there is not needed: the check comes first.
func withLibDir(rt *onnx.Runtime, dir string) *onnx.Runtime {
	c := *rt
	c.LibPath = filepath.Join(dir, "libonnxruntime.so.1")
	return &c
}

// Without the CUDA provider libraries, cuda fails naming the missing file and the command that
// installs it; auto runs on the CPU and says why.
func TestCUDALibrariesMissing(t *testing.T) {
	rt := ortlib.Runtime(t)
	model := ortlib.Model(t, "mnist_cnn.onnx")
	empty := t.TempDir()
	half := t.TempDir()
	if err := os.WriteFile(filepath.Join(half, "libonnxruntime_providers_shared.so"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, dir, missing string
	}{
		{"none", empty, "libonnxruntime_providers_shared.so"},
		{"shared only", half, "libonnxruntime_providers_cuda.so"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lrt := withLibDir(rt, tt.dir)
			_, err := onnx.Open(lrt, model, onnx.Options{Provider: onnx.ProviderCUDA}, nil)
			var pe *onnx.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *onnx.ProviderError", err)
			}
			for _, want := range []string{filepath.Join(tt.dir, tt.missing) + " is missing", "scripts/setup-ort --cuda", "cuda was required but not obtained"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			m, err := onnx.Open(lrt, model, onnx.Options{Provider: onnx.ProviderAuto, Threads: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			p := m.Placement()
			if p.Requested != onnx.ProviderAuto || p.Obtained != onnx.ProviderCPU || !strings.Contains(p.Note, "ran on the CPU") || !strings.Contains(p.Note, tt.missing) {
				t.Errorf("placement %+v: want auto, cpu obtained, a note naming %s", p, tt.missing)
			}
			if _, _, err := onnx.Run(context.Background(), m, make([]float32, 784), 1, []int64{1, 28, 28}); err != nil {
				t.Errorf("the CPU fallback does not run: %v", err)
			}
			// Later sessions of the model ask for what it obtained, without another attempt.
			w, err := m.WithThreads(1)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if p := w.Placement(); p.Requested != onnx.ProviderCPU || p.Obtained != onnx.ProviderCPU {
				t.Errorf("WithThreads placement %+v", p)
			}
		})
	}
}

// With the CUDA provider installed beside the core library (scripts/setup-ort --cuda): on a
// machine without a usable GPU, cuda fails with the loader's or ONNX Runtime's reason and auto
// falls back; on one with a GPU, the session gets CUDA and its nodes are placed on it.
func TestCUDAProviderInstalled(t *testing.T) {
	rt := ortlib.Runtime(t)
	dir := filepath.Dir(rt.LibPath)
	for _, f := range []string{"libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Skipf("the CUDA provider is not installed beside %s (%s installs it): %v", rt.LibPath, onnx.CUDASetupCommand, err)
		}
	}
	model := ortlib.Model(t, "mnist_cnn.onnx")
	m, err := onnx.Open(rt, model, onnx.Options{Provider: onnx.ProviderCUDA}, nil)
	if err == nil {
		defer m.Close()
		if p := m.Placement(); p.Obtained != onnx.ProviderCUDA {
			t.Fatalf("placement %+v", p)
		}
		if err := m.ResolvePlacement(context.Background(), []int64{1, 28, 28}); err != nil {
			t.Fatal(err)
		}
		p := m.Placement()
		if p.Nodes["CUDAExecutionProvider"] == 0 {
			t.Errorf("placement %+v: no node on CUDA", p)
		}
		t.Logf("CUDA obtained: %+v", p)
		return
	}
	var pe *onnx.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v, want a *onnx.ProviderError", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "cuda was required but not obtained") ||
		!(strings.Contains(msg, "cannot open shared object file") || strings.Contains(msg, "could not create a CUDA session")) {
		t.Errorf("error %q: want the loader's missing library or ONNX Runtime's CUDA failure", msg)
	}
	t.Logf("no usable GPU here: %v", err)
	a, err := onnx.Open(rt, model, onnx.Options{Provider: onnx.ProviderAuto}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if p := a.Placement(); p.Obtained != onnx.ProviderCPU || !strings.Contains(p.Note, "ran on the CPU") {
		t.Errorf("auto placement %+v", p)
	}
}
