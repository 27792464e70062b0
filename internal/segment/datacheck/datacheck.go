// Package datacheck finds data problems in a set of segmentation masks, as pure functions of facts
// gathered once per mask: masks whose size differs from their image, pixel values outside the
// class names, empty masks, and the class pixel shares (per image and over the set) that data
// checks report and drift compares.
package datacheck

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cvgate/cvgate/internal/segment"
)

// Facts are what the checks need to know about one mask.
type Facts struct {
	Path           string
	ImageW, ImageH int
	MaskW, MaskH   int
	// Counts has one pixel count per class index (0..classes-1).
	Counts  []int64
	Ignored int64
	// Beyond counts the pixels of each value at or beyond the classes that is not the ignore
	// index.
	Beyond map[uint16]int64
}

// Valid is the number of pixels that hold a class index.
func (f Facts) Valid() int64 {
	var n int64
	for _, c := range f.Counts {
		n += c
	}
	return n
}

// Gather counts a mask's pixels for Check; read the mask without a class range check so that
// values beyond the classes are counted here rather than refused. ignore < 0 means none.
func Gather(path string, imageW, imageH int, m segment.LabelMap, classes, ignore int) Facts {
	f := Facts{Path: path, ImageW: imageW, ImageH: imageH, MaskW: m.W, MaskH: m.H, Counts: make([]int64, classes)}
	for _, v := range m.Pix {
		switch {
		case ignore >= 0 && int(v) == ignore:
			f.Ignored++
		case int(v) < classes:
			f.Counts[v]++
		default:
			if f.Beyond == nil {
				f.Beyond = map[uint16]int64{}
			}
			f.Beyond[v]++
		}
	}
	return f
}

// Options configure Check.
type Options struct {
	Names []string // class names, in index order
	// Background is the class that does not make a mask non-empty (usually 0); negative when
	// every class counts, so that only masks with no class pixel at all are empty.
	Background int
}

// Finding is one mask's problem, with what to do about it.
type Finding struct {
	Path    string
	Problem string
}

// ClassShare describes one class's pixel share.
type ClassShare struct {
	Class string
	// SetShare is the class's pixels over all valid pixels of the set.
	SetShare float64
	// Images is the number of masks holding the class; MeanShare, MinShare, MedianShare and
	// MaxShare describe its share of each such mask's valid pixels.
	Images                                     int
	MeanShare, MinShare, MedianShare, MaxShare float64
}

// Report is the outcome of Check. Slices are empty, never nil.
type Report struct {
	Masks          int
	SizeMismatch   []Finding
	BeyondClasses  []Finding
	Empty          []Finding
	Shares         []ClassShare // one per class, in index order
	AbsentClasses  []string     // named classes in no mask
	IgnoredShare   float64      // ignored pixels over all pixels
	ImagesPerShare [][]float64  // per class, its share in every mask (0 where absent), for drift tests
}

// Check runs the data checks over the facts of a mask set.
func Check(facts []Facts, o Options) (Report, error) {
	c := len(o.Names)
	if c == 0 {
		return Report{}, fmt.Errorf("check masks: no class names")
	}
	r := Report{Masks: len(facts), SizeMismatch: []Finding{}, BeyondClasses: []Finding{}, Empty: []Finding{}, AbsentClasses: []string{},
		ImagesPerShare: make([][]float64, c)}
	total := make([]int64, c)
	var valid, ignored, all int64
	perClass := make([][]float64, c)
	for _, f := range facts {
		if len(f.Counts) != c {
			return Report{}, fmt.Errorf("check masks: facts of %q have %d classes, want %d", f.Path, len(f.Counts), c)
		}
		if f.ImageW > 0 && (f.MaskW != f.ImageW || f.MaskH != f.ImageH) {
			r.SizeMismatch = append(r.SizeMismatch, Finding{f.Path, fmt.Sprintf(
				"mask is %dx%d but its image is %dx%d: export the mask at the image's size", f.MaskW, f.MaskH, f.ImageW, f.ImageH)})
		}
		if len(f.Beyond) > 0 {
			r.BeyondClasses = append(r.BeyondClasses, Finding{f.Path, fmt.Sprintf(
				"%s outside the %d class names (0..%d) and not the ignore index: add the classes to the names, fix the mask, or set ignore_index",
				describe(f.Beyond), c, c-1)})
		}
		v := f.Valid()
		empty := true
		for k, n := range f.Counts {
			if n > 0 && k != o.Background {
				empty = false
				break
			}
		}
		if empty {
			what := "only ignored pixels"
			if v > 0 && o.Background >= 0 && o.Background < c {
				what = fmt.Sprintf("only %q and ignored pixels", o.Names[o.Background])
			}
			r.Empty = append(r.Empty, Finding{f.Path, fmt.Sprintf("mask has %s: is it unlabelled, or saved with the wrong encoding?", what)})
		}
		for k, n := range f.Counts {
			total[k] += n
			share := 0.0
			if v > 0 {
				share = float64(n) / float64(v)
			}
			r.ImagesPerShare[k] = append(r.ImagesPerShare[k], share)
			if n > 0 {
				perClass[k] = append(perClass[k], share)
			}
		}
		valid += v
		ignored += f.Ignored
		all += v + f.Ignored
		for _, n := range f.Beyond {
			all += n
		}
	}
	if all > 0 {
		r.IgnoredShare = float64(ignored) / float64(all)
	}
	for k := 0; k < c; k++ {
		s := ClassShare{Class: o.Names[k], Images: len(perClass[k])}
		if valid > 0 {
			s.SetShare = float64(total[k]) / float64(valid)
		}
		if xs := perClass[k]; len(xs) > 0 {
			sort.Float64s(xs)
			var sum float64
			for _, x := range xs {
				sum += x
			}
			s.MeanShare, s.MinShare, s.MaxShare = sum/float64(len(xs)), xs[0], xs[len(xs)-1]
			if n := len(xs); n%2 == 1 {
				s.MedianShare = xs[n/2]
			} else {
				s.MedianShare = (xs[n/2-1] + xs[n/2]) / 2
			}
		} else {
			r.AbsentClasses = append(r.AbsentClasses, o.Names[k])
		}
		r.Shares = append(r.Shares, s)
	}
	return r, nil
}

func describe(m map[uint16]int64) string {
	vals := make([]int, 0, len(m))
	var total int64
	for v, n := range m {
		vals = append(vals, int(v))
		total += n
	}
	sort.Ints(vals)
	var parts []string
	for i, v := range vals {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more values", len(vals)-5))
			break
		}
		parts = append(parts, fmt.Sprintf("%d (%d px)", v, m[uint16(v)]))
	}
	return fmt.Sprintf("%d pixels hold values %s", total, strings.Join(parts, ", "))
}
