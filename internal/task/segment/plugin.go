package segment

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/segment/mask"
	"github.com/cvgate/cvgate/internal/task"
)

// Plugin registers segmentation with the task registry.
type Plugin struct{}

// Kind implements registry.Plugin.
func (Plugin) Kind() task.Kind { return task.Segmentation }

// Looks implements registry.Plugin.
func (Plugin) Looks() string {
	return "a mask per image (masks/, labels/, annotations/ or SegmentationClass/ beside images/, or x_mask.png), or a manifest column \"mask\""
}

// maxListed bounds the image files a data folder may hold.
const maxListed = 1_000_000

// classFiles are the class-name files looked for at the top of the data folder.
var classFiles = []string{"classes.txt", "labels.txt", "class_dict.csv", "classes.csv"}

// Find implements registry.Plugin.
func (Plugin) Find(in task.Input, cfg *config.Config) (task.Reader, error) {
	data, annotations := in.Data, in.Annotations
	st, err := os.Stat(data)
	if err != nil {
		return nil, nil // the caller reports a missing data path
	}
	sc := cfg.Segmentation
	if annotations != "" && sc.Masks == "" {
		if ast, err := os.Stat(annotations); err == nil && ast.IsDir() {
			sc.Masks = annotations
		} else {
			return nil, nil
		}
	}
	r := &reader{cfg: sc, maxValue: -1}
	if !st.IsDir() {
		return r.fromManifest(data, in, cfg)
	}
	r.root = data
	if r.loc, err = mask.NewLocator(data); err != nil {
		return nil, err
	}
	r.maskLoc = r.loc
	if sc.Masks != "" {
		dir := sc.Masks
		if !filepath.IsAbs(dir) {
			if _, err := os.Stat(dir); err != nil {
				dir = filepath.Join(data, dir) // relative to the data folder
			}
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("segmentation masks folder %q: not a folder", sc.Masks)
		}
		r.masksDir = dir
		if r.maskLoc, err = mask.NewLocator(dir); err != nil {
			return nil, err
		}
	}
	images, err := listImages(data)
	if err != nil {
		return nil, err
	}
	if len(images) == 0 {
		return nil, nil
	}
	explicit := sc.Masks != "" || task.Kind(cfg.Task) == task.Segmentation
	// Infer segmentation only when masks are there: the first images must have one.
	if !explicit {
		found := false
		for _, im := range images[:min(3, len(images))] {
			if _, err := r.find(im); err == nil {
				found = true
				break
			}
		}
		if !found {
			return nil, nil
		}
	}
	var missing []string
	for _, im := range images {
		m, err := r.find(im)
		if err != nil {
			if !errors.Is(err, mask.ErrNoMask) {
				return nil, err
			}
			missing = append(missing, im)
			continue
		}
		r.entries = append(r.entries, dataset.Entry{Path: im, File: filepath.Join(data, filepath.FromSlash(im)), Truth: pending{mask: m}})
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%d of %d images have no mask (e.g. %s): put each image's mask at masks/<name>.png beside images/, or name it in a manifest column \"mask\" (see docs/segmentation-data.md)",
			len(missing), len(images), strings.Join(missing[:min(5, len(missing))], ", "))
	}
	r.describe = fmt.Sprintf("segmentation masks in %q", cfg.Data)
	if sc.Masks != "" {
		r.describe = fmt.Sprintf("segmentation masks in %q", sc.Masks)
	}
	if err := r.classes(cfg); err != nil {
		return nil, err
	}
	return r, nil
}

// fromManifest reads a CSV/JSONL manifest whose "mask" column names each image's mask.
func (r *reader) fromManifest(manifest string, in task.Input, cfg *config.Config) (task.Reader, error) {
	list := in.List
	if list == nil {
		list = dataset.List
	}
	l, err := list(manifest)
	if err != nil {
		return nil, err
	}
	col := -1
	for i, a := range l.Attributes {
		if strings.EqualFold(a, "mask") {
			col = i
		}
	}
	if col < 0 {
		return nil, nil
	}
	r.root = filepath.Dir(manifest)
	if r.loc, err = mask.NewLocator(r.root); err != nil {
		return nil, err
	}
	r.maskLoc = r.loc
	for i, e := range l.Entries {
		m, err := r.loc.Manifest(e.Attrs[col])
		if err != nil {
			return nil, fmt.Errorf("manifest %q, image %q: %w", manifest, e.Path, err)
		}
		e.Truth = pending{mask: m}
		l.Entries[i] = e
	}
	r.entries = l.Entries
	r.attrs = l.Attributes
	r.describe = fmt.Sprintf("segmentation masks named in %q", cfg.Data)
	if err := r.classes(cfg); err != nil {
		return nil, err
	}
	return r, nil
}

// find locates an image's mask: in the configured masks folder (mirroring the image's path, or
// by its file name; the path is then relative to that folder), or by the naming rules.
func (r *reader) find(image string) (string, error) {
	if r.masksDir == "" {
		return r.loc.Find(image)
	}
	stem := strings.TrimSuffix(image, path.Ext(image))
	var tried []string
	for _, c := range []string{stem + ".png", path.Base(stem) + ".png"} {
		// Also without a leading images/ folder: images/x.jpg <-> masks/x.png.
		for _, cand := range []string{c, strings.TrimPrefix(c, strings.SplitN(c, "/", 2)[0]+"/")} {
			tried = append(tried, cand)
			if st, err := os.Lstat(filepath.Join(r.masksDir, filepath.FromSlash(cand))); err == nil && st.Mode().IsRegular() {
				return cand, nil
			}
		}
	}
	return "", fmt.Errorf("find mask for %q in %q (tried %s): %w", image, r.masksDir, strings.Join(tried, ", "), mask.ErrNoMask)
}

// classes reads the class names: --labels, the colour table, a class file in the data folder,
// two classes for binary masks; else they are numbered from the masks' values (after Resolve).
func (r *reader) classes(cfg *config.Config) error {
	var cs *mask.Classes
	var err error
	switch {
	case cfg.Labels != "":
		if cs, err = mask.ReadClassFile(cfg.Labels); err != nil {
			return err
		}
	case len(cfg.Segmentation.Colors) > 0:
		cs = &mask.Classes{Source: "segmentation.colors in the config"}
		for _, c := range cfg.Segmentation.Colors {
			cs.Names = append(cs.Names, c.Name)
			cs.Colors = append(cs.Colors, mask.ClassColor{Name: c.Name, RGB: [3]uint8{uint8(c.RGB[0]), uint8(c.RGB[1]), uint8(c.RGB[2])}})
		}
	case cfg.Segmentation.Binary:
		cs = &mask.Classes{Names: []string{"background", "foreground"}, Source: "binary masks (segmentation.binary)"}
	default:
		for _, name := range classFiles {
			p := filepath.Join(r.root, name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				if cs, err = mask.ReadClassFile(p); err != nil {
					return err
				}
				break
			}
		}
	}
	opts := mask.Options{Ignore: &cfg.Segmentation.IgnoreIndex}
	if cfg.Segmentation.Binary {
		opts.Encoding = mask.Binary
	}
	if cs != nil {
		r.names, r.classSource = cs.Names, cs.Source
		opts.NumClasses = len(cs.Names)
		opts.Colors = cs.Colors
	}
	r.mr, err = mask.NewReader(opts)
	return err
}

// Open implements registry.Plugin.
func (Plugin) Open(rd task.Reader, cfg *config.Config) (task.Task, error) {
	names := rd.Classes()
	if len(names) == 0 {
		return nil, fmt.Errorf("the masks (%s) hold no class", rd.Describe())
	}
	if cfg.Segmentation.IgnoreIndex < len(names) {
		return nil, fmt.Errorf("segmentation.ignore_index %d is one of the %d classes: set it outside 0..%d (255 is usual)", cfg.Segmentation.IgnoreIndex, len(names), len(names)-1)
	}
	return New(names, cfg.Segmentation), nil
}

// pending is an image's truth before its mask is read: the mask's path relative to the root.
type pending struct{ mask string }

type reader struct {
	cfg         config.Segmentation
	root        string
	loc         *mask.Locator // the data folder: naming rules, manifests
	maskLoc     *mask.Locator // where masks are read: the data folder or segmentation.masks
	masksDir    string
	mr          *mask.Reader
	entries     []dataset.Entry
	attrs       []string
	names       []string
	classSource string
	describe    string
	maxValue    int
	notes       []string
}

func (r *reader) Describe() string { return r.describe }
func (r *reader) Notes() []string  { return r.notes }

func (r *reader) ClassSource() string {
	if r.classSource == "" {
		return "numbered from the mask values (no class file: give --labels FILE to name them)"
	}
	return r.classSource
}

// Classes are the named classes, or 0..max mask value when no names were given.
func (r *reader) Classes() []string {
	if r.names != nil {
		return r.names
	}
	var out []string
	for k := 0; k <= r.maxValue; k++ {
		out = append(out, fmt.Sprint(k))
	}
	return out
}

func (r *reader) List() (*dataset.Listing, error) {
	if len(r.entries) == 0 {
		return nil, fmt.Errorf("%s: no image", r.describe)
	}
	return &dataset.Listing{Source: r.root, Kind: "segmentation", Entries: r.entries, Attributes: r.attrs}, nil
}

// Resolve reads the image's mask, which must have the image's size.
func (r *reader) Resolve(t task.Truth, w, h int, imagePath string) (task.Truth, error) {
	p, ok := t.(pending)
	if !ok {
		return nil, fmt.Errorf("image %q: no mask was found for it", imagePath)
	}
	m, err := r.maskLoc.Read(r.mr, p.mask, w, h)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", imagePath, err)
	}
	ign := r.mr.Ignore()
	for _, v := range m.Pix {
		if int(v) != ign && int(v) > r.maxValue {
			r.maxValue = int(v)
		}
	}
	return Truth{Map: m}, nil
}

// listImages lists the image files below root that are not masks (mask folders and x_mask.png
// files are left out), as slash paths relative to root. Links are not followed.
func listImages(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p != root && (strings.HasPrefix(name, ".") || (d.IsDir() && maskLike(name))) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && dataset.IsImage(name) && !mask.IsMaskFile(name) {
			if len(out) >= maxListed {
				return fmt.Errorf("more than %d images", maxListed)
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list images in %q: %w", root, err)
	}
	sort.Strings(out)
	return out, nil
}

// maskLike reports a folder of masks: a mask folder name (masks, labels, SegmentationClass, ...)
// alone or with a suffix (masks_binary, labels-rgb).
func maskLike(name string) bool {
	if mask.IsMaskDir(name) {
		return true
	}
	if i := strings.IndexAny(name, "_-"); i > 0 {
		return mask.IsMaskDir(name[:i])
	}
	return false
}
