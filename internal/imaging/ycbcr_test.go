package imaging

import (
	"image"
	"math/rand/v2"
	"testing"
)

// opaque hides an image's concrete type, so that FromStd takes its generic path.
type opaque struct{ image.Image }

func TestFromStdYCbCrMatchesGenericPath(t *testing.T) {
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for _, ratio := range ratios {
		full := image.NewYCbCr(image.Rect(0, 0, 13, 7), ratio)
		for _, p := range [][]uint8{full.Y, full.Cb, full.Cr} {
			for i := range p {
				p[i] = uint8(rng.Uint32())
			}
		}
		// Odd offsets check that chroma samples are addressed like image.YCbCr.At does.
		sub := full.SubImage(image.Rect(3, 1, 12, 6)).(*image.YCbCr)
		for name, src := range map[string]*image.YCbCr{"full": full, "sub-image": sub} {
			t.Run(ratio.String()+"/"+name, func(t *testing.T) {
				fast, generic := FromStd(src), FromStd(opaque{src})
				if fast.Width != generic.Width || fast.Height != generic.Height || fast.Channels != 3 || generic.Channels != 3 {
					t.Fatalf("fast %dx%dx%d, generic %dx%dx%d", fast.Width, fast.Height, fast.Channels, generic.Width, generic.Height, generic.Channels)
				}
				for i := range fast.Pix {
					if d := int(fast.Pix[i]) - int(generic.Pix[i]); d < -1 || d > 1 {
						t.Fatalf("Pix[%d] = %d on the fast path, %d on the generic path", i, fast.Pix[i], generic.Pix[i])
					}
				}
			})
		}
	}
}

func BenchmarkFromStdYCbCr(b *testing.B) {
	src := image.NewYCbCr(image.Rect(0, 0, 224, 224), image.YCbCrSubsampleRatio420)
	for i := range src.Y {
		src.Y[i] = uint8(i)
	}
	for name, img := range map[string]image.Image{"fast": src, "generic": opaque{src}} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				FromStd(img)
			}
		})
	}
}
