#!/usr/bin/python3
"""Measure the damage of the reference ImageNet-C corruptions, for cvgate's fidelity test.

Reference: bethgelab/imagecorruptions (Apache-2.0), release 1.1.2 with the later master fixes
(commit c959e659c9713837d2acd7ce785a81202d4be799: numba pixel shuffle in glass_blur, skimage
channel_axis). This script never installs it: it imports an already-installed copy, so put the
package on PYTHONPATH first, e.g.

    PYTHONPATH=/path/to/imagecorruptions /usr/bin/python3 scripts/corruption-fidelity.py golden

It needs Debian's python3-numpy, python3-pil, python3-skimage, python3-scipy, python3-opencv and
python3-numba (the reference's own dependencies) and nothing else.

Subcommands (run from the repository root):

  images   (re)build the committed input images under internal/perturb/testdata/fidelity/ from
           scikit-image's sample photos (Debian python3-skimage) and MNIST digits in
           testdata/images/mnist. Needs no reference.
  golden   run the reference on the 224 px images at every corruption and severity and write
           internal/perturb/testdata/fidelity.json (about 3 minutes on 2 cores).
  small    the same at 32 px (through imagecorruptions.corrupt) and 28 px (calling the
           corruption functions directly, since corrupt() refuses images under 32 px), written to
           internal/perturb/testdata/fidelity_small.json for docs/corruptions.md.
  frost    measure the reference's frost photographs (as its frost() sees them at 224 px: scaled
           by 1.1, bicubic) for cvgate's procedural substitute: luma quantiles, radial power
           spectrum and colour as a linear function of luma; writes
           internal/perturb/testdata/frost_stats.json and prints the same numbers as Go.
  speed    time the reference and cvgate (go test -bench BenchmarkFidelitySpeed) on the same
           224 px photo, interleaved per corruption, and print the ratio table as markdown.

The statistics, per sample (clean X, corrupted Y, uint8 HxWx3), are defined here and mirrored
exactly by internal/perturb/fidelity_test.go:

  psnr   10 log10(255^2 / mean((Y-X)^2)) over all values, capped at 99 dB
  mae    mean |Y-X| over all values (0..255 scale)
  gain   per frequency band b: (E_Y(b) - E_X(b)) / E_X(all), where E_Z(b) is the power of the
         2-D DFT of the mean-free BT.601 luma of Z summed over the frequencies in band b
         (energy the corruption added, > 0, or removed, < 0, as a share of the clean energy)
  damage per band b: E_D(b) / E_D(all) for D = luma(Y) - luma(X) without the DC term (where the
         damage's energy lies)

Bands are radial, in cycles per pixel f = hypot(fx, fy) with numpy's fftfreq: (0, 1/32],
(1/32, 1/16], (1/16, 1/8], (1/8, 1/4], (1/4, inf). Each image's statistics are averaged over its
seeds, then the cell reports the mean and the standard deviation over images.
"""

import argparse
import io
import json
import os
import re
import subprocess
import sys
import time
import warnings

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIDELITY = os.path.join(ROOT, "internal", "perturb", "testdata", "fidelity")
SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"

# Sample photos of scikit-image with their licence (from skimage.data's docstrings).
PHOTOS = [
    ("astronaut", "astronaut.png", "public domain (NASA)"),
    ("coffee", "coffee.png", "CC0 (Rachel Michetti)"),
    ("chelsea", "chelsea.png", "CC0 (Stefan van der Walt)"),
    ("rocket", "rocket.jpg", "public domain (SpaceX)"),
    ("retina", "retina.jpg", "CC0 (Häggström, Wikimedia Commons)"),
    ("ihc", "ihc.png", "no known copyright restrictions"),
]
# MNIST test digits already in the repository (testdata/images/mnist/<digit>/<index>.png).
DIGITS = [("mnist0_0003", "0/0003.png"), ("mnist3_0449", "3/0449.png"),
          ("mnist7_0410", "7/0410.png"), ("mnist8_0146", "8/0146.png")]

REFERENCE = "bethgelab/imagecorruptions 1.1.2 + master c959e659c9713837d2acd7ce785a81202d4be799"
EXACT_CROP = (45, 33)  # odd width and height, at least 32 (the reference's minimum)
# Deterministic corruptions cvgate reproduces byte for byte (PIL's arithmetic), checked by hash.
EXACT = ["pixelate", "jpeg_compression"]
EXACT_IMAGES = ["224/astronaut", "224/mnist3_0449", "exact/astronaut_crop"]
BANDS = [1 / 32, 1 / 16, 1 / 8, 1 / 4]  # upper edges; the last band is open
REPS = 2  # seeds per image and cell
SMALL_REPS = 3


def names():
    from imagecorruptions import get_corruption_names
    return get_corruption_names("all")


def seed_for(image_index, rep, corruption_index):
    # One seed per (image, repetition, corruption), shared by the five severities, as cvgate does.
    return (image_index * 16 + rep) * 32 + corruption_index


# frost picks one of five photographs (np.random.randint(5), its first draw) and the photographs
# differ a lot, so a handful of random picks would make the cell mean depend on which ones came
# up. Its seeds are stratified instead: repetition r of every image uses the first seed whose
# pick is r, so each image meets each pick once and the mean is the expectation over picks.
FROST_REPS = 5


def seeds_for(name, image_index, reps, corruption_index):
    if name != "frost":
        return [seed_for(image_index, rep, corruption_index) for rep in range(reps)]
    out = []
    for rep in range(FROST_REPS):
        s = seed_for(image_index, rep, corruption_index)
        while True:
            np.random.seed(s)
            if np.random.randint(5) == rep:
                break
            s += 1 << 20
        out.append(s)
    return out


def load(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)


def image_list(size):
    folder = os.path.join(FIDELITY, str(size))
    files = sorted(f for f in os.listdir(folder) if f.endswith(".png"))
    if not files:
        sys.exit(f"no images in {folder}: run the images subcommand")
    return [(f[:-4], load(os.path.join(folder, f))) for f in files]


# --------------------------------------------------------------------------------------------
# images


def cmd_images(_):
    digit_dir = os.path.join(ROOT, "testdata", "images", "mnist")
    for size in (224, 32, 28):
        os.makedirs(os.path.join(FIDELITY, str(size)), exist_ok=True)
    for name, fname, _lic in PHOTOS:
        im = Image.open(os.path.join(SKIMAGE_DATA, fname)).convert("RGB")
        w, h = im.size
        side = min(w, h)
        im = im.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))
        big = im.resize((224, 224), Image.LANCZOS)
        save(big, 224, name)
        for size in (32, 28):
            save(big.resize((size, size), Image.BOX), size, name)
    for name, rel in DIGITS:
        d = Image.open(os.path.join(digit_dir, rel)).convert("L")
        save(d.resize((224, 224), Image.BICUBIC).convert("RGB"), 224, name)
        save(d.resize((32, 32), Image.BICUBIC).convert("RGB"), 32, name)
        save(d.convert("RGB"), 28, name)
    # An odd-sized crop for the byte-exact checks (padding to whole JPEG blocks, uneven resizes).
    os.makedirs(os.path.join(FIDELITY, "exact"), exist_ok=True)
    big = Image.open(os.path.join(FIDELITY, "224", "astronaut.png"))
    big.crop((60, 50, 60 + EXACT_CROP[0], 50 + EXACT_CROP[1])).save(
        os.path.join(FIDELITY, "exact", "astronaut_crop.png"), optimize=True)


def save(im, size, name):
    im.save(os.path.join(FIDELITY, str(size), name + ".png"), optimize=True)


# --------------------------------------------------------------------------------------------
# statistics


def luma(x):
    x = x.astype(np.float64)
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def band_index(h, w):
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    f = np.hypot(fy, fx)
    idx = np.full((h, w), len(BANDS), dtype=np.int64)
    for b in range(len(BANDS) - 1, -1, -1):
        idx[f <= BANDS[b]] = b
    idx[0, 0] = -1  # DC
    return idx


def band_energy(z, idx):
    p = np.abs(np.fft.fft2(z)) ** 2
    return np.array([p[idx == b].sum() for b in range(len(BANDS) + 1)])


def sample_stats(x, y, idx, ex=None):
    d = y.astype(np.float64) - x.astype(np.float64)
    mse = np.mean(d * d)
    psnr = 99.0 if mse == 0 else min(99.0, 10 * np.log10(255.0 ** 2 / mse))
    lx, ly = luma(x), luma(y)
    if ex is None:
        ex = band_energy(lx - lx.mean(), idx)
    ey = band_energy(ly - ly.mean(), idx)
    ed = band_energy(ly - lx, idx)
    gain = (ey - ex) / ex.sum()
    damage = ed / ed.sum() if ed.sum() > 0 else np.zeros_like(ed)
    return {"psnr": psnr, "mae": float(np.mean(np.abs(d))), "gain": gain, "damage": damage}


def summarize(per_image):
    """per_image: list (images) of lists (seeds) of sample_stats -> one cell (None where the
    reference could not run)."""
    if any(s is None for samples in per_image for s in samples):
        return None
    means = []
    for samples in per_image:
        means.append({k: np.mean([s[k] for s in samples], axis=0) for k in ("psnr", "mae", "gain", "damage")})
    out = {}
    for k in ("psnr", "mae"):
        v = np.array([m[k] for m in means])
        out[k] = [r(v.mean()), r(v.std())]
    for k in ("gain", "damage"):
        v = np.array([m[k] for m in means])
        out[k] = [r(a) for a in v.mean(axis=0)]
    return out


def r(v):
    return round(float(v), 5)


# --------------------------------------------------------------------------------------------
# golden


def run_reference(images, corrupt_fn, reps, label, only=None):
    corruptions = names()
    cells = {}
    idx = band_index(*images[0][1].shape[:2])
    clean_energy = []
    for _, x in images:
        lx = luma(x)
        clean_energy.append(band_energy(lx - lx.mean(), idx))
    for ci, name in enumerate(corruptions):
        if only and name not in only:
            continue
        t0 = time.time()
        per_sev = [[[] for _ in images] for _ in range(5)]
        for ii, (_, x) in enumerate(images):
            for seed in seeds_for(name, ii, reps, ci):
                for sev in range(1, 6):
                    np.random.seed(seed)
                    y = corrupt_fn(x, name, sev)
                    per_sev[sev - 1][ii].append(None if y is None else sample_stats(x, y, idx, clean_energy[ii]))
        cells[name] = [summarize(per_sev[s]) for s in range(5)]
        print(f"{label} {name}: {time.time() - t0:.1f} s, psnr " +
              " ".join("-" if c is None else f"{c['psnr'][0]:.2f}" for c in cells[name]), file=sys.stderr)
    return cells


def header(images, reps):
    return {
        "reference": REFERENCE,
        "libraries": libraries(),
        "images": [n for n, _ in images],
        "seeds_per_image": reps,
        "frost_seeds_per_image": FROST_REPS,
        "band_upper_edges": BANDS,
        "statistics": "see scripts/corruption-fidelity.py",
    }


def libraries():
    import cv2, scipy, skimage, PIL, numba
    return {"numpy": np.__version__, "scipy": scipy.__version__, "skimage": skimage.__version__,
            "opencv": cv2.__version__, "pillow": PIL.__version__, "numba": numba.__version__}


def quiet():
    warnings.simplefilter("ignore")
    seed_hidden_generators()


def seed_hidden_generators():
    """Make the reference reproducible. np.random.seed reaches most of its draws, but not two:
    impulse_noise calls scikit-image's random_noise without a seed (it then draws from a fresh
    default_rng), and glass_blur's numba loop keeps its own generator. Both are seeded here from
    numpy's global stream, which every run seeds, so their statistics are unchanged and a rerun
    writes the same golden."""
    import functools
    import imagecorruptions.corruptions as ic
    from numba import njit

    random_noise = ic.sk.util.random_noise

    @functools.wraps(random_noise)
    def seeded_noise(*args, **kwargs):
        kwargs.setdefault("seed", int(np.random.randint(2 ** 31)))
        return random_noise(*args, **kwargs)

    ic.sk.util.random_noise = seeded_noise

    @njit
    def numba_seed(s):
        np.random.seed(s)

    shuffle = ic._shuffle_pixels_njit_glass_blur

    def seeded_shuffle(*args):
        numba_seed(int(np.random.randint(2 ** 31)))
        return shuffle(*args)

    ic._shuffle_pixels_njit_glass_blur = seeded_shuffle


def cmd_golden(args):
    quiet()
    from imagecorruptions import corrupt
    images = image_list(224)
    fn = lambda x, name, sev: corrupt(x, corruption_name=name, severity=sev)
    path = args.out or os.path.join(ROOT, "internal", "perturb", "testdata", "fidelity.json")
    out = header(images, REPS)
    out["size"] = 224
    if args.only:  # refresh some corruptions of an existing golden
        with open(path) as f:
            old = json.load(f)
        out["cells"] = old["cells"]
        out["cells"].update(run_reference(images, fn, REPS, "224", set(args.only.split(","))))
    else:
        out["cells"] = run_reference(images, fn, REPS, "224")
    import hashlib
    out["exact"] = []
    for rel in EXACT_IMAGES:
        x = load(os.path.join(FIDELITY, rel + ".png"))
        for name in EXACT:
            for sev in range(1, 6):
                y = corrupt(x, corruption_name=name, severity=sev)
                out["exact"].append({"image": rel, "corruption": name, "severity": sev,
                                     "sha256": hashlib.sha256(np.ascontiguousarray(y).tobytes()).hexdigest()})
    # One pair of real images, full precision, so the Go test can prove it computes the same
    # statistics as this script before it compares anything.
    a, b = images[0][1], images[1][1]
    m = sample_stats(a, b, band_index(*a.shape[:2]))
    out["metric_check"] = {"clean": images[0][0], "corrupted": images[1][0], "psnr": m["psnr"],
                           "mae": m["mae"], "gain": list(m["gain"]), "damage": list(m["damage"])}
    write_json(path, out)


def cmd_small(args):
    quiet()
    from imagecorruptions import corrupt, corruption_dict
    out = {"reference": header(image_list(32), SMALL_REPS)["reference"], "libraries": libraries(),
           "seeds_per_image": SMALL_REPS, "band_upper_edges": BANDS, "sizes": {}}
    for size in (32, 28):
        images = image_list(size)
        if size >= 32:
            fn = lambda x, name, sev: corrupt(x, corruption_name=name, severity=sev)
        else:
            # corrupt() refuses images under 32 px; the functions themselves run with their 224 px
            # parameters, which shows what an unscaled corruption does to a small image.
            fn = lambda x, name, sev: direct(corruption_dict[name], x, sev)
        out["sizes"][str(size)] = {"images": [n for n, _ in images],
                                   "cells": run_reference(images, fn, SMALL_REPS, str(size))}
    write_json(args.out or os.path.join(ROOT, "internal", "perturb", "testdata", "fidelity_small.json"), out)


def direct(fn, x, sev):
    try:
        return np.uint8(fn(Image.fromarray(x), sev))
    except Exception:  # some reference corruptions cannot run on tiny images
        return None


def write_json(path, out):
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {path}", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# frost

# Luma quantile levels: 0, 1 and 47 logistic steps between (1/(1+e^-t), t = -7..7 by 14/46), dense
# in the tails, where a histogram's variance hides.
FROST_LEVELS = [0.0] + [1 / (1 + np.exp(-t)) for t in np.linspace(-7, 7, 47)] + [1.0]
# Radial frequency bins (cycles per pixel) of the power spectrum: edges 2^(k/2)/1024, k = 0..19
# (the last edge, 0.72, is past the highest radial frequency, 0.71).
FROST_EDGES = [2 ** (k / 2) / 1024 for k in range(20)]


def frost_textures():
    """The reference's frost layers at 224 px: frost() draws idx = randint(5) over frost1..5 (so
    frost6 is never used, and frost2 and frost3 hold the same pixels), scales by 1.1 bicubic and
    converts BGR to RGB. Returns (name, weight, float RGB array)."""
    import cv2
    import imagecorruptions
    folder = os.path.join(os.path.dirname(imagecorruptions.__file__), "frost")
    files = ["frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg"]
    seen, out = {}, []
    for f in files:
        im = cv2.imread(os.path.join(folder, f))
        key = im.tobytes()
        if key in seen:
            out[seen[key]][1] += 1
            continue
        h, w = im.shape[:2]
        im = cv2.resize(im, (int(np.ceil(w * 1.1)), int(np.ceil(h * 1.1))), interpolation=cv2.INTER_CUBIC)
        seen[key] = len(out)
        out.append([f.split(".")[0], 1, im[..., ::-1].astype(np.float64)])
    return out


FROST_WINDOW = 224   # the reference crops 224 px windows at 224 px
FROST_STRIDE = 8     # crop offsets measured: every 8th of those randint can draw


def crop_weights(n):
    """How many of the reference's crop offsets (randint(0, n - 224)) cover each index."""
    w = np.zeros(n)
    for off in range(n - FROST_WINDOW):
        w[off:off + FROST_WINDOW] += 1
    return w / w.sum()


def radial_psd(lum):
    """Power spectral density of the luma inside the reference's 224 px crops: Hann-windowed
    periodograms averaged over crop offsets, then per radial bin. Bins below 1.5/224 cycles per
    pixel, which a 224 px window cannot resolve, are 0 (not measured): what lies there shows
    as crops with different means, and cvgate gives it the histogram's remaining variance."""
    h, w = lum.shape
    win = np.outer(np.hanning(FROST_WINDOW), np.hanning(FROST_WINDOW))
    acc, n = np.zeros((FROST_WINDOW, FROST_WINDOW)), 0
    for y in range(0, h - FROST_WINDOW, FROST_STRIDE):
        for x in range(0, w - FROST_WINDOW, FROST_STRIDE):
            c = lum[y:y + FROST_WINDOW, x:x + FROST_WINDOW]
            acc += np.abs(np.fft.fft2((c - c.mean()) * win)) ** 2 / (win ** 2).sum()
            n += 1
    acc /= n
    f = np.hypot(np.fft.fftfreq(FROST_WINDOW)[:, None], np.fft.fftfreq(FROST_WINDOW)[None, :])
    centres, psd = [], []
    for lo, hi in zip(FROST_EDGES[:-1], FROST_EDGES[1:]):
        c = float(np.sqrt(lo * hi))
        sel = (f > lo) & (f <= hi)
        centres.append(c)
        psd.append(float(acc[sel].mean()) if sel.any() and c >= 1.5 / FROST_WINDOW else 0.0)
    return centres, psd


def weighted_quantiles(v, wt, levels):
    order = np.argsort(v, kind="stable")
    v, cw = v[order], np.cumsum(wt[order])
    cw = (cw - wt[order] / 2) / cw[-1]  # mid-point ranks
    return np.interp(levels, cw, v)


def cmd_frost(args):
    textures = []
    for name, weight, rgb in frost_textures():
        lum = luma(rgb)
        h, w = lum.shape
        # Every statistic weights each pixel by how often the reference's crops contain it.
        wt = np.outer(crop_weights(h), crop_weights(w)).ravel()
        centres, psd = radial_psd(lum)
        fit = []
        for k in range(3):  # channel = a + b * luma, weighted least squares
            b, a = np.polyfit(lum.ravel(), rgb[..., k].ravel(), 1, w=np.sqrt(wt))
            fit.append([r(a), r(b)])
        q = weighted_quantiles(lum.ravel(), wt, FROST_LEVELS)
        mean = float((lum.ravel() * wt).sum())
        textures.append({"name": name, "weight": weight, "size": [w, h],
                         "luma_quantiles": [r(v) for v in q], "colour_fit": fit,
                         "psd": [r(v) for v in psd],
                         "luma_std": r(np.sqrt(((lum.ravel() - mean) ** 2 * wt).sum()))})
    out = {"reference": REFERENCE, "psd_bin_centres": [r(c) for c in centres], "textures": textures,
           "quantile_levels": [float(p) for p in FROST_LEVELS]}
    write_json(args.out or os.path.join(ROOT, "internal", "perturb", "testdata", "frost_stats.json"), out)
    for t in textures:
        print(f"\t{{ // {t['name']} ({t['size'][0]}x{t['size'][1]} at 224 px), drawn {t['weight']} in 5")
        print(f"\t\tweight: {t['weight']},")
        print("\t\tquantiles: [...]float32{" + ", ".join(f"{v:.5g}" for v in t["luma_quantiles"]) + "},")
        print("\t\tpsd: [...]float64{" + ", ".join(f"{v:.5g}" for v in t["psd"]) + "},")
        print("\t\tcolour: [3][2]float32{" + ", ".join(f"{{{a:.5g}, {b:.5g}}}" for a, b in t["colour_fit"]) + "},")
        print("\t},")
    print("psd bin centres: " + ", ".join(f"{c:.6g}" for c in centres))


# --------------------------------------------------------------------------------------------
# speed


def cmd_speed(args):
    """Side by side, per corruption and round: the reference's median over args.reps calls, then
    cvgate's benchmark of the same corruption, so both see the same load. CPU time per call
    (this process's, and the Go benchmark's cpu-ns/op) is the primary measure, because on a
    shared machine wall time depends on the neighbours; the median wall time of one call (both
    sides) is reported beside it."""
    quiet()
    import tempfile
    from imagecorruptions import corrupt
    x = load(os.path.join(FIDELITY, "224", "astronaut.png"))
    corruptions = [n for n in names() if not args.only or n in args.only.split(",")]
    binary = os.path.join(tempfile.mkdtemp(), "perturb.test")
    # Built as cvgate ships (plain go test -c: the assembly kernels where the CPU has them);
    # GOFLAGS=-tags=purego in the environment times the portable code instead.
    env = dict(os.environ)
    subprocess.run(["go", "test", "-c", "-o", binary, "./internal/perturb/"], cwd=ROOT, check=True, env=env)
    ref = {n: {"cpu": [], "wall": []} for n in corruptions}
    go = {n: {"cpu": [], "wall": []} for n in corruptions}
    pat = re.compile(r"BenchmarkFidelitySpeed/(\w+)-\d+\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) cpu-ns/op\s+([\d.]+) median-ns/op")
    for rnd in range(args.rounds):
        for i, n in enumerate(corruptions):
            np.random.seed(i)
            for _ in range(2):
                corrupt(x, corruption_name=n, severity=3)  # warm: numba compile, caches
            cpu, wall = [], []
            for _ in range(args.reps):
                c, t = time.process_time(), time.perf_counter()
                corrupt(x, corruption_name=n, severity=3)
                cpu.append(time.process_time() - c)
                wall.append(time.perf_counter() - t)
            ref[n]["cpu"].append(float(np.median(cpu)))
            ref[n]["wall"].append(float(np.median(wall)))
            out = subprocess.run([binary, "-test.run", "^$", "-test.bench", f"BenchmarkFidelitySpeed/^{n}$",
                                  "-test.benchtime", args.benchtime],
                                 cwd=os.path.join(ROOT, "internal", "perturb"), capture_output=True,
                                 text=True, check=True).stdout
            m = pat.search(out)
            if not m:
                sys.exit(f"no Go benchmark result for {n}:\n{out}")
            go[n]["cpu"].append(float(m.group(2)) * 1e-9)
            go[n]["wall"].append(float(m.group(3)) * 1e-9)
        print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr)
    print("| corruption | imagecorruptions CPU (ms) | cvgate CPU (ms) | speed-up (CPU) | speed-up (wall) |")
    print("|---|---:|---:|---:|---:|")
    ratios, tot = [], {"ref": [0.0, 0.0], "go": [0.0, 0.0]}
    for n in corruptions:
        rc, gc = float(np.median(ref[n]["cpu"])), float(np.median(go[n]["cpu"]))
        rw, gw = float(np.median(ref[n]["wall"])), float(np.median(go[n]["wall"]))
        ratios.append(rc / gc)
        tot["ref"][0] += rc
        tot["ref"][1] += rw
        tot["go"][0] += gc
        tot["go"][1] += gw
        print(f"| {n} | {rc * 1e3:.2f} | {gc * 1e3:.3f} | {rc / gc:.1f}x | {rw / gw:.1f}x |")
    print(f"| **all {len(corruptions)}** | {tot['ref'][0] * 1e3:.1f} | {tot['go'][0] * 1e3:.2f} | "
          f"**{tot['ref'][0] / tot['go'][0]:.1f}x** | {tot['ref'][1] / tot['go'][1]:.1f}x |")
    print(f"\nmedian per-corruption speed-up (CPU) {np.median(ratios):.1f}x, slowest {min(ratios):.1f}x; "
          f"severity 3, 224x224 RGB photo, medians of {args.rounds} interleaved rounds", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("images")
    for name in ("golden", "small", "frost"):
        s = sub.add_parser(name)
        s.add_argument("--out")
        if name == "golden":
            s.add_argument("--only", help="comma-separated corruptions to refresh in an existing golden")
    s = sub.add_parser("speed")
    s.add_argument("--rounds", type=int, default=3)
    s.add_argument("--reps", type=int, default=15)
    s.add_argument("--benchtime", default="300ms")
    s.add_argument("--only", help="comma-separated corruptions to time")
    args = p.parse_args()
    {"images": cmd_images, "golden": cmd_golden, "small": cmd_small, "frost": cmd_frost,
     "speed": cmd_speed}[args.cmd](args)


if __name__ == "__main__":
    main()
