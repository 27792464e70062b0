package dedup

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// Index holds a set of perceptual hashes for near-duplicate search.
//
// Items with identical hashes are stored once (as one "distinct hash" with a member list), so a
// thousand blank images cost one search, not a thousand. Distinct hashes are then searched by
// multi-index hashing: the 64 bits are split into m disjoint bands, and each band gets a table
// from band value to the hashes holding it. Two hashes within distance d differ in some band by at
// most floor(d/m) bits (if every band differed by more, the total would exceed d), so probing each
// band's table with every value within that many bits of the query's band finds every neighbour:
// the search is exact, with no false negatives. (bandRadii sharpens the radii a little.)
//
// Each query picks m for its distance and the set's size from a cost model (few probes, small
// buckets) and builds those tables, which takes milliseconds; when no m beats comparing with
// every distinct hash, it scans instead. An Index is immutable after NewIndex and safe for
// concurrent use.
type Index struct {
	n           int
	hashes      []uint64 // distinct hashes, ascending
	uniqueOf    []int32  // item -> position in hashes
	memberStart []int32  // members[memberStart[u]:memberStart[u+1]] are the items of hashes[u]
	members     []int32  // ascending within each distinct hash
	fixedBands  int      // tests only: always probe with this many bands; 0 lets each query choose
}

// band is one multi-index table: distinct hashes bucketed by bits [shift, shift+width) of the
// hash, in counting-sort layout (bucket b is entries start[b]:start[b+1]).
type band struct {
	shift, width uint
	start        []int32
	ids          []int32  // distinct-hash positions
	hashes       []uint64 // their hashes, beside the ids so that checking a candidate stays in cache
}

func (b *band) key(h uint64) uint64 { return (h >> b.shift) & (1<<b.width - 1) }

// Pair is two items within the queried distance. In Index.Pairs, A < B index the same set; in
// Index.Cross, A indexes the receiver and B the other set.
type Pair struct {
	A        int `json:"a"`
	B        int `json:"b"`
	Distance int `json:"distance"`
}

// PairResult is a capped list of pairs and how many there are in all.
type PairResult struct {
	// Pairs holds the first pairs in (A, B) order, at most the limit the caller passed.
	Pairs []Pair `json:"pairs"`
	// Total counts every pair that matches, including those beyond the limit.
	Total int64 `json:"total"`
	// Truncated is true when Total > len(Pairs).
	Truncated bool `json:"truncated"`
}

// Neighbor is the nearest item found for a query; ID is -1 when none is within the distance.
type Neighbor struct {
	ID       int `json:"id"`
	Distance int `json:"distance"`
}

// Band count limits: at least 4 bands keep every band within 16 bits (tables of at most 64Ki
// buckets); at most 16 bands keep them at least 4 bits wide.
const (
	minBands = 4
	maxBands = 16
)

// NewIndex indexes hashes; item i of the index is hashes[i]. It takes O(n) time (a radix sort)
// and memory; each query adds O(distinct hashes) for its band tables. Items are counted in int32:
// up to 2^31-1 of them.
func NewIndex(hashes []Hash) *Index {
	return groupIdentical(hashes)
}

// newIndexBands is NewIndex with a fixed band count and no scanning, so that tests reach every
// probing radius.
func newIndexBands(hashes []Hash, bands int) *Index {
	x := groupIdentical(hashes)
	x.fixedBands = max(minBands, min(maxBands, bands))
	return x
}

// groupIdentical sorts the items by hash and lists each distinct hash once with its members.
func groupIdentical(hashes []Hash) *Index {
	n := len(hashes)
	sorted := make([]hashItem, n)
	for i, h := range hashes {
		sorted[i] = hashItem{uint64(h), int32(i)}
	}
	sorted = radixSortByHash(sorted)
	x := &Index{n: n, uniqueOf: make([]int32, n), members: make([]int32, n), memberStart: []int32{0}}
	for i, e := range sorted {
		if i > 0 && e.hash != x.hashes[len(x.hashes)-1] {
			x.memberStart = append(x.memberStart, int32(i))
		}
		if i == 0 || e.hash != x.hashes[len(x.hashes)-1] {
			x.hashes = append(x.hashes, e.hash)
		}
		x.members[i] = e.item
		x.uniqueOf[e.item] = int32(len(x.hashes) - 1)
	}
	x.memberStart = append(x.memberStart, int32(n))
	return x
}

type hashItem struct {
	hash uint64
	item int32
}

// radixSortByHash sorts by hash, keeping equal hashes in their input order (items ascending). A
// least-significant-digit radix sort is linear: at 100,000 hashes it is several times faster than
// a comparison sort. It returns the sorted slice, which may be a new one.
func radixSortByHash(a []hashItem) []hashItem {
	if len(a) < 256 {
		slices.SortStableFunc(a, func(p, q hashItem) int { return cmp.Compare(p.hash, q.hash) })
		return a
	}
	buf := make([]hashItem, len(a))
	for shift := uint(0); shift < 64; shift += 8 {
		var count [257]int
		for _, e := range a {
			count[(e.hash>>shift)&0xff+1]++
		}
		if count[(a[0].hash>>shift)&0xff+1] == len(a) {
			continue // every key has this digit: the pass would not move anything
		}
		for d := 1; d < len(count); d++ {
			count[d] += count[d-1]
		}
		for _, e := range a {
			d := (e.hash >> shift) & 0xff
			buf[count[d]] = e
			count[d]++
		}
		a, buf = buf, a
	}
	return a
}

// bandWidths splits the 64 bits into m bands whose widths differ by at most one.
func bandWidths(m int) []uint {
	widths := make([]uint, m)
	for i := range widths {
		widths[i] = uint(64 / m)
		if i < 64%m {
			widths[i]++
		}
	}
	return widths
}

// buildBands fills m band tables over the distinct hashes by counting sort.
func (x *Index) buildBands(m int) []band {
	bands := make([]band, m)
	shift := uint(0)
	for i, width := range bandWidths(m) {
		b := &bands[i]
		b.shift, b.width = shift, width
		shift += width
		b.start = make([]int32, 1<<width+1)
		for _, h := range x.hashes {
			b.start[b.key(h)+1]++
		}
		for k := 1; k < len(b.start); k++ {
			b.start[k] += b.start[k-1]
		}
		next := slices.Clone(b.start[:len(b.start)-1])
		b.ids = make([]int32, len(x.hashes))
		b.hashes = make([]uint64, len(x.hashes))
		for u, h := range x.hashes {
			k := b.key(h)
			b.ids[next[k]] = int32(u)
			b.hashes[next[k]] = h
			next[k]++
		}
	}
	return bands
}

// probeCost is what one table probe costs relative to checking one candidate: a probe is a
// random memory access, a candidate the next entry of a bucket already in cache.
const probeCost = 4

// bandRadii returns how many bits each of m bands is probed with for distance maxDist. With
// maxDist = m*r + a, the first a+1 bands get r and the others r-1 (-1: not probed at all). A
// hash within maxDist always differs from the query by at most its band's radius in some band:
// otherwise the differences would add up to at least (a+1)(r+1) + (m-a-1)r = maxDist+1.
func bandRadii(m, maxDist int) []int {
	r, a := maxDist/m, maxDist%m
	radii := make([]int, m)
	for i := range radii {
		radii[i] = r
		if i > a {
			radii[i] = r - 1
		}
	}
	return radii
}

// uniformCost estimates the work of one query with m bands at distance maxDist, were the distinct
// hashes spread evenly over the buckets: every probe, plus the candidates in the probed buckets.
func uniformCost(m, maxDist, distinct int) float64 {
	radii := bandRadii(m, maxDist)
	cost := 0.0
	for i, w := range bandWidths(m) {
		probes := 0.0
		for k := 0; k <= radii[i] && k <= int(w); k++ {
			probes += binomial(int(w), k)
		}
		cost += probes * (probeCost + float64(distinct)/float64(uint64(1)<<w))
	}
	return cost
}

// candidateBands returns up to three band counts, cheapest first by uniformCost, that might beat
// a scan of every distinct hash.
func candidateBands(maxDist, distinct int) []int {
	var ms []int
	for m := minBands; m <= maxBands; m++ {
		if uniformCost(m, maxDist, distinct) < float64(distinct) {
			ms = append(ms, m)
		}
	}
	slices.SortStableFunc(ms, func(a, b int) int {
		return cmp.Compare(uniformCost(a, maxDist, distinct), uniformCost(b, maxDist, distinct))
	})
	return ms[:min(len(ms), 3)]
}

// measuredCost is uniformCost on the actual buckets: real hashes are far from uniform (MNIST
// digits crowd a few buckets), and a query drawn from the set lands in a bucket in proportion to
// its size. For each band it adds, over every bucket b and probe mask f, size(b) * size(b^f) /
// distinct: the expected number of candidates a query from the set meets.
func (x *Index) measuredCost(m, maxDist int) float64 {
	radii := bandRadii(m, maxDist)
	distinct := float64(len(x.hashes))
	cost := 0.0
	shift := uint(0)
	for i, w := range bandWidths(m) {
		masks := flipMasks(w, radii[i])
		counts := make([]int32, 1<<w)
		for _, h := range x.hashes {
			counts[(h>>shift)&(1<<w-1)]++
		}
		shift += w
		pairs := 0.0
		for b, c := range counts {
			if c == 0 {
				continue
			}
			for _, f := range masks {
				pairs += float64(c) * float64(counts[uint64(b)^f])
			}
		}
		cost += float64(len(masks))*probeCost + pairs/distinct
	}
	return cost
}

// chooseBands returns the band count with the least measured cost for maxDist, or 0 when scanning
// every distinct hash is cheaper.
func (x *Index) chooseBands(maxDist int) int {
	best, bestCost := 0, float64(len(x.hashes))
	for _, m := range candidateBands(maxDist, len(x.hashes)) {
		if c := x.measuredCost(m, maxDist); c < bestCost {
			best, bestCost = m, c
		}
	}
	return best
}

// Len is the number of items.
func (x *Index) Len() int { return x.n }

// Distinct is the number of distinct hashes.
func (x *Index) Distinct() int { return len(x.hashes) }

// Hash returns item i's hash.
func (x *Index) Hash(i int) Hash { return Hash(x.hashes[x.uniqueOf[i]]) }

func (x *Index) membersOf(u int32) []int32 { return x.members[x.memberStart[u]:x.memberStart[u+1]] }

// neighbor is a distinct hash found by a search.
type neighbor struct {
	unique, dist int32
}

// searcher answers "which distinct hashes lie within maxDist of h" for one index and distance.
type searcher struct {
	x       *Index
	maxDist int
	bands   []band     // none when scanning
	radii   []int      // per band: probe radius (bandRadii)
	flips   [][]uint64 // per band: every XOR mask of at most its radius bits within the band
}

func (x *Index) newSearcher(maxDist int) *searcher {
	s := &searcher{x: x, maxDist: maxDist}
	m := x.fixedBands
	if m == 0 {
		m = x.chooseBands(maxDist)
	}
	if m == 0 {
		return s
	}
	s.bands = x.buildBands(m)
	s.radii = bandRadii(m, maxDist)
	type shape struct {
		width  uint
		radius int
	}
	masks := map[shape][]uint64{}
	s.flips = make([][]uint64, m)
	for i, b := range s.bands {
		k := shape{b.width, s.radii[i]}
		if _, ok := masks[k]; !ok {
			masks[k] = flipMasks(k.width, k.radius)
		}
		s.flips[i] = masks[k]
	}
	return s
}

// find appends to out every distinct hash within maxDist of h, each exactly once, in no
// particular order.
func (s *searcher) find(h uint64, out []neighbor) []neighbor {
	if s.bands == nil {
		for u, v := range s.x.hashes {
			if d := bits.OnesCount64(h ^ v); d <= s.maxDist {
				out = append(out, neighbor{unique: int32(u), dist: int32(d)})
			}
		}
		return out
	}
	for bi := range s.bands {
		b := &s.bands[bi]
		key := b.key(h)
		for _, f := range s.flips[bi] {
			k := key ^ f
			lo, hi := b.start[k], b.start[k+1]
			ids := b.ids[lo:hi]
			for e, v := range b.hashes[lo:hi] {
				diff := h ^ v
				d := bits.OnesCount64(diff)
				if d > s.maxDist || s.foundInEarlierBand(diff, bi) {
					continue
				}
				out = append(out, neighbor{unique: ids[e], dist: int32(d)})
			}
		}
	}
	return out
}

// foundInEarlierBand reports whether a hash differing from the query by diff was already reached
// through a band before bi (it is reached through every band where it differs by at most that
// band's radius); reporting it only from its first such band makes each neighbour appear once
// without a visited set.
func (s *searcher) foundInEarlierBand(diff uint64, bi int) bool {
	for i, b := range s.bands[:bi] {
		if bits.OnesCount64(b.key(diff)) <= s.radii[i] {
			return true
		}
	}
	return false
}

// flipMasks lists every mask of width bits with at most radius bits set, fewest bits first; none
// for a negative radius.
func flipMasks(width uint, radius int) []uint64 {
	if radius < 0 {
		return nil
	}
	masks := []uint64{0}
	frontier := []uint64{0} // masks with exactly k bits, extended only above their top bit
	for k := 1; k <= radius && k <= int(width); k++ {
		var next []uint64
		for _, m := range frontier {
			for bit := uint(bits.Len64(m)); bit < width; bit++ {
				next = append(next, m|1<<bit)
			}
		}
		masks = append(masks, next...)
		frontier = next
	}
	return masks
}

func binomial(n, k int) float64 {
	r := 1.0
	for i := range k {
		r = r * float64(n-i) / float64(i+1)
	}
	return r
}

// normalizeQuery clamps a distance to 0..64 and a limit to >= 0. ok is false for a negative
// distance, which no pair satisfies.
func normalizeQuery(maxDist, limit int) (int, int, bool) {
	return min(maxDist, 64), max(limit, 0), maxDist >= 0
}

// Pairs finds every pair of items (A < B) whose hashes are within maxDist bits, including items
// with identical hashes (distance 0). It returns at most limit pairs, the first in (A, B) order,
// and counts all of them in Total: pass a limit that suits a report, and use Groups for a complete
// grouping. A negative maxDist matches nothing; above 64 it is 64. Time is about one index search
// per item plus the pairs returned; memory is O(n + limit).
func (x *Index) Pairs(maxDist, limit int) PairResult {
	return x.collect(x, maxDist, limit, true)
}

// Cross finds every pair of an item A of x and an item B of other whose hashes are within maxDist
// bits: for train/eval leakage, x would be the eval set. Limits and order are as in Pairs.
func (x *Index) Cross(other *Index, maxDist, limit int) PairResult {
	return x.collect(other, maxDist, limit, false)
}

// collect walks the items of x in order and searches each one's hash in target. With sameSet it
// keeps only partners above A (each unordered pair once).
func (x *Index) collect(target *Index, maxDist, limit int, sameSet bool) PairResult {
	res := PairResult{Pairs: []Pair{}}
	maxDist, limit, ok := normalizeQuery(maxDist, limit)
	if !ok || x.n == 0 || target.n == 0 {
		return res
	}
	s := target.newSearcher(maxDist)
	var found []neighbor
	var batch []Pair
	lastUnique := int32(-1)
	for a := range x.n {
		u := x.uniqueOf[a]
		if u != lastUnique { // items sharing a hash in a row reuse the search
			found = s.find(x.hashes[u], found[:0])
			lastUnique = u
		}
		need := limit - len(res.Pairs)
		batch = batch[:0]
		for _, nb := range found {
			mem := target.membersOf(nb.unique)
			if sameSet {
				i, _ := slices.BinarySearch(mem, int32(a)+1)
				mem = mem[i:]
			}
			res.Total += int64(len(mem))
			// The batch's `need` smallest B are among the `need` smallest of each member list.
			for _, b := range mem[:min(len(mem), need)] {
				batch = append(batch, Pair{A: a, B: int(b), Distance: int(nb.dist)})
			}
		}
		if len(batch) > 0 {
			slices.SortFunc(batch, func(p, q Pair) int { return cmp.Compare(p.B, q.B) })
			res.Pairs = append(res.Pairs, batch[:min(len(batch), need)]...)
		}
	}
	res.Truncated = res.Total > int64(len(res.Pairs))
	return res
}

// Nearest returns, for every item of queries, the closest item of x within maxDist (ties go to
// the smallest ID), or ID -1 when there is none. Its size is queries.Len() whatever the data, so
// it is the bounded way to ask "which eval images have a near-duplicate in train".
func (x *Index) Nearest(queries *Index, maxDist int) []Neighbor {
	out := make([]Neighbor, queries.n)
	for i := range out {
		out[i] = Neighbor{ID: -1}
	}
	maxDist, _, ok := normalizeQuery(maxDist, 0)
	if !ok || x.n == 0 {
		return out
	}
	s := x.newSearcher(maxDist)
	var found []neighbor
	for u, h := range queries.hashes {
		found = s.find(h, found[:0])
		best := Neighbor{ID: -1, Distance: math.MaxInt}
		for _, nb := range found {
			first := int(x.membersOf(nb.unique)[0]) // members ascend: the smallest ID
			if int(nb.dist) < best.Distance || (int(nb.dist) == best.Distance && first < best.ID) {
				best = Neighbor{ID: first, Distance: int(nb.dist)}
			}
		}
		if best.ID < 0 {
			continue
		}
		for _, q := range queries.membersOf(int32(u)) {
			out[q] = best
		}
	}
	return out
}

// Groups returns the near-duplicate groups: items linked by chains of hashes within maxDist
// (single linkage, so a chain A~B~C groups A with C even when they are further apart). Only
// groups of two or more items are listed, each ascending, ordered by their first item. Groups(0)
// gives the groups of identical hashes. Memory stays O(n) however many pairs there are.
func (x *Index) Groups(maxDist int) [][]int {
	maxDist, _, ok := normalizeQuery(maxDist, 0)
	uf := NewUnionFind(len(x.hashes))
	if ok && maxDist > 0 {
		s := x.newSearcher(maxDist)
		var found []neighbor
		for u, h := range x.hashes {
			found = s.find(h, found[:0])
			for _, nb := range found {
				uf.Union(u, int(nb.unique))
			}
		}
	}
	items := NewUnionFind(x.n)
	for a := range x.n {
		// Link each item to its distinct hash's representative item, the first member.
		root := uf.Find(int(x.uniqueOf[a]))
		items.Union(a, int(x.membersOf(int32(root))[0]))
	}
	return items.Groups(2)
}
