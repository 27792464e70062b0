package decode_test

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/cvgate/cvgate/internal/segment/decode"
	"github.com/cvgate/cvgate/internal/segment/mask"
)

// TestGoldenDecode decodes the logits that scripts/seg-golden.py wrote at a quarter of two scenes'
// resolution and compares the label maps with numpy's (its bilinear resize is torch's
// interpolate(align_corners=False), then argmax). The script records the smallest top-2 gap, so a
// mismatch cannot be a float32 rounding tie.
func TestGoldenDecode(t *testing.T) {
	dir := filepath.Join("..", "testdata")
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Classes int
		Decode  []struct {
			File, Decoded string
			Shape         []int64
			Width, Height int
			MinTop2Gap    float64 `json:"min_top2_gap"`
		}
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Decode) == 0 {
		t.Fatal("golden.json has no decode cases")
	}
	r, _ := mask.NewReader(mask.Options{NumClasses: g.Classes, Encoding: mask.Index})
	for _, c := range g.Decode {
		t.Run(c.File, func(t *testing.T) {
			if c.MinTop2Gap < 1e-5 {
				t.Fatalf("golden case has a near tie (%g): regenerate it", c.MinTop2Gap)
			}
			b, err := os.ReadFile(filepath.Join(dir, c.File))
			if err != nil {
				t.Fatal(err)
			}
			v := make([]float32, len(b)/4)
			for i := range v {
				v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
			outs := []decode.Tensor{{Name: "logits", Shape: c.Shape, F32: v}}
			d, err := decode.Resolve(outs, decode.Config{NumClasses: g.Classes})
			if err != nil {
				t.Fatal(err)
			}
			var p decode.Prediction
			geom := decode.Stretch(c.Width, c.Height, int(c.Shape[3])*4, int(c.Shape[2])*4)
			if err := d.Decode(outs, 0, geom, &p, &decode.Scratch{}); err != nil {
				t.Fatal(err)
			}
			want, err := r.ReadFile(filepath.Join(dir, c.Decoded), c.Width, c.Height)
			if err != nil {
				t.Fatal(err)
			}
			diff := 0
			for i := range want.Pix {
				if p.Map.Pix[i] != want.Pix[i] {
					diff++
				}
			}
			if diff > 0 || !p.Resized {
				t.Errorf("%d of %d pixels differ from numpy (resized %v)", diff, len(want.Pix), p.Resized)
			}
		})
	}
}
