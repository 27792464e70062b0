package detect

import (
	"bytes"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/detect/annot"
	"github.com/cvgate/cvgate/internal/task"
)

// Plugin registers detection with the task registry.
type Plugin struct{}

// Kind implements registry.Plugin.
func (Plugin) Kind() task.Kind { return task.Detection }

// Looks implements registry.Plugin.
func (Plugin) Looks() string {
	return "a COCO instances JSON file, a YOLO labels/ folder (with data.yaml or classes.txt) or a VOC Annotations/ folder of XML files"
}

// maxListed bounds how many image files a data folder may hold, so that a hostile tree cannot
// make listing unbounded.
const maxListed = 1_000_000

// Find implements registry.Plugin.
func (Plugin) Find(data, annotations string, cfg *config.Config) (task.Reader, error) {
	st, err := os.Stat(data)
	if err != nil || !st.IsDir() {
		// A manifest or a missing folder: detection reads folders; the caller reports a missing
		// data path itself.
		if annotations == "" {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("open data %q: %w", cfg.Data, err)
		}
		return nil, fmt.Errorf("data %q is a file: detection reads a folder of images with its annotations", cfg.Data)
	}
	file := annotations
	if file == "" {
		if file, err = findCOCO(data); err != nil || file == "" {
			return nil, err
		}
	} else if strings.ToLower(filepath.Ext(file)) != ".json" {
		return nil, nil
	}
	images, err := listImages(data)
	if err != nil {
		return nil, err
	}
	set, err := annot.ReadCOCO(file, annot.Options{Images: images, Size: sizeFunc(data)})
	if err != nil {
		return nil, err
	}
	return &reader{set: set, root: data, describe: "COCO annotations " + rel(data, file)}, nil
}

// Open implements registry.Plugin.
func (Plugin) Open(r task.Reader, cfg *config.Config) (task.Task, error) {
	if len(r.Classes()) == 0 {
		return nil, fmt.Errorf("the ground truth (%s) names no class", r.Describe())
	}
	t := New(r.Classes(), cfg.Detection)
	if rd, ok := r.(*reader); ok {
		t.categoryIDs = rd.set.CategoryIDs
	}
	if cfg.Detection.CategoryIDs && len(t.categoryIDs) == 0 {
		return nil, fmt.Errorf("detection.category_ids is set but %s has no category ids (only COCO files do)", r.Describe())
	}
	return t, nil
}

// findCOCO looks for one COCO instances file at the top of the data folder or in its
// annotations/ folder. Several candidates are an error: the user must say which.
func findCOCO(root string) (string, error) {
	var found []string
	for _, dir := range []string{root, filepath.Join(root, "annotations")} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDir() || strings.ToLower(filepath.Ext(e.Name())) != ".json" || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if looksCOCO(p) {
				found = append(found, p)
			}
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	}
	var names []string
	for _, f := range found {
		names = append(names, rel(root, f))
	}
	return "", fmt.Errorf("the data folder holds %d COCO annotation files (%s): pass --annotations FILE to choose one", len(found), strings.Join(names, ", "))
}

// looksCOCO sniffs the start of a JSON file for COCO's top-level lists.
func looksCOCO(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return bytes.Contains(head, []byte(`"images"`)) && (bytes.Contains(head, []byte(`"categories"`)) || bytes.Contains(head, []byte(`"annotations"`)))
}

// listImages lists the image files below root (hidden files and folders skipped), as
// slash-separated paths relative to it. Symbolic links are not followed.
func listImages(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != root {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && dataset.IsImage(d.Name()) {
			if len(out) >= maxListed {
				return fmt.Errorf("more than %d images", maxListed)
			}
			out = append(out, filepath.ToSlash(rel(root, p)))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list images in %q: %w", root, err)
	}
	sort.Strings(out)
	return out, nil
}

// sizeFunc reads an image's size from its header, without decoding its pixels.
func sizeFunc(root string) annot.SizeFunc {
	return func(file string) (int, int, error) {
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(file)))
		if err != nil {
			return 0, 0, err
		}
		defer f.Close()
		c, _, err := image.DecodeConfig(io.LimitReader(f, 64<<20))
		if err != nil {
			return 0, 0, fmt.Errorf("read the size of %q: %w", file, err)
		}
		return c.Width, c.Height, nil
	}
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// reader is a read annotation set.
type reader struct {
	set      *annot.Set
	root     string
	describe string
}

func (r *reader) Describe() string     { return r.describe }
func (r *reader) Classes() []string    { return r.set.Classes }
func (r *reader) ClassSource() string  { return r.set.ClassSource }
func (r *reader) Notes() []string      { return r.set.Notes }
func (r *reader) Format() annot.Format { return r.set.Format }

// sizedTruth is a truth whose annotation states the image size, checked by Resolve.
type sizedTruth struct {
	Truth
	w, h int
}

func (r *reader) List() (*dataset.Listing, error) {
	l := &dataset.Listing{Source: r.root, Kind: "detection (" + string(r.set.Format) + ")"}
	for _, im := range r.set.Images {
		l.Entries = append(l.Entries, dataset.Entry{Path: im.File, File: filepath.Join(r.root, filepath.FromSlash(im.File)),
			Truth: sizedTruth{Truth: Truth{Objects: im.Objects}, w: im.Width, h: im.Height}})
	}
	if len(l.Entries) == 0 {
		return nil, fmt.Errorf("%s lists no image", r.describe)
	}
	return l, nil
}

func (r *reader) Resolve(t task.Truth, w, h int, path string) (task.Truth, error) {
	st, ok := t.(sizedTruth)
	if !ok {
		return nil, fmt.Errorf("image %q: no ground truth was read for it", path)
	}
	if st.w > 0 && st.h > 0 && (st.w != w || st.h != h) {
		return nil, fmt.Errorf("image %q is %dx%d but %s says %dx%d: the annotation belongs to another version of the image (resized?); re-export the annotations or the image",
			path, w, h, r.describe, st.w, st.h)
	}
	return st.Truth, nil
}
