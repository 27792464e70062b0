package onnxgraph

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/onnxproto"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
)

func load(t testing.TB, name string) ([]byte, *Graph) {
	t.Helper()
	b, err := os.ReadFile(ortlib.Model(t, name))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Parse(b)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return b, g
}

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		model      string
		ir, opset  int64
		nodes      int
		input      string
		inputType  onnxproto.DataType
		output     string
		batchParam bool
	}{
		{"mnist_cnn.onnx", 7, 13, 10, "input", onnxproto.Float, "logits", true},
		{"mnist_nhwc_uint8.onnx", 7, 13, 15, "image", onnxproto.Uint8, "probabilities", true},
		{"mnist_fixed_b1_nonsquare.onnx", 3, 7, 10, "pixel_values", onnxproto.Float, "scores", false},
		{"mnist_weak.onnx", 7, 13, 2, "input", onnxproto.Float, "logits", true},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			_, g := load(t, tc.model)
			if g.IRVersion != tc.ir || g.Opset != tc.opset || len(g.Nodes) != tc.nodes {
				t.Errorf("ir %d opset %d nodes %d, want %d %d %d", g.IRVersion, g.Opset, len(g.Nodes), tc.ir, tc.opset, tc.nodes)
			}
			in, ok := g.Input("")
			if !ok || in.Name != tc.input || in.ElemType != tc.inputType {
				t.Errorf("input %+v, want %s of type %s", in, tc.input, tc.inputType)
			}
			out, ok := g.Output(tc.output)
			if !ok || !out.HasShape || len(out.Dims) != 2 {
				t.Fatalf("output %+v", out)
			}
			if got := out.Dims[0].Param != ""; got != tc.batchParam {
				t.Errorf("batch dim %+v, symbolic %v want %v", out.Dims[0], got, tc.batchParam)
			}
			if out.Dims[1].Size != 10 {
				t.Errorf("class dim %+v, want 10", out.Dims[1])
			}
		})
	}
}

func TestFindHead(t *testing.T) {
	tests := []struct {
		model, output                     string
		logits, features, pre, activation string
		softmax                           bool
		note                              string
	}{
		{"mnist_cnn.onnx", "logits", "logits", "/Relu_2_output_0", "/fc1/Gemm_output_0", "Relu", false, ""},
		{"mnist_nhwc_uint8.onnx", "probabilities", "/net/fc2/Gemm_output_0", "/net/Relu_2_output_0", "/net/fc1/Gemm_output_0", "Relu", true, ""},
		{"mnist_mlp_flat.onnx", "logits", "logits", "/Relu_output_0", "/fc1/Gemm_output_0", "Relu", false, ""},
		// Logistic regression: the final layer's input is the flattened image, not an activation.
		{"mnist_weak.onnx", "logits", "logits", "/Flatten_output_0", "", "", false, ""},
		// Constant logits broadcast by Expand: no layer to read.
		{"mnist_constant.onnx", "logits", "logits", "", "", "", false, "not from a Gemm or MatMul"},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			_, g := load(t, tc.model)
			h, err := g.FindHead(tc.output)
			if err != nil {
				t.Fatal(err)
			}
			if h.Logits != tc.logits || h.Features != tc.features || h.PreActivation != tc.pre || h.Activation != tc.activation || h.Softmax != tc.softmax {
				t.Errorf("head %+v", h)
			}
			if tc.note == "" && h.FeaturesNote != "" || !strings.Contains(h.FeaturesNote, tc.note) {
				t.Errorf("note %q, want it to contain %q", h.FeaturesNote, tc.note)
			}
		})
	}
	_, g := load(t, "mnist_cnn.onnx")
	if _, err := g.FindHead("nope"); err == nil {
		t.Error("FindHead of a missing output: no error")
	}
}

// TestAppendKeepsOriginal: the appended model holds the original graph's bytes verbatim, and
// parsing it back gives the original graph plus the additions.
func TestAppendKeepsOriginal(t *testing.T) {
	orig, g := load(t, "mnist_cnn.onnx")
	add := Additions{
		Initializers: []Tensor{{Name: "g/two", Dims: []int64{}, Float32: []float32{2}}},
		Nodes:        []NewNode{{OpType: "Mul", Name: "g/mul", Inputs: []string{"logits", "g/two"}, Outputs: []string{"g/doubled"}}},
		Outputs:      []Value{{Name: "g/doubled", ElemType: onnxproto.Float}},
	}
	b, err := g.Append(add)
	if err != nil {
		t.Fatal(err)
	}
	old := g.graphField.payload(orig)
	if !bytes.Contains(b, old) {
		t.Fatal("the original graph's bytes are not in the new model")
	}
	if !bytes.Equal(b[:g.graphField.start], orig[:g.graphField.start]) || !bytes.HasSuffix(b, orig[g.graphField.end:]) {
		t.Error("bytes outside the graph field changed")
	}
	g2, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(g2.Nodes) != len(g.Nodes)+1 || len(g2.Outputs) != 2 || g2.Nodes[len(g2.Nodes)-1].OpType != "Mul" {
		t.Errorf("parsed back: %d nodes, outputs %+v", len(g2.Nodes), g2.Outputs)
	}
	if _, ok := g2.Initializers["g/two"]; !ok {
		t.Error("initializer lost")
	}
	// Dropping an output removes exactly that entry.
	b3, err := g2.Append(Additions{DropOutputs: []string{"g/doubled"}})
	if err != nil {
		t.Fatal(err)
	}
	g3, _ := Parse(b3)
	if len(g3.Outputs) != 1 || g3.Outputs[0].Name != "logits" || len(g3.Nodes) != len(g2.Nodes) {
		t.Errorf("after drop: outputs %+v", g3.Outputs)
	}
}

func TestAppendRefuses(t *testing.T) {
	_, g := load(t, "mnist_cnn.onnx")
	tests := []struct {
		name    string
		add     Additions
		wantErr string
	}{
		{"existing name", Additions{Nodes: []NewNode{{OpType: "Identity", Inputs: []string{"input"}, Outputs: []string{"logits"}}}}, "already has a value"},
		{"undefined input", Additions{Nodes: []NewNode{{OpType: "Identity", Inputs: []string{"ghost"}, Outputs: []string{"x"}}}}, "not defined"},
		{"output nothing computes", Additions{Outputs: []Value{{Name: "ghost"}}}, "no node or initializer"},
		{"duplicate output", Additions{Outputs: []Value{{Name: "logits"}}}, "already has that output"},
		{"wrong initializer size", Additions{Initializers: []Tensor{{Name: "w", Dims: []int64{2, 2}, Float32: []float32{1}}}}, "1 values for shape"},
		{"drop missing output", Additions{DropOutputs: []string{"nope"}}, "no such output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := g.Append(tc.add)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	orig, _ := load(t, "mnist_weak.onnx")
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"truncated", orig[:len(orig)/2]},
		{"text", []byte("this is not a model")},
		{"no graph", []byte{0x08, 0x07}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.b); err == nil {
				t.Error("no error")
			}
		})
	}
	var fe *FormatError
	if _, err := Parse(orig[:len(orig)/2]); !errors.As(err, &fe) {
		t.Errorf("truncated model: %v, want a *FormatError", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"mnist_weak.onnx", "mnist_constant.onnx", "mnist_fixed_b1_nonsquare.onnx"} {
		b, _ := load(f, name)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(b)
		if err != nil {
			return
		}
		// Whatever parses must survive a head search and an empty append.
		for _, o := range g.Outputs {
			_, _ = g.FindHead(o.Name)
		}
		if _, err := g.Append(Additions{}); err != nil {
			t.Fatalf("empty append of a parsed model: %v", err)
		}
	})
}

// TestAppendedModelRuns: a model with an appended output loads in ONNX Runtime, its original
// output is bit-identical, the new output is what its nodes compute, and onnx.checker accepts it.
func TestAppendedModelRuns(t *testing.T) {
	rt := ortlib.Runtime(t)
	for _, name := range []string{"mnist_cnn.onnx", "mnist_fixed_b1_nonsquare.onnx"} {
		t.Run(name, func(t *testing.T) {
			_, g := load(t, name)
			out := g.Outputs[0].Name
			h, err := g.FindHead(out)
			if err != nil {
				t.Fatal(err)
			}
			add := Additions{
				Initializers: []Tensor{{Name: "g/two", Dims: []int64{}, Float32: []float32{2}}},
				Nodes:        []NewNode{{OpType: "Mul", Name: "g/mul", Inputs: []string{out, "g/two"}, Outputs: []string{"g/doubled"}}},
				Outputs:      []Value{{Name: "g/doubled", ElemType: onnxproto.Float, HasShape: true, Dims: []Dim{g.Outputs[0].Dims[0], {Size: 10}}}, {Name: h.Features, ElemType: onnxproto.Float, HasShape: true, Dims: []Dim{{Size: -1}, {Size: -1}}}},
			}
			b, err := g.Append(add)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "appended.onnx")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			pythonCheck(t, path)
			orig, err := onnx.Open(rt, ortlib.Model(t, name), onnx.Options{Threads: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer orig.Close()
			m, err := onnx.Open(rt, path, onnx.Options{Threads: 1, AllOutputs: true, Output: out}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			dims := orig.Input.Shape[1:]
			per := 1
			for _, d := range dims {
				per *= int(d)
			}
			n := 4
			data := make([]float32, n*per)
			for i := range data {
				data[i] = float32(i%251) / 251
			}
			want, width, err := onnx.Run(context.Background(), orig, data, n, dims)
			if err != nil {
				t.Fatal(err)
			}
			err = onnx.RunBatches(context.Background(), m, data, n, dims, func(start, count int, outs []onnx.Tensor) error {
				byName := map[string]onnx.Tensor{}
				for _, o := range outs {
					byName[o.Name] = o
				}
				got, doubled := byName[out].F32, byName["g/doubled"].F32
				for j := 0; j < count*width; j++ {
					w := want[start*width+j]
					if math.Float32bits(got[j]) != math.Float32bits(w) {
						t.Fatalf("original output differs at %d: %v vs %v", start*width+j, got[j], w)
					}
					if doubled[j] != 2*w {
						t.Fatalf("doubled output %v, want %v", doubled[j], 2*w)
					}
				}
				if f := byName[h.Features]; len(f.Shape) != 2 {
					t.Errorf("features shape %v", f.Shape)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// pythonCheck runs onnx.checker.check_model (Debian's python3-onnx) with full shape inference on a
// model file; it skips when /usr/bin/python3 cannot import onnx.
func pythonCheck(t *testing.T, path string) {
	t.Helper()
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import onnx").Run(); err != nil {
		t.Skipf("no python3-onnx for onnx.checker: %v", err)
	}
	out, err := exec.Command(python, "-c", `import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
print(m.ir_version, [(o.domain, o.version) for o in m.opset_import])`, path).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker rejects %s: %v\n%s", path, err, out)
	}
}
