package perturb

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
)

// dft2Real is the 2-D DFT of a real plane (realFFT2, shared with the frost textures).
func dft2Real(z []float64, w, h int) []complex128 { return realFFT2(z, w, h) }

// power2D returns |DFT2(z)|^2 for a real h x w plane.
func power2D(z []float64, w, h int) []float64 {
	f := dft2Real(z, w, h)
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = real(v)*real(v) + imag(v)*imag(v)
	}
	return out
}

// fftFreq is numpy.fft.fftfreq(n)[i]: i/n for the first half, (i-n)/n for the second.
func fftFreq(i, n int) float64 {
	if i <= (n-1)/2 {
		return float64(i) / float64(n)
	}
	return float64(i-n) / float64(n)
}

func TestFFTFreq(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []float64
	}{
		{4, []float64{0, .25, -.5, -.25}},
		{5, []float64{0, .2, .4, -.4, -.2}},
	} {
		for i, w := range tc.want {
			if got := fftFreq(i, tc.n); math.Abs(got-w) > 1e-15 {
				t.Errorf("fftFreq(%d, %d) = %v, want %v", i, tc.n, got, w)
			}
		}
	}
}

func TestPower2DMatchesTheDirectSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sz := range [][2]int{{6, 4}, {7, 5}, {8, 8}} {
		w, h := sz[0], sz[1]
		z := make([]float64, w*h)
		for i := range z {
			z[i] = rng.NormFloat64()
		}
		got := power2D(z, w, h)
		for v := range h {
			for u := range w {
				var s complex128
				for y := range h {
					for x := range w {
						s += complex(z[y*w+x], 0) * cmplx.Rect(1, -2*math.Pi*(float64(u*x)/float64(w)+float64(v*y)/float64(h)))
					}
				}
				want := real(s)*real(s) + imag(s)*imag(s)
				if math.Abs(got[v*w+u]-want) > 1e-9*max(1, want) {
					t.Fatalf("%dx%d: power[%d][%d] = %v, want %v", w, h, v, u, got[v*w+u], want)
				}
			}
		}
	}
}

func BenchmarkPower2D224(b *testing.B) {
	z := make([]float64, 224*224)
	for i := range z {
		z[i] = float64(i % 17)
	}
	for b.Loop() {
		power2D(z, 224, 224)
	}
}
