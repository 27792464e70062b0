package preprocess

import "math"

// Geometry is the affine map from original image pixels to model input pixels that the spec
// applies to one image: input = image*Scale + Pad, per axis, in continuous pixel coordinates
// (the top-left corner of the image is 0,0 and a pixel spans one unit). Detection and
// segmentation tasks use it to bring boxes and maps from the model's input back to the image.
type Geometry struct {
	ImageW, ImageH int // the original image
	InputW, InputH int // the model input
	ScaleX, ScaleY float64
	PadX, PadY     float64
}

// ToImage maps a point from model input pixels to original image pixels.
func (g Geometry) ToImage(x, y float64) (float64, float64) {
	return (x - g.PadX) / g.ScaleX, (y - g.PadY) / g.ScaleY
}

// ToInput maps a point from original image pixels to model input pixels.
func (g Geometry) ToInput(x, y float64) (float64, float64) {
	return x*g.ScaleX + g.PadX, y*g.ScaleY + g.PadY
}

// Geometry returns the mapping the spec applies to an image of w x h pixels.
func (s Spec) Geometry(w, h int) Geometry {
	g := Geometry{ImageW: w, ImageH: h, InputW: s.Width, InputH: s.Height, ScaleX: 1, ScaleY: 1}
	if w <= 0 || h <= 0 {
		return g
	}
	switch {
	case s.Letterbox:
		r, _, _, left, top := letterboxFit(w, h, s.Width, s.Height)
		g.ScaleX, g.ScaleY = r, r
		g.PadX, g.PadY = float64(left), float64(top)
	case s.CropFraction > 0:
		fullW, fullH, offX, offY := s.cropGeometry(w, h)
		g.ScaleX, g.ScaleY = float64(fullW)/float64(w), float64(fullH)/float64(h)
		g.PadX, g.PadY = -float64(offX), -float64(offY)
	default:
		g.ScaleX, g.ScaleY = float64(s.Width)/float64(w), float64(s.Height)/float64(h)
	}
	return g
}

// letterboxFit is the YOLO letterbox: scale by r = min(W/w, H/h), round the scaled size, and
// centre it, splitting odd padding as Ultralytics does (round(d/2 - 0.1) before, the rest after).
func letterboxFit(w, h, W, H int) (r float64, nw, nh, left, top int) {
	r = math.Min(float64(W)/float64(w), float64(H)/float64(h))
	nw = min(max(int(math.Round(float64(w)*r)), 1), W)
	nh = min(max(int(math.Round(float64(h)*r)), 1), H)
	left = int(math.Round(float64(W-nw)/2 - 0.1))
	top = int(math.Round(float64(H-nh)/2 - 0.1))
	return r, nw, nh, max(left, 0), max(top, 0)
}

// letterbox resamples the image into its fitted rectangle and pads the rest of the plane.
func (s Spec) letterbox(pix []uint8, fpix []float32, w, h, srcC int, sc *Scratch, plane []float32) []float32 {
	_, nw, nh, left, top := letterboxFit(w, h, s.Width, s.Height)
	pad := float32(s.PadValue)
	for i := range plane {
		plane[i] = pad
	}
	cache := s.cache
	if cache == nil {
		cache = &tapsCache{}
	}
	tx := cache.get(tapsKey{filter: s.Filter, src: w, dst: nw, full: nw})
	ty := cache.get(tapsKey{filter: s.Filter, src: h, dst: nh, full: nh})
	inner := make([]float32, nw*nh*srcC)
	if fpix != nil {
		resample(fpix, w, srcC, tx, ty, inner, &sc.tmp)
	} else {
		resample(pix, w, srcC, tx, ty, inner, &sc.tmp)
	}
	c := s.Channels
	for y := 0; y < nh; y++ {
		row := plane[((top+y)*s.Width+left)*c:]
		src := inner[y*nw*srcC : (y+1)*nw*srcC]
		if srcC == c {
			copy(row[:nw*c], src)
			continue
		}
		for x := 0; x < nw; x++ { // gray source, colour model
			v := src[x]
			row[3*x], row[3*x+1], row[3*x+2] = v, v, v
		}
	}
	return plane
}
