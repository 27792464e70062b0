package annot

import (
	"encoding/xml"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/internal/detect/box"
)

type vocFile struct {
	XMLName xml.Name `xml:"annotation"`
	Size    struct {
		Width  string `xml:"width"`
		Height string `xml:"height"`
	} `xml:"size"`
	Objects []vocObject `xml:"object"`
}

type vocObject struct {
	Name      string `xml:"name"`
	Difficult string `xml:"difficult"`
	BndBox    *struct {
		XMin string `xml:"xmin"`
		YMin string `xml:"ymin"`
		XMax string `xml:"xmax"`
		YMax string `xml:"ymax"`
	} `xml:"bndbox"`
}

// vocFileOf is the XML file of an image: in a parallel Annotations/ folder
// (JPEGImages/x.jpg or images/x.jpg -> Annotations/x.xml, the VOC layout) or beside the image.
func vocFileOf(root, image string) (string, bool) {
	if p, ok := siblingPath(image, []string{"JPEGImages", "images"}, "Annotations", ".xml"); ok && fileExists(filepath.Join(root, filepath.FromSlash(p))) {
		return p, true
	}
	if p := swapExt(image, ".xml"); fileExists(filepath.Join(root, filepath.FromSlash(p))) {
		return p, true
	}
	return "", false
}

// ReadVOC reads Pascal VOC XML annotations for opt.Images under root: size, and per object its
// name, bndbox and difficult flag. Classes come from a names file when there is one (data.yaml,
// classes.txt, ...; an object whose name is not in it is an error) and are otherwise the sorted
// object names found (for VOC's 20 classes, VOC's own order).
//
// VOC numbers pixels from 1 and its bndbox includes both end pixels: xmin=1, xmax=10 covers the
// first ten pixels. In cvgate's continuous coordinates (COCO's) that box is [0, 10], so the reader
// subtracts 1 from xmin and ymin and keeps xmax and ymax; its width is xmax - xmin + 1, the width
// VOC's own devkit computes. Difficult objects are kept with Difficult set: evaluation ignores
// them, as VOC's does. An image without an XML file is a negative.
func ReadVOC(root string, opt Options) (*Set, error) {
	lim := opt.Limits.withDefaults()
	fail := func(err error) (*Set, error) { return nil, fmt.Errorf("read VOC annotations under %q: %w", root, err) }
	if err := checkUnique(opt.Images); err != nil {
		return fail(err)
	}
	names, source, found, err := findNames(root, lim)
	if err != nil {
		return nil, err
	}
	type parsed struct {
		im    Image
		file  string   // the XML file
		names []string // object names, resolved to classes once the list is known
	}
	var all []parsed
	var probs problems
	unlabeled, labelled := 0, 0
	seen := map[string]bool{}
	for i, img := range opt.Images {
		p := parsed{im: Image{File: img, ID: int64(i + 1)}}
		file, ok := vocFileOf(root, img)
		p.file = file
		if ok {
			labelled++
			objs, objNames, w, h, err := readVOCFile(filepath.Join(root, filepath.FromSlash(file)), file, lim)
			if err != nil {
				probs.add("%w", err)
				continue
			}
			p.im.Objects, p.names, p.im.Width, p.im.Height = objs, objNames, w, h
			for _, n := range objNames {
				seen[n] = true
			}
		} else {
			unlabeled++
		}
		if opt.Size != nil && (p.im.Width <= 0 || p.im.Height <= 0) {
			w, h, err := opt.Size(img)
			if err != nil {
				probs.add("image %s: cannot read its size: %v", img, err)
				continue
			}
			p.im.Width, p.im.Height = w, h
		}
		if p.im.Width <= 0 || p.im.Height <= 0 {
			if ok {
				probs.add("%s: no <size> with width and height: add it", file)
			} else {
				probs.add("image %s: no XML file and no way to read its size", img)
			}
			continue
		}
		all = append(all, p)
	}
	if err := probs.err(); err != nil {
		return fail(err)
	}
	if labelled == 0 && len(opt.Images) > 0 {
		return fail(fmt.Errorf("none of the %d images has an XML file (looked in Annotations/ beside JPEGImages/ or images/, and beside each image)", len(opt.Images)))
	}
	set := &Set{Format: VOC, Source: root, Classes: names, ClassSource: source}
	if !found {
		for n := range seen {
			set.Classes = append(set.Classes, n)
		}
		slices.Sort(set.Classes)
		set.ClassSource = "object names in the XML files (sorted)"
	}
	index := make(map[string]int, len(set.Classes))
	for i, n := range set.Classes {
		index[n] = i
	}
	for _, p := range all {
		for j, n := range p.names {
			k, ok := index[n]
			if !ok {
				probs.add("%s object %d: name %q is not among the %d classes of %s: add it there or fix the name", p.file, j+1, n, len(set.Classes), source)
				continue
			}
			p.im.Objects[j].Class = k
		}
		set.Images = append(set.Images, p.im)
	}
	if err := probs.err(); err != nil {
		return fail(err)
	}
	if unlabeled > 0 {
		set.Notes = append(set.Notes, fmt.Sprintf("%d of %d images have no XML file and count as negatives (no objects)", unlabeled, len(opt.Images)))
	}
	return set.finish(), nil
}

func readVOCFile(file, rel string, lim Limits) (objs []box.Object, names []string, w, h int, err error) {
	data, err := readCapped(file, lim.MaxFileBytes, lim.Within)
	if err != nil {
		return nil, nil, 0, 0, fmt.Errorf("%s: %w", rel, err)
	}
	var v vocFile
	if err := xml.Unmarshal(data, &v); err != nil {
		return nil, nil, 0, 0, fmt.Errorf("%s: not VOC XML (<annotation> with <size> and <object>s): %w", rel, err)
	}
	w, h = atoiLoose(v.Size.Width), atoiLoose(v.Size.Height)
	if len(v.Objects) > lim.MaxObjectsPerImage {
		return nil, nil, 0, 0, fmt.Errorf("%s: %d objects, more than the %d-object limit: raise it if this is genuine", rel, len(v.Objects), lim.MaxObjectsPerImage)
	}
	for i, o := range v.Objects {
		at := fmt.Sprintf("%s object %d", rel, i+1)
		name := strings.TrimSpace(o.Name)
		if name == "" {
			return nil, nil, 0, 0, fmt.Errorf("%s: no <name>", at)
		}
		if o.BndBox == nil {
			return nil, nil, 0, 0, fmt.Errorf("%s (%s): no <bndbox>", at, name)
		}
		var c [4]float64
		for j, s := range []string{o.BndBox.XMin, o.BndBox.YMin, o.BndBox.XMax, o.BndBox.YMax} {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, 0, 0, fmt.Errorf("%s (%s): bndbox value %q is not a finite number", at, name, s)
			}
			c[j] = v
		}
		if c[2] < c[0] || c[3] < c[1] {
			return nil, nil, 0, 0, fmt.Errorf("%s (%s): xmax/ymax (%v, %v) below xmin/ymin (%v, %v): the corners are swapped", at, name, c[2], c[3], c[0], c[1])
		}
		b := box.Box{X1: c[0] - 1, Y1: c[1] - 1, X2: c[2], Y2: c[3]}
		difficult := strings.TrimSpace(o.Difficult)
		objs = append(objs, box.Object{Box: b, Difficult: difficult == "1" || strings.EqualFold(difficult, "true"), Area: b.Area(), ID: int64(i + 1)})
		names = append(names, name)
	}
	return objs, names, w, h, nil
}

// atoiLoose reads a VOC size, which some tools write as "500.0"; 0 when absent or unreadable.
func atoiLoose(s string) int {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v <= 0 || v > math.MaxInt32 {
		return 0
	}
	return int(math.Round(v))
}

// hasVOCFiles counts the images with a VOC XML file.
func hasVOCFiles(root string, images []string) int {
	n := 0
	for _, img := range images {
		if _, ok := vocFileOf(root, img); ok {
			n++
		}
	}
	return n
}
