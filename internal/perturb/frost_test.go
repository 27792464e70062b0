package perturb

import (
	"math"
	"path/filepath"
	"slices"
	"testing"
)

type frostStats struct {
	Centres  []float64 `json:"psd_bin_centres"`
	Levels   []float64 `json:"quantile_levels"`
	Textures []struct {
		Name      string       `json:"name"`
		Weight    int          `json:"weight"`
		Quantiles []float64    `json:"luma_quantiles"`
		PSD       []float64    `json:"psd"`
		Colour    [][2]float64 `json:"colour_fit"`
	} `json:"textures"`
}

// TestFrostVariantsAreTheMeasuredOnes keeps the Go tables equal to what the script measured.
func TestFrostVariantsAreTheMeasuredOnes(t *testing.T) {
	var g frostStats
	readGolden(t, filepath.Join("testdata", "frost_stats.json"), &g)
	if len(g.Textures) != len(frostVariants) {
		t.Fatalf("%d textures measured, %d variants", len(g.Textures), len(frostVariants))
	}
	rel := func(a, b float64) bool { return math.Abs(a-b) <= 1e-4*math.Abs(b)+1e-3 }
	for k, l := range g.Levels {
		if math.Abs(frostLevel(k)-l) > 1e-12 {
			t.Errorf("quantile level %d = %v, the script uses %v", k, frostLevel(k), l)
		}
	}
	if len(g.Levels) != frostLevels {
		t.Errorf("the script stores %d quantiles, want %d", len(g.Levels), frostLevels)
	}
	weights := 0
	for i, m := range g.Textures {
		v := &frostVariants[i]
		weights += v.weight
		if v.name != m.Name || v.weight != m.Weight {
			t.Errorf("variant %d is %s x%d, measured %s x%d", i, v.name, v.weight, m.Name, m.Weight)
		}
		for k, q := range m.Quantiles {
			if !rel(float64(v.quantiles[k]), q) {
				t.Errorf("%s quantile %d = %v, measured %v", v.name, k, v.quantiles[k], q)
			}
		}
		for k, p := range m.PSD {
			if !rel(v.psd[k], p) || !rel(frostPSDCentres[k], g.Centres[k]) {
				t.Errorf("%s psd %d = %v at %v, measured %v at %v", v.name, k, v.psd[k], frostPSDCentres[k], p, g.Centres[k])
			}
		}
		for k, ab := range m.Colour {
			if !rel(float64(v.colour[k][0]), ab[0]) || !rel(float64(v.colour[k][1]), ab[1]) {
				t.Errorf("%s colour %d = %v, measured %v", v.name, k, v.colour[k], ab)
			}
		}
	}
	if weights != frostDraws {
		t.Errorf("variant weights sum to %d, want %d", weights, frostDraws)
	}
}

// TestFrostTextureMatchesTheReferenceStatistics checks what the calibration achieves: each
// texture's luma histogram and power spectrum are the photograph's.
func TestFrostTextureMatchesTheReferenceStatistics(t *testing.T) {
	textures := frostTextures()
	again := newFrostLayer(&frostVariants[0], frostSeed)
	if !slices.Equal(textures[0].rgb, again.rgb) {
		t.Fatal("frost texture is not reproducible from its seed")
	}
	for i, tex := range textures {
		v := &frostVariants[i]
		t.Run(v.name, func(t *testing.T) {
			w, h := tex.w, tex.h
			n := w * h
			lum := make([]float64, n)
			for j := range lum {
				p := tex.rgb[3*j : 3*j+3]
				lum[j] = 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
			}
			sorted := slices.Sorted(slices.Values(lum))
			for k := 1; k < len(v.quantiles)-1; k++ {
				got := sorted[int(frostLevel(k)*float64(n-1))]
				// 8-bit colour and its clipping move the luma by a few levels at most.
				if d := got - float64(v.quantiles[k]); math.Abs(d) > 3 {
					t.Errorf("luma quantile %.4f = %.1f, photograph %.1f", frostLevel(k), got, v.quantiles[k])
				}
			}
			var mean float64
			for _, l := range lum {
				mean += l / float64(n)
			}
			for j := range lum {
				lum[j] -= mean
			}
			// The texture is periodic, so its DFT needs no window: |F|^2/n estimates the PSD.
			p := power2D(lum, w, h)
			var sums [len(frostPSDCentres)]float64
			var counts [len(frostPSDCentres)]int
			for y := range h {
				for x := range w {
					f := math.Hypot(freqOf(y, h), freqOf(x, w))
					k := int(math.Floor(2 * math.Log2(f*1024)))
					if k >= 0 && k < len(sums) && f > math.Pow(2, float64(k)/2)/1024 {
						sums[k] += p[y*w+x] / float64(n)
						counts[k]++
					}
				}
			}
			for k := range sums {
				// Skipped: bins with too few frequencies to estimate, bins not measured, the lowest
				// frequencies (bins reaching below 1/224, where the photograph's excess variance goes) and the
				// corner bin (above 0.45: under 0.1% of the energy, where ranking to a histogram
				// leaves a staircase).
				if counts[k] < 8 || v.psd[k] == 0 || frostPSDCentres[k]*math.Pow(2, -0.25) < frostLowFreq || frostPSDCentres[k] > 0.45 {
					continue
				}
				got := sums[k] / float64(counts[k])
				if r := got / v.psd[k]; r < 0.7 || r > 1.4 {
					t.Errorf("PSD at %.4f cycles/px = %.4g, photograph %.4g (ratio %.2f)", frostPSDCentres[k], got, v.psd[k], r)
				}
			}
		})
	}
}

func BenchmarkFrostTextures(b *testing.B) {
	for b.Loop() {
		for i := range frostVariants {
			newFrostLayer(&frostVariants[i], frostSeed+uint64(i))
		}
	}
}
