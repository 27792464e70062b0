package decode

import (
	"math"
	"math/rand/v2"
	"testing"
)

// yoloHead is a deterministic YOLOv8 head [1, 4+C, A] shaped like a real one at 640 px: class
// scores mostly near zero (sigmoid of N(-7, 1.5)), and 40 objects each lit up on 30 anchors with
// jittered boxes and a high score for their class.
func yoloHead(A, C int) []float32 {
	rng := rand.New(rand.NewPCG(8400, 80))
	out := make([]float32, (4+C)*A)
	for a := range A {
		out[a] = float32(rng.Float64() * 640)
		out[A+a] = float32(rng.Float64() * 640)
		out[2*A+a] = float32(8 + rng.Float64()*200)
		out[3*A+a] = float32(8 + rng.Float64()*200)
		for c := range C {
			out[(4+c)*A+a] = float32(1 / (1 + math.Exp(-(rng.NormFloat64()*1.5 - 7))))
		}
	}
	for o := range 40 {
		cx, cy, w, h := rng.Float64()*640, rng.Float64()*640, 20+rng.Float64()*200, 20+rng.Float64()*200
		c := rng.IntN(C)
		for k := range 30 {
			a := (o*211 + k*7) % A
			out[a], out[A+a] = float32(cx+rng.NormFloat64()*w*0.05), float32(cy+rng.NormFloat64()*h*0.05)
			out[2*A+a], out[3*A+a] = float32(w*(0.9+rng.Float64()*0.2)), float32(h*(0.9+rng.Float64()*0.2))
			out[(4+c)*A+a] = float32(0.3 + rng.Float64()*0.65)
		}
	}
	return out
}

// BenchmarkDecodeYOLOv8 decodes and NMS's one 640-px YOLOv8 head (8,400 anchors, 80 classes):
// at a deployment threshold, at COCO evaluation's 0.001, and multi-label at 0.001.
func BenchmarkDecodeYOLOv8(b *testing.B) {
	const A, C = 8400, 80
	shape := []int64{1, 4 + C, A}
	ts := []Tensor{{Name: "output0", Shape: shape, F32: yoloHead(A, C)}}
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"conf0.25", Config{ScoreThreshold: 0.25}},
		{"conf0.001", Config{ScoreThreshold: 0.001}},
		{"multilabel0.001", Config{ScoreThreshold: 0.001, MultiLabel: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.cfg.InputWidth, bc.cfg.InputHeight = 640, 640
			d, err := Resolve([]Output{{Name: "output0", Shape: shape}}, bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			var kept int
			start := cpuTime()
			for b.Loop() {
				out, err := d.Decode(ts, 1)
				if err != nil {
					b.Fatal(err)
				}
				kept = len(out[0])
			}
			b.ReportMetric(float64(kept), "dets")
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
