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

// fft2 transforms a w x h complex plane (row-major) in place, forward or inverse (the inverse
// divides by w*h, so fft2(fft2(z), inverse) = z).
func fft2(z []complex128, w, h int, inverse bool) {
	pw, ph := newFFTPlan(w), newFFTPlan(h)
	in := make([]complex128, max(w, h))
	out := make([]complex128, max(w, h))
	conj := func(v []complex128) {
		if inverse {
			for i := range v {
				v[i] = cmplx.Conj(v[i])
			}
		}
	}
	// The inverse is conj(DFT(conj(z)))/n.
	conj(z)
	for y := range h {
		copy(in[:w], z[y*w:(y+1)*w])
		pw.transform(out[:w], in[:w])
		copy(z[y*w:(y+1)*w], out[:w])
	}
	for x := range w {
		for y := range h {
			in[y] = z[y*w+x]
		}
		ph.transform(out[:h], in[:h])
		for y := range h {
			z[y*w+x] = out[y]
		}
	}
	conj(z)
	if inverse {
		inv := complex(1/float64(w*h), 0)
		for i := range z {
			z[i] *= inv
		}
	}
}
