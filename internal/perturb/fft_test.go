package perturb

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
)

func TestFFTMatchesTheDirectSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 7, 12, 28, 32, 49} {
		a := make([]complex128, n)
		for i := range a {
			a[i] = complex(rng.NormFloat64(), rng.NormFloat64())
		}
		got := make([]complex128, n)
		newFFTPlan(n).transform(got, a)
		for k := range n {
			var want complex128
			for j, v := range a {
				want += v * cmplx.Rect(1, -2*math.Pi*float64(j*k)/float64(n))
			}
			if cmplx.Abs(got[k]-want) > 1e-9*float64(n) {
				t.Fatalf("n=%d: fft[%d] = %v, want %v", n, k, got[k], want)
			}
		}
	}
}

func TestRealFFT2RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sz := range [][2]int{{12, 7}, {8, 8}, {9, 5}, {1, 4}} {
		w, h := sz[0], sz[1]
		z := make([]float64, w*h)
		var sum float64
		for i := range z {
			z[i] = rng.NormFloat64()
			sum += z[i]
		}
		f := realFFT2(z, w, h)
		if math.Abs(real(f[0])-sum) > 1e-9 {
			t.Fatalf("%dx%d: DC = %v, want the sum %v", w, h, real(f[0]), sum)
		}
		// Against the direct 2-D sum at a few frequencies.
		for _, uv := range [][2]int{{1, 0}, {0, 1}, {w - 1, h / 2}, {w / 2, h - 1}} {
			u, v := uv[0]%w, uv[1]%h
			var want complex128
			for y := range h {
				for x := range w {
					want += complex(z[y*w+x], 0) * cmplx.Rect(1, -2*math.Pi*(float64(u*x)/float64(w)+float64(v*y)/float64(h)))
				}
			}
			if cmplx.Abs(f[v*w+u]-want) > 1e-9 {
				t.Fatalf("%dx%d: F[%d][%d] = %v, want %v", w, h, v, u, f[v*w+u], want)
			}
		}
		back := make([]float64, w*h)
		realIFFT2(back, f, w, h)
		for i := range z {
			if math.Abs(back[i]-z[i]) > 1e-12 {
				t.Fatalf("%dx%d: round trip [%d] = %v, want %v", w, h, i, back[i], z[i])
			}
		}
	}
}
