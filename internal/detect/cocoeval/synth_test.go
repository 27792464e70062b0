package cocoeval

import (
	"math"
	"math/rand/v2"

	"github.com/cvgate/cvgate/internal/detect/box"
)

// synthSpec shapes a synthetic evaluation input.
type synthSpec struct {
	images, classes int
	maxGT           int     // objects per image: uniform in 1..maxGT
	detsPerImage    int     // exactly this many detections per image
	crowdRate       float64 // share of objects that are crowd regions
	w, h            float64
}

// synth draws a deterministic input (seeded PCG): objects of log-uniform size, 1-4 jittered
// detections per object (10% of another class), the rest false positives; coordinates rounded to
// 0.01 and scores to 1e-4, so that the input survives a round trip through COCO JSON unchanged.
func synth(seed uint64, s synthSpec) []Image {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	r2 := func(v float64) float64 { return math.Round(v*100) / 100 }
	randBox := func() box.Box {
		bw := math.Exp(math.Log(8) + rng.Float64()*(math.Log(300)-math.Log(8)))
		bh := bw * math.Exp(rng.Float64()*1.4-0.7)
		bw, bh = math.Min(bw, s.w-1), math.Min(bh, s.h-1)
		x, y := rng.Float64()*(s.w-bw), rng.Float64()*(s.h-bh)
		return box.FromXYWH(r2(x), r2(y), r2(bw), r2(bh))
	}
	score := func() float64 { return math.Round((0.001+rng.Float64()*0.999)*1e4) / 1e4 }
	out := make([]Image, s.images)
	for i := range out {
		n := 1 + rng.IntN(s.maxGT)
		for range n {
			b := randBox()
			o := box.Object{Box: b, Class: rng.IntN(s.classes), Crowd: rng.Float64() < s.crowdRate, ID: int64(i*1000 + len(out[i].GT) + 1)}
			o.Area = r2(b.W() * b.H())
			out[i].GT = append(out[i].GT, o)
			for range 1 + rng.IntN(4) {
				if len(out[i].Dets) == s.detsPerImage {
					break
				}
				c := o.Class
				if rng.Float64() < 0.1 {
					c = rng.IntN(s.classes)
				}
				j := func(v, scale float64) float64 { return v + rng.NormFloat64()*0.08*scale }
				x, y := j(b.X1, b.W()), j(b.Y1, b.H())
				bw, bh := math.Max(1, j(b.W(), b.W())), math.Max(1, j(b.H(), b.H()))
				out[i].Dets = append(out[i].Dets, box.Detection{Box: box.FromXYWH(r2(x), r2(y), r2(bw), r2(bh)), Class: c, Score: score()})
			}
		}
		for len(out[i].Dets) < s.detsPerImage {
			out[i].Dets = append(out[i].Dets, box.Detection{Box: randBox(), Class: rng.IntN(s.classes), Score: score()})
		}
	}
	return out
}

// benchSpec is the benchmark: 5,000 images x 100 detections over 80 classes, about 7.5
// objects per image as in COCO val, 1% crowds.
var benchSpec = synthSpec{images: 5000, classes: 80, maxGT: 14, detsPerImage: 100, crowdRate: 0.01, w: 640, h: 480}
