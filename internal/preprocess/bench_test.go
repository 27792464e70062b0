package preprocess

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
)

// photo is a smooth colour image (gradients and a ripple) standing in for a photograph.
func photo(w, h int) *imaging.Image {
	img := imaging.New(w, h, 3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := (y*w + x) * 3
			img.Pix[o] = uint8(255 * x / w)
			img.Pix[o+1] = uint8(255 * y / h)
			img.Pix[o+2] = uint8((x*x + y*y) / 64)
		}
	}
	return img
}

type benchCase struct {
	name string
	cfg  config.Preprocess
	in   onnx.TensorInfo
	img  *imaging.Image
}

func benchCases() []benchCase {
	return []benchCase{
		{"gray_28x28_to_28x28_nchw", config.Preprocess{}, input(onnx.Float32, -1, 1, 28, 28), randomImage(28, 28, 1, 1)},
		{"rgb_224x224_to_224x224_nchw", config.Preprocess{}, input(onnx.Float32, -1, 3, 224, 224), photo(224, 224)},
		{"rgb_500x375_to_224x224_crop", config.Preprocess{Preset: "imagenet"}, input(onnx.Float32, -1, 3, 224, 224), photo(500, 375)},
	}
}

// BenchmarkApply measures one image's preprocessing into a float32 tensor on one core.
func BenchmarkApply(b *testing.B) {
	for _, bc := range benchCases() {
		s := mustResolve(b, bc.cfg, bc.in)
		b.Run(bc.name, func(b *testing.B) {
			dst := make([]float32, s.SampleSize())
			var sc Scratch
			b.ReportAllocs()
			for b.Loop() {
				s.Apply(bc.img, dst, &sc)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkDecodeApply is the per-core throughput of the data path: file bytes to model tensor
// (decode once, convert to the compact store, preprocess).
func BenchmarkDecodeApply(b *testing.B) {
	encode := func(m image.Image, jpg bool) []byte {
		var buf bytes.Buffer
		var err error
		if jpg {
			err = jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90})
		} else {
			err = png.Encode(&buf, m)
		}
		if err != nil {
			b.Fatal(err)
		}
		return buf.Bytes()
	}
	cases := []struct {
		name string
		raw  []byte
		cfg  config.Preprocess
		in   onnx.TensorInfo
	}{
		{"png_gray_28x28", encode(randomImage(28, 28, 1, 1).Std(), false), config.Preprocess{}, input(onnx.Float32, -1, 1, 28, 28)},
		{"png_rgb_224x224", encode(photo(224, 224).Std(), false), config.Preprocess{}, input(onnx.Float32, -1, 3, 224, 224)},
		{"jpeg_rgb_224x224", encode(photo(224, 224).Std(), true), config.Preprocess{}, input(onnx.Float32, -1, 3, 224, 224)},
		{"jpeg_rgb_500x375_crop", encode(photo(500, 375).Std(), true), config.Preprocess{Preset: "imagenet"}, input(onnx.Float32, -1, 3, 224, 224)},
	}
	for _, c := range cases {
		s := mustResolve(b, c.cfg, c.in)
		b.Run(c.name, func(b *testing.B) {
			dst := make([]float32, s.SampleSize())
			var sc Scratch
			b.ReportAllocs()
			for b.Loop() {
				img, err := dataset.Decode(c.raw)
				if err != nil {
					b.Fatal(err)
				}
				s.Apply(img, dst, &sc)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
