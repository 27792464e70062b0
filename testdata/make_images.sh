#!/bin/sh
# Regenerates the class-folder PNG samples and label files under testdata/ from the IDX sources
# (MNIST from the GoMNIST module, Fashion-MNIST from /usr/share/datasets/fashion-mnist).
# Deterministic: the same seeds give the same files. Run from the repository root:
#   sh testdata/make_images.sh
# testdata/images/mnist_color/ is not made here; make_fixtures.py writes it with its model.
set -eu
cd "$(dirname "$0")/.."
go build -o "${TMPDIR:-/tmp}/mkdataset.$$" ./tools/mkdataset
mk="${TMPDIR:-/tmp}/mkdataset.$$"
trap 'rm -f "$mk"' EXIT

rm -rf testdata/images/mnist testdata/images/fashion testdata/images/mnist_train_sample
"$mk" --source mnist --split test --per-class 50 --sample random --seed 1 \
	--out testdata/images/mnist --labels-out testdata/labels/mnist.txt
"$mk" --source fashion --split test --per-class 20 --sample random --seed 1 \
	--out testdata/images/fashion --labels-out testdata/labels/fashion.txt
"$mk" --source mnist --split train --per-class 20 --sample random --seed 1 \
	--out testdata/images/mnist_train_sample
