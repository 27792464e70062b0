#!/usr/bin/python3
"""Regenerates the pycocotools golden cases of internal/detect/cocoeval, and times pycocotools on
the benchmark input for scripts/coco-bench.

Expects pycocotools 2.0 (the PythonAPI of github.com/cocodataset/cocoapi, BSD licence), built and
importable from PYTHONPATH, with numpy. This script does not build or install it. pycocotools 2.0
still calls numpy's removed `np.float` alias; on numpy >= 1.24 the script restores the alias as the
builtin float before importing it, which is what the alias always meant.

    PYTHONPATH=/path/to/cocoapi/PythonAPI scripts/coco-golden.py golden internal/detect/cocoeval/testdata/golden
    PYTHONPATH=... scripts/coco-golden.py bench GT.json RESULTS.json   # prints JSON: seconds and stats

Every case is drawn from a seeded numpy Generator, so a rerun writes the same files. Each case
writes <case>_gt.json (COCO instances), <case>_results.json (COCO results) and
<case>_expected.json (parameters and everything pycocotools computed).
"""
import contextlib
import io
import json
import os
import sys
import time

import numpy as np

if not hasattr(np, "float"):
    np.float = float  # pycocotools 2.0 uses the alias numpy 1.24 removed

from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def evaluate(gt_path, res_path, max_dets=None):
    """Runs COCOeval quietly; returns it and the seconds evaluate+accumulate+summarize took."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        dt = gt.loadRes(res_path)
        ev = COCOeval(gt, dt, "bbox")
        if max_dets is not None:
            ev.params.maxDets = max_dets
        start = time.perf_counter()
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        seconds = time.perf_counter() - start
    return ev, seconds


def mean_valid(a):
    a = a[a > -1]
    return -1.0 if a.size == 0 else float(np.mean(a))


def expected(ev):
    p = ev.params
    prec = ev.eval["precision"]  # [T, R, K, A, M]
    rec = ev.eval["recall"]  # [T, K, A, M]
    scores = ev.eval["scores"]
    t50 = int(np.where(np.isclose(p.iouThrs, 0.5))[0][0])
    t75 = int(np.where(np.isclose(p.iouThrs, 0.75))[0][0])
    out = {
        "stats": {n: float(v) for n, v in zip(STAT_NAMES, ev.stats)},
        "iou_thresholds": [float(v) for v in p.iouThrs],
        "recall_thresholds": [float(v) for v in p.recThrs],
        "max_dets": [int(v) for v in p.maxDets],
        "per_class": [],
    }
    for k, cat in enumerate(p.catIds):
        out["per_class"].append({
            "category_id": int(cat),
            "AP": mean_valid(prec[:, :, k, 0, -1]),
            "AP50": mean_valid(prec[t50, :, k, 0, -1]),
            "AP75": mean_valid(prec[t75, :, k, 0, -1]),
            "AR": mean_valid(rec[:, k, 0, -1]),
            # Rounded to 1e-9 (the tests compare to 1e-4) to keep the files small.
            "precision50": [round(float(v), 9) for v in prec[t50, :, k, 0, -1]],
            "scores50": [round(float(v), 9) for v in scores[t50, :, k, 0, -1]],
        })
    return out


def r2(v):
    return float(round(float(v), 2))


class Case:
    """Builds one case's ground truth and results."""

    def __init__(self, seed, cat_ids, n_images, size=(320, 240)):
        self.rng = np.random.default_rng(seed)
        self.cat_ids = list(cat_ids)
        self.size = size
        self.images = [{"id": 100 + 3 * i, "file_name": f"img_{i:04d}.jpg", "width": size[0], "height": size[1]}
                       for i in range(n_images)]
        self.anns, self.results = [], []

    def box(self, lo=4, hi=150, integer=False):
        w, h = self.size
        bw = float(np.exp(self.rng.uniform(np.log(lo), np.log(hi))))
        bh = bw * float(np.exp(self.rng.uniform(-0.7, 0.7)))
        bw, bh = min(bw, w - 1), min(bh, h - 1)
        x = self.rng.uniform(0, w - bw)
        y = self.rng.uniform(0, h - bh)
        if integer:
            return [float(int(x)), float(int(y)), float(max(1, int(bw))), float(max(1, int(bh)))]
        return [r2(x), r2(y), r2(bw), r2(bh)]

    def gt(self, image, cat, bbox, crowd=0, area=None):
        self.anns.append({"id": len(self.anns) + 1, "image_id": image["id"], "category_id": cat, "bbox": bbox,
                          "area": r2(bbox[2] * bbox[3]) if area is None else area, "iscrowd": crowd})

    def det(self, image, cat, bbox, score):
        self.results.append({"image_id": image["id"], "category_id": cat, "bbox": bbox, "score": score})

    def jitter(self, bbox, amount, integer=False):
        x, y, w, h = bbox
        d = self.rng.normal(0, amount, 4) * np.array([w, h, w, h])
        out = [x + d[0], y + d[1], max(1.0, w + d[2]), max(1.0, h + d[3])]
        if integer:
            return [float(round(v)) for v in out]
        return [r2(v) for v in out]

    def score(self, quantum=None):
        s = float(self.rng.uniform(0.01, 1.0))
        return round(s / quantum) * quantum if quantum else round(s, 4)

    def populate(self, gt_per_image=(0, 8), dets_per_gt=(0, 3), fp_per_image=(0, 5), crowd_rate=0.0,
                 wrong_class_rate=0.1, quantum=None, integer=False, segment_area=False):
        for image in self.images:
            for _ in range(self.rng.integers(gt_per_image[0], gt_per_image[1] + 1)):
                cat = int(self.rng.choice(self.cat_ids))
                b = self.box(integer=integer)
                crowd = int(self.rng.random() < crowd_rate)
                area = None
                if segment_area:
                    area = r2(b[2] * b[3] * self.rng.uniform(0.4, 1.0))
                self.gt(image, cat, b, crowd, area)
                for _ in range(self.rng.integers(dets_per_gt[0], dets_per_gt[1] + 1)):
                    c = cat if self.rng.random() >= wrong_class_rate else int(self.rng.choice(self.cat_ids))
                    jb = b if crowd else self.jitter(b, 0.08, integer)
                    if crowd:  # detections inside the crowd region
                        jb = [r2(b[0] + b[2] * 0.2), r2(b[1] + b[3] * 0.2), r2(b[2] * 0.3), r2(b[3] * 0.3)]
                    self.det(image, c, jb, self.score(quantum))
            for _ in range(self.rng.integers(fp_per_image[0], fp_per_image[1] + 1)):
                self.det(image, int(self.rng.choice(self.cat_ids)), self.box(integer=integer), self.score(quantum))

    def write(self, folder, name, max_dets=None, note="", inputs=None):
        """Writes the case's input files (or reuses those of case `inputs`) and the expected numbers."""
        cats = [{"id": c, "name": f"class_{c}", "supercategory": "thing"} for c in sorted(self.cat_ids)]
        base = inputs or name
        gt_path = os.path.join(folder, f"{base}_gt.json")
        res_path = os.path.join(folder, f"{base}_results.json")
        if inputs is None:
            with open(gt_path, "w") as f:
                json.dump({"images": self.images, "annotations": self.anns, "categories": cats}, f, separators=(",", ":"))
            with open(res_path, "w") as f:
                json.dump(self.results, f, separators=(",", ":"))
        ev, _ = evaluate(gt_path, res_path, max_dets)
        out = expected(ev)
        out["note"] = note
        out["gt_file"], out["results_file"] = os.path.basename(gt_path), os.path.basename(res_path)
        out["num_images"], out["num_gt"], out["num_detections"] = len(self.images), len(self.anns), len(self.results)
        with open(os.path.join(folder, f"{name}_expected.json"), "w") as f:
            json.dump(out, f, indent=0, separators=(",", ":"))
            f.write("\n")


def golden(folder):
    os.makedirs(folder, exist_ok=True)

    c = Case(1, range(1, 6), 30)
    c.populate(crowd_rate=0.15)
    c.write(folder, "crowd", note="crowd regions (iscrowd=1) with detections inside them")

    # COCO's own category ids, with its gaps (12, 26, 29, 30, 45, 66, 68, 69, 71, 83 are unused).
    coco_ids = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
    c = Case(2, coco_ids, 60)
    c.populate(gt_per_image=(0, 12), fp_per_image=(0, 10))
    c.write(folder, "many_classes", note="80 classes with COCO's non-contiguous ids; many classes absent per image")

    c = Case(3, [1, 2, 3], 8)
    c.populate(gt_per_image=(5, 30), dets_per_gt=(2, 6), fp_per_image=(20, 60))
    c.write(folder, "maxdets", note="more than 100 detections per image and class: the cut-offs bite")
    c.write(folder, "maxdets_custom", max_dets=[2, 7, 40], inputs="maxdets",
            note="the maxdets input with maxDets 2, 7, 40 (COCOeval takes AP at 100 detections, so it is -1)")

    c = Case(4, [1, 2, 3, 4, 5, 6], 25)
    c.populate(gt_per_image=(0, 4))
    for image in c.images[:5]:  # detections only: images without ground truth
        c.anns = [a for a in c.anns if a["image_id"] != image["id"]]
        c.det(image, 1, c.box(), c.score())
    c.results = [r for r in c.results if r["image_id"] != c.images[5]["id"]]  # ground truth, no detections
    c.anns = [a for a in c.anns if a["category_id"] != 6]  # a category that never occurs
    for i, a in enumerate(c.anns):
        a["id"] = i + 1
    c.write(folder, "empty_images", note="images with detections but no ground truth, ground truth but no detections, a category without ground truth")

    c = Case(5, [1, 2, 3, 4], 40)
    c.populate(quantum=0.1, dets_per_gt=(1, 4), fp_per_image=(2, 8))
    c.write(folder, "ties", note="scores on a 0.1 grid: ties within and across images (stable mergesort order)")

    c = Case(6, [1, 2, 3], 30, size=(200, 200))
    c.populate(integer=True, dets_per_gt=(1, 3))
    for image in c.images[:10]:  # objects exactly on the area boundaries (32x32, 96x96)
        for side in (32, 96):
            b = [10.0, 10.0, float(side), float(side)]
            c.gt(image, 1, b)
            c.det(image, 1, [10.0, 10.0, float(side), float(side // 2)], c.score())  # IoU exactly 0.5
            c.det(image, 1, [float(10 + side // 4), 10.0, float(side), float(side)], c.score())  # IoU 0.6
    c.write(folder, "integer_boundaries", note="integer boxes: IoUs exactly on thresholds and areas exactly 32^2 and 96^2")

    c = Case(7, range(1, 21), 150, size=(640, 480))
    c.populate(gt_per_image=(0, 10), dets_per_gt=(0, 4), fp_per_image=(0, 15), crowd_rate=0.03,
               segment_area=True, wrong_class_rate=0.15)
    c.write(folder, "random_large", note="150 images, 20 classes, crowds, segment areas below the box area")


def bench(gt_path, res_path):
    ev, seconds = evaluate(gt_path, res_path)
    print(json.dumps({"seconds": seconds, "stats": {n: float(v) for n, v in zip(STAT_NAMES, ev.stats)}}))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "golden":
        golden(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "bench":
        bench(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
