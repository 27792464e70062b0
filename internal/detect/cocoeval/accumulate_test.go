package cocoeval

import (
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/detect/box"
)

// distinctScores perturbs scores so that no two detections tie; then the order of an expanded
// image list is the weighted order exactly.
func distinctScores(images []Image) {
	n := 0
	for i := range images {
		for j := range images[i].Dets {
			n++
			images[i].Dets[j].Score = math.Mod(images[i].Dets[j].Score+float64(n)*1e-9, 1)
		}
	}
}

// TestResampleEqualsExpandedEvaluation checks the bootstrap path: the summary over a multiset of
// image indices equals a full evaluation of the images listed with that repetition.
func TestResampleEqualsExpandedEvaluation(t *testing.T) {
	images := synth(7, synthSpec{images: 60, classes: 6, maxGT: 8, detsPerImage: 20, crowdRate: 0.05, w: 320, h: 240})
	distinctScores(images)
	e, err := Evaluate(images, DefaultParams(6))
	if err != nil {
		t.Fatal(err)
	}
	acc := e.NewAccumulator()
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 5 {
		idx := make([]int, len(images))
		for i := range idx {
			idx[i] = rng.IntN(len(images))
		}
		got, err := acc.Summary(idx)
		if err != nil {
			t.Fatal(err)
		}
		// The expanded list in index order: copies of an image are adjacent, as in the weighted order.
		counts := make([]int, len(images))
		for _, i := range idx {
			counts[i]++
		}
		var expanded []Image
		for i, c := range counts {
			for range c {
				expanded = append(expanded, images[i])
			}
		}
		ex, err := Evaluate(expanded, DefaultParams(6))
		if err != nil {
			t.Fatal(err)
		}
		want := ex.Summary()
		for i, n := range StatNames {
			if math.Abs(got.Stats[i]-want.Stats[i]) > 1e-12 {
				t.Errorf("trial %d: %s = %v, expanded evaluation %v", trial, n, got.Stats[i], want.Stats[i])
			}
		}
		for k := range got.PerClassAP {
			if math.Abs(got.PerClassAP[k]-want.PerClassAP[k]) > 1e-12 || got.NumGT[k] != want.NumGT[k] {
				t.Errorf("trial %d class %d: AP %v (%d objects), expanded %v (%d)", trial, k, got.PerClassAP[k], got.NumGT[k], want.PerClassAP[k], want.NumGT[k])
			}
		}
	}
	// The identity multiset is the plain summary.
	all := make([]int, len(images))
	for i := range all {
		all[i] = i
	}
	s1, _ := acc.Summary(all)
	if s0 := e.Summary(); s0.Stats != s1.Stats {
		t.Errorf("identity multiset %v differs from the summary %v", s1.Stats, s0.Stats)
	}
	if _, err := acc.Summary([]int{0, len(images)}); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("out-of-range index: err = %v", err)
	}
}

func TestSummaryEdgeCases(t *testing.T) {
	obj := func(x float64, class int) box.Object {
		b := box.Box{X1: x, Y1: 0, X2: x + 40, Y2: 40}
		return box.Object{Box: b, Class: class, Area: b.Area()}
	}
	det := func(x float64, class int, score float64) box.Detection {
		return box.Detection{Box: box.Box{X1: x, Y1: 0, X2: x + 40, Y2: 40}, Class: class, Score: score}
	}
	tests := []struct {
		name   string
		images []Image
		want   [12]float64
	}{
		{"no ground truth at all", []Image{{Dets: []box.Detection{det(0, 0, 0.9)}}},
			[12]float64{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}},
		{"one medium object found", []Image{{GT: []box.Object{obj(0, 0)}, Dets: []box.Detection{det(0, 0, 0.9)}}},
			[12]float64{1, 1, 1, -1, 1, -1, 1, 1, 1, -1, 1, -1}},
		// A false positive above the true one halves precision at every recall: AP 0.5.
		{"false positive first", []Image{{GT: []box.Object{obj(0, 0)}, Dets: []box.Detection{det(100, 0, 0.95), det(0, 0, 0.9)}}},
			[12]float64{0.5, 0.5, 0.5, -1, 0.5, -1, 0, 1, 1, -1, 1, -1}},
		// A crowd region absorbs detections: they are neither true nor false positives.
		{"crowd only", []Image{{GT: []box.Object{{Box: box.Box{X2: 200, Y2: 200}, Crowd: true, Area: 40000}, obj(300, 0)},
			Dets: []box.Detection{det(10, 0, 0.99), det(50, 0, 0.98), det(300, 0, 0.5)}}},
			[12]float64{1, 1, 1, -1, 1, -1, 0, 1, 1, -1, 1, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Evaluate(tt.images, DefaultParams(2))
			if err != nil {
				t.Fatal(err)
			}
			got := e.Summary().Stats
			for i := range got {
				if math.Abs(got[i]-tt.want[i]) > 1e-9 {
					t.Errorf("%s = %v, want %v", StatNames[i], got[i], tt.want[i])
				}
			}
		})
	}
}

func TestEvaluateRejectsBadInput(t *testing.T) {
	good := box.Box{X2: 10, Y2: 10}
	tests := []struct {
		name string
		im   Image
		want string
	}{
		{"class out of range", Image{Dets: []box.Detection{{Box: good, Class: 5, Score: 1}}}, "class 5 is outside 0..1"},
		{"negative class", Image{GT: []box.Object{{Box: good, Class: -1, Area: 100}}}, "class -1"},
		{"NaN box", Image{Dets: []box.Detection{{Box: box.Box{X1: math.NaN(), X2: 1, Y2: 1}, Score: 1}}}, "not finite"},
		{"inverted box", Image{GT: []box.Object{{Box: box.Box{X1: 5, X2: 1, Y2: 1}, Area: 1}}}, "inverted"},
		{"NaN score", Image{Dets: []box.Detection{{Box: good, Score: math.NaN()}}}, "score NaN"},
		{"negative area", Image{GT: []box.Object{{Box: good, Area: -1}}}, "area -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Evaluate([]Image{{}, tt.im}, DefaultParams(2))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "image 1") {
				t.Errorf("err = %v, want it to name image 1 and %q", err, tt.want)
			}
		})
	}
	bad := []Params{
		{NumClasses: 0, IoUThresholds: []float64{0.5}, MaxDets: []int{1, 10, 100}},
		{NumClasses: 1, IoUThresholds: []float64{0.7, 0.5}, MaxDets: []int{1, 10, 100}},
		{NumClasses: 1, IoUThresholds: []float64{0.5}, MaxDets: []int{10, 100}},
	}
	for _, p := range bad {
		if _, err := Evaluate(nil, p); err == nil {
			t.Errorf("params %+v accepted", p)
		}
	}
}

// TestWorkersDoNotChangeResults evaluates with one worker and with several: the records, and so
// every number, must be identical (chunks are concatenated in image order).
func TestWorkersDoNotChangeResults(t *testing.T) {
	images := synth(11, synthSpec{images: 400, classes: 5, maxGT: 6, detsPerImage: 15, crowdRate: 0.05, w: 320, h: 240})
	prev := runtime.GOMAXPROCS(1)
	one, err := Evaluate(images, DefaultParams(5))
	runtime.GOMAXPROCS(4)
	four, err2 := Evaluate(images, DefaultParams(5))
	runtime.GOMAXPROCS(prev)
	if err != nil || err2 != nil {
		t.Fatal(err, err2)
	}
	if !reflect.DeepEqual(one.lists, four.lists) || !reflect.DeepEqual(one.gts, four.gts) {
		t.Fatal("records differ between 1 and 4 workers")
	}
	if one.Summary().Stats != four.Summary().Stats {
		t.Errorf("summaries differ: %v vs %v", one.Summary().Stats, four.Summary().Stats)
	}
}
