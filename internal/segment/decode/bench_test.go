package decode

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkDecode decodes one image of 21-class logits at 128x128 to a 512x512 label (the usual
// stride-4 head), resize included, and the same without resize at 512x512.
func BenchmarkDecode(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, bc := range []struct {
		name       string
		layout     Layout
		side       int
		confidence bool
	}{
		{"nchw_128_to_512", NCHW, 128, false},
		{"nchw_128_to_512_confidence", NCHW, 128, true},
		{"nhwc_128_to_512", NHWC, 128, false},
		{"nchw_512_identity", NCHW, 512, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := int64(bc.side)
			shape := []int64{1, 21, s, s}
			if bc.layout == NHWC {
				shape = []int64{1, s, s, 21}
			}
			outs := []Tensor{{Name: "logits", Shape: shape, F32: randF32(r, int(21*s*s), 4)}}
			d, err := Resolve(outs, Config{NumClasses: 21, Layout: bc.layout, Confidence: bc.confidence})
			if err != nil {
				b.Fatal(err)
			}
			var p Prediction
			var sc Scratch
			g := Stretch(512, 512, 512, 512)
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Decode(outs, 0, g, &p, &sc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
