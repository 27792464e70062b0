package checks

import (
	"slices"
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
	// hflip is clearly under 0.9, which settles the warning at the first look.
	if m["images"] != 50 || m["settled"] != 1 {
		t.Errorf("%g images (settled %g), want the first look of 50, settled", m["images"], m["settled"])
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

// TestInvarianceSequential: on clear cases the looks reach the verdict the whole sample does
// (budget_seconds 0: one look of the default 200 images), on fewer images, with the same
// predictions for the images both saw; near the threshold they run to the sample's size.
func TestInvarianceSequential(t *testing.T) {
	tests := []struct {
		name       string
		transforms []string
		min        float64
		wantImages float64
		wantStatus report.Status
	}{
		{"clearly below", []string{"hflip", "shift:0.05,0"}, 0.9, 50, report.StatusWarn},
		{"clearly above", []string{"shift:0.05,0", "brightness:0.1"}, 0.8, 50, report.StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := func(budget float64) *report.Result {
				cfg := config.Defaults()
				ri := &cfg.Thresholds.RobustInvariance
				ri.Transforms, ri.MinConsistency, ri.BudgetSeconds = tt.transforms, tt.min, budget
				return runCheck(t, RobustInvariance{}, testEnv(t, "mnist_cnn.onnx", "", "mnist", &cfg))
			}
			fixed, seq := run(0), run(1e6)
			if fixed.Status != tt.wantStatus || seq.Status != tt.wantStatus {
				t.Fatalf("status fixed %s (%s), sequential %s (%s), want %s", fixed.Status, fixed.Summary, seq.Status, seq.Summary, tt.wantStatus)
			}
			if fixed.Metrics["images"] != 200 || seq.Metrics["images"] != tt.wantImages || seq.Metrics["settled"] != 1 {
				t.Errorf("images fixed %g, sequential %g (settled %g), want 200 and %g, settled", fixed.Metrics["images"], seq.Metrics["images"], seq.Metrics["settled"], tt.wantImages)
			}
		})
	}
}

func TestInvSettled(t *testing.T) {
	level := 1 - invAlpha/3
	tests := []struct {
		name string
		same []int
		n    int
		min  float64
		want bool
	}{
		{"all clearly above", []int{50, 49}, 50, 0.8, true},
		{"one near the threshold", []int{50, 45}, 50, 0.9, false},
		{"one clearly below decides", []int{50, 20}, 50, 0.9, true},
		{"all at the threshold", []int{90, 90}, 100, 0.9, false},
	}
	for _, tt := range tests {
		if got := invSettled(tt.same, tt.n, tt.min, level); got != tt.want {
			t.Errorf("%s: invSettled(%v, %d, %g) = %v, want %v", tt.name, tt.same, tt.n, tt.min, got, tt.want)
		}
	}
	if got := invLooks(200); !slices.Equal(got, []int{50, 100, 200}) {
		t.Errorf("invLooks(200) = %v", got)
	}
	if got := invLooks(30); !slices.Equal(got, []int{30}) {
		t.Errorf("invLooks(30) = %v", got)
	}
}
