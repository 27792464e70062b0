package box

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestIoU(t *testing.T) {
	tests := []struct {
		name      string
		a, b      Box
		iou, crwd float64
	}{
		{"identical", Box{0, 0, 10, 10}, Box{0, 0, 10, 10}, 1, 1},
		{"disjoint", Box{0, 0, 10, 10}, Box{20, 20, 30, 30}, 0, 0},
		{"touching edges", Box{0, 0, 10, 10}, Box{10, 0, 20, 10}, 0, 0},
		{"half overlap", Box{0, 0, 10, 10}, Box{5, 0, 15, 10}, 50.0 / 150, 0.5},
		{"inside crowd", Box{2, 2, 4, 4}, Box{0, 0, 10, 10}, 4.0 / 100, 1},
		{"degenerate", Box{5, 5, 5, 5}, Box{0, 0, 10, 10}, 0, 0},
		{"inverted", Box{10, 10, 0, 0}, Box{0, 0, 10, 10}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IoU(tt.a, tt.b); !near(got, tt.iou, 1e-12) {
				t.Errorf("IoU = %v, want %v", got, tt.iou)
			}
			if got := IoU(tt.b, tt.a); !near(got, tt.iou, 1e-12) {
				t.Errorf("IoU is not symmetric: %v, want %v", got, tt.iou)
			}
			if got := CrowdIoU(tt.a, tt.b); !near(got, tt.crwd, 1e-12) {
				t.Errorf("CrowdIoU = %v, want %v", got, tt.crwd)
			}
		})
	}
}

func TestBoxBasics(t *testing.T) {
	b := FromXYWH(1.5, 2, 3, 4)
	if b != (Box{1.5, 2, 4.5, 6}) || b.W() != 3 || b.H() != 4 || b.Area() != 12 {
		t.Errorf("FromXYWH = %+v (w %v h %v area %v)", b, b.W(), b.H(), b.Area())
	}
	if c := FromCXCYWH(10, 10, 4, 2); c != (Box{8, 9, 12, 11}) {
		t.Errorf("FromCXCYWH = %+v", c)
	}
	if c := (Box{-5, 3, 120, 200}).Clip(100, 50); c != (Box{0, 3, 100, 50}) {
		t.Errorf("Clip = %+v", c)
	}
	if (Box{0, 0, math.NaN(), 1}).Finite() || (Box{0, math.Inf(1), 1, 1}).Finite() || !b.Finite() {
		t.Error("Finite misjudges NaN/Inf")
	}
	if i := (Box{0, 0, 2, 2}).Intersect(Box{5, 5, 6, 6}); i.Area() != 0 || i.W() < 0 || i.H() < 0 {
		t.Errorf("Intersect of disjoint boxes = %+v", i)
	}
}

func TestLetterboxGeometry(t *testing.T) {
	tests := []struct {
		name       string
		l          Letterbox
		w, h       int
		want       Geometry
		wantErrSub string
	}{
		{"landscape centred", Letterbox{Width: 640, Height: 640}, 640, 480,
			Geometry{640, 480, 640, 640, 640, 480, 0, 80, 0}, ""},
		{"wide video", Letterbox{Width: 640, Height: 640, PadValue: 114}, 1280, 720,
			Geometry{1280, 720, 640, 640, 640, 360, 0, 140, 114}, ""},
		// 51*0.64 = 32.64 rounds to 33 pixels; 31 pixels of padding split 15 above, 16 below.
		{"odd padding", Letterbox{Width: 64, Height: 64}, 100, 51,
			Geometry{100, 51, 64, 64, 64, 33, 0, 15, 0}, ""},
		{"top-left", Letterbox{Width: 64, Height: 64, TopLeft: true}, 100, 50,
			Geometry{100, 50, 64, 64, 64, 32, 0, 0, 0}, ""},
		{"upscale", Letterbox{Width: 64, Height: 64}, 16, 32,
			Geometry{16, 32, 64, 64, 32, 64, 16, 0, 0}, ""},
		{"no upscale", Letterbox{Width: 64, Height: 64, NoUpscale: true}, 16, 32,
			Geometry{16, 32, 64, 64, 16, 32, 24, 16, 0}, ""},
		{"stretch", Letterbox{Width: 64, Height: 32, Stretch: true}, 100, 100,
			Geometry{100, 100, 64, 32, 64, 32, 0, 0, 0}, ""},
		{"bad image", Letterbox{Width: 64, Height: 64}, 0, 10, Geometry{}, "size must be positive"},
		{"bad input", Letterbox{Width: 0, Height: 64}, 10, 10, Geometry{}, "input size must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := tt.l.Geometry(tt.w, tt.h)
			if tt.wantErrSub != "" {
				if err == nil || !contains(err.Error(), tt.wantErrSub) {
					t.Fatalf("error = %v, want it to mention %q", err, tt.wantErrSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g != tt.want {
				t.Fatalf("geometry = %+v, want %+v", g, tt.want)
			}
			// Forward then Inverse is the identity on boxes inside the image.
			b := Box{0.1 * float64(tt.w), 0.2 * float64(tt.h), 0.7 * float64(tt.w), float64(tt.h)}
			back := g.Inverse(g.Forward(b))
			for i, v := range [4]float64{back.X1 - b.X1, back.Y1 - b.Y1, back.X2 - b.X2, back.Y2 - b.Y2} {
				if math.Abs(v) > 1e-9 {
					t.Errorf("round trip coordinate %d off by %v: %+v -> %+v", i, v, b, back)
				}
			}
			// The resized image's corners land on the padding boundary.
			f := g.Forward(Box{0, 0, float64(tt.w), float64(tt.h)})
			if f != (Box{float64(g.Left), float64(g.Top), float64(g.Left + g.ResizedW), float64(g.Top + g.ResizedH)}) {
				t.Errorf("image corners map to %+v", f)
			}
		})
	}
}

func TestInverseClipsPadding(t *testing.T) {
	g, err := Letterbox{Width: 640, Height: 640}.Geometry(1280, 720)
	if err != nil {
		t.Fatal(err)
	}
	// A detection reaching into the top padding band (y < 140 in the input) stops at the edge.
	got := g.Inverse(Box{100, 100, 200, 200})
	want := Box{200, 0, 400, 120}
	if got != want {
		t.Errorf("Inverse = %+v, want %+v", got, want)
	}
	ds := []Detection{{Box: Box{0, 140, 640, 500}, Class: 3, Score: 0.5}}
	g.InverseAll(ds)
	if ds[0].Box != (Box{0, 0, 1280, 720}) || ds[0].Class != 3 {
		t.Errorf("InverseAll = %+v", ds[0])
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
