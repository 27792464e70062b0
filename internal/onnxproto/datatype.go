package onnxproto

import (
	"fmt"
	"strconv"
)

// DataType is TensorProto.DataType: the element type of a tensor.
type DataType int32

// Element types, numbered as in onnx.proto.
const (
	Undefined      DataType = 0
	Float          DataType = 1
	Uint8          DataType = 2
	Int8           DataType = 3
	Uint16         DataType = 4
	Int16          DataType = 5
	Int32          DataType = 6
	Int64          DataType = 7
	String         DataType = 8
	Bool           DataType = 9
	Float16        DataType = 10
	Double         DataType = 11
	Uint32         DataType = 12
	Uint64         DataType = 13
	Complex64      DataType = 14
	Complex128     DataType = 15
	BFloat16       DataType = 16
	Float8E4M3FN   DataType = 17
	Float8E4M3FNUZ DataType = 18
	Float8E5M2     DataType = 19
	Float8E5M2FNUZ DataType = 20
	Uint4          DataType = 21
	Int4           DataType = 22
	Float4E2M1     DataType = 23
)

var dataTypeNames = [...]string{
	Undefined:      "undefined",
	Float:          "float",
	Uint8:          "uint8",
	Int8:           "int8",
	Uint16:         "uint16",
	Int16:          "int16",
	Int32:          "int32",
	Int64:          "int64",
	String:         "string",
	Bool:           "bool",
	Float16:        "float16",
	Double:         "double",
	Uint32:         "uint32",
	Uint64:         "uint64",
	Complex64:      "complex64",
	Complex128:     "complex128",
	BFloat16:       "bfloat16",
	Float8E4M3FN:   "float8e4m3fn",
	Float8E4M3FNUZ: "float8e4m3fnuz",
	Float8E5M2:     "float8e5m2",
	Float8E5M2FNUZ: "float8e5m2fnuz",
	Uint4:          "uint4",
	Int4:           "int4",
	Float4E2M1:     "float4e2m1",
}

// String returns ONNX's lower-case name for the type ("float", "uint8"), or "DataType(N)" for a
// number this package does not know (a newer ONNX may add types).
func (t DataType) String() string {
	if t >= 0 && int(t) < len(dataTypeNames) {
		return dataTypeNames[t]
	}
	return "DataType(" + strconv.Itoa(int(t)) + ")"
}

// MarshalText writes the type's name, so that JSON reports say "float" rather than 1.
func (t DataType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText accepts the names MarshalText writes.
func (t *DataType) UnmarshalText(text []byte) error {
	for i, name := range dataTypeNames {
		if name == string(text) {
			*t = DataType(i)
			return nil
		}
	}
	return fmt.Errorf("parse data type %q: unknown name", text)
}
