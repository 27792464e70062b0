package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBatchMedianIntervalReference compares with numpy and scipy (testdata/batch_median.json).
func TestBatchMedianIntervalReference(t *testing.T) {
	var cases []struct {
		X                []float64
		Batches          int
		Level            float64
		Estimate, Lo, Hi float64
	}
	loadReference(t, "batch_median.json", &cases)
	if len(cases) == 0 {
		t.Fatal("no reference cases")
	}
	for _, c := range cases {
		iv, err := BatchMedianInterval(c.X, c.Batches, c.Level)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, "estimate", iv.Estimate, c.Estimate, 1e-14)
		assertNear(t, "lo", iv.Lo, c.Lo, 1e-11)
		assertNear(t, "hi", iv.Hi, c.Hi, 1e-11)
	}
}

func TestBatchMedianIntervalRejects(t *testing.T) {
	_, err := BatchMedianInterval(nil, 2, 0.95)
	assertErr(t, err, ErrEmpty, "batch median")
	_, err = BatchMedianInterval([]float64{1, 2, 3}, 4, 0.95)
	assertErr(t, err, ErrInvalidArgument, "4 batches")
	_, err = BatchMedianInterval([]float64{1, 2, 3}, 1, 0.95)
	assertErr(t, err, ErrInvalidArgument, "1 batches")
	_, err = BatchMedianInterval([]float64{1, math.NaN(), 3}, 2, 0.95)
	assertErr(t, err, ErrInvalidArgument, "index 1")
	_, err = BatchMedianInterval([]float64{1, 2, 3}, 2, 1)
	assertErr(t, err, ErrInvalidArgument, "level")
}

// bursty simulates log latency ratios of two equal models on a loaded machine: mostly small noise,
// and bursts of load lasting many rounds during which one model's rounds are slowed (which model
// is a coin toss per burst), 3 to 12 rounds long and covering about a fifth of the rounds.
// Consecutive rounds are therefore correlated, over spans shorter than a batch.
func bursty(r *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := 0; i < n; {
		if r.Float64() < 0.03 {
			length := 3 + r.IntN(10)
			sign := 1.0
			if r.IntN(2) == 0 {
				sign = -1
			}
			for j := 0; j < length && i < n; j, i = j+1, i+1 {
				x[i] = sign*0.15 + 0.05*r.NormFloat64()
			}
			continue
		}
		x[i] = 0.02 * r.NormFloat64()
		i++
	}
	return x
}

// TestBatchMedianCoverage: on series with bursts spanning several rounds, the batch-median
// interval covers the true centre (0) at about its nominal 95%, while a percentile bootstrap that
// resamples rounds independently, the method it replaces in model.latency, covers far less often.
func TestBatchMedianCoverage(t *testing.T) {
	const series, n = 200, 200
	r := rand.New(rand.NewPCG(11, 12))
	batchMiss, iidMiss := 0, 0
	for s := range series {
		x := bursty(r, n)
		iv, err := BatchMedianInterval(x, 10, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		if iv.Lo > 0 || iv.Hi < 0 {
			batchMiss++
		}
		buf := make([]float64, n)
		median := func(idx []int) float64 {
			for j, i := range idx {
				buf[j] = x[i]
			}
			slices.Sort(buf)
			return quantileSorted(buf, 0.5)
		}
		boot, err := BootstrapIndices(n, median, BootstrapOptions{Seed: uint64(s), Resamples: 400})
		if err != nil {
			t.Fatal(err)
		}
		if boot.Lo > 0 || boot.Hi < 0 {
			iidMiss++
		}
	}
	batchRate, iidRate := float64(batchMiss)/series, float64(iidMiss)/series
	t.Logf("intervals missing the true centre: batch medians %.1f%%, independent bootstrap %.1f%% (nominal 5%%)", 100*batchRate, 100*iidRate)
	if batchRate > 0.08 {
		t.Errorf("batch-median interval missed %.1f%% of the time, want about 5%%", 100*batchRate)
	}
	if iidRate < 2*batchRate || iidRate < 0.1 {
		t.Errorf("the independent bootstrap missed only %.1f%%: the simulated bursts are not testing dependence", 100*iidRate)
	}
}
