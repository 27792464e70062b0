package onnxproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// TestReadMatchesONNX compares the reader with what onnx's own protobuf parser saw in the same
// files (testdata/expect.json, written by testdata/gen.py).
func TestReadMatchesONNX(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expect map[string]Model
	if err := json.Unmarshal(raw, &expect); err != nil {
		t.Fatal(err)
	}
	if len(expect) < 6 {
		t.Fatalf("expect.json has %d models, want at least 6: rerun testdata/gen.py", len(expect))
	}
	for name, want := range expect {
		t.Run(name, func(t *testing.T) {
			got, err := Read(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, want) {
				g, _ := json.MarshalIndent(got, "", " ")
				w, _ := json.MarshalIndent(want, "", " ")
				t.Errorf("model differs from onnx's view\ngot:  %s\nwant: %s", g, w)
			}
		})
	}
}

// The cases below restate, by hand, facts about the generated fixtures that matter to cvgate,
// so that a wrong expect.json cannot hide a reader bug.

func TestReadIR3InitializerInputs(t *testing.T) {
	m, err := Read(filepath.Join("testdata", "opset7_ir3.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if m.IRVersion != 3 || len(m.OpsetImports) != 1 || m.OpsetImports[0] != (OpsetID{"", 7}) {
		t.Errorf("IR %d, opsets %v; want IR 3, opset 7", m.IRVersion, m.OpsetImports)
	}
	if names := valueNames(m.Graph.Inputs); !reflect.DeepEqual(names, []string{"x"}) {
		t.Errorf("inputs %v, want [x] (initializer W must not count as an input)", names)
	}
	if !reflect.DeepEqual(m.Graph.Initializers, []string{"W"}) {
		t.Errorf("initializers %v, want [W]", m.Graph.Initializers)
	}
}

func TestReadMetadataAndDims(t *testing.T) {
	m, err := Read(filepath.Join("testdata", "opset13_meta.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	wantMeta := []MetadataEntry{{"author", "cvgate tests"}, {"labels", "cat,dog,bird"}, {"preprocess", "scale=1/255"}}
	if !reflect.DeepEqual(m.Metadata, wantMeta) {
		t.Errorf("metadata %v, want %v", m.Metadata, wantMeta)
	}
	if m.ProducerName != "cvgate-gen" || m.ModelVersion != 42 || m.Domain != "org.cvgate.test" {
		t.Errorf("producer %q, model_version %d, domain %q", m.ProducerName, m.ModelVersion, m.Domain)
	}
	tests := []struct {
		value    ValueInfo
		elem     DataType
		hasShape bool
		dims     string
	}{
		{m.Graph.Inputs[0], Uint8, true, "batch,8,8,1"},
		{m.Graph.Inputs[1], Float, true, ""}, // scalar
		{m.Graph.Outputs[0], Float, true, "batch,?"},
		{m.Graph.Outputs[1], Int64, false, ""},
	}
	for _, tt := range tests {
		var dims []string
		for _, d := range tt.value.Shape {
			dims = append(dims, d.String())
		}
		if tt.value.Kind != KindTensor || tt.value.ElemType != tt.elem || tt.value.HasShape != tt.hasShape || strings.Join(dims, ",") != tt.dims {
			t.Errorf("%s: kind %q elem %v hasShape %v dims %v; want tensor %v %v %q",
				tt.value.Name, tt.value.Kind, tt.value.ElemType, tt.value.HasShape, dims, tt.elem, tt.hasShape, tt.dims)
		}
	}
}

func valueNames(vs []ValueInfo) []string {
	var names []string
	for _, v := range vs {
		names = append(names, v.Name)
	}
	return names
}

func TestReadMalformed(t *testing.T) {
	model, err := os.ReadFile(filepath.Join("testdata", "opset13_meta.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"empty file", nil, "empty file"},
		{"truncated in half", model[:len(model)/2], "truncated"},
		{"truncated by one byte", model[:len(model)-1], "truncated"},
		{"random bytes seed 1", randomBytes(1, 4096), "not an ONNX ModelProto"},
		{"random bytes seed 2", randomBytes(2, 100), "not an ONNX ModelProto"},
		{"random bytes seed 3", randomBytes(3, 1<<16), "not an ONNX ModelProto"},
		{"text file", []byte("name,label\na.png,3\n"), "not an ONNX ModelProto"},
		{"no graph", pb{}.int(modelIRVersion, 8), "no graph field"},
		{"no ir_version", pb{}.msg(modelGraph, minimalGraph()), "no ir_version"},
		{"negative ir_version", pb{}.int(modelIRVersion, -1).msg(modelGraph, minimalGraph()), "not positive"},
		{"no opset_import", pb{}.int(modelIRVersion, 8).msg(modelGraph, minimalGraph()), "no opset_import"},
		{"field number zero", pb{}.tag(0, wireVarint).varint(1), "invalid field number 0"},
		{"wire type 7", pb{}.tag(3, 7), "invalid wire type 7"},
		{"ir_version as string", pb{}.str(modelIRVersion, "8"), "field ir_version has wire type length-delimited, want varint"},
		{"graph as varint", pb{}.int(modelGraph, 1), "field graph has wire type varint, want length-delimited"},
		{"varint over 64 bits", append(pb{}.tag(modelIRVersion, wireVarint), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), "varint overflows"},
		{"varint cut", append(pb{}.tag(modelIRVersion, wireVarint), 0xff), "varint runs past"},
		{"submessage overruns parent", minimalModel(pb{}.tag(graphName, wireBytes).varint(50).str(99, "x")), "remain in its enclosing message"},
		{"unclosed group", minimalModel(minimalGraph()).tag(77, wireStartGroup), "not closed"},
		{"stray end group", minimalModel(minimalGraph()).tag(77, wireEndGroup), "without a matching start"},
		{"mismatched group", minimalModel(minimalGraph()).tag(77, wireStartGroup).tag(78, wireEndGroup), "closes a group opened by field 77"},
		{"bad external offset", minimalModel(minimalGraph().msg(graphInitializer, pb{}.
			str(tensorName, "w").int(tensorDataLocation, 1).msg(tensorExternalData, pb{}.str(entryKey, "offset").str(entryValue, "-5")))), `offset "-5"`},
		{"nested too deep", minimalModel(nestedGraphs(maxDepth + 5)), "nested deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.onnx")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Read(path)
			if err == nil {
				t.Fatal("no error")
			}
			prefix := `read model "` + path + `": not an ONNX ModelProto: `
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), "byte offset") {
				t.Errorf("error %q does not start with %q and give a byte offset", err, prefix)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("error %q is not a *FormatError", err)
			} else if fe.Offset < 0 || fe.Offset > int64(len(tt.data)) {
				t.Errorf("offset %d outside the %d-byte file", fe.Offset, len(tt.data))
			}
		})
	}
}

func TestReadMissingFile(t *testing.T) {
	_, err := Read(filepath.Join(t.TempDir(), "nope.onnx"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v, want one wrapping os.ErrNotExist", err)
	}
	if _, err := Read(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("reading a directory: error %v, want 'not a regular file'", err)
	}
}

// TestEveryPrefix cuts a real model at every length: a prefix must either fail or, when the cut
// falls after the graph on a field boundary, give the same graph.
func TestEveryPrefix(t *testing.T) {
	model, err := os.ReadFile(filepath.Join("testdata", "opset13_meta.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := Decode(bytes.NewReader(model), int64(len(model)))
	if err != nil {
		t.Fatal(err)
	}
	parsed := 0
	for n := range len(model) {
		m, err := Decode(bytes.NewReader(model[:n]), int64(n))
		if err != nil {
			continue
		}
		parsed++
		if !reflect.DeepEqual(m.Graph, full.Graph) {
			t.Fatalf("prefix of %d bytes parsed with a different graph", n)
		}
	}
	// The file ends graph, 2 opset_import, 3 metadata_props (protobuf writes fields in number
	// order): the cuts after each opset import and after the first two metadata entries are
	// legal models, every other cut is not.
	if parsed != 4 {
		t.Errorf("%d prefixes parsed, want 4", parsed)
	}
}

func TestSkipsUnknownFields(t *testing.T) {
	unknown := pb{}.
		int(1000, 7).                                       // varint
		tag(1001, wireFixed64).raw(1, 2, 3, 4, 5, 6, 7, 8). // fixed64
		str(1002, "payload").                               // length-delimited
		tag(1003, wireStartGroup).int(1, 5).str(2, "in").   // group with fields inside
		tag(4, wireStartGroup).tag(4, wireEndGroup).        // nested group
		tag(1003, wireEndGroup).
		tag(1004, wireFixed32).raw(1, 2, 3, 4) // fixed32
	graph := append(append(pb{}, unknown...), minimalGraph()...)
	model := append(append(pb{}, unknown...), minimalModel(graph)...)
	m, err := Decode(bytes.NewReader(model), int64(len(model)))
	if err != nil {
		t.Fatal(err)
	}
	if m.IRVersion != 8 || m.Graph.Name != "g" || len(m.Graph.Inputs) != 1 || len(m.Graph.Outputs) != 1 {
		t.Errorf("got %+v", m)
	}
}

// TestExternalDataEverywhere puts external tensors in the places ONNX allows them: an
// initializer, a sparse initializer, a node attribute, a subgraph, a function and a training graph.
func TestExternalDataEverywhere(t *testing.T) {
	ext := func(name, loc string) pb {
		return pb{}.str(tensorName, name).int(tensorDataLocation, dataLocationExternal).
			msg(tensorExternalData, pb{}.str(entryKey, "location").str(entryValue, loc)).
			msg(tensorExternalData, pb{}.str(entryKey, "length").str(entryValue, "16")).
			msg(tensorExternalData, pb{}.str(entryKey, "checksum").str(entryValue, "ignored"))
	}
	sub := pb{}.msg(graphInitializer, ext("sub", "d.bin"))
	node := pb{}.str(4, "If").msg(nodeAttribute, pb{}.str(1, "then_branch").msg(attrGraph, sub)).
		msg(nodeAttribute, pb{}.str(1, "value").msg(attrTensor, ext("attr", "c.bin")))
	graph := minimalGraph().msg(graphNode, node).
		msg(graphInitializer, ext("init", "a.bin")).
		msg(graphInitializer, pb{}.str(tensorName, "inline").str(9, "raw bytes")).
		msg(graphSparseInitializer, pb{}.msg(sparseValues, ext("sparse", "b.bin")).msg(sparseIndices, pb{}.str(tensorName, "idx")))
	model := minimalModel(graph).
		msg(modelFunctions, pb{}.msg(functionNode, pb{}.msg(nodeAttribute, pb{}.msg(attrTensors, ext("fn", "e.bin"))))).
		msg(modelTrainingInfo, pb{}.msg(trainingAlgorithm, pb{}.msg(graphInitializer, ext("train", "f.bin"))))
	m, err := Decode(bytes.NewReader(model), int64(len(model)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range m.ExternalData {
		if e.Length != 16 || e.Offset != 0 {
			t.Errorf("%s: offset %d length %d, want 0 and 16", e.Tensor, e.Offset, e.Length)
		}
		got = append(got, e.Tensor+"@"+e.Location)
	}
	want := []string{"sub@d.bin", "attr@c.bin", "init@a.bin", "sparse@b.bin", "fn@e.bin", "train@f.bin"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("external data %v, want %v", got, want)
	}
	if !reflect.DeepEqual(m.Graph.Initializers, []string{"init", "inline", "sparse"}) {
		t.Errorf("initializers %v", m.Graph.Initializers)
	}
}

func nestedGraphs(depth int) pb {
	g := minimalGraph()
	for range depth {
		g = pb{}.msg(graphNode, pb{}.msg(nodeAttribute, pb{}.msg(attrGraph, g)))
	}
	return g
}

// writeHugeModel writes a model whose one initializer carries payload bytes of raw_data, as a
// sparse file (a hole), so a multi-gigabyte model costs no disk.
func writeHugeModel(t testing.TB, payload int64) string {
	t.Helper()
	// raw_data is the last field of the tensor and the tensor the first field of the graph, so
	// the file is: header | payload | trailer.
	tensorHead := pb{}.str(tensorName, "big").int(2, int64(Float)).tag(9, wireBytes).varint(uint64(payload))
	tensorLen := int64(len(tensorHead)) + payload
	rest := minimalGraph()
	graphHead := pb{}.tag(graphInitializer, wireBytes).varint(uint64(tensorLen))
	graphLen := int64(len(graphHead)) + tensorLen + int64(len(rest))
	head := pb{}.int(modelIRVersion, 8).tag(modelGraph, wireBytes).varint(uint64(graphLen))
	head = append(append(head, graphHead...), tensorHead...)
	tail := append(rest, pb{}.msg(modelOpsetImport, pb{}.int(opsetVersion, 13))...)

	path := filepath.Join(t.TempDir(), "huge.onnx")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(head); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(payload, io.SeekCurrent); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(tail); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHugeModelBoundedMemory reads a 3 GiB model (offsets past 2^31) and checks that the
// payload is seeked over, not read into memory.
func TestHugeModelBoundedMemory(t *testing.T) {
	path := writeHugeModel(t, 3<<30)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := Read(path)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if m.Graph.Name != "g" || !reflect.DeepEqual(m.Graph.Initializers, []string{"big"}) || len(m.Graph.Inputs) != 1 {
		t.Errorf("got graph %+v", m.Graph)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("reading allocated %d bytes, want under 1 MiB", alloc)
	}
}

// onlyReader hides Seek, forcing the read-through path.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestDecodeWithoutSeek(t *testing.T) {
	path := writeHugeModel(t, 8<<20)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seeking, err := Decode(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	streaming, err := Decode(onlyReader{bytes.NewReader(data)}, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seeking, streaming) {
		t.Errorf("seeking and streaming reads differ:\n%+v\n%+v", seeking, streaming)
	}
}

// TestRepoModels reads the project's model fixtures, when they exist.
func TestRepoModels(t *testing.T) {
	paths := repoModels()
	if len(paths) == 0 {
		t.Skip("no testdata/models/*.onnx yet")
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			m, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if m.IRVersion < 3 || len(m.OpsetImports) == 0 || len(m.Graph.Inputs) == 0 || len(m.Graph.Outputs) == 0 {
				t.Errorf("implausible model: IR %d, opsets %v, %d inputs, %d outputs",
					m.IRVersion, m.OpsetImports, len(m.Graph.Inputs), len(m.Graph.Outputs))
			}
			for _, v := range append(m.Graph.Inputs, m.Graph.Outputs...) {
				if v.Kind != KindTensor || v.ElemType == Undefined || !v.HasShape {
					t.Errorf("%s: kind %q, elem %v, has shape %v", v.Name, v.Kind, v.ElemType, v.HasShape)
				}
			}
			if err := m.CheckExternalData(path, repoRoot); err != nil {
				t.Error(err)
			}
		})
	}
}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func FuzzRead(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.onnx"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte{})
	f.Add([]byte(minimalModel(minimalGraph())))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
			return
		}
		if m.IRVersion <= 0 {
			t.Fatalf("accepted a model with IR version %d", m.IRVersion)
		}
	})
}

func BenchmarkRead(b *testing.B) {
	b.Run("opset13_meta", func(b *testing.B) {
		path := filepath.Join("testdata", "opset13_meta.onnx")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Read(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("3GiB_initializer", func(b *testing.B) {
		path := writeHugeModel(b, 3<<30)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Read(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, path := range repoModels() {
		b.Run(filepath.Base(path), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Read(path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func repoModels() []string {
	paths, _ := filepath.Glob(filepath.Join(repoRoot, "testdata", "models", "*.onnx"))
	return paths
}

// repoRoot is the checkout's root, seen from this package's folder.
const repoRoot = "../.."
