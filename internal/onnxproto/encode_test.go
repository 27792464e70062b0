package onnxproto

// A tiny protobuf encoder for building edge cases the Python generator cannot produce (unknown
// fields of every wire type, groups, bad tags, huge payloads). Real files from onnx.helper are
// the independent reference; these only exercise the decoder's corners.

type pb []byte

func (b pb) varint(v uint64) pb {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func (b pb) tag(field int, wt wireType) pb { return b.varint(uint64(field)<<3 | uint64(wt)) }

func (b pb) raw(bytes ...byte) pb { return append(b, bytes...) }

func (b pb) int(field int, v int64) pb { return b.tag(field, wireVarint).varint(uint64(v)) }

func (b pb) str(field int, s string) pb {
	return append(b.tag(field, wireBytes).varint(uint64(len(s))), s...)
}

func (b pb) msg(field int, m pb) pb { return b.str(field, string(m)) }

// tensorValueInfo encodes a ValueInfoProto for a float tensor with the given fixed dims.
func tensorValueInfo(name string, dims ...int64) pb {
	var shape pb
	for _, d := range dims {
		shape = shape.msg(shapeDim, pb{}.int(dimValue, d))
	}
	tensorType := pb{}.int(tensorTypeElemType, int64(Float)).msg(tensorTypeShape, shape)
	return pb{}.str(valueInfoName, name).msg(valueInfoType, pb{}.msg(typeTensor, tensorType))
}

// minimalGraph has one input "x" [1,2] and one output "y" [1,2].
func minimalGraph() pb {
	return pb{}.str(graphName, "g").
		msg(graphInput, tensorValueInfo("x", 1, 2)).
		msg(graphOutput, tensorValueInfo("y", 1, 2))
}

// minimalModel wraps a graph into an IR 8, opset 13 model.
func minimalModel(graph pb) pb {
	return pb{}.int(modelIRVersion, 8).
		msg(modelGraph, graph).
		msg(modelOpsetImport, pb{}.str(opsetDomain, "").int(opsetVersion, 13))
}
