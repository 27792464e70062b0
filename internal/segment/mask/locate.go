package mask

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/cvgate/cvgate/internal/segment"
)

// ErrNoMask is wrapped by the errors for an image whose mask cannot be found, so that a caller
// may choose to skip such images instead of failing.
var ErrNoMask = errors.New("no mask")

// Naming rules. Find tries all of them for an image at DIR/STEM.EXT (slash-separated, relative to
// the dataset folder) and needs exactly one existing file:
//
//  1. Sibling folders: a folder on the image's path named like an image folder (images, image,
//     imgs, img, JPEGImages, rgb) swapped for a sibling folder named like a mask folder (masks,
//     mask, labels, label, annotations, annotation, SegmentationClass, SegmentationClassAug,
//     SegmentationClassPNG, gt, groundtruth, ground_truth, targets), holding STEM with a mask
//     extension: images/train/x.jpg <-> annotations/train/x.png (ADE20K),
//     JPEGImages/x.jpg <-> SegmentationClass/x.png (VOC), images/x.jpg <-> masks/x.png.
//  2. A mask folder inside the image's folder: DIR/masks/STEM.png (any mask folder name above).
//  3. Beside the image with a suffix: DIR/STEM_mask.png, and the suffixes _masks, -mask, _label,
//     _labels, _seg, _segmentation, _gt.
//
// Folder names match case-insensitively; STEM matches exactly; the mask extension is .png, .tif,
// .tiff or .bmp in any case. Anything else (Cityscapes' _gtFine_labelIds names, ids that need a
// mapping) goes through a manifest column "mask".
var (
	imageDirNames = []string{"images", "image", "imgs", "img", "jpegimages", "rgb"}
	maskDirNames  = []string{"masks", "mask", "labels", "label", "annotations", "annotation",
		"segmentationclass", "segmentationclassaug", "segmentationclasspng", "gt", "groundtruth", "ground_truth", "targets"}
	maskSuffixes = []string{"_mask", "_masks", "-mask", "_label", "_labels", "_seg", "_segmentation", "_gt"}
	maskExts     = []string{".png", ".tif", ".tiff", ".bmp"}
)

// IsMaskDir reports whether a folder name is one the naming rules read masks from, so that a
// dataset listing can leave such folders out of the images.
func IsMaskDir(name string) bool { return contains(maskDirNames, strings.ToLower(name)) }

// IsMaskFile reports whether a file name has a mask suffix of rule 3 (x_mask.png), so that a
// listing can leave it out of the images.
func IsMaskFile(name string) bool {
	ext := path.Ext(name)
	if !contains(maskExts, strings.ToLower(ext)) {
		return false
	}
	stem := strings.TrimSuffix(name, ext)
	for _, s := range maskSuffixes {
		if strings.HasSuffix(stem, s) && len(stem) > len(s) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Locator finds and reads masks inside one dataset folder. Every file it opens goes through an
// os.Root, so no name (from a manifest or a symlink in a fork's PR) reaches outside the folder.
// It is safe for concurrent use.
type Locator struct {
	root *os.Root
	dir  string

	mu      sync.Mutex
	folders map[string]*folder // listings by slash path relative to the root ("." for the root)
}

// folder is one listed directory: sub-folders by lower-case name, files by name without extension.
type folder struct {
	dirs  map[string][]string
	files map[string][]string
}

// NewLocator opens the dataset folder dir (for a manifest, the manifest's folder).
func NewLocator(dir string) (*Locator, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open mask folder %q: %w", dir, err)
	}
	return &Locator{root: root, dir: dir, folders: map[string]*folder{}}, nil
}

// Close releases the folder.
func (l *Locator) Close() error { return l.root.Close() }

// Find returns the mask of the image at imageRel (slash-separated, relative to the locator's
// folder) by the naming rules, as a slash path relative to the folder.
func (l *Locator) Find(imageRel string) (string, error) {
	rel := path.Clean(filepath.ToSlash(imageRel))
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", fmt.Errorf("find mask for image %q: the path leaves the dataset folder", imageRel)
	}
	dir, file := path.Split(rel)
	dir = path.Clean(dir) // "." at the top
	stem := strings.TrimSuffix(file, path.Ext(file))
	var found []string
	add := func(folderRel, base string) error {
		names, err := l.lookup(folderRel, base)
		if err != nil {
			return err
		}
		for _, n := range names {
			found = append(found, path.Join(folderRel, n))
		}
		return nil
	}
	var parts []string
	if dir != "." {
		parts = strings.Split(dir, "/")
	}
	// Rule 1: swap an image folder on the path for a sibling mask folder.
	for i := len(parts) - 1; i >= 0; i-- {
		if !contains(imageDirNames, strings.ToLower(parts[i])) {
			continue
		}
		parent := path.Join(append([]string{"."}, parts[:i]...)...)
		siblings, err := l.maskDirs(parent)
		if err != nil {
			return "", fmt.Errorf("find mask for image %q: %w", imageRel, err)
		}
		for _, s := range siblings {
			swapped := append(append(append([]string{}, parts[:i]...), s), parts[i+1:]...)
			if err := add(path.Join(swapped...), stem); err != nil {
				return "", fmt.Errorf("find mask for image %q: %w", imageRel, err)
			}
		}
	}
	// Rule 2: a mask folder inside the image's folder.
	subs, err := l.maskDirs(dir)
	if err != nil {
		return "", fmt.Errorf("find mask for image %q: %w", imageRel, err)
	}
	for _, s := range subs {
		if err := add(path.Join(dir, s), stem); err != nil {
			return "", fmt.Errorf("find mask for image %q: %w", imageRel, err)
		}
	}
	// Rule 3: beside the image with a suffix.
	for _, suf := range maskSuffixes {
		if err := add(dir, stem+suf); err != nil {
			return "", fmt.Errorf("find mask for image %q: %w", imageRel, err)
		}
	}
	sort.Strings(found)
	found = dedupe(found)
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var tried []string
		for i := len(parts) - 1; i >= 0; i-- {
			if contains(imageDirNames, strings.ToLower(parts[i])) {
				swapped := append(append(append([]string{}, parts[:i]...), "masks"), parts[i+1:]...)
				tried = append(tried, path.Join(path.Join(swapped...), stem+".png"))
				break
			}
		}
		tried = append(tried, path.Join(dir, "masks", stem+".png"), path.Join(dir, stem+"_mask.png"))
		return "", fmt.Errorf("find mask for image %q: %w: none of the naming rules found a file (e.g. %s; docs/segmentation-data.md lists them all): put the mask there, or list it in a manifest column \"mask\"",
			imageRel, ErrNoMask, strings.Join(tried, ", "))
	}
	return "", fmt.Errorf("find mask for image %q: several files match the naming rules (%s): keep one, or list the mask in a manifest column \"mask\"", imageRel, strings.Join(found, ", "))
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// maskDirs lists the sub-folders of folderRel whose names are mask folder names.
func (l *Locator) maskDirs(folderRel string) ([]string, error) {
	f, err := l.list(folderRel)
	if err != nil || f == nil {
		return nil, err
	}
	var out []string
	for _, n := range maskDirNames {
		out = append(out, f.dirs[n]...)
	}
	return out, nil
}

// lookup returns the files of folderRel named base plus a mask extension.
func (l *Locator) lookup(folderRel, base string) ([]string, error) {
	f, err := l.list(folderRel)
	if err != nil || f == nil {
		return nil, err
	}
	return f.files[base], nil
}

// list returns the cached listing of folderRel, nil when it does not exist.
func (l *Locator) list(folderRel string) (*folder, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f, ok := l.folders[folderRel]; ok {
		return f, nil
	}
	d, err := l.root.Open(filepath.FromSlash(folderRel))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			l.folders[folderRel] = nil
			return nil, nil
		}
		return nil, fmt.Errorf("list folder %q: %w", folderRel, err)
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		// Not a directory (a file named like a folder): nothing to find there.
		l.folders[folderRel] = nil
		return nil, nil
	}
	f := &folder{dirs: map[string][]string{}, files: map[string][]string{}}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() {
			low := strings.ToLower(name)
			f.dirs[low] = append(f.dirs[low], name)
			continue
		}
		ext := path.Ext(name)
		if !contains(maskExts, strings.ToLower(ext)) {
			continue
		}
		base := strings.TrimSuffix(name, ext)
		f.files[base] = append(f.files[base], name)
	}
	l.folders[folderRel] = f
	return f, nil
}

// Manifest validates a manifest's "mask" value (relative to the manifest's folder) and returns it
// as a clean slash path; the file must exist inside the folder.
func (l *Locator) Manifest(value string) (string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", fmt.Errorf("check manifest mask path: %w: the mask column is empty", ErrNoMask)
	}
	p := filepath.Clean(filepath.FromSlash(v))
	if !filepath.IsLocal(p) {
		return "", fmt.Errorf("check manifest mask path %q: it leaves the manifest's folder; mask paths are relative to the manifest's folder and stay inside it", value)
	}
	st, err := l.root.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("check manifest mask path %q: %w: file not found (paths are relative to the manifest's folder)", value, ErrNoMask)
		}
		return "", fmt.Errorf("check manifest mask path %q: %w", value, err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("check manifest mask path %q: not a regular file", value)
	}
	return filepath.ToSlash(p), nil
}

// Read reads the mask at rel (from Find or Manifest) with r; see Reader.ReadFile for wantW and
// wantH.
func (l *Locator) Read(r *Reader, rel string, wantW, wantH int) (segment.LabelMap, error) {
	f, err := l.root.Open(filepath.FromSlash(rel))
	if err != nil {
		return segment.LabelMap{}, fmt.Errorf("open mask %q: %w", rel, err)
	}
	defer f.Close()
	return r.read(rel, f, wantW, wantH)
}
