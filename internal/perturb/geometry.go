package perturb

import "math"

// Geometric reports whether the transform moves pixels (flips, rotations, shifts, scaling), so
// that ground truth tied to positions (boxes, masks) must move with it.
func (t Transform) Geometric() bool {
	switch t.kind {
	case transformHFlip, transformVFlip, transformRotate, transformShift, transformScale:
		return true
	}
	return false
}

// Forward returns the affine map from source to transformed pixel coordinates that Apply
// realises on an image of w x h pixels, in continuous coordinates (pixel (i,j) covers
// [i,i+1]x[j,j+1]): x' = m0*x + m1*y + m2, y' = m3*x + m4*y + m5. Photometric transforms map
// every point to itself. Boxes and masks move with an image by this map.
func (t Transform) Forward(w, h int) [6]float64 {
	fw, fh := float64(w), float64(h)
	// Apply works on pixel centres about (w-1)/2, (h-1)/2; in continuous coordinates the centre
	// of the image is (w/2, h/2) and pixel centres sit at i+0.5, so the maps below are Apply's
	// with that half-pixel change of origin.
	cx, cy := fw/2, fh/2
	switch t.kind {
	case transformHFlip:
		return [6]float64{-1, 0, fw, 0, 1, 0}
	case transformVFlip:
		return [6]float64{1, 0, 0, 0, -1, fh}
	case transformRotate:
		// Apply reads the source at the output offset rotated back by the angle (its matrix
		// [cos -sin; sin cos] maps output to source), so the forward map is the transpose.
		sin, cos := math.Sincos(t.a * math.Pi / 180)
		return [6]float64{cos, sin, cx - cos*cx - sin*cy, -sin, cos, cy + sin*cx - cos*cy}
	case transformShift:
		return [6]float64{1, 0, t.a * fw, 0, 1, t.b * fh}
	case transformScale:
		k := t.a
		return [6]float64{k, 0, cx - k*cx, 0, k, cy - k*cy}
	}
	return [6]float64{1, 0, 0, 0, 1, 0}
}

// Uncovered reports whether Apply fills the transformed image at continuous position (x, y) by
// replicating the border rather than from the source image (content shifted or rotated in from
// outside): masks mark such pixels as ignored instead of inventing labels there.
func (t Transform) Uncovered(x, y float64, w, h int) bool {
	if !t.Geometric() {
		return false
	}
	m := t.Forward(w, h)
	// Invert the forward map: it is a similarity or a flip, so its 2x2 part is invertible.
	det := m[0]*m[4] - m[1]*m[3]
	if det == 0 {
		return true
	}
	dx, dy := x-m[2], y-m[5]
	sx := (m[4]*dx - m[1]*dy) / det
	sy := (-m[3]*dx + m[0]*dy) / det
	return sx < 0 || sy < 0 || sx > float64(w) || sy > float64(h)
}
