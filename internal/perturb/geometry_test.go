package perturb

import (
	"math"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

// TestForwardMatchesApply puts one bright pixel into an image, transforms it with Apply, and
// checks that Forward maps the pixel's centre onto the brightest output pixel: boxes and masks
// moved by Forward then land where the image content went.
func TestForwardMatchesApply(t *testing.T) {
	tests := []struct {
		spec string
		x, y int
	}{
		{"hflip", 10, 7}, {"vflip", 10, 7}, {"shift:0.1,0", 20, 20}, {"shift:0,-0.15", 20, 30},
		{"rotate:8", 30, 12}, {"rotate:-20", 12, 40}, {"scale:1.2", 15, 18}, {"scale:0.8", 40, 35},
		{"brightness:0.1", 9, 9},
	}
	const w, h = 64, 48
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			tr, err := ParseTransform(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			src := imaging.New(w, h, 1)
			src.Pix[tc.y*w+tc.x] = 200
			dst := &imaging.Image{}
			if err := tr.Apply(dst, src); err != nil {
				t.Fatal(err)
			}
			m := tr.Forward(w, h)
			cx, cy := float64(tc.x)+0.5, float64(tc.y)+0.5
			fx, fy := m[0]*cx+m[1]*cy+m[2], m[3]*cx+m[4]*cy+m[5]
			// The brightest output pixel (bilinear spreading keeps the peak nearest the point).
			best, bx, by := -1, 0, 0
			for y := range h {
				for x := range w {
					if v := int(dst.Pix[y*w+x]); v > best {
						best, bx, by = v, x, y
					}
				}
			}
			if d := math.Hypot(fx-(float64(bx)+0.5), fy-(float64(by)+0.5)); d > 1.0 {
				t.Errorf("Forward maps (%d,%d) to (%.2f,%.2f), Apply moved it to pixel (%d,%d): %.2f px apart", tc.x, tc.y, fx, fy, bx, by, d)
			}
			if tr.Geometric() == (tc.spec == "brightness:0.1") {
				t.Errorf("Geometric() = %v for %s", tr.Geometric(), tc.spec)
			}
		})
	}
}

func TestUncovered(t *testing.T) {
	tr, _ := ParseTransform("shift:0.25,0")
	if !tr.Uncovered(2, 10, 40, 20) {
		t.Error("the left quarter of a right shift comes from outside the image")
	}
	if tr.Uncovered(30, 10, 40, 20) {
		t.Error("the right part of a right shift is covered")
	}
	id, _ := ParseTransform("contrast:0.8")
	if id.Uncovered(0, 0, 40, 20) {
		t.Error("photometric transforms cover everything")
	}
}
