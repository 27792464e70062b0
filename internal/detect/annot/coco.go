package annot

import (
	"encoding/json"
	"fmt"
	"math"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cvgate/cvgate/internal/detect/box"
)

type cocoFile struct {
	Images      *[]cocoImage `json:"images"`
	Annotations []cocoAnn    `json:"annotations"`
	Categories  *[]cocoCat   `json:"categories"`
}

type cocoImage struct {
	ID       *int64 `json:"id"`
	FileName string `json:"file_name"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
}

type cocoAnn struct {
	ID         *int64    `json:"id"`
	ImageID    int64     `json:"image_id"`
	CategoryID int64     `json:"category_id"`
	BBox       []float64 `json:"bbox"`
	Area       *float64  `json:"area"`
	IsCrowd    flexBool  `json:"iscrowd"`
}

type cocoCat struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// flexBool accepts COCO's iscrowd as 0/1 or as a JSON boolean (some converters write true).
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "0", "false", "null":
		*b = false
	case "1", "true":
		*b = true
	default:
		return fmt.Errorf("iscrowd is %s: want 0 or 1", data)
	}
	return nil
}

// ReadCOCO reads a COCO instances file (images, annotations with bbox [x,y,w,h], area and
// iscrowd, categories). Categories keep their names and map to contiguous class indices in
// ascending id order; Set.CategoryIDs maps back. Images are ordered by id and objects keep the
// file's order, which is the order pycocotools evaluates in (its tie-breaking depends on it).
//
// With opt.Images set, every listed file_name must resolve to exactly one present image (by its
// path relative to the data folder or a unique trailing part of it, so "x.jpg" finds
// "val2017/x.jpg"), and present images in the folders the file uses must be listed: a negative
// image belongs in images[] with no annotations.
func ReadCOCO(file string, opt Options) (*Set, error) {
	lim := opt.Limits.withDefaults()
	fail := func(err error) (*Set, error) {
		return nil, fmt.Errorf("read COCO annotations %q: %w", file, err)
	}
	data, err := readCapped(file, lim.MaxJSONBytes, lim.Within)
	if err != nil {
		return fail(err)
	}
	var cf cocoFile
	if err := json.Unmarshal(data, &cf); err != nil {
		return fail(explainJSON(data, err))
	}
	if cf.Images == nil || cf.Categories == nil {
		return fail(fmt.Errorf("not a COCO instances file: it needs \"images\" and \"categories\" lists (and \"annotations\")"))
	}
	set := &Set{Format: COCO, Source: file, ClassSource: "categories of " + filepath.Base(file)}
	classOf, err := cocoCategories(*cf.Categories, set)
	if err != nil {
		return fail(err)
	}
	byID, err := cocoImages(*cf.Images, opt, set)
	if err != nil {
		return fail(err)
	}
	var probs problems
	for i, a := range cf.Annotations {
		if a.ID == nil {
			probs.add("annotation #%d (image_id %d) has no id: give every annotation a unique integer id", i+1, a.ImageID)
			continue
		}
		where := fmt.Sprintf("annotation id %d", *a.ID)
		img, ok := byID[a.ImageID]
		if !ok {
			probs.add("%s: image_id %d is not in images[]: add the image or drop the annotation", where, a.ImageID)
			continue
		}
		class, ok := classOf[a.CategoryID]
		if !ok {
			probs.add("%s: category_id %d is not in categories[]: add the category or fix the id", where, a.CategoryID)
			continue
		}
		if len(a.BBox) != 4 {
			probs.add("%s: bbox has %d numbers, want 4 ([x, y, width, height] in pixels)", where, len(a.BBox))
			continue
		}
		x, y, w, h := a.BBox[0], a.BBox[1], a.BBox[2], a.BBox[3]
		if w < 0 || h < 0 {
			probs.add("%s: bbox %v has a negative width or height: COCO boxes are [x, y, width, height], not corners", where, a.BBox)
			continue
		}
		area := w * h
		if a.Area != nil {
			area = *a.Area
		}
		if math.IsNaN(area) || math.IsInf(area, 0) || area < 0 {
			probs.add("%s: area %v must be a non-negative number", where, area)
			continue
		}
		if len(img.Objects) >= lim.MaxObjectsPerImage {
			probs.add("image id %d (%s): more than %d objects: raise the objects-per-image limit if this is genuine", a.ImageID, img.File, lim.MaxObjectsPerImage)
			continue
		}
		img.Objects = append(img.Objects, box.Object{
			Box: box.FromXYWH(x, y, w, h), Class: class, Crowd: bool(a.IsCrowd), Area: area, ID: *a.ID,
		})
	}
	if err := probs.err(); err != nil {
		return fail(err)
	}
	if err := duplicateAnnotationIDs(cf.Annotations); err != nil {
		return fail(err)
	}
	return set.finish(), nil
}

func cocoCategories(cats []cocoCat, set *Set) (map[int64]int, error) {
	if len(cats) == 0 {
		return nil, fmt.Errorf("categories[] is empty: list the classes as {\"id\": ..., \"name\": ...}")
	}
	sorted := slices.Clone(cats)
	slices.SortStableFunc(sorted, func(a, b cocoCat) int { return cmpInt(a.ID, b.ID) })
	classOf := make(map[int64]int, len(sorted))
	names := make(map[string]int64, len(sorted))
	for i, c := range sorted {
		if _, dup := classOf[c.ID]; dup {
			return nil, fmt.Errorf("category id %d is listed twice: give each category its own id", c.ID)
		}
		name := strings.TrimSpace(c.Name)
		if name == "" {
			return nil, fmt.Errorf("category id %d has no name: name every category", c.ID)
		}
		if other, dup := names[name]; dup {
			return nil, fmt.Errorf("categories %d and %d are both named %q: give each class its own name", other, c.ID, name)
		}
		classOf[c.ID], names[name] = i, c.ID
		set.Classes = append(set.Classes, name)
		set.CategoryIDs = append(set.CategoryIDs, c.ID)
	}
	return classOf, nil
}

// cocoImages builds the Set's images, resolved against the present files, and returns them by id.
func cocoImages(list []cocoImage, opt Options, set *Set) (map[int64]*Image, error) {
	var present *suffixIndex
	if opt.Images != nil {
		if err := checkUnique(opt.Images); err != nil {
			return nil, err
		}
		present = newSuffixIndex(opt.Images)
	}
	var probs problems
	var missing, ambiguous []string
	seenID := make(map[int64]bool, len(list))
	seenFile := make(map[string]int64, len(list))
	used := make(map[string]bool, len(list))
	for i, im := range list {
		if im.ID == nil {
			probs.add("images[%d] (%q) has no id: give every image a unique integer id", i, im.FileName)
			continue
		}
		id := *im.ID
		name := cleanName(im.FileName)
		if name == "" {
			probs.add("image id %d has no file_name", id)
			continue
		}
		if seenID[id] {
			probs.add("image id %d is listed twice in images[]: give each image one entry", id)
			continue
		}
		if other, dup := seenFile[name]; dup {
			probs.add("file_name %q is listed twice in images[] (ids %d and %d): give each image one entry", name, other, id)
			continue
		}
		seenID[id], seenFile[name] = true, id
		file := name
		if present != nil {
			matches := present.lookup(name)
			switch len(matches) {
			case 0:
				missing = append(missing, name)
				continue
			case 1:
				file = matches[0]
			default:
				ambiguous = append(ambiguous, fmt.Sprintf("%s (%s)", name, strings.Join(matches, ", ")))
				continue
			}
			used[file] = true
		}
		w, h := im.Width, im.Height
		if w <= 0 || h <= 0 {
			if opt.Size == nil {
				probs.add("image id %d (%s) has no width/height: add them to images[]", id, name)
				continue
			}
			var err error
			if w, h, err = opt.Size(file); err != nil {
				probs.add("image id %d (%s): the file gives no size: %v", id, name, err)
				continue
			}
		}
		set.Images = append(set.Images, Image{File: file, ID: id, Width: w, Height: h})
	}
	if len(missing) > 0 {
		probs.add("%d of the %d images in images[] are not in the data folder (%s): point the data folder at the images the file lists, or regenerate the file for these images",
			len(missing), len(list), preview(missing))
	}
	if len(ambiguous) > 0 {
		probs.add("%d file_name entries match more than one image (%s): give file_name as the path relative to the data folder",
			len(ambiguous), preview(ambiguous))
	}
	if present != nil {
		if unlisted := unlistedImages(opt.Images, used); len(unlisted) > 0 {
			probs.add("%d images in the data folder are not in images[] (%s): add them (with no annotations if they are negatives) or move them out of the folder",
				len(unlisted), preview(unlisted))
		}
	}
	if err := probs.err(); err != nil {
		return nil, err
	}
	slices.SortFunc(set.Images, func(a, b Image) int { return cmpInt(a.ID, b.ID) })
	byID := make(map[int64]*Image, len(set.Images))
	for i := range set.Images {
		byID[set.Images[i].ID] = &set.Images[i]
	}
	return byID, nil
}

// unlistedImages are present images the file does not list, among the folders it does use (a
// folder of another split beside them is not this file's business); all of them when it uses none.
func unlistedImages(images []string, used map[string]bool) []string {
	if len(used) == 0 {
		return images
	}
	dirs := make(map[string]bool)
	for f := range used {
		dirs[path.Dir(f)] = true
	}
	var out []string
	for _, f := range images {
		if !used[f] && dirs[path.Dir(f)] {
			out = append(out, f)
		}
	}
	return out
}

func duplicateAnnotationIDs(anns []cocoAnn) error {
	seen := make(map[int64]bool, len(anns))
	for _, a := range anns {
		if seen[*a.ID] {
			return fmt.Errorf("annotation id %d is used twice: give every annotation a unique id", *a.ID)
		}
		seen[*a.ID] = true
	}
	return nil
}

// cleanName normalizes a file_name from the JSON to a relative slash path.
func cleanName(name string) string {
	name = strings.ReplaceAll(strings.TrimSpace(name), "\\", "/")
	name = path.Clean("/" + name)
	return strings.TrimPrefix(name, "/")
}

// suffixIndex finds present images by their relative path or any trailing run of its components.
type suffixIndex struct{ by map[string][]string }

func newSuffixIndex(files []string) *suffixIndex {
	s := &suffixIndex{by: make(map[string][]string, 2*len(files))}
	for _, f := range files {
		rest := f
		for {
			if l := s.by[rest]; len(l) < 3 {
				s.by[rest] = append(l, f)
			}
			i := strings.IndexByte(rest, '/')
			if i < 0 {
				break
			}
			rest = rest[i+1:]
		}
	}
	return s
}

func (s *suffixIndex) lookup(name string) []string {
	l := s.by[name]
	// An exact relative path wins over images that merely end the same way.
	for _, f := range l {
		if f == name {
			return []string{f}
		}
	}
	return l
}

func preview(items []string) string {
	const n = 5
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("first %d: %s", n, strings.Join(items[:n], ", "))
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
