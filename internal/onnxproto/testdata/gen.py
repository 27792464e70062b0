#!/usr/bin/python3
"""Generate the ONNX fixtures of internal/onnxproto and their expected contents.

Run:  /usr/bin/python3 internal/onnxproto/testdata/gen.py
Needs Debian's python3-onnx and python3-numpy. Output is byte-reproducible (no randomness, no
timestamps). It writes, next to this script:

  opset7_ir3.onnx      IR 3 / opset 7, an initializer also listed as a graph input
  opset13_meta.onnx    IR 7 / opsets 13 + ai.onnx.ml 2, metadata_props, uint8 NHWC input with a
                       symbolic batch dim, a scalar input, an unknown dim, an output without shape
  ext_inside.onnx      weights (an initializer and a Constant node's tensor) saved as external
  ext_inside.bin       data in ext_inside.bin, next to the model
  ext_dotdot.onnx      external data at "../outside.bin"
  ext_absolute.onnx    external data at "/etc/cvgate-weights.bin"
  ext_missing.onnx     external data at "missing.bin" (the file does not exist)
  expect.json          what onnx's own protobuf parser sees in each model, in the JSON shape of
                       onnxproto.Model: the Go tests compare their reader against it
"""

import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data

HERE = os.path.dirname(os.path.abspath(__file__))


def weights(name, shape):
    # Fixed values, no RNG: the files must not change between runs.
    values = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) / 100.0
    return numpy_helper.from_array(values, name)


def opset7_ir3():
    w = weights("W", (4, 3))
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["h"]),
            helper.make_node("Softmax", ["h"], ["y"], axis=1),
        ],
        "ir3_graph",
        # IR 3 style: the initializer is a graph input too.
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
            helper.make_tensor_value_info("W", TensorProto.FLOAT, [4, 3]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        initializer=[w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 7)])
    model.ir_version = 3
    return model


def opset13_meta():
    w = weights("W", (64, 3))
    shape = numpy_helper.from_array(np.array([-1, 64], dtype=np.int64), "flat_shape")
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["f", "scale"], ["g"]),
            helper.make_node("Reshape", ["g", "flat_shape"], ["r"]),
            helper.make_node("MatMul", ["r", "W"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
            helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0),
        ],
        "meta_graph",
        [
            helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", 8, 8, 1]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, []),
        ],
        [
            # None is an unknown dim: neither dim_value nor dim_param.
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", None]),
            helper.make_tensor_value_info("label", TensorProto.INT64, None),
        ],
        initializer=[w, shape],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 2)],
        producer_name="cvgate-gen",
        producer_version="1.0",
        domain="org.cvgate.test",
        model_version=42,
        doc_string="fixture with metadata",
    )
    model.ir_version = 7
    helper.set_model_props(
        model, {"author": "cvgate tests", "labels": "cat,dog,bird", "preprocess": "scale=1/255"}
    )
    return model


def small_model(graph_name):
    w = weights("W", (4, 3))
    bias = helper.make_node(
        "Constant", [], ["b"], value=numpy_helper.from_array(np.ones(3, dtype=np.float32), "bias")
    )
    graph = helper.make_graph(
        [bias, helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])],
        graph_name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])],
        initializer=[w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    return model


def with_location(model, location):
    """Mark the initializer external at location, with no data written anywhere."""
    t = model.graph.initializer[0]
    length = len(t.raw_data)
    set_external_data(t, location=location, offset=0, length=length)
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    return model


def tensors_in_order(graph):
    """Every tensor of a graph in the order it is serialized (node=1 before initializer=5)."""
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from tensors_in_order(attr.g)
            for g in attr.graphs:
                yield from tensors_in_order(g)
    yield from graph.initializer
    for s in graph.sparse_initializer:
        yield s.values
        yield s.indices


def dtype_name(v):
    return TensorProto.DataType.Name(v).lower()


def value_info(vi):
    kind = vi.type.WhichOneof("value") or ""
    out = {"name": vi.name, "kind": kind, "elem_type": "undefined", "has_shape": False, "shape": None}
    if kind in ("tensor_type", "sparse_tensor_type"):
        t = getattr(vi.type, kind)
        out["kind"] = kind[: -len("_type")]
        out["elem_type"] = dtype_name(t.elem_type)
        if t.HasField("shape"):
            out["has_shape"] = True
            out["shape"] = [
                {"value": d.dim_value, "param": d.dim_param, "fixed": d.WhichOneof("value") == "dim_value"}
                for d in t.shape.dim
            ]
    return out


def describe(model):
    g = model.graph
    inits = [t.name for t in g.initializer] + [s.values.name for s in g.sparse_initializer]
    external = []
    for t in tensors_in_order(g):
        if t.data_location != TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in t.external_data}
        external.append({
            "tensor": t.name,
            "location": info.get("location", ""),
            "offset": int(info.get("offset", 0)),
            "length": int(info["length"]) if "length" in info else -1,
        })
    return {
        "ir_version": model.ir_version,
        "producer_name": model.producer_name,
        "producer_version": model.producer_version,
        "domain": model.domain,
        "model_version": model.model_version,
        "doc_string": model.doc_string,
        "opset_imports": [{"domain": o.domain, "version": o.version} for o in model.opset_import],
        "metadata": [{"key": p.key, "value": p.value} for p in model.metadata_props],
        "graph": {
            "name": g.name,
            "inputs": [value_info(i) for i in g.input if i.name not in inits],
            "outputs": [value_info(o) for o in g.output],
            "initializers": inits,
        },
        "external_data": external,
    }


def save(model, name):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(model.SerializeToString())


def main():
    onnx.checker.check_model(opset7_ir3())
    # onnx's checker demands a shape on every graph output; "label" deliberately has none (ONNX
    # Runtime accepts that, and cvgate must read it), so opset13_meta is not checked.
    # The external-data models are checked before their data is moved out (the checker would
    # look for the files, which these fixtures leave missing on purpose).
    onnx.checker.check_model(small_model("check"))
    models = {
        "opset7_ir3.onnx": opset7_ir3(),
        "opset13_meta.onnx": opset13_meta(),
        "ext_dotdot.onnx": with_location(small_model("dotdot"), "../outside.bin"),
        "ext_absolute.onnx": with_location(small_model("absolute"), "/etc/cvgate-weights.bin"),
        "ext_missing.onnx": with_location(small_model("missing"), "missing.bin"),
    }
    for name, model in models.items():
        save(model, name)

    inside = small_model("inside")
    data = os.path.join(HERE, "ext_inside.bin")
    if os.path.exists(data):
        os.remove(data)  # save_model appends to an existing data file
    onnx.save_model(
        inside,
        os.path.join(HERE, "ext_inside.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="ext_inside.bin",
        size_threshold=0,
        convert_attribute=True,
    )

    expect = {}
    for name in sorted(list(models) + ["ext_inside.onnx"]):
        loaded = onnx.load(os.path.join(HERE, name), load_external_data=False)
        expect[name] = describe(loaded)
    with open(os.path.join(HERE, "expect.json"), "w") as f:
        json.dump(expect, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
