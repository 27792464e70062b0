package decode

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// TestTorchvisionGolden decodes the raw heads of testdata/nms_golden.json and compares with what
// a reference built on torchvision.ops (box_convert, batched_nms) keeps: same boxes, scores and
// classes in the same order (scripts/decode-golden.py).
func TestTorchvisionGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/nms_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Heads map[string]struct {
			Shape []int64   `json:"shape"`
			Data  []float32 `json:"data"`
		} `json:"heads"`
		Cases map[string]struct {
			Convention     Convention  `json:"convention"`
			Head           string      `json:"head"`
			ScoreThreshold float64     `json:"score_threshold"`
			IoUThreshold   float64     `json:"iou_threshold"`
			MaxDet         int         `json:"max_det"`
			MultiLabel     bool        `json:"multi_label"`
			Expected       [][]float64 `json:"expected"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) < 4 {
		t.Fatalf("%d golden cases, want 4", len(g.Cases))
	}
	for name, c := range g.Cases {
		t.Run(name, func(t *testing.T) {
			h := g.Heads[c.Head]
			d, err := Resolve([]Output{{Name: "output0", Shape: h.Shape}}, Config{
				Convention: c.Convention, ScoreThreshold: c.ScoreThreshold, IoUThreshold: c.IoUThreshold,
				MaxDetections: c.MaxDet, MultiLabel: c.MultiLabel,
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.Decode([]Tensor{{Name: "output0", Shape: h.Shape, F32: h.Data}}, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(got[0]) != len(c.Expected) {
				t.Fatalf("kept %d detections, torchvision %d", len(got[0]), len(c.Expected))
			}
			for i, want := range c.Expected {
				det := got[0][i]
				gotRow := []float64{det.X1, det.Y1, det.X2, det.Y2, det.Score, float64(det.Class)}
				for j := range want {
					// Scores are float32 products in the decoder, float64 in the reference.
					if math.Abs(gotRow[j]-want[j]) > 1e-6*math.Max(1, math.Abs(want[j])) {
						t.Fatalf("detection %d = %v, torchvision %v", i, gotRow, want)
					}
				}
			}
		})
	}
}
