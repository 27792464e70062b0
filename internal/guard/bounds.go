package guard

import (
	"fmt"
	"math"
)

// Bound is the accepted range of one input property, learned from the reference images.
type Bound struct {
	Name string  `json:"name"`
	Lo   float64 `json:"lo"`
	Hi   float64 `json:"hi"`
	// Seen are the smallest and largest values on the reference images the bound was fitted to.
	SeenLo float64 `json:"seen_lo"`
	SeenHi float64 `json:"seen_hi"`
}

// Contains reports whether v is inside the bound.
func (b Bound) Contains(v float64) bool { return v >= b.Lo && v <= b.Hi }

// Describe says how v breaks the bound, e.g. "contrast 0.000 below 0.081".
func (b Bound) Describe(v float64) string {
	if v < b.Lo {
		return fmt.Sprintf("%s %.4g below %.4g", b.Name, v, b.Lo)
	}
	return fmt.Sprintf("%s %.4g above %.4g", b.Name, v, b.Hi)
}

// Margins of the learned bounds. The reference set's own range would reject a fresh clean image
// about 2/(n+1) of the time per property (the chance it is the new extreme); widening the range by
// a quarter of its width on each side makes that rare while staying far from what no reference
// image looks like (a blank frame has contrast 0; MNIST's lowest is about 0.2). Size and shape
// are multiplicative: an image twice as large per side is still an ordinary photo for a model
// that resizes, so the area may be 4 times off and the aspect ratio 25%.
const (
	rangeMargin  = 0.25
	areaFactor   = 4
	aspectFactor = 1.25
	// minWidth keeps a property that is constant on the reference set (gray images have colour
	// shares of exactly 1/3) from rejecting the same value after a different rounding.
	minWidth = 1e-6
)

// fitBound learns the bound of one property from its reference values.
func fitBound(name string, values []float64) (Bound, error) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Bound{}, fmt.Errorf("property %s is not finite on a reference image", name)
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	if len(values) == 0 {
		return Bound{}, fmt.Errorf("property %s: no reference values", name)
	}
	b := Bound{Name: name, SeenLo: lo, SeenHi: hi}
	switch name {
	case "area":
		b.Lo, b.Hi = lo/areaFactor, hi*areaFactor
	case "aspect_ratio":
		b.Lo, b.Hi = lo/aspectFactor, hi*aspectFactor
	default:
		w := rangeMargin * (hi - lo)
		w = max(w, minWidth)
		b.Lo, b.Hi = lo-w, hi+w
		if scaleLike[name] && lo > 0 {
			// A spread or an amount is never allowed below half the smallest reference value:
			// an additive margin on a wide range would otherwise reach zero and let a constant
			// frame (no contrast, no variance, no entropy) through.
			b.Lo = max(b.Lo, lo/2)
		}
	}
	return b, nil
}

// scaleLike are the non-negative properties whose lower bound is kept multiplicative.
var scaleLike = map[string]bool{"brightness": true, "contrast": true, "sharpness": true, "entropy": true, "tensor_variance": true}
