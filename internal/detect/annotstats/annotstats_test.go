package annotstats

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/cvgate/cvgate/internal/detect/annot"
	"github.com/cvgate/cvgate/internal/detect/box"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func obj(x1, y1, x2, y2 float64, class int) box.Object {
	b := box.Box{X1: x1, Y1: y1, X2: x2, Y2: y2}
	return box.Object{Box: b, Class: class, Area: b.Area()}
}

func TestCheck(t *testing.T) {
	crowd := obj(0, 0, 100, 2, 0)
	crowd.Crowd = true
	images := []annot.Image{
		{Width: 100, Height: 50, Objects: []box.Object{
			obj(10, 10, 30, 30, 0),    // 0
			obj(10, 10, 30, 30, 0),    // 1: exact duplicate of 0
			obj(10, 10, 30, 30, 1),    // 2: same box, other class: fine
			obj(10.2, 10, 30, 30, 0),  // 3: IoU 0.99 with 0 and 1
			obj(90, 40, 100.4, 50, 2), // 4: within the 0.5 px tolerance
			obj(90, 40, 101, 50, 2),   // 5: outside
			obj(5, 5, 5, 20, 1),       // 6: no area
			obj(0, 20, 99, 24, 1),     // 7: 24.75:1
			obj(1, 1, 2, 2, 3),        // 8: class 3 of 3
			crowd,                     // 9: a crowd strip is not an aspect finding
		}},
		{Width: 10, Height: 10},
	}
	got := Check(images, 3, DefaultParams())
	want := []Finding{
		{Kind: Duplicate, Image: 0, Object: 1, Other: 0},
		{Kind: NearDuplicate, Image: 0, Object: 3, Other: 0},
		{Kind: NearDuplicate, Image: 0, Object: 3, Other: 1},
		{Kind: OutsideImage, Image: 0, Object: 5, Other: -1},
		{Kind: ZeroArea, Image: 0, Object: 6, Other: -1},
		{Kind: ExtremeAspect, Image: 0, Object: 7, Other: -1},
		{Kind: UnknownClass, Image: 0, Object: 8, Other: -1},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Finding{}, "Detail")); diff != "" {
		t.Errorf("findings differ (-want +got):\n%s", diff)
	}
	for _, f := range got {
		if f.Detail == "" {
			t.Errorf("finding %+v has no detail", f)
		}
	}
	counts := Counts(got)
	wantCounts := []KindCount{{UnknownClass, 1}, {ZeroArea, 1}, {OutsideImage, 1}, {Duplicate, 1}, {NearDuplicate, 2}, {ExtremeAspect, 1}}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("counts differ (-want +got):\n%s", diff)
	}
}

// TestDuplicatesScale checks the sweep on a crowded image against the quadratic definition.
func TestDuplicatesScale(t *testing.T) {
	var objs []box.Object
	for i := range 3000 {
		x := float64(i%100) * 7
		y := float64(i/100) * 7
		objs = append(objs, obj(x, y, x+10, y+10, i%2))
	}
	objs = append(objs, obj(0, 0, 10, 10, 0), obj(0.1, 0, 10.1, 10, 0))
	got := len(duplicates(0, objs, 0.95))
	want := 0
	for a := range objs {
		for b := a + 1; b < len(objs); b++ {
			if objs[a].Class == objs[b].Class && (objs[a].Box == objs[b].Box || box.IoU(objs[a].Box, objs[b].Box) > 0.95) {
				want++
			}
		}
	}
	if got != want || want < 3 {
		t.Errorf("sweep found %d pairs, the quadratic definition %d", got, want)
	}
}

func TestProfileFixture(t *testing.T) {
	root := filepath.Join("..", "annot", "testdata", "coco")
	set, err := annot.ReadCOCO(filepath.Join(root, "annotations", "instances_val.json"), annot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := NewProfile(set.Images, len(set.Classes))
	// cat (area 700), dog (952) in img_a 64x48; dog (1600) and a bird crowd (225) in img_b 80x60.
	if p.Images != 3 || p.Negatives != 1 || p.Objects != 4 || p.Crowd != 1 {
		t.Errorf("counts %+v", p)
	}
	if diff := cmp.Diff([]int{1, 2, 1}, p.ClassObjects); diff != "" {
		t.Errorf("class objects (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 2, 1}, p.ClassImages); diff != "" {
		t.Errorf("class images (-want +got):\n%s", diff)
	}
	if p.Sizes != [3]int{3, 1, 0} {
		t.Errorf("sizes %v, want 3 small and 1 medium", p.Sizes)
	}
	if diff := cmp.Diff([]float64{0.25, 0.5, 0.25}, p.ClassShares()); diff != "" {
		t.Errorf("shares (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]float64{2, 2, 0}, p.ObjectsPerImage); diff != "" {
		t.Errorf("objects per image (-want +got):\n%s", diff)
	}
	// The cat: 26x34 in 64x48, centre (17, 23).
	if math.Abs(p.RelSize[0]-math.Sqrt(26.0*34/(64*48))) > 1e-12 || math.Abs(p.Aspect[0]-math.Log2(26.0/34)) > 1e-12 ||
		p.CX[0] != 17.0/64 || p.CY[0] != 23.0/48 {
		t.Errorf("cat sample: size %v aspect %v centre (%v, %v)", p.RelSize[0], p.Aspect[0], p.CX[0], p.CY[0])
	}
	g := p.PositionGrid(2)
	if g[0][0]+g[0][1]+g[1][0]+g[1][1] != 4 || g[0][1] != 1 {
		t.Errorf("grid %v: want 4 centres, the bird top right", g)
	}
}

func TestSizeOf(t *testing.T) {
	for _, tt := range []struct {
		area float64
		want int
	}{{0, Small}, {1023.9, Small}, {1024, Medium}, {9215, Medium}, {9216, Large}, {1e9, Large}} {
		if got := SizeOf(tt.area); got != tt.want {
			t.Errorf("SizeOf(%v) = %s, want %s", tt.area, SizeNames[got], SizeNames[tt.want])
		}
	}
}
