package cocoeval

import (
	"math"
	"testing"

	"github.com/cvgate/cvgate/internal/detect/box"
	"github.com/google/go-cmp/cmp"
)

func sq(x, y, s float64) box.Box { return box.Box{X1: x, Y1: y, X2: x + s, Y2: y + s} }

// scene is one hand-checkable image: two class-0 objects, one class-1 object, a class-1 crowd.
func scene() Image {
	obj := func(b box.Box, class int, crowd bool) box.Object {
		return box.Object{Box: b, Class: class, Crowd: crowd, Area: b.Area()}
	}
	det := func(b box.Box, class int, score float64) box.Detection {
		return box.Detection{Box: b, Class: class, Score: score}
	}
	return Image{
		GT: []box.Object{
			obj(sq(0, 0, 40), 0, false), obj(sq(100, 0, 40), 0, false), obj(sq(200, 0, 40), 1, false),
			obj(sq(300, 0, 100), 1, true),
		},
		Dets: []box.Detection{
			det(sq(0, 0, 40), 0, 0.9),                      // d0: object 0
			det(sq(10, 0, 40), 0, 0.8),                     // d1: object 0 again (IoU 0.6): a duplicate
			det(box.Box{X1: 210, X2: 250, Y2: 40}, 1, 0.7), // d2: object 2 at IoU 0.6
			det(sq(320, 20, 20), 1, 0.6),                   // d3: inside the crowd
			det(sq(100, 0, 40), 0, 0.3),                    // d4: object 1, low score
			det(sq(500, 0, 40), 1, 0.95),                   // d5: nothing there
			det(sq(100, 0, 40), 1, 0.85),                   // d6: object 1 with the wrong class
		},
	}
}

func TestMatchesAndOperatingPoint(t *testing.T) {
	e, err := Evaluate([]Image{scene()}, DefaultParams(2))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		thr  float64
		want ImageMatch
		prf  []ClassPRF
	}{
		{0.5, ImageMatch{
			Matched:        []Pair{{GT: 0, Det: 0, IoU: 1}, {GT: 2, Det: 2, IoU: 0.6}},
			Missed:         []int{1},
			FalsePositives: []int{1, 5, 6},
		}, []ClassPRF{newPRF(1, 1, 1), newPRF(1, 2, 0), newPRF(2, 3, 1)}},
		{0.2, ImageMatch{
			Matched:        []Pair{{GT: 0, Det: 0, IoU: 1}, {GT: 2, Det: 2, IoU: 0.6}, {GT: 1, Det: 4, IoU: 1}},
			FalsePositives: []int{1, 5, 6},
		}, []ClassPRF{newPRF(2, 1, 0), newPRF(1, 2, 0), newPRF(3, 3, 0)}},
	}
	for _, tt := range tests {
		m, err := e.Matches(0, tt.thr)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, m, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-12 })); diff != "" {
			t.Errorf("threshold %v: matches differ (-want +got):\n%s", tt.thr, diff)
		}
		prf, err := e.NewAccumulator().OperatingPoint(nil, tt.thr)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.prf, prf); diff != "" {
			t.Errorf("threshold %v: operating point differs (-want +got):\n%s", tt.thr, diff)
		}
	}
	// Class 1 at 0.5: one TP, two FPs, no miss: P 1/3, R 1, F1 0.5.
	if p := newPRF(1, 2, 0); math.Abs(p.Precision-1.0/3) > 1e-12 || p.Recall != 1 || p.F1 != 0.5 {
		t.Errorf("newPRF(1,2,0) = %+v", p)
	}
	if p := newPRF(0, 0, 0); p.Precision != -1 || p.Recall != -1 || p.F1 != -1 {
		t.Errorf("undefined rates = %+v, want -1", p)
	}
	// Drawing the image twice doubles the counts.
	prf, _ := e.NewAccumulator().OperatingPoint([]int{0, 0}, 0.5)
	if prf[2].TP != 4 || prf[2].FP != 6 || prf[2].FN != 2 {
		t.Errorf("doubled image: %+v", prf[2])
	}
}

func TestConfusion(t *testing.T) {
	c := NewConfusion(2)
	if err := c.Add(scene(), 0.5, 0.5); err != nil {
		t.Fatal(err)
	}
	want := [][]int{
		{1, 1, 0}, // object 0 found as 0; object 1 found as 1 (wrong class)
		{0, 1, 0}, // object 2 found as 1; the crowd is not counted
		{1, 1, 0}, // background: the duplicate d1 (class 0) and d5 (class 1); d3 sits on the crowd
	}
	if diff := cmp.Diff(want, c.Counts); diff != "" {
		t.Errorf("confusion differs (-want +got):\n%s", diff)
	}
	// At a score threshold above every detection, every object is a miss.
	c = NewConfusion(2)
	if err := c.Add(scene(), 0.5, 0.99); err != nil {
		t.Fatal(err)
	}
	if c.Counts[0][2] != 2 || c.Counts[1][2] != 1 || c.Counts[2][0]+c.Counts[2][1] != 0 {
		t.Errorf("all missed: %v", c.Counts)
	}
	if err := NewConfusion(1).Add(scene(), 0.5, 0.5); err == nil {
		t.Error("class 1 accepted by a one-class matrix")
	}
}

func TestSuspects(t *testing.T) {
	got := Suspects(scene(), SuspectParams{Score: 0.8, IoU: 0.5, EmptyIoU: 0.1})
	want := []Suspect{
		{Kind: MissingLabel, Det: 5, GT: -1, Score: 0.95},
		{Kind: WrongClass, Det: 6, GT: 1, IoU: 1, Score: 0.85},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("suspects differ (-want +got):\n%s", diff)
	}
	// A confident detection of the labelled class confirms the label.
	im := scene()
	im.Dets[4].Score = 0.9
	for _, s := range Suspects(im, SuspectParams{Score: 0.8, IoU: 0.5, EmptyIoU: 0.1}) {
		if s.Kind == WrongClass {
			t.Errorf("confirmed object still suspected: %+v", s)
		}
	}
}

func TestCompareFlips(t *testing.T) {
	im := scene()
	base := Image{GT: im.GT, Dets: []box.Detection{im.Dets[0], im.Dets[2], im.Dets[4]}}
	base.Dets[2].Score = 0.9
	a, err := Evaluate([]Image{base}, DefaultParams(2))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate([]Image{im}, DefaultParams(2))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Compare(a, b, 0, 0.5, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	want := Flips{Lost: []int{1}, NewFalsePositives: []int{1, 5, 6}, Regressed: true}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("flips differ (-want +got):\n%s", diff)
	}
	// The reverse direction gains object 1 and adds no false positive.
	f, _ = Compare(b, a, 0, 0.5, 0.5)
	if diff := cmp.Diff(Flips{Gained: []int{1}}, f); diff != "" {
		t.Errorf("reverse flips differ (-want +got):\n%s", diff)
	}
	other, _ := Evaluate([]Image{base, base}, DefaultParams(2))
	if _, err := Compare(a, other, 0, 0.5, 0.5); err == nil {
		t.Error("evaluations of different image sets compared")
	}
}
