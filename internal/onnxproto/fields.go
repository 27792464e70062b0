package onnxproto

// Field numbers from onnx/onnx.proto (they are frozen: ONNX never renumbers a field). Only the
// fields this reader uses, or must descend into to find external data, are named.

// ModelProto.
const (
	modelIRVersion       = 1
	modelProducerName    = 2
	modelProducerVersion = 3
	modelDomain          = 4
	modelModelVersion    = 5
	modelDocString       = 6
	modelGraph           = 7
	modelOpsetImport     = 8
	modelMetadataProps   = 14
	modelTrainingInfo    = 20
	modelFunctions       = 25
)

// OperatorSetIdProto.
const (
	opsetDomain  = 1
	opsetVersion = 2
)

// StringStringEntryProto (metadata_props, external_data).
const (
	entryKey   = 1
	entryValue = 2
)

// GraphProto.
const (
	graphNode              = 1
	graphName              = 2
	graphInitializer       = 5
	graphInput             = 11
	graphOutput            = 12
	graphSparseInitializer = 15
)

// NodeProto.
const (
	nodeAttribute = 5
)

// AttributeProto: the fields that can hold tensors or subgraphs.
const (
	attrTensor        = 5
	attrGraph         = 6
	attrTensors       = 10
	attrGraphs        = 11
	attrSparseTensor  = 22
	attrSparseTensors = 23
)

// TrainingInfoProto.
const (
	trainingInitialization = 1
	trainingAlgorithm      = 2
)

// FunctionProto.
const (
	functionNode = 7
)

// TensorProto.
const (
	tensorName         = 8
	tensorExternalData = 13
	tensorDataLocation = 14
)

// TensorProto.DataLocation.
const (
	dataLocationExternal = 1
)

// SparseTensorProto.
const (
	sparseValues  = 1
	sparseIndices = 2
)

// ValueInfoProto.
const (
	valueInfoName = 1
	valueInfoType = 2
)

// TypeProto (oneof value) and its Tensor / SparseTensor messages.
const (
	typeTensor       = 1
	typeSequence     = 4
	typeMap          = 5
	typeSparseTensor = 8
	typeOptional     = 9

	tensorTypeElemType = 1
	tensorTypeShape    = 2
)

// TensorShapeProto and TensorShapeProto.Dimension.
const (
	shapeDim = 1

	dimValue = 1
	dimParam = 2
)

// Keys of TensorProto.external_data entries.
const (
	externalKeyLocation = "location"
	externalKeyOffset   = "offset"
	externalKeyLength   = "length"
)
