package stats

import (
	"math"
	"math/big"
	"testing"
)

// exactBinomialPMF computes P(X = k) for X ~ Bin(n, p) with exact integer binomial coefficients
// (math/big), independently of the sampler's recurrences.
func exactBinomialPMF(k, n int, p float64) float64 {
	c, _ := new(big.Float).SetInt(new(big.Int).Binomial(int64(n), int64(k))).Float64()
	return c * math.Pow(p, float64(k)) * math.Pow(1-p, float64(n-k))
}

// TestBinomialSamplerGoodnessOfFit draws many variates from each code path of the sampler
// (inversion from zero, from the mode, the p > 1/2 mirror, and the point masses) and compares the
// histogram with the exact pmf by Pearson's chi-square, pooling outcomes with small expected counts.
// With fixed seeds the test is deterministic; a correct sampler fails each case with
// probability 1e-4 over seeds, and a sampler off by even a few percent in one outcome fails surely.
func TestBinomialSamplerGoodnessOfFit(t *testing.T) {
	const draws = 200_000
	tests := []struct {
		name string
		n    int
		p    float64
	}{
		{"from zero", 30, 0.2},
		{"from zero tiny p", 10_000, 0.0005},
		{"from mode", 200, 0.3},
		{"from mode large n", 10_000, 0.05},
		{"mirror", 50, 0.9},
		{"mirror from zero", 40, 0.97},
		{"half", 101, 0.5},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRand(uint64(100 + i))
			d := newBinomialDist(tt.n, tt.p)
			counts := make([]int, tt.n+1)
			sum, sumSq := 0.0, 0.0
			for range draws {
				x := d.sample(r)
				if x < 0 || x > tt.n {
					t.Fatalf("draw %d outside [0,%d]", x, tt.n)
				}
				counts[x]++
				sum += float64(x)
				sumSq += float64(x) * float64(x)
			}
			// Pool consecutive outcomes until each cell expects at least 20 draws. Outcomes beyond 12
			// standard deviations (mass < 1e-30) join the outermost cells without an exact pmf.
			sd := math.Sqrt(float64(tt.n) * tt.p * (1 - tt.p))
			lo := max(0, int(float64(tt.n)*tt.p-12*sd))
			hi := min(tt.n, int(float64(tt.n)*tt.p+12*sd)+1)
			stat, cells := 0.0, 0
			obs, exp := 0.0, 0.0
			for k := 0; k <= tt.n; k++ {
				obs += float64(counts[k])
				if k >= lo && k <= hi {
					exp += draws * exactBinomialPMF(k, tt.n, tt.p)
				}
				if (exp >= 20 && k >= lo && k < hi) || k == tt.n {
					stat += (obs - exp) * (obs - exp) / math.Max(exp, 1e-300)
					cells++
					obs, exp = 0, 0
				}
			}
			p := ChiSquareSurvival(stat, float64(cells-1))
			if p < 1e-4 {
				t.Errorf("chi-square %.1f on %d cells, p = %.2g", stat, cells, p)
			}
			mean := sum / draws
			wantMean := float64(tt.n) * tt.p
			wantVar := wantMean * (1 - tt.p)
			if se := math.Sqrt(wantVar / draws); math.Abs(mean-wantMean) > 4*se {
				t.Errorf("mean %v, want %v +- %v", mean, wantMean, 4*se)
			}
			variance := sumSq/draws - mean*mean
			if math.Abs(variance/wantVar-1) > 0.03 {
				t.Errorf("variance %v, want %v", variance, wantVar)
			}
		})
	}
}

func TestBinomialSamplerEdges(t *testing.T) {
	r := newRand(1)
	for _, tt := range []struct {
		n    int
		p    float64
		want int
	}{{0, 0.5, 0}, {10, 0, 0}, {10, 1, 10}, {-3, 0.5, 0}} {
		if got := binomial(r, tt.n, tt.p); got != tt.want {
			t.Errorf("binomial(%d, %v) = %d, want %d", tt.n, tt.p, got, tt.want)
		}
	}
}

func TestMultinomial(t *testing.T) {
	// All regimes: binomials then single items, mostly single items, and binomials only (a total
	// too large for the lookup table). Each count is Bin(total, w/total), so its mean over draws
	// must be w within 4 standard errors, and its variance w(1-w/total) within 15%.
	tests := []struct {
		name    string
		weights []int
		draws   int
	}{
		{"mixed", []int{50, 0, 30, 15, 5}, 20_000},
		{"single items", []int{400, 200, 9, 8, 7, 6, 5, 4, 3, 3, 2, 2, 1, 1, 0, 1}, 20_000},
		{"binomials only", []int{3_000_000, 1_500_000, 0, 500_000}, 2_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRand(3)
			m := newMultinomial(tt.weights)
			out := make([]int, len(tt.weights))
			sum := make([]float64, len(tt.weights))
			sumSq := make([]float64, len(tt.weights))
			for range tt.draws {
				m.draw(r, out)
				total := 0
				for i, v := range out {
					total += v
					sum[i] += float64(v)
					sumSq[i] += float64(v) * float64(v)
					if tt.weights[i] == 0 && v != 0 {
						t.Fatalf("empty category %d got %d", i, v)
					}
				}
				if total != m.total {
					t.Fatalf("draw %v has total %d, want %d", out, total, m.total)
				}
			}
			n, draws := float64(m.total), float64(tt.draws)
			for i, w := range tt.weights {
				wantVar := float64(w) * (1 - float64(w)/n)
				mean := sum[i] / draws
				if math.Abs(mean-float64(w)) > 4*math.Sqrt(wantVar/draws)+1e-12 {
					t.Errorf("category %d: mean count %v, want %d", i, mean, w)
				}
				if v := sumSq[i]/draws - mean*mean; w > 0 && math.Abs(v/wantVar-1) > 0.15 {
					t.Errorf("category %d: variance %v, want %v", i, v, wantVar)
				}
			}
			t.Logf("switch to single items at category %d of %d", m.switchAt, len(tt.weights))
		})
	}
}
