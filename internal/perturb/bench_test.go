package perturb

import (
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

// BenchmarkCorruption times each corruption at severity 3 on a 28x28 gray and a 224x224 RGB
// image, with a warm Corruptor (kernel and table caches filled), as the robustness check uses it.
func BenchmarkCorruption(b *testing.B) {
	for _, size := range []struct {
		label string
		img   *imaging.Image
	}{
		{"28gray", scene(28, 28, 1)},
		{"224rgb", scene(224, 224, 3)},
	} {
		for _, name := range Names() {
			b.Run(size.label+"/"+name, func(b *testing.B) {
				c := NewCorruptor()
				dst := &imaging.Image{}
				if err := c.Apply(dst, size.img, name, 3, 1); err != nil {
					b.Fatal(err)
				}
				seed := uint64(0)
				for b.Loop() {
					seed++
					if err := c.Apply(dst, size.img, name, 3, seed); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkAllCorruptions224 times all 19 corruptions of one 224x224 RGB image at severity 3.
func BenchmarkAllCorruptions224(b *testing.B) {
	src := scene(224, 224, 3)
	c := NewCorruptor()
	dst := &imaging.Image{}
	names := Names()
	for _, name := range names {
		if err := c.Apply(dst, src, name, 3, 1); err != nil {
			b.Fatal(err)
		}
	}
	seed := uint64(0)
	for b.Loop() {
		seed++
		for _, name := range names {
			if err := c.Apply(dst, src, name, 3, seed); err != nil {
				b.Fatal(err)
			}
		}
	}
}
