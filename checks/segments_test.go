package checks

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/report"
)

// The coloured digits were drawn on background colours tied to the label during training, so the
// model leans on colour; on silver backgrounds (never a training shortcut) it is weakest:
// testdata/models/MODELS.md measures 0.433 there, 0.817 overall, on this very fixture.
func TestPerfSegmentsFindsTheColourSlice(t *testing.T) {
	env := analysedEnv(t, "mnist_rgb_color.onnx", fixture(t, "mnist_color/manifest.csv"), nil)
	res := run(t, PerfSegments{}, env)
	if res.Status != report.StatusWarn {
		t.Errorf("status %s, want warn: %s", res.Status, res.Summary)
	}
	rows := section(t, res, "Weakest slices (one feature)").Table.Rows
	if rows[0][0] != "background=silver" || rows[0][1] != "30" || rows[0][2] != "43.3%" || rows[0][4] == "" {
		t.Errorf("weakest slice %v, want background=silver, 30 images, 43.3%%, flagged", rows[0])
	}
	if got := res.Metrics["weakest_accuracy"]; got != 0.433333 {
		t.Errorf("weakest accuracy %g, want 13/30", got)
	}
	if !strings.Contains(res.Summary, "background=silver 43.3% (n=30)") {
		t.Errorf("summary should name the silver slice first: %s", res.Summary)
	}
	// The misclassified silver images are exported, most confident first.
	if res.Failures == nil || res.Failures.Total != 17 {
		t.Fatalf("failures %+v, want the 17 misclassified silver images", res.Failures)
	}
	index, err := os.ReadFile(filepath.Join(env.Out, res.Failures.Index))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(index), "background=silver"); n != 17 {
		t.Errorf("index.csv lists %d silver cases, want 17:\n%s", n, index)
	}
}

func TestPerfSegmentsNoWeakSliceOnMNIST(t *testing.T) {
	env := analysedEnv(t, "mnist_cnn.onnx", fixture(t, "mnist"), nil)
	res := run(t, PerfSegments{}, env)
	if res.Status != report.StatusPass || res.Metrics["flagged"] != 0 {
		t.Errorf("a 98%% model on MNIST has no slice below 0.8 x overall: %s %s", res.Status, res.Summary)
	}
	if res.Metrics["slices"] < 20 {
		t.Errorf("only %g slices", res.Metrics["slices"])
	}
}

func TestPerfSegmentsSettings(t *testing.T) {
	tests := []struct {
		name    string
		set     func(c *config.PerfSegments)
		wantErr string
		check   func(t *testing.T, res *report.Result)
	}{
		{name: "only one attribute", set: func(c *config.PerfSegments) {
			c.Attributes = []string{"background"}
			c.Properties = []string{"brightness"}
		},
			check: func(t *testing.T, res *report.Result) {
				if res.Metrics["features"] != 2 {
					t.Errorf("features %g, want 2", res.Metrics["features"])
				}
			}},
		{name: "unknown attribute", set: func(c *config.PerfSegments) { c.Attributes = []string{"camera"} }, wantErr: `"camera"`},
		{name: "unknown property", set: func(c *config.PerfSegments) { c.Properties = []string{"hue"} }, wantErr: `"hue"`},
		{name: "fail instead of warn", set: func(c *config.PerfSegments) { c.Fail = true },
			check: func(t *testing.T, res *report.Result) {
				if res.Status != report.StatusFail {
					t.Errorf("status %s, want fail", res.Status)
				}
			}},
		{name: "min size above every slice", set: func(c *config.PerfSegments) { c.MinSize = 1000 }, wantErr: "min_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultConfig()
			tt.set(&cfg.Thresholds.PerfSegments)
			env := analysedEnv(t, "mnist_rgb_color.onnx", fixture(t, "mnist_color/manifest.csv"), cfg)
			res, err := PerfSegments{}.Run(context.Background(), env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one mentioning %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, res)
		})
	}
}

func TestBinFeature(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		bins   int
		ok     bool
		groups []string
		counts []int
	}{
		{name: "quartiles", values: []float64{1, 2, 3, 4, 5, 6, 7, 8}, bins: 4, ok: true,
			groups: []string{"p <= 2.75", "p in (2.75, 4.5]", "p in (4.5, 6.25]", "p > 6.25"}, counts: []int{2, 2, 2, 2}},
		{name: "ties merge bins", values: []float64{0, 0, 0, 0, 0, 0, 1, 2}, bins: 4, ok: true,
			groups: []string{"p <= 0", "p > 0"}, counts: []int{6, 2}},
		{name: "constant", values: []float64{3, 3, 3, 3}, bins: 4, ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := binFeature("p", tt.values, tt.bins)
			if ok != tt.ok {
				t.Fatalf("ok = %v", ok)
			}
			if !ok {
				return
			}
			if !slices.Equal(f.groups, tt.groups) {
				t.Errorf("groups %q, want %q", f.groups, tt.groups)
			}
			counts := make([]int, len(f.groups))
			for _, g := range f.values {
				counts[g]++
			}
			if !slices.Equal(counts, tt.counts) {
				t.Errorf("counts %v, want %v", counts, tt.counts)
			}
		})
	}
}
