package preprocess

import (
	"fmt"
	"math"
	"testing"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
)

// resized resamples img to w x h through the public path (Resolve + Apply) with scale 1, so the
// values stay in 0..255 units, interleaved (NHWC) like the source.
func resized(t *testing.T, img *imaging.Image, w, h int, cfg config.Preprocess) []float32 {
	t.Helper()
	cfg.Layout, cfg.Scale = "nhwc", ptr(1.0)
	s := mustResolve(t, cfg, input(onnx.Float32, 1, int64(h), int64(w), int64(img.Channels)))
	return apply(s, img)
}

func filled(n int, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestDownscaleCheckerboard: halving a one-pixel checkerboard averages it away. Interior outputs
// see taps 1/8, 3/8, 3/8, 1/8 on each axis, which weigh black and white equally; at the border the
// clipped taps are renormalised (as in PIL), so only the interior is exactly mid-gray.
func TestDownscaleCheckerboard(t *testing.T) {
	img := imaging.New(16, 16, 1)
	for y := range 16 {
		for x := range 16 {
			if (x+y)%2 == 0 {
				img.Pix[y*16+x] = 255
			}
		}
	}
	for _, f := range []Filter{Bilinear, Area} {
		t.Run(string(f), func(t *testing.T) {
			got := resized(t, img, 8, 8, config.Preprocess{Resize: string(f)})
			for y := range 8 {
				for x := range 8 {
					v := got[y*8+x]
					interior := x > 0 && x < 7 && y > 0 && y < 7
					if (interior || f == Area) && math.Abs(float64(v)-127.5) > 1e-3 {
						t.Errorf("(%d,%d) = %v, want 127.5", x, y, v)
					}
					if math.Abs(float64(v)-127.5) > 20 {
						t.Errorf("border (%d,%d) = %v, want near 127.5", x, y, v)
					}
				}
			}
		})
	}
}

// TestDownscaleAntialiased: shrinking 1-pixel stripes (255 every 4th column) by 4 must give their
// mean, 63.75. Point-sampling bilinear (no antialiasing) would read only the dark columns.
func TestDownscaleAntialiased(t *testing.T) {
	img := imaging.New(64, 4, 1)
	for y := range 4 {
		for x := 0; x < 64; x += 4 {
			img.Pix[y*64+x] = 255
		}
	}
	got := resized(t, img, 16, 4, config.Preprocess{})
	for x := 1; x < 15; x++ {
		if v := got[x]; math.Abs(float64(v)-63.75) > 1e-3 {
			t.Errorf("column %d = %v, want 63.75 (the stripes' mean)", x, v)
		}
	}
}

func TestUpscaleConstant(t *testing.T) {
	img := imaging.New(5, 3, 3)
	for i := 0; i < len(img.Pix); i += 3 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2] = 77, 0, 255
	}
	for _, f := range []Filter{Bilinear, Area, Nearest} {
		got := resized(t, img, 17, 11, config.Preprocess{Resize: string(f)})
		for i, v := range got {
			if want := float64(img.Pix[i%3]); math.Abs(float64(v)-want) > 1e-4 {
				t.Fatalf("%s: [%d] = %v, want %v", f, i, v, want)
			}
		}
	}
}

func TestAreaExactReduction(t *testing.T) {
	img := randomImage(8, 6, 3, 3)
	got := resized(t, img, 4, 3, config.Preprocess{Resize: "area"})
	var want []float32
	for y := range 3 {
		for x := range 4 {
			for c := range 3 {
				sum := 0
				for _, d := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
					sum += int(img.At(2*x+d[0], 2*y+d[1], c))
				}
				want = append(want, float32(sum)/4)
			}
		}
	}
	closeTo(t, "area 2x", got, want, 1e-4)
}

func TestNearest(t *testing.T) {
	img := imageOf(3, 2, 1, 1, 2, 3, 4, 5, 6)
	// Doubling repeats every pixel twice along each axis.
	got := resized(t, img, 6, 4, config.Preprocess{Resize: "nearest"})
	want := []float32{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6}
	closeTo(t, "nearest 2x", got, want, 0)
	// Halving 6x4 -> 3x2 keeps the pixel holding each output's centre: columns 1, 3, 5; rows 1, 3.
	big := randomImage(6, 4, 1, 4)
	got = resized(t, big, 3, 2, config.Preprocess{Resize: "nearest"})
	want = nil
	for _, y := range []int{1, 3} {
		for _, x := range []int{1, 3, 5} {
			want = append(want, float32(big.At(x, y, 0)))
		}
	}
	closeTo(t, "nearest 1/2", got, want, 0)
}

// TestCenterCrop: a crop keeps the centre of the image. The source has a wide middle band (200)
// between a dark left margin (0) and a light right margin (100); a square crop of the 60x40
// image covers the middle 40x40, well inside the band (with room for the filter's taps), while a
// stretch shows both margins.
func TestCenterCrop(t *testing.T) {
	img := imaging.New(60, 40, 1)
	for y := range 40 {
		for x := range 60 {
			switch {
			case x < 5:
				img.Pix[y*60+x] = 0
			case x >= 55:
				img.Pix[y*60+x] = 100
			default:
				img.Pix[y*60+x] = 200
			}
		}
	}
	crop := resized(t, img, 16, 16, config.Preprocess{CenterCrop: 1})
	closeTo(t, "crop 1.0", crop, filled(16*16, 200), 1e-3)
	stretch := resized(t, img, 16, 16, config.Preprocess{})
	if stretch[0] > 100 || stretch[15] > 160 || stretch[15] < 100 {
		t.Errorf("stretched row starts %v and ends %v: want the dark and light margins", stretch[0], stretch[15])
	}

	// Fraction 0.5 on a square image keeps the middle half: a 40x40 image whose centre 20x20
	// (plus a margin) is 200 and whose outside is 0.
	sq := imaging.New(40, 40, 1)
	for y := 6; y < 34; y++ {
		for x := 6; x < 34; x++ {
			sq.Pix[y*40+x] = 200
		}
	}
	closeTo(t, "crop 0.5", resized(t, sq, 8, 8, config.Preprocess{CenterCrop: 0.5}), filled(64, 200), 1e-3)
}

// Reference outputs of PIL 9.4.0 and torchvision 0.14.1 (Debian's python3-pil and
// python3-torchvision), produced by this script with /usr/bin/python3:
//
//	from PIL import Image
//	import torchvision.transforms as T
//	def image(mode, w, h, f):
//	    im = Image.new(mode, (w, h)); im.putdata([f(x, y) for y in range(h) for x in range(w)]); return im
//	gray = lambda w, h: image("L", w, h, lambda x, y: 6 * x + (4 * y * y) // 5)
//	steep = lambda w, h: image("L", w, h, lambda x, y: 45 * x + 8 * y * y)
//	rgb = lambda w, h: image("RGB", w, h, lambda x, y: (6 * x + (4 * y * y) // 5, 250 - 12 * y, 13 * abs(x - 10)))
//	gray(20, 13).resize((8, 8), Image.BILINEAR)
//	rgb(20, 13).resize((7, 5), Image.BILINEAR)
//	steep(5, 4).resize((12, 9), Image.BILINEAR)
//	T.Compose([T.Resize(int(8 / 0.875)), T.CenterCrop(8)])(gray(20, 13))
//	T.Compose([T.Resize(int(8 / 0.5)), T.CenterCrop(8)])(gray(20, 14))
//
// and list(im.getdata()) of each result. PIL rounds its horizontal pass to bytes before the
// vertical one, so values may differ by 1.
var (
	pilGray20x13to8x8 = []uint8{6, 19, 35, 49, 65, 79, 95, 108, 9, 22, 38, 52, 68, 82, 98, 111, 16, 29, 45, 59, 75, 89, 105, 118, 27, 40, 56, 70, 86, 100, 116, 129, 44, 57, 73, 87, 103, 117, 133, 146, 62, 75, 91, 105, 121, 135, 151, 164, 87, 100, 116, 130, 146, 160, 176, 189, 113, 126, 142, 156, 172, 186, 202, 215}
	pilRGB20x13to7x5  = []uint8{8, 237, 114, 24, 237, 80, 41, 237, 43, 58, 237, 13, 75, 237, 30, 92, 237, 67, 108, 237, 101, 17, 210, 114, 33, 210, 80, 50, 210, 43, 67, 210, 13, 84, 210, 30, 101, 210, 67, 117, 210, 101, 36, 178, 114, 52, 178, 80, 69, 178, 43, 86, 178, 13, 103, 178, 30, 120, 178, 67, 136, 178, 101, 67, 146, 114, 83, 146, 80, 100, 146, 43, 117, 146, 13, 134, 146, 30, 151, 146, 67, 167, 146, 101, 103, 119, 114, 119, 119, 80, 136, 119, 43, 153, 119, 13, 170, 119, 30, 187, 119, 67, 203, 119, 101}
	pilSteep5x4to12x9 = []uint8{0, 6, 24, 43, 62, 81, 99, 118, 137, 156, 174, 180, 1, 7, 25, 44, 63, 82, 100, 119, 138, 157, 175, 181, 5, 11, 29, 48, 67, 86, 104, 123, 142, 161, 179, 185, 9, 15, 33, 52, 71, 90, 108, 127, 146, 165, 183, 189, 20, 26, 44, 63, 82, 101, 119, 138, 157, 176, 194, 200, 31, 37, 55, 74, 93, 112, 130, 149, 168, 187, 205, 211, 48, 54, 72, 91, 110, 129, 147, 166, 185, 204, 222, 228, 65, 71, 89, 108, 127, 146, 164, 183, 202, 221, 239, 245, 72, 78, 96, 115, 134, 153, 171, 190, 209, 228, 246, 252}
	// Resize(9) makes 13x9 (13 = int(9*20/13)); CenterCrop(8) starts at column round(2.5) = 2.
	tvCrop20x13 = []uint8{20, 29, 38, 48, 57, 66, 76, 85, 22, 31, 40, 50, 59, 68, 78, 87, 28, 37, 46, 56, 65, 74, 84, 93, 36, 45, 54, 64, 73, 82, 92, 101, 49, 58, 67, 77, 86, 95, 105, 114, 65, 74, 83, 93, 102, 111, 121, 130, 83, 92, 101, 111, 120, 129, 139, 148, 105, 114, 123, 133, 142, 151, 161, 170}
	// Resize(16) makes 22x16 (22 = int(22.86)); CenterCrop(8) starts at column 7, row 4.
	tvCrop20x14 = []uint8{47, 52, 58, 63, 69, 74, 80, 85, 53, 58, 64, 69, 75, 80, 86, 91, 60, 65, 71, 76, 82, 87, 93, 98, 67, 72, 78, 83, 89, 94, 100, 105, 76, 81, 87, 92, 98, 103, 109, 114, 87, 92, 98, 103, 109, 114, 120, 125, 98, 103, 109, 114, 120, 125, 131, 136, 111, 116, 122, 127, 133, 138, 144, 149}
)

func patterned(w, h, c int, f func(x, y int) [3]int) *imaging.Image {
	img := imaging.New(w, h, c)
	for y := range h {
		for x := range w {
			v := f(x, y)
			for ch := range c {
				img.Pix[(y*w+x)*c+ch] = uint8(v[ch])
			}
		}
	}
	return img
}

func TestMatchesPIL(t *testing.T) {
	gray := func(x, y int) [3]int { return [3]int{6*x + (4*y*y)/5} }
	steep := func(x, y int) [3]int { return [3]int{45*x + 8*y*y} }
	rgb := func(x, y int) [3]int { return [3]int{6*x + (4*y*y)/5, 250 - 12*y, 13 * max(x-10, 10-x)} }
	tests := []struct {
		name string
		img  *imaging.Image
		w, h int
		cfg  config.Preprocess
		want []uint8
	}{
		{name: "downscale gray 20x13 to 8x8", img: patterned(20, 13, 1, gray), w: 8, h: 8, want: pilGray20x13to8x8},
		{name: "downscale rgb 20x13 to 7x5", img: patterned(20, 13, 3, rgb), w: 7, h: 5, want: pilRGB20x13to7x5},
		{name: "upscale 5x4 to 12x9", img: patterned(5, 4, 1, steep), w: 12, h: 9, want: pilSteep5x4to12x9},
		{name: "torchvision resize and center crop 0.875", img: patterned(20, 13, 1, gray), w: 8, h: 8, cfg: config.Preprocess{CenterCrop: 0.875}, want: tvCrop20x13},
		{name: "torchvision resize and center crop 0.5", img: patterned(20, 14, 1, gray), w: 8, h: 8, cfg: config.Preprocess{CenterCrop: 0.5}, want: tvCrop20x14},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resized(t, tt.img, tt.w, tt.h, tt.cfg)
			want := make([]float32, len(tt.want))
			for i, v := range tt.want {
				want[i] = float32(v)
			}
			closeTo(t, fmt.Sprintf("%dx%d", tt.w, tt.h), got, want, 1)
		})
	}
}

// TestCropGeometryMatchesTorchvision checks the resize-then-crop geometry of typical photos
// against torchvision's Resize(256) + CenterCrop(224) (ImageNet evaluation): the shorter side
// becomes int(224/0.875) = 256, the longer int(256*long/short), and the crop starts at Python's
// round((full-224)/2), half to even. Expected values were worked out by hand from those rules.
func TestCropGeometryMatchesTorchvision(t *testing.T) {
	tests := []struct {
		w, h                     int
		fullW, fullH, offX, offY int
	}{
		{w: 500, h: 375, fullW: 341, fullH: 256, offX: 58, offY: 16}, // 341.33 truncated; 58.5 rounds to 58
		{w: 375, h: 500, fullW: 256, fullH: 341, offX: 16, offY: 58},
		{w: 640, h: 427, fullW: 383, fullH: 256, offX: 80, offY: 16}, // 383.7 truncated; 79.5 rounds to 80
		{w: 224, h: 224, fullW: 256, fullH: 256, offX: 16, offY: 16},
		{w: 300, h: 300, fullW: 256, fullH: 256, offX: 16, offY: 16},
	}
	s := mustResolve(t, config.Preprocess{Preset: "imagenet"}, input(onnx.Float32, -1, 3, 224, 224))
	for _, tt := range tests {
		tx, ty := s.axisTaps(tt.w, tt.h)
		// The cache hands out one taps value per geometry, so equal keys mean equal geometry.
		if want := s.cache.get(tapsKey{filter: Bilinear, src: tt.w, dst: 224, full: tt.fullW, offset: tt.offX}); tx != want {
			t.Errorf("%dx%d: horizontal taps are not those of width %d from column %d", tt.w, tt.h, tt.fullW, tt.offX)
		}
		if want := s.cache.get(tapsKey{filter: Bilinear, src: tt.h, dst: 224, full: tt.fullH, offset: tt.offY}); ty != want {
			t.Errorf("%dx%d: vertical taps are not those of height %d from row %d", tt.w, tt.h, tt.fullH, tt.offY)
		}
	}
}
