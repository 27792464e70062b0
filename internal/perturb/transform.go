package perturb

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/internal/imaging"
)

// TransformForms lists the spec forms ParseTransform accepts, for help texts and errors.
const TransformForms = "hflip, vflip, rotate:DEGREES, shift:DX,DY, scale:FACTOR, brightness:DELTA, contrast:FACTOR, gamma:GAMMA, hue:DEGREES"

// Transform is a deterministic geometric or photometric change used to test invariance. Build
// one with ParseTransform; the zero value is the identity.
//
// Geometry (rotate, shift, scale) resamples bilinearly about the image centre and replicates the
// border pixels into uncovered areas rather than filling them with a constant, so that the
// transform does not add black wedges that a model would see as new content. rotate is counter-
// clockwise in degrees as the image is displayed; shift moves the content right and down by
// fractions of the width and height; scale magnifies (factor > 1 zooms in). Photometry works on
// values in [0,1]: brightness adds DELTA, contrast scales about the image's mean luma, gamma maps
// x to x^GAMMA, and hue rotates the HSV hue by DEGREES (the identity on gray images). Results are
// rounded to 8 bits and clipped.
type Transform struct {
	kind transformKind
	a, b float64
}

type transformKind int

const (
	transformIdentity transformKind = iota
	transformHFlip
	transformVFlip
	transformRotate
	transformShift
	transformScale
	transformBrightness
	transformContrast
	transformGamma
	transformHue
)

var transformNames = map[string]transformKind{
	"hflip": transformHFlip, "vflip": transformVFlip, "rotate": transformRotate, "shift": transformShift,
	"scale": transformScale, "brightness": transformBrightness, "contrast": transformContrast,
	"gamma": transformGamma, "hue": transformHue,
}

// ParseTransform parses a spec such as "hflip", "rotate:-10", "shift:0.1,0" or "gamma:1.2".
func ParseTransform(spec string) (Transform, error) {
	fail := func(reason string) (Transform, error) {
		return Transform{}, fmt.Errorf("parse transform %q: %s (valid forms: %s)", spec, reason, TransformForms)
	}
	name, arg, hasArg := strings.Cut(strings.TrimSpace(spec), ":")
	kind, ok := transformNames[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return fail("unknown transform")
	}
	wantArgs := 1
	switch kind {
	case transformHFlip, transformVFlip:
		wantArgs = 0
	case transformShift:
		wantArgs = 2
	}
	if wantArgs == 0 {
		if hasArg {
			return fail("takes no argument")
		}
		return Transform{kind: kind}, nil
	}
	if !hasArg {
		return fail("needs an argument")
	}
	parts := strings.Split(arg, ",")
	if len(parts) != wantArgs {
		return fail(fmt.Sprintf("needs %d comma-separated numbers, got %d", wantArgs, len(parts)))
	}
	vals := make([]float64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fail(fmt.Sprintf("%q is not a finite number", strings.TrimSpace(p)))
		}
		vals[i] = v
	}
	t := Transform{kind: kind, a: vals[0]}
	if wantArgs == 2 {
		t.b = vals[1]
	}
	switch kind {
	case transformShift:
		if math.Abs(t.a) >= 1 || math.Abs(t.b) >= 1 {
			return fail("shift fractions must lie in (-1, 1)")
		}
	case transformScale:
		if t.a <= 0 {
			return fail("scale factor must be positive")
		}
	case transformContrast:
		if t.a < 0 {
			return fail("contrast factor must not be negative")
		}
	case transformGamma:
		if t.a <= 0 {
			return fail("gamma must be positive")
		}
	case transformBrightness:
		if math.Abs(t.a) > 1 {
			return fail("brightness delta must lie in [-1, 1]")
		}
	}
	return t, nil
}

// String returns the canonical spec, which ParseTransform accepts.
func (t Transform) String() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	switch t.kind {
	case transformHFlip:
		return "hflip"
	case transformVFlip:
		return "vflip"
	case transformRotate:
		return "rotate:" + f(t.a)
	case transformShift:
		return "shift:" + f(t.a) + "," + f(t.b)
	case transformScale:
		return "scale:" + f(t.a)
	case transformBrightness:
		return "brightness:" + f(t.a)
	case transformContrast:
		return "contrast:" + f(t.a)
	case transformGamma:
		return "gamma:" + f(t.a)
	case transformHue:
		return "hue:" + f(t.a)
	}
	return "identity"
}

// Apply writes the transformed src into dst, which takes src's shape and reuses its pixel memory
// when large enough. dst must not share memory with src.
func (t Transform) Apply(dst, src *imaging.Image) error {
	if err := src.Validate(); err != nil {
		return fmt.Errorf("apply transform %q: source: %w", t.String(), err)
	}
	if dst == nil {
		return fmt.Errorf("apply transform %q: nil destination", t.String())
	}
	if dst == src || (len(dst.Pix) > 0 && &dst.Pix[:1][0] == &src.Pix[:1][0]) {
		return fmt.Errorf("apply transform %q: destination shares memory with the source", t.String())
	}
	reshape(dst, src)
	w, h := float64(src.Width), float64(src.Height)
	cx, cy := (w-1)/2, (h-1)/2
	switch t.kind {
	case transformHFlip:
		flip(dst, src, true)
	case transformVFlip:
		flip(dst, src, false)
	case transformRotate:
		sin, cos := math.Sincos(t.a * math.Pi / 180)
		// Output offset (dx, dy) from the centre reads the source at the offset rotated back.
		warp(dst, src, [6]float64{cos, -sin, cx - cos*cx + sin*cy, sin, cos, cy - sin*cx - cos*cy})
	case transformShift:
		warp(dst, src, [6]float64{1, 0, -t.a * w, 0, 1, -t.b * h})
	case transformScale:
		k := 1 / t.a
		warp(dst, src, [6]float64{k, 0, cx - k*cx, 0, k, cy - k*cy})
	case transformBrightness:
		lut := func(v float64) float64 { return v + t.a }
		applyLUT(dst, src, lut)
	case transformContrast:
		mean := meanLuma(src)
		applyLUT(dst, src, func(v float64) float64 { return (v-mean)*t.a + mean })
	case transformGamma:
		applyLUT(dst, src, func(v float64) float64 { return math.Pow(v, t.a) })
	case transformHue:
		rotateHue(dst, src, t.a)
	default:
		copy(dst.Pix, src.Pix)
	}
	return nil
}

func flip(dst, src *imaging.Image, horizontal bool) {
	w, h, ch := src.Width, src.Height, src.Channels
	stride := w * ch
	for y := range h {
		if !horizontal {
			copy(dst.Pix[y*stride:(y+1)*stride], src.Pix[(h-1-y)*stride:(h-y)*stride])
			continue
		}
		for x := range w {
			copy(dst.Pix[y*stride+x*ch:y*stride+(x+1)*ch], src.Pix[y*stride+(w-1-x)*ch:y*stride+(w-x)*ch])
		}
	}
}

// warp resamples src bilinearly at the affine source position m of every output pixel
// (sx = m0*x + m1*y + m2, sy = m3*x + m4*y + m5), replicating the border.
func warp(dst, src *imaging.Image, m [6]float64) {
	w, h, ch := src.Width, src.Height, src.Channels
	for y := range h {
		for x := range w {
			fx, fy := float64(x), float64(y)
			sx := min(max(m[0]*fx+m[1]*fy+m[2], 0), float64(w-1))
			sy := min(max(m[3]*fx+m[4]*fy+m[5], 0), float64(h-1))
			x0, y0 := int(sx), int(sy)
			x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
			ax, ay := sx-float64(x0), sy-float64(y0)
			o := (y*w + x) * ch
			for k := range ch {
				p00 := float64(src.Pix[(y0*w+x0)*ch+k])
				p01 := float64(src.Pix[(y0*w+x1)*ch+k])
				p10 := float64(src.Pix[(y1*w+x0)*ch+k])
				p11 := float64(src.Pix[(y1*w+x1)*ch+k])
				top := p00 + ax*(p01-p00)
				bot := p10 + ax*(p11-p10)
				dst.Pix[o+k] = byteRound(float32(top + ay*(bot-top)))
			}
		}
	}
}

// applyLUT maps every value through f on [0,1] (with clipping and rounding).
func applyLUT(dst, src *imaging.Image, f func(float64) float64) {
	var lut [256]uint8
	for v := range lut {
		lut[v] = byteRound(float32(f(float64(v)/255) * 255))
	}
	for i, v := range src.Pix {
		dst.Pix[i] = lut[v]
	}
}

// meanLuma is the mean BT.601 luma of an image (its plain mean when gray), in [0,1].
func meanLuma(m *imaging.Image) float64 {
	var sum float64
	if m.Channels == 1 {
		for _, v := range m.Pix {
			sum += float64(v)
		}
		return sum / float64(len(m.Pix)) / 255
	}
	for i := 0; i+2 < len(m.Pix); i += 3 {
		sum += lumaR*float64(m.Pix[i]) + lumaG*float64(m.Pix[i+1]) + lumaB*float64(m.Pix[i+2])
	}
	return sum / float64(len(m.Pix)/3) / 255
}

// rotateHue turns the HSV hue of every pixel by degrees; gray images and gray pixels are unchanged.
func rotateHue(dst, src *imaging.Image, degrees float64) {
	if src.Channels == 1 {
		copy(dst.Pix, src.Pix)
		return
	}
	shift := math.Mod(degrees/60, 6)
	if shift < 0 {
		shift += 6
	}
	for i := 0; i+2 < len(src.Pix); i += 3 {
		r, g, b := float64(src.Pix[i]), float64(src.Pix[i+1]), float64(src.Pix[i+2])
		v, lo := max(r, g, b), min(r, g, b)
		if v == lo {
			dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2] = src.Pix[i], src.Pix[i+1], src.Pix[i+2]
			continue
		}
		d := v - lo
		var hue float64 // in sextants, 0..6
		switch v {
		case r:
			hue = (g - b) / d
		case g:
			hue = 2 + (b-r)/d
		default:
			hue = 4 + (r-g)/d
		}
		hue = math.Mod(hue+shift+6, 6)
		nr, ng, nb := hsvSextant(hue, v, lo)
		dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2] = byteRound(float32(nr)), byteRound(float32(ng)), byteRound(float32(nb))
	}
}

// hsvSextant converts a hue in sextants [0,6) with the given max and min channel back to RGB.
func hsvSextant(hue, v, lo float64) (r, g, b float64) {
	sector := int(hue)
	f := hue - float64(sector)
	d := v - lo
	rising, falling := lo+d*f, v-d*f
	switch sector {
	case 0:
		return v, rising, lo
	case 1:
		return falling, v, lo
	case 2:
		return lo, v, rising
	case 3:
		return lo, falling, v
	case 4:
		return rising, lo, v
	default:
		return v, lo, falling
	}
}
