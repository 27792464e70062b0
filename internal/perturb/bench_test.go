package perturb

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

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

// BenchmarkFidelitySpeed times each corruption at severity 3 on the 224 px photo that
// scripts/corruption-fidelity.py speed times the reference on, with a warm Corruptor. Besides the
// mean wall time it reports, per call, the median CPU time (cpu-ns/op) and the median wall time
// (median-ns/op), the statistics the script takes of the reference: on a busy machine the
// median skips the calls that neighbours slowed down, and CPU time skips the time spent
// descheduled.
func BenchmarkFidelitySpeed(b *testing.B) {
	src := fidelityPhoto(b)
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			c := NewCorruptor()
			dst := &imaging.Image{}
			if err := c.Apply(dst, src, name, 3, 1); err != nil {
				b.Fatal(err)
			}
			seed := uint64(0)
			walls := make([]time.Duration, 0, 4096)
			cpus := make([]time.Duration, 0, 4096)
			for b.Loop() {
				seed++
				c0, _ := processCPU()
				t := time.Now()
				if err := c.Apply(dst, src, name, 3, seed); err != nil {
					b.Fatal(err)
				}
				walls = append(walls, time.Since(t))
				if c1, ok := processCPU(); ok {
					cpus = append(cpus, c1-c0)
				}
			}
			b.ReportMetric(float64(median(walls)), "median-ns/op")
			if len(cpus) > 0 {
				b.ReportMetric(float64(median(cpus)), "cpu-ns/op")
			}
		})
	}
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

func fidelityPhoto(tb testing.TB) *imaging.Image {
	tb.Helper()
	path := filepath.Join("testdata", "fidelity", "224", "astronaut.png")
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	m, err := decodePNG(f)
	if err != nil {
		tb.Fatalf("decode %q: %v", path, err)
	}
	return m.ToRGB()
}
