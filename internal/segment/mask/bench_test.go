package mask

import (
	"image"
	"testing"
)

// BenchmarkDecode decodes a 512x512 8-bit index mask (PNG) and a colour mask of the same size.
func BenchmarkDecode(b *testing.B) {
	g := image.NewGray(image.Rect(0, 0, 512, 512))
	rgb := image.NewNRGBA(image.Rect(0, 0, 512, 512))
	for i := range g.Pix {
		c := uint8(i / 512 / 64 % 3)
		g.Pix[i] = c
		copy(rgb.Pix[4*i:], []uint8{table[c].RGB[0], table[c].RGB[1], table[c].RGB[2], 255})
	}
	for _, bc := range []struct {
		name string
		raw  []byte
		opts Options
	}{
		{"index", encodePNG(b, g), Options{NumClasses: 3}},
		{"color", encodePNG(b, rgb), Options{NumClasses: 3, Colors: table}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r, err := NewReader(bc.opts)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := r.Decode("m.png", bc.raw, 512, 512); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
