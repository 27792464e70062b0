package dedup

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"go/build"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

// scene draws a photo-like RGB image: a smooth background gradient plus a few soft-edged
// ellipses of random colour. Different seeds give unrelated scenes.
func scene(seed uint64, w, h int) *imaging.Image {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	type blob struct {
		cx, cy, rx, ry float64
		col            [3]float64
	}
	var blobs []blob
	for range 3 + rng.IntN(4) {
		blobs = append(blobs, blob{
			cx: rng.Float64(), cy: rng.Float64(),
			rx: 0.1 + 0.3*rng.Float64(), ry: 0.1 + 0.3*rng.Float64(),
			col: [3]float64{rng.Float64() * 255, rng.Float64() * 255, rng.Float64() * 255},
		})
	}
	gx, gy := rng.Float64()*120-60, rng.Float64()*120-60
	base := 60 + rng.Float64()*120
	m := imaging.New(w, h, 3)
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			var px [3]float64
			for c := range px {
				px[c] = base + gx*fx + gy*fy
			}
			for _, b := range blobs {
				d := math.Hypot((fx-b.cx)/b.rx, (fy-b.cy)/b.ry)
				a := 1 / (1 + math.Exp((d-1)*12)) // soft edge
				for c := range px {
					px[c] = px[c]*(1-a) + b.col[c]*a
				}
			}
			for c := range px {
				m.Pix[(y*w+x)*3+c] = clampByte(px[c])
			}
		}
	}
	return m
}

func clampByte(v float64) uint8 { return uint8(max(0, min(255, math.Round(v)))) }

// mapPixels returns a copy with f applied to every channel value.
func mapPixels(img *imaging.Image, f func(v float64) float64) *imaging.Image {
	out := img.Clone()
	for i, v := range img.Pix {
		out.Pix[i] = clampByte(f(float64(v)))
	}
	return out
}

func addNoise(img *imaging.Image, sigma float64, seed uint64) *imaging.Image {
	rng := rand.New(rand.NewPCG(seed, 99))
	return mapPixels(img, func(v float64) float64 { return v + rng.NormFloat64()*sigma })
}

func jpegRoundTrip(t testing.TB, img *imaging.Image, quality int) *imaging.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img.Std(), &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	dec, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	out := imaging.FromStd(dec)
	if img.Channels == 1 {
		out = out.ToGray()
	}
	return out
}

// halfSize averages 2x2 blocks (odd last rows/columns are dropped).
func halfSize(img *imaging.Image) *imaging.Image {
	w, h, ch := img.Width/2, img.Height/2, img.Channels
	out := imaging.New(w, h, ch)
	for y := range h {
		for x := range w {
			for c := range ch {
				s := 0
				for dy := range 2 {
					for dx := range 2 {
						s += int(img.At(2*x+dx, 2*y+dy, c))
					}
				}
				out.Pix[(y*w+x)*ch+c] = uint8((s + 2) / 4)
			}
		}
	}
	return out
}

// mnist loads the first n test images and labels of MNIST from the GoMNIST module (the module
// cache, or CVGATE_MNIST_DIR), or skips the test when they are not on this machine.
func mnist(t testing.TB, n int) ([]*imaging.Image, []uint8) {
	t.Helper()
	dir := os.Getenv("CVGATE_MNIST_DIR")
	if dir == "" {
		modCache := os.Getenv("GOMODCACHE")
		if modCache == "" {
			modCache = filepath.Join(filepath.SplitList(build.Default.GOPATH)[0], "pkg", "mod")
		}
		dir = filepath.Join(modCache, "github.com", "petar", "!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63", "data")
	}
	images := readIDX(t, filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), 0x803, n)
	labels := readIDX(t, filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), 0x801, n)
	const side = 28
	out := make([]*imaging.Image, n)
	for i := range out {
		out[i] = &imaging.Image{Width: side, Height: side, Channels: 1, Pix: images[i*side*side : (i+1)*side*side]}
	}
	return out, labels
}

// readIDX returns the payload of the first n records of a gzipped IDX file.
func readIDX(t testing.TB, path string, magic uint32, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("MNIST not available (set CVGATE_MNIST_DIR or run go mod download): %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	var head [2]uint32
	if err := binary.Read(zr, binary.BigEndian, &head); err != nil || head[0] != magic {
		t.Fatalf("read %s header: magic %#x, err %v", path, head[0], err)
	}
	if int(head[1]) < n {
		t.Fatalf("%s holds %d records, want %d", path, head[1], n)
	}
	recordSize := 1
	if magic == 0x803 {
		var dims [2]uint32
		if err := binary.Read(zr, binary.BigEndian, &dims); err != nil {
			t.Fatalf("read %s dims: %v", path, err)
		}
		recordSize = int(dims[0] * dims[1])
	}
	buf := make([]byte, n*recordSize)
	if _, err := io.ReadFull(zr, buf); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return buf
}
