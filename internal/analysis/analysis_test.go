package analysis

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/dedup"
	"github.com/cvgate/cvgate/internal/imaging"
)

// noiseImage is a gray image of smooth random blobs: distinct seeds give unrelated pictures.
func noiseImage(seed uint64, w, h int) *imaging.Image {
	r := rand.New(rand.NewPCG(seed, 7))
	img := imaging.New(w, h, 1)
	type blob struct{ x, y, s, v float64 }
	var blobs []blob
	for range 6 {
		blobs = append(blobs, blob{r.Float64() * float64(w), r.Float64() * float64(h), 2 + r.Float64()*float64(w)/4, 60 + r.Float64()*195})
	}
	for y := range h {
		for x := range w {
			v := 0.0
			for _, b := range blobs {
				d := math.Hypot(float64(x)-b.x, float64(y)-b.y)
				v = math.Max(v, b.v*math.Exp(-d*d/(2*b.s*b.s)))
			}
			img.Pix[y*w+x] = uint8(v)
		}
	}
	return img
}

func mapPixels(img *imaging.Image, f func(v float64) float64) *imaging.Image {
	out := img.Clone()
	for i, v := range img.Pix {
		out.Pix[i] = uint8(math.Round(math.Max(0, math.Min(255, f(float64(v))))))
	}
	return out
}

func factsOf(imgs []*imaging.Image) *Facts {
	f := New(len(imgs), Options{Properties: true})
	for i, img := range imgs {
		f.Add(i, img)
	}
	return f
}

func TestMakeThumbAveragesAreas(t *testing.T) {
	// 64x64 made of 2x2 blocks: each thumbnail cell is exactly one block.
	big := imaging.New(64, 64, 1)
	for y := range 64 {
		for x := range 64 {
			big.Pix[y*64+x] = uint8((x/2*7 + y/2*3) % 256)
		}
	}
	// 16x16: each source pixel covers 2x2 cells.
	small := imaging.New(16, 16, 1)
	for i := range small.Pix {
		small.Pix[i] = uint8(i)
	}
	// RGB with R=G=B has the gray image's luma.
	rgb := big.ToRGB()
	tests := []struct {
		name string
		img  *imaging.Image
		want func(cx, cy int) uint8
	}{
		{"downscale by 2", big, func(cx, cy int) uint8 { return uint8((cx*7 + cy*3) % 256) }},
		{"upscale by 2", small, func(cx, cy int) uint8 { return uint8(cy/2*16 + cx/2) }},
		{"gray RGB", rgb, func(cx, cy int) uint8 { return uint8((cx*7 + cy*3) % 256) }},
		{"constant non-square", mapPixels(imaging.New(48, 20, 1), func(float64) float64 { return 77 }), func(int, int) uint8 { return 77 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := MakeThumb(tt.img)
			for cy := range ThumbSide {
				for cx := range ThumbSide {
					if got, want := th.Pix[cy*ThumbSide+cx], tt.want(cx, cy); got != want {
						t.Fatalf("cell (%d,%d) = %d, want %d", cx, cy, got, want)
					}
				}
			}
		})
	}
}

func TestSimilarity(t *testing.T) {
	a := noiseImage(1, 40, 30)
	blank := imaging.New(40, 30, 1)
	gray := mapPixels(blank, func(float64) float64 { return 128 })
	tests := []struct {
		name   string
		x, y   *imaging.Image
		lo, hi float64
	}{
		{"same image", a, a, 1, 1},
		{"brightness and contrast change", a, mapPixels(a, func(v float64) float64 { return 0.8*v + 30 }), 0.999, 1},
		{"inverted", a, mapPixels(a, func(v float64) float64 { return 255 - v }), -1, -0.999},
		{"unrelated", a, noiseImage(2, 40, 30), -0.9, 0.9},
		{"two blanks", blank, blank.Clone(), 1, 1},
		{"blanks of two levels", blank, gray, 0, 0},
		{"blank and a picture", blank, a, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, y := MakeThumb(tt.x), MakeThumb(tt.y)
			s := Similarity(&x, &y)
			if s < tt.lo-1e-12 || s > tt.hi+1e-12 {
				t.Errorf("similarity %.6f, want in [%g, %g]", s, tt.lo, tt.hi)
			}
			if r := Similarity(&y, &x); r != s {
				t.Errorf("not symmetric: %g vs %g", s, r)
			}
		})
	}
}

func defaultNear() NearOptions { return NearOptions{Distance: 8, MinSimilarity: 0.99} }

func TestDuplicates(t *testing.T) {
	var imgs []*imaging.Image
	for i := range 40 {
		imgs = append(imgs, noiseImage(uint64(100+i), 32, 32))
	}
	base := len(imgs)
	imgs = append(imgs,
		imgs[3].Clone(), imgs[3].Clone(), // 40, 41: exact copies of 3
		mapPixels(imgs[7], func(v float64) float64 { return 1.1*v + 5 }), // 42: near copy of 7
		imaging.New(32, 32, 1), imaging.New(32, 32, 1), // 43, 44: two blank frames
	)
	g := factsOf(imgs).Duplicates(defaultNear())
	wantExact := [][]int{{3, base, base + 1}, {base + 3, base + 4}}
	if !equalGroups(g.Exact, wantExact) {
		t.Errorf("exact groups %v, want %v", g.Exact, wantExact)
	}
	if want := [][]int{{7, base + 2}}; !equalGroups(g.Near, want) {
		t.Errorf("near groups %v, want %v", g.Near, want)
	}
	if len(g.Pairs) != 1 || g.Pairs[0].A != 7 || g.Pairs[0].B != base+2 || g.Pairs[0].Exact {
		t.Errorf("near pairs %+v, want one (7, %d) that is not exact", g.Pairs, base+2)
	}
	if g.Truncated {
		t.Error("truncated on 45 images")
	}
}

func equalGroups(a, b [][]int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

func TestLeaks(t *testing.T) {
	var train, eval []*imaging.Image
	for i := range 30 {
		train = append(train, noiseImage(uint64(1000+i), 28, 28))
	}
	for i := range 20 {
		eval = append(eval, noiseImage(uint64(2000+i), 28, 28))
	}
	train = append(train, eval[4].Clone(), mapPixels(eval[9], func(v float64) float64 { return v*0.95 + 8 }))
	leaks, search := factsOf(eval).Leaks(factsOf(train), defaultNear())
	if len(leaks) != 2 {
		t.Fatalf("leaks %+v, want eval 4 (exact) and 9 (near)", leaks)
	}
	if l := leaks[0]; l.A != 4 || l.B != 30 || !l.Exact || l.Similarity != 1 {
		t.Errorf("first leak %+v, want eval 4 = train 30, exact", l)
	}
	if l := leaks[1]; l.A != 9 || l.B != 31 || l.Exact || l.Similarity < 0.99 {
		t.Errorf("second leak %+v, want eval 9 ~ train 31, near", l)
	}
	if search.Candidates < 2 {
		t.Errorf("candidates %d", search.Candidates)
	}
	// A stricter similarity drops the near copy but never an exact one.
	leaks, _ = factsOf(eval).Leaks(factsOf(train), NearOptions{Distance: 8, MinSimilarity: 1})
	if len(leaks) != 1 || !leaks[0].Exact {
		t.Errorf("with min_similarity 1: %+v, want the exact copy only", leaks)
	}
}

func TestCompact(t *testing.T) {
	imgs := []*imaging.Image{noiseImage(1, 8, 8), nil, noiseImage(3, 8, 8), noiseImage(4, 8, 8)}
	l := &dataset.Listing{Source: "x", Entries: []dataset.Entry{{Path: "a"}, {Path: "b"}, {Path: "c"}, {Path: "d"}}}
	f := New(4, Options{Properties: true})
	for i, img := range imgs {
		if img != nil { // "b" did not decode: the hook never saw it
			f.Add(i, img)
		}
	}
	ds := &dataset.Dataset{Items: []dataset.Item{{Entry: l.Entries[0]}, {Entry: l.Entries[2]}, {Entry: l.Entries[3]}}}
	got, err := f.Compact(l, ds)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := dedup.PHash(imgs[2])
	if got.Len() != 3 || got.PHash[1] != want || got.Props[2] == nil {
		t.Errorf("compacted facts do not follow the kept items: len %d", got.Len())
	}
	ds.Items = append(ds.Items, dataset.Item{Entry: dataset.Entry{Path: "zz"}})
	if _, err := f.Compact(l, ds); err == nil || !strings.Contains(err.Error(), `"zz"`) {
		t.Errorf("an item missing from the listing: error %v", err)
	}
	// An image whose facts failed is named.
	f2 := New(1, Options{})
	f2.Add(0, &imaging.Image{Width: 2, Height: 2, Channels: 1, Pix: []uint8{1}})
	l2 := &dataset.Listing{Entries: []dataset.Entry{{Path: "bad.png"}}}
	if _, err := f2.Compact(l2, &dataset.Dataset{Items: []dataset.Item{{Entry: l2.Entries[0]}}}); err == nil || !strings.Contains(err.Error(), "bad.png") {
		t.Errorf("broken image: error %v", err)
	}
}

// Searches run a chunk of images at a time: copies in different chunks are still found, and a cap
// on candidates is reported, not silent.
func TestNearSearchAcrossChunks(t *testing.T) {
	n := queryChunk + 500
	imgs := make([]*imaging.Image, n)
	for i := range imgs {
		imgs[i] = noiseImage(uint64(50_000+i), 12, 12)
	}
	far := queryChunk + 100
	imgs[far] = mapPixels(imgs[10], func(v float64) float64 { return 0.9*v + 12 })
	f := factsOf(imgs)
	g := f.Duplicates(defaultNear())
	found := false
	for _, m := range g.Pairs {
		found = found || (m.A == 10 && m.B == far)
	}
	if !found {
		t.Errorf("the copy of image 10 at %d, in another chunk, was not found: %+v", far, g.Pairs)
	}
	if g.Candidates < int64(len(g.Pairs)) || g.Truncated {
		t.Errorf("candidates %d for %d pairs, truncated %v", g.Candidates, len(g.Pairs), g.Truncated)
	}
	capped := f.Duplicates(NearOptions{Distance: 64, MinSimilarity: 0.99, MaxCandidates: 10})
	if !capped.Truncated {
		t.Error("a search capped at 10 candidates per chunk says it was not truncated")
	}
	if want := int64(n) * int64(n-1) / 2; capped.Candidates != want {
		t.Errorf("at distance 64 every pair is a candidate: counted %d, want %d", capped.Candidates, want)
	}
}
