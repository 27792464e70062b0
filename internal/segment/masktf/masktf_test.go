package masktf

import (
	"slices"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/perturb"
	"github.com/cvgate/cvgate/internal/segment"
)

const ignore = 255

// scene is a 40x30 map of four classes: quadrants of 0 and 1, a 2 rectangle and a 3 bar,
// with its image painted gray = 60*class.
func scene() (segment.LabelMap, *imaging.Image) {
	const w, h = 40, 30
	m := segment.NewLabelMap(w, h)
	img := imaging.New(w, h, 1)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := uint16(0)
			if (x < 20) != (y < 15) {
				c = 1
			}
			if x >= 8 && x < 18 && y >= 4 && y < 12 {
				c = 2
			}
			if x >= 30 && x < 34 {
				c = 3
			}
			m.Pix[y*w+x] = c
			img.Pix[y*w+x] = uint8(60 * c)
		}
	}
	return m, img
}

func TestApply(t *testing.T) {
	src, _ := scene()
	tests := []struct {
		spec       string
		wantIgnore int
		check      func(t *testing.T, out segment.LabelMap)
	}{
		{spec: "hflip", check: func(t *testing.T, out segment.LabelMap) {
			if out.At(39-30, 5) != 3 || out.At(39-8, 4) != 2 {
				t.Error("hflip did not mirror the columns")
			}
		}},
		{spec: "vflip", check: func(t *testing.T, out segment.LabelMap) {
			if out.At(8, 29-4) != 2 || out.At(8, 29-12) == 2 {
				t.Error("vflip did not mirror the rows")
			}
		}},
		// 0.1 of 40 px: the content moves 4 px right; 4 columns have no source.
		{spec: "shift:0.1,0", wantIgnore: 4 * 30, check: func(t *testing.T, out segment.LabelMap) {
			if out.At(34, 0) != 3 || out.At(37, 0) != 3 || out.At(33, 0) == 3 || out.At(38, 0) == 3 {
				t.Error("shift did not move the bar by 4 px")
			}
		}},
		// -0.2 of 30 px: 6 rows up; the bottom 6 rows have no source.
		{spec: "shift:0,-0.2", wantIgnore: 6 * 40},
		// -5.2 px and +6.3 px: each output pixel reads the source pixel nearest to (x+5.2, y-6.3),
		// the one with the larger bilinear weight in the image.
		{spec: "shift:-0.13,0.21", wantIgnore: 40*30 - 35*24, check: func(t *testing.T, out segment.LabelMap) {
			for y := 6; y < 30; y++ {
				for x := 0; x < 35; x++ {
					if out.At(x, y) != src.At(x+5, y-6) {
						t.Fatalf("(%d,%d) = %d, want source (%d,%d) = %d", x, y, out.At(x, y), x+5, y-6, src.At(x+5, y-6))
					}
				}
			}
		}},
		// Zooming in covers the whole output.
		{spec: "scale:1.5"},
		// Zooming out leaves a frame without source.
		{spec: "scale:0.5", wantIgnore: 40*30 - 20*15},
		{spec: "brightness:0.2", check: func(t *testing.T, out segment.LabelMap) {
			if !slices.Equal(out.Pix, src.Pix) {
				t.Error("a photometric transform moved the labels")
			}
		}},
		{spec: "rotate:10", wantIgnore: -1},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			tr, err := perturb.ParseTransform(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			var out segment.LabelMap
			if err := Apply(tr, &out, src, ignore); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, v := range out.Pix {
				if v == ignore {
					n++
				}
			}
			switch {
			case tc.wantIgnore >= 0 && n != tc.wantIgnore:
				t.Errorf("%d ignored pixels, want %d", n, tc.wantIgnore)
			case tc.wantIgnore < 0 && (n == 0 || n > len(out.Pix)/4):
				t.Errorf("%d ignored pixels after a 10 degree rotation, want the corners only", n)
			}
			if tc.check != nil {
				tc.check(t, out)
			}
		})
	}
}

// TestApplyMatchesImageTransform applies each geometric transform to the scene's image with
// perturb and to its map with Apply: wherever the moved map is one class over a 3x3 neighbourhood
// (away from blended edges), the moved image must show that class's gray, and the map must not
// have ignored pixels the image transform had a source for in the middle of the image.
func TestApplyMatchesImageTransform(t *testing.T) {
	src, img := scene()
	for _, spec := range []string{"hflip", "vflip", "shift:0.1,0.05", "shift:-0.13,0.21", "scale:1.3", "scale:0.8", "rotate:-12", "rotate:7"} {
		t.Run(spec, func(t *testing.T) {
			tr, err := perturb.ParseTransform(spec)
			if err != nil {
				t.Fatal(err)
			}
			var moved imaging.Image
			if err := tr.Apply(&moved, img); err != nil {
				t.Fatal(err)
			}
			var out segment.LabelMap
			if err := Apply(tr, &out, src, ignore); err != nil {
				t.Fatal(err)
			}
			checked := 0
			for y := 1; y < out.H-1; y++ {
				for x := 1; x < out.W-1; x++ {
					v := out.At(x, y)
					if v == ignore {
						continue
					}
					uniform := true
					for dy := -1; dy <= 1 && uniform; dy++ {
						for dx := -1; dx <= 1; dx++ {
							if out.At(x+dx, y+dy) != v {
								uniform = false
								break
							}
						}
					}
					if !uniform {
						continue
					}
					checked++
					if got := moved.At(x, y, 0); got != uint8(60*v) {
						t.Fatalf("pixel (%d,%d): map says class %d, the moved image shows gray %d (want %d)", x, y, v, got, 60*v)
					}
				}
			}
			if checked < out.W*out.H/4 {
				t.Errorf("only %d pixels compared", checked)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	src, _ := scene()
	tr, _ := perturb.ParseTransform("hflip")
	if err := Apply(tr, &src, src, ignore); err == nil || !strings.Contains(err.Error(), "shares memory") {
		t.Errorf("in-place transform: %v", err)
	}
	if err := Apply(tr, &segment.LabelMap{}, segment.LabelMap{W: 2, H: 2}, ignore); err == nil {
		t.Error("an invalid map was transformed")
	}
	if err := Apply(tr, nil, src, ignore); err == nil {
		t.Error("nil destination accepted")
	}
}

func TestCropResize(t *testing.T) {
	m := segment.LabelMap{W: 4, H: 2, Pix: []uint16{0, 1, 2, 3, 4, 5, 6, 7}}
	c, err := Crop(m, 1, 0, 2, 2)
	if err != nil || !slices.Equal(c.Pix, []uint16{1, 2, 5, 6}) {
		t.Fatalf("Crop = %v, %v", c.Pix, err)
	}
	if _, err := Crop(m, 3, 0, 2, 2); err == nil || !strings.Contains(err.Error(), "does not lie inside the 4x2 map") {
		t.Errorf("out-of-bounds crop: %v", err)
	}
	r, err := Resize(m, 8, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint16{0, 0, 1, 1, 2, 2, 3, 3}
	if !slices.Equal(r.Pix[:8], want) || !slices.Equal(r.Pix[8:16], want) || r.At(7, 3) != 7 {
		t.Errorf("Resize up = %v", r.Pix)
	}
	d, err := Resize(m, 2, 1)
	// Output pixel 0 reads source floor(0.5*2) = 1 on both axes.
	if err != nil || !slices.Equal(d.Pix, []uint16{5, 7}) {
		t.Errorf("Resize down = %v, %v, want [5 7]", d.Pix, err)
	}
	if _, err := Resize(m, 0, 1); err == nil {
		t.Error("zero size accepted")
	}
}
