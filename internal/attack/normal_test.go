package attack

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestNormals compares the ziggurat's output with the standard normal distribution: moments, the
// tail beyond the base layer (drawn by a separate path), and the largest gap between the empirical
// and the exact CDF over a grid (a Kolmogorov-Smirnov statistic; for n = 1e6 the 1% critical
// value is 1.63/sqrt(n) = 0.0016).
func TestNormals(t *testing.T) {
	const n = 1_000_000
	v := make([]float32, n+1) // odd length exercises the last unpaired deviate
	normals(rand.NewPCG(1, 2), v)
	v = v[:n]
	var sum, sum2, sum4 float64
	tail := 0
	grid := make([]int, 121) // counts of x <= -6 + 0.1*g
	for _, x := range v {
		f := float64(x)
		sum += f
		sum2 += f * f
		sum4 += f * f * f * f
		if math.Abs(f) > zigR {
			tail++
		}
		for g := max(0, int(math.Ceil((f+6)/0.1))); g < len(grid); g++ {
			grid[g]++
		}
	}
	mean, variance := sum/n, sum2/n
	if math.Abs(mean) > 0.005 || math.Abs(variance-1) > 0.005 || math.Abs(sum4/n-3) > 0.05 {
		t.Errorf("mean %g, variance %g, fourth moment %g; want 0, 1, 3", mean, variance, sum4/n)
	}
	wantTail := math.Erfc(zigR/math.Sqrt2) * n // two-sided
	if math.Abs(float64(tail)-wantTail) > 5*math.Sqrt(wantTail) {
		t.Errorf("%d deviates beyond %g, want about %.0f", tail, zigR, wantTail)
	}
	var ks float64
	for g, c := range grid {
		x := -6 + 0.1*float64(g)
		ks = max(ks, math.Abs(float64(c)/n-0.5*math.Erfc(-x/math.Sqrt2)))
	}
	if ks > 0.0016 {
		t.Errorf("largest CDF gap %g, want < 0.0016", ks)
	}
}

func BenchmarkNormals(b *testing.B) {
	src := rand.NewPCG(1, 2)
	v := make([]float32, 784)
	for b.Loop() {
		normals(src, v)
	}
}

func BenchmarkNormFloat64(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	v := make([]float32, 784)
	for b.Loop() {
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
	}
}
