package perturb

import (
	"math"

	"github.com/cvgate/cvgate/internal/imaging"
)

// spatterParams are the reference's tuples: N(loc, scale) noise smoothed by sigma (pixels at 224
// px), zeroed below threshold; then water (droplets of pale turquoise whose peak brightness is
// intensity) or mud (the wet mask smoothed by intensity as a sigma, kept where >= 0.8, painted
// mud brown).
var spatterParams = [Severities]struct {
	loc, scale, sigma, threshold, intensity float64
	mud                                     bool
}{
	{.65, .3, 4, .69, .6, false},
	{.65, .3, 3, .68, .6, false},
	{.65, .3, 2, .68, .5, false},
	{.65, .3, 1, .65, 1.5, true},
	{.67, .4, 1, .65, 1.5, true},
}

// spatterDistCap is the reference's cap on the distance to a droplet's rim, in pixels at 224 px.
const spatterDistCap = 20

func (c *Corruptor) spatterSeverity(dst, src *imaging.Image, sev int) {
	p := spatterParams[sev]
	s := sizeScale(src.Width, src.Height)
	c.spatter(dst, src, p.loc, p.scale, p.sigma, s, p.threshold, p.intensity, p.mud)
}

// spatter splashes water or mud on the lens. The liquid layer is smoothed normal noise; its
// spread is set to what the reference's smoothing gives at 224 px (scale/(2*sqrt(pi)*sigma)), so
// that the share of the image above the threshold does not depend on the image size.
//
// Mud: as the reference, the wet mask is smoothed by a Gaussian whose sigma is intensity (pixels
// at 224 px, so times s), kept where >= 0.8, and replaces the image with mud brown (63, 42, 20)
// in that proportion. Water: the droplets are drawn at 224 px scale, on a grid of the image's
// size divided by s, with the reference's parameters and pixel operators as they are (see
// waterShade), and the shade is then resampled to the image by area; normalized to a peak of
// intensity, it adds pale turquoise (175, 238, 238). s is the size scale.
func (c *Corruptor) spatter(dst, src *imaging.Image, loc, scale, sigma224, s, threshold, intensity float64, mud bool) {
	w, h, ch := src.Width, src.Height, src.Channels
	if !mud {
		c.water(dst, src, loc, scale, sigma224, s, threshold, intensity)
		return
	}
	layer := c.liquidLayer(w, h, loc, scale, sigma224, sigma224*s, threshold)
	mask := c.buf(1, w*h)
	thr := float32(threshold)
	for i, v := range layer {
		mask[i] = 0
		if v > thr {
			mask[i] = 1
		}
	}
	c.gaussianBlur(mask, w, h, 1, intensity*s)
	brown := colourFor(ch, 63./255, 42./255, 20./255)
	for i, m := range mask {
		if m < 0.8 {
			m = 0
		}
		for k := range ch {
			x := imaging.ByteToUnit(src.Pix[i*ch+k])
			dst.Pix[i*ch+k] = unitByte(x*(1-m) + m*brown[k])
		}
	}
}

// liquidLayer draws a w x h layer of normal noise smoothed by sigma px, rescaled to mean loc and
// the spread the reference's smoothing by sigma224 gives, and zeroed below threshold (buffer 0).
func (c *Corruptor) liquidLayer(w, h int, loc, scale, sigma224, sigma, threshold float64) []float32 {
	layer := c.buf(0, w*h)
	c.fillNormal(layer, 0, 1)
	c.gaussianBlur(layer, w, h, 1, sigma)
	var sum, sq float64
	for _, v := range layer {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(layer))
	mean := sum / n
	std := math.Sqrt(max(sq/n-mean*mean, 1e-12))
	spread := scale / (2 * math.Sqrt(math.Pi) * sigma224)
	gain, bias := float32(spread/std), float32(loc-mean*spread/std)
	thr := float32(threshold)
	for i, v := range layer {
		v = v*gain + bias
		if v < thr {
			v = 0
		}
		layer[i] = v
	}
	return layer
}

// water is spatter's water mode; see spatter.
func (c *Corruptor) water(dst, src *imaging.Image, loc, scale, sigma224, s, threshold, intensity float64) {
	w, h, ch := src.Width, src.Height, src.Channels
	// The 224 px grid: the image's size over s (the image itself when s is 1).
	vw, vh := max(int(math.Ceil(float64(w)/s-1e-9)), 1), max(int(math.Ceil(float64(h)/s-1e-9)), 1)
	layer := c.liquidLayer(vw, vh, loc, scale, sigma224, sigma224, threshold)
	shade := c.buf(1, vw*vh)
	c.waterShade(shade, layer, vw, vh, spatterDistCap)
	var peak float32
	for _, m := range shade {
		peak = max(peak, m)
	}
	gain := float32(0)
	if peak > 0 {
		gain = float32(intensity) / peak
	}
	colour := colourFor(ch, 175./255, 238./255, 238./255)
	blend := func(o int, m float32) {
		m *= gain
		for k := range ch {
			dst.Pix[o+k] = unitByte(imaging.ByteToUnit(src.Pix[o+k]) + m*colour[k])
		}
	}
	if vw == w && vh == h {
		for i, m := range shade {
			blend(i*ch, m)
		}
		return
	}
	xs := c.windowAxis(0, w, 0, s, vw, false)
	ys := c.windowAxis(1, h, 0, s, vh, false)
	for y := range h {
		for x := range w {
			var m float32
			for _, ty := range ys[y] {
				for _, tx := range xs[x] {
					m += ty.w * tx.w * shade[ty.i*vw+tx.i]
				}
			}
			blend((y*w+x)*ch, m)
		}
	}
}

// waterShade writes into shade the un-normalized brightness of the water droplets of layer (0
// outside the droplets), the way ImageNet-C shades them: find the droplets' rims (Canny edges of
// the 8-bit layer, thresholds 50 and 150), take every pixel's distance to the nearest rim capped
// at distCap, smooth it (3x3 box), equalize its histogram over the whole image, emboss it along
// the diagonal and smooth again; the shade is the layer times that. So a droplet is dark at its
// rim, brighter toward its middle, and lit from one corner. Each step is written here from its
// textbook definition, with the same borders, rounding and saturation as OpenCV's.
func (c *Corruptor) waterShade(shade, layer []float32, w, h int, distCap float64) {
	n := w * h
	u8 := c.bytesN(0, n)
	for i, v := range layer {
		u8[i] = uint8(min(v*255, 255)) // truncation, as numpy's astype(uint8)
	}
	edges := c.bytesN(1, n)
	c.canny(edges, u8, w, h, 50, 150)
	dist := c.buf(2, n)
	chamferDistance(dist, c.intsN((w+4)*(h+4)), edges, w, h) // canny is done with the ints
	dc := float32(distCap)
	for i, v := range dist {
		dist[i] = min(v, dc)
	}
	tmp := c.buf(3, n)
	box3(tmp, dist, w, h)
	for i, v := range tmp {
		u8[i] = uint8(v) // truncation: the distance is stored as 8 bits
	}
	equalizeHist(u8)
	emb := c.bytesN(2, n)
	emboss(emb, u8, w, h)
	for i, v := range emb {
		tmp[i] = float32(v)
	}
	box3(dist, tmp, w, h)
	for i, v := range dist {
		shade[i] = layer[i] * float32(math.RoundToEven(float64(v))) // the box blur is 8-bit
	}
}

// canny marks in edges (1 edge, 0 not) the Canny edges of an 8-bit plane: 3x3 Sobel gradients
// (replicated border), L1 magnitude, non-maximum suppression across the gradient direction
// binned to 0, 45, 90 or 135 degrees (a zero magnitude outside the image), and hysteresis:
// pixels above high, and pixels above low 8-connected to them.
func (c *Corruptor) canny(edges, src []uint8, w, h int, low, high int32) {
	pw := w + 2 // planes padded by one pixel on every side
	n := pw * (h + 2)
	pad := c.intsN(2 * n)
	in, mag := pad[:n], pad[n:]
	for y := -1; y <= h; y++ {
		row := src[min(max(y, 0), h-1)*w:]
		o := (y + 1) * pw
		in[o] = int32(row[0])
		for x := range w {
			in[o+1+x] = int32(row[x])
		}
		in[o+w+1] = int32(row[w-1])
	}
	gx := c.buf(4, w*h) // gradients as floats, exact for these small integers
	gy := c.buf(5, w*h)
	clear(mag)
	for y := range h {
		up, mid, dn := in[y*pw:(y+1)*pw], in[(y+1)*pw:(y+2)*pw], in[(y+2)*pw:(y+3)*pw]
		mrow := mag[(y+1)*pw+1 : (y+1)*pw+1+w]
		grx, gry := gx[y*w:(y+1)*w], gy[y*w:(y+1)*w]
		for x := range mrow {
			u, m, d := (*[3]int32)(up[x:x+3]), (*[3]int32)(mid[x:x+3]), (*[3]int32)(dn[x:x+3])
			dx := u[2] + 2*m[2] + d[2] - u[0] - 2*m[0] - d[0]
			dy := d[0] + 2*d[1] + d[2] - u[0] - 2*u[1] - u[2]
			grx[x], gry[x] = float32(dx), float32(dy)
			mrow[x] = abs32(dx) + abs32(dy)
		}
	}
	const tan22, tan67 = 0.41421356, 2.41421356
	// 0: not an edge; 1: weak candidate; 2: edge.
	clear(edges)
	for y := range h {
		// Padded rows: pixel x sits at index x+1.
		mp, mc, mn := mag[y*pw:(y+1)*pw], mag[(y+1)*pw:(y+2)*pw], mag[(y+2)*pw:(y+3)*pw]
		erow := edges[y*w : (y+1)*w]
		grx, gry := gx[y*w:(y+1)*w], gy[y*w:(y+1)*w]
		for x := range erow {
			c3 := (*[3]int32)(mc[x : x+3])
			v := c3[1]
			if v <= low {
				continue
			}
			p3, n3 := (*[3]int32)(mp[x:x+3]), (*[3]int32)(mn[x:x+3])
			ax, ay := grx[x], gry[x]
			if ax < 0 {
				ax = -ax
			}
			if ay < 0 {
				ay = -ay
			}
			var keep bool
			switch {
			case ay < tan22*ax: // horizontal gradient: compare left and right
				keep = v > c3[0] && v >= c3[2]
			case ay > tan67*ax: // vertical gradient: compare above and below
				keep = v > p3[1] && v >= n3[1]
			case (grx[x] < 0) != (gry[x] < 0): // diagonal, falling to the right
				keep = v > p3[2] && v > n3[0]
			default: // diagonal, rising to the right
				keep = v > p3[0] && v > n3[2]
			}
			if keep {
				erow[x] = 1
				if v > high {
					erow[x] = 2
				}
			}
		}
	}
	// Hysteresis: grow the edges into 8-connected weak candidates.
	stack := c.smallInts(0, 0)
	for i, e := range edges {
		if e == 2 {
			stack = append(stack, i)
		}
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x, y := i%w, i/w
		for ny := max(y-1, 0); ny <= min(y+1, h-1); ny++ {
			for nx := max(x-1, 0); nx <= min(x+1, w-1); nx++ {
				if j := ny*w + nx; edges[j] == 1 {
					edges[j] = 2
					stack = append(stack, j)
				}
			}
		}
	}
	c.small[0] = stack[:0]
	for i, e := range edges {
		edges[i] = e >> 1
	}
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// Chamfer weights of the 5x5 distance mask (Borgefors; OpenCV's DIST_L2 with mask 5): a step
// along an axis, a diagonal step and a knight's move, in 16-bit fixed point as OpenCV computes.
const (
	chamferShift       = 16
	chamferA, chamferB = 1 << chamferShift, 91750 // 1, 1.4
	chamferC           = 143976                   // 2.1969
	chamferFar         = math.MaxInt32 / 2
)

// chamferDistance writes the 5x5 chamfer distance (pixels) from every pixel to the nearest pixel
// with edges != 0 (0 on the edges themselves), in two raster passes over a plane padded by two
// pixels of "far"; with no edge at all every distance is large. tmp holds (w+4)*(h+4) values.
func chamferDistance(dist []float32, tmp []int32, edges []uint8, w, h int) {
	pw := w + 4
	d := tmp[:pw*(h+4)]
	for i := range d {
		d[i] = chamferFar
	}
	for y := range h {
		row := d[(y+2)*pw+2:]
		for x, e := range edges[y*w : (y+1)*w] {
			if e != 0 {
				row[x] = 0
			}
		}
	}
	// Forward: neighbours above (two rows, no dependency within the row), then the one to the
	// left (a running minimum along the row). The backward pass mirrors it. Splitting the
	// stencil this way gives the same result: the left neighbour is final when it is read.
	for y := 2; y < h+2; y++ {
		r2, r1, r0 := d[(y-2)*pw:(y-1)*pw], d[(y-1)*pw:y*pw], d[y*pw:(y+1)*pw]
		for x := 2; x < w+2; x++ {
			a, b := (*[5]int32)(r2[x-2:x+3]), (*[5]int32)(r1[x-2:x+3])
			r0[x] = min(r0[x], b[2]+chamferA, b[1]+chamferB, b[3]+chamferB,
				a[1]+chamferC, a[3]+chamferC, b[0]+chamferC, b[4]+chamferC)
		}
		run := r0[1]
		for x := 2; x < w+2; x++ {
			run = min(r0[x], run+chamferA)
			r0[x] = run
		}
	}
	for y := h + 1; y >= 2; y-- {
		r0, r1, r2 := d[y*pw:(y+1)*pw], d[(y+1)*pw:(y+2)*pw], d[(y+2)*pw:(y+3)*pw]
		for x := w + 1; x >= 2; x-- {
			a, b := (*[5]int32)(r2[x-2:x+3]), (*[5]int32)(r1[x-2:x+3])
			r0[x] = min(r0[x], b[2]+chamferA, b[3]+chamferB, b[1]+chamferB,
				a[3]+chamferC, a[1]+chamferC, b[4]+chamferC, b[0]+chamferC)
		}
		run := r0[w+2]
		for x := w + 1; x >= 2; x-- {
			run = min(r0[x], run+chamferA)
			r0[x] = run
		}
	}
	const unit = 1.0 / (1 << chamferShift)
	for y := range h {
		row := d[(y+2)*pw+2 : (y+2)*pw+2+w]
		out := dist[y*w : (y+1)*w]
		for x, v := range row {
			out[x] = float32(v) * unit
		}
	}
}

// box3 is the 3x3 mean with mirrored borders (reflect-101): column sums of three rows, then a
// running sum along the row.
func box3(dst, src []float32, w, h int) {
	if w < 2 || h < 2 {
		copy(dst, src) // reflect-101 of a single row or column is the 1-D mean; rare enough to skip
		return
	}
	for y := range h {
		r0, r1, r2 := src[reflect101(y-1, h)*w:][:w], src[y*w:][:w], src[reflect101(y+1, h)*w:][:w]
		out := dst[y*w : (y+1)*w]
		col := func(x int) float32 { return r0[x] + r1[x] + r2[x] }
		prev, cur := col(1), col(0) // reflect-101: column -1 is column 1
		for x := 0; x < w-1; x++ {
			next := col(x + 1)
			out[x] = (prev + cur + next) / 9
			prev, cur = cur, next
		}
		out[w-1] = (prev + cur + prev) / 9 // column w is column w-2
	}
}

// equalizeHist spreads an 8-bit plane's histogram over 0..255 in place: the lowest level
// present maps to 0 and level v to 255 times the share of the pixels above the lowest level
// that are at most v, rounded.
func equalizeHist(p []uint8) {
	var hist [256]int
	for _, v := range p {
		hist[v]++
	}
	lo := 0
	for hist[lo] == 0 {
		lo++
	}
	if hist[lo] == len(p) {
		return // one level: nothing to spread
	}
	var lut [256]uint8
	scale := 255 / float32(len(p)-hist[lo])
	sum := 0
	for v := lo + 1; v < 256; v++ {
		sum += hist[v]
		lut[v] = byteRound(float32(sum) * scale)
	}
	for i, v := range p {
		p[i] = lut[v]
	}
}

// emboss correlates an 8-bit plane with [-2 -1 0; -1 1 1; 0 1 2] (mirrored borders), saturating
// to 0..255: flat areas keep their level, and slopes rising toward the bottom right brighten.
func emboss(dst, src []uint8, w, h int) {
	at := func(r []uint8, x int) int { return int(r[reflect101(x, w)]) }
	for y := range h {
		up, mid, dn := src[reflect101(y-1, h)*w:][:w], src[y*w:][:w], src[reflect101(y+1, h)*w:][:w]
		out := dst[y*w : (y+1)*w]
		edge := func(x int) {
			v := -2*at(up, x-1) - at(up, x) - at(mid, x-1) + at(mid, x) + at(mid, x+1) + at(dn, x) + 2*at(dn, x+1)
			out[x] = uint8(min(max(v, 0), 255))
		}
		edge(0)
		for x := 1; x < w-1; x++ {
			u, m, d := (*[3]uint8)(up[x-1:x+2]), (*[3]uint8)(mid[x-1:x+2]), (*[3]uint8)(dn[x-1:x+2])
			v := -2*int(u[0]) - int(u[1]) - int(m[0]) + int(m[1]) + int(m[2]) + int(d[1]) + 2*int(d[2])
			out[x] = uint8(min(max(v, 0), 255))
		}
		if w > 1 {
			edge(w - 1)
		}
	}
}
