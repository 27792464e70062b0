#!/usr/bin/python3
"""Builds the benchmark of scripts/bench-pr in a folder outside the repository: a MobileNetV2-class
classifier (torchvision mobilenet_v2, 224 px RGB, 5 classes) as a candidate and a baseline ONNX
model, and 1,000 labelled JPEG images in a class-per-folder tree.

Images: deterministic crops of the real photographs that Debian ships with python3-skimage
(/usr/lib/python3/dist-packages/skimage/data, BSD-3 / public domain, see that folder's README) and
python3-matplotlib (grace_hopper.jpg), grouped into 5 classes, each crop randomly placed and sized,
flipped, slightly rotated, jittered in brightness and contrast, resized to 256-400 px and saved as
JPEG at quality 70-95. A second, disjoint set of crops (other seeds) trains the classifier heads.

Models: no pretrained weights can be downloaded here, so the features are torchvision's
MobileNetV2 at its random initialisation (seed 0), with batch-norm statistics estimated on the
training crops; the classifier head is then fitted on the frozen features. The baseline shares
the features and has a head fitted on another half of the training crops with another seed: a
retrained head, the kind of change a PR makes. Both are exported at opset 13 with a dynamic batch.

Usage: bench-pr-data.py DIR [--images N]. Idempotent: nothing is rebuilt when DIR/stamp matches.
"""
import argparse
import json
import os
import random
import sys

import numpy as np
from PIL import Image, ImageEnhance

SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
CLASSES = {
    "people": [SKIMAGE + "/astronaut.png", "/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg"],
    "cat": [SKIMAGE + "/chelsea.png"],
    "objects": [SKIMAGE + "/coffee.png", SKIMAGE + "/rocket.jpg", SKIMAGE + "/motorcycle_left.png",
                SKIMAGE + "/motorcycle_right.png"],
    "science": [SKIMAGE + "/hubble_deep_field.jpg", SKIMAGE + "/retina.jpg", SKIMAGE + "/ihc.png"],
    "texture": [SKIMAGE + "/grass.png", SKIMAGE + "/gravel.png", SKIMAGE + "/brick.png"],
}
VERSION = 1


def crop(src, rng):
    """One deterministic augmented crop of src."""
    w, h = src.size
    side = int(min(w, h) * rng.uniform(0.35, 0.9))
    aspect = rng.uniform(0.75, 1.33)
    cw, ch = min(w, int(side * aspect)), min(h, side)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    im = src.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    im = im.rotate(rng.uniform(-10, 10), resample=Image.BILINEAR)
    im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.7, 1.3))
    im = ImageEnhance.Contrast(im).enhance(rng.uniform(0.7, 1.3))
    long = rng.randint(256, 400)
    scale = long / max(im.size)
    return im.resize((max(1, int(im.size[0] * scale)), max(1, int(im.size[1] * scale))), Image.BILINEAR)


def build_images(root, n, seed):
    sources = {c: [Image.open(p).convert("RGB") for p in ps] for c, ps in CLASSES.items()}
    rng = random.Random(seed)
    names = sorted(sources)
    per = n // len(names)
    for c in names:
        os.makedirs(os.path.join(root, c), exist_ok=True)
        for k in range(per):
            src = sources[c][k % len(sources[c])]
            crop(src, rng).save(os.path.join(root, c, "%s_%04d.jpg" % (c, k)), quality=rng.randint(70, 95))
    return names


def tensors(root, names):
    import torch
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    xs, ys = [], []
    for label, c in enumerate(names):
        for f in sorted(os.listdir(os.path.join(root, c))):
            im = Image.open(os.path.join(root, c, f)).convert("RGB")
            # The imagenet preset: shorter side 256, centre crop 224.
            s = 256 / min(im.size)
            im = im.resize((max(224, round(im.size[0] * s)), max(224, round(im.size[1] * s))), Image.BILINEAR)
            l, t = (im.size[0] - 224) // 2, (im.size[1] - 224) // 2
            im = im.crop((l, t, l + 224, t + 224))
            x = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)
            xs.append((x - mean) / std)
            ys.append(label)
    return torch.stack(xs), torch.tensor(ys)


def build_models(out, train_root, names):
    import torch
    import torchvision
    torch.manual_seed(0)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model = torchvision.models.mobilenet_v2(num_classes=len(names))
    x, y = tensors(train_root, names)
    # Batch-norm statistics from the training crops (cumulative average), then frozen.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for i in range(0, len(x), 50):
            model.features(x[i:i + 50])
    model.eval()
    with torch.no_grad():
        feats = torch.cat([model.features(x[i:i + 50]).mean((2, 3)) for i in range(0, len(x), 50)])
    mu, sd = feats.mean(0), feats.std(0) + 1e-6
    z = (feats - mu) / sd

    def head(idx, seed, steps):
        torch.manual_seed(seed)
        lin = torch.nn.Linear(z.shape[1], len(names))
        with torch.no_grad():
            lin.weight.normal_(0, 0.01)
            lin.bias.zero_()
        opt = torch.optim.Adam(lin.parameters(), lr=0.01, weight_decay=1e-3)
        for _ in range(steps):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(lin(z[idx]), y[idx]).backward()
            opt.step()
        # Fold the feature standardisation into the head: W (f - mu) / sd + b.
        w = lin.weight.detach() / sd
        b = lin.bias.detach() - (w * mu).sum(1)
        return w, b

    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(1))
    heads = {"candidate": head(perm, 2, 300), "baseline": head(perm[: len(x) // 2], 3, 100)}
    for name, (w, b) in heads.items():
        clf = model.classifier[1]
        with torch.no_grad():
            clf.weight.copy_(w)
            clf.bias.copy_(b)
        path = os.path.join(out, name + ".onnx")
        torch.onnx.export(model, torch.zeros(1, 3, 224, 224), path, opset_version=13, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        with torch.no_grad():
            acc = (model(x).argmax(1) == y).float().mean().item()
        print("bench-pr-data: %s.onnx, training-crop accuracy %.3f" % (name, acc), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--images", type=int, default=1000)
    a = ap.parse_args()
    stamp_path = os.path.join(a.dir, "stamp")
    stamp = {"version": VERSION, "images": a.images}
    if os.path.exists(stamp_path) and json.load(open(stamp_path)) == stamp:
        return
    os.makedirs(a.dir, exist_ok=True)
    names = build_images(os.path.join(a.dir, "images"), a.images, seed=7)
    build_images(os.path.join(a.dir, "train"), 500, seed=8)
    build_models(a.dir, os.path.join(a.dir, "train"), names)
    json.dump(stamp, open(stamp_path, "w"))


if __name__ == "__main__":
    main()
