package perturb

import (
	"github.com/cvgate/cvgate/internal/imaging"
)

// contrastFactor scales each channel about its mean.
var contrastFactor = [Severities]float64{.4, .3, .2, .1, .05}

// elasticAlpha is imagecorruptions' elastic_transform (250 * .05, .065, .085, .1, .12): the gain
// of a displacement field made of uniform noise in +-0.005*side smoothed by a Gaussian of
// 0.01*side. That is the definition cvgate matches: elastic deformation only. The original
// ImageNet-C code (Hendrycks' make_imagenet_c.py) first applies a random affine warp of up to a
// fifth of the side, which dominates its damage at severities 1 and 2; published mCE figures
// computed with imagecorruptions do not include it, and neither does cvgate.
var elasticAlpha = [Severities]float64{12.5, 16.25, 21.25, 25, 30}

// Elastic field constants of the reference, as multiples of the image side (224 px scale).
const (
	elasticSigma = 0.01  // smoothing sigma
	elasticNoise = 0.005 // half-range of the uniform noise, in pixels per side
)

var pixelateFactor = [Severities]float64{.6, .5, .4, .3, .25}

var jpegQuality = [Severities]int{25, 18, 15, 10, 7}

// saturateParams: S in HSV becomes S*factor + offset, clipped.
var saturateParams = [Severities]struct{ factor, offset float64 }{
	{.3, 0}, {.1, 0}, {2, 0}, {5, .1}, {20, .2},
}

func (c *Corruptor) contrastSeverity(dst, src *imaging.Image, sev int) {
	contrast(dst, src, contrastFactor[sev])
}

// contrast scales each channel about its own mean, as the reference does.
func contrast(dst, src *imaging.Image, factor float64) {
	ch := src.Channels
	var sums [3]uint64
	for i := 0; i < len(src.Pix); i += ch {
		for k := range ch {
			sums[k] += uint64(src.Pix[i+k])
		}
	}
	n := float64(len(src.Pix) / ch)
	var luts [3][256]uint8
	for k := range ch {
		mean := float64(sums[k]) / n / 255
		for v := range 256 {
			luts[k][v] = unitByte(float32((float64(v)/255-mean)*factor + mean))
		}
	}
	if ch == 1 {
		for i, v := range src.Pix {
			dst.Pix[i] = luts[0][v]
		}
		return
	}
	for i := 0; i+2 < len(src.Pix); i += 3 {
		dst.Pix[i] = luts[0][src.Pix[i]]
		dst.Pix[i+1] = luts[1][src.Pix[i+1]]
		dst.Pix[i+2] = luts[2][src.Pix[i+2]]
	}
}

// ---- elastic ----

func (c *Corruptor) elasticSeverity(dst, src *imaging.Image, sev int) {
	s := sizeScale(src.Width, src.Height)
	side := 224 * s
	sigma := elasticSigma * side
	// The reference's displacement is alpha*noise/sigma up to a constant, the same number of
	// pixels at every size because noise and sigma both grow with the side. cvgate scales
	// displacements with the image like every other spatial parameter, hence the extra s.
	amp := elasticAlpha[sev] * elasticNoise * side * s
	if sigma < 1 {
		amp /= sigma // keep amp/sigma, which sets the displacement
		sigma = 1
	}
	c.elastic(dst, src, amp, sigma)
}

// elastic moves every pixel by a smooth random displacement field, uniform noise in [-1,1]
// smoothed by a Gaussian of sigma and multiplied by amp, and resamples bilinearly; coordinates
// that leave the image reflect about its edges. The two components come from independent noise
// planes. amp = 0 is the identity.
func (c *Corruptor) elastic(dst, src *imaging.Image, amp, sigma float64) {
	w, h, ch := src.Width, src.Height, src.Channels
	field := c.buf(1, 2*w*h) // interleaved (dx, dy)
	c.fillUniform(field, -1, 1)
	c.gaussianBlur(field, w, h, 2, sigma)
	img := c.buf(0, len(src.Pix))
	toFloat(img, src.Pix)
	a := float32(amp)
	wm, hm := float32(w-1), float32(h-1)
	out := dst.Pix
	for y := range h {
		for x := range w {
			i := y*w + x
			sx := reflectUnit(float32(x)+a*field[2*i], wm)
			sy := reflectUnit(float32(y)+a*field[2*i+1], hm)
			x0, y0 := min(int(sx), max(w-2, 0)), min(int(sy), max(h-2, 0))
			fx, fy := sx-float32(x0), sy-float32(y0)
			x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
			p00, p01 := (y0*w+x0)*ch, (y0*w+x1)*ch
			p10, p11 := (y1*w+x0)*ch, (y1*w+x1)*ch
			o := i * ch
			if ch == 3 {
				a, b := img[p00:p00+3:p00+3], img[p01:p01+3:p01+3]
				cc, d := img[p10:p10+3:p10+3], img[p11:p11+3:p11+3]
				q := out[o : o+3 : o+3]
				for k := range 3 {
					top := a[k] + fx*(b[k]-a[k])
					bot := cc[k] + fx*(d[k]-cc[k])
					q[k] = unitByte(top + fy*(bot-top))
				}
				continue
			}
			for k := range ch {
				top := img[p00+k] + fx*(img[p01+k]-img[p00+k])
				bot := img[p10+k] + fx*(img[p11+k]-img[p10+k])
				out[o+k] = unitByte(top + fy*(bot-top))
			}
		}
	}
}

// reflectUnit mirrors a coordinate into [0, hi] (reflect-101 on pixel centres); hi = n-1.
func reflectUnit(v, hi float32) float32 {
	if v < 0 {
		v = -v
	}
	if v > hi {
		v = 2*hi - v
		if v < 0 { // beyond a whole mirrored copy: clamp
			v = 0
		}
	}
	return v
}

// ---- pixelate ----

func (c *Corruptor) pixelateSeverity(dst, src *imaging.Image, sev int) {
	c.pixelate(dst, src, pixelateFactor[sev])
}

// pixelate shrinks the image to factor of its size and enlarges it back with nearest
// neighbours, as the reference does with two PIL resizes, and with PIL's arithmetic: PIL's box
// filter is not exact area averaging but the plain mean of the source pixels whose centres fall
// inside the output pixel's footprint, rows first with an 8-bit result, then columns, in 22-bit
// fixed point; its nearest-neighbour enlargement accumulates the scale in floating point. The
// results are equal to PIL's byte for byte. factor 1 is the identity.
func (c *Corruptor) pixelate(dst, src *imaging.Image, factor float64) {
	w, h, ch := src.Width, src.Height, src.Channels
	sw, sh := max(int(float64(w)*factor), 1), max(int(float64(h)*factor), 1)
	xs, ys := c.pilBoxSpans(0, w, sw), c.pilBoxSpans(1, h, sh)
	// Rows: w -> sw.
	stride := sw * ch
	rows := c.bytesN(0, stride*h)
	for y := range h {
		srow := src.Pix[y*w*ch : (y+1)*w*ch]
		drow := rows[y*stride : (y+1)*stride]
		if ch == 3 {
			for j, sp := range xs {
				px := srow[3*sp.start : 3*(sp.start+sp.n)]
				var r, g, b uint32
				switch len(px) {
				case 6: // the spans of the common factors hold two or three pixels
					r, g, b = uint32(px[0])+uint32(px[3]), uint32(px[1])+uint32(px[4]), uint32(px[2])+uint32(px[5])
				case 9:
					r = uint32(px[0]) + uint32(px[3]) + uint32(px[6])
					g = uint32(px[1]) + uint32(px[4]) + uint32(px[7])
					b = uint32(px[2]) + uint32(px[5]) + uint32(px[8])
				default:
					for t := 0; t+2 < len(px); t += 3 {
						r, g, b = r+uint32(px[t]), g+uint32(px[t+1]), b+uint32(px[t+2])
					}
				}
				d := drow[3*j : 3*j+3 : 3*j+3]
				d[0], d[1], d[2] = pilRound(r, sp.k), pilRound(g, sp.k), pilRound(b, sp.k)
			}
			continue
		}
		for j, sp := range xs {
			var sum uint32
			for _, v := range srow[sp.start : sp.start+sp.n] {
				sum += uint32(v)
			}
			drow[j] = pilRound(sum, sp.k)
		}
	}
	// Columns: h -> sh, summing whole rows.
	small := c.bytesN(1, sh*stride)
	acc := c.intsN(stride)
	for j, sp := range ys {
		out := small[j*stride : (j+1)*stride]
		first := rows[sp.start*stride : (sp.start+1)*stride]
		// The common spans of two or three rows, without the accumulator.
		out = out[:len(first)]
		switch sp.n {
		case 2:
			second := rows[(sp.start+1)*stride:][:len(first)]
			for i, v := range first {
				out[i] = pilRound(uint32(v)+uint32(second[i]), sp.k)
			}
			continue
		case 3:
			second, third := rows[(sp.start+1)*stride:][:len(first)], rows[(sp.start+2)*stride:][:len(first)]
			for i, v := range first {
				out[i] = pilRound(uint32(v)+uint32(second[i])+uint32(third[i]), sp.k)
			}
			continue
		}
		for i, v := range first {
			acc[i] = int32(v)
		}
		for y := sp.start + 1; y < sp.start+sp.n; y++ {
			for i, v := range rows[y*stride : (y+1)*stride] {
				acc[i] += int32(v)
			}
		}
		for i, v := range acc {
			out[i] = pilRound(uint32(v), sp.k)
		}
	}
	// Enlarge with nearest neighbours; consecutive output rows that read the same small row are
	// copies.
	cols := c.intsN(w)
	pilNearest(cols, w, sw)
	yScale := float64(sh) / float64(h)
	yo := yScale * 0.5 // PIL's running sum, as in pilNearest
	prev := -1
	for y := range h {
		sy := min(int(yo), sh-1)
		yo += yScale
		drow := dst.Pix[y*w*ch : (y+1)*w*ch]
		if sy == prev {
			copy(drow, dst.Pix[(y-1)*w*ch:y*w*ch])
			continue
		}
		prev = sy
		srow := small[sy*stride : (sy+1)*stride]
		if ch == 3 {
			for x, sx := range cols {
				p := srow[3*sx : 3*sx+3 : 3*sx+3]
				d := drow[3*x : 3*x+3 : 3*x+3]
				d[0], d[1], d[2] = p[0], p[1], p[2]
			}
			continue
		}
		for x, sx := range cols {
			drow[x] = srow[sx]
		}
	}
}

// boxSpan is one output pixel of a PIL box shrink: the mean of n source pixels from start, with
// k the 22-bit fixed-point weight of each.
type boxSpan struct {
	start, n int
	k        uint64
}

// pilPrecision is the number of fractional bits of PIL's 8-bit resampling coefficients.
const pilPrecision = 22

// pilBoxSpans lists the box filter's source pixels for shrinking n to m (m <= n), for axis a
// (0 or 1; the slice is reused by the next call for that axis). An output pixel's footprint is
// centred at (j+0.5)*n/m with half-width n/(2m); a source pixel counts if its centre lies in
// (centre - half, centre + half].
func (c *Corruptor) pilBoxSpans(a, n, m int) []boxSpan {
	if cap(c.spans[a]) < m {
		c.spans[a] = make([]boxSpan, m)
	}
	spans := c.spans[a][:m]
	scale := float64(n) / float64(m)
	support := 0.5 * max(scale, 1)
	ss := 1 / max(scale, 1)
	for j := range spans {
		centre := (float64(j) + 0.5) * scale
		lo := max(int(centre-support+0.5), 0)
		hi := min(int(centre+support+0.5), n)
		start, count := -1, 0
		for x := lo; x < hi; x++ {
			if v := (float64(x) - centre + 0.5) * ss; v > -0.5 && v <= 0.5 {
				if start < 0 {
					start = x
				}
				count++
			}
		}
		if count == 0 { // cannot happen for m <= n; keep the nearest pixel rather than divide by 0
			start, count = min(int(centre), n-1), 1
		}
		spans[j] = boxSpan{start, count, uint64(0.5 + float64(uint64(1)<<pilPrecision)/float64(count))}
	}
	return spans
}

// pilRound turns a sum of bytes times a fixed-point weight into a byte as PIL does: add half,
// shift, clip.
func pilRound(sum uint32, k uint64) uint8 {
	return uint8(min((uint64(sum)*k+1<<(pilPrecision-1))>>pilPrecision, 255))
}

// pilNearest fills dst[x] (x < n) with the source index PIL's nearest-neighbour resize from m to
// n pixels reads: floor of a running sum that starts at scale/2 and grows by scale = m/n.
func pilNearest(dst []int32, n, m int) {
	scale := float64(m) / float64(n)
	xo := scale * 0.5
	for x := range n {
		dst[x] = int32(min(int(xo), m-1))
		xo += scale
	}
}

// ---- saturate ----

func (c *Corruptor) saturateSeverity(dst, src *imaging.Image, sev int) {
	p := saturateParams[sev]
	saturate(dst, src, p.factor, p.offset)
}

// saturate sets S in HSV to clip(S*factor + offset). With hue and value fixed every channel moves
// along V - (V-c)*S'/S. Gray pixels have no hue; the reference (scikit-image) gives them hue 0,
// so a positive offset tints them red: kept for RGB images. Gray images follow the package rule
// (RGB then luma): V*(1 - 0.701*offset). factor 1, offset 0 is the identity.
func saturate(dst, src *imaging.Image, factor, offset float64) {
	off := min(max(offset, 0), 1)
	if src.Channels == 1 {
		k := float32(1 - (1-lumaR)*off)
		for i, v := range src.Pix {
			dst.Pix[i] = byteRound(float32(v) * k)
		}
		return
	}
	fac, of := float32(factor), float32(off)
	for i := 0; i+2 < len(src.Pix); i += 3 {
		r, g, b := float32(src.Pix[i]), float32(src.Pix[i+1]), float32(src.Pix[i+2])
		v, lo := max(r, g, b), min(r, g, b)
		if v == 0 {
			dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2] = 0, 0, 0
			continue
		}
		s := (v - lo) / v
		s2 := min(max(s*fac+of, 0), 1)
		if v == lo {
			rest := byteRound(v * (1 - s2))
			dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2] = byteRound(v), rest, rest
			continue
		}
		k := s2 / s
		dst.Pix[i] = byteRound(v - (v-r)*k)
		dst.Pix[i+1] = byteRound(v - (v-g)*k)
		dst.Pix[i+2] = byteRound(v - (v-b)*k)
	}
}
