package annot

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/internal/detect/box"
)

// normSlack tolerates rounding in normalized coordinates written as 1.0000001.
const normSlack = 1e-6

// yoloLabelFile is the label file of an image: under a parallel labels/ folder
// (images/a/x.jpg -> labels/a/x.txt, as Ultralytics looks it up) or beside the image (x.txt).
// ok is false when neither exists.
func yoloLabelFile(root, image string) (string, bool) {
	if p, ok := siblingPath(image, []string{"images"}, "labels", ".txt"); ok && fileExists(filepath.Join(root, filepath.FromSlash(p))) {
		return p, true
	}
	if p := swapExt(image, ".txt"); fileExists(filepath.Join(root, filepath.FromSlash(p))) {
		return p, true
	}
	return "", false
}

// ReadYOLO reads YOLO labels for opt.Images under root: one text file per image, each line
// "class cx cy w h" normalized by the image size (a polygon "class x1 y1 x2 y2 ..." counts as
// its bounding box, as Ultralytics does), class names from data.yaml (names as a list or a map)
// or a names file (classes.txt, names.txt, obj.names). An image without a label file is a
// negative; Set.Notes says how many there were. opt.Size is required: boxes are normalized.
func ReadYOLO(root string, opt Options) (*Set, error) {
	lim := opt.Limits.withDefaults()
	fail := func(err error) (*Set, error) { return nil, fmt.Errorf("read YOLO labels under %q: %w", root, err) }
	if opt.Size == nil {
		return fail(fmt.Errorf("YOLO boxes are normalized: the reader needs each image's size"))
	}
	if err := checkUnique(opt.Images); err != nil {
		return fail(err)
	}
	names, source, found, err := findNames(root, lim)
	if err != nil {
		return nil, err
	}
	if !found {
		return fail(fmt.Errorf("no class names: add data.yaml (names: [a, b, ...]) or classes.txt (one name per line) to the data folder"))
	}
	set := &Set{Format: YOLO, Source: root, Classes: names, ClassSource: source}
	var probs problems
	unlabeled, labelled := 0, 0
	for i, img := range opt.Images {
		im := Image{File: img, ID: int64(i + 1)}
		w, h, err := opt.Size(img)
		if err != nil {
			probs.add("image %s: cannot read its size: %v", img, err)
			continue
		}
		im.Width, im.Height = w, h
		label, ok := yoloLabelFile(root, img)
		if !ok {
			unlabeled++
			set.Images = append(set.Images, im)
			continue
		}
		labelled++
		objs, err := readYOLOFile(filepath.Join(root, filepath.FromSlash(label)), label, w, h, len(names), source, lim)
		if err != nil {
			probs.add("%w", err)
			continue
		}
		im.Objects = objs
		set.Images = append(set.Images, im)
	}
	if err := probs.err(); err != nil {
		return fail(err)
	}
	if labelled == 0 && len(opt.Images) > 0 {
		return fail(fmt.Errorf("none of the %d images has a label file (looked for labels/<name>.txt beside images/ and <name>.txt beside each image)", len(opt.Images)))
	}
	if unlabeled > 0 {
		set.Notes = append(set.Notes, fmt.Sprintf("%d of %d images have no label file and count as negatives (no objects)", unlabeled, len(opt.Images)))
	}
	return set.finish(), nil
}

// readYOLOFile parses one label file; rel names it in errors.
func readYOLOFile(file, rel string, w, h, classes int, namesSource string, lim Limits) ([]box.Object, error) {
	data, err := readCapped(file, lim.MaxFileBytes, lim.Within)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	var objs []box.Object
	for n, line := range strings.Split(string(data), "\n") {
		at := fmt.Sprintf("%s line %d", rel, n+1)
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		class, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("%s: class %q is not a whole number: a line is \"class cx cy w h\"", at, f[0])
		}
		if class < 0 || class >= classes {
			return nil, fmt.Errorf("%s: class %d is beyond the %d classes in %s (0..%d): add it to the names or fix the label", at, class, classes, namesSource, classes-1)
		}
		nums := make([]float64, len(f)-1)
		for i, s := range f[1:] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s: %q is not a finite number", at, s)
			}
			if v < -normSlack || v > 1+normSlack {
				return nil, fmt.Errorf("%s: coordinate %v is outside 0..1: YOLO coordinates are normalized by the image width and height (values like this look like pixels; divide by %dx%d)", at, v, w, h)
			}
			nums[i] = v
		}
		var b box.Box
		switch {
		case len(nums) == 4:
			b = box.FromCXCYWH(nums[0]*float64(w), nums[1]*float64(h), nums[2]*float64(w), nums[3]*float64(h))
		case len(nums) >= 6 && len(nums)%2 == 0:
			// A segmentation polygon: its bounding box.
			b = box.Box{X1: math.Inf(1), Y1: math.Inf(1), X2: math.Inf(-1), Y2: math.Inf(-1)}
			for i := 0; i < len(nums); i += 2 {
				x, y := nums[i]*float64(w), nums[i+1]*float64(h)
				b = box.Box{X1: min(b.X1, x), Y1: min(b.Y1, y), X2: max(b.X2, x), Y2: max(b.Y2, y)}
			}
		default:
			return nil, fmt.Errorf("%s: %d numbers after the class: a box line is \"class cx cy w h\" (4), a polygon has 3 or more x y pairs", at, len(nums))
		}
		if len(objs) >= lim.MaxObjectsPerImage {
			return nil, fmt.Errorf("%s: more than %d objects in one image: raise the objects-per-image limit if this is genuine", at, lim.MaxObjectsPerImage)
		}
		objs = append(objs, box.Object{Box: b, Class: class, Area: b.Area(), ID: int64(n + 1)})
	}
	return objs, nil
}

// hasYOLOLabels counts the images with a YOLO label file.
func hasYOLOLabels(root string, images []string) int {
	n := 0
	for _, img := range images {
		if _, ok := yoloLabelFile(root, img); ok {
			n++
		}
	}
	return n
}
