package metrics

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/segment"
	"github.com/cvgate/cvgate/internal/stats"
)

func lm(w, h int, pix ...uint16) segment.LabelMap { return segment.LabelMap{W: w, H: h, Pix: pix} }

func approx(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) < 1e-12
}

var nan = math.NaN()

func TestSummary(t *testing.T) {
	tests := []struct {
		name        string
		c           int
		truth, pred segment.LabelMap
		iou, acc    []float64
		miou, aacc  float64
		present     int
	}{
		// Valid pixels: (0,0) right, (1,1) right, (1,0) wrong; the 255 is left out.
		{name: "two classes with ignore", c: 2, truth: lm(2, 2, 0, 1, 1, 255), pred: lm(2, 2, 0, 1, 0, 0),
			iou: []float64{0.5, 0.5}, acc: []float64{1, 0.5}, miou: 0.5, aacc: 2.0 / 3, present: 2},
		// Class 2 is absent from truth and prediction: NaN, out of the mean.
		{name: "absent class is NaN", c: 3, truth: lm(2, 1, 0, 1), pred: lm(2, 1, 0, 1),
			iou: []float64{1, 1, nan}, acc: []float64{1, 1, nan}, miou: 1, aacc: 1, present: 2},
		// Class 2 is only predicted: IoU 0 counts in the mean, accuracy NaN.
		{name: "predicted-only class counts", c: 3, truth: lm(2, 1, 0, 1), pred: lm(2, 1, 0, 2),
			iou: []float64{1, 0, 0}, acc: []float64{1, 0, nan}, miou: 1.0 / 3, aacc: 0.5, present: 3},
		{name: "everything ignored", c: 2, truth: lm(2, 1, 255, 255), pred: lm(2, 1, 0, 1),
			iou: []float64{nan, nan}, acc: []float64{nan, nan}, miou: nan, aacc: nan, present: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewScorer(Options{Classes: tc.c, Ignore: 255})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := s.Score(tc.truth, tc.pred, nil)
			if err != nil {
				t.Fatal(err)
			}
			sum, err := Aggregate([]Record{rec}, nil, tc.c, false)
			if err != nil {
				t.Fatal(err)
			}
			for k := range tc.iou {
				if !approx(sum.IoU[k], tc.iou[k]) || !approx(sum.Acc[k], tc.acc[k]) {
					t.Errorf("class %d: IoU %g acc %g, want %g %g", k, sum.IoU[k], sum.Acc[k], tc.iou[k], tc.acc[k])
				}
			}
			if !approx(sum.MIoU, tc.miou) || !approx(sum.PixelAcc, tc.aacc) || sum.Present != tc.present {
				t.Errorf("mIoU %g aAcc %g present %d, want %g %g %d", sum.MIoU, sum.PixelAcc, sum.Present, tc.miou, tc.aacc, tc.present)
			}
			if !approx(rec.MIoU(), tc.miou) {
				t.Errorf("image mIoU %g, want %g (one image: the set's)", rec.MIoU(), tc.miou)
			}
			if !math.IsNaN(sum.MBoundaryIoU) {
				t.Errorf("boundary IoU %g without boundaries, want NaN", sum.MBoundaryIoU)
			}
		})
	}
}

func TestScoreErrors(t *testing.T) {
	s, _ := NewScorer(Options{Classes: 3, Ignore: 255})
	tests := []struct {
		name        string
		truth, pred segment.LabelMap
		wantErr     string
	}{
		{"size", lm(2, 1, 0, 1), lm(1, 2, 0, 1), "the prediction is 1x2 but the ground truth is 2x1"},
		{"truth beyond classes", lm(3, 1, 0, 7, 7), lm(3, 1, 0, 1, 1), "ground truth holds 7 (2 px), beyond the 3 classes"},
		{"prediction beyond classes", lm(2, 1, 0, 1), lm(2, 1, 9, 1), "prediction holds 9 (1 px)"},
		{"bad map", segment.LabelMap{W: 2, H: 2, Pix: []uint16{0}}, lm(2, 2, 0, 0, 0, 0), "holds 1 pixels, want 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Score(tc.truth, tc.pred, nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
		})
	}
	// A bad image leaves the set's confusion matrix as it was, and the scorer recovers.
	cm, _ := NewConfusion(3)
	if _, err := s.Score(lm(3, 1, 0, 1, 2), lm(3, 1, 0, 1, 9), cm); err == nil || slices.ContainsFunc(cm.Counts, func(v int64) bool { return v != 0 }) {
		t.Fatalf("bad image: err %v, matrix %v", err, cm.Counts)
	}
	if _, err := s.Score(lm(1, 1, 0), lm(1, 1, 0), cm); err != nil || cm.At(0, 0) != 1 {
		t.Fatalf("after an error: %v %v", err, cm.Counts)
	}
	if _, err := NewConfusion(MaxConfusionClasses + 1); err == nil {
		t.Error("a confusion matrix over the limit was allocated")
	}
	if _, cm, err := ScoreAll([]segment.LabelMap{lm(1, 1, 5)}, []segment.LabelMap{lm(1, 1, 5)}, Options{Classes: MaxConfusionClasses + 1, Ignore: -1}, 1); err != nil || cm != nil {
		t.Errorf("ScoreAll over the confusion limit: %v, %v", cm, err)
	}
	for _, o := range []Options{{Classes: 0}, {Classes: 300, Ignore: 255}, {Classes: 2, Ignore: -1, DilationRatio: 2}, {Classes: MaxClasses + 1, Ignore: -1}} {
		if _, err := NewScorer(o); err == nil {
			t.Errorf("NewScorer(%+v) accepted", o)
		}
	}
}

func TestBoundary(t *testing.T) {
	const w = 5
	all0 := make([]uint16, w*w)
	center := append([]uint16(nil), all0...)
	center[12] = 1
	tests := []struct {
		name        string
		truth, pred []uint16
		bi, bu      []int64
		mean        float64
	}{
		// d = max(1, round(0.02*sqrt(50))) = 1: the 3x3 centre is interior, the 16 border pixels are the band.
		{"identical", all0, all0, []int64{16, 0}, []int64{16, 0}, 1},
		// One predicted pixel of class 1 at the centre turns the whole class-0 prediction into band.
		{"centre pixel", all0, center, []int64{16, 0}, []int64{24, 1}, (16.0 / 24) / 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := NewScorer(Options{Classes: 2, Ignore: 255, Boundary: true})
			rec, err := s.Score(lm(w, w, tc.truth...), lm(w, w, tc.pred...), nil)
			if err != nil {
				t.Fatal(err)
			}
			for k := range tc.bi {
				if rec.BoundaryIntersect[k] != tc.bi[k] || rec.BoundaryUnion[k] != tc.bu[k] {
					t.Fatalf("class %d: %d/%d, want %d/%d", k, rec.BoundaryIntersect[k], rec.BoundaryUnion[k], tc.bi[k], tc.bu[k])
				}
			}
			sum, _ := Aggregate([]Record{rec}, nil, 2, true)
			if !approx(sum.MBoundaryIoU, tc.mean) {
				t.Errorf("mean boundary IoU %g, want %g", sum.MBoundaryIoU, tc.mean)
			}
		})
	}
	for _, tc := range []struct{ w, h, want int }{{5, 5, 1}, {512, 512, 14}, {2048, 1024, 46}, {100, 100, 3}} {
		if got := Dilation(tc.w, tc.h, DefaultDilationRatio); got != tc.want {
			t.Errorf("Dilation(%d,%d) = %d, want %d", tc.w, tc.h, got, tc.want)
		}
	}
}

// naiveInterior tests every square directly.
func naiveInterior(m []uint16, w, h, d int) []uint8 {
	out := make([]uint8, w*h)
	for y := d; y < h-d; y++ {
		for x := d; x < w-d; x++ {
			ok := true
			for yy := y - d; yy <= y+d && ok; yy++ {
				for xx := x - d; xx <= x+d; xx++ {
					if m[yy*w+xx] != m[y*w+x] {
						ok = false
						break
					}
				}
			}
			if ok {
				out[y*w+x] = 1
			}
		}
	}
	return out
}

// TestBoundaryMatchesNaive compares the streaming band counts with the definition applied square
// by square, on random maps with ignore pixels, over sizes where the band is thin, thick, and
// wider than the image.
func TestBoundaryMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, tc := range []struct {
		w, h, blobs int
		ratio       float64
	}{{17, 13, 4, 0.02}, {40, 30, 6, 0.06}, {9, 30, 2, 0.13}, {8, 8, 1, 0.45}, {64, 48, 30, 0.03}, {6, 50, 3, 0.2}} {
		truth := randomBlobs(r, tc.w, tc.h, 4, tc.blobs)
		pred := randomBlobs(r, tc.w, tc.h, 4, tc.blobs)
		for i := range truth.Pix {
			if r.IntN(9) == 0 {
				truth.Pix[i] = 255
			}
		}
		s, _ := NewScorer(Options{Classes: 4, Ignore: 255, Boundary: true, DilationRatio: tc.ratio})
		rec, err := s.Score(truth, pred, nil)
		if err != nil {
			t.Fatal(err)
		}
		d := Dilation(tc.w, tc.h, tc.ratio)
		inG, inP := naiveInterior(truth.Pix, tc.w, tc.h, d), naiveInterior(pred.Pix, tc.w, tc.h, d)
		bi, bu := make([]int64, 4), make([]int64, 4)
		for i, tv := range truth.Pix {
			if tv == 255 {
				continue
			}
			pv := pred.Pix[i]
			gb, pb := inG[i] == 0, inP[i] == 0
			for c := uint16(0); c < 4; c++ {
				g, p := gb && tv == c, pb && pv == c
				if g && p {
					bi[c]++
				}
				if g || p {
					bu[c]++
				}
			}
		}
		for c := range bi {
			if rec.BoundaryIntersect[c] != bi[c] || rec.BoundaryUnion[c] != bu[c] {
				t.Fatalf("%+v d=%d class %d: %d/%d, want %d/%d", tc, d, c, rec.BoundaryIntersect[c], rec.BoundaryUnion[c], bi[c], bu[c])
			}
		}
	}
}

// randomBlobs paints rectangles of random classes on a background.
func randomBlobs(r *rand.Rand, w, h, classes, blobs int) segment.LabelMap {
	m := segment.NewLabelMap(w, h)
	for range blobs {
		bw, bh := 1+r.IntN(max(1, w/3)), 1+r.IntN(max(1, h/3))
		x0, y0, c := r.IntN(w-bw+1), r.IntN(h-bh+1), uint16(r.IntN(classes))
		for y := y0; y < y0+bh; y++ {
			for x := x0; x < x0+bw; x++ {
				m.Pix[y*w+x] = c
			}
		}
	}
	return m
}

func TestComponents(t *testing.T) {
	// Diagonal pairs of 1s and of 2s, a lone 0 touching the other 0s only at a corner, ignore
	// pixels between.
	m := lm(4, 3,
		1, 0, 2, 255,
		0, 1, 255, 2,
		0, 0, 0, 0)
	tests := []struct {
		conn  Connectivity
		areas []int64
	}{
		{Eight, []int64{2, 6, 2}}, // corners join the pairs and the lone 0
		{Four, []int64{1, 1, 1, 5, 1, 1}},
	}
	for _, tc := range tests {
		comps, labels, err := Components(m, 255, tc.conn, nil)
		if err != nil {
			t.Fatal(err)
		}
		var areas []int64
		for _, c := range comps {
			areas = append(areas, c.Area)
		}
		if len(areas) != len(tc.areas) {
			t.Fatalf("%d-connected: areas %v (%+v), want %v", tc.conn, areas, comps, tc.areas)
		}
		for i := range areas {
			if areas[i] != tc.areas[i] {
				t.Fatalf("%d-connected: areas %v, want %v", tc.conn, areas, tc.areas)
			}
		}
		if labels[3] != -1 || labels[6] != -1 {
			t.Errorf("ignored pixels labelled %d %d", labels[3], labels[6])
		}
	}
	if _, _, err := Components(m, 255, 6, nil); err == nil {
		t.Error("connectivity 6 accepted")
	}
}

func TestWorse(t *testing.T) {
	s, _ := NewScorer(Options{Classes: 2, Ignore: 255})
	score := func(truth, pred segment.LabelMap) Record {
		r, err := s.Score(truth, pred, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	gt := lm(2, 1, 0, 1)
	good, half, bad := score(gt, lm(2, 1, 0, 1)), score(gt, lm(2, 1, 0, 0)), score(gt, lm(2, 1, 1, 0))
	ignored := score(lm(2, 1, 255, 255), lm(2, 1, 0, 0))
	base := []Record{good, good, half, good, ignored}
	cand := []Record{good, half, bad, bad, good}
	got, err := Worse(base, cand, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Index != 3 || got[1].Index != 1 || got[2].Index != 2 {
		t.Fatalf("Worse = %+v, want images 3 (1 -> 0), then 1 (1 -> 0.25) and 2 (0.25 -> 0)", got)
	}
	if _, err := Worse(base, cand[:2], 0); err == nil {
		t.Error("mismatched lengths accepted")
	}
}

// TestBootstrapOverRecords uses records with the stats package's generic bootstrap: the interval
// brackets the point estimate and the accumulator does not allocate per resample.
func TestBootstrapOverRecords(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var truth, pred []segment.LabelMap
	for range 40 {
		gt := randomBlobs(r, 32, 24, 4, 6)
		p := gt.Clone()
		for i := range p.Pix {
			if r.IntN(5) == 0 {
				p.Pix[i] = uint16(r.IntN(4))
			}
		}
		truth, pred = append(truth, gt), append(pred, p)
	}
	recs, _, err := ScoreAll(truth, pred, Options{Classes: 4, Ignore: 255}, 2)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := Aggregate(recs, nil, 4, false)
	acc := NewAccumulator(4, false)
	stat := func(idx []int) float64 {
		acc.Reset()
		for _, i := range idx {
			acc.Add(&recs[i])
		}
		return acc.MIoU()
	}
	iv, err := stats.BootstrapIndices(len(recs), stat, stats.BootstrapOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !(iv.Lo < all.MIoU && all.MIoU < iv.Hi) || !approx(iv.Estimate, all.MIoU) {
		t.Errorf("interval %+v does not bracket mIoU %g", iv, all.MIoU)
	}
	idx := make([]int, len(recs))
	if a := testing.AllocsPerRun(10, func() { stat(idx) }); a != 0 {
		t.Errorf("a resample allocates %v times", a)
	}
}

// TestScoreAllocsDoNotGrowWithPixels: the confusion matrix is counted without allocating per pixel.
func TestScoreAllocsDoNotGrowWithPixels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	allocs := func(side int) float64 {
		gt := randomBlobs(r, side, side, 21, 20)
		p := randomBlobs(r, side, side, 21, 20)
		s, _ := NewScorer(Options{Classes: 21, Ignore: 255, Boundary: true})
		cm, _ := NewConfusion(21)
		if _, err := s.Score(gt, p, cm); err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(3, func() { _, _ = s.Score(gt, p, cm) })
	}
	small, large := allocs(32), allocs(256)
	if small != large || large > 8 {
		t.Errorf("allocations per image: %v at 32x32, %v at 256x256; want the same few", small, large)
	}
}
