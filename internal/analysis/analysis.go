// Package analysis holds what cvgate learns from each image apart from the model's answer: its
// properties (internal/imgprops), a digest of its pixels and a perceptual hash (internal/dedup).
// They are computed once, in the decoding pass, and shared by data.integrity (duplicates,
// outliers), data.leakage (train/eval near-duplicates), perf.segments (slices over property bins)
// and drift (property distributions).
//
// The dataset package knows nothing of this: the app passes Facts.Add as the decoder's per-image
// hook. Facts are indexed like the listing the decoder was given; Compact maps them onto the
// readable images once decoding is done.
package analysis

import (
	"errors"
	"fmt"

	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/dedup"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/imgprops"
)

// Options say what to compute.
type Options struct {
	// Properties computes the image properties; without it only hashes are computed (a training
	// set is only searched for near-duplicates).
	Properties bool
}

// Facts are the per-image results, one entry per image. Entries are written by Add from the
// decoding goroutines (each index by one goroutine) and read only after decoding.
type Facts struct {
	// Names name the columns of Props (imgprops.Names).
	Names []string
	// Props are each image's properties in Names order; nil without Options.Properties.
	Props [][]float64
	// Channels is each image's channel count (1 gray, 3 colour).
	Channels []uint8
	// PHash is each image's perceptual hash (near-duplicates).
	PHash []dedup.Hash
	// Pixels is each image's pixel digest (exact duplicates, whatever the file format).
	Pixels []dedup.Digest
	// Thumbs are luma thumbnails that confirm near-duplicate candidates (see ThumbSide).
	Thumbs []Thumb

	errs []error
}

// New makes room for n images.
func New(n int, opts Options) *Facts {
	f := &Facts{
		Channels: make([]uint8, n),
		PHash:    make([]dedup.Hash, n),
		Pixels:   make([]dedup.Digest, n),
		Thumbs:   make([]Thumb, n),
		errs:     make([]error, n),
	}
	if opts.Properties {
		f.Names = imgprops.Names()
		f.Props = make([][]float64, n)
	}
	return f
}

// Len is the number of images.
func (f *Facts) Len() int { return len(f.PHash) }

// Add computes image i's facts. It is safe to call concurrently for different i.
func (f *Facts) Add(i int, img *imaging.Image) {
	if img == nil {
		f.errs[i] = errors.New("no pixels")
		return
	}
	f.Channels[i] = uint8(img.Channels)
	var err error
	grid, err := dedup.NewLumaGrid(img)
	if err != nil {
		f.errs[i] = err
		return
	}
	f.PHash[i] = grid.Hash()
	if f.Pixels[i], err = dedup.PixelDigest(img); err != nil {
		f.errs[i] = err
		return
	}
	f.Thumbs[i] = thumbOf(grid)
	if f.Props != nil {
		p, err := imgprops.Compute(img)
		if err != nil {
			f.errs[i] = err
			return
		}
		f.Props[i] = p.Values()
	}
}

// Hook returns a dataset.Options.Decoded function that computes each decoded image's facts.
func (f *Facts) Hook() func(entry int, it *dataset.Item) {
	return func(entry int, it *dataset.Item) { f.Add(entry, it.Image) }
}

// Compact keeps the facts of the images ds kept, in ds.Items order: f was filled by listing index
// (the decoder's Decoded hook), and ds lists the readable images of l in listing order. Decoded
// images always have facts; a fact that could not be computed is an error naming the image.
func (f *Facts) Compact(l *dataset.Listing, ds *dataset.Dataset) (*Facts, error) {
	if f.Len() != len(l.Entries) {
		return nil, fmt.Errorf("image facts: %d entries for a listing of %d", f.Len(), len(l.Entries))
	}
	keep := make([]int, 0, len(ds.Items))
	e := 0
	for _, it := range ds.Items {
		for e < len(l.Entries) && l.Entries[e].Path != it.Path {
			e++
		}
		if e == len(l.Entries) {
			return nil, fmt.Errorf("image facts: %q is not in the listing of %q", it.Path, l.Source)
		}
		if err := f.errs[e]; err != nil {
			return nil, fmt.Errorf("analyse image %q: %w", it.Path, err)
		}
		keep = append(keep, e)
		e++
	}
	return f.Subset(keep), nil
}

// Subset returns the facts of the images idx, in that order.
func (f *Facts) Subset(idx []int) *Facts {
	out := &Facts{Names: f.Names}
	out.Channels = make([]uint8, len(idx))
	out.PHash = make([]dedup.Hash, len(idx))
	out.Pixels = make([]dedup.Digest, len(idx))
	out.Thumbs = make([]Thumb, len(idx))
	out.errs = make([]error, len(idx))
	if f.Props != nil {
		out.Props = make([][]float64, len(idx))
	}
	for j, i := range idx {
		out.Channels[j] = f.Channels[i]
		out.PHash[j] = f.PHash[i]
		out.Pixels[j] = f.Pixels[i]
		out.Thumbs[j] = f.Thumbs[i]
		out.errs[j] = f.errs[i]
		if f.Props != nil {
			out.Props[j] = f.Props[i]
		}
	}
	return out
}

// Column returns property k of every image.
func (f *Facts) Column(k int) []float64 {
	out := make([]float64, len(f.Props))
	for i, p := range f.Props {
		out[i] = p[k]
	}
	return out
}

// Index returns the column of the property called name, or -1.
func (f *Facts) Index(name string) int {
	for k, n := range f.Names {
		if n == name {
			return k
		}
	}
	return -1
}
