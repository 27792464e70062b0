package checks

import (
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/report"
)

// TestInvarianceFlipsAndShifts uses a negative and a positive control. Mirroring a digit makes
// another glyph (2, 3, 4, 5, 6, 7 and 9 are not symmetric), so most predictions must flip; a
// shift by 5% of the width (about one pixel) is the kind of change MNIST's own centring jitter
// shows the model, so almost none may.
func TestInvarianceFlipsAndShifts(t *testing.T) {
	cfg := config.Defaults()
	cfg.Thresholds.RobustInvariance.Transforms = []string{"hflip", "shift:0.05,0"}
	env := testEnv(t, "mnist_cnn.onnx", "mnist_weak.onnx", "mnist", &cfg)
	res := runCheck(t, RobustInvariance{}, env)
	m := res.Metrics
	if c := m["hflip.consistency"]; c > 0.6 {
		t.Errorf("hflip consistency %.3f, want most digits to change class (< 0.6)", c)
	}
	if c := m["shift:0.05,0.consistency"]; c < 0.9 {
		t.Errorf("shift consistency %.3f, want at least 0.9", c)
	}
	if got, want := m["hflip.flip_share"], 1-m["hflip.consistency"]; got != want {
		t.Errorf("flip share %g, want %g", got, want)
	}
	if m["any_flip_share"] < m["hflip.flip_share"] {
		t.Errorf("share flipping under any transform %g is below hflip's alone %g", m["any_flip_share"], m["hflip.flip_share"])
	}
	if m["images"] != 200 {
		t.Errorf("%g images, want the default sample of 200", m["images"])
	}
	if res.Status != report.StatusWarn || !strings.Contains(res.Summary, "hflip") || strings.Contains(res.Summary, "shift:0.05,0 ") {
		t.Errorf("status %s, want a warning naming hflip only: %s", res.Status, res.Summary)
	}
	if _, ok := res.BaselineMetrics["hflip.consistency"]; !ok {
		t.Error("no baseline consistency")
	}
	assertExported(t, env, res, IDRobustInvariance, "hflip")
}

func TestInvarianceDefaultsPassOnTheDemoAndNeedNoLabels(t *testing.T) {
	env := testEnv(t, "mnist_cnn.onnx", "", "mnist", nil)
	res := runCheck(t, RobustInvariance{}, env)
	if res.Status != report.StatusPass {
		t.Errorf("status %s, want pass: %s", res.Status, res.Summary)
	}
	env2 := testEnv(t, "mnist_cnn.onnx", "", "mnist", nil)
	env2.Data.Classes = nil
	res2 := runCheck(t, RobustInvariance{}, env2)
	if _, ok := res2.Metrics["clean_accuracy"]; ok {
		t.Error("accuracy reported without labels")
	}
	if res2.Metrics["min_consistency"] <= 0 {
		t.Errorf("no consistency without labels: %v", res2.Metrics)
	}
}
