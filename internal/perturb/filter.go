package perturb

import "math"

// Separable filtering primitives on interleaved float32 images (w*h*ch values). Inner loops are
// written as multi-tap accumulations over contiguous slices, which the compiler turns into tight
// bounds-check-free loops; that matters because the blurs dominate the cost of a corruption sweep.
// Where a loop has a vector kernel (filter_amd64.s), each product is converted with float32():
// Go may fuse x*y + z into one multiply-add with a single rounding (it does with GOAMD64=v3),
// and the conversion forbids that, so every build rounds as the kernels do.

// add4 does d += wa*a + wb*b + wc*cc + we*e element-wise.
func add4(d, a, b, cc, e []float32, wa, wb, wc, we float32) {
	a, b, cc, e = a[:len(d)], b[:len(d)], cc[:len(d)], e[:len(d)]
	for i := add4Vector(d, a, b, cc, e, wa, wb, wc, we); i < len(d); i++ {
		d[i] += float32(wa*a[i]) + float32(wb*b[i]) + float32(wc*cc[i]) + float32(we*e[i])
	}
}

// add2 does d += wa*a + wb*b element-wise.
func add2(d, a, b []float32, wa, wb float32) {
	a, b = a[:len(d)], b[:len(d)]
	for i := range d {
		d[i] += wa*a[i] + wb*b[i]
	}
}

// add1 does d += wa*a element-wise.
func add1(d, a []float32, wa float32) {
	a = a[:len(d)]
	for i := range d {
		d[i] += wa * a[i]
	}
}

// accumulate sets d to the weighted sum of srcs.
func accumulate(d []float32, srcs [][]float32, ws []float32) {
	clear(d)
	k := 0
	for ; k+4 <= len(ws); k += 4 {
		add4(d, srcs[k], srcs[k+1], srcs[k+2], srcs[k+3], ws[k], ws[k+1], ws[k+2], ws[k+3])
	}
	if k+2 <= len(ws) {
		add2(d, srcs[k], srcs[k+1], ws[k], ws[k+1])
		k += 2
	}
	if k < len(ws) {
		add1(d, srcs[k], ws[k])
	}
}

// accumulateSymmetric sets d to the weighted sum of srcs for a symmetric kernel k of odd length
// (k[i] == k[len(k)-1-i]), adding mirrored taps before multiplying: half the multiplications and
// fewer passes over d than accumulate.
func accumulateSymmetric(d []float32, srcs [][]float32, k []float32) {
	r := len(k) / 2
	c := srcs[r][:len(d)]
	t := 1
	switch {
	case r >= 2:
		a1, b1, a2, b2 := srcs[r-1][:len(d)], srcs[r+1][:len(d)], srcs[r-2][:len(d)], srcs[r+2][:len(d)]
		w0, w1, w2 := k[r], k[r+1], k[r+2]
		for i := symSetVector(d, c, a1, b1, a2, b2, w0, w1, w2); i < len(d); i++ {
			d[i] = float32(w0*c[i]) + float32(w1*(a1[i]+b1[i])) + float32(w2*(a2[i]+b2[i]))
		}
		t = 3
	case r == 1:
		a1, b1 := srcs[0][:len(d)], srcs[2][:len(d)]
		w0, w1 := k[1], k[2]
		for i := range d {
			d[i] = float32(w0*c[i]) + float32(w1*(a1[i]+b1[i]))
		}
		return
	default:
		w0 := k[0]
		for i := range d {
			d[i] = w0 * c[i]
		}
		return
	}
	for ; t+1 <= r; t += 2 {
		a1, b1, a2, b2 := srcs[r-t][:len(d)], srcs[r+t][:len(d)], srcs[r-t-1][:len(d)], srcs[r+t+1][:len(d)]
		w1, w2 := k[r+t], k[r+t+1]
		for i := symAddVector(d, a1, b1, a2, b2, w1, w2); i < len(d); i++ {
			d[i] += float32(w1*(a1[i]+b1[i])) + float32(w2*(a2[i]+b2[i]))
		}
	}
	if t <= r {
		a1, b1 := srcs[r-t][:len(d)], srcs[r+t][:len(d)]
		w1 := k[r+t]
		for i := range d {
			d[i] += float32(w1 * (a1[i] + b1[i]))
		}
	}
}

// gaussianKernel returns the normalized Gaussian of the given sigma sampled at integer offsets
// -r..r with r = ceil(3 sigma) (at least 1). Cached per sigma in the Corruptor.
func (c *Corruptor) gaussianKernel(sigma float64) []float32 {
	key := float32(sigma)
	if k, ok := c.kernels[key]; ok {
		return k
	}
	r := max(int(math.Ceil(3*sigma)), 1)
	k := make([]float32, 2*r+1)
	sum := 0.0
	w := make([]float64, len(k))
	for i := range w {
		x := float64(i - r)
		w[i] = math.Exp(-x * x / (2 * sigma * sigma))
		sum += w[i]
	}
	for i := range k {
		k[i] = float32(w[i] / sum)
	}
	if c.kernels == nil {
		c.kernels = map[float32][]float32{}
	}
	c.kernels[key] = k
	return k
}

// rowSlices returns a reusable slice of n row slices.
func (c *Corruptor) rowSlices(n int) [][]float32 {
	if cap(c.rows) < n {
		c.rows = make([][]float32, n)
	}
	return c.rows[:n]
}

// convolveSeparable convolves img (w*h*ch, interleaved) in place with the symmetric kernel k
// along x and then y; edges replicate. Uses working buffers 4 and 5.
func (c *Corruptor) convolveSeparable(img []float32, w, h, ch int, k []float32) {
	r := len(k) / 2
	stride := w * ch
	tmp := c.buf(4, len(img))
	pad := c.buf(5, (w+2*r)*ch)
	srcs := c.rowSlices(len(k))
	for y := range h {
		row := img[y*stride : (y+1)*stride]
		padRow(pad, row, w, ch, r)
		for t := range k {
			srcs[t] = pad[t*ch : t*ch+stride]
		}
		accumulateSymmetric(tmp[y*stride:(y+1)*stride], srcs, k)
	}
	for y := range h {
		for t := range k {
			yy := min(max(y+t-r, 0), h-1)
			srcs[t] = tmp[yy*stride : (yy+1)*stride]
		}
		accumulateSymmetric(img[y*stride:(y+1)*stride], srcs, k)
	}
}

// padRow copies row into pad with r replicated pixels on each side.
func padRow(pad, row []float32, w, ch, r int) {
	copy(pad[r*ch:], row)
	for x := range r {
		copy(pad[x*ch:(x+1)*ch], row[:ch])
		copy(pad[(r+w+x)*ch:(r+w+x+1)*ch], row[(w-1)*ch:w*ch])
	}
}

// boxBlurSigmaMin is where gaussianBlur switches from a sampled kernel to three extended box
// passes: below it the boxes approximate the Gaussian poorly, above it they are cheaper.
const boxBlurSigmaMin = 2.0

// gaussianBlur blurs img in place with a Gaussian of the given sigma (pixels); sigma <= 0 leaves it
// unchanged. Small sigmas use a sampled kernel truncated at 3 sigma; larger ones use three
// "extended box" passes (Gwosdek et al., 2011), whose fractional end taps match the Gaussian's
// variance exactly, at a cost independent of sigma. Edges replicate, like scikit-image's
// mode="nearest". Uses working buffers 4 and 5.
func (c *Corruptor) gaussianBlur(img []float32, w, h, ch int, sigma float64) {
	if sigma <= 0 {
		return
	}
	if sigma < boxBlurSigmaMin {
		c.convolveSeparable(img, w, h, ch, c.gaussianKernel(sigma))
		return
	}
	r, alpha := extendedBox(sigma*sigma/3, max(w, h))
	tmp := c.buf(4, len(img))
	pad := c.buf(5, (w+2*r+2)*ch)
	// Six passes ping-pong between img and tmp and end in img.
	boxPassX(tmp, img, w, h, ch, r, alpha, pad)
	boxPassX(img, tmp, w, h, ch, r, alpha, pad)
	boxPassX(tmp, img, w, h, ch, r, alpha, pad)
	boxPassY(img, tmp, w, h, ch, r, alpha, pad[:w*ch])
	boxPassY(tmp, img, w, h, ch, r, alpha, pad[:w*ch])
	boxPassY(img, tmp, w, h, ch, r, alpha, pad[:w*ch])
}

// extendedBox returns the radius r and end weight alpha in [0,1) of a box kernel (weights 1 on
// -r..r, alpha at +-(r+1)) whose variance is v. The radius is capped at limit.
func extendedBox(v float64, limit int) (int, float32) {
	r := int(math.Floor((math.Sqrt(1+12*v) - 1) / 2)) // largest r with r(r+1)/3 <= v
	r = min(max(r, 0), limit)
	fr := float64(r)
	n := 2*fr + 1
	alpha := n * (fr*(fr+1)/3 - v) / (2 * (v - (fr+1)*(fr+1)))
	return r, float32(min(max(alpha, 0), 1))
}

// boxPassX applies the extended box along rows from src to dst.
func boxPassX(dst, src []float32, w, h, ch, r int, alpha float32, pad []float32) {
	stride := w * ch
	inv := 1 / (float32(2*r+1) + 2*alpha)
	e := r + 1 // padding on each side
	for y := range h {
		padRow(pad, src[y*stride:(y+1)*stride], w, ch, e)
		out := dst[y*stride : (y+1)*stride]
		switch ch {
		case 1:
			boxRow1(out, pad, w, r, alpha, inv)
			continue
		case 2:
			boxRow2(out, pad, w, r, alpha, inv)
			continue
		case 3:
			boxRow3(out, pad, w, r, alpha, inv)
			continue
		}
		for k := range ch {
			// Window for output x covers padded x+1 .. x+2r+1; ends at x and x+2r+2.
			var s float32
			for t := 1; t <= 2*r+1; t++ {
				s += pad[t*ch+k]
			}
			for x := range w {
				lo, hi := x*ch+k, (x+2*r+2)*ch+k
				out[x*ch+k] = (s + alpha*(pad[lo]+pad[hi])) * inv
				s += pad[hi] - pad[lo+ch]
			}
		}
	}
}

// boxRow1 is boxPassX's row loop for one channel.
func boxRow1(out, pad []float32, w, r int, alpha, inv float32) {
	var s float32
	for t := 1; t <= 2*r+1; t++ {
		s += pad[t]
	}
	span := 2*r + 2
	out = out[:w]
	for x := range out {
		lo, hi := pad[x:x+2:x+2], pad[x+span]
		out[x] = (s + alpha*(lo[0]+hi)) * inv
		s += hi - lo[1]
	}
}

// boxRow2 is boxPassX's row loop for two interleaved channels.
func boxRow2(out, pad []float32, w, r int, alpha, inv float32) {
	var s0, s1 float32
	for t := 1; t <= 2*r+1; t++ {
		s0 += pad[2*t]
		s1 += pad[2*t+1]
	}
	span := 2 * (2*r + 2)
	for x := range w {
		lo := pad[2*x : 2*x+4 : 2*x+4]
		hi := pad[2*x+span : 2*x+span+2 : 2*x+span+2]
		o := out[2*x : 2*x+2 : 2*x+2]
		o[0] = (s0 + alpha*(lo[0]+hi[0])) * inv
		o[1] = (s1 + alpha*(lo[1]+hi[1])) * inv
		s0 += hi[0] - lo[2]
		s1 += hi[1] - lo[3]
	}
}

// boxRow3 is boxPassX's row loop for RGB, with the three running sums side by side.
func boxRow3(out, pad []float32, w, r int, alpha, inv float32) {
	var s0, s1, s2 float32
	for t := 1; t <= 2*r+1; t++ {
		s0 += pad[3*t]
		s1 += pad[3*t+1]
		s2 += pad[3*t+2]
	}
	span := 3 * (2*r + 2)
	for x := range w {
		lo := pad[3*x : 3*x+6 : 3*x+6]
		hi := pad[3*x+span : 3*x+span+3 : 3*x+span+3]
		o := out[3*x : 3*x+3 : 3*x+3]
		o[0] = (s0 + alpha*(lo[0]+hi[0])) * inv
		o[1] = (s1 + alpha*(lo[1]+hi[1])) * inv
		o[2] = (s2 + alpha*(lo[2]+hi[2])) * inv
		s0 += hi[0] - lo[3]
		s1 += hi[1] - lo[4]
		s2 += hi[2] - lo[5]
	}
}

// boxPassY applies the extended box along columns from src to dst, one row vector at a time;
// sum (w*ch values) holds the running window sum.
func boxPassY(dst, src []float32, w, h, ch, r int, alpha float32, sum []float32) {
	stride := w * ch
	inv := 1 / (float32(2*r+1) + 2*alpha)
	row := func(y int) []float32 {
		y = min(max(y, 0), h-1)
		return src[y*stride : (y+1)*stride]
	}
	clear(sum)
	for t := -r; t <= r; t++ {
		add1(sum, row(t), 1)
	}
	for y := range h {
		out := dst[y*stride : (y+1)*stride]
		lo, hi := row(y-r-1), row(y+r+1)
		first := row(y - r)
		lo, hi, first = lo[:stride], hi[:stride], first[:stride]
		for i := boxYVector(out, sum, lo, hi, first, alpha, inv); i < len(out); i++ {
			out[i] = (sum[i] + float32(alpha*(lo[i]+hi[i]))) * inv
			sum[i] += hi[i] - first[i]
		}
	}
}
