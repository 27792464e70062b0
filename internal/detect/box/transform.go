package box

import "math"

// Map is an axis-aligned affine map of image coordinates, x' = SX*x + TX and y' = SY*y + TY: the
// geometric transforms that keep boxes boxes (flips, shifts, scales, crops, resizes). Rotations
// are not Maps: a rotated box is no longer axis-aligned, and its bounding box would overstate the
// object, so box-aware checks must skip them.
type Map struct {
	SX, TX, SY, TY float64
}

// Identity is the map that changes nothing.
func Identity() Map { return Map{SX: 1, SY: 1} }

// HFlip mirrors an image of width w left to right.
func HFlip(w float64) Map { return Map{SX: -1, TX: w, SY: 1} }

// VFlip mirrors an image of height h top to bottom.
func VFlip(h float64) Map { return Map{SX: 1, SY: -1, TY: h} }

// Shift moves the content right by dx and down by dy pixels.
func Shift(dx, dy float64) Map { return Map{SX: 1, TX: dx, SY: 1, TY: dy} }

// ShiftFraction moves the content of a w x h image right and down by fractions of its size, as
// perturb's "shift:FX,FY" transform does.
func ShiftFraction(fx, fy, w, h float64) Map { return Shift(fx*w, fy*h) }

// ScaleCentre magnifies a w x h image by factor about its centre (factor > 1 zooms in), as
// perturb's "scale:FACTOR" transform does.
func ScaleCentre(factor, w, h float64) Map {
	return Map{SX: factor, TX: (1 - factor) * w / 2, SY: factor, TY: (1 - factor) * h / 2}
}

// Crop keeps the region whose top-left corner is (x0,y0): coordinates become relative to it.
// Clip the result to the crop's size (MoveObjects does).
func Crop(x0, y0 float64) Map { return Shift(-x0, -y0) }

// Resize scales coordinates by sx and sy (an image resized by those factors).
func Resize(sx, sy float64) Map { return Map{SX: sx, SY: sy} }

// Then is the map that applies m first and n second.
func (m Map) Then(n Map) Map {
	return Map{SX: n.SX * m.SX, TX: n.SX*m.TX + n.TX, SY: n.SY * m.SY, TY: n.SY*m.TY + n.TY}
}

// Apply maps a box; a mirroring map swaps the edges so that X1 <= X2 and Y1 <= Y2 stay ordered.
func (m Map) Apply(b Box) Box {
	x1, x2 := m.SX*b.X1+m.TX, m.SX*b.X2+m.TX
	y1, y2 := m.SY*b.Y1+m.TY, m.SY*b.Y2+m.TY
	if x1 > x2 {
		x1, x2 = x2, x1
	}
	if y1 > y2 {
		y1, y2 = y2, y1
	}
	return Box{x1, y1, x2, y2}
}

// MoveObjects maps ground-truth objects into a transformed image of w x h pixels: each box is
// mapped, clipped to the image, and dropped when less than minVisible of its mapped area stays
// inside (an object shifted out of view is no longer in the image; 0.5 is a common choice, 0 keeps
// every object that still overlaps the image). Area scales with the map and the visible share, so
// a COCO segment area stays proportional. kept[i] is the index in objs of moved[i].
func MoveObjects(objs []Object, m Map, w, h, minVisible float64) (moved []Object, kept []int) {
	scale := math.Abs(m.SX * m.SY)
	for i, o := range objs {
		b := m.Apply(o.Box)
		c := b.Clip(w, h)
		full, vis := b.Area(), c.Area()
		share := 1.0
		if full > 0 {
			share = vis / full
		}
		// A box wholly outside is gone at any minVisible; a degenerate box (a line or a point) has
		// no area to share, so it stays while it lies inside the image.
		outside := (full > 0 && vis == 0) || (full == 0 && c != b)
		if outside || share < minVisible {
			continue
		}
		o.Box = c
		o.Area *= scale * share
		moved = append(moved, o)
		kept = append(kept, i)
	}
	return moved, kept
}
