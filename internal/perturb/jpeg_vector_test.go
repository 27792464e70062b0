package perturb

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

// TestJPEGPlaneVectorMatchesScalar: the vector path of jpegPlane reproduces the scalar one byte
// for byte, on planes that reach every branch (flat blocks, only low frequencies, full-band
// noise, saturated edges that clamp) at every quality. Off amd64 (or on a CPU without AVX2)
// there is no vector path and the tests skip.
func TestJPEGPlaneVectorMatchesScalar(t *testing.T) {
	if !jpegVectorEnabled {
		t.Skip("this CPU has no AVX2: the vector path is off")
	}
	const w, h = 64, 48
	rng := rand.New(rand.NewPCG(7, 8))
	planes := map[string]func(x, y int) uint8{
		"noise":    func(x, y int) uint8 { return uint8(rng.IntN(256)) },
		"flat":     func(x, y int) uint8 { return 77 },
		"gradient": func(x, y int) uint8 { return uint8(2*x + y) },
		"checker": func(x, y int) uint8 {
			if (x+y)&1 == 0 {
				return 0
			}
			return 255
		},
		"edges": func(x, y int) uint8 {
			if x%8 < 3 != (y%8 < 5) {
				return 255
			}
			return uint8(rng.IntN(8))
		},
		"soft": func(x, y int) uint8 { return uint8(128 + (x%8)*(y%8)/2 + rng.IntN(3)) },
	}
	for name, f := range planes {
		src := make([]uint8, w*h)
		for y := range h {
			for x := range w {
				src[y*w+x] = f(x, y)
			}
		}
		for _, quality := range []int{1, 2, 5, 10, 18, 27, 50, 75, 90, 99, 100} {
			for _, base := range []*[64]int32{&jpegLumaTable, &jpegChromaTable} {
				want, got := bytes.Clone(src), bytes.Clone(src)
				jpegPlaneScalar(want, w, h, newJPEGQuant(base, quality))
				// Exactly sized, so that the last block's rows cannot be read past the end.
				if !jpegPlaneVector(got[:len(got):len(got)], w, h, newJPEGQuant(base, quality)) {
					t.Fatal("vector path refused")
				}
				if !bytes.Equal(got, want) {
					i := 0
					for got[i] == want[i] {
						i++
					}
					t.Errorf("%s, quality %d: first difference at (%d,%d): vector %d, scalar %d",
						name, quality, i%w, i/w, got[i], want[i])
				}
			}
		}
	}
}

// BenchmarkJPEGPlane times the block transforms alone on a 224x224 plane of a scene, both paths.
func BenchmarkJPEGPlane(b *testing.B) {
	img := scene(224, 224, 1)
	t := newJPEGQuant(&jpegLumaTable, jpegQuality[3])
	for _, path := range []string{"scalar", "vector"} {
		b.Run(path, func(b *testing.B) {
			if path == "vector" && !jpegVectorEnabled {
				b.Skip("this CPU has no AVX2: the vector path is off")
			}
			p := make([]uint8, len(img.Pix))
			for b.Loop() {
				copy(p, img.Pix)
				if path == "scalar" || !jpegPlaneVector(p, 224, 224, t) {
					jpegPlaneScalar(p, 224, 224, t)
				}
			}
		})
	}
}

// TestJPEGRoundTripVectorMatchesScalar: the whole round trip (vector blocks, vector upsampling
// and colour conversion) gives the scalar path's image byte for byte, at sizes whose rows end
// in every way (a single column, odd widths, a partial last vector, padding) and every
// severity's quality.
func TestJPEGRoundTripVectorMatchesScalar(t *testing.T) {
	if !jpegVectorEnabled {
		t.Skip("this CPU has no AVX2: the vector path is off")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := [][2]int{{1, 1}, {2, 3}, {3, 2}, {5, 7}, {17, 9}, {18, 18}, {33, 31}, {34, 40}, {47, 16}, {64, 64}, {97, 35}, {224, 224}, {250, 17}}
	for _, sz := range sizes {
		for _, kind := range []string{"scene", "noise"} {
			src := scene(sz[0], sz[1], 3)
			if kind == "noise" {
				for i := range src.Pix {
					src.Pix[i] = uint8(rng.IntN(256))
				}
			}
			for _, quality := range []int{1, 7, 25, 50, 95} {
				vector, scalar := NewCorruptor(), &Corruptor{jpegScalar: true}
				want, got := &imaging.Image{}, &imaging.Image{}
				*want, *got = *src, *src
				want.Pix, got.Pix = make([]uint8, len(src.Pix)), make([]uint8, len(src.Pix))
				scalar.jpegRoundTrip(want, src, quality)
				vector.jpegRoundTrip(got, src, quality)
				if !bytes.Equal(got.Pix, want.Pix) {
					i := 0
					for got.Pix[i] == want.Pix[i] {
						i++
					}
					t.Errorf("%dx%d %s, quality %d: first difference at pixel (%d,%d) channel %d: vector %d, scalar %d",
						sz[0], sz[1], kind, quality, i/3%sz[0], i/3/sz[0], i%3, got.Pix[i], want.Pix[i])
				}
			}
		}
	}
}

// FuzzJPEGVectorMatchesScalar: on any image size and content, the vector round trip equals the
// scalar one.
func FuzzJPEGVectorMatchesScalar(f *testing.F) {
	f.Add(uint8(33), uint8(17), uint8(10), []byte("seed"))
	f.Add(uint8(1), uint8(1), uint8(100), []byte{0})
	f.Add(uint8(200), uint8(3), uint8(1), []byte{255, 0, 255})
	f.Fuzz(func(t *testing.T, w, h, quality uint8, pix []byte) {
		if !jpegVectorEnabled {
			t.Skip("this CPU has no AVX2: the vector path is off")
		}
		if w == 0 || h == 0 || len(pix) == 0 {
			return
		}
		src := &imaging.Image{Width: int(w), Height: int(h), Channels: 3, Pix: make([]uint8, 3*int(w)*int(h))}
		for i := range src.Pix {
			src.Pix[i] = pix[i%len(pix)] + uint8(i/len(pix))
		}
		want, got := *src, *src
		want.Pix, got.Pix = make([]uint8, len(src.Pix)), make([]uint8, len(src.Pix))
		(&Corruptor{jpegScalar: true}).jpegRoundTrip(&want, src, int(quality%100)+1)
		NewCorruptor().jpegRoundTrip(&got, src, int(quality%100)+1)
		if !bytes.Equal(got.Pix, want.Pix) {
			t.Fatalf("%dx%d quality %d: vector and scalar round trips differ", w, h, quality%100+1)
		}
	})
}
