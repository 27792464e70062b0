package app

import (
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// synthetic224 writes n seeded 224x224 RGB images in 10 class folders.
func synthetic224(tb testing.TB, dir string, n int) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(224, uint64(n)))
	for i := 0; i < n; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 224, 224))
		base := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
		for y := 0; y < 224; y++ {
			for x := 0; x < 224; x++ {
				j := rng.IntN(40)
				img.Set(x, y, color.RGBA{base.R + uint8(j), base.G + uint8((x*y)%40), base.B + uint8(x%40), 255})
			}
		}
		writePNG(tb, filepath.Join(dir, fmt.Sprint(i%10), fmt.Sprintf("%04d.png", i)), img)
	}
}

// BenchmarkOverhead224 measures cvgate's own cost where inference dominates: a MobileNetV2-class
// synthetic model (testdata/models/synthetic_224_rgb.onnx, ~370 M multiply-adds per image) on
// 224x224 RGB images. It reports the checks' wall time over the time spent inside ONNX Runtime
// (the DESIGN target is <= 1.10) and the whole run's wall time over ORT time.
//
//	go test -run '^$' -bench Overhead224 -benchtime 3x ./internal/app
func BenchmarkOverhead224(b *testing.B) {
	h := newHarness(b)
	data := filepath.Join(h.dir, "img224")
	synthetic224(b, data, 200)
	b.ResetTimer()
	var checks, total, ort float64
	for i := 0; i < b.N; i++ {
		out := fmt.Sprintf("out%d", i)
		code, _, stderr := h.run("check", "--quiet", "--model", h.testdata("models/synthetic_224_rgb.onnx"), "--data", data,
			"--out", out, "--checks", "model.numerics,perf", "--fail-on", "never")
		if code != ExitPass {
			b.Fatalf("exit %d\n%s", code, stderr)
		}
		r := h.report(out)
		c := r.Run.Counters
		checks += c.ChecksSeconds
		total += c.TotalSeconds
		ort += c.ORTSeconds
	}
	b.ReportMetric(checks/ort, "checks/ort")
	b.ReportMetric(total/ort, "total/ort")
	b.ReportMetric(ort/float64(b.N), "ort-s/run")
}
