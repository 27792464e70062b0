package metrics

import (
	"math/rand/v2"
	"testing"

	"github.com/cvgate/cvgate/internal/segment"
)

// benchPairs builds n distinct 512x512 truth/prediction pairs with 21 classes: blobs on a
// background with an ignore border around some, predicted shifted by a few pixels with some blobs
// relabelled, like a decent model's errors.
func benchPairs(n int) (truth, pred []segment.LabelMap) {
	r := rand.New(rand.NewPCG(42, 42))
	const side = 512
	for range n {
		gt := randomBlobs(r, side, side, 21, 25)
		p := segment.NewLabelMap(side, side)
		dx, dy := r.IntN(7)-3, r.IntN(7)-3
		for y := 0; y < side; y++ {
			for x := 0; x < side; x++ {
				sx, sy := min(max(x-dx, 0), side-1), min(max(y-dy, 0), side-1)
				p.Pix[y*side+x] = gt.Pix[sy*side+sx]
			}
		}
		for k := 0; k < side*side; k += 97 {
			gt.Pix[k] = segment.DefaultIgnore
		}
		truth, pred = append(truth, gt), append(pred, p)
	}
	return truth, pred
}

// BenchmarkScoreAll scores 500 images of 512x512 (50 distinct pairs, each scored 10 times) on two
// workers, with and without boundary IoU. BenchmarkReadPass is the floor it compares with: one
// pass that only reads both maps of the 500 images.
func BenchmarkScoreAll(b *testing.B) {
	t50, p50 := benchPairs(50)
	var truth, pred []segment.LabelMap
	for range 10 {
		truth, pred = append(truth, t50...), append(pred, p50...)
	}
	for _, boundary := range []bool{false, true} {
		name := "miou_500x512px"
		if boundary {
			name = "miou_boundary_500x512px"
		}
		b.Run(name, func(b *testing.B) {
			o := Options{Classes: 21, Ignore: 255, Boundary: boundary}
			for b.Loop() {
				if _, _, err := ScoreAll(truth, pred, o, 2); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("read_pass_500x512px", func(b *testing.B) {
		for b.Loop() {
			var s uint64
			for i := range truth {
				tp, pp := truth[i].Pix, pred[i].Pix
				for k, v := range tp {
					s += uint64(v ^ pp[k])
				}
			}
			if s == 1 {
				b.Log(s)
			}
		}
	})
}

// BenchmarkScore is one 512x512 image on one core.
func BenchmarkScore(b *testing.B) {
	truth, pred := benchPairs(1)
	for _, boundary := range []bool{false, true} {
		name := "confusion"
		if boundary {
			name = "confusion_boundary"
		}
		b.Run(name, func(b *testing.B) {
			s, _ := NewScorer(Options{Classes: 21, Ignore: 255, Boundary: boundary})
			cm, _ := NewConfusion(21)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Score(truth[0], pred[0], cm); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBootstrapMIoU is 2,000 resamples of 500 records, the cost of one mIoU interval.
func BenchmarkBootstrapMIoU(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	recs := make([]Record, 500)
	for i := range recs {
		rec := Record{Intersect: make([]int64, 21), Label: make([]int64, 21), Pred: make([]int64, 21)}
		for k := range 21 {
			rec.Label[k] = int64(r.IntN(5000))
			rec.Intersect[k] = int64(r.IntN(int(rec.Label[k]) + 1))
			rec.Pred[k] = rec.Intersect[k] + int64(r.IntN(500))
		}
		recs[i] = rec
	}
	acc := NewAccumulator(21, false)
	idx := make([]int, 500)
	for b.Loop() {
		for range 2000 {
			for i := range idx {
				idx[i] = r.IntN(500)
			}
			acc.Reset()
			for _, i := range idx {
				acc.Add(&recs[i])
			}
			_ = acc.MIoU()
		}
	}
}

func BenchmarkComponents(b *testing.B) {
	truth, _ := benchPairs(1)
	var labels []int32
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if _, labels, err = Components(truth[0], 255, Eight, labels); err != nil {
			b.Fatal(err)
		}
	}
}
