package cocoeval

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/cvgate/cvgate/internal/detect/annot"
	"github.com/cvgate/cvgate/internal/detect/box"
	"github.com/cvgate/cvgate/internal/detect/decode"
)

// TestLetterboxDecodeEvaluate runs the detection chain on the annot fixture: each image's ground
// truth is mapped into a 640x640 letterboxed input and written into a YOLOv8 head as a perfect
// model would emit it; decoding, mapping back and evaluating must give AP 1. A wrong pad, scale,
// encoding or inverse mapping would move the boxes and lower the AP.
func TestLetterboxDecodeEvaluate(t *testing.T) {
	set, err := annot.ReadCOCO(filepath.Join("..", "annot", "testdata", "coco", "annotations", "instances_val.json"), annot.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const size, A = 640, 8400
	C := len(set.Classes)
	shape := []int64{1, int64(4 + C), A}
	dec, err := decode.Resolve([]decode.Output{{Name: "output0", Shape: shape}}, decode.Config{
		NumClasses: C, InputWidth: size, InputHeight: size, ScoreThreshold: 0.25,
	})
	if err != nil {
		t.Fatal(err)
	}
	if dec.Convention() != decode.YOLOv8 {
		t.Fatalf("resolved %s", dec.Convention())
	}
	lb := box.Letterbox{Width: size, Height: size, PadValue: 114}
	var images []Image
	for _, im := range set.Images {
		g, err := lb.Geometry(im.Width, im.Height)
		if err != nil {
			t.Fatal(err)
		}
		head := make([]float32, (4+C)*A)
		for j, o := range im.Objects {
			if o.Crowd {
				continue
			}
			b := g.Forward(o.Box)
			cx, cy := b.Centre()
			a := 100 + 37*j // any anchors
			head[a], head[A+a], head[2*A+a], head[3*A+a] = float32(cx), float32(cy), float32(b.W()), float32(b.H())
			head[(4+o.Class)*A+a] = 0.9
		}
		out, err := dec.Decode([]decode.Tensor{{Name: "output0", Shape: shape, F32: head}}, 1)
		if err != nil {
			t.Fatal(err)
		}
		g.InverseAll(out[0])
		for _, d := range out[0] {
			if d.X1 < 0 || d.Y1 < 0 || d.X2 > float64(im.Width) || d.Y2 > float64(im.Height) {
				t.Errorf("%s: detection %+v outside the %dx%d image", im.File, d.Box, im.Width, im.Height)
			}
		}
		images = append(images, Image{GT: im.Objects, Dets: out[0]})
	}
	e, err := Evaluate(images, DefaultParams(C))
	if err != nil {
		t.Fatal(err)
	}
	s := e.Summary()
	// cat and dog are found exactly (to float32 rounding); bird has only a crowd, so no AP.
	if math.Abs(s.Stats[0]-1) > 1e-9 || s.PerClassAP[2] != -1 {
		t.Errorf("AP %v, per class %v: want 1 and no AP for the crowd-only class", s.Stats[0], s.PerClassAP)
	}
	m, _ := e.Matches(0, 0.5)
	for _, p := range m.Matched {
		if p.IoU < 0.9999 {
			t.Errorf("matched at IoU %v: the round trip moved the box", p.IoU)
		}
	}
}
