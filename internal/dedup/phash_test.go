package dedup

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

func mustPHash(t testing.TB, img *imaging.Image) Hash {
	t.Helper()
	h, err := PHash(img)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b Hash
		want int
	}{
		{0, 0, 0},
		{0, 1, 1},
		{0, ^Hash(0), 64},
		{0xf0, 0x0f, 8},
		{1 << 63, 1, 2},
	}
	for _, tt := range tests {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%v, %v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestHashText(t *testing.T) {
	h := Hash(0x00ab_cdef_0123_4567)
	raw, err := json.Marshal([]Hash{h})
	if err != nil {
		t.Fatal(err)
	}
	if want := `["00abcdef01234567"]`; string(raw) != want {
		t.Errorf("JSON = %s, want %s", raw, want)
	}
	var back []Hash
	if err := json.Unmarshal(raw, &back); err != nil || len(back) != 1 || back[0] != h {
		t.Errorf("round trip = %v, %v", back, err)
	}
	for _, bad := range []string{"", "abc", "00abcdef0123456z", "00abcdef012345678"} {
		var x Hash
		if err := x.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) accepted", bad)
		}
	}
}

// Every source pixel must be spread over the cells with total weight phashSide (its length in
// cell units) and every cell must collect weight n (its length in source units).
func TestAreaSpansConserveArea(t *testing.T) {
	for _, n := range []int{1, 2, 7, 28, 31, 32, 33, 64, 224, 1001} {
		perSrc := make([]int, n)
		perDst := make([]int, phashSide)
		prevSrc := int32(0)
		for _, s := range areaSpans(n) {
			if s.weight <= 0 || s.src < prevSrc {
				t.Fatalf("n=%d: bad span %+v after source %d", n, s, prevSrc)
			}
			prevSrc = s.src
			perSrc[s.src] += int(s.weight)
			perDst[s.dst] += int(s.weight)
		}
		for i, w := range perSrc {
			if w != phashSide {
				t.Errorf("n=%d: source %d has weight %d, want %d", n, i, w, phashSide)
			}
		}
		for j, w := range perDst {
			if w != n {
				t.Errorf("n=%d: cell %d has weight %d, want %d", n, j, w, n)
			}
		}
	}
}

func TestAreaResizeLuma(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	random := func(w, h, c int) *imaging.Image {
		m := imaging.New(w, h, c)
		for i := range m.Pix {
			m.Pix[i] = uint8(rng.IntN(256))
		}
		return m
	}
	// Independent expectations for the thumbnail cell (i, j).
	tests := []struct {
		name string
		img  *imaging.Image
		want func(img *imaging.Image, i, j int) float64
	}{
		{
			name: "64x64 averages 2x2 blocks",
			img:  random(64, 64, 1),
			want: func(img *imaging.Image, i, j int) float64 {
				s := 0.0
				for dy := range 2 {
					for dx := range 2 {
						s += float64(img.At(2*j+dx, 2*i+dy, 0))
					}
				}
				return s / 4 / 255
			},
		},
		{
			name: "16x8 RGB replicates pixels",
			img:  random(16, 8, 3),
			want: func(img *imaging.Image, i, j int) float64 {
				x, y := j/2, i/4
				r, g, b := float64(img.At(x, y, 0)), float64(img.At(x, y, 1)), float64(img.At(x, y, 2))
				return (0.299*r + 0.587*g + 0.114*b) / 255
			},
		},
		{
			name: "1x1 fills the thumbnail",
			img:  &imaging.Image{Width: 1, Height: 1, Channels: 1, Pix: []uint8{51}},
			want: func(*imaging.Image, int, int) float64 { return 0.2 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var thumb [phashSide * phashSide]float64
			areaResizeLuma(tt.img, &thumb)
			for i := range phashSide {
				for j := range phashSide {
					if got, want := thumb[i*phashSide+j], tt.want(tt.img, i, j); math.Abs(got-want) > 1e-12 {
						t.Fatalf("cell (%d,%d) = %v, want %v", i, j, got, want)
					}
				}
			}
		})
	}

	// Area averaging keeps the mean for any size, e.g. MNIST's 28x28 that does not divide 32.
	img := random(28, 19, 1)
	var thumb [phashSide * phashSide]float64
	areaResizeLuma(img, &thumb)
	var mean, thumbMean float64
	for _, v := range img.Pix {
		mean += float64(v) / 255 / float64(len(img.Pix))
	}
	for _, v := range thumb {
		thumbMean += v / float64(len(thumb))
	}
	if math.Abs(mean-thumbMean) > 1e-12 {
		t.Errorf("thumbnail mean %v, image mean %v", thumbMean, mean)
	}
}

// lowFrequencyDCT must match the textbook orthonormal DCT-II, evaluated here term by term.
func TestLowFrequencyDCTMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var thumb [phashSide * phashSide]float64
	for i := range thumb {
		thumb[i] = rng.Float64()
	}
	got := lowFrequencyDCT(&thumb)
	const n = phashSide
	alpha := func(k int) float64 {
		if k == 0 {
			return math.Sqrt(1.0 / n)
		}
		return math.Sqrt(2.0 / n)
	}
	for u := range phashFreqs {
		for v := range phashFreqs {
			want := 0.0
			for y := range n {
				for x := range n {
					want += thumb[y*n+x] * math.Cos(math.Pi*float64(u)*(float64(y)+0.5)/n) *
						math.Cos(math.Pi*float64(v)*(float64(x)+0.5)/n)
				}
			}
			want *= alpha(u) * alpha(v)
			if d := math.Abs(got[u*phashFreqs+v] - want); d > 1e-12 {
				t.Errorf("coefficient (%d,%d) = %v, want %v", u, v, got[u*phashFreqs+v], want)
			}
		}
	}
}

func TestHashCoefficients(t *testing.T) {
	ramp := func(f func(k int) float64) (c [64]float64) {
		for k := range c {
			c[k] = f(k)
		}
		return c
	}
	tests := []struct {
		name   string
		coeffs [64]float64
		want   Hash
	}{
		{
			// Coefficient k = k: the median of 1..63 is 32, so 33..63 set bits 32..62.
			name:   "increasing",
			coeffs: ramp(func(k int) float64 { return float64(k) }),
			want:   Hash((1<<31 - 1) << 32),
		},
		{
			// Reversed: 1..31 are above the median 32, setting bits 0..30. DC is ignored.
			name:   "decreasing",
			coeffs: ramp(func(k int) float64 { return float64(64 - k) }),
			want:   Hash(1<<31 - 1),
		},
		{
			name:   "rounding noise is zero",
			coeffs: ramp(func(k int) float64 { return 1e-12 * math.Sin(float64(k)) }),
			want:   0,
		},
		{
			name:   "only DC",
			coeffs: [64]float64{0: 17},
			want:   0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hashCoefficients(&tt.coeffs); got != tt.want {
				t.Errorf("hash = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPHashOfConstantImagesIsZero(t *testing.T) {
	for _, tc := range []struct {
		w, h, c int
		v       uint8
	}{
		{28, 28, 1, 0}, {28, 28, 1, 255}, {1, 1, 1, 77}, {224, 224, 3, 128}, {33, 7, 3, 200}, {640, 480, 1, 13},
	} {
		img := imaging.New(tc.w, tc.h, tc.c)
		for i := range img.Pix {
			img.Pix[i] = tc.v
		}
		if h := mustPHash(t, img); h != 0 {
			t.Errorf("%dx%dx%d filled with %d: hash %v, want 0", tc.w, tc.h, tc.c, tc.v, h)
		}
	}
}

// nearDuplicateBits is the largest distance the tests accept for a copy with small changes: 8 of
// the 63 informative bits (an eighth) is the usual pHash near-duplicate threshold. Hashes always
// have 31 bits set, so distances are even.
const nearDuplicateBits = 8

func TestPHashRobustOnScenes(t *testing.T) {
	transforms := []struct {
		name    string
		apply   func(t *testing.T, img *imaging.Image) *imaging.Image
		maxDist int
	}{
		{"identity", func(_ *testing.T, m *imaging.Image) *imaging.Image { return m.Clone() }, 0},
		// A pure offset only moves the DC term; the bound allows for clipping at 255.
		{"brighter by 20", func(_ *testing.T, m *imaging.Image) *imaging.Image {
			return mapPixels(m, func(v float64) float64 { return v + 20 })
		}, nearDuplicateBits},
		{"contrast 0.8", func(_ *testing.T, m *imaging.Image) *imaging.Image {
			return mapPixels(m, func(v float64) float64 { return 128 + (v-128)*0.8 })
		}, nearDuplicateBits / 2},
		{"gray copy", func(_ *testing.T, m *imaging.Image) *imaging.Image { return m.ToGray() }, nearDuplicateBits / 2},
		{"noise sigma 3", func(_ *testing.T, m *imaging.Image) *imaging.Image { return addNoise(m, 3, 1) }, nearDuplicateBits / 2},
		{"noise sigma 8", func(_ *testing.T, m *imaging.Image) *imaging.Image { return addNoise(m, 8, 2) }, nearDuplicateBits},
		{"JPEG quality 75", func(t *testing.T, m *imaging.Image) *imaging.Image { return jpegRoundTrip(t, m, 75) }, nearDuplicateBits / 2},
		{"JPEG quality 50", func(t *testing.T, m *imaging.Image) *imaging.Image { return jpegRoundTrip(t, m, 50) }, nearDuplicateBits},
		{"half size", func(_ *testing.T, m *imaging.Image) *imaging.Image { return halfSize(m) }, nearDuplicateBits / 2},
	}
	const scenes = 30
	hashes := make([]Hash, scenes)
	for s := range scenes {
		img := scene(uint64(s), 128, 96)
		hashes[s] = mustPHash(t, img)
		for _, tr := range transforms {
			if d := Distance(hashes[s], mustPHash(t, tr.apply(t, img))); d > tr.maxDist {
				t.Errorf("scene %d, %s: distance %d, want <= %d", s, tr.name, d, tr.maxDist)
			}
		}
	}
	// Unrelated scenes must be well beyond any near-duplicate threshold (random 63-bit hashes sit
	// about 31 apart).
	for i := range hashes {
		for j := i + 1; j < len(hashes); j++ {
			if d := Distance(hashes[i], hashes[j]); d <= 2*nearDuplicateBits {
				t.Errorf("scenes %d and %d: distance %d, want > %d", i, j, d, 2*nearDuplicateBits)
			}
		}
	}
}

func TestPHashOnMNIST(t *testing.T) {
	const n = 2000
	imgs, labels := mnist(t, n)
	hashes := make([]Hash, n)
	for i, img := range imgs {
		hashes[i] = mustPHash(t, img)
	}

	// Small changes to real digits stay near.
	transforms := []struct {
		name    string
		apply   func(img *imaging.Image, i int) *imaging.Image
		maxDist int
	}{
		{"dimmer by 10%", func(m *imaging.Image, _ int) *imaging.Image {
			return mapPixels(m, func(v float64) float64 { return 0.9 * v })
		}, nearDuplicateBits / 2},
		{"background +10", func(m *imaging.Image, _ int) *imaging.Image {
			return mapPixels(m, func(v float64) float64 { return v + 10 })
		}, nearDuplicateBits / 2},
		{"noise sigma 8", func(m *imaging.Image, i int) *imaging.Image { return addNoise(m, 8, uint64(i)) }, nearDuplicateBits},
		{"JPEG quality 90", func(m *imaging.Image, _ int) *imaging.Image { return jpegRoundTrip(t, m, 90) }, nearDuplicateBits},
	}
	for i := range 200 {
		for _, tr := range transforms {
			if d := Distance(hashes[i], mustPHash(t, tr.apply(imgs[i], i))); d > tr.maxDist {
				t.Errorf("digit %d, %s: distance %d, want <= %d", i, tr.name, d, tr.maxDist)
			}
		}
	}

	// Different digits are far: pairs with different labels should almost never be near
	// duplicates, and two writers' versions of the same digit are typically far apart too.
	var crossNear, crossPairs int
	var sameLabel []int
	for i := range hashes {
		for j := i + 1; j < n; j++ {
			d := Distance(hashes[i], hashes[j])
			if labels[i] != labels[j] {
				crossPairs++
				if d <= nearDuplicateBits/2 {
					crossNear++
				}
			} else {
				sameLabel = append(sameLabel, d)
			}
		}
	}
	if rate := float64(crossNear) / float64(crossPairs); rate > 1e-4 {
		t.Errorf("%d of %d different-digit pairs within %d bits (rate %.2g), want rate <= 1e-4",
			crossNear, crossPairs, nearDuplicateBits/2, rate)
	}
	slices.Sort(sameLabel)
	if median := sameLabel[len(sameLabel)/2]; median <= 2*nearDuplicateBits {
		t.Errorf("median distance between same-digit pairs %d, want > %d", median, 2*nearDuplicateBits)
	}
}
