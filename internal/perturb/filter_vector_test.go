package perturb

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFilterVectorMatchesScalar: the element-wise loops of filter.go give, on their vector
// kernels, the plain loops' results bit for bit, at every length around the vector width and on
// values that stress rounding (tiny, huge, subnormal, signed zeros, infinities; NaN anywhere
// gives NaN on both), in any build: GOAMD64=v3 lets Go fuse multiply-adds, which the loops
// forbid (see filter.go). Off amd64 both sides are the plain loops and the test checks little.
func TestFilterVectorMatchesScalar(t *testing.T) {
	if !filterVectorEnabled {
		t.Log("no vector kernels on this machine: both sides are the plain loops")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-45, 3e38, -3e38,
		float32(math.Inf(1)), float32(math.Inf(-1)), 1e-7, 0.1, 1 / 3.0}
	value := func() float32 {
		if rng.IntN(10) == 0 {
			return special[rng.IntN(len(special))]
		}
		return float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-3)))
	}
	slice := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = value()
		}
		return s
	}
	same := func(t *testing.T, what string, got, want []float32) {
		t.Helper()
		for i := range want {
			g, w := got[i], want[i]
			if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
				t.Fatalf("%s, length %d: element %d is %g (%#x), want %g (%#x)", what, len(want), i, g, math.Float32bits(g), w, math.Float32bits(w))
			}
		}
	}
	lengths := []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 64, 65, 672}
	for _, n := range lengths {
		for range 20 {
			a, b, c, e, d0 := slice(n), slice(n), slice(n), slice(n), slice(n)
			wa, wb, wc, we := value(), value(), value(), value()

			want, got := append([]float32(nil), d0...), append([]float32(nil), d0...)
			for i := range want {
				want[i] += float32(wa*a[i]) + float32(wb*b[i]) + float32(wc*c[i]) + float32(we*e[i])
			}
			add4(got, a, b, c, e, wa, wb, wc, we)
			same(t, "add4", got, want)

			// One row step of boxPassY (the window sum is updated in place).
			lo, hi, first, sum0 := slice(n), slice(n), slice(n), slice(n)
			alpha, inv := value(), value()
			wantOut, wantSum := make([]float32, n), append([]float32(nil), sum0...)
			for i := range wantOut {
				wantOut[i] = (wantSum[i] + float32(alpha*(lo[i]+hi[i]))) * inv
				wantSum[i] += hi[i] - first[i]
			}
			gotOut, gotSum := make([]float32, n), append([]float32(nil), sum0...)
			for i := boxYVector(gotOut, gotSum, lo, hi, first, alpha, inv); i < n; i++ {
				gotOut[i] = (gotSum[i] + float32(alpha*(lo[i]+hi[i]))) * inv
				gotSum[i] += hi[i] - first[i]
			}
			same(t, "boxPassY output", gotOut, wantOut)
			same(t, "boxPassY sum", gotSum, wantSum)

			// accumulateSymmetric with kernels of radius 1 to 4 (the set, add and tail loops).
			for r := 1; r <= 4; r++ {
				k := make([]float32, 2*r+1)
				for i := 0; i <= r; i++ {
					k[r-i] = value()
					k[r+i] = k[r-i]
				}
				srcs := make([][]float32, 2*r+1)
				for i := range srcs {
					srcs[i] = slice(n)
				}
				want := make([]float32, n)
				for i := range want {
					// The scalar order of accumulateSymmetric: centre and the two nearest pairs
					// first, then pairs of pairs, then a last pair.
					var v float32
					switch {
					case r >= 2:
						v = float32(k[r]*srcs[r][i]) + float32(k[r+1]*(srcs[r-1][i]+srcs[r+1][i])) + float32(k[r+2]*(srcs[r-2][i]+srcs[r+2][i]))
						tt := 3
						for ; tt+1 <= r; tt += 2 {
							v += float32(k[r+tt]*(srcs[r-tt][i]+srcs[r+tt][i])) + float32(k[r+tt+1]*(srcs[r-tt-1][i]+srcs[r+tt+1][i]))
						}
						if tt <= r {
							v += float32(k[r+tt] * (srcs[r-tt][i] + srcs[r+tt][i]))
						}
					default:
						v = float32(k[1]*srcs[1][i]) + float32(k[2]*(srcs[0][i]+srcs[2][i]))
					}
					want[i] = v
				}
				got := make([]float32, n)
				accumulateSymmetric(got, srcs, k)
				same(t, "accumulateSymmetric", got, want)
			}
		}
	}
}
