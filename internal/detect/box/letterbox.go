package box

import (
	"fmt"
	"math"
)

// Letterbox describes how an image is fitted into a model input of Width x Height pixels.
//
// By default it keeps the aspect ratio: the image is scaled by r = min(Width/w, Height/h), its
// size rounded to whole pixels (half to even, as Python's round in YOLO's letterbox), and the
// rest of the input is filled with PadValue (YOLO exports expect 114), split evenly with the odd
// pixel on the right/bottom, or all on the right/bottom when TopLeft is set. Stretch resizes to
// the input size without keeping the aspect ratio and pads nothing.
type Letterbox struct {
	Width, Height int
	Stretch       bool
	TopLeft       bool
	// NoUpscale keeps images smaller than the input at their size (YOLO's scaleup=False).
	NoUpscale bool
	PadValue  uint8
}

// Geometry is where one original image of SrcW x SrcH pixels lands in the DstW x DstH input: it
// is resized to ResizedW x ResizedH and placed with its top-left corner at (Left, Top).
type Geometry struct {
	SrcW, SrcH         int
	DstW, DstH         int
	ResizedW, ResizedH int
	Left, Top          int
	PadValue           uint8
}

// Geometry computes the placement of an image of the given size.
func (l Letterbox) Geometry(srcW, srcH int) (Geometry, error) {
	if srcW <= 0 || srcH <= 0 {
		return Geometry{}, fmt.Errorf("letterbox image of %dx%d pixels: the size must be positive", srcW, srcH)
	}
	if l.Width <= 0 || l.Height <= 0 {
		return Geometry{}, fmt.Errorf("letterbox into %dx%d input: the input size must be positive", l.Width, l.Height)
	}
	g := Geometry{SrcW: srcW, SrcH: srcH, DstW: l.Width, DstH: l.Height, PadValue: l.PadValue}
	if l.Stretch {
		g.ResizedW, g.ResizedH = l.Width, l.Height
		return g, nil
	}
	r := math.Min(float64(l.Width)/float64(srcW), float64(l.Height)/float64(srcH))
	if l.NoUpscale && r > 1 {
		r = 1
	}
	g.ResizedW = clampInt(int(math.RoundToEven(float64(srcW)*r)), 1, l.Width)
	g.ResizedH = clampInt(int(math.RoundToEven(float64(srcH)*r)), 1, l.Height)
	if !l.TopLeft {
		g.Left = (l.Width - g.ResizedW) / 2
		g.Top = (l.Height - g.ResizedH) / 2
	}
	return g, nil
}

// ScaleX is the horizontal scale from original to input pixels. It is the scale of the resized
// image actually drawn (ResizedW/SrcW), not the unrounded ratio, so forward and inverse mappings
// agree with the pixels the model saw.
func (g Geometry) ScaleX() float64 { return float64(g.ResizedW) / float64(g.SrcW) }

// ScaleY is the vertical scale from original to input pixels.
func (g Geometry) ScaleY() float64 { return float64(g.ResizedH) / float64(g.SrcH) }

// Forward maps a box from original-image pixels to model-input pixels.
func (g Geometry) Forward(b Box) Box { return g.toInput().Apply(b) }

// Inverse maps a box from model-input pixels back to original-image pixels, clipped to the
// image (a detection in the padding collapses onto the image edge).
func (g Geometry) Inverse(b Box) Box {
	sx, sy := g.ScaleX(), g.ScaleY()
	r := Box{
		(b.X1 - float64(g.Left)) / sx, (b.Y1 - float64(g.Top)) / sy,
		(b.X2 - float64(g.Left)) / sx, (b.Y2 - float64(g.Top)) / sy,
	}
	return r.Clip(float64(g.SrcW), float64(g.SrcH))
}

// InverseAll maps detections back in place (see Inverse).
func (g Geometry) InverseAll(ds []Detection) {
	for i := range ds {
		ds[i].Box = g.Inverse(ds[i].Box)
	}
}

func (g Geometry) toInput() Map {
	return Map{SX: g.ScaleX(), TX: float64(g.Left), SY: g.ScaleY(), TY: float64(g.Top)}
}

func clampInt(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
