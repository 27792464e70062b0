package checks

import (
	"context"
	"math"
	"os"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/config"
)

func TestAdversarialSweep(t *testing.T) {
	if os.Getenv("CVGATE_ADV_SWEEP") == "" {
		t.Skip()
	}
	for _, eps := range []float64{0.5, 1, 2, math.Inf(1)} {
		for _, q := range []int{300, 1000} {
			cfg := config.Defaults()
			ra := &cfg.Thresholds.RobustAdversarial
			ra.EpsilonL2, ra.Sample, ra.MaxQueries, ra.Attacks = eps, 100, q, []string{"hopskipjump"}
			env := testEnv(t, "mnist_cnn.onnx", "mnist_weak.onnx", "mnist", &cfg)
			env.Export = nil
			env.Clean(context.Background())
			start := time.Now()
			res, err := RobustAdversarial{}.Run(context.Background(), env)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("eps %.3f q %d %v: %s | cand q %v base q %v 8bit %v %v | %s", eps, q, time.Since(start).Round(time.Millisecond), res.Summary, res.Metrics["hopskipjump_total_queries"], res.BaselineMetrics["hopskipjump_total_queries"], res.Metrics["hopskipjump_success_rate_8bit"], res.BaselineMetrics["hopskipjump_success_rate_8bit"], res.Details[len(res.Details)-1].Text)
		}
	}
}
