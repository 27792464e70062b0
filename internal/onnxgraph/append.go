package onnxgraph

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/cvgate/cvgate/internal/onnxproto"
)

// NewNode is a node to append. Attributes are ints, int lists or floats.
type NewNode struct {
	OpType  string
	Name    string
	Inputs  []string
	Outputs []string
	Ints    map[string]int64
	IntList map[string][]int64
	Floats  map[string]float32
}

// Tensor is an initializer to append: float32 or int64 data with its shape.
type Tensor struct {
	Name    string
	Dims    []int64
	Float32 []float32
	Int64   []int64
}

func (t Tensor) dataType() onnxproto.DataType {
	if t.Int64 != nil {
		return onnxproto.Int64
	}
	return onnxproto.Float
}

// Additions is what Append adds to a graph: nodes (in an order that computes each value before
// it is used), initializers, and graph outputs.
type Additions struct {
	Nodes        []NewNode
	Initializers []Tensor
	Outputs      []Value
	// DropOutputs removes graph outputs by name (the only change to existing fields it makes:
	// those output entries are left out of the re-written graph).
	DropOutputs []string
}

// Append returns a copy of the model with the additions written into its graph. The original
// graph's bytes are kept verbatim, in order, and the new fields follow them; only the graph
// field's length prefix changes (and dropped outputs, when asked for, are left out).
func (g *Graph) Append(a Additions) ([]byte, error) {
	if err := g.validate(a); err != nil {
		return nil, err
	}
	var add encoder
	for _, t := range a.Initializers {
		add.msg(graphInitializer, t.encode)
	}
	if g.IRVersion < 4 {
		// Before IR version 4 every initializer must also be declared as a graph input.
		for _, t := range a.Initializers {
			v := Value{Name: t.Name, ElemType: t.dataType(), HasShape: true}
			for _, d := range t.Dims {
				v.Dims = append(v.Dims, Dim{Size: d})
			}
			add.msg(graphInput, v.encode)
		}
	}
	for _, n := range a.Nodes {
		add.msg(graphNode, n.encode)
	}
	for _, o := range a.Outputs {
		add.msg(graphOutput, o.encode)
	}

	old := g.graphField.payload(g.model)
	body := old
	if len(a.DropOutputs) > 0 {
		fs, err := fields(old, g.graphField.val)
		if err != nil {
			return nil, err
		}
		body = make([]byte, 0, len(old))
		for _, s := range fs {
			if s.field == graphOutput && s.wt == wireBytes {
				v, err := readValue(s.payload(old), g.graphField.val+s.val)
				if err != nil {
					return nil, err
				}
				if contains(a.DropOutputs, v.Name) {
					continue
				}
			}
			body = append(body, old[s.start:s.end]...)
		}
	}
	total := len(body) + len(add.b)
	if total > MaxModelBytes-len(g.model) {
		return nil, fmt.Errorf("the guarded graph would exceed the 2 GiB protobuf limit")
	}
	out := make([]byte, 0, len(g.model)+len(add.b)+binary.MaxVarintLen64)
	out = append(out, g.model[:g.graphField.start]...)
	out = binary.AppendUvarint(out, uint64(modelGraph)<<3|wireBytes)
	out = binary.AppendUvarint(out, uint64(total))
	out = append(out, body...)
	out = append(out, add.b...)
	out = append(out, g.model[g.graphField.end:]...)
	return out, nil
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

// validate refuses additions that would make an invalid graph: a name already used, a node input
// nothing defines, an output nothing computes.
func (g *Graph) validate(a Additions) error {
	names := g.Names()
	defined := map[string]bool{}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			defined[o] = true
		}
	}
	for k := range g.Initializers {
		defined[k] = true
	}
	for _, in := range g.Inputs {
		defined[in.Name] = true
	}
	for _, d := range a.DropOutputs {
		if _, ok := g.Output(d); !ok {
			return fmt.Errorf("drop output %q: the graph has no such output", d)
		}
	}
	claim := func(name string) error {
		if name == "" {
			return fmt.Errorf("an added value has no name")
		}
		if names[name] {
			return fmt.Errorf("add %q: the model already has a value of that name (is it guarded already?)", name)
		}
		names[name] = true
		defined[name] = true
		return nil
	}
	for _, t := range a.Initializers {
		if err := claim(t.Name); err != nil {
			return err
		}
		n := int64(1)
		for _, d := range t.Dims {
			if d < 0 {
				return fmt.Errorf("initializer %q: negative dimension %d", t.Name, d)
			}
			n *= d
		}
		got := int64(len(t.Float32))
		if t.Int64 != nil {
			got = int64(len(t.Int64))
		}
		if got != n {
			return fmt.Errorf("initializer %q: %d values for shape %v", t.Name, got, t.Dims)
		}
	}
	for _, n := range a.Nodes {
		for _, in := range n.Inputs {
			if in != "" && !defined[in] {
				return fmt.Errorf("node %s (%s): input %q is not defined before it", n.Name, n.OpType, in)
			}
		}
		for _, o := range n.Outputs {
			if err := claim(o); err != nil {
				return err
			}
		}
	}
	for _, o := range a.Outputs {
		if !defined[o.Name] {
			return fmt.Errorf("output %q: no node or initializer computes it", o.Name)
		}
		if _, exists := g.Output(o.Name); exists && !contains(a.DropOutputs, o.Name) {
			return fmt.Errorf("output %q: the graph already has that output", o.Name)
		}
	}
	return nil
}

func (n NewNode) encode(e *encoder) {
	for _, in := range n.Inputs {
		e.str(nodeInput, in)
	}
	for _, o := range n.Outputs {
		e.str(nodeOutput, o)
	}
	if n.Name != "" {
		e.str(nodeName, n.Name)
	}
	e.str(nodeOpType, n.OpType)
	// Attributes in a fixed (sorted) order, so that the same guard encodes to the same bytes.
	for _, k := range sortedKeys(n.Ints) {
		v := n.Ints[k]
		e.msg(nodeAttribute, func(a *encoder) {
			a.str(attrName, k)
			a.varint(attrI, v)
			a.varint(attrType, attrTypeInt)
		})
	}
	for _, k := range sortedKeys(n.IntList) {
		vs := n.IntList[k]
		e.msg(nodeAttribute, func(a *encoder) {
			a.str(attrName, k)
			for _, v := range vs {
				a.varint(attrInts, v)
			}
			a.varint(attrType, attrTypeInts)
		})
	}
	for _, k := range sortedKeys(n.Floats) {
		v := n.Floats[k]
		e.msg(nodeAttribute, func(a *encoder) {
			a.str(attrName, k)
			a.float(attrF, v)
			a.varint(attrType, attrTypeFloat)
		})
	}
}

func (t Tensor) encode(e *encoder) {
	for _, d := range t.Dims {
		e.varint(tensorDims, d)
	}
	e.varint(tensorDataType, int64(t.dataType()))
	e.str(tensorName, t.Name)
	var raw []byte
	if t.Int64 != nil {
		raw = make([]byte, 0, 8*len(t.Int64))
		for _, v := range t.Int64 {
			raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
		}
	} else {
		raw = make([]byte, 0, 4*len(t.Float32))
		for _, v := range t.Float32 {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		}
	}
	e.bytes(tensorRawData, raw)
}

func (v Value) encode(e *encoder) {
	e.str(valueInfoName, v.Name)
	e.msg(valueInfoType, func(t *encoder) {
		t.msg(typeTensor, func(tt *encoder) {
			tt.varint(ttElemType, int64(v.ElemType))
			if v.HasShape {
				tt.msg(ttShape, func(s *encoder) {
					for _, d := range v.Dims {
						s.msg(shapeDim, func(de *encoder) {
							switch {
							case d.Size >= 0:
								de.varint(dimValue, d.Size)
							case d.Param != "":
								de.str(dimParam, d.Param)
							}
						})
					}
				})
			}
		})
	})
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
