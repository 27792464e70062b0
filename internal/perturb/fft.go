package perturb

import (
	"math"
	"math/cmplx"
	"slices"
)

// fftPlan is a mixed-radix discrete Fourier transform (numpy's sign convention,
// sum_j a[j] exp(-2 pi i jk/n)) for any length, by decimation in time over the prime factors
// with a precomputed twiddle table. It serves one-time work (the frost textures) and the
// fidelity tests, not a hot path.
type fftPlan struct {
	n       int
	factors []int
	tw      []complex128 // exp(-2 pi i k/n)
	tmp     []complex128
}

func newFFTPlan(n int) *fftPlan {
	p := &fftPlan{n: n, tw: make([]complex128, n)}
	for k := range n {
		p.tw[k] = cmplx.Rect(1, -2*math.Pi*float64(k)/float64(n))
	}
	for m := n; m > 1; {
		f := smallestFactor(m)
		p.factors = append(p.factors, f)
		m /= f
	}
	// Largest factors at the top level, where they run once over long sub-transforms.
	slices.Reverse(p.factors)
	return p
}

// transform writes the DFT of in (length n) to out.
func (p *fftPlan) transform(out, in []complex128) {
	if p.n == 1 {
		out[0] = in[0]
		return
	}
	p.rec(out, in, p.n, 1, p.factors)
}

// rec writes to out[0:n] the DFT of in[0], in[stride], ..., in[(n-1)*stride].
func (p *fftPlan) rec(out, in []complex128, n, stride int, factors []int) {
	if n == 1 {
		out[0] = in[0]
		return
	}
	f := factors[0]
	m := n / f
	for r := range f {
		p.rec(out[r*m:(r+1)*m], in[r*stride:], m, stride*f, factors[1:])
	}
	step := p.n / n // twiddle W_n^j = tw[j*step]
	if f == 2 {
		for k := range m {
			a, b := out[k], out[m+k]*p.tw[k*step]
			out[k], out[m+k] = a+b, a-b
		}
		return
	}
	if cap(p.tmp) < f {
		p.tmp = make([]complex128, f)
	}
	tmp := p.tmp[:f]
	for k := range m {
		for q := range f {
			idx := k + q*m
			s := out[k]
			j := 0
			for r := 1; r < f; r++ {
				if j += idx; j >= n {
					j -= n
				}
				s += out[r*m+k] * p.tw[j*step]
			}
			tmp[q] = s
		}
		for q := range f {
			out[k+q*m] = tmp[q]
		}
	}
}

func smallestFactor(n int) int {
	for p := 2; p*p <= n; p++ {
		if n%p == 0 {
			return p
		}
	}
	return n
}

// realFFT2 returns the 2-D DFT of a real w x h plane (row-major), at about half the cost of a
// complex transform: rows are transformed in pairs packed as one complex row, and only the
// columns up to w/2 are transformed, the rest following from conjugate symmetry
// (F[-y][-x] = conj(F[y][x]) for real input).
func realFFT2(z []float64, w, h int) []complex128 {
	pw, ph := newFFTPlan(w), newFFTPlan(h)
	grid := make([]complex128, w*h)
	row, f := make([]complex128, w), make([]complex128, w)
	for y := 0; y < h; y += 2 {
		for x := range w {
			im := 0.0
			if y+1 < h {
				im = z[(y+1)*w+x]
			}
			row[x] = complex(z[y*w+x], im)
		}
		pw.transform(f, row)
		for x := range w {
			a, b := f[x], cmplx.Conj(f[(w-x)%w])
			grid[y*w+x] = (a + b) / 2
			if y+1 < h {
				grid[(y+1)*w+x] = (a - b) / complex(0, 2)
			}
		}
	}
	out := make([]complex128, w*h)
	col, g := make([]complex128, h), make([]complex128, h)
	for x := 0; x <= w/2; x++ {
		for y := range h {
			col[y] = grid[y*w+x]
		}
		ph.transform(g, col)
		for y := range h {
			out[y*w+x] = g[y]
			out[((h-y)%h)*w+(w-x)%w] = cmplx.Conj(g[y])
		}
	}
	return out
}

// realIFFT2 inverts realFFT2: f must be conjugate-symmetric (the spectrum of a real plane), and
// the result, real, is written to z. Half the columns are inverted and the rows go in pairs, as
// in realFFT2 (the inverse DFT is conj(DFT(conj(.)))/n).
func realIFFT2(z []float64, f []complex128, w, h int) {
	pw, ph := newFFTPlan(w), newFFTPlan(h)
	grid := make([]complex128, w*h)
	col, g := make([]complex128, h), make([]complex128, h)
	for x := 0; x <= w/2; x++ {
		for y := range h {
			col[y] = cmplx.Conj(f[y*w+x])
		}
		ph.transform(g, col)
		for y := range h {
			v := cmplx.Conj(g[y]) // column inverse, up to the 1/n
			grid[y*w+x] = v
			if x != 0 && 2*x != w {
				grid[y*w+w-x] = cmplx.Conj(v) // rows of a real plane's spectrum are symmetric
			}
		}
	}
	// Each row of grid is now the spectrum of a real row: invert two at once as a + i*b.
	row, out := make([]complex128, w), make([]complex128, w)
	inv := 1 / float64(w*h)
	for y := 0; y < h; y += 2 {
		for x := range w {
			v := grid[y*w+x]
			if y+1 < h {
				v += complex(0, 1) * grid[(y+1)*w+x]
			}
			row[x] = cmplx.Conj(v)
		}
		pw.transform(out, row)
		for x := range w {
			v := cmplx.Conj(out[x])
			z[y*w+x] = real(v) * inv
			if y+1 < h {
				z[(y+1)*w+x] = imag(v) * inv
			}
		}
	}
}
