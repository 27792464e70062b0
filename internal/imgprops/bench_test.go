package imgprops

import (
	"bytes"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

// benchImages are the two sizes the brief names: an MNIST-sized gray digit and an ImageNet-sized
// photo. Their content is photo-like (smooth shapes plus sensor noise) because PNG decode time
// depends on how well the image compresses, and that decode time is the yardstick.
func benchImages() []struct {
	name string
	img  *imaging.Image
} {
	rng := rand.New(rand.NewPCG(7, 8))
	return []struct {
		name string
		img  *imaging.Image
	}{
		{"gray28x28", digitLike(28)},
		{"rgb224x224", photoLike(rng, 224, 224)},
	}
}

// digitLike draws a bright anti-aliased ring on black, like an MNIST zero.
func digitLike(size int) *imaging.Image {
	m := imaging.New(size, size, 1)
	c := float64(size-1) / 2
	for y := range size {
		for x := range size {
			r := math.Hypot(float64(x)-c, (float64(y)-c)*0.8)
			v := 255 * math.Max(0, 1-math.Abs(r-float64(size)/4)/2)
			m.Pix[y*size+x] = uint8(v)
		}
	}
	return m
}

func photoLike(rng *rand.Rand, w, h int) *imaging.Image {
	m := imaging.New(w, h, 3)
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			base := [3]float64{
				120 + 80*math.Sin(6*fx+2*fy),
				100 + 60*math.Cos(5*fy-3*fx),
				90 + 70*math.Sin(4*fx*fy+1),
			}
			for c := range 3 {
				v := base[c] + rng.NormFloat64()*4
				m.Pix[(y*w+x)*3+c] = uint8(max(0, min(255, v)))
			}
		}
	}
	return m
}

func BenchmarkCompute(b *testing.B) {
	for _, bi := range benchImages() {
		b.Run(bi.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compute(bi.img); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodePNG decodes the same images from PNG with image/png (plus the conversion to
// imaging.Image that the dataset pass does), the cost that Compute must stay a small fraction of.
func BenchmarkDecodePNG(b *testing.B) {
	for _, bi := range benchImages() {
		var buf bytes.Buffer
		if err := png.Encode(&buf, bi.img.Std()); err != nil {
			b.Fatal(err)
		}
		data := buf.Bytes()
		b.Run(bi.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				img, err := png.Decode(bytes.NewReader(data))
				if err != nil {
					b.Fatal(err)
				}
				imaging.FromStd(img)
			}
		})
	}
}
