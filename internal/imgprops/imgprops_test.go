package imgprops

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func grayImage(w, h int, pix ...uint8) *imaging.Image {
	return &imaging.Image{Width: w, Height: h, Channels: 1, Pix: pix}
}

func checkerboard(w, h int) *imaging.Image {
	m := imaging.New(w, h, 1)
	for y := range h {
		for x := range w {
			if (x+y)%2 == 0 {
				m.Pix[y*w+x] = 255
			}
		}
	}
	return m
}

func filled(w, h, channels int, value ...uint8) *imaging.Image {
	m := imaging.New(w, h, channels)
	for i := range m.Pix {
		m.Pix[i] = value[i%channels]
	}
	return m
}

var approx = cmpopts.EquateApprox(0, 1e-12)

// TestComputeKnown checks images whose properties follow from the definitions by hand.
func TestComputeKnown(t *testing.T) {
	third := 1.0 / 3
	tests := []struct {
		name string
		img  *imaging.Image
		want Properties
	}{
		{
			name: "constant mid gray",
			img:  filled(10, 10, 1, 128),
			want: Properties{Brightness: 128.0 / 255, AspectRatio: 1, Area: 100,
				RedShare: third, GreenShare: third, BlueShare: third},
		},
		{
			name: "black left half, white right half",
			img:  grayImage(4, 2, 0, 0, 255, 255, 0, 0, 255, 255),
			want: Properties{Brightness: 0.5, Contrast: 0.5, Entropy: 1, AspectRatio: 2, Area: 8,
				RedShare: third, GreenShare: third, BlueShare: third,
				ClippedShare: 1, DarkShare: 0.5, BrightShare: 0.5},
		},
		{
			// Every interior pixel differs from all four neighbours by full scale: Laplacian +-1,
			// two of each in the 2x2 interior, so variance 1 (the maximum).
			name: "one-pixel checkerboard",
			img:  checkerboard(4, 4),
			want: Properties{Brightness: 0.5, Contrast: 0.5, Sharpness: 1, Entropy: 1, AspectRatio: 1,
				Area: 16, RedShare: third, GreenShare: third, BlueShare: third,
				ClippedShare: 1, DarkShare: 0.5, BrightShare: 0.5},
		},
		{
			// Luma values 0, 1/3, 2/3, 1: mean 1/2, variance (1/4+1/36+1/36+1/4)/4 = 5/36.
			name: "four equally frequent levels",
			img:  grayImage(2, 2, 0, 85, 170, 255),
			want: Properties{Brightness: 0.5, Contrast: math.Sqrt(5.0 / 36), Entropy: 2, AspectRatio: 1,
				Area: 4, RedShare: third, GreenShare: third, BlueShare: third,
				ClippedShare: 0.5, DarkShare: 0.25, BrightShare: 0.25},
		},
		{
			// A linear ramp has no second derivative: contrast but zero Laplacian.
			name: "horizontal ramp",
			img:  grayImage(5, 3, 0, 50, 100, 150, 200, 0, 50, 100, 150, 200, 0, 50, 100, 150, 200),
			want: Properties{Brightness: 100.0 / 255, Contrast: math.Sqrt(2) * 50 / 255,
				Entropy: math.Log2(5), AspectRatio: 5.0 / 3, Area: 15,
				RedShare: third, GreenShare: third, BlueShare: third,
				ClippedShare: 0.2, DarkShare: 0.2},
		},
		{
			// 5 and 250 are the last dark and the first bright level (0.02*255 = 5.1, 0.98*255 = 249.9).
			name: "clipping thresholds are inclusive",
			img:  grayImage(1, 4, 5, 6, 249, 250),
			want: Properties{Brightness: 510.0 / 4 / 255,
				Contrast: math.Sqrt((2*122.5*122.5+2*121.5*121.5)/4) / 255,
				Entropy:  2, AspectRatio: 0.25, Area: 4,
				RedShare: third, GreenShare: third, BlueShare: third,
				ClippedShare: 0.5, DarkShare: 0.25, BrightShare: 0.25},
		},
		{
			// BT.601 luma of pure red: round(0.299*255) = 76.
			name: "pure red",
			img:  filled(3, 1, 3, 255, 0, 0),
			want: Properties{Brightness: 76.0 / 255, AspectRatio: 3, Area: 3, RedShare: 1},
		},
		{
			name: "colour cast",
			img:  filled(2, 2, 3, 100, 50, 50),
			want: Properties{Brightness: 65.0 / 255, AspectRatio: 1, Area: 4,
				RedShare: 0.5, GreenShare: 0.25, BlueShare: 0.25},
		},
		{
			name: "all black RGB has no colour cast",
			img:  filled(2, 3, 3, 0, 0, 0),
			want: Properties{AspectRatio: 2.0 / 3, Area: 6, RedShare: third, GreenShare: third,
				BlueShare: third, ClippedShare: 1, DarkShare: 1},
		},
		{
			name: "single pixel",
			img:  grayImage(1, 1, 255),
			want: Properties{Brightness: 1, AspectRatio: 1, Area: 1, RedShare: third, GreenShare: third,
				BlueShare: third, ClippedShare: 1, BrightShare: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Compute(tt.img)
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, approx); diff != "" {
				t.Errorf("Compute mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// reference computes the properties the slow, obvious way: a separate luma image from
// imaging.ToGray, two-pass mean and variance, and the Laplacian read straight from the definition.
func reference(img *imaging.Image) Properties {
	gray := img.ToGray()
	w, h := img.Width, img.Height
	n := float64(w * h)
	luma := func(x, y int) float64 { return float64(gray.Pix[y*w+x]) / 255 }

	var p Properties
	counts := map[uint8]int{}
	var dark, bright int
	for _, v := range gray.Pix {
		p.Brightness += float64(v) / 255 / n
		counts[v]++
		if float64(v) <= 0.02*255 {
			dark++
		}
		if float64(v) >= 0.98*255 {
			bright++
		}
	}
	for _, v := range gray.Pix {
		d := float64(v)/255 - p.Brightness
		p.Contrast += d * d / n
	}
	p.Contrast = math.Sqrt(p.Contrast)
	for _, c := range counts {
		q := float64(c) / n
		p.Entropy -= q * math.Log2(q)
	}
	var laps []float64
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			neighbours := (luma(x-1, y) + luma(x+1, y) + luma(x, y-1) + luma(x, y+1)) / 4
			laps = append(laps, neighbours-luma(x, y))
		}
	}
	if len(laps) > 0 {
		var mean float64
		for _, l := range laps {
			mean += l / float64(len(laps))
		}
		for _, l := range laps {
			p.Sharpness += (l - mean) * (l - mean) / float64(len(laps))
		}
	}
	p.AspectRatio = float64(w) / float64(h)
	p.Area = n
	p.DarkShare, p.BrightShare = float64(dark)/n, float64(bright)/n
	p.ClippedShare = p.DarkShare + p.BrightShare
	p.RedShare, p.GreenShare, p.BlueShare = 1.0/3, 1.0/3, 1.0/3
	if img.Channels == 3 {
		var s [3]float64
		for i, v := range img.Pix {
			s[i%3] += float64(v)
		}
		if t := s[0] + s[1] + s[2]; t > 0 {
			p.RedShare, p.GreenShare, p.BlueShare = s[0]/t, s[1]/t, s[2]/t
		}
	}
	return p
}

func randomImage(rng *rand.Rand, w, h, channels int) *imaging.Image {
	m := imaging.New(w, h, channels)
	// Mix of smooth structure and noise so that every property varies.
	for y := range h {
		for x := range w {
			for c := range channels {
				base := 128 + 100*math.Sin(float64(x+2*c)/3)*math.Cos(float64(y)/4)
				v := base + rng.NormFloat64()*30
				m.Pix[(y*w+x)*channels+c] = uint8(max(0, min(255, v)))
			}
		}
	}
	return m
}

func TestComputeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []struct{ w, h, c int }{
		{1, 1, 1}, {1, 7, 3}, {7, 1, 1}, {2, 5, 3}, {3, 3, 1}, {3, 3, 3},
		{28, 28, 1}, {17, 9, 3}, {64, 48, 3}, {101, 3, 1},
	}
	for _, s := range sizes {
		img := randomImage(rng, s.w, s.h, s.c)
		got, err := Compute(img)
		if err != nil {
			t.Fatalf("%dx%dx%d: Compute: %v", s.w, s.h, s.c, err)
		}
		want := reference(img)
		if diff := cmp.Diff(want, got, cmpopts.EquateApprox(1e-9, 1e-12)); diff != "" {
			t.Errorf("%dx%dx%d: Compute differs from reference (-want +got):\n%s", s.w, s.h, s.c, diff)
		}
	}
}

// A gray image and its RGB copy are the same picture: every property must agree.
func TestGrayAndRGBCopyAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	gray := randomImage(rng, 31, 17, 1)
	a, err := Compute(gray)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compute(gray.ToRGB())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, b, approx); diff != "" {
		t.Errorf("gray vs RGB copy (-gray +rgb):\n%s", diff)
	}
}

func TestComputeRejectsBadShapes(t *testing.T) {
	tests := []struct {
		name    string
		img     *imaging.Image
		wantErr string
	}{
		{"nil", nil, "nil image"},
		{"zero width", &imaging.Image{Width: 0, Height: 2, Channels: 1}, "invalid size 0x2"},
		{"negative height", &imaging.Image{Width: 2, Height: -1, Channels: 1}, "invalid size 2x-1"},
		{"four channels", &imaging.Image{Width: 1, Height: 1, Channels: 4, Pix: make([]uint8, 4)}, "4 channels"},
		{"short buffer", &imaging.Image{Width: 2, Height: 2, Channels: 3, Pix: make([]uint8, 11)}, "11 pixel bytes"},
		{"long buffer", &imaging.Image{Width: 2, Height: 2, Channels: 1, Pix: make([]uint8, 5)}, "5 pixel bytes"},
		{"overflowing size", &imaging.Image{Width: 1 << 62, Height: 4, Channels: 1, Pix: make([]uint8, 0)}, "0 pixel bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compute(tt.img)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Compute error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// Names must list every field, in declaration order, under its JSON key; Values and Get must
// return the field each name stands for.
func TestNamesCoverFieldsInOrder(t *testing.T) {
	typ := reflect.TypeFor[Properties]()
	var tags []string
	for i := range typ.NumField() {
		tags = append(tags, typ.Field(i).Tag.Get("json"))
	}
	if diff := cmp.Diff(tags, Names()); diff != "" {
		t.Fatalf("Names differ from the struct's JSON tags (-tags +names):\n%s", diff)
	}

	// Give every field a distinct value and read it back three ways.
	var p Properties
	v := reflect.ValueOf(&p).Elem()
	for i := range v.NumField() {
		v.Field(i).SetFloat(float64(i + 1))
	}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var byKey map[string]float64
	if err := json.Unmarshal(raw, &byKey); err != nil {
		t.Fatal(err)
	}
	values := p.Values()
	for i, name := range Names() {
		got, ok := p.Get(name)
		if !ok || got != byKey[name] || values[i] != byKey[name] {
			t.Errorf("%s: Get = %v, %v; Values[%d] = %v; JSON = %v", name, got, ok, i, values[i], byKey[name])
		}
	}
	if _, ok := p.Get("no_such_property"); ok {
		t.Error("Get of an unknown name reported ok")
	}
	names := Names()
	names[0] = "changed"
	if Names()[0] == "changed" {
		t.Error("Names returned shared state")
	}
}

// Images over 4 billion pixels flush the 32-bit histograms; simulate the flush point instead of
// allocating such an image.
func TestHistogramFlushKeepsCounts(t *testing.T) {
	var a accumulator // width 0: no Laplacian, so rows of different widths may be mixed here
	a.addRow([]uint8{1, 2, 2, 3})
	a.pending = math.MaxUint32 - 2 // as if billions of pixels had been counted
	a.addRow([]uint8{2, 2, 2, 9})  // does not fit: flushes first
	a.addRGBRow(make([]uint8, 3), []uint8{255, 0, 0, 0, 0, 0, 0, 0, 255})
	a.flushHistogram()
	want := map[int]uint64{0: 1, 1: 1, 2: 5, 3: 1, 9: 1, 29: 1, 76: 1}
	for v, c := range a.total {
		if c != want[v] {
			t.Errorf("bin %d = %d, want %d", v, c, want[v])
		}
	}
}
