package checks

import (
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/report"
)

// TestAbnormalFlagsOverconfidentModels: the flattened MLP answers constant images and noise
// with near-certainty (one class for white, gray and noise alike), which must be flagged;
// mnist_constant returns the class prior (about 0.11) whatever the input, which is honest
// uncertainty and must not be; the CNN sits between and passes the default 20%.
func TestAbnormalFlagsOverconfidentModels(t *testing.T) {
	tests := []struct {
		model      string
		failShare  float64
		wantStatus report.Status
		check      func(t *testing.T, m map[string]float64)
	}{
		{model: "mnist_mlp_flat.onnx", wantStatus: report.StatusWarn, check: func(t *testing.T, m map[string]float64) {
			if m["uniform_noise.confident_share"] < 0.5 || m["gaussian_noise.confident_share"] < 0.5 {
				t.Errorf("noise confident shares %g and %g, want most noise answered confidently",
					m["uniform_noise.confident_share"], m["gaussian_noise.confident_share"])
			}
		}},
		{model: "mnist_mlp_flat.onnx", failShare: 0.3, wantStatus: report.StatusFail},
		{model: "mnist_constant.onnx", wantStatus: report.StatusPass, check: func(t *testing.T, m map[string]float64) {
			if m["confident_share"] != 0 {
				t.Errorf("confident share %g, want 0 for a model that always answers with the prior", m["confident_share"])
			}
		}},
		{model: "mnist_cnn.onnx", wantStatus: report.StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.Thresholds.RobustAbnormal.FailShare = tt.failShare
			env := testEnv(t, tt.model, "", "mnist", &cfg)
			res := runCheck(t, RobustAbnormal{}, env)
			if res.Status != tt.wantStatus {
				t.Errorf("status %s, want %s: %s", res.Status, tt.wantStatus, res.Summary)
			}
			m := res.Metrics
			for _, k := range []string{"blank", "white", "gray", "uniform_noise", "gaussian_noise", "inverted", "saturated", "wrong_range"} {
				if _, ok := m[k+".confident_share"]; !ok {
					t.Errorf("kind %s missing", k)
				}
			}
			if m["kinds"] != 8 {
				t.Errorf("%g kinds, want 8 for a gray model", m["kinds"])
			}
			if tt.check != nil {
				tt.check(t, m)
			}
			if tt.wantStatus != report.StatusPass {
				assertExported(t, env, res, IDRobustAbnormal, "")
			}
		})
	}
}

func TestAbnormalWithBaselineAndByteInput(t *testing.T) {
	env := testEnv(t, "mnist_nhwc_uint8.onnx", "mnist_mlp_flat.onnx", "mnist", nil)
	res := runCheck(t, RobustAbnormal{}, env)
	if _, ok := res.Metrics["wrong_range.confident_share"]; ok {
		t.Error("a wrong-range share for a model with 8-bit input")
	}
	if _, ok := res.BaselineMetrics["wrong_range.confident_share"]; !ok {
		t.Error("the float baseline has no wrong-range share")
	}
	var text string
	for _, s := range res.Details {
		text += s.Text
	}
	if !strings.Contains(text, "8-bit input") {
		t.Errorf("details do not say why wrong_range was left out: %s", text)
	}
	if res.BaselineMetrics["confident_share"] <= res.Metrics["confident_share"] || !strings.Contains(res.VsBaseline, "baseline") {
		t.Errorf("the MLP baseline should be the more overconfident: %s", res.VsBaseline)
	}
}
