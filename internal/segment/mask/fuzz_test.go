package mask

import (
	"image"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder: masks come from pull requests, so no input may
// panic or decode past the budgets. `go test` runs the seeds; `go test -fuzz FuzzDecode` explores.
func FuzzDecode(f *testing.F) {
	g := image.NewGray(image.Rect(0, 0, 8, 6))
	for i := range g.Pix {
		g.Pix[i] = uint8(i % 3)
	}
	png := encodePNG(f, g)
	f.Add(png)
	f.Add(png[:len(png)/2])
	f.Add(palettePNG(f, 4, 2, []uint8{0, 1, 2, 3, 255, 3, 2, 1}))
	f.Add(encodePNG(f, rgbImage(2, 1, [][3]uint8{{128, 0, 0}, {1, 2, 3}})))
	f.Add([]byte("II*\x00garbage"))
	f.Add([]byte("BM"))
	readers := []*Reader{}
	for _, o := range []Options{{NumClasses: 3, MaxPixels: 1 << 16}, {Encoding: Binary, MaxPixels: 1 << 16}, {Colors: table, MaxPixels: 1 << 16}} {
		r, err := NewReader(o)
		if err != nil {
			f.Fatal(err)
		}
		readers = append(readers, r)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, r := range readers {
			m, err := r.Decode("fuzz.png", raw, 0, 0)
			if err != nil {
				continue
			}
			if m.Validate() != nil || int64(m.W)*int64(m.H) > 1<<16 {
				t.Fatalf("decoded a %dx%d map past the budget or inconsistent", m.W, m.H)
			}
		}
	})
}
