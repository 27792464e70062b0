package annot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrNoAnnotations means a data folder holds no detection annotations (for the caller: not a
// detection dataset, e.g. class folders for a classifier).
var ErrNoAnnotations = errors.New("no detection annotations (COCO instances_*.json, YOLO labels/*.txt or VOC Annotations/*.xml)")

// cocoPatterns are the file names taken for COCO instances files, in the data folder and in its
// annotations/ folder.
var cocoPatterns = []string{"instances*.json", "*coco*.json", "annotations.json"}

// Found is what Sniff found.
type Found struct {
	Format Format
	// Path is the COCO file, or the data folder for YOLO and VOC.
	Path string
	// Why says what gave the format away, for the report.
	Why string
}

// Sniff finds which annotation format the data folder root holds, for the images present
// (slash-separated, relative to root). Several formats at once is an error naming them;
// ErrNoAnnotations when there are none.
func Sniff(root string, images []string) (Found, error) {
	var found []Found
	var cocoFiles []string
	for _, dir := range []string{"", "annotations"} {
		for _, pat := range cocoPatterns {
			m, err := filepath.Glob(filepath.Join(root, dir, pat))
			if err != nil {
				return Found{}, fmt.Errorf("find annotations under %q: %w", root, err)
			}
			for _, f := range m {
				if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() && !slices.Contains(cocoFiles, f) {
					cocoFiles = append(cocoFiles, f)
				}
			}
		}
	}
	switch len(cocoFiles) {
	case 0:
	case 1:
		rel, _ := filepath.Rel(root, cocoFiles[0])
		found = append(found, Found{COCO, cocoFiles[0], "COCO file " + filepath.ToSlash(rel)})
	default:
		var rels []string
		for _, f := range cocoFiles {
			rel, _ := filepath.Rel(root, f)
			rels = append(rels, filepath.ToSlash(rel))
		}
		return Found{}, fmt.Errorf("find annotations under %q: several COCO files (%s): name the one to use", root, strings.Join(rels, ", "))
	}
	if n := hasYOLOLabels(root, images); n > 0 {
		found = append(found, Found{YOLO, root, fmt.Sprintf("YOLO label files for %d of %d images", n, len(images))})
	}
	if n := hasVOCFiles(root, images); n > 0 {
		found = append(found, Found{VOC, root, fmt.Sprintf("VOC XML files for %d of %d images", n, len(images))})
	}
	switch len(found) {
	case 0:
		return Found{}, fmt.Errorf("find annotations under %q: %w", root, ErrNoAnnotations)
	case 1:
		return found[0], nil
	}
	var whys []string
	for _, f := range found {
		whys = append(whys, f.Why)
	}
	return Found{}, fmt.Errorf("find annotations under %q: several formats at once (%s): pass --annotations FILE to use a COCO file, or point --data at a folder that holds one format", root, strings.Join(whys, "; "))
}

// Read reads the annotations of the data folder root for the images present: from the named
// COCO file when annotations is set, otherwise from what Sniff finds.
func Read(root, annotations string, opt Options) (*Set, error) {
	if annotations != "" {
		return ReadCOCO(annotations, opt)
	}
	f, err := Sniff(root, opt.Images)
	if err != nil {
		return nil, err
	}
	switch f.Format {
	case COCO:
		return ReadCOCO(f.Path, opt)
	case YOLO:
		return ReadYOLO(root, opt)
	default:
		return ReadVOC(root, opt)
	}
}
