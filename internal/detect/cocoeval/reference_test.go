package cocoeval

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/cvgate/cvgate/internal/detect/annot"
)

// tolerance is the agreement the package promises with pycocotools.
const tolerance = 1e-4

// loadCOCO reads a ground-truth file and a results file with the annot readers and pairs them.
func loadCOCO(t *testing.T, gtFile, resFile string) (*annot.Set, []Image) {
	t.Helper()
	set, err := annot.ReadCOCO(gtFile, annot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dets, err := annot.ReadCOCOResults(resFile, set, annot.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	images := make([]Image, len(set.Images))
	for i, im := range set.Images {
		images[i] = Image{GT: im.Objects, Dets: dets[i]}
	}
	return set, images
}

type referenceCase struct {
	Stats        map[string]float64 `json:"stats"`
	PerClassAP   map[string]float64 `json:"per_class_AP"`
	PerClassAP50 map[string]float64 `json:"per_class_AP50"`
	ResultsFile  string             `json:"results_file"`
}

// TestReferenceCases reproduces the six hand-checkable cases of the project's reference data
// (testdata/reference/README.md), whose numbers pycocotools 2.0 computed.
func TestReferenceCases(t *testing.T) {
	raw, err := os.ReadFile("testdata/reference/metrics_edge_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases map[string]referenceCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) != 6 {
		t.Fatalf("reference has %d cases, want 6", len(ref.Cases))
	}
	for name, c := range ref.Cases {
		t.Run(name, func(t *testing.T) {
			set, images := loadCOCO(t, "testdata/reference/edge_gt_mini.json", filepath.Join("testdata/reference", c.ResultsFile))
			e, err := Evaluate(images, DefaultParams(len(set.Classes)))
			if err != nil {
				t.Fatal(err)
			}
			s := e.Summary()
			for i, n := range StatNames {
				want, ok := c.Stats[n]
				if !ok {
					t.Fatalf("reference lacks %s", n)
				}
				if math.Abs(s.Stats[i]-want) > tolerance {
					t.Errorf("%s = %.6f, pycocotools %.6f", n, s.Stats[i], want)
				}
			}
			for k, name := range set.Classes {
				if got, want := s.PerClassAP[k], c.PerClassAP[name]; math.Abs(got-want) > tolerance {
					t.Errorf("class %s AP = %.6f, pycocotools %.6f", name, got, want)
				}
				if got, want := s.PerClassAP50[k], c.PerClassAP50[name]; math.Abs(got-want) > tolerance {
					t.Errorf("class %s AP50 = %.6f, pycocotools %.6f", name, got, want)
				}
			}
		})
	}
}
