package metrics_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/segment"
	"github.com/cvgate/cvgate/internal/segment/mask"
	"github.com/cvgate/cvgate/internal/segment/metrics"
)

// The golden file is written by scripts/seg-golden.py, which computes every metric with numpy on
// masks built from MNIST digits; these tests read the same PNGs through the mask reader.

// nf is a float that JSON's null (numpy's NaN) decodes to NaN.
type nf float64

func (f *nf) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = nf(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = nf(v)
	return nil
}

type goldenRecord struct {
	Intersect []int64 `json:"intersect"`
	Label     []int64 `json:"label"`
	Pred      []int64 `json:"pred"`
	BI        []int64 `json:"bi"`
	BU        []int64 `json:"bu"`
	Valid     int64   `json:"valid"`
	Ignored   int64   `json:"ignored"`
}

type goldenComponent struct {
	Class          uint16 `json:"class"`
	Area           int64  `json:"area"`
	X0, Y0, X1, Y1 int
}

type goldenImage struct {
	File, Pred       string
	Width, Height    int
	Dilation         int
	Record           goldenRecord
	MIoU             nf `json:"miou"`
	PixelAcc         nf `json:"pixel_acc"`
	Shares           []nf
	Components8      []goldenComponent `json:"components8"`
	Components4Count int               `json:"components4_count"`
	Components8Hits  []int64           `json:"components8_hits"`
}

type goldenSet struct {
	Idx          []int
	IoU          []nf `json:"iou"`
	Acc          []nf `json:"acc"`
	Dice         []nf `json:"dice"`
	BoundaryIoU  []nf `json:"boundary_iou"`
	MIoU         nf   `json:"miou"`
	MAcc         nf   `json:"macc"`
	MDice        nf   `json:"mdice"`
	MBoundaryIoU nf   `json:"mboundary_iou"`
	PixelAcc     nf   `json:"pixel_acc"`
	FWIoU        nf   `json:"fwiou"`
	Present      int
	Shares       []nf
}

type golden struct {
	Classes   int
	Ignore    int
	Confusion [][]int64
	Images    []goldenImage
	Sets      map[string]goldenSet
}

func loadGolden(t *testing.T) golden {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Images) == 0 || len(g.Sets) == 0 {
		t.Fatal("golden.json has no images or sets")
	}
	return g
}

func readMasks(t *testing.T, g golden) (truth, pred []segment.LabelMap) {
	t.Helper()
	r, err := mask.NewReader(mask.Options{NumClasses: g.Classes, Encoding: mask.Index})
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range g.Images {
		gt, err := r.ReadFile(filepath.Join("..", "testdata", im.File), im.Width, im.Height)
		if err != nil {
			t.Fatal(err)
		}
		p, err := r.ReadFile(filepath.Join("..", "testdata", im.Pred), im.Width, im.Height)
		if err != nil {
			t.Fatal(err)
		}
		truth, pred = append(truth, gt), append(pred, p)
	}
	return truth, pred
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

func checkFloats(t *testing.T, what string, got []float64, want []nf) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if !near(got[i], float64(want[i])) {
			t.Errorf("%s[%d] = %.17g, numpy %.17g", what, i, got[i], float64(want[i]))
		}
	}
}

func checkFloat(t *testing.T, what string, got float64, want nf) {
	t.Helper()
	if !near(got, float64(want)) {
		t.Errorf("%s = %.17g, numpy %.17g", what, got, float64(want))
	}
}

func TestGoldenRecordsAndSets(t *testing.T) {
	g := loadGolden(t)
	truth, pred := readMasks(t, g)
	opts := metrics.Options{Classes: g.Classes, Ignore: g.Ignore, Boundary: true}
	recs, cm, err := metrics.ScoreAll(truth, pred, opts, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, im := range g.Images {
		r, w := recs[i], im.Record
		if !slices.Equal(r.Intersect, w.Intersect) || !slices.Equal(r.Label, w.Label) || !slices.Equal(r.Pred, w.Pred) ||
			r.Valid != w.Valid || r.Ignored != w.Ignored {
			t.Errorf("image %d counts differ from numpy:\n got %v %v %v %d %d\nwant %v %v %v %d %d", i,
				r.Intersect, r.Label, r.Pred, r.Valid, r.Ignored, w.Intersect, w.Label, w.Pred, w.Valid, w.Ignored)
		}
		if !slices.Equal(r.BoundaryIntersect, w.BI) || !slices.Equal(r.BoundaryUnion, w.BU) {
			t.Errorf("image %d boundary counts (d=%d) differ from numpy:\n got %v %v\nwant %v %v", i, im.Dilation,
				r.BoundaryIntersect, r.BoundaryUnion, w.BI, w.BU)
		}
		if d := metrics.Dilation(im.Width, im.Height, metrics.DefaultDilationRatio); d != im.Dilation {
			t.Errorf("image %d dilation %d, numpy %d", i, d, im.Dilation)
		}
		checkFloat(t, fmt.Sprintf("image %d mIoU", i), r.MIoU(), im.MIoU)
		checkFloat(t, fmt.Sprintf("image %d pixel accuracy", i), r.PixelAcc(), im.PixelAcc)
		checkFloats(t, fmt.Sprintf("image %d shares", i), r.Shares(), im.Shares)
	}
	for tt := 0; tt < g.Classes; tt++ {
		for p := 0; p < g.Classes; p++ {
			if cm.At(tt, p) != g.Confusion[tt][p] {
				t.Fatalf("confusion[%d][%d] = %d, numpy %d", tt, p, cm.At(tt, p), g.Confusion[tt][p])
			}
		}
	}
	for name, want := range g.Sets {
		t.Run(name, func(t *testing.T) {
			s, err := metrics.Aggregate(recs, want.Idx, g.Classes, true)
			if err != nil {
				t.Fatal(err)
			}
			checkFloats(t, "IoU", s.IoU, want.IoU)
			checkFloats(t, "Acc", s.Acc, want.Acc)
			checkFloats(t, "Dice", s.Dice, want.Dice)
			checkFloats(t, "BoundaryIoU", s.BoundaryIoU, want.BoundaryIoU)
			checkFloats(t, "Shares", s.Shares, want.Shares)
			checkFloat(t, "mIoU", s.MIoU, want.MIoU)
			checkFloat(t, "mAcc", s.MAcc, want.MAcc)
			checkFloat(t, "mDice", s.MDice, want.MDice)
			checkFloat(t, "mBoundaryIoU", s.MBoundaryIoU, want.MBoundaryIoU)
			checkFloat(t, "pixel accuracy", s.PixelAcc, want.PixelAcc)
			checkFloat(t, "fwIoU", s.FWIoU, want.FWIoU)
			if s.Present != want.Present {
				t.Errorf("present classes %d, numpy %d", s.Present, want.Present)
			}
			// The accumulator's fast paths agree with the summary.
			a := metrics.NewAccumulator(g.Classes, true)
			for _, i := range want.Idx {
				a.Add(&recs[i])
			}
			checkFloat(t, "Accumulator.MIoU", a.MIoU(), want.MIoU)
			checkFloat(t, "Accumulator.PixelAcc", a.PixelAcc(), want.PixelAcc)
			checkFloat(t, "Accumulator.MBoundaryIoU", a.MBoundaryIoU(), want.MBoundaryIoU)
		})
	}
}

func TestGoldenComponents(t *testing.T) {
	g := loadGolden(t)
	truth, pred := readMasks(t, g)
	var labels []int32
	for i, im := range g.Images {
		comps, lab, err := metrics.Components(truth[i], g.Ignore, metrics.Eight, labels)
		if err != nil {
			t.Fatal(err)
		}
		labels = lab
		if len(comps) != len(im.Components8) {
			t.Fatalf("image %d: %d 8-connected components, numpy %d", i, len(comps), len(im.Components8))
		}
		for k, c := range comps {
			w := im.Components8[k]
			if c.Class != w.Class || c.Area != w.Area || c.X0 != w.X0 || c.Y0 != w.Y0 || c.X1 != w.X1 || c.Y1 != w.Y1 {
				t.Errorf("image %d component %d = %+v, numpy %+v", i, k, c, w)
			}
		}
		hits, err := metrics.ComponentHits(comps, labels, pred[i])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(hits, im.Components8Hits) {
			t.Errorf("image %d hits %v, numpy %v", i, hits, im.Components8Hits)
		}
		comps4, _, err := metrics.Components(truth[i], g.Ignore, metrics.Four, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(comps4) != im.Components4Count {
			t.Errorf("image %d: %d 4-connected components, numpy %d", i, len(comps4), im.Components4Count)
		}
	}
}

// TestGoldenEncodings reads scene 0 saved as a palette PNG, a 16-bit PNG and an RGB colour mask
// with the class file's colours: all must give the gray mask's label map.
func TestGoldenEncodings(t *testing.T) {
	dir := filepath.Join("..", "testdata")
	classes, err := mask.ReadClassFile(filepath.Join(dir, "classes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := mask.NewReader(mask.Options{NumClasses: len(classes.Names)})
	want, err := idx.ReadFile(filepath.Join(dir, "gt_0.png"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	border := [3]uint8{224, 224, 192}
	color, err := mask.NewReader(mask.Options{NumClasses: len(classes.Names), Colors: classes.Colors, IgnoreColor: &border})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		r    *mask.Reader
	}{{"gt_0_palette.png", idx}, {"gt_0_16bit.png", idx}, {"gt_0_rgb.png", color}} {
		got, err := tc.r.ReadFile(filepath.Join(dir, tc.file), want.W, want.H)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if !slices.Equal(got.Pix, want.Pix) {
			t.Errorf("%s differs from gt_0.png", tc.file)
		}
	}
	// Without the ignore colour, the VOC border colour is an unknown colour, named with its count.
	noBorder, _ := mask.NewReader(mask.Options{Colors: classes.Colors})
	var ignored int
	for _, v := range want.Pix {
		if v == segment.DefaultIgnore {
			ignored++
		}
	}
	_, err = noBorder.ReadFile(filepath.Join(dir, "gt_0_rgb.png"), 0, 0)
	if wantMsg := fmt.Sprintf("[224,224,192] (%d px)", ignored); err == nil || !strings.Contains(err.Error(), wantMsg) {
		t.Errorf("error = %v, want it to name %s", err, wantMsg)
	}
}
