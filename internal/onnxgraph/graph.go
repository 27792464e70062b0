// Package onnxgraph reads the node graph of an ONNX model and appends to it: new nodes,
// initializers and graph outputs, without decoding or re-encoding anything the model already has.
//
// A GraphProto is a protobuf message, and protobuf parsers concatenate repeated fields wherever
// they occur in the message. So the nodes, initializers and outputs this package adds are encoded
// on their own and written after the original graph's bytes, inside the same graph field (whose
// length prefix is the only original byte that changes). Every original node, weight and output
// keeps its exact bytes, so the original outputs of the model are computed exactly as before.
//
// internal/onnxproto reads a model's header for cvgate's checks; this package reads what that one
// skips (the nodes and their attributes) because graph surgery needs it.
package onnxgraph

import (
	"fmt"
	"math"

	"github.com/cvgate/cvgate/internal/onnxproto"
)

// Field numbers of onnx.proto (frozen by ONNX).
const (
	modelIRVersion   = 1
	modelGraph       = 7
	modelOpsetImport = 8

	opsetDomain  = 1
	opsetVersion = 2

	graphNode        = 1
	graphInitializer = 5
	graphInput       = 11
	graphOutput      = 12
	graphValueInfo   = 13

	nodeInput     = 1
	nodeOutput    = 2
	nodeName      = 3
	nodeOpType    = 4
	nodeAttribute = 5
	nodeDomain    = 7

	attrName   = 1
	attrF      = 2
	attrI      = 3
	attrS      = 4
	attrT      = 5
	attrFloats = 7
	attrInts   = 8
	attrType   = 20

	tensorDims     = 1
	tensorDataType = 2
	tensorName     = 8
	tensorRawData  = 9

	valueInfoName = 1
	valueInfoType = 2
	typeTensor    = 1
	ttElemType    = 1
	ttShape       = 2
	shapeDim      = 1
	dimValue      = 1
	dimParam      = 2
)

// AttributeProto.AttributeType values.
const (
	attrTypeFloat  = 1
	attrTypeInt    = 2
	attrTypeString = 3
	attrTypeTensor = 4
	attrTypeFloats = 6
	attrTypeInts   = 7
)

// MaxModelBytes bounds the model files this package loads into memory: protobuf itself cannot
// encode a message over 2 GiB, and larger models keep their weights in external data files.
const MaxModelBytes = math.MaxInt32

// Graph is the main graph of a model as this package sees it.
type Graph struct {
	IRVersion int64
	// Opset is the version of the default ONNX domain ("" or "ai.onnx") the model imports.
	Opset int64
	Nodes []Node
	// Initializers are the main graph's dense initializers by name.
	Initializers map[string]Initializer
	Inputs       []Value
	Outputs      []Value
	// ValueInfo are the intermediate values the model declares types for.
	ValueInfo []Value

	model      []byte
	graphField span // the (last) graph field of the ModelProto
}

// Node is one NodeProto.
type Node struct {
	Name, OpType, Domain string
	Inputs, Outputs      []string
	Attrs                map[string]Attr
}

// Attr is an attribute of a node, of the kinds this package reads (others keep only Type).
type Attr struct {
	Type  int
	Int   int64
	Ints  []int64
	Float float32
}

// Initializer is a dense initializer's element type and shape (its payload is not read).
type Initializer struct {
	DataType onnxproto.DataType
	Dims     []int64
}

// Value is a graph input, output or value_info entry. Dims are nil when the shape is unknown;
// a dimension is Param when it is symbolic (Param "" and Size < 0: unknown).
type Value struct {
	Name     string
	ElemType onnxproto.DataType
	Dims     []Dim
	HasShape bool
}

// Dim is one dimension of a Value's shape.
type Dim struct {
	Size  int64 // -1 when not fixed
	Param string
}

// Parse reads the graph of a serialized ModelProto. model is kept (not copied) for Append.
func Parse(model []byte) (*Graph, error) {
	if len(model) == 0 {
		return nil, formatErr(0, "empty file")
	}
	if len(model) > MaxModelBytes {
		return nil, fmt.Errorf("model of %d bytes is over the 2 GiB protobuf limit", len(model))
	}
	top, err := fields(model, 0)
	if err != nil {
		return nil, err
	}
	g := &Graph{model: model, Initializers: map[string]Initializer{}}
	haveGraph, haveOpset := false, false
	for _, s := range top {
		switch {
		case s.field == modelIRVersion && s.wt == wireVarint:
			g.IRVersion = int64(s.num)
		case s.field == modelGraph && s.wt == wireBytes:
			// Several graph fields merge into one, in order; parse each, append to the last.
			if err := g.readGraph(s.payload(model), s.val); err != nil {
				return nil, err
			}
			g.graphField = s
			haveGraph = true
		case s.field == modelOpsetImport && s.wt == wireBytes:
			domain, version, err := readOpset(s.payload(model), s.val)
			if err != nil {
				return nil, err
			}
			if domain == "" || domain == "ai.onnx" {
				g.Opset, haveOpset = version, true
			}
		}
	}
	if !haveGraph {
		return nil, formatErr(len(model), "no graph field")
	}
	if !haveOpset {
		return nil, fmt.Errorf("the model imports no version of the default ONNX operator set")
	}
	return g, nil
}

func readOpset(b []byte, base int) (string, int64, error) {
	fs, err := fields(b, base)
	if err != nil {
		return "", 0, err
	}
	var domain string
	var version int64
	for _, s := range fs {
		switch {
		case s.field == opsetDomain && s.wt == wireBytes:
			domain = string(s.payload(b))
		case s.field == opsetVersion && s.wt == wireVarint:
			version = int64(s.num)
		}
	}
	return domain, version, nil
}

func (g *Graph) readGraph(b []byte, base int) error {
	fs, err := fields(b, base)
	if err != nil {
		return err
	}
	for _, s := range fs {
		if s.wt != wireBytes {
			continue
		}
		p := s.payload(b)
		switch s.field {
		case graphNode:
			n, err := readNode(p, base+s.val)
			if err != nil {
				return err
			}
			g.Nodes = append(g.Nodes, n)
		case graphInitializer:
			name, init, err := readTensorHeader(p, base+s.val)
			if err != nil {
				return err
			}
			g.Initializers[name] = init
		case graphInput, graphOutput, graphValueInfo:
			v, err := readValue(p, base+s.val)
			if err != nil {
				return err
			}
			switch s.field {
			case graphInput:
				g.Inputs = append(g.Inputs, v)
			case graphOutput:
				g.Outputs = append(g.Outputs, v)
			default:
				g.ValueInfo = append(g.ValueInfo, v)
			}
		}
	}
	return nil
}

func readNode(b []byte, base int) (Node, error) {
	n := Node{Attrs: map[string]Attr{}}
	fs, err := fields(b, base)
	if err != nil {
		return n, err
	}
	for _, s := range fs {
		if s.wt != wireBytes {
			continue
		}
		p := string(s.payload(b))
		switch s.field {
		case nodeInput:
			n.Inputs = append(n.Inputs, p)
		case nodeOutput:
			n.Outputs = append(n.Outputs, p)
		case nodeName:
			n.Name = p
		case nodeOpType:
			n.OpType = p
		case nodeDomain:
			n.Domain = p
		case nodeAttribute:
			name, a, err := readAttr(s.payload(b), base+s.val)
			if err != nil {
				return n, err
			}
			n.Attrs[name] = a
		}
	}
	return n, nil
}

func readAttr(b []byte, base int) (string, Attr, error) {
	var a Attr
	var name string
	fs, err := fields(b, base)
	if err != nil {
		return "", a, err
	}
	for _, s := range fs {
		switch {
		case s.field == attrName && s.wt == wireBytes:
			name = string(s.payload(b))
		case s.field == attrType && s.wt == wireVarint:
			a.Type = int(s.num)
		case s.field == attrI && s.wt == wireVarint:
			a.Int = int64(s.num)
		case s.field == attrF && s.wt == wireFixed32:
			a.Float = math.Float32frombits(uint32(s.num))
		case s.field == attrInts:
			v, err := ints(b, s)
			if err != nil {
				return "", a, err
			}
			a.Ints = append(a.Ints, v...)
		}
	}
	return name, a, nil
}

func readTensorHeader(b []byte, base int) (string, Initializer, error) {
	var init Initializer
	var name string
	fs, err := fields(b, base)
	if err != nil {
		return "", init, err
	}
	for _, s := range fs {
		switch {
		case s.field == tensorName && s.wt == wireBytes:
			name = string(s.payload(b))
		case s.field == tensorDataType && s.wt == wireVarint:
			init.DataType = onnxproto.DataType(int32(s.num))
		case s.field == tensorDims:
			v, err := ints(b, s)
			if err != nil {
				return "", init, err
			}
			init.Dims = append(init.Dims, v...)
		}
	}
	return name, init, nil
}

func readValue(b []byte, base int) (Value, error) {
	var v Value
	fs, err := fields(b, base)
	if err != nil {
		return v, err
	}
	for _, s := range fs {
		if s.wt != wireBytes {
			continue
		}
		switch s.field {
		case valueInfoName:
			v.Name = string(s.payload(b))
		case valueInfoType:
			if err := readType(s.payload(b), base+s.val, &v); err != nil {
				return v, err
			}
		}
	}
	return v, nil
}

func readType(b []byte, base int, v *Value) error {
	fs, err := fields(b, base)
	if err != nil {
		return err
	}
	for _, s := range fs {
		if s.field != typeTensor || s.wt != wireBytes {
			continue
		}
		tt, err := fields(s.payload(b), base+s.val)
		if err != nil {
			return err
		}
		p := s.payload(b)
		for _, t := range tt {
			switch {
			case t.field == ttElemType && t.wt == wireVarint:
				v.ElemType = onnxproto.DataType(int32(t.num))
			case t.field == ttShape && t.wt == wireBytes:
				v.HasShape = true
				dims, err := readShape(t.payload(p), base+s.val+t.val)
				if err != nil {
					return err
				}
				v.Dims = append(v.Dims, dims...)
			}
		}
	}
	return nil
}

func readShape(b []byte, base int) ([]Dim, error) {
	fs, err := fields(b, base)
	if err != nil {
		return nil, err
	}
	dims := []Dim{}
	for _, s := range fs {
		if s.field != shapeDim || s.wt != wireBytes {
			continue
		}
		d := Dim{Size: -1}
		df, err := fields(s.payload(b), base+s.val)
		if err != nil {
			return nil, err
		}
		for _, x := range df {
			switch {
			case x.field == dimValue && x.wt == wireVarint:
				d.Size, d.Param = int64(x.num), ""
			case x.field == dimParam && x.wt == wireBytes:
				d.Param, d.Size = string(x.payload(s.payload(b))), -1
			}
		}
		dims = append(dims, d)
	}
	return dims, nil
}

// Producer returns the index of the node that outputs name, or -1 (a graph input or initializer).
func (g *Graph) Producer(name string) int {
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		for _, o := range g.Nodes[i].Outputs {
			if o == name {
				return i
			}
		}
	}
	return -1
}

// Names returns every value name the graph defines or declares: node outputs, initializers,
// inputs, outputs and value_info. New names must avoid all of them.
func (g *Graph) Names() map[string]bool {
	names := map[string]bool{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			names[o] = true
		}
		names["node:"+n.Name] = true
	}
	for k := range g.Initializers {
		names[k] = true
	}
	for _, vs := range [][]Value{g.Inputs, g.Outputs, g.ValueInfo} {
		for _, v := range vs {
			names[v.Name] = true
		}
	}
	return names
}

// Output returns the graph output called name.
func (g *Graph) Output(name string) (Value, bool) {
	for _, o := range g.Outputs {
		if o.Name == name {
			return o, true
		}
	}
	return Value{}, false
}

// Input returns the first graph input that is not an initializer (what a caller feeds), or the
// one called name when name is set.
func (g *Graph) Input(name string) (Value, bool) {
	for _, in := range g.Inputs {
		if _, isInit := g.Initializers[in.Name]; isInit {
			continue
		}
		if name == "" || in.Name == name {
			return in, true
		}
	}
	return Value{}, false
}
