// Package annot reads object-detection ground truth in the three common formats, COCO JSON,
// YOLO txt and Pascal VOC XML, into one plain Set of images with their objects, and finds which
// format a data folder holds. Readers treat every byte as untrusted: file sizes and object counts
// are capped, numbers are checked (finite, in range), and each problem is an error naming the file,
// the line or annotation, and what to change.
package annot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/cvgate/cvgate/internal/detect/box"
)

// Format names an annotation format.
type Format string

// The formats Read understands.
const (
	COCO Format = "coco"
	YOLO Format = "yolo"
	VOC  Format = "voc"
)

// Set is a detection dataset's ground truth.
type Set struct {
	Format Format `json:"format"`
	// Source is the annotation file (COCO) or folder (YOLO, VOC) that was read.
	Source string `json:"source"`
	// Classes are the class names by contiguous class index.
	Classes []string `json:"classes"`
	// ClassSource says where the names came from, for the report (e.g. "categories of
	// instances_val.json", "data.yaml", "object names in the XML files (sorted)").
	ClassSource string `json:"class_source"`
	// CategoryIDs maps a class index to its COCO category id (nil for YOLO and VOC), so that
	// results files can be written and read with the original ids.
	CategoryIDs []int64 `json:"category_ids,omitempty"`
	Images      []Image `json:"images"`
	// Notes are facts a report should state, e.g. how many images had no label file and were
	// therefore taken as negatives.
	Notes []string `json:"notes,omitempty"`
}

// Image is one image and its objects. An image without objects is a valid negative.
type Image struct {
	// File is the image's slash-separated path relative to the data folder.
	File string `json:"file"`
	// ID is the COCO image id; for YOLO and VOC the image's 1-based position in the Set.
	ID      int64        `json:"id"`
	Width   int          `json:"width"`
	Height  int          `json:"height"`
	Objects []box.Object `json:"objects"`
}

// Limits bound what a reader accepts from untrusted input.
type Limits struct {
	// MaxJSONBytes caps a COCO annotation or results file.
	MaxJSONBytes int64
	// MaxFileBytes caps one YOLO label file, VOC XML file, or class-names file.
	MaxFileBytes int64
	// MaxObjectsPerImage caps the objects of one image.
	MaxObjectsPerImage int
	// Within, when set, is the folder every file read must resolve into (after symbolic links):
	// a pull request's symlink to a file outside it is refused, as are devices and FIFOs.
	Within string
}

// DefaultLimits are generous for real datasets (COCO train's instances file is 450 MiB; its
// busiest image has fewer than 100 objects) and keep a hostile input bounded.
func DefaultLimits() Limits {
	return Limits{MaxJSONBytes: 256 << 20, MaxFileBytes: 1 << 20, MaxObjectsPerImage: 10000}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxJSONBytes <= 0 {
		l.MaxJSONBytes = d.MaxJSONBytes
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = d.MaxFileBytes
	}
	if l.MaxObjectsPerImage <= 0 {
		l.MaxObjectsPerImage = d.MaxObjectsPerImage
	}
	return l
}

// SizeFunc returns the pixel size of an image file given by its path relative to the data folder
// (e.g. through image.DecodeConfig). YOLO labels are normalized and need it; VOC and COCO use it
// where the annotation lacks a size.
type SizeFunc func(file string) (width, height int, err error)

// Options configure the readers.
type Options struct {
	// Images are the image files present, slash-separated paths relative to the data folder. COCO
	// checks its image list against them; YOLO and VOC read one annotation file per image. Nil
	// means: COCO trusts its file names unchecked (YOLO and VOC need the list).
	Images []string
	Size   SizeFunc
	Limits Limits
}

// maxReported is how many individual problems an error lists before it counts the rest.
const maxReported = 10

// problems collects per-item errors so that one run reports the first few of them at once
// instead of one per fix-and-retry cycle.
type problems struct {
	errs  []error
	count int
}

func (p *problems) add(format string, args ...any) {
	p.count++
	if len(p.errs) < maxReported {
		p.errs = append(p.errs, fmt.Errorf(format, args...))
	}
}

func (p *problems) err() error {
	if p.count == 0 {
		return nil
	}
	errs := p.errs
	if p.count > len(errs) {
		errs = append(errs, fmt.Errorf("... and %d more problems like these", p.count-len(errs)))
	}
	return errors.Join(errs...)
}

// readCapped reads a whole file, refusing one larger than max bytes, one that is not a regular
// file, and (with within set) one that resolves outside within.
func readCapped(file string, max int64, within string) ([]byte, error) {
	if err := checkWithin(file, within); err != nil {
		return nil, err
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("file is larger than the %d-byte limit (raise the annotation size limit if it is genuine)", max)
	}
	return b, nil
}

// siblingPath replaces the last path component equal (case-insensitively) to one of from with
// to, and the extension with ext: images/a/x.jpg -> labels/a/x.txt. ok is false when no
// component matches.
func siblingPath(file string, from []string, to, ext string) (string, bool) {
	parts := strings.Split(file, "/")
	for i := len(parts) - 2; i >= 0; i-- {
		for _, f := range from {
			if strings.EqualFold(parts[i], f) {
				parts[i] = to
				return swapExt(strings.Join(parts, "/"), ext), true
			}
		}
	}
	return "", false
}

func swapExt(file, ext string) string {
	return strings.TrimSuffix(file, path.Ext(file)) + ext
}

// finish gives negatives an empty object list rather than nil, so that a Set serializes with
// [] for them.
func (s *Set) finish() *Set {
	for i := range s.Images {
		if s.Images[i].Objects == nil {
			s.Images[i].Objects = []box.Object{}
		}
	}
	if s.Images == nil {
		s.Images = []Image{}
	}
	return s
}

// checkUnique reports duplicate entries of the image list.
func checkUnique(images []string) error {
	seen := make(map[string]bool, len(images))
	for _, f := range images {
		if seen[f] {
			return fmt.Errorf("image %q is listed twice: list each image once", f)
		}
		seen[f] = true
	}
	return nil
}

// checkWithin refuses a path that is not a regular file or, with within set, that resolves
// (through symbolic links) outside within.
func checkWithin(file, within string) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	st, err := os.Stat(real)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%q is not a regular file (%s)", file, st.Mode().Type())
	}
	if within == "" {
		return nil
	}
	rootAbs, err := filepath.Abs(within)
	if err != nil {
		return err
	}
	root, err := filepath.EvalSymlinks(rootAbs)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return fmt.Errorf("%q leads outside %q (through a symbolic link?): annotation files must stay inside the data folder", file, within)
	}
	return nil
}
