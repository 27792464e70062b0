package decode

import (
	"fmt"
	"math"
)

// Geometry says where an image (and so its label map, W x H) lies inside the model input
// (InW x InH): the image was resized to cover [X0, X0+CW) x [Y0, Y0+CH) of the input, in input
// pixels. A model's output map covers the whole input at its own resolution, so a label pixel's
// centre x+0.5 sits at input position X0 + (x+0.5)*CW/W and at output position that times
// outW/InW. Build one with Stretch or Letterbox, or fill it from another preprocessing.
type Geometry struct {
	W, H           int
	InW, InH       int
	X0, Y0, CW, CH float64
}

// Stretch is the geometry of a plain resize of the image to the input size (aspect not kept).
func Stretch(w, h, inW, inH int) Geometry {
	return Geometry{W: w, H: h, InW: inW, InH: inH, CW: float64(inW), CH: float64(inH)}
}

// Letterbox is the geometry of a resize that keeps the aspect ratio, scale s = min(inW/w, inH/h),
// to round(w*s) x round(h*s) pixels, padded to the input size. center puts the image in the
// middle (the pad on the left and top is floor of half the slack, as YOLO's letterbox does for
// every integer slack); otherwise at the top left.
func Letterbox(w, h, inW, inH int, center bool) Geometry {
	s := math.Min(float64(inW)/float64(w), float64(inH)/float64(h))
	nw := math.Max(1, math.Round(float64(w)*s))
	nh := math.Max(1, math.Round(float64(h)*s))
	g := Geometry{W: w, H: h, InW: inW, InH: inH, CW: nw, CH: nh}
	if center {
		g.X0 = math.Floor((float64(inW) - nw) / 2)
		g.Y0 = math.Floor((float64(inH) - nh) / 2)
	}
	return g
}

// Validate refuses geometries that leave part of the image outside the input (a center crop):
// those label pixels would have no prediction, and inventing one would score what the model never
// saw.
func (g Geometry) Validate() error {
	if g.W <= 0 || g.H <= 0 || g.InW <= 0 || g.InH <= 0 || !(g.CW > 0) || !(g.CH > 0) {
		return fmt.Errorf("geometry %+v: sizes must be positive", g)
	}
	const eps = 1e-6
	if g.X0 < -eps || g.Y0 < -eps || g.X0+g.CW > float64(g.InW)+eps || g.Y0+g.CH > float64(g.InH)+eps {
		return fmt.Errorf("the %dx%d image covers [%g,%g)x[%g,%g) of the %dx%d model input, so part of it is cut off (center crop?): segmentation scores every label pixel, so preprocess with a stretch or letterbox fit",
			g.W, g.H, g.X0, g.X0+g.CW, g.Y0, g.Y0+g.CH, g.InW, g.InH)
	}
	return nil
}

// identity reports whether the output (outW x outH) samples the label pixels one to one.
func (g Geometry) identity(outW, outH int) bool {
	return outW == g.W && outH == g.H && g.X0 == 0 && g.Y0 == 0 &&
		g.CW == float64(g.InW) && g.CH == float64(g.InH)
}

// axis is one axis of a geometry: label length n, output length out, and the affine map from
// label pixel centres to output coordinates: pos(x) = (x+0.5)*scale + offset (in output pixels,
// centres at u+0.5).
type axis struct {
	n, out        int
	scale, offset float64
}

func (g Geometry) axes(outW, outH int) (axis, axis) {
	ax := axis{n: g.W, out: outW, scale: g.CW / float64(g.W) * float64(outW) / float64(g.InW), offset: g.X0 * float64(outW) / float64(g.InW)}
	ay := axis{n: g.H, out: outH, scale: g.CH / float64(g.H) * float64(outH) / float64(g.InH), offset: g.Y0 * float64(outH) / float64(g.InH)}
	return ax, ay
}

// taps are the per-label-pixel sampling positions along one axis: linear interpolation between
// output pixels lo and hi with weight w on hi (align_corners=False, as torch's interpolate and so
// mmsegmentation's resize of logits), and the nearest output pixel.
type taps struct {
	key     axis
	lo, hi  []int32
	w       []float32
	nearest []int32
	// identity: label pixel i samples output pixel i exactly (lo == i, w == 0).
	identity bool
}

func (t *taps) compute(a axis) {
	if t.key == a && len(t.lo) == a.n {
		return
	}
	t.key = a
	t.lo, t.hi, t.w, t.nearest = resize32(t.lo, a.n), resize32(t.hi, a.n), resizeF(t.w, a.n), resize32(t.nearest, a.n)
	// Sampling stays inside the output pixels whose centres lie on the image, so that a
	// letterbox's padding never bleeds into the border of the label (the padding is cropped off
	// before resizing, as letterboxing toolkits do with mask outputs). For a stretch this is the
	// whole output, and the formula is torch's.
	first := max(int(math.Ceil(a.offset-0.5)), 0)
	last := min(int(math.Floor(a.offset+float64(a.n)*a.scale-0.5)), a.out-1)
	if first > last { // the image is thinner than one output pixel
		first = min(max(int(math.Floor(a.offset+float64(a.n)*a.scale/2)), 0), a.out-1)
		last = first
	}
	t.identity = a.n == a.out
	for i := 0; i < a.n; i++ {
		pos := (float64(i)+0.5)*a.scale + a.offset
		// Nearest: the output pixel whose extent holds the label pixel's centre (nearest-exact).
		t.nearest[i] = int32(min(max(int(math.Floor(pos)), first), last))
		s := min(max(pos-0.5, float64(first)), float64(last)) // torch clamps negative positions to 0
		lo := min(int(s), last)
		hi := min(lo+1, last)
		t.lo[i], t.hi[i] = int32(lo), int32(hi)
		t.w[i] = float32(s - float64(lo))
		if lo == last {
			t.w[i] = 0
		}
		if lo != i || t.w[i] != 0 {
			t.identity = false
		}
	}
}

func resize32(s []int32, n int) []int32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]int32, n)
}

func resizeF(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float32, n)
}
