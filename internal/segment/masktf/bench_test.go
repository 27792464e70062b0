package masktf

import (
	"testing"

	"github.com/cvgate/cvgate/internal/perturb"
	"github.com/cvgate/cvgate/internal/segment"
)

// BenchmarkApply moves a 512x512 map; it runs once per image per geometric variant.
func BenchmarkApply(b *testing.B) {
	src := segment.NewLabelMap(512, 512)
	for i := range src.Pix {
		src.Pix[i] = uint16(i / 512 / 32)
	}
	for _, spec := range []string{"hflip", "shift:0.1,0.05", "rotate:10"} {
		b.Run(spec, func(b *testing.B) {
			tr, err := perturb.ParseTransform(spec)
			if err != nil {
				b.Fatal(err)
			}
			var dst segment.LabelMap
			b.ReportAllocs()
			for b.Loop() {
				if err := Apply(tr, &dst, src, 255); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
