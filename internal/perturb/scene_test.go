package perturb

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

// scene draws a deterministic photo-like test image: a sky gradient, a sun, a textured field,
// houses with shading and striped details, and trees, at any size. It has smooth regions, hard
// edges and fine texture, so every corruption has something to damage.
func scene(w, h, channels int) *imaging.Image {
	rng := rand.New(rand.NewPCG(7, 11))
	m := imaging.New(w, h, 3)
	fw, fh := float64(w), float64(h)
	horizon := 0.55 * fh
	type house struct{ x0, x1, y0 float64 }
	houses := []house{{0.1, 0.35, 0.35}, {0.45, 0.62, 0.42}, {0.7, 0.92, 0.3}}
	type tree struct{ x, y, r float64 }
	trees := []tree{{0.4, 0.6, 0.08}, {0.95, 0.62, 0.06}, {0.05, 0.7, 0.07}}
	grain := make([]float64, w*h)
	for i := range grain {
		grain[i] = rng.Float64() - 0.5
	}
	for y := range h {
		for x := range w {
			fx, fy := float64(x)+0.5, float64(y)+0.5
			u, v := fx/fw, fy/fh
			var r, g, b float64
			if fy < horizon {
				t := fy / horizon
				r, g, b = 0.35+0.4*t, 0.55+0.3*t, 0.95-0.1*t
				if d := math.Hypot(u-0.8, v-0.15); d < 0.08 {
					r, g, b = 1, 0.92, 0.4
				}
			} else {
				t := (fy - horizon) / (fh - horizon)
				stripe := 0.06 * math.Sin(40*u+8*t)
				r, g, b = 0.3+0.2*t+stripe, 0.5-0.15*t+stripe, 0.2+0.05*t
				r += 0.15 * grain[y*w+x]
				g += 0.15 * grain[y*w+x]
			}
			for _, hs := range houses {
				if u >= hs.x0 && u < hs.x1 && v >= hs.y0 && v < 0.75 {
					shade := 0.6 + 0.4*(u-hs.x0)/(hs.x1-hs.x0)
					r, g, b = 0.8*shade, 0.3*shade, 0.25*shade
					if int(fy/fh*40)%3 == 0 {
						r, g, b = 0.95, 0.95, 0.9
					}
					if u > hs.x0+0.3*(hs.x1-hs.x0) && u < hs.x0+0.5*(hs.x1-hs.x0) && v > 0.5 && v < 0.65 {
						r, g, b = 0.1, 0.15, 0.35
					}
				}
			}
			for _, tr := range trees {
				if d := math.Hypot(u-tr.x, (v-tr.y)*fh/fw); d < tr.r {
					k := 1 - d/tr.r
					r, g, b = 0.1+0.1*k, 0.35+0.3*k+0.1*grain[y*w+x], 0.1
				}
			}
			o := (y*w + x) * 3
			m.Pix[o] = imaging.UnitToByte(float32(r))
			m.Pix[o+1] = imaging.UnitToByte(float32(g))
			m.Pix[o+2] = imaging.UnitToByte(float32(b))
		}
	}
	if channels == 1 {
		return m.ToGray()
	}
	return m
}

// mnistDir is where another part of cvgate keeps MNIST sample PNGs; tests use them when present.
const mnistDir = "../../testdata/images/mnist"

// fixtures returns the real-content images the tests run on: synthetic scenes at the sizes that
// matter (224 RGB, 28 gray, non-square) and, when present, an MNIST digit.
func fixtures(t *testing.T) map[string]*imaging.Image {
	t.Helper()
	out := map[string]*imaging.Image{
		"scene224rgb": scene(224, 224, 3),
		"scene28gray": scene(28, 28, 1),
		"scene40x24":  scene(40, 24, 3),
		"scene40x24g": scene(40, 24, 1),
		"scene300x90": scene(300, 90, 3),
	}
	if m := loadMNIST(t); m != nil {
		out["mnist"] = m
	}
	return out
}

func loadMNIST(t *testing.T) *imaging.Image {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(mnistDir, "*.png"))
	if len(matches) == 0 {
		return nil
	}
	f, err := os.Open(matches[0])
	if err != nil {
		return nil
	}
	defer f.Close()
	m, err := decodePNG(f)
	if err != nil {
		t.Logf("skip MNIST fixture %s: %v", matches[0], err)
		return nil
	}
	return m
}
