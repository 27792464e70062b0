package annotstats

import (
	"math"

	"github.com/cvgate/cvgate/internal/detect/annot"
)

// Size ranges of COCO (by the object's area: small < 32², medium < 96², large).
const (
	Small = iota
	Medium
	Large
)

// SizeNames name the size ranges.
var SizeNames = [3]string{"small", "medium", "large"}

// SizeOf is COCO's size range of an area. COCO's evaluation counts an area of exactly 32² or 96²
// in both neighbouring ranges; a distribution needs one, so the boundary goes to the larger.
func SizeOf(area float64) int {
	switch {
	case area < 32*32:
		return Small
	case area < 96*96:
		return Medium
	}
	return Large
}

// Profile describes the ground truth of a set of images: counts, and per-object samples
// relative to the image (so that sets of different resolutions compare) for drift tests.
type Profile struct {
	Images    int `json:"images"`
	Negatives int `json:"negatives"` // images without objects
	Objects   int `json:"objects"`
	Crowd     int `json:"crowd"`
	Difficult int `json:"difficult"`
	// ObjectsPerImage has one count per image.
	ObjectsPerImage []float64 `json:"objects_per_image"`
	// ClassObjects and ClassImages count objects per class and images containing each class.
	ClassObjects []int `json:"class_objects"`
	ClassImages  []int `json:"class_images"`
	// Sizes counts objects per COCO size range, SizesByClass per class.
	Sizes        [3]int   `json:"sizes"`
	SizesByClass [][3]int `json:"sizes_by_class"`
	// Per-object samples, in image then object order: the square root of the box's share of the
	// image area (a linear size), log2 of width/height, and the centre as fractions of the image.
	RelSize []float64 `json:"rel_size"`
	Aspect  []float64 `json:"log2_aspect"`
	CX      []float64 `json:"cx"`
	CY      []float64 `json:"cy"`
	// Class is each sample's class.
	Class []int `json:"class"`
}

// NewProfile describes images with classes classes. Objects of unknown classes and boxes without
// area are counted but give no samples (Check reports them).
func NewProfile(images []annot.Image, classes int) Profile {
	p := Profile{
		Images: len(images), ClassObjects: make([]int, classes), ClassImages: make([]int, classes),
		SizesByClass: make([][3]int, classes), ObjectsPerImage: make([]float64, 0, len(images)),
	}
	seen := make([]int, classes) // last image index+1 that counted the class
	for i, im := range images {
		p.ObjectsPerImage = append(p.ObjectsPerImage, float64(len(im.Objects)))
		if len(im.Objects) == 0 {
			p.Negatives++
		}
		W, H := float64(im.Width), float64(im.Height)
		for _, o := range im.Objects {
			p.Objects++
			if o.Crowd {
				p.Crowd++
			}
			if o.Difficult {
				p.Difficult++
			}
			s := SizeOf(o.Area)
			p.Sizes[s]++
			if o.Class < 0 || o.Class >= classes {
				continue
			}
			p.ClassObjects[o.Class]++
			p.SizesByClass[o.Class][s]++
			if seen[o.Class] != i+1 {
				seen[o.Class] = i + 1
				p.ClassImages[o.Class]++
			}
			w, h := o.W(), o.H()
			if w <= 0 || h <= 0 || W <= 0 || H <= 0 {
				continue
			}
			cx, cy := o.Centre()
			p.RelSize = append(p.RelSize, math.Sqrt(w*h/(W*H)))
			p.Aspect = append(p.Aspect, math.Log2(w/h))
			p.CX = append(p.CX, cx/W)
			p.CY = append(p.CY, cy/H)
			p.Class = append(p.Class, o.Class)
		}
	}
	return p
}

// ClassShares are each class's share of the objects (zeros when there are none).
func (p Profile) ClassShares() []float64 {
	out := make([]float64, len(p.ClassObjects))
	total := 0
	for _, n := range p.ClassObjects {
		total += n
	}
	if total == 0 {
		return out
	}
	for k, n := range p.ClassObjects {
		out[k] = float64(n) / float64(total)
	}
	return out
}

// PositionGrid counts object centres in an n x n grid over the image (row-major, top row
// first): where objects sit, for a heat map or a chi-squared drift test.
func (p Profile) PositionGrid(n int) [][]int {
	g := make([][]int, n)
	for i := range g {
		g[i] = make([]int, n)
	}
	if n <= 0 {
		return g
	}
	cell := func(v float64) int { return min(max(int(v*float64(n)), 0), n-1) }
	for i := range p.CX {
		g[cell(p.CY[i])][cell(p.CX[i])]++
	}
	return g
}
