package dedup

import (
	"bytes"
	"fmt"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

// benchLimit caps the pairs a benchmark materializes, as a report would.
const benchLimit = 1 << 20

func benchSets(n int) []struct {
	name   string
	hashes []Hash
} {
	return []struct {
		name   string
		hashes []Hash
	}{
		{"uniform", randomHashes(rand.New(rand.NewPCG(1, uint64(n))), n)},
		{"clustered", clustered(rand.New(rand.NewPCG(2, uint64(n))), n, false)},
		{"blankish", clustered(rand.New(rand.NewPCG(3, uint64(n))), n, true)},
	}
}

func BenchmarkNewIndex(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, set := range benchSets(n) {
			b.Run(fmt.Sprintf("%s/n=%d", set.name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					NewIndex(set.hashes)
				}
			})
		}
	}
}

// BenchmarkPairs measures the whole job: build the index, then find all pairs.
func BenchmarkPairs(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, set := range benchSets(n) {
			for _, d := range []int{4, 8} {
				b.Run(fmt.Sprintf("%s/n=%d/d=%d", set.name, n, d), func(b *testing.B) {
					var res PairResult
					for b.Loop() {
						res = NewIndex(set.hashes).Pairs(d, benchLimit)
					}
					b.ReportMetric(float64(res.Total), "pairs")
				})
			}
		}
	}
}

// BenchmarkPairsBands compares band counts on the same data, to check NewIndex's default.
func BenchmarkPairsBands(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		hashes := clustered(rand.New(rand.NewPCG(2, uint64(n))), n, false)
		for _, d := range []int{4, 8} {
			for _, bands := range []int{4, 5, 6, 8} {
				b.Run(fmt.Sprintf("n=%d/d=%d/bands=%d", n, d, bands), func(b *testing.B) {
					x := newIndexBands(hashes, bands)
					for b.Loop() {
						x.Pairs(d, benchLimit)
					}
				})
			}
		}
	}
}

func BenchmarkBruteForcePairs(b *testing.B) {
	hashes := clustered(rand.New(rand.NewPCG(2, 10_000)), 10_000, false)
	for _, d := range []int{4, 8} {
		b.Run(fmt.Sprintf("clustered/n=10000/d=%d", d), func(b *testing.B) {
			var count int
			for b.Loop() {
				count = 0
				for i, h := range hashes {
					for _, g := range hashes[i+1:] {
						if Distance(h, g) <= d {
							count++
						}
					}
				}
			}
			b.ReportMetric(float64(count), "pairs")
		})
	}
}

func BenchmarkGroups(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		hashes := clustered(rand.New(rand.NewPCG(2, uint64(n))), n, false)
		x := NewIndex(hashes)
		b.Run(fmt.Sprintf("clustered/n=%d/d=8", n), func(b *testing.B) {
			for b.Loop() {
				x.Groups(8)
			}
		})
	}
}

// BenchmarkCross is the leakage query: 10,000 eval hashes against 100,000 training hashes.
func BenchmarkCross(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	train := clustered(rng, 100_000, false)
	eval := clustered(rng, 10_000, false)
	for i := 0; i < len(eval); i += 10 { // 10% leaked near copies
		eval[i] = flipBits(rng, train[rng.IntN(len(train))], rng.IntN(4))
	}
	trainIndex := NewIndex(train)
	for _, d := range []int{4, 8} {
		b.Run(fmt.Sprintf("eval=10000/train=100000/d=%d", d), func(b *testing.B) {
			for b.Loop() {
				NewIndex(eval).Cross(trainIndex, d, benchLimit)
			}
		})
	}
}

func benchImages() []struct {
	name string
	img  *imaging.Image
} {
	digit := scene(3, 28, 28).ToGray()
	return []struct {
		name string
		img  *imaging.Image
	}{
		{"gray28x28", digit},
		{"rgb224x224", addNoise(scene(4, 224, 224), 4, 1)},
	}
}

func BenchmarkPHash(b *testing.B) {
	for _, bi := range benchImages() {
		b.Run(bi.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := PHash(bi.img); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPixelDigest(b *testing.B) {
	for _, bi := range benchImages() {
		b.Run(bi.name, func(b *testing.B) {
			b.SetBytes(int64(len(bi.img.Pix)))
			for b.Loop() {
				if _, err := PixelDigest(bi.img); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodePNG is the yardstick for the two above: decoding the same images from PNG.
func BenchmarkDecodePNG(b *testing.B) {
	for _, bi := range benchImages() {
		var buf bytes.Buffer
		if err := png.Encode(&buf, bi.img.Std()); err != nil {
			b.Fatal(err)
		}
		b.Run(bi.name, func(b *testing.B) {
			for b.Loop() {
				img, err := png.Decode(bytes.NewReader(buf.Bytes()))
				if err != nil {
					b.Fatal(err)
				}
				imaging.FromStd(img)
			}
		})
	}
}

// BenchmarkPairsMNIST runs the within-set search on the real pHashes of the 10,000 MNIST test
// digits, whose hashes are far from uniform (digits look alike), against the brute-force scan.
func BenchmarkPairsMNIST(b *testing.B) {
	imgs, _ := mnist(b, 10_000)
	hashes := make([]Hash, len(imgs))
	for i, img := range imgs {
		hashes[i] = mustPHash(b, img)
	}
	for _, d := range []int{4, 8} {
		b.Run(fmt.Sprintf("index/d=%d", d), func(b *testing.B) {
			var res PairResult
			for b.Loop() {
				res = NewIndex(hashes).Pairs(d, benchLimit)
			}
			b.ReportMetric(float64(res.Total), "pairs")
		})
		b.Run(fmt.Sprintf("brute/d=%d", d), func(b *testing.B) {
			var count int
			for b.Loop() {
				count = 0
				for i, h := range hashes {
					for _, g := range hashes[i+1:] {
						if Distance(h, g) <= d {
							count++
						}
					}
				}
			}
			b.ReportMetric(float64(count), "pairs")
		})
	}
}
