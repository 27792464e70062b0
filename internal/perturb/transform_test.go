package perturb

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

func TestParseTransformValid(t *testing.T) {
	tests := []struct{ spec, canonical string }{
		{"hflip", "hflip"},
		{" VFLIP ", "vflip"},
		{"rotate:10", "rotate:10"},
		{"rotate:-10", "rotate:-10"},
		{"shift:0.1,0", "shift:0.1,0"},
		{"shift: -0.25 , 0.5", "shift:-0.25,0.5"},
		{"scale:0.9", "scale:0.9"},
		{"brightness:0.1", "brightness:0.1"},
		{"brightness:-0.2", "brightness:-0.2"},
		{"contrast:0.5", "contrast:0.5"},
		{"gamma:1.2", "gamma:1.2"},
		{"hue:20", "hue:20"},
	}
	for _, tc := range tests {
		tr, err := ParseTransform(tc.spec)
		if err != nil {
			t.Fatalf("ParseTransform(%q): %v", tc.spec, err)
		}
		if got := tr.String(); got != tc.canonical {
			t.Errorf("ParseTransform(%q).String() = %q, want %q", tc.spec, got, tc.canonical)
		}
		again, err := ParseTransform(tr.String())
		if err != nil || again != tr {
			t.Errorf("canonical spec %q does not round-trip: %v", tr.String(), err)
		}
	}
}

func TestParseTransformInvalid(t *testing.T) {
	tests := []struct{ spec, wantErr string }{
		{"", "unknown transform"},
		{"blur:3", "unknown transform"},
		{"hflip:1", "takes no argument"},
		{"rotate", "needs an argument"},
		{"rotate:", "is not a finite number"},
		{"rotate:abc", `"abc" is not a finite number`},
		{"rotate:NaN", "is not a finite number"},
		{"rotate:Inf", "is not a finite number"},
		{"rotate:1,2", "needs 1 comma-separated numbers, got 2"},
		{"shift:0.1", "needs 2 comma-separated numbers, got 1"},
		{"shift:1,0", "(-1, 1)"},
		{"scale:0", "positive"},
		{"scale:-2", "positive"},
		{"gamma:0", "positive"},
		{"contrast:-1", "not be negative"},
		{"brightness:2", "[-1, 1]"},
	}
	for _, tc := range tests {
		_, err := ParseTransform(tc.spec)
		if err == nil {
			t.Errorf("ParseTransform(%q) succeeded, want an error", tc.spec)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.wantErr) || !strings.Contains(msg, "valid forms: "+TransformForms) || !strings.HasPrefix(msg, "parse transform ") {
			t.Errorf("ParseTransform(%q) error = %q, want it to name %q and list the valid forms", tc.spec, msg, tc.wantErr)
		}
	}
}

func mustTransform(t *testing.T, spec string, src *imaging.Image) *imaging.Image {
	t.Helper()
	tr, err := ParseTransform(spec)
	if err != nil {
		t.Fatal(err)
	}
	dst := &imaging.Image{}
	if err := tr.Apply(dst, src); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestTransformIdentities(t *testing.T) {
	for _, src := range []*imaging.Image{scene(31, 17, 3), scene(28, 28, 1)} {
		for _, spec := range []string{"rotate:0", "rotate:360", "shift:0,0", "scale:1", "brightness:0", "contrast:1", "gamma:1", "hue:0", "hue:360"} {
			if got := mustTransform(t, spec, src); !bytes.Equal(got.Pix, src.Pix) {
				t.Errorf("%dx%dx%d %s is not the identity (PSNR %.1f)", src.Width, src.Height, src.Channels, spec, psnr(src, got))
			}
		}
		for _, spec := range []string{"hflip", "vflip"} {
			twice := mustTransform(t, spec, mustTransform(t, spec, src))
			if !bytes.Equal(twice.Pix, src.Pix) {
				t.Errorf("%s twice is not the identity", spec)
			}
		}
	}
	gray := scene(28, 28, 1)
	if got := mustTransform(t, "hue:90", gray); !bytes.Equal(got.Pix, gray.Pix) {
		t.Error("hue changes a gray image")
	}
}

func TestTransformGeometry(t *testing.T) {
	const n = 9
	src := scene(n, n, 3)
	at := func(m *imaging.Image, x, y int) []uint8 { o := (y*m.Width + x) * 3; return m.Pix[o : o+3] }
	h := mustTransform(t, "hflip", src)
	v := mustTransform(t, "vflip", src)
	r := mustTransform(t, "rotate:90", src)
	s := mustTransform(t, "shift:0.25,0", scene(8, 4, 3))
	src8 := scene(8, 4, 3)
	for y := range n {
		for x := range n {
			if !bytes.Equal(at(h, x, y), at(src, n-1-x, y)) {
				t.Fatalf("hflip (%d,%d)", x, y)
			}
			if !bytes.Equal(at(v, x, y), at(src, x, n-1-y)) {
				t.Fatalf("vflip (%d,%d)", x, y)
			}
			// Counter-clockwise: what was on the right edge is now on the top edge.
			if !bytes.Equal(at(r, x, y), at(src, n-1-y, x)) {
				t.Fatalf("rotate:90 (%d,%d) = %v, want %v", x, y, at(r, x, y), at(src, n-1-y, x))
			}
		}
	}
	// shift:0.25 on width 8 moves content 2 px right; the first columns replicate column 0.
	for y := range 4 {
		for x := range 8 {
			want := at(src8, max(x-2, 0), y)
			if !bytes.Equal(at(s, x, y), want) {
				t.Fatalf("shift (%d,%d) = %v, want %v", x, y, at(s, x, y), want)
			}
		}
	}
	// scale:2 on an odd size keeps the centre and magnifies: the pixel one step right of the
	// centre now shows what was half a step right (the mean of the centre and its neighbour).
	z := mustTransform(t, "scale:2", src)
	if !bytes.Equal(at(z, 4, 4), at(src, 4, 4)) {
		t.Errorf("scale:2 moved the centre")
	}
	for k := range 3 {
		mean := (int(at(src, 4, 4)[k]) + int(at(src, 5, 4)[k]) + 1) / 2
		if d := int(at(z, 5, 4)[k]) - mean; d < -1 || d > 1 {
			t.Errorf("scale:2 pixel (5,4)[%d] = %d, want about %d", k, at(z, 5, 4)[k], mean)
		}
	}
	// rotate:10 then rotate:-10 comes back close to the original (two interpolations).
	back := mustTransform(t, "rotate:-10", mustTransform(t, "rotate:10", scene(64, 64, 3)))
	if p := psnr(scene(64, 64, 3), back); p < 20 {
		t.Errorf("rotate:10 then rotate:-10: PSNR %.1f dB, want >= 20", p)
	}
}

func TestTransformPhotometry(t *testing.T) {
	px := &imaging.Image{Width: 3, Height: 1, Channels: 3, Pix: []uint8{255, 0, 0, 128, 128, 128, 10, 250, 40}}
	if got := mustTransform(t, "hue:120", px).Pix; !bytes.Equal(got, []uint8{0, 255, 0, 128, 128, 128, 40, 10, 250}) {
		t.Errorf("hue:120 = %v, want red->green, gray kept, green->blue", got)
	}
	if got := mustTransform(t, "brightness:0.1", px).Pix; !bytes.Equal(got, []uint8{255, 26, 26, 154, 154, 154, 36, 255, 66}) {
		t.Errorf("brightness:0.1 = %v", got)
	}
	if got := mustTransform(t, "gamma:2", px).Pix; !bytes.Equal(got, []uint8{255, 0, 0, 64, 64, 64, 0, 245, 6}) {
		t.Errorf("gamma:2 = %v", got)
	}
	gray := &imaging.Image{Width: 4, Height: 1, Channels: 1, Pix: []uint8{0, 100, 100, 200}}
	// Mean 100: contrast 0.5 halves the distance to it; contrast 0 flattens.
	if got := mustTransform(t, "contrast:0.5", gray).Pix; !bytes.Equal(got, []uint8{50, 100, 100, 150}) {
		t.Errorf("contrast:0.5 = %v", got)
	}
	if got := mustTransform(t, "contrast:0", gray).Pix; !bytes.Equal(got, []uint8{100, 100, 100, 100}) {
		t.Errorf("contrast:0 = %v", got)
	}
}

func TestTransformApplyErrors(t *testing.T) {
	tr, err := ParseTransform("hflip")
	if err != nil {
		t.Fatal(err)
	}
	src := scene(4, 4, 3)
	for _, tc := range []struct {
		name     string
		dst, src *imaging.Image
		want     string
	}{
		{"nil source", &imaging.Image{}, nil, "source: nil image"},
		{"nil destination", nil, src, "nil destination"},
		{"aliased", src, src, "shares memory"},
	} {
		if err := tr.Apply(tc.dst, tc.src); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
