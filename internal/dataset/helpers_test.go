package dataset

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
)

// writeFile writes data to dir/rel, creating parent folders, and returns the full path.
func writeFile(t testing.TB, dir, rel string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// grayImage is a w x h gray image whose pixel values are a fixed function of position and seed,
// so that different seeds give different file bytes.
func grayImage(w, h int, seed uint8) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Pix[y*m.Stride+x] = uint8(x*7+y*13) + seed
		}
	}
	return m
}

// rgbImage is an opaque colour image with distinct values per channel.
func rgbImage(w, h int, seed uint8) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := y*m.Stride + 4*x
			m.Pix[o] = uint8(x*5) + seed
			m.Pix[o+1] = uint8(y * 9)
			m.Pix[o+2] = uint8(x + y)
			m.Pix[o+3] = 0xff
		}
	}
	return m
}

// photoImage is a smooth colour image (gradients plus a ripple), the kind of content JPEG is made
// for, so benchmarks decode realistic data.
func photoImage(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := y*m.Stride + 4*x
			m.Pix[o] = uint8(255 * x / w)
			m.Pix[o+1] = uint8(255 * y / h)
			m.Pix[o+2] = uint8((x*x + y*y) / 64)
			m.Pix[o+3] = 0xff
		}
	}
	return m
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, m image.Image, quality int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeGIF(t testing.TB, m *image.Paletted) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeBMP(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := bmp.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngFile writes a small gray PNG (distinct content per seed) and returns its path.
func pngFile(t testing.TB, dir, rel string, seed uint8) string {
	t.Helper()
	return writeFile(t, dir, rel, encodePNG(t, grayImage(4, 3, seed)))
}

// paletted builds a 2x2 paletted image using every palette entry in turn.
func paletted(pal color.Palette) *image.Paletted {
	m := image.NewPaletted(image.Rect(0, 0, 2, 2), pal)
	for i := range m.Pix {
		m.Pix[i] = uint8(i % len(pal))
	}
	return m
}
