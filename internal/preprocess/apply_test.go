package preprocess

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
)

// randomImage is a w x h image with c channels of seeded random bytes.
func randomImage(w, h, c int, seed uint64) *imaging.Image {
	rng := rand.New(rand.NewPCG(seed, 99))
	img := imaging.New(w, h, c)
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.Uint32())
	}
	return img
}

// imageOf builds an image from explicit pixel values.
func imageOf(w, h, c int, pix ...uint8) *imaging.Image {
	img := imaging.New(w, h, c)
	copy(img.Pix, pix)
	return img
}

func apply(s Spec, img *imaging.Image) []float32 {
	dst := make([]float32, s.SampleSize())
	s.Apply(img, dst, &Scratch{})
	return dst
}

func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-float64(want[i])) > tol || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: [%d] = %v, want %v +- %g\ngot  %v\nwant %v", what, i, got[i], want[i], tol, got, want)
		}
	}
}

// TestApplyIdentity: same size, no normalisation: each value is exactly pixel/255 (what
// torchvision's ToTensor computes), for every byte value.
func TestApplyIdentity(t *testing.T) {
	s := mustResolve(t, config.Preprocess{}, input(onnx.Float32, -1, 1, 16, 16))
	img := imaging.New(16, 16, 1)
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	got := apply(s, img)
	for i, v := range got {
		if want := float32(img.Pix[i]) / 255; v != want {
			t.Fatalf("[%d] = %v (%08x), want %d/255 = %v (%08x)", i, v, math.Float32bits(v), img.Pix[i], want, math.Float32bits(want))
		}
	}

	s = mustResolve(t, config.Preprocess{}, input(onnx.Float32, -1, 1, 28, 28))
	img = randomImage(28, 28, 1, 1)
	got = apply(s, img)
	for i, v := range got {
		if want := float32(img.Pix[i]) / 255; v != want {
			t.Fatalf("28x28: [%d] = %v, want %v", i, v, want)
		}
	}
}

func TestApplyLayoutAndOrder(t *testing.T) {
	// Two pixels, (10,20,30) and (40,50,60); scale 1 keeps the byte values visible.
	img := imageOf(2, 1, 3, 10, 20, 30, 40, 50, 60)
	tests := []struct {
		layout, color string
		want          []float32
	}{
		{layout: "nchw", want: []float32{10, 40, 20, 50, 30, 60}},
		{layout: "nhwc", want: []float32{10, 20, 30, 40, 50, 60}},
		{layout: "nchw", color: "bgr", want: []float32{30, 60, 20, 50, 10, 40}},
		{layout: "nhwc", color: "bgr", want: []float32{30, 20, 10, 60, 50, 40}},
	}
	for _, tt := range tests {
		t.Run(tt.layout+" "+tt.color, func(t *testing.T) {
			shape := []int64{1, 3, 1, 2}
			if tt.layout == "nhwc" {
				shape = []int64{1, 1, 2, 3}
			}
			s := mustResolve(t, config.Preprocess{Layout: tt.layout, Color: tt.color, Scale: ptr(1.0)}, input(onnx.Float32, shape...))
			closeTo(t, "Apply", apply(s, img), tt.want, 0)

			u := mustResolve(t, config.Preprocess{Layout: tt.layout, Color: tt.color}, input(onnx.Uint8, shape...))
			dst := make([]uint8, u.SampleSize())
			u.ApplyUint8(img, dst, &Scratch{})
			want := make([]uint8, len(tt.want))
			for i, v := range tt.want {
				want[i] = uint8(v)
			}
			if diff := cmp.Diff(want, dst); diff != "" {
				t.Errorf("ApplyUint8 (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyNormalisation(t *testing.T) {
	// ((v/255) - mean) / std per channel: (255,0,51) -> ((1-.5)/.5, (0-.25)/.25, (.2-.1)/.2).
	s := mustResolve(t, config.Preprocess{Layout: "nhwc", Mean: []float64{0.5, 0.25, 0.1}, Std: []float64{0.5, 0.25, 0.2}},
		input(onnx.Float32, 1, 1, 1, 3))
	closeTo(t, "mean/std", apply(s, imageOf(1, 1, 3, 255, 0, 51)), []float32{1, -1, 0.5}, 1e-6)

	// ImageNet normalisation of mid-gray 128, NCHW.
	s = mustResolve(t, config.Preprocess{Preset: "imagenet", Fit: "stretch", Layout: "nchw"}, input(onnx.Float32, 1, 3, 1, 1))
	var want []float32
	for c := range 3 {
		want = append(want, float32((128.0/255-imagenetMean[c])/imagenetStd[c]))
	}
	closeTo(t, "imagenet", apply(s, imageOf(1, 1, 3, 128, 128, 128)), want, 1e-6)

	// BGR: the mean and std follow their channel, not the position.
	s = mustResolve(t, config.Preprocess{Layout: "nhwc", Color: "bgr", Scale: ptr(1.0), Mean: []float64{1, 2, 3}, Std: []float64{1, 2, 4}},
		input(onnx.Float32, 1, 1, 1, 3))
	closeTo(t, "bgr mean/std", apply(s, imageOf(1, 1, 3, 11, 22, 43)), []float32{(43 - 3) / 4.0, (22 - 2) / 2.0, 11 - 1}, 1e-6)
}

func TestApplyColourConversion(t *testing.T) {
	gray := imageOf(2, 1, 1, 0, 200)
	rgb := mustResolve(t, config.Preprocess{Color: "rgb", Scale: ptr(1.0), Layout: "nhwc"}, input(onnx.Float32, 1, 1, 2, 3))
	closeTo(t, "gray -> rgb", apply(rgb, gray), []float32{0, 0, 0, 200, 200, 200}, 0)
	if err := mustResolve(t, config.Preprocess{Scale: ptr(1.0), Layout: "nhwc"}, input(onnx.Float32, 1, 1, 2, 3)).CheckChannels(1); err == nil {
		t.Error("a colour model accepted gray images without preprocess.color")
	}

	// BT.601 luma: 0.299 R + 0.587 G + 0.114 B, rounded to a byte on the byte path.
	colour := imageOf(4, 1, 3, 255, 0, 0, 0, 255, 0, 0, 0, 255, 100, 150, 200)
	luma := func(r, g, b float64) float64 { return 0.299*r + 0.587*g + 0.114*b }
	want := []float32{float32(luma(255, 0, 0)), float32(luma(0, 255, 0)), float32(luma(0, 0, 255)), float32(luma(100, 150, 200))}
	toGray := mustResolve(t, config.Preprocess{Color: "gray", Scale: ptr(1.0), Layout: "nchw"}, input(onnx.Float32, 1, 1, 1, 4))
	closeTo(t, "rgb -> gray", apply(toGray, colour), want, 0.5)
	fdst := make([]float32, 4)
	toGray.ApplyFloat(colour.Float(), fdst, &Scratch{})
	closeTo(t, "rgb -> gray (float path)", fdst, want, 1e-3)
}

// TestApplyFloatMatchesApply: the attack path (float images in [0,1]) must feed the model what
// the byte path feeds for the same picture.
func TestApplyFloatMatchesApply(t *testing.T) {
	tests := []struct {
		name   string
		cfg    config.Preprocess
		in     onnx.TensorInfo
		w, h   int
		imageC int
	}{
		{name: "gray identity", in: input(onnx.Float32, -1, 1, 28, 28), w: 28, h: 28, imageC: 1},
		{name: "gray downscale", in: input(onnx.Float32, -1, 1, 28, 28), w: 61, h: 45, imageC: 1},
		{name: "rgb crop imagenet", cfg: config.Preprocess{Preset: "imagenet"}, in: input(onnx.Float32, -1, 3, 32, 32), w: 50, h: 37, imageC: 3},
		{name: "rgb upscale bgr nhwc", cfg: config.Preprocess{Color: "bgr"}, in: input(onnx.Float32, -1, 40, 30, 3), w: 17, h: 13, imageC: 3},
		{name: "rgb to gray area", cfg: config.Preprocess{Color: "gray", Resize: "area"}, in: input(onnx.Float32, -1, 1, 20, 20), w: 40, h: 40, imageC: 3},
		{name: "gray to rgb nearest", cfg: config.Preprocess{Color: "rgb", Resize: "nearest"}, in: input(onnx.Float32, -1, 3, 20, 20), w: 33, h: 27, imageC: 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustResolve(t, tt.cfg, tt.in)
			img := randomImage(tt.w, tt.h, tt.imageC, uint64(i))
			want := apply(s, img)
			got := make([]float32, s.SampleSize())
			s.ApplyFloat(img.Float(), got, &Scratch{})
			// The byte path converts RGB to gray in integers (rounded); the float path does not.
			tol := 1e-5
			if tt.imageC == 3 && s.Channels == 1 {
				tol = 0.5 / 255 / s.Std[0]
			}
			closeTo(t, "ApplyFloat vs Apply", got, want, tol)

			u := s
			u.DType, u.Scale, u.Mean, u.Std = onnx.Uint8, 1, noMean, unitStd
			wantU := make([]uint8, u.SampleSize())
			gotU := make([]uint8, u.SampleSize())
			u.ApplyUint8(img, wantU, &Scratch{})
			u.ApplyFloatUint8(img.Float(), gotU, &Scratch{})
			for j := range gotU {
				if d := int(gotU[j]) - int(wantU[j]); d < -1 || d > 1 {
					t.Fatalf("ApplyFloatUint8 [%d] = %d, ApplyUint8 = %d", j, gotU[j], wantU[j])
				}
			}
		})
	}
}

// TestScratchReuse: one Scratch serves images of different sizes in turn without leaking state.
func TestScratchReuse(t *testing.T) {
	s := mustResolve(t, config.Preprocess{Preset: "imagenet"}, input(onnx.Float32, -1, 3, 24, 24))
	var sc Scratch
	for i, size := range [][2]int{{100, 60}, {24, 24}, {30, 90}, {100, 60}} {
		img := randomImage(size[0], size[1], 3, uint64(i))
		got := make([]float32, s.SampleSize())
		s.Apply(img, got, &sc)
		closeTo(t, "reused scratch", got, apply(s, img), 0)
	}
}

func TestView(t *testing.T) {
	img := randomImage(40, 30, 3, 5)
	s := mustResolve(t, config.Preprocess{Color: "bgr", Preset: "imagenet"}, input(onnx.Float32, -1, 3, 20, 20))
	v := s.View(img)
	if v.Width != 20 || v.Height != 20 || v.Channels != 3 {
		t.Fatalf("View is %dx%dx%d, want 20x20x3", v.Width, v.Height, v.Channels)
	}
	// The view is the model input before normalisation, kept in RGB order for people.
	u := s
	u.DType, u.Scale, u.Mean, u.Std, u.Order, u.Layout = onnx.Uint8, 1, noMean, unitStd, "rgb", NHWC
	want := make([]uint8, u.SampleSize())
	u.ApplyUint8(img, want, &Scratch{})
	if diff := cmp.Diff(want, v.Pix); diff != "" {
		t.Errorf("View (-want +got):\n%s", diff)
	}
}
