// Package masktf moves a label map with a geometric image transform, so that invariance checks
// compare a prediction on the transformed image with the transformed ground truth (or the
// transformed prediction on the original image).
//
// Apply takes the same perturb.Transform that moved the image and uses its geometry exactly: the
// affine map of perturb's warp (about the centre (w-1)/2, (h-1)/2), sampled at the nearest source
// pixel instead of bilinearly (class indices cannot be blended). Where the image transform had no
// source pixel and replicated the border, the label is unknown and becomes the ignore index.
package masktf

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/internal/perturb"
	"github.com/cvgate/cvgate/internal/segment"
)

// Apply writes src moved by t into dst (reusing its memory). Flips are exact; rotate, shift and
// scale map each output pixel to the source position perturb's warp reads and take the nearest
// pixel (round half up), or ignore when that position is more than half a pixel outside the map;
// photometric transforms leave the map as it is.
func Apply(t perturb.Transform, dst *segment.LabelMap, src segment.LabelMap, ignore uint16) error {
	if err := src.Validate(); err != nil {
		return fmt.Errorf("transform label map by %q: %w", t.String(), err)
	}
	if dst == nil {
		return fmt.Errorf("transform label map by %q: nil destination", t.String())
	}
	if len(dst.Pix) > 0 && len(src.Pix) > 0 && &dst.Pix[:1][0] == &src.Pix[:1][0] {
		return fmt.Errorf("transform label map by %q: destination shares memory with the source", t.String())
	}
	w, h := src.W, src.H
	dst.Reshape(w, h)
	// The transform's parameters are unexported; its canonical spec carries them exactly
	// (strconv's shortest round-trip form), so parse that.
	name, arg, _ := strings.Cut(t.String(), ":")
	args, err := parseArgs(arg)
	if err != nil {
		return fmt.Errorf("transform label map by %q: %w", t.String(), err)
	}
	fw, fh := float64(w), float64(h)
	cx, cy := (fw-1)/2, (fh-1)/2
	switch name {
	case "hflip":
		for y := 0; y < h; y++ {
			row, out := src.Pix[y*w:(y+1)*w], dst.Pix[y*w:(y+1)*w]
			for x := range out {
				out[x] = row[w-1-x]
			}
		}
	case "vflip":
		for y := 0; y < h; y++ {
			copy(dst.Pix[y*w:(y+1)*w], src.Pix[(h-1-y)*w:(h-y)*w])
		}
	case "rotate":
		if len(args) != 1 {
			return fmt.Errorf("transform label map by %q: want one angle", t.String())
		}
		sin, cos := math.Sincos(args[0] * math.Pi / 180)
		warp(dst, src, [6]float64{cos, -sin, cx - cos*cx + sin*cy, sin, cos, cy - sin*cx - cos*cy}, ignore)
	case "shift":
		if len(args) != 2 {
			return fmt.Errorf("transform label map by %q: want two fractions", t.String())
		}
		warp(dst, src, [6]float64{1, 0, -args[0] * fw, 0, 1, -args[1] * fh}, ignore)
	case "scale":
		if len(args) != 1 {
			return fmt.Errorf("transform label map by %q: want one factor", t.String())
		}
		k := 1 / args[0]
		warp(dst, src, [6]float64{k, 0, cx - k*cx, 0, k, cy - k*cy}, ignore)
	default:
		// Photometric (brightness, contrast, gamma, hue) and the identity: labels do not move.
		copy(dst.Pix, src.Pix)
	}
	return nil
}

func parseArgs(arg string) ([]float64, error) {
	if arg == "" {
		return nil, nil
	}
	var out []float64
	for _, p := range strings.Split(arg, ",") {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return nil, fmt.Errorf("parse argument %q: %w", p, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// warp samples src at the affine source position m of every output pixel (sx = m0*x + m1*y + m2,
// sy = m3*x + m4*y + m5), the same expression perturb's warp evaluates. Inside the map the
// position is at least -0.5, so int(s+0.5) is floor(s+0.5).
func warp(dst *segment.LabelMap, src segment.LabelMap, m [6]float64, ignore uint16) {
	w, h := src.W, src.H
	fw, fh := float64(w), float64(h)
	inside := func(s, n float64) bool { return s >= -0.5 && s < n-0.5 }
	if m[1] == 0 && m[3] == 0 {
		// Shift and scale are separable: the source column depends on x only, the row on y only.
		xs := make([]int, w)
		for x := range xs {
			sx := m[0]*float64(x) + m[2] // m[1]*y is 0: the same value as the full expression
			xs[x] = -1
			if inside(sx, fw) {
				xs[x] = min(int(sx+0.5), w-1)
			}
		}
		for y := 0; y < h; y++ {
			out := dst.Pix[y*w : (y+1)*w]
			sy := m[4]*float64(y) + m[5]
			if !inside(sy, fh) {
				for x := range out {
					out[x] = ignore
				}
				continue
			}
			row := src.Pix[min(int(sy+0.5), h-1)*w:][:w]
			for x, ix := range xs {
				if ix < 0 {
					out[x] = ignore
				} else {
					out[x] = row[ix]
				}
			}
		}
		return
	}
	for y := 0; y < h; y++ {
		out := dst.Pix[y*w : (y+1)*w]
		fy := float64(y)
		for x := range out {
			fx := float64(x)
			sx := m[0]*fx + m[1]*fy + m[2]
			sy := m[3]*fx + m[4]*fy + m[5]
			if !inside(sx, fw) || !inside(sy, fh) {
				out[x] = ignore
				continue
			}
			out[x] = src.Pix[min(int(sy+0.5), h-1)*w+min(int(sx+0.5), w-1)]
		}
	}
}

// Crop returns the w x h window of src at (x0, y0), which must lie inside src: the label map of an
// image cropped the same way.
func Crop(src segment.LabelMap, x0, y0, w, h int) (segment.LabelMap, error) {
	if err := src.Validate(); err != nil {
		return segment.LabelMap{}, fmt.Errorf("crop label map: %w", err)
	}
	if w <= 0 || h <= 0 || x0 < 0 || y0 < 0 || x0+w > src.W || y0+h > src.H {
		return segment.LabelMap{}, fmt.Errorf("crop label map: window %dx%d at (%d,%d) does not lie inside the %s map", w, h, x0, y0, src.SizeString())
	}
	out := segment.NewLabelMap(w, h)
	for y := 0; y < h; y++ {
		copy(out.Pix[y*w:(y+1)*w], src.Pix[(y0+y)*src.W+x0:(y0+y)*src.W+x0+w])
	}
	return out, nil
}

// Resize returns src resized to w x h by nearest neighbour, output pixel i reading source pixel
// floor((i+0.5) * src/out): the sampling of preprocess's nearest filter, so a label map follows
// an image resized with it.
func Resize(src segment.LabelMap, w, h int) (segment.LabelMap, error) {
	if err := src.Validate(); err != nil {
		return segment.LabelMap{}, fmt.Errorf("resize label map: %w", err)
	}
	if w <= 0 || h <= 0 {
		return segment.LabelMap{}, fmt.Errorf("resize label map to %dx%d: sizes must be positive", w, h)
	}
	out := segment.NewLabelMap(w, h)
	xs := make([]int, w)
	for x := range xs {
		xs[x] = min(int(math.Floor((float64(x)+0.5)*float64(src.W)/float64(w))), src.W-1)
	}
	for y := 0; y < h; y++ {
		sy := min(int(math.Floor((float64(y)+0.5)*float64(src.H)/float64(h))), src.H-1)
		row, o := src.Pix[sy*src.W:(sy+1)*src.W], out.Pix[y*w:(y+1)*w]
		for x := range o {
			o[x] = row[xs[x]]
		}
	}
	return out, nil
}
