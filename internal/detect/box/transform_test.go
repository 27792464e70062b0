package box

import (
	"fmt"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/perturb"
)

func TestMapApply(t *testing.T) {
	b := Box{10, 20, 30, 60}
	tests := []struct {
		name string
		m    Map
		want Box
	}{
		{"identity", Identity(), b},
		{"hflip", HFlip(100), Box{70, 20, 90, 60}},
		{"vflip", VFlip(80), Box{10, 20, 30, 60}},
		{"shift", Shift(5, -10), Box{15, 10, 35, 50}},
		{"shift fraction", ShiftFraction(0.1, 0.25, 100, 80), Box{20, 40, 40, 80}},
		{"scale about centre", ScaleCentre(2, 100, 80), Box{-30, 0, 10, 80}},
		{"crop", Crop(10, 10), Box{0, 10, 20, 50}},
		{"resize", Resize(0.5, 2), Box{5, 40, 15, 120}},
		{"flip then shift", HFlip(100).Then(Shift(1, 0)), Box{71, 20, 91, 60}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.Apply(b); got != tt.want {
				t.Errorf("Apply = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMoveObjects(t *testing.T) {
	objs := []Object{
		{Box: Box{10, 10, 30, 30}, Class: 1, Area: 400, ID: 1},
		{Box: Box{80, 10, 100, 30}, Class: 2, Area: 200, ID: 2}, // area field half the box (a segment)
		{Box: Box{50, 50, 50, 50}, Class: 3, ID: 3},             // a point
	}
	tests := []struct {
		name       string
		m          Map
		minVisible float64
		wantIDs    []int64
		wantArea   []float64
	}{
		{"identity keeps all", Identity(), 0.5, []int64{1, 2, 3}, []float64{400, 200, 0}},
		// Shifted right by 10: object 2 is half outside (visible share 0.5) and keeps half its area.
		{"shift right", Shift(10, 0), 0.5, []int64{1, 2, 3}, []float64{400, 100, 0}},
		{"shift right strict", Shift(10, 0), 0.6, []int64{1, 3}, []float64{400, 0}},
		{"shift far out", Shift(200, 0), 0, nil, nil},
		// Zoomed 2x about the centre, object 1 becomes [-30,10]² and a sixteenth of it stays visible.
		{"zoom 2x", ScaleCentre(2, 100, 100), 0.05, []int64{1, 3}, []float64{4 * 400 * 0.0625, 0}},
		{"zoom 2x strict", ScaleCentre(2, 100, 100), 0.2, []int64{3}, []float64{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			moved, kept := MoveObjects(objs, tt.m, 100, 100, tt.minVisible)
			if len(moved) != len(tt.wantIDs) || len(kept) != len(moved) {
				t.Fatalf("kept %d objects %v, want ids %v", len(moved), kept, tt.wantIDs)
			}
			for i, o := range moved {
				if o.ID != tt.wantIDs[i] || objs[kept[i]].ID != o.ID || !near(o.Area, tt.wantArea[i], 1e-9) {
					t.Errorf("object %d: id %d area %v, want id %d area %v", i, o.ID, o.Area, tt.wantIDs[i], tt.wantArea[i])
				}
				if o.X1 < 0 || o.Y1 < 0 || o.X2 > 100 || o.Y2 > 100 {
					t.Errorf("object %d not clipped: %+v", i, o.Box)
				}
			}
		})
	}
}

// TestMapsFollowPerturbPixels draws a bright rectangle, transforms the image with perturb's own
// transforms and checks that the mapped box encloses the bright pixels to within a pixel: the box
// maps and the pixel transforms agree on conventions (centre, direction, pixel edges).
func TestMapsFollowPerturbPixels(t *testing.T) {
	const w, h = 96, 64
	src := imaging.New(w, h, 1)
	obj := Box{20, 12, 52, 40}
	for y := int(obj.Y1); y < int(obj.Y2); y++ {
		for x := int(obj.X1); x < int(obj.X2); x++ {
			src.Pix[y*w+x] = 255
		}
	}
	tests := []struct {
		spec string
		m    Map
	}{
		{"hflip", HFlip(w)},
		{"vflip", VFlip(h)},
		{"shift:0.125,-0.125", ShiftFraction(0.125, -0.125, w, h)},
		{"scale:1.5", ScaleCentre(1.5, w, h)},
		{"scale:0.75", ScaleCentre(0.75, w, h)},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			tr, err := perturb.ParseTransform(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			dst := imaging.New(w, h, 1)
			if err := tr.Apply(dst, src); err != nil {
				t.Fatal(err)
			}
			got, ok := brightBounds(dst, 128)
			if !ok {
				t.Fatal("no bright pixels after the transform")
			}
			want := tt.m.Apply(obj).Clip(w, h)
			for i, d := range [4]float64{got.X1 - want.X1, got.Y1 - want.Y1, got.X2 - want.X2, got.Y2 - want.Y2} {
				if d < -1 || d > 1 {
					t.Errorf("edge %d: pixels at %v, mapped box at %v", i, fmt.Sprint(got), fmt.Sprint(want))
				}
			}
		})
	}
}

func brightBounds(m *imaging.Image, thr uint8) (Box, bool) {
	b := Box{X1: float64(m.Width), Y1: float64(m.Height)}
	found := false
	for y := 0; y < m.Height; y++ {
		for x := 0; x < m.Width; x++ {
			if m.Pix[y*m.Width+x] >= thr {
				found = true
				b.X1, b.Y1 = min(b.X1, float64(x)), min(b.Y1, float64(y))
				b.X2, b.Y2 = max(b.X2, float64(x+1)), max(b.Y2, float64(y+1))
			}
		}
	}
	return b, found
}
