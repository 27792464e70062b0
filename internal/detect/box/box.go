// Package box is the geometry of object detection: axis-aligned boxes in image pixels, their
// overlap, the ground-truth object and the detection types every detection package shares, the
// letterbox mapping between an original image and a model's input, and how ground truth moves when
// the image is flipped, shifted, scaled or cropped.
//
// Coordinates are continuous pixel coordinates of the original image: the top-left corner of the
// image is (0,0), the bottom-right corner is (width,height), and pixel (i,j) covers
// [i,i+1]x[j,j+1]. This is COCO's convention; readers of other conventions convert on input.
package box

import "math"

// Box is an axis-aligned rectangle from (X1,Y1) (top-left) to (X2,Y2) (bottom-right).
type Box struct {
	X1 float64 `json:"x1"`
	Y1 float64 `json:"y1"`
	X2 float64 `json:"x2"`
	Y2 float64 `json:"y2"`
}

// Object is one ground-truth object.
type Object struct {
	Box
	// Class is the contiguous class index (0..len(names)-1).
	Class int `json:"class"`
	// Crowd marks a COCO crowd region (iscrowd=1): evaluation ignores it, and a detection's
	// overlap with it is the intersection over the detection's own area.
	Crowd bool `json:"crowd,omitempty"`
	// Difficult marks a Pascal VOC difficult object: evaluation ignores it, as VOC does.
	Difficult bool `json:"difficult,omitempty"`
	// Area decides the COCO size range (small < 32², medium < 96², large). COCO files carry it
	// (the segment's area, not the box's); the YOLO and VOC readers set the box area. Evaluation
	// uses it verbatim, as pycocotools does, so whoever builds an Object must set it.
	Area float64 `json:"area"`
	// ID is the annotation's id in its source (COCO annotation id, or the 1-based line or object
	// number in a YOLO/VOC file), for error messages and failure exports.
	ID int64 `json:"id"`
}

// Ignored reports whether evaluation ignores the object (crowd or difficult).
func (o Object) Ignored() bool { return o.Crowd || o.Difficult }

// Detection is one predicted object.
type Detection struct {
	Box
	Class int     `json:"class"`
	Score float64 `json:"score"`
}

// FromXYWH builds a box from a top-left corner and a size, as COCO's bbox [x,y,w,h]. X2 is
// computed as x+w, the same floating-point sum pycocotools' overlap computation makes, so that
// overlaps agree bit for bit.
func FromXYWH(x, y, w, h float64) Box { return Box{x, y, x + w, y + h} }

// FromCXCYWH builds a box from its centre and size (YOLO's convention).
func FromCXCYWH(cx, cy, w, h float64) Box {
	return Box{cx - w/2, cy - h/2, cx + w/2, cy + h/2}
}

// W is the width (negative for an inverted box).
func (b Box) W() float64 { return b.X2 - b.X1 }

// H is the height (negative for an inverted box).
func (b Box) H() float64 { return b.Y2 - b.Y1 }

// Area is the box area, zero for a degenerate or inverted box.
func (b Box) Area() float64 {
	w, h := b.W(), b.H()
	if w <= 0 || h <= 0 {
		return 0
	}
	return w * h
}

// Finite reports whether all four coordinates are finite numbers.
func (b Box) Finite() bool {
	for _, v := range [4]float64{b.X1, b.Y1, b.X2, b.Y2} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// Clip limits the box to [0,w]x[0,h].
func (b Box) Clip(w, h float64) Box {
	return Box{clamp(b.X1, 0, w), clamp(b.Y1, 0, h), clamp(b.X2, 0, w), clamp(b.Y2, 0, h)}
}

// Intersect is the overlap of two boxes (zero-sized when they do not overlap).
func (b Box) Intersect(o Box) Box {
	r := Box{math.Max(b.X1, o.X1), math.Max(b.Y1, o.Y1), math.Min(b.X2, o.X2), math.Min(b.Y2, o.Y2)}
	if r.X2 < r.X1 {
		r.X2 = r.X1
	}
	if r.Y2 < r.Y1 {
		r.Y2 = r.Y1
	}
	return r
}

// Centre is the box centre.
func (b Box) Centre() (x, y float64) { return (b.X1 + b.X2) / 2, (b.Y1 + b.Y2) / 2 }

// intersection is the overlap area, computed as pycocotools' bbIou does: min of the right edges
// minus max of the left edges, zero when not positive.
func intersection(a, b Box) float64 {
	w := math.Min(a.X2, b.X2) - math.Max(a.X1, b.X1)
	if w <= 0 {
		return 0
	}
	h := math.Min(a.Y2, b.Y2) - math.Max(a.Y1, b.Y1)
	if h <= 0 {
		return 0
	}
	return w * h
}

// IoU is the intersection over union of two boxes; 0 when the union is empty.
func IoU(a, b Box) float64 {
	i := intersection(a, b)
	if i == 0 {
		return 0
	}
	return i / (a.W()*a.H() + b.W()*b.H() - i)
}

// CrowdIoU is COCO's overlap of a detection d with a crowd region g: the intersection over the
// detection's own area, so that a detection inside a crowd counts as covered by it.
func CrowdIoU(d, g Box) float64 {
	i := intersection(d, g)
	if i == 0 {
		return 0
	}
	return i / (d.W() * d.H())
}

func clamp(v, lo, hi float64) float64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
