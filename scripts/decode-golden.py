#!/usr/bin/python3
"""Regenerates internal/detect/decode/testdata/nms_golden.json: small raw YOLO heads and what a
reference post-processing written with torchvision.ops (box_convert, batched_nms) keeps from
them, for the decode package's tests.

Expects Debian's python3-torch and python3-torchvision (torchvision 0.14). The reference follows
the YOLO validation recipe: best class per anchor (or every class above the threshold for the
multi-label case), scores strictly above the threshold, class-aware NMS suppressing IoU above the
threshold, at most max_det kept. It computes in float64 on the float32 values the file stores.

    scripts/decode-golden.py internal/detect/decode/testdata/nms_golden.json
"""
import json
import sys

import numpy as np
import torch
from torchvision.ops import batched_nms, box_convert


def scene(rng, size, anchors, classes, objects):
    """A head's content in anchor-major form: [A, 4+C] (cx, cy, w, h, class scores)."""
    rows = np.zeros((anchors, 4 + classes))
    rows[:, 0:2] = rng.uniform(0, size, (anchors, 2))
    rows[:, 2:4] = rng.uniform(4, size / 3, (anchors, 2))
    rows[:, 4:] = rng.uniform(0, 0.05, (anchors, classes))  # background noise
    per = anchors // (objects * 2)
    for o in range(objects):
        cx, cy = rng.uniform(10, size - 10, 2)
        w, h = rng.uniform(8, size / 3, 2)
        c = rng.integers(classes)
        for k in range(per):
            a = o * per + k
            rows[a, 0:4] = [cx + rng.normal(0, w * 0.1), cy + rng.normal(0, h * 0.1), w * rng.uniform(0.8, 1.2), h * rng.uniform(0.8, 1.2)]
            rows[a, 4 + c] = rng.uniform(0.2, 0.95)
            if rng.random() < 0.3:  # a runner-up class on the same box
                rows[a, 4 + (c + 1) % classes] = rng.uniform(0.1, 0.6)
    rows[:, 0:4] = np.round(rows[:, 0:4], 3)
    rows[:, 4:] = np.round(rows[:, 4:], 6)
    return rows.astype(np.float32)


def reference(rows, thr, iou, max_det, multi_label, objectness=None):
    t = torch.from_numpy(rows.astype(np.float64))
    boxes = box_convert(t[:, 0:4], "cxcywh", "xyxy")
    cls = t[:, 4:]
    if objectness is not None:
        cls = cls * torch.from_numpy(objectness.astype(np.float64))[:, None]
    if multi_label:
        a, c = (cls > thr).nonzero(as_tuple=True)
        b, s, k = boxes[a], cls[a, c], c
    else:
        s, k = cls.max(1)
        keep = s > thr
        b, s, k = boxes[keep], s[keep], k[keep]
    if len(torch.unique(s)) != len(s):
        raise SystemExit("tied candidate scores: change the seed")
    kept = batched_nms(b, s, k, iou)[:max_det]
    return [[*map(float, b[i].tolist()), float(s[i]), int(k[i])] for i in kept]


def main(path):
    rng = np.random.default_rng(12)
    size, anchors, classes = 160, 400, 5
    cases = {}
    rows = scene(rng, size, anchors, classes, objects=12)
    v8 = np.ascontiguousarray(rows.T)  # [4+C, A]
    for name, multi, thr, iou, max_det in [("yolov8", False, 0.25, 0.7, 100), ("yolov8_multilabel", True, 0.05, 0.5, 100),
                                            ("yolov8_maxdet", False, 0.1, 0.45, 7)]:
        cases[name] = {"convention": "yolov8", "head": "yolov8",
                       "score_threshold": thr, "iou_threshold": iou, "max_det": max_det, "multi_label": multi,
                       "expected": reference(rows, thr, iou, max_det, multi)}
    obj = np.round(rng.uniform(0.3, 1.0, anchors), 6).astype(np.float32)
    v5 = np.concatenate([rows[:, 0:4], obj[:, None], rows[:, 4:]], axis=1)  # [A, 5+C]
    cases["yolov5"] = {"convention": "yolov5", "head": "yolov5",
                       "score_threshold": 0.2, "iou_threshold": 0.6, "max_det": 100, "multi_label": False,
                       "expected": reference(rows, 0.2, 0.6, 100, False, objectness=obj)}
    with open(path, "w") as f:
        json.dump({"generator": "scripts/decode-golden.py (torchvision " + __import__("torchvision").__version__ + ")",
                   "heads": {"yolov8": {"shape": [1, 4 + classes, anchors], "data": [float(v) for v in v8.ravel()]},
                             "yolov5": {"shape": [1, anchors, 5 + classes], "data": [float(v) for v in v5.ravel()]}},
                   "cases": cases}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
