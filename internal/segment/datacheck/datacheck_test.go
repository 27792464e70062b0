package datacheck

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/segment"
)

func TestGather(t *testing.T) {
	m := segment.LabelMap{W: 3, H: 2, Pix: []uint16{0, 1, 1, 255, 7, 7}}
	f := Gather("a.png", 3, 2, m, 3, 255)
	if !slices.Equal(f.Counts, []int64{1, 2, 0}) || f.Ignored != 1 || f.Beyond[7] != 2 || f.Valid() != 3 {
		t.Fatalf("Gather = %+v", f)
	}
}

func TestCheck(t *testing.T) {
	names := []string{"background", "cat", "dog"}
	facts := []Facts{
		{Path: "a.png", ImageW: 2, ImageH: 2, MaskW: 2, MaskH: 2, Counts: []int64{2, 2, 0}},
		{Path: "b.png", ImageW: 4, ImageH: 2, MaskW: 2, MaskH: 4, Counts: []int64{4, 0, 4}},
		{Path: "c.png", ImageW: 2, ImageH: 2, MaskW: 2, MaskH: 2, Counts: []int64{3, 0, 0}, Ignored: 1},
		{Path: "d.png", ImageW: 2, ImageH: 1, MaskW: 2, MaskH: 1, Counts: []int64{0, 0, 0}, Ignored: 1, Beyond: map[uint16]int64{9: 1}},
	}
	r, err := Check(facts, Options{Names: names, Background: 0})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		got   []Finding
		paths []string
		want  string
	}{
		{"size", r.SizeMismatch, []string{"b.png"}, "mask is 2x4 but its image is 4x2"},
		{"beyond", r.BeyondClasses, []string{"d.png"}, "1 pixels hold values 9 (1 px) outside the 3 class names (0..2)"},
		{"empty", r.Empty, []string{"c.png", "d.png"}, "mask has only \"background\" and ignored pixels"},
	}
	for _, tc := range tests {
		var paths []string
		for _, f := range tc.got {
			paths = append(paths, f.Path)
		}
		if !slices.Equal(paths, tc.paths) || !strings.Contains(tc.got[0].Problem, tc.want) {
			t.Errorf("%s: %+v, want %v with %q", tc.name, tc.got, tc.paths, tc.want)
		}
	}
	if !strings.Contains(r.Empty[1].Problem, "only ignored pixels") {
		t.Errorf("a mask without valid pixels: %q", r.Empty[1].Problem)
	}
	// Valid pixels: 4 + 8 + 3 + 0 = 15; background 9, cat 2, dog 4.
	wantSet := []float64{9.0 / 15, 2.0 / 15, 4.0 / 15}
	for k, s := range r.Shares {
		if math.Abs(s.SetShare-wantSet[k]) > 1e-12 {
			t.Errorf("%s set share %g, want %g", s.Class, s.SetShare, wantSet[k])
		}
	}
	bg := r.Shares[0] // shares 0.5, 0.5, 1 in the masks holding it
	if bg.Images != 3 || math.Abs(bg.MeanShare-2.0/3) > 1e-12 || bg.MinShare != 0.5 || bg.MedianShare != 0.5 || bg.MaxShare != 1 {
		t.Errorf("background share %+v", bg)
	}
	if len(r.AbsentClasses) != 0 || !slices.Equal(r.ImagesPerShare[1], []float64{0.5, 0, 0, 0}) {
		t.Errorf("absent %v, per-image cat shares %v", r.AbsentClasses, r.ImagesPerShare[1])
	}
	if want := 2.0 / 18; math.Abs(r.IgnoredShare-want) > 1e-12 {
		t.Errorf("ignored share %g, want %g", r.IgnoredShare, want)
	}

	r, _ = Check(facts[:1], Options{Names: names, Background: -1})
	if !slices.Equal(r.AbsentClasses, []string{"dog"}) || len(r.Empty) != 0 || r.SizeMismatch == nil {
		t.Errorf("one mask: absent %v empty %v", r.AbsentClasses, r.Empty)
	}
	if _, err := Check(facts, Options{Names: names[:2]}); err == nil {
		t.Error("facts with the wrong class count accepted")
	}
	if _, err := Check(nil, Options{}); err == nil {
		t.Error("no names accepted")
	}
}
