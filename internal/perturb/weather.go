package perturb

import (
	"math"

	"github.com/cvgate/cvgate/internal/imaging"
)

// snowParams are the reference's snow tuples: the flake layer is N(loc, scale) noise magnified by
// zoom (pixels at 224 px, so flake size), zeroed below threshold, streaked by a motion blur of
// radius and sigma (pixels at 224 px) at an angle in [-135, -45] degrees (falling snow), and
// added twice (once rotated by 180 degrees) to the image, itself first whitened by blending
// with max(x, 1.5*gray+0.5) at weight 1-blend.
var snowParams = [Severities]struct {
	loc, scale, zoom, threshold, radius, sigma, blend float64
}{
	{0.1, 0.3, 3, 0.5, 10, 4, 0.8},
	{0.2, 0.3, 2, 0.5, 12, 4, 0.7},
	{0.55, 0.3, 4, 0.9, 12, 8, 0.7},
	{0.55, 0.3, 4.5, 0.85, 12, 8, 0.65},
	{0.55, 0.3, 2.5, 0.85, 12, 12, 0.55},
}

// fogParams: fog strength and the plasma fractal's wibble decay.
var fogParams = [Severities]struct{ strength, decay float64 }{
	{1.5, 2}, {2, 2}, {2.5, 1.7}, {2.5, 1.5}, {3, 1.4},
}

// brightnessDelta is added to V in HSV.
var brightnessDelta = [Severities]float64{.1, .2, .3, .4, .5}

func (c *Corruptor) snowSeverity(dst, src *imaging.Image, sev int) {
	p := snowParams[sev]
	s := sizeScale(src.Width, src.Height)
	c.snow(dst, src, p.loc, p.scale, max(p.zoom*s, 1), p.threshold, float64(roundAtLeast1(p.radius*s)), p.sigma*s, p.blend)
}

// snow draws the flake layer from noise on the centre crop that the magnification keeps (the
// reference draws the whole image and discards the rest), magnifies it bilinearly, thresholds,
// streaks it with motionBlur, and composites as the reference does.
func (c *Corruptor) snow(dst, src *imaging.Image, loc, scale, zoom, threshold, radius, sigma, blend float64) {
	w, h, ch := src.Width, src.Height, src.Channels
	gw, gh := int(math.Ceil(float64(w)/zoom))+1, int(math.Ceil(float64(h)/zoom))+1
	grid := c.buf(2, gw*gh)
	c.fillNormal(grid, float32(loc), float32(scale))
	angle := c.uniform(-135, -45)

	layer := c.buf(1, w*h)
	xi, xf := c.axisMap(w, gw, zoom)
	gcy, cy := float64(gh-1)/2, float64(h-1)/2
	thr := float32(threshold)
	for y := range h {
		gy := gcy + (float64(y)-cy)/zoom
		y0 := min(max(int(math.Floor(gy)), 0), gh-2)
		fy := float32(min(max(gy-float64(y0), 0), 1))
		r0, r1 := grid[y0*gw:(y0+1)*gw], grid[(y0+1)*gw:(y0+2)*gw]
		out := layer[y*w : (y+1)*w]
		for x := range w {
			i, f := xi[x], xf[x]
			top := r0[i] + f*(r0[i+1]-r0[i])
			bot := r1[i] + f*(r1[i+1]-r1[i])
			v := top + fy*(bot-top)
			if v < thr {
				v = 0
			}
			out[x] = min(v, 1)
		}
	}
	streaks := c.buf(0, w*h)
	c.motionBlur(streaks, layer, w, h, 1, radius, sigma, angle)

	b := float32(blend)
	for y := range h {
		for x := range w {
			flake := streaks[y*w+x] + streaks[(h-1-y)*w+(w-1-x)]
			o := (y*w + x) * ch
			if ch == 1 {
				v := imaging.ByteToUnit(src.Pix[o])
				v = b*v + (1-b)*max(v, 1.5*v+0.5)
				dst.Pix[o] = unitByte(v + flake)
				continue
			}
			r, g, bl := imaging.ByteToUnit(src.Pix[o]), imaging.ByteToUnit(src.Pix[o+1]), imaging.ByteToUnit(src.Pix[o+2])
			white := (lumaR*r+lumaG*g+lumaB*bl)*1.5 + 0.5
			dst.Pix[o] = unitByte(b*r + (1-b)*max(r, white) + flake)
			dst.Pix[o+1] = unitByte(b*g + (1-b)*max(g, white) + flake)
			dst.Pix[o+2] = unitByte(b*bl + (1-b)*max(bl, white) + flake)
		}
	}
}

// axisMap returns, for each of n output positions, the left source index in a grid of m cells and
// the interpolation weight, for a magnification by zoom about the centres of both. The index is
// kept in 0..m-2, so m must be at least 2.
func (c *Corruptor) axisMap(n, m int, zoom float64) ([]int32, []float32) {
	if cap(c.ints) < n {
		c.ints = make([]int32, n)
	}
	idx := c.ints[:n]
	frac := c.buf(3, n)
	gc, oc := float64(m-1)/2, float64(n-1)/2
	for i := range n {
		g := gc + (float64(i)-oc)/zoom
		i0 := min(max(int(math.Floor(g)), 0), m-2)
		idx[i] = int32(i0)
		frac[i] = float32(min(max(g-float64(i0), 0), 1))
	}
	return idx, frac
}

func (c *Corruptor) fogSeverity(dst, src *imaging.Image, sev int) {
	p := fogParams[sev]
	c.fog(dst, src, p.strength, p.decay)
}

// fog adds a plasma fractal as large as the image (next power of two, cropped at the top left
// as the reference crops its 256 px map to 224) and rescales so that the brightest input value
// keeps its place: (x + strength*fog) * max / (max + strength). strength 0 is the identity.
func (c *Corruptor) fog(dst, src *imaging.Image, strength, decay float64) {
	w, h, ch := src.Width, src.Height, src.Channels
	size := 2
	for size < max(w, h) {
		size *= 2
	}
	plasma := c.buf(0, size*size)
	c.plasmaFractal(plasma, size, decay)
	var top uint8
	for _, v := range src.Pix {
		top = max(top, v)
	}
	peak := float64(top) / 255
	scale := float32(1) // a black image with no fog stays black
	if peak+strength > 0 {
		scale = float32(peak / (peak + strength))
	}
	st := float32(strength)
	for y := range h {
		fogRow := plasma[y*size : y*size+w]
		row := src.Pix[y*w*ch : (y+1)*w*ch]
		out := dst.Pix[y*w*ch : (y+1)*w*ch]
		for x, f := range fogRow {
			add := st * f
			for k := range ch {
				out[x*ch+k] = unitByte((imaging.ByteToUnit(row[x*ch+k]) + add) * scale)
			}
		}
	}
}

// plasmaFractal fills m (size*size, size a power of two) with the reference's diamond-square
// fractal on a torus, normalized to [0,1]. Like the reference, the random offset of each level is
// wibble*U(-wibble, wibble) (so its amplitude falls as wibble²) with wibble starting at 100 and
// divided by decay per level.
func (c *Corruptor) plasmaFractal(m []float32, size int, decay float64) {
	at := func(y, x int) int { return (y&(size-1))*size + (x & (size - 1)) }
	m[0] = 0
	wibble := float32(100)
	for step := size; step >= 2; step /= 2 {
		half := step / 2
		amp := 2 * wibble * wibble
		off := -wibble * wibble
		rnd := func() float32 { return off + amp*unit(uint32(c.rng.Uint64())) }
		for y := 0; y < size; y += step {
			for x := 0; x < size; x += step {
				sum := m[at(y, x)] + m[at(y+step, x)] + m[at(y, x+step)] + m[at(y+step, x+step)]
				m[at(y+half, x+half)] = sum/4 + rnd()
			}
		}
		for y := 0; y < size; y += step {
			for x := 0; x < size; x += step {
				sum := m[at(y+half, x+half)] + m[at(y-half, x+half)] + m[at(y, x)] + m[at(y, x+step)]
				m[at(y, x+half)] = sum/4 + rnd()
			}
		}
		for y := 0; y < size; y += step {
			for x := 0; x < size; x += step {
				sum := m[at(y+half, x+half)] + m[at(y+half, x-half)] + m[at(y, x)] + m[at(y+step, x)]
				m[at(y+half, x)] = sum/4 + rnd()
			}
		}
		wibble /= float32(decay)
	}
	lo, hi := m[0], m[0]
	for _, v := range m {
		lo, hi = min(lo, v), max(hi, v)
	}
	inv := float32(0)
	if hi > lo {
		inv = 1 / (hi - lo)
	}
	for i, v := range m {
		m[i] = (v - lo) * inv
	}
}

func (c *Corruptor) brightnessSeverity(dst, src *imaging.Image, sev int) {
	brightness(dst, src, brightnessDelta[sev])
}

// brightness adds delta to V in HSV, clipped to [0,1]. With hue and saturation fixed, that scales
// the pixel by V'/V; black pixels (V=0, no hue) become gray delta. On gray images it is x+delta.
func brightness(dst, src *imaging.Image, delta float64) {
	var factor [256]float32
	for v := 1; v < 256; v++ {
		factor[v] = float32(min(float64(v)/255+delta, 1) * 255 / float64(v))
	}
	black := byteRound(float32(min(max(delta, 0), 1) * 255))
	if src.Channels == 1 {
		var lut [256]uint8
		for v := range lut {
			lut[v] = byteRound(float32(min(float64(v)/255+delta, 1) * 255))
		}
		for i, v := range src.Pix {
			dst.Pix[i] = lut[v]
		}
		return
	}
	for i := 0; i+2 < len(src.Pix); i += 3 {
		r, g, b := src.Pix[i], src.Pix[i+1], src.Pix[i+2]
		v := max(r, g, b)
		if v == 0 {
			dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2] = black, black, black
			continue
		}
		f := factor[v]
		dst.Pix[i] = byteRound(float32(r) * f)
		dst.Pix[i+1] = byteRound(float32(g) * f)
		dst.Pix[i+2] = byteRound(float32(b) * f)
	}
}
