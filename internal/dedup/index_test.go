package dedup

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

// bruteForcePairs lists every pair within maxDist by comparing all of them.
func bruteForcePairs(hashes []Hash, maxDist int) []Pair {
	pairs := []Pair{}
	for i := range hashes {
		for j := i + 1; j < len(hashes); j++ {
			if d := Distance(hashes[i], hashes[j]); d <= maxDist {
				pairs = append(pairs, Pair{A: i, B: j, Distance: d})
			}
		}
	}
	return pairs
}

func bruteForceCross(a, b []Hash, maxDist int) []Pair {
	pairs := []Pair{}
	for i := range a {
		for j := range b {
			if d := Distance(a[i], b[j]); d <= maxDist {
				pairs = append(pairs, Pair{A: i, B: j, Distance: d})
			}
		}
	}
	return pairs
}

func randomHashes(rng *rand.Rand, n int) []Hash {
	out := make([]Hash, n)
	for i := range out {
		out[i] = Hash(rng.Uint64())
	}
	return out
}

// flipBits returns h with k distinct random bits flipped.
func flipBits(rng *rand.Rand, h Hash, k int) Hash {
	for _, bit := range rng.Perm(64)[:k] {
		h ^= 1 << bit
	}
	return h
}

// clustered mixes what real data has: exact copies, near copies at every small distance,
// hashes whose differences all fall inside one band (the worst case for band tables), unrelated
// hashes and, with blankish, many hashes near zero (blank-ish images), shuffled.
func clustered(rng *rand.Rand, n int, blankish bool) []Hash {
	out := make([]Hash, 0, n)
	for len(out) < n {
		center := Hash(rng.Uint64())
		switch rng.IntN(5) {
		case 0: // exact copies
			for range 1 + rng.IntN(4) {
				out = append(out, center)
			}
		case 1: // near copies
			for range 1 + rng.IntN(6) {
				out = append(out, flipBits(rng, center, rng.IntN(10)))
			}
		case 2: // differences confined to the low 13 bits
			for range 1 + rng.IntN(6) {
				out = append(out, center^Hash(rng.Uint64()&(1<<13-1)))
			}
		case 3: // near the blank hash 0
			if blankish {
				out = append(out, flipBits(rng, 0, rng.IntN(6)))
			}
		default:
			out = append(out, center)
		}
	}
	out = out[:n]
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func TestPairsMatchBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	sets := []struct {
		name   string
		hashes []Hash
	}{
		{"empty", nil},
		{"one", []Hash{42}},
		{"random", randomHashes(rng, 600)},
		{"clustered", clustered(rng, 600, true)},
		{"all identical", slices.Repeat([]Hash{0xdead}, 50)},
	}
	for _, set := range sets {
		want := map[int][]Pair{}
		for _, bands := range []int{0, 4, 5, 7, 16} { // 0: NewIndex's own choice
			x := NewIndex(set.hashes)
			if bands > 0 {
				x = newIndexBands(set.hashes, bands)
			}
			for _, d := range []int{0, 1, 2, 3, 4, 6, 8, 10, 12, 16, 24, 40, 64} {
				if bands > 0 && uniformCost(bands, d, len(set.hashes)) > 20_000 {
					continue // forced probing at a large radius: correct but slow
				}
				if want[d] == nil {
					want[d] = bruteForcePairs(set.hashes, d)
				}
				got := x.Pairs(d, math.MaxInt)
				if !slices.Equal(want[d], got.Pairs) {
					t.Fatalf("%s, %d bands, distance %d: pairs differ (-brute +index):\n%s",
						set.name, bands, d, gocmp.Diff(want[d], got.Pairs))
				}
				if got.Total != int64(len(want[d])) || got.Truncated {
					t.Fatalf("%s, %d bands, distance %d: total %d truncated %v, want %d false",
						set.name, bands, d, got.Total, got.Truncated, len(want[d]))
				}
			}
		}
	}
}

func TestPairsOnMNISTHashes(t *testing.T) {
	imgs, _ := mnist(t, 3000)
	hashes := make([]Hash, len(imgs))
	for i, img := range imgs {
		hashes[i] = mustPHash(t, img)
	}
	x := NewIndex(hashes)
	for _, d := range []int{0, 4, 8, 12} {
		want := bruteForcePairs(hashes, d)
		if diff := gocmp.Diff(want, x.Pairs(d, math.MaxInt).Pairs); diff != "" {
			t.Errorf("distance %d: pairs differ (-brute +index):\n%s", d, diff)
		}
	}
}

func TestCrossMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	train := clustered(rng, 500, true)
	// Eval: some exact and near copies of training hashes, some unrelated ones, some blanks.
	eval := make([]Hash, 0, 300)
	for i := range 300 {
		switch i % 3 {
		case 0:
			eval = append(eval, flipBits(rng, train[rng.IntN(len(train))], rng.IntN(8)))
		case 1:
			eval = append(eval, Hash(rng.Uint64()))
		default:
			eval = append(eval, flipBits(rng, 0, rng.IntN(3)))
		}
	}
	for _, d := range []int{0, 2, 4, 8, 20} {
		want := bruteForceCross(eval, train, d)
		got := NewIndex(eval).Cross(NewIndex(train), d, math.MaxInt)
		if diff := gocmp.Diff(want, got.Pairs); diff != "" {
			t.Errorf("distance %d: cross pairs differ (-brute +index):\n%s", d, diff)
		}
		if got.Total != int64(len(want)) {
			t.Errorf("distance %d: total %d, want %d", d, got.Total, len(want))
		}
	}
}

func TestNearestMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	train := clustered(rng, 400, true)
	queries := append(clustered(rng, 200, true), train[:50]...)
	x := NewIndex(train)
	for _, d := range []int{0, 3, 6, 10} {
		want := make([]Neighbor, len(queries))
		for q, h := range queries {
			want[q] = Neighbor{ID: -1}
			for i, th := range train {
				dist := Distance(h, th)
				if dist <= d && (want[q].ID < 0 || dist < want[q].Distance) {
					want[q] = Neighbor{ID: i, Distance: dist} // strict <: the first (smallest) ID wins ties
				}
			}
		}
		if diff := gocmp.Diff(want, x.Nearest(NewIndex(queries), d)); diff != "" {
			t.Errorf("distance %d: nearest differ (-brute +index):\n%s", d, diff)
		}
	}
}

func TestGroupsMatchPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	hashes := clustered(rng, 800, true)
	x := NewIndex(hashes)
	for _, d := range []int{0, 2, 4, 8} {
		want, err := GroupPairs(len(hashes), bruteForcePairs(hashes, d))
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(want, x.Groups(d)); diff != "" {
			t.Errorf("distance %d: groups differ (-from brute-force pairs +index):\n%s", d, diff)
		}
	}
}

// A thousand blank images (and a few near-blank ones) must neither blow up memory nor hide how
// many pairs there are.
func TestDegenerateIdenticalHashes(t *testing.T) {
	const blanks = 1000
	hashes := slices.Repeat([]Hash{0}, blanks)
	hashes = append(hashes, 1, 3, 0xffff_0000_0000_0000) // two near-blank, one unrelated
	x := NewIndex(hashes)
	if x.Distinct() != 4 || x.Len() != blanks+3 || x.Hash(blanks+2) != 0xffff_0000_0000_0000 || x.Hash(7) != 0 {
		t.Fatalf("Distinct %d, Len %d, Hash(%d) %v, Hash(7) %v", x.Distinct(), x.Len(), blanks+2, x.Hash(blanks+2), x.Hash(7))
	}

	res := x.Pairs(2, 100)
	// Pairs among the blanks, blanks with 1 (d=1) and with 3 (d=2), and 1 with 3 (d=1).
	wantTotal := int64(blanks*(blanks-1)/2 + blanks + blanks + 1)
	if res.Total != wantTotal || !res.Truncated || len(res.Pairs) != 100 {
		t.Fatalf("total %d truncated %v len %d, want %d true 100", res.Total, res.Truncated, len(res.Pairs), wantTotal)
	}
	// The first 100 in (A, B) order are item 0 with items 1..100.
	for i, p := range res.Pairs {
		if want := (Pair{A: 0, B: i + 1, Distance: 0}); p != want {
			t.Fatalf("pair %d = %+v, want %+v", i, p, want)
		}
	}

	groups := x.Groups(2)
	if len(groups) != 1 || len(groups[0]) != blanks+2 {
		t.Fatalf("groups: %d groups, first of %d, want 1 of %d", len(groups), len(groups[0]), blanks+2)
	}
	if exact := x.Groups(0); len(exact) != 1 || len(exact[0]) != blanks {
		t.Errorf("identical groups: %v groups, want one of %d", len(exact), blanks)
	}

	// Blank eval images against blank train images: a million pairs, counted, not listed.
	cross := x.Cross(x, 0, 10)
	if cross.Total != blanks*blanks+3 || len(cross.Pairs) != 10 || !cross.Truncated {
		t.Errorf("cross total %d len %d truncated %v, want %d 10 true", cross.Total, len(cross.Pairs), cross.Truncated, blanks*blanks+3)
	}
}

func TestPairsLimits(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	hashes := clustered(rng, 300, true)
	x := NewIndex(hashes)
	all := bruteForcePairs(hashes, 6)
	if len(all) < 20 {
		t.Fatalf("test data has only %d pairs", len(all))
	}
	tests := []struct {
		name    string
		maxDist int
		limit   int
		want    []Pair
		total   int
	}{
		{"zero limit counts only", 6, 0, []Pair{}, len(all)},
		{"negative limit is zero", 6, -5, []Pair{}, len(all)},
		{"limit keeps the first pairs", 6, 7, all[:7], len(all)},
		{"limit equal to total", 6, len(all), all, len(all)},
		{"negative distance matches nothing", -1, 100, []Pair{}, 0},
		{"distance above 64 is 64", 65, math.MaxInt, bruteForcePairs(hashes, 64), len(hashes) * (len(hashes) - 1) / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := x.Pairs(tt.maxDist, tt.limit)
			if diff := gocmp.Diff(tt.want, got.Pairs); diff != "" {
				t.Errorf("pairs differ (-want +got):\n%s", diff)
			}
			if got.Total != int64(tt.total) || got.Truncated != (tt.total > len(tt.want)) {
				t.Errorf("total %d truncated %v, want %d %v", got.Total, got.Truncated, tt.total, tt.total > len(tt.want))
			}
		})
	}
}

func TestFlipMasks(t *testing.T) {
	tests := []struct {
		width  uint
		radius int
		want   int // sum of binomial(width, k) for k <= radius
	}{
		{13, -1, 0}, {13, 0, 1}, {13, 1, 14}, {16, 2, 1 + 16 + 120}, {4, 4, 16}, {4, 9, 16}, {7, 3, 1 + 7 + 21 + 35},
	}
	for _, tt := range tests {
		masks := flipMasks(tt.width, tt.radius)
		seen := map[uint64]bool{}
		for _, m := range masks {
			if seen[m] || m >= 1<<tt.width || int(popcount(m)) > tt.radius {
				t.Errorf("width %d radius %d: bad or repeated mask %b", tt.width, tt.radius, m)
			}
			seen[m] = true
		}
		if len(masks) != tt.want {
			t.Errorf("width %d radius %d: %d masks, want %d", tt.width, tt.radius, len(masks), tt.want)
		}
	}
}

func popcount(m uint64) int { return Distance(Hash(m), 0) }

// The uniform cost model must rank first the band counts worked out by hand: r = 0 when buckets
// stay small, one-bit probes when that avoids huge buckets, none (a scan) when probing cannot win.
func TestCandidateBands(t *testing.T) {
	tests := []struct {
		name              string
		maxDist, distinct int
		want              int // first candidate; 0 for none
	}{
		{"tiny set scans", 4, 10, 0},
		{"whole range scans", 64, 1_000_000, 0},
		// d=0: every m probes one bucket per band; 4 bands of 16 bits have the fewest probes.
		{"exact at 100k", 0, 100_000, 4},
		// d=4: 5 bands of 12-13 bits need no flips (r=0) with about 12 entries per bucket.
		{"d=4 at 10k", 4, 10_000, 5},
		{"d=4 at 100k", 4, 100_000, 5},
		// d=8: 5 bands (four with one-bit flips, 14 probes each, one exact) beat 9 bands of 7 bits
		// (780 hashes per bucket) and 4 bands (one with two-bit flips, 137 probes).
		{"d=8 at 100k", 8, 100_000, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := candidateBands(tt.maxDist, tt.distinct)
			if first := append(got, 0)[0]; first != tt.want {
				t.Errorf("candidateBands(%d, %d) = %v, want %d first", tt.maxDist, tt.distinct, got, tt.want)
			}
		})
	}
}

func TestChooseBandsFollowsData(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	// Uniform hashes: the measured cost is the uniform one plus at most one candidate per probe
	// (Poisson buckets), so probing is chosen.
	uniform := NewIndex(randomHashes(rng, 20_000))
	if m := uniform.chooseBands(4); m == 0 {
		t.Errorf("uniform hashes at d=4: chose a scan")
	}
	// Hashes that all agree outside their low 16 bits: every band but one is a single bucket
	// holding everything, so probing costs more than a scan.
	crowded := make([]Hash, 20_000)
	for i := range crowded {
		crowded[i] = Hash(0xfeed_beef_0000_0000 | rng.Uint64()&0xffff)
	}
	if m := NewIndex(crowded).chooseBands(4); m != 0 {
		t.Errorf("crowded hashes at d=4: chose %d bands, want a scan", m)
	}
}

// Exactness rests on the band radii: if every band differed by radius+1 bits, the total would
// have to exceed maxDist, i.e. sum(radius+1) > maxDist.
func TestBandRadiiCoverDistance(t *testing.T) {
	for m := minBands; m <= maxBands; m++ {
		for d := 0; d <= 64; d++ {
			radii := bandRadii(m, d)
			sum := 0
			for _, r := range radii {
				sum += r + 1
			}
			if len(radii) != m || sum <= d {
				t.Errorf("bandRadii(%d, %d) = %v: %d bands, sum(radius+1) = %d, want > %d", m, d, radii, len(radii), sum, d)
			}
		}
	}
	if got, want := bandRadii(5, 8), []int{1, 1, 1, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("bandRadii(5, 8) = %v, want %v", got, want)
	}
	if got, want := bandRadii(4, 2), []int{0, 0, 0, -1}; !slices.Equal(got, want) {
		t.Errorf("bandRadii(4, 2) = %v, want %v", got, want)
	}
}

func TestRadixSortByHash(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	tests := []struct {
		name   string
		hashes []uint64
	}{
		{"empty", nil},
		{"short", []uint64{3, 1, 2, 1}},
		{"random", func() []uint64 {
			out := make([]uint64, 5000)
			for i := range out {
				out[i] = rng.Uint64()
			}
			return out
		}()},
		{"few values, many repeats", func() []uint64 {
			out := make([]uint64, 3000)
			for i := range out {
				out[i] = uint64(rng.IntN(7)) << (8 * uint(rng.IntN(8)))
			}
			return out
		}()},
		{"all equal (every pass skipped)", slices.Repeat([]uint64{0xabcdef}, 1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := make([]hashItem, len(tt.hashes))
			for i, h := range tt.hashes {
				in[i] = hashItem{h, int32(i)}
			}
			want := slices.Clone(in)
			slices.SortStableFunc(want, func(p, q hashItem) int { return cmp.Compare(p.hash, q.hash) })
			if got := radixSortByHash(in); !slices.Equal(got, want) {
				t.Errorf("radix sort differs from a stable sort")
			}
		})
	}
}
