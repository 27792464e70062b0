// Package onnxtest builds small ONNX models byte by byte for tests: the hostile ones a pull
// request can bring (a Loop that never ends, an input shape that asks for terabytes, external
// data that points out of the model's folder) are easier to state in a few lines of protobuf than
// to keep as binary fixtures. ONNX Runtime itself loads and runs what this writes, so a mistake
// here shows up as a load error in the test, not as a false pass.
//
// Field numbers are onnx.proto's, which ONNX never renumbers.
package onnxtest

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Element types (TensorProto.DataType).
const (
	Float = 1
	Int64 = 7
	Bool  = 9
)

// pb is a protobuf message under construction.
type pb []byte

func (b pb) varint(v uint64) pb {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func (b pb) tag(field, wireType int) pb { return b.varint(uint64(field)<<3 | uint64(wireType)) }
func (b pb) int(field int, v int64) pb  { return b.tag(field, 0).varint(uint64(v)) }
func (b pb) bytes(field int, s []byte) pb {
	return append(b.tag(field, 2).varint(uint64(len(s))), s...)
}
func (b pb) str(field int, s string) pb { return b.bytes(field, []byte(s)) }

// Dim is one dimension of a declared shape: an int64 (fixed) or a string (symbolic, e.g. "N").
type Dim any

// ValueInfo declares a tensor input or output.
func ValueInfo(name string, elem int, dims ...Dim) []byte {
	var shape pb
	for _, d := range dims {
		var dim pb
		switch v := d.(type) {
		case string:
			dim = dim.str(2, v)
		case int:
			dim = dim.int(1, int64(v))
		case int64:
			dim = dim.int(1, v)
		}
		shape = shape.bytes(1, dim)
	}
	tensorType := pb{}.int(1, int64(elem))
	if dims != nil {
		tensorType = tensorType.bytes(2, shape)
	}
	return pb{}.str(1, name).bytes(2, pb{}.bytes(1, tensorType))
}

// Scalar declares a rank-0 tensor.
func Scalar(name string, elem int) []byte {
	tensorType := pb{}.int(1, int64(elem)).bytes(2, nil)
	return pb{}.str(1, name).bytes(2, pb{}.bytes(1, tensorType))
}

func tensor(name string, elem int, dims []int64, raw []byte) pb {
	t := pb{}
	for _, d := range dims {
		t = t.int(1, d)
	}
	return t.int(2, int64(elem)).str(8, name).bytes(9, raw)
}

// Int64Tensor is an initializer of int64 values (little-endian raw_data).
func Int64Tensor(name string, dims []int64, vals ...int64) []byte {
	raw := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return tensor(name, Int64, dims, raw)
}

// FloatTensor is an initializer of float32 values.
func FloatTensor(name string, dims []int64, vals ...float32) []byte {
	raw := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return tensor(name, Float, dims, raw)
}

// BoolTensor is an initializer of booleans.
func BoolTensor(name string, dims []int64, vals ...bool) []byte {
	raw := make([]byte, len(vals))
	for i, v := range vals {
		if v {
			raw[i] = 1
		}
	}
	return tensor(name, Bool, dims, raw)
}

// ExternalTensor is a float initializer whose data lives in another file.
func ExternalTensor(name string, dims []int64, location string, offset, length int64) []byte {
	t := pb{}
	for _, d := range dims {
		t = t.int(1, d)
	}
	t = t.int(2, Float).str(8, name)
	entry := func(k, v string) []byte { return pb{}.str(1, k).str(2, v) }
	t = t.bytes(13, entry("location", location))
	t = t.bytes(13, entry("offset", strconv.FormatInt(offset, 10)))
	t = t.bytes(13, entry("length", strconv.FormatInt(length, 10)))
	return t.int(14, 1)
}

// Attribute types (AttributeProto.AttributeType).
const (
	attrInt   = 2
	attrGraph = 5
	attrInts  = 7
)

// AttrInt is an integer attribute.
func AttrInt(name string, v int64) []byte { return pb{}.str(1, name).int(3, v).int(20, attrInt) }

// AttrInts is a list-of-integers attribute.
func AttrInts(name string, vs ...int64) []byte {
	a := pb{}.str(1, name)
	for _, v := range vs {
		a = a.int(8, v)
	}
	return a.int(20, attrInts)
}

// AttrGraph is a subgraph attribute (Loop's body, If's branches).
func AttrGraph(name string, g []byte) []byte {
	return pb{}.str(1, name).bytes(6, g).int(20, attrGraph)
}

// Node is one operator.
func Node(op string, inputs, outputs []string, attrs ...[]byte) []byte {
	n := pb{}
	for _, in := range inputs {
		n = n.str(1, in)
	}
	for _, out := range outputs {
		n = n.str(2, out)
	}
	n = n.str(4, op)
	for _, a := range attrs {
		n = n.bytes(5, a)
	}
	return n
}

// Graph assembles nodes, initializers, inputs and outputs (each already encoded).
type Graph struct {
	Name         string
	Nodes        [][]byte
	Initializers [][]byte
	Inputs       [][]byte
	Outputs      [][]byte
}

// Bytes encodes the graph.
func (g Graph) Bytes() []byte {
	b := pb{}
	for _, n := range g.Nodes {
		b = b.bytes(1, n)
	}
	b = b.str(2, g.Name)
	for _, t := range g.Initializers {
		b = b.bytes(5, t)
	}
	for _, v := range g.Inputs {
		b = b.bytes(11, v)
	}
	for _, v := range g.Outputs {
		b = b.bytes(12, v)
	}
	return b
}

// Model wraps a graph into an IR 8 model importing the default domain at opset.
func Model(g Graph, opset int64) []byte {
	return pb{}.int(1, 8).str(2, "cvgate-onnxtest").bytes(7, g.Bytes()).bytes(8, pb{}.str(1, "").int(2, opset))
}

// Loop is a classifier that never finishes: input "x" [N,1,5,6], output "y" [N,30], where y is
// x flattened and then passed through a Loop of the given number of iterations that does
// nothing but carry it along. The loop's start depends on the input, so ONNX Runtime cannot fold
// it away when the session is created: the time goes into Run, where only cancellation stops it.
func Loop(iterations int64) []byte {
	body := Graph{
		Name: "body",
		Nodes: [][]byte{
			Node("Identity", []string{"cond_in"}, []string{"cond_out"}),
			Node("Identity", []string{"v_in"}, []string{"v_out"}),
		},
		Inputs:  [][]byte{Scalar("i", Int64), Scalar("cond_in", Bool), ValueInfo("v_in", Float, "N", 30)},
		Outputs: [][]byte{Scalar("cond_out", Bool), ValueInfo("v_out", Float, "N", 30)},
	}
	g := Graph{
		Name: "endless",
		Nodes: [][]byte{
			Node("Flatten", []string{"x"}, []string{"flat"}, AttrInt("axis", 1)),
			Node("Loop", []string{"trips", "keep_going", "flat"}, []string{"y"}, AttrGraph("body", body.Bytes())),
		},
		Initializers: [][]byte{Int64Tensor("trips", nil, iterations), BoolTensor("keep_going", nil, true)},
		Inputs:       [][]byte{ValueInfo("x", Float, "N", 1, 5, 6)},
		Outputs:      [][]byte{ValueInfo("y", Float, "N", 30)},
	}
	return Model(g, 13)
}

// HugeInput is a classifier whose input declares a fixed shape [1,1,h,w] and whose output "y"
// [1,10] is a constant: a few hundred bytes that ask cvgate for h*w*4 bytes per image.
func HugeInput(h, w int64) []byte {
	vals := make([]float32, 10)
	vals[3] = 1
	g := Graph{
		Name:         "huge",
		Nodes:        [][]byte{Node("Identity", []string{"c"}, []string{"y"})},
		Initializers: [][]byte{FloatTensor("c", []int64{1, 10}, vals...)},
		Inputs:       [][]byte{ValueInfo("x", Float, 1, 1, h, w)},
		Outputs:      [][]byte{ValueInfo("y", Float, 1, 10)},
	}
	return Model(g, 13)
}

// ExternalWeights is a classifier "x" [N,4] -> "y" [N,2] = x·W whose 4x2 weight matrix W is
// stored as external data at location (relative to the model's folder, as written).
func ExternalWeights(location string) []byte {
	g := Graph{
		Name:         "external",
		Nodes:        [][]byte{Node("MatMul", []string{"x", "W"}, []string{"y"})},
		Initializers: [][]byte{ExternalTensor("W", []int64{4, 2}, location, 0, 32)},
		Inputs:       [][]byte{ValueInfo("x", Float, "N", 4)},
		Outputs:      [][]byte{ValueInfo("y", Float, "N", 2)},
	}
	return Model(g, 13)
}

// WeightsFile is the 32 bytes of ExternalWeights' matrix (identity-like, so outputs are checkable).
func WeightsFile() []byte {
	raw := make([]byte, 32)
	for i, v := range []float32{1, 0, 0, 1, 1, 0, 0, 1} {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return raw
}

// Write saves a model (or any bytes) as dir/name and returns the path.
func Write(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
