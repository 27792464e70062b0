// Package annotstats checks detection ground truth and describes it: findings a data-integrity
// check reports (boxes outside the image, empty boxes, duplicates, unknown classes, extreme aspect
// ratios) and the distributions a report shows and drift compares (objects per image, class
// shares, COCO size ranges, box sizes, aspect ratios and positions relative to the image).
package annotstats

import (
	"fmt"
	"math"
	"slices"

	"github.com/cvgate/cvgate/internal/detect/annot"
	"github.com/cvgate/cvgate/internal/detect/box"
)

// Kind names a finding.
type Kind string

// The findings Check reports, in report order.
const (
	UnknownClass  Kind = "unknown_class"
	ZeroArea      Kind = "zero_area"
	OutsideImage  Kind = "outside_image"
	Duplicate     Kind = "duplicate"
	NearDuplicate Kind = "near_duplicate"
	ExtremeAspect Kind = "extreme_aspect"
)

// Kinds lists every kind in report order.
var Kinds = []Kind{UnknownClass, ZeroArea, OutsideImage, Duplicate, NearDuplicate, ExtremeAspect}

// Params set what counts as a finding.
type Params struct {
	// Outside is how many pixels a box may reach past the image edge before it is outside (labels
	// drawn to the last pixel's far edge, or rounded, overshoot by a fraction of a pixel).
	Outside float64
	// DuplicateIoU is the overlap above which two objects of one class are near duplicates.
	DuplicateIoU float64
	// MaxAspect is the width/height (or height/width) ratio beyond which a box is extreme.
	MaxAspect float64
}

// DefaultParams are 0.5 px, IoU 0.95 and 20:1.
func DefaultParams() Params { return Params{Outside: 0.5, DuplicateIoU: 0.95, MaxAspect: 20} }

// Finding is one suspicious object.
type Finding struct {
	Kind Kind `json:"kind"`
	// Image and Object index the Set's images and that image's objects.
	Image  int `json:"image"`
	Object int `json:"object"`
	// Other is the object it duplicates, -1 for other kinds.
	Other  int    `json:"other"`
	Detail string `json:"detail"`
}

// Check lists the findings of a set of images with classes classes, by image, then object, then
// kind. Crowd regions are exempt from the duplicate and aspect checks (a crowd box covers many
// objects and may legitimately overlap one).
func Check(images []annot.Image, classes int, p Params) []Finding {
	var out []Finding
	for i, im := range images {
		W, H := float64(im.Width), float64(im.Height)
		for j, o := range im.Objects {
			add := func(k Kind, other int, format string, args ...any) {
				out = append(out, Finding{Kind: k, Image: i, Object: j, Other: other, Detail: fmt.Sprintf(format, args...)})
			}
			if o.Class < 0 || o.Class >= classes {
				add(UnknownClass, -1, "class %d is not among the %d class names", o.Class, classes)
			}
			w, h := o.W(), o.H()
			if w <= 0 || h <= 0 {
				add(ZeroArea, -1, "box %s has no area", fmtBox(o.Box))
			}
			if o.X1 < -p.Outside || o.Y1 < -p.Outside || o.X2 > W+p.Outside || o.Y2 > H+p.Outside {
				add(OutsideImage, -1, "box %s reaches outside the %dx%d image", fmtBox(o.Box), im.Width, im.Height)
			}
			if w > 0 && h > 0 && !o.Crowd {
				if r := math.Max(w/h, h/w); r > p.MaxAspect {
					add(ExtremeAspect, -1, "box %s is %.0f:1", fmtBox(o.Box), r)
				}
			}
		}
		out = append(out, duplicates(i, im.Objects, p.DuplicateIoU)...)
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		if a.Image != b.Image {
			return a.Image - b.Image
		}
		if a.Object != b.Object {
			return a.Object - b.Object
		}
		return slices.Index(Kinds, a.Kind) - slices.Index(Kinds, b.Kind)
	})
	return out
}

// duplicates finds pairs of same-class objects with equal boxes or IoU above thr, reported on the
// later object of each pair. A sweep over boxes sorted by left edge compares only boxes that
// overlap horizontally, so a crowded image stays near-linear.
func duplicates(img int, objs []box.Object, thr float64) []Finding {
	order := make([]int, 0, len(objs))
	for j, o := range objs {
		if !o.Crowd {
			order = append(order, j)
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		if objs[a].X1 != objs[b].X1 {
			if objs[a].X1 < objs[b].X1 {
				return -1
			}
			return 1
		}
		return a - b
	})
	var out []Finding
	for x, a := range order {
		for _, b := range order[x+1:] {
			if objs[b].X1 > objs[a].X2 {
				break
			}
			oa, ob := objs[a], objs[b]
			if oa.Class != ob.Class {
				continue
			}
			first, second := min(a, b), max(a, b)
			if oa.Box == ob.Box {
				out = append(out, Finding{Kind: Duplicate, Image: img, Object: second, Other: first, Detail: fmt.Sprintf("same box as object %d", first)})
			} else if v := box.IoU(oa.Box, ob.Box); v > thr {
				out = append(out, Finding{Kind: NearDuplicate, Image: img, Object: second, Other: first, Detail: fmt.Sprintf("IoU %.3f with object %d", v, first)})
			}
		}
	}
	return out
}

func fmtBox(b box.Box) string {
	return fmt.Sprintf("[%.1f, %.1f, %.1f, %.1f]", b.X1, b.Y1, b.X2, b.Y2)
}

// Counts tallies findings by kind, in Kinds order, leaving out kinds with none.
func Counts(fs []Finding) []KindCount {
	n := map[Kind]int{}
	for _, f := range fs {
		n[f.Kind]++
	}
	var out []KindCount
	for _, k := range Kinds {
		if n[k] > 0 {
			out = append(out, KindCount{k, n[k]})
		}
	}
	return out
}

// KindCount is a number of findings of one kind.
type KindCount struct {
	Kind  Kind `json:"kind"`
	Count int  `json:"count"`
}
