#!/usr/bin/env python3
"""Builds testdata/models/mnist_cnn_slow.onnx: mnist_cnn.onnx with extra work that changes nothing.

After the first pooling layer the activations are non-negative (ReLU then max-pool), so a 3x3
convolution whose kernel is the identity (1 at the centre of its own channel, 0 elsewhere, bias 0)
followed by a ReLU returns them exactly: every product is x*1 or x*0 and the sums are exact.
ONNX Runtime cannot know that and computes each such layer in full. LAYERS of them make the model
about 1.6x slower at batch 1 on one thread (checks/latency_test.go measures it), with the same predictions
bit for bit, so it is the "real 1.5x slowdown" of model.latency's tests and nothing else changes.

Run with Debian's python3-onnx: /usr/bin/python3 testdata/make_slow.py
The output is deterministic (no randomness, fixed names).
"""
import os

import numpy as np
import onnx
from onnx import helper, numpy_helper

LAYERS = 2

here = os.path.dirname(os.path.abspath(__file__))
model = onnx.load(os.path.join(here, "models", "mnist_cnn.onnx"))
graph = model.graph

pooled = "/MaxPool_output_0"
channels = 8
kernel = np.zeros((channels, channels, 3, 3), dtype=np.float32)
for c in range(channels):
    kernel[c, c, 1, 1] = 1.0
graph.initializer.append(numpy_helper.from_array(kernel, "identity.weight"))
graph.initializer.append(numpy_helper.from_array(np.zeros(channels, dtype=np.float32), "identity.bias"))

nodes = []
prev = pooled
for i in range(LAYERS):
    conv, relu = f"/identity{i}/Conv_output_0", f"/identity{i}/Relu_output_0"
    nodes.append(helper.make_node("Conv", [prev, "identity.weight", "identity.bias"], [conv],
                                  name=f"/identity{i}/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("Relu", [conv], [relu], name=f"/identity{i}/Relu"))
    prev = relu

# Rewire the consumer of the pooled map to the last identity layer, and put the new nodes right
# after the pooling node so the graph stays topologically sorted.
out = []
for n in graph.node:
    if n.output[0] != pooled:
        for j, name in enumerate(n.input):
            if name == pooled:
                n.input[j] = prev
    out.append(n)
    if n.output[0] == pooled:
        out.extend(nodes)
del graph.node[:]
graph.node.extend(out)
onnx.checker.check_model(model)
path = os.path.join(here, "models", "mnist_cnn_slow.onnx")
onnx.save(model, path)
print(path, os.path.getsize(path), "bytes")
