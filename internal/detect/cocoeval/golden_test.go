package cocoeval

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type goldenCase struct {
	Note             string             `json:"note"`
	GTFile           string             `json:"gt_file"`
	ResultsFile      string             `json:"results_file"`
	Stats            map[string]float64 `json:"stats"`
	IoUThresholds    []float64          `json:"iou_thresholds"`
	RecallThresholds []float64          `json:"recall_thresholds"`
	MaxDets          []int              `json:"max_dets"`
	NumGT            int                `json:"num_gt"`
	NumDetections    int                `json:"num_detections"`
	PerClass         []struct {
		CategoryID  int64     `json:"category_id"`
		AP          float64   `json:"AP"`
		AP50        float64   `json:"AP50"`
		AP75        float64   `json:"AP75"`
		AR          float64   `json:"AR"`
		Precision50 []float64 `json:"precision50"`
		Scores50    []float64 `json:"scores50"`
	} `json:"per_class"`
}

// TestGoldenPycocotools compares every number pycocotools computed on the generated cases of
// testdata/golden (scripts/coco-golden.py: crowds, 80 classes with COCO's id gaps, cut-offs,
// custom cut-offs, empty images, score ties, integer boxes on the IoU and area boundaries).
func TestGoldenPycocotools(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*_expected.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("found %d golden cases, want at least 8 (regenerate with scripts/coco-golden.py)", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), "_expected.json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var c goldenCase
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			set, images := loadCOCO(t, filepath.Join("testdata/golden", c.GTFile), filepath.Join("testdata/golden", c.ResultsFile))
			p := DefaultParams(len(set.Classes))
			p.MaxDets = c.MaxDets
			// The thresholds must be numpy's to the bit: IoUs and recalls are compared with them.
			for i, v := range p.IoUThresholds {
				if v != c.IoUThresholds[i] {
					t.Errorf("IoU threshold %d = %v, numpy %v", i, v, c.IoUThresholds[i])
				}
			}
			for i, v := range RecallThresholds() {
				if v != c.RecallThresholds[i] {
					t.Errorf("recall threshold %d = %v, numpy %v", i, v, c.RecallThresholds[i])
				}
			}
			e, err := Evaluate(images, p)
			if err != nil {
				t.Fatal(err)
			}
			s := e.Summary()
			for i, n := range StatNames {
				if want := c.Stats[n]; math.Abs(s.Stats[i]-want) > tolerance {
					t.Errorf("%s = %.6f, pycocotools %.6f", n, s.Stats[i], want)
				}
			}
			if len(c.PerClass) != len(set.Classes) {
				t.Fatalf("golden has %d classes, the set %d", len(c.PerClass), len(set.Classes))
			}
			gt := 0
			for k, pc := range c.PerClass {
				if set.CategoryIDs[k] != pc.CategoryID {
					t.Fatalf("class %d is category %d, golden %d", k, set.CategoryIDs[k], pc.CategoryID)
				}
				gt += s.NumGT[k]
				for _, v := range []struct {
					what      string
					got, want float64
				}{{"AP", s.PerClassAP[k], pc.AP}, {"AP50", s.PerClassAP50[k], pc.AP50}, {"AP75", s.PerClassAP75[k], pc.AP75}, {"AR", s.PerClassAR[k], pc.AR}} {
					if math.Abs(v.got-v.want) > tolerance {
						t.Errorf("category %d %s = %.6f, pycocotools %.6f", pc.CategoryID, v.what, v.got, v.want)
					}
				}
				curve, err := e.PRCurve(k, 0.5)
				if err != nil {
					t.Fatal(err)
				}
				if !curve.Defined {
					if pc.Precision50[0] != -1 {
						t.Errorf("category %d: no curve, pycocotools has one", pc.CategoryID)
					}
					continue
				}
				for r := range curve.Precision {
					if math.Abs(curve.Precision[r]-pc.Precision50[r]) > tolerance || math.Abs(curve.Score[r]-pc.Scores50[r]) > tolerance {
						t.Errorf("category %d recall %.2f: precision %.6f score %.6f, pycocotools %.6f %.6f",
							pc.CategoryID, curve.Recall[r], curve.Precision[r], curve.Score[r], pc.Precision50[r], pc.Scores50[r])
						break
					}
				}
			}
			if gt > c.NumGT {
				t.Errorf("%d non-ignored objects, more than the %d annotations", gt, c.NumGT)
			}
		})
	}
}
