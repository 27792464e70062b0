package checks

import (
	"context"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/report"
)

// driftEnv is a drift Env: reference images as Env.Reference, current images as Env.Data.
func driftEnv(t *testing.T, model, reference, current string, cfg *config.Config) *Env {
	t.Helper()
	env := testEnv(t, model, "", current, cfg)
	l, err := dataset.List(reference)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := dataset.Load(context.Background(), l, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env.Reference = &Env{Config: cfg, Data: ds, Candidate: env.Candidate}
	return env
}

// TestDriftGuard: against a guard built from MNIST training digits, the MNIST test digits are
// flagged about as often as the target allows, and Fashion-MNIST almost always; without a model
// the input checks alone still flag the clothes.
func TestDriftGuard(t *testing.T) {
	cfg := config.Defaults()
	cfg.Thresholds.RobustGuard.TargetFRR = 0.05
	ref := mnistReference(t, 1000)
	tests := []struct {
		current string
		model   string
		status  report.Status
		lo, hi  float64
	}{
		{"mnist", "mnist_cnn.onnx", report.StatusPass, 0, 0.1},
		{"fashion", "mnist_cnn.onnx", report.StatusWarn, 0.9, 1},
		{"fashion", "", report.StatusWarn, 0.3, 1},
	}
	for _, tc := range tests {
		t.Run(tc.current+"/"+tc.model, func(t *testing.T) {
			model := tc.model
			if model == "" {
				model = "mnist_cnn.onnx" // testEnv needs one; it is removed below
			}
			env := driftEnv(t, model, ref, tc.current, &cfg)
			if tc.model == "" {
				env.Candidate, env.Reference.Candidate = nil, nil
			}
			res := runCheck(t, DriftGuard{}, env)
			share := res.Metrics["flagged_share"]
			t.Logf("%s", res.Summary)
			if res.Status != tc.status || share < tc.lo || share > tc.hi {
				t.Errorf("status %s, flagged %.3f: %s", res.Status, share, res.Summary)
			}
		})
	}
	env := testEnv(t, "mnist_cnn.onnx", "", "mnist", &cfg)
	if _, err := (DriftGuard{}).Run(context.Background(), env); err == nil || !strings.Contains(err.Error(), "no reference set") {
		t.Errorf("no reference: %v", err)
	}
}
