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

func TestFFT2RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	w, h := 12, 7
	z := make([]complex128, w*h)
	for i := range z {
		z[i] = complex(rng.NormFloat64(), rng.NormFloat64())
	}
	orig := append([]complex128(nil), z...)
	fft2(z, w, h, false)
	want := real(orig[0]) // the DC term is the sum
	for _, v := range orig[1:] {
		want += real(v)
	}
	if math.Abs(real(z[0])-want) > 1e-9 {
		t.Fatalf("DC = %v, want %v", real(z[0]), want)
	}
	fft2(z, w, h, true)
	for i := range z {
		if cmplx.Abs(z[i]-orig[i]) > 1e-12 {
			t.Fatalf("round trip [%d] = %v, want %v", i, z[i], orig[i])
		}
	}
}
