package analysis

import (
	"cmp"
	"runtime"
	"slices"
	"sync"

	"github.com/cvgate/cvgate/internal/dedup"
)

// NearOptions configure near-duplicate search.
type NearOptions struct {
	// Distance is the perceptual-hash radius, in bits, within which two images are candidates.
	Distance int
	// MinSimilarity is the thumbnail correlation (Similarity) that confirms a candidate.
	MinSimilarity float64
	// MaxCandidates caps the candidate pairs examined per chunk of queryChunk images, so that a
	// set of thousands of almost blank images cannot take quadratic time and memory; 0 means
	// DefaultMaxCandidates.
	MaxCandidates int
}

// DefaultMaxCandidates is the candidate cap per chunk when NearOptions leaves it zero: about
// 50 MB of pairs. Real sets stay far below it (10,000 MNIST digits, the worst case for hashes,
// give 130,000 candidates in all).
const DefaultMaxCandidates = 2_000_000

// queryChunk is how many images are searched at a time: candidate pairs are confirmed and
// dropped chunk by chunk, so memory does not grow with the number of pairs.
const queryChunk = 4096

// Match is a confirmed near-duplicate: images A and B (indices of the sets searched), their hash
// distance and thumbnail similarity, and whether their pixels are identical.
type Match struct {
	A, B       int
	Distance   int
	Similarity float64
	Exact      bool
}

// Search is what a near-duplicate search examined.
type Search struct {
	// Candidates are the pairs within the hash distance, all of them (even past the cap).
	Candidates int64
	// Truncated is true when only MaxCandidates of them were confirmed or rejected: some
	// near-duplicates may be missing.
	Truncated bool
}

// Groups are the duplicates inside one set.
type Groups struct {
	// Exact lists the groups of images with identical pixels (two or more each).
	Exact [][]int
	// Near lists the groups of images linked by confirmed near-duplicates (single linkage) that
	// hold at least two different pictures; exact copies of their members are included.
	Near [][]int
	// Pairs are the confirmed near-duplicate pairs between different pictures (A < B).
	Pairs []Match
	Search
}

// Duplicates finds the exact and near-duplicates inside f. Exact copies are grouped by pixel
// digest first and searched once, so that a thousand copies of one blank frame cost one search.
func (f *Facts) Duplicates(opts NearOptions) Groups {
	g := Groups{Exact: dedup.ExactGroups(f.Pixels)}
	// One representative (the first member) per distinct picture.
	rep := make([]int, f.Len())
	for i := range rep {
		rep[i] = i
	}
	for _, grp := range g.Exact {
		for _, i := range grp[1:] {
			rep[i] = grp[0]
		}
	}
	var reps []int
	for i, r := range rep {
		if r == i {
			reps = append(reps, i)
		}
	}
	hashes := make([]dedup.Hash, len(reps))
	for j, i := range reps {
		hashes[j] = f.PHash[i]
	}
	g.Pairs = []Match{}
	g.Search = candidates(hashes, dedup.NewIndex(hashes), opts, func(pairs []dedup.Pair) {
		// Each unordered pair comes twice (once from each side) and each image finds itself:
		// keep A < B.
		kept := pairs[:0]
		for _, p := range pairs {
			if p.A < p.B {
				kept = append(kept, dedup.Pair{A: reps[p.A], B: reps[p.B], Distance: p.Distance})
			}
		}
		g.Pairs = append(g.Pairs, confirm(f, f, kept, opts.MinSimilarity)...)
	})
	// Each image found itself, and each pair was found from both sides.
	g.Candidates = (g.Candidates - int64(len(reps))) / 2

	uf := dedup.NewUnionFind(f.Len())
	for i, r := range rep {
		uf.Union(i, r)
	}
	linked := map[int]bool{}
	for _, m := range g.Pairs {
		uf.Union(m.A, m.B)
		linked[m.A] = true
	}
	for _, grp := range uf.Groups(2) {
		if anyLinked(grp, linked) {
			g.Near = append(g.Near, grp)
		}
	}
	return g
}

func anyLinked(grp []int, linked map[int]bool) bool {
	for _, i := range grp {
		if linked[i] {
			return true
		}
	}
	return false
}

// Leaks finds, for each image of f (the evaluation set) that has one, its closest confirmed
// near-duplicate or exact copy in other (the training set): A indexes f, B indexes other. The
// result is ordered by A.
func (f *Facts) Leaks(other *Facts, opts NearOptions) ([]Match, Search) {
	best := map[int]Match{}
	// Exact copies first: they are leaks whatever the hash search finds.
	trainByDigest := make(map[dedup.Digest]int, other.Len())
	for j := other.Len() - 1; j >= 0; j-- {
		trainByDigest[other.Pixels[j]] = j // the smallest index wins
	}
	for i, d := range f.Pixels {
		if j, ok := trainByDigest[d]; ok {
			best[i] = Match{A: i, B: j, Similarity: 1, Exact: true}
		}
	}
	search := candidates(f.PHash, dedup.NewIndex(other.PHash), opts, func(pairs []dedup.Pair) {
		for _, m := range confirm(f, other, pairs, opts.MinSimilarity) {
			if b, ok := best[m.A]; !ok || better(m, b) {
				best[m.A] = m
			}
		}
	})
	out := make([]Match, 0, len(best))
	for _, m := range best {
		out = append(out, m)
	}
	slices.SortFunc(out, func(p, q Match) int { return cmp.Compare(p.A, q.A) })
	return out, search
}

// candidates finds the pairs (query i, target item j) whose hashes are within opts.Distance, a
// chunk of queries at a time, and hands each chunk's pairs (A = query index) to each. The target
// is indexed once; memory holds one chunk's pairs.
func candidates(query []dedup.Hash, target *dedup.Index, opts NearOptions, each func([]dedup.Pair)) Search {
	var s Search
	for lo := 0; lo < len(query); lo += queryChunk {
		hi := min(lo+queryChunk, len(query))
		res := dedup.NewIndex(query[lo:hi]).Cross(target, opts.Distance, opts.maxCandidates())
		s.Candidates += res.Total
		s.Truncated = s.Truncated || res.Truncated
		for k := range res.Pairs {
			res.Pairs[k].A += lo
		}
		each(res.Pairs)
	}
	return s
}

// better prefers exact copies, then higher similarity, then the smaller training index.
func better(m, than Match) bool {
	if m.Exact != than.Exact {
		return m.Exact
	}
	if m.Similarity != than.Similarity {
		return m.Similarity > than.Similarity
	}
	return m.B < than.B
}

func (o NearOptions) maxCandidates() int {
	if o.MaxCandidates <= 0 {
		return DefaultMaxCandidates
	}
	return o.MaxCandidates
}

// confirm keeps the candidate pairs (A in a, B in b) whose thumbnails correlate at least minSim,
// in the order given. The work is split across cores: a correlation costs about a microsecond.
func confirm(a, b *Facts, pairs []dedup.Pair, minSim float64) []Match {
	keep := make([]Match, len(pairs))
	ok := make([]bool, len(pairs))
	workers := min(runtime.NumCPU(), max(1, len(pairs)/4096))
	var wg sync.WaitGroup
	chunk := (len(pairs) + workers - 1) / max(workers, 1)
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(pairs))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := lo; k < hi; k++ {
				p := pairs[k]
				s := Similarity(&a.Thumbs[p.A], &b.Thumbs[p.B])
				if s >= minSim {
					keep[k] = Match{A: p.A, B: p.B, Distance: p.Distance, Similarity: s, Exact: a.Pixels[p.A] == b.Pixels[p.B]}
					ok[k] = true
				}
			}
		}()
	}
	wg.Wait()
	out := []Match{}
	for k, m := range keep {
		if ok[k] {
			out = append(out, m)
		}
	}
	return out
}
