package dataset

import (
	"bytes"
	"image"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

// benchImages are the typical inputs: an MNIST-sized gray PNG and ImageNet-sized colour files.
func benchImages(b *testing.B) []struct {
	name string
	raw  []byte
} {
	b.Helper()
	photo := photoImage(224, 224)
	return []struct {
		name string
		raw  []byte
	}{
		{"png_gray_28x28", encodePNG(b, grayImage(28, 28, 0))},
		{"png_rgb_224x224", encodePNG(b, photo)},
		{"jpeg_rgb_224x224", encodeJPEG(b, photo, 90)},
	}
}

// BenchmarkDecode measures decoding plus conversion to the compact store, per image on one core.
func BenchmarkDecode(b *testing.B) {
	for _, bi := range benchImages(b) {
		b.Run(bi.name, func(b *testing.B) {
			b.SetBytes(int64(len(bi.raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(bi.raw); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkFromStd isolates the conversion step of BenchmarkDecode.
func BenchmarkFromStd(b *testing.B) {
	for _, bi := range benchImages(b) {
		src, _, err := image.Decode(bytes.NewReader(bi.raw))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bi.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				imaging.FromStd(src)
			}
		})
	}
}

// BenchmarkHeaderCheck is what reading the header first (the pixel and aspect budget) adds to
// decoding: compare "checked" (Decode) with "unchecked" (the decoder alone) in one run.
func BenchmarkHeaderCheck(b *testing.B) {
	for _, bi := range benchImages(b) {
		b.Run(bi.name+"/checked", func(b *testing.B) {
			for b.Loop() {
				if _, err := Decode(bi.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bi.name+"/unchecked", func(b *testing.B) {
			for b.Loop() {
				if _, err := decodeChecked(bi.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHeaderOnly is the header check alone.
func BenchmarkHeaderOnly(b *testing.B) {
	for _, bi := range benchImages(b) {
		b.Run(bi.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := (Limits{}).checkHeader(bi.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
