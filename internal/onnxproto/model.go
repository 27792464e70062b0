// Package onnxproto reads the parts of an ONNX model file (a serialized onnx.ModelProto) that
// cvgate inspects without running it: versions, opsets, metadata, the graph's inputs and outputs,
// and the external-data files its tensors point to.
//
// It decodes the protobuf wire format itself, streaming the file through a small buffer and
// seeking over tensor payloads, so memory stays bounded by the model's metadata, not its weights.
// Unknown fields are skipped, so models from newer ONNX versions still read.
package onnxproto

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
)

// Model is what cvgate needs to know about a model file.
type Model struct {
	IRVersion       int64           `json:"ir_version"`
	ProducerName    string          `json:"producer_name"`
	ProducerVersion string          `json:"producer_version"`
	Domain          string          `json:"domain"`
	ModelVersion    int64           `json:"model_version"`
	DocString       string          `json:"doc_string"`
	OpsetImports    []OpsetID       `json:"opset_imports"`
	Metadata        []MetadataEntry `json:"metadata"`
	Graph           Graph           `json:"graph"`
	ExternalData    []ExternalData  `json:"external_data"`
}

// OpsetID is one entry of opset_import. The default ONNX domain is "" (also spelt "ai.onnx").
type OpsetID struct {
	Domain  string `json:"domain"`
	Version int64  `json:"version"`
}

// MetadataEntry is one metadata_props key/value pair, in file order.
type MetadataEntry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Graph describes the main graph's interface.
type Graph struct {
	Name string `json:"name"`
	// Inputs are the values a caller must feed: graph inputs that are not also initializers
	// (before IR version 4, initializers had to be listed among the inputs too).
	Inputs  []ValueInfo `json:"inputs"`
	Outputs []ValueInfo `json:"outputs"`
	// Initializers are the names of the main graph's initializers, dense and sparse.
	Initializers []string `json:"initializers"`
}

// Kind is which branch of TypeProto's oneof a value's type uses.
type Kind string

// Value kinds. KindUnknown means the type field is absent or uses a branch this package does
// not know.
const (
	KindUnknown      Kind = ""
	KindTensor       Kind = "tensor"
	KindSparseTensor Kind = "sparse_tensor"
	KindSequence     Kind = "sequence"
	KindMap          Kind = "map"
	KindOptional     Kind = "optional"
)

// ValueInfo is a graph input or output.
type ValueInfo struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// ElemType and Shape are set for tensors and sparse tensors.
	ElemType DataType `json:"elem_type"`
	// HasShape is false when the model leaves the rank unknown; a scalar has a shape with no dims.
	HasShape bool  `json:"has_shape"`
	Shape    []Dim `json:"shape"`
}

// Dim is one dimension of a shape: a fixed size, a symbolic name, or unknown (neither).
type Dim struct {
	Value int64  `json:"value,omitempty"`
	Param string `json:"param,omitempty"`
	// Fixed says that Value holds the size (0 is a valid size).
	Fixed bool `json:"fixed"`
}

// String returns the size, the symbolic name, or "?" for an unknown dimension.
func (d Dim) String() string {
	switch {
	case d.Fixed:
		return strconv.FormatInt(d.Value, 10)
	case d.Param != "":
		return d.Param
	}
	return "?"
}

// ExternalData is a tensor whose bytes live in another file (TensorProto.data_location EXTERNAL).
type ExternalData struct {
	// Tensor is the tensor's name (initializers, and tensors in attributes, subgraphs, functions
	// and training graphs all count).
	Tensor string `json:"tensor"`
	// Location is the path as written in the model, relative to the model's folder.
	Location string `json:"location"`
	Offset   int64  `json:"offset"`
	// Length is -1 when the model gives none (the data runs to the end of the file).
	Length int64 `json:"length"`
}

// Read reads the model file at path. Tensor payloads are skipped, not loaded.
func Read(path string) (*Model, error) {
	// Non-blocking: a FIFO named like a model must be refused below, not wait for a writer here.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read model %q: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read model %q: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("read model %q: not a regular file (mode %s): devices and FIFOs are refused", path, info.Mode())
	}
	m, err := Decode(f, info.Size())
	if err != nil {
		return nil, fmt.Errorf("read model %q: %w", path, err)
	}
	return m, nil
}

// Decode reads a model of size bytes from r. When r is an io.Seeker, large payloads are skipped
// by seeking. Malformed input gives a *FormatError.
func Decode(r io.Reader, size int64) (*Model, error) {
	if size <= 0 {
		return nil, &FormatError{Offset: 0, Reason: "empty file"}
	}
	d := newDecoder(r, size)
	var m Model
	var hasIR, hasGraph bool
	err := d.fields(size, func(field int32, wt wireType, start int64) error {
		var err error
		switch field {
		case modelIRVersion:
			m.IRVersion, err = d.int64Field(start, size, "ir_version", wt)
			hasIR = true
		case modelProducerName:
			m.ProducerName, err = d.stringField(start, size, "producer_name", wt)
		case modelProducerVersion:
			m.ProducerVersion, err = d.stringField(start, size, "producer_version", wt)
		case modelDomain:
			m.Domain, err = d.stringField(start, size, "domain", wt)
		case modelModelVersion:
			m.ModelVersion, err = d.int64Field(start, size, "model_version", wt)
		case modelDocString:
			m.DocString, err = d.stringField(start, size, "doc_string", wt)
		case modelGraph:
			// A repeated embedded message merges into one in protobuf; appending does that here.
			err = d.graph(start, size, wt, &m.Graph, &m.ExternalData)
			hasGraph = true
		case modelOpsetImport:
			var id OpsetID
			id, err = d.opsetID(start, size)
			m.OpsetImports = append(m.OpsetImports, id)
		case modelMetadataProps:
			var e MetadataEntry
			e.Key, e.Value, err = d.stringEntry(start, size, "metadata_props", wt)
			m.Metadata = append(m.Metadata, e)
		case modelTrainingInfo:
			err = d.trainingInfo(start, size, wt, &m.ExternalData)
		case modelFunctions:
			err = d.function(start, size, wt, &m.ExternalData)
		default:
			err = d.skipField(field, wt, start, size)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	switch {
	case !hasIR:
		return nil, d.errorf(size, "no ir_version field")
	case m.IRVersion <= 0:
		return nil, d.errorf(size, "ir_version %d is not positive", m.IRVersion)
	case !hasGraph:
		return nil, d.errorf(size, "no graph field")
	case m.IRVersion >= 3 && len(m.OpsetImports) == 0:
		return nil, d.errorf(size, "no opset_import (required since IR version 3)")
	}
	m.Graph.Inputs = withoutInitializers(m.Graph.Inputs, m.Graph.Initializers)
	// Empty lists stay lists, so that JSON reports say [] rather than null.
	m.OpsetImports = nonNil(m.OpsetImports)
	m.Metadata = nonNil(m.Metadata)
	m.ExternalData = nonNil(m.ExternalData)
	m.Graph.Inputs = nonNil(m.Graph.Inputs)
	m.Graph.Outputs = nonNil(m.Graph.Outputs)
	m.Graph.Initializers = nonNil(m.Graph.Initializers)
	return &m, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// withoutInitializers drops the inputs that are initializers (old models list them as inputs so
// that a caller may override them; cvgate feeds only the others).
func withoutInitializers(inputs []ValueInfo, initializers []string) []ValueInfo {
	if len(initializers) == 0 {
		return inputs
	}
	isInit := make(map[string]bool, len(initializers))
	for _, name := range initializers {
		isInit[name] = true
	}
	kept := inputs[:0]
	for _, in := range inputs {
		if !isInit[in.Name] {
			kept = append(kept, in)
		}
	}
	return kept
}

func (d *decoder) opsetID(start, end int64) (OpsetID, error) {
	var id OpsetID
	sub, err := d.enter(start, end, "opset_import", wireBytes)
	if err != nil {
		return id, err
	}
	defer d.leave()
	err = d.fields(sub, func(field int32, wt wireType, start int64) error {
		var err error
		switch field {
		case opsetDomain:
			id.Domain, err = d.stringField(start, sub, "opset_import.domain", wt)
		case opsetVersion:
			id.Version, err = d.int64Field(start, sub, "opset_import.version", wt)
		default:
			err = d.skipField(field, wt, start, sub)
		}
		return err
	})
	return id, err
}

// stringEntry reads a StringStringEntryProto.
func (d *decoder) stringEntry(start, end int64, name string, wt wireType) (key, value string, err error) {
	sub, err := d.enter(start, end, name, wt)
	if err != nil {
		return "", "", err
	}
	defer d.leave()
	err = d.fields(sub, func(field int32, wt wireType, start int64) error {
		var err error
		switch field {
		case entryKey:
			key, err = d.stringField(start, sub, name+".key", wt)
		case entryValue:
			value, err = d.stringField(start, sub, name+".value", wt)
		default:
			err = d.skipField(field, wt, start, sub)
		}
		return err
	})
	return key, value, err
}

// graph reads a GraphProto. With g nil (a subgraph) only external data is collected.
func (d *decoder) graph(start, end int64, wt wireType, g *Graph, ext *[]ExternalData) error {
	sub, err := d.enter(start, end, "graph", wt)
	if err != nil {
		return err
	}
	defer d.leave()
	return d.fields(sub, func(field int32, wt wireType, start int64) error {
		switch field {
		case graphNode:
			return d.node(start, sub, wt, ext)
		case graphInitializer:
			name, err := d.tensor(start, sub, "graph.initializer", wt, ext)
			if g != nil {
				g.Initializers = append(g.Initializers, name)
			}
			return err
		case graphSparseInitializer:
			name, err := d.sparseTensor(start, sub, "graph.sparse_initializer", wt, ext)
			if g != nil {
				g.Initializers = append(g.Initializers, name)
			}
			return err
		}
		if g == nil {
			return d.skipField(field, wt, start, sub)
		}
		var err error
		switch field {
		case graphName:
			g.Name, err = d.stringField(start, sub, "graph.name", wt)
		case graphInput, graphOutput:
			var vi ValueInfo
			vi, err = d.valueInfo(start, sub, wt)
			if field == graphInput {
				g.Inputs = append(g.Inputs, vi)
			} else {
				g.Outputs = append(g.Outputs, vi)
			}
		default:
			err = d.skipField(field, wt, start, sub)
		}
		return err
	})
}

// node reads a NodeProto for the tensors and subgraphs in its attributes.
func (d *decoder) node(start, end int64, wt wireType, ext *[]ExternalData) error {
	sub, err := d.enter(start, end, "node", wt)
	if err != nil {
		return err
	}
	defer d.leave()
	return d.fields(sub, func(field int32, wt wireType, start int64) error {
		if field == nodeAttribute {
			return d.attribute(start, sub, wt, ext)
		}
		return d.skipField(field, wt, start, sub)
	})
}

func (d *decoder) attribute(start, end int64, wt wireType, ext *[]ExternalData) error {
	sub, err := d.enter(start, end, "attribute", wt)
	if err != nil {
		return err
	}
	defer d.leave()
	return d.fields(sub, func(field int32, wt wireType, start int64) error {
		var err error
		switch field {
		case attrTensor, attrTensors:
			_, err = d.tensor(start, sub, "attribute.t", wt, ext)
		case attrSparseTensor, attrSparseTensors:
			_, err = d.sparseTensor(start, sub, "attribute.sparse_tensor", wt, ext)
		case attrGraph, attrGraphs:
			err = d.graph(start, sub, wt, nil, ext)
		default:
			err = d.skipField(field, wt, start, sub)
		}
		return err
	})
}

func (d *decoder) trainingInfo(start, end int64, wt wireType, ext *[]ExternalData) error {
	sub, err := d.enter(start, end, "training_info", wt)
	if err != nil {
		return err
	}
	defer d.leave()
	return d.fields(sub, func(field int32, wt wireType, start int64) error {
		if field == trainingInitialization || field == trainingAlgorithm {
			return d.graph(start, sub, wt, nil, ext)
		}
		return d.skipField(field, wt, start, sub)
	})
}

func (d *decoder) function(start, end int64, wt wireType, ext *[]ExternalData) error {
	sub, err := d.enter(start, end, "functions", wt)
	if err != nil {
		return err
	}
	defer d.leave()
	return d.fields(sub, func(field int32, wt wireType, start int64) error {
		if field == functionNode {
			return d.node(start, sub, wt, ext)
		}
		return d.skipField(field, wt, start, sub)
	})
}

// tensor reads a TensorProto's name and external-data reference, skipping its payload.
func (d *decoder) tensor(start, end int64, name string, wt wireType, ext *[]ExternalData) (string, error) {
	sub, err := d.enter(start, end, name, wt)
	if err != nil {
		return "", err
	}
	defer d.leave()
	var ownName string
	var external bool
	ref := ExternalData{Length: -1}
	err = d.fields(sub, func(field int32, wt wireType, start int64) error {
		var err error
		switch field {
		case tensorName:
			ownName, err = d.stringField(start, sub, "tensor.name", wt)
		case tensorDataLocation:
			var loc int64
			loc, err = d.int64Field(start, sub, "tensor.data_location", wt)
			external = loc == dataLocationExternal
		case tensorExternalData:
			var key, value string
			key, value, err = d.stringEntry(start, sub, "tensor.external_data", wt)
			if err == nil && !setExternalKey(&ref, key, value) {
				err = d.errorf(start, "external_data %s %q is not a non-negative integer", key, value)
			}
		default:
			err = d.skipField(field, wt, start, sub)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if external {
		ref.Tensor = ownName
		*ext = append(*ext, ref)
	}
	return ownName, nil
}

// setExternalKey applies one external_data entry; unknown keys (e.g. "checksum") are ignored.
// It reports false when an offset or length is not a non-negative integer.
func setExternalKey(ref *ExternalData, key, value string) bool {
	switch key {
	case externalKeyLocation:
		ref.Location = value
	case externalKeyOffset, externalKeyLength:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 {
			return false
		}
		if key == externalKeyOffset {
			ref.Offset = n
		} else {
			ref.Length = n
		}
	}
	return true
}

// sparseTensor reads a SparseTensorProto; its name is that of its values tensor.
func (d *decoder) sparseTensor(start, end int64, name string, wt wireType, ext *[]ExternalData) (string, error) {
	sub, err := d.enter(start, end, name, wt)
	if err != nil {
		return "", err
	}
	defer d.leave()
	var valuesName string
	err = d.fields(sub, func(field int32, wt wireType, start int64) error {
		switch field {
		case sparseValues:
			n, err := d.tensor(start, sub, name+".values", wt, ext)
			valuesName = n
			return err
		case sparseIndices:
			_, err := d.tensor(start, sub, name+".indices", wt, ext)
			return err
		}
		return d.skipField(field, wt, start, sub)
	})
	return valuesName, err
}

func (d *decoder) valueInfo(start, end int64, wt wireType) (ValueInfo, error) {
	var vi ValueInfo
	sub, err := d.enter(start, end, "value_info", wt)
	if err != nil {
		return vi, err
	}
	defer d.leave()
	err = d.fields(sub, func(field int32, wt wireType, start int64) error {
		switch field {
		case valueInfoName:
			var err error
			vi.Name, err = d.stringField(start, sub, "value_info.name", wt)
			return err
		case valueInfoType:
			return d.typeProto(start, sub, wt, &vi)
		}
		return d.skipField(field, wt, start, sub)
	})
	return vi, err
}

func (d *decoder) typeProto(start, end int64, wt wireType, vi *ValueInfo) error {
	sub, err := d.enter(start, end, "type", wt)
	if err != nil {
		return err
	}
	defer d.leave()
	return d.fields(sub, func(field int32, wt wireType, start int64) error {
		switch field {
		case typeTensor:
			vi.Kind = KindTensor
			return d.tensorType(start, sub, wt, vi)
		case typeSparseTensor:
			vi.Kind = KindSparseTensor
			return d.tensorType(start, sub, wt, vi)
		case typeSequence:
			vi.Kind = KindSequence
		case typeMap:
			vi.Kind = KindMap
		case typeOptional:
			vi.Kind = KindOptional
		}
		return d.skipField(field, wt, start, sub)
	})
}

// tensorType reads TypeProto.Tensor (TypeProto.SparseTensor has the same layout).
func (d *decoder) tensorType(start, end int64, wt wireType, vi *ValueInfo) error {
	sub, err := d.enter(start, end, "tensor_type", wt)
	if err != nil {
		return err
	}
	defer d.leave()
	return d.fields(sub, func(field int32, wt wireType, start int64) error {
		switch field {
		case tensorTypeElemType:
			v, err := d.int64Field(start, sub, "tensor_type.elem_type", wt)
			vi.ElemType = DataType(int32(v))
			return err
		case tensorTypeShape:
			vi.HasShape = true
			if vi.Shape == nil {
				vi.Shape = []Dim{}
			}
			return d.shape(start, sub, wt, vi)
		}
		return d.skipField(field, wt, start, sub)
	})
}

func (d *decoder) shape(start, end int64, wt wireType, vi *ValueInfo) error {
	sub, err := d.enter(start, end, "shape", wt)
	if err != nil {
		return err
	}
	defer d.leave()
	return d.fields(sub, func(field int32, wt wireType, start int64) error {
		if field != shapeDim {
			return d.skipField(field, wt, start, sub)
		}
		dim, err := d.dim(start, sub, wt)
		vi.Shape = append(vi.Shape, dim)
		return err
	})
}

func (d *decoder) dim(start, end int64, wt wireType) (Dim, error) {
	var dim Dim
	sub, err := d.enter(start, end, "shape.dim", wt)
	if err != nil {
		return dim, err
	}
	defer d.leave()
	err = d.fields(sub, func(field int32, wt wireType, start int64) error {
		var err error
		// dim_value and dim_param are a oneof: the last one in the stream wins.
		switch field {
		case dimValue:
			dim.Value, err = d.int64Field(start, sub, "dim_value", wt)
			dim.Fixed, dim.Param = true, ""
		case dimParam:
			dim.Param, err = d.stringField(start, sub, "dim_param", wt)
			dim.Fixed, dim.Value = false, 0
		default:
			err = d.skipField(field, wt, start, sub)
		}
		return err
	})
	return dim, err
}
