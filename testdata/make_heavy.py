#!/usr/bin/env python3
"""Builds testdata/models/synthetic_224_rgb.onnx: a small-parameter, heavy-compute CNN for
224x224 RGB input, with seeded random weights (it is not trained: its answers mean nothing).

It stands in for a MobileNetV2-class model when measuring cvgate's own overhead: about 370 M
multiply-adds per image (MobileNetV2: ~300 M) in ~140 KB of weights, so it can be committed.
Run with Debian's python3-torch: /usr/bin/python3 testdata/make_heavy.py
"""
import os

import torch
from torch import nn

torch.manual_seed(224)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)


def block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]


model = nn.Sequential(
    *block(3, 16), *block(16, 16), nn.MaxPool2d(2),
    *block(16, 32), *block(32, 32), nn.MaxPool2d(2),
    *block(32, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
).eval()

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models", "synthetic_224_rgb.onnx")
torch.onnx.export(model, torch.zeros(1, 3, 224, 224), out, input_names=["pixel_values"],
                  output_names=["logits"], dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
                  opset_version=13)
print(out, os.path.getsize(out), "bytes")
