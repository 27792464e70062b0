package attack

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/imaging"
)

// timedOracle measures the time spent inside the oracle, so that benchmarks can report the
// attack's own share of the wall time.
type timedOracle struct {
	Oracle
	images int
	spent  time.Duration
}

func (o *timedOracle) Probs(ctx context.Context, imgs []*imaging.Float) ([][]float32, error) {
	start := time.Now()
	defer func() { o.spent += time.Since(start) }()
	o.images += len(imgs)
	return o.Oracle.Probs(ctx, imgs)
}

func reportOverhead(b *testing.B, o *timedOracle, start time.Time) {
	b.Helper()
	total := time.Since(start)
	b.ReportMetric(float64(o.images)/float64(b.N), "queries/op")
	b.ReportMetric(float64((total-o.spent).Milliseconds())/float64(b.N), "attack-ms/op")
	b.ReportMetric(float64(o.spent.Milliseconds())/float64(b.N), "oracle-ms/op")
}

// The benchmarks attack 100 MNIST-size images of a linear model, whose forward pass is cheap, so
// that they measure the attacks' own overhead: candidate generation, bookkeeping and batching.

func BenchmarkSquare(b *testing.B) {
	m := newLinearModel(1, 10, 28*28, 3)
	imgs := randomImages(1, 100, 28, 28, 1, 0, 1)
	labels := modelLabels(m, imgs)
	counter := &timedOracle{Oracle: m}
	var s Summary
	start := time.Now()
	for b.Loop() {
		outs, err := Square(b.Context(), counter, imgs, labels, SquareConfig{Epsilon: 0.05, MaxQueries: 1000, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		s = Summarize(outs)
	}
	reportOverhead(b, counter, start)
	b.ReportMetric(s.SuccessRate, "success")
	b.ReportMetric(s.MedianQueries, "median-queries")
}

func BenchmarkHSJ(b *testing.B) {
	m := newLinearModel(1, 10, 28*28, 3)
	imgs := randomImages(1, 100, 28, 28, 1, 0, 1)
	labels := modelLabels(m, imgs)
	counter := &timedOracle{Oracle: m}
	var s Summary
	start := time.Now()
	for b.Loop() {
		outs, err := HopSkipJump(b.Context(), counter, imgs, labels, HSJConfig{Epsilon: math.Inf(1), MaxQueries: 1000, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		s = Summarize(outs)
	}
	reportOverhead(b, counter, start)
	b.ReportMetric(s.SuccessRate, "success")
	b.ReportMetric(s.MedianL2, "median-L2")
}

// BenchmarkSignProbe fills one MNIST-size gradient-estimation probe: HopSkipJump fills thousands
// per image, so this is its hottest loop outside the oracle.
func BenchmarkSignProbe(b *testing.B) {
	cur := randomImages(1, 1, 28, 28, 1, 0, 1)[0].Pix
	dst := make([]float32, len(cur))
	var c probeCorners
	c.set(cur, 0.001)
	src := imageSource(1, 0)
	for b.Loop() {
		signProbe(src, &c, dst)
	}
}
