package detect

import (
	"errors"
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
func (Plugin) Find(in task.Input, cfg *config.Config) (task.Reader, error) {
	data, annotations := in.Data, in.Annotations
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
	if annotations != "" {
		if st, err := os.Stat(annotations); err != nil || st.IsDir() || strings.ToLower(filepath.Ext(annotations)) != ".json" {
			return nil, nil // a folder of masks or another format: not detection's
		}
	}
	images, err := listImages(data)
	if err != nil {
		return nil, err
	}
	lim := annot.DefaultLimits()
	lim.Within = in.Within
	set, err := annot.Read(data, annotations, annot.Options{Images: images, Size: sizeFunc(data), Limits: lim})
	if errors.Is(err, annot.ErrNoAnnotations) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	where := rel(data, set.Source)
	if where == "." {
		where = cfg.Data
	}
	desc := fmt.Sprintf("%s annotations %s", strings.ToUpper(string(set.Format)), where)
	return &reader{set: set, root: data, describe: desc}, nil
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
