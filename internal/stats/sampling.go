package stats

import (
	"math"
	"math/rand/v2"
)

// pcgStream is the fixed second PCG word; the caller's seed picks the first. Any constant works;
// fixing it keeps results a function of the seed alone.
const pcgStream = 0x6376676174655f31 // "cvgate_1"

// newRand returns the package's deterministic generator for a seed.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, pcgStream))
}

// binomialDist draws exact Bin(n, p) variates by inversion. The outcomes are enumerated outwards
// from the mode (mode, mode-1, mode+1, ...) so that a draw visits about 1.6 standard deviations'
// worth of outcomes on average, a few dozen for n = 10,000, instead of n*p from zero; the pmf at
// the mode is computed once per distribution and neighbours follow by the exact pmf ratio.
// Inversion over any fixed enumeration is exact up to float64 rounding of the pmf.
type binomialDist struct {
	n        int
	flip     bool    // sample Bin(n, 1-p) and return n - x, so that the working p is <= 1/2
	p        float64 // working p in (0, 1/2]
	odds     float64 // p / (1-p)
	fromZero bool    // small n*p: enumerate 0, 1, 2, ... starting from P(X=0)
	mode     int
	fmode    float64 // P(X = mode), or P(X = 0) when fromZero
	trivial  int     // >= 0: the distribution is a point mass there
}

func newBinomialDist(n int, p float64) binomialDist {
	switch {
	case n <= 0 || p <= 0:
		return binomialDist{trivial: 0}
	case p >= 1:
		return binomialDist{trivial: n}
	}
	d := binomialDist{n: n, p: p, trivial: -1}
	if p > 0.5 {
		d.flip, d.p = true, 1-p
	}
	d.odds = d.p / (1 - d.p)
	if float64(n)*d.p < 16 {
		// P(X=0) = (1-p)^n >= exp(-16 * 1.39) here, far from underflow.
		d.fromZero = true
		d.fmode = math.Exp(float64(n) * math.Log1p(-d.p))
		return d
	}
	d.mode = binomialMode(n, d.p)
	d.fmode = math.Exp(binomialLogPMF(d.mode, n, d.p))
	return d
}

func (d *binomialDist) sample(r *rand.Rand) int {
	if d.trivial >= 0 {
		return d.trivial
	}
	var x int
	if d.fromZero {
		x = d.sampleFromZero(r)
	} else {
		x = d.sampleFromMode(r)
	}
	if d.flip {
		return d.n - x
	}
	return x
}

func (d *binomialDist) sampleFromZero(r *rand.Rand) int {
	for {
		u := r.Float64()
		f := d.fmode
		for x := 0; x <= d.n; x++ {
			if u < f {
				return x
			}
			u -= f
			f *= d.odds * float64(d.n-x) / float64(x+1)
			if f == 0 {
				break
			}
		}
		// Rounding left u above the summed mass (probability ~1e-15): draw again.
	}
}

func (d *binomialDist) sampleFromMode(r *rand.Rand) int {
	n, m := d.n, d.mode
	for {
		u := r.Float64() - d.fmode
		if u < 0 {
			return m
		}
		lo, hi := m, m
		flo, fhi := d.fmode, d.fmode
		for flo > 0 || fhi > 0 {
			if lo > 0 && flo > 0 {
				flo *= float64(lo) / (float64(n-lo+1) * d.odds)
				lo--
				if u -= flo; u < 0 {
					return lo
				}
			} else {
				flo = 0
			}
			if hi < n && fhi > 0 {
				fhi *= d.odds * float64(n-hi) / float64(hi+1)
				hi++
				if u -= fhi; u < 0 {
					return hi
				}
			} else {
				fhi = 0
			}
		}
		// Rounding left u above the summed mass (probability ~1e-15): draw again.
	}
}

// binomial draws one Bin(n, p) variate.
func binomial(r *rand.Rand, n int, p float64) int {
	d := newBinomialDist(n, p)
	return d.sample(r)
}

// multinomial draws multinomial count vectors: total items spread over categories with
// probabilities proportional to integer weights. Categories are visited in the given order
// (heaviest first works best) with one conditional binomial each, the conditional probability
// coming from exact integer remainders so that no rounding drift accumulates. Once few items are
// left for many light categories, the rest are placed one by one, each an exact uniform integer
// draw over the remaining weight looked up in a table; that is cheaper than a binomial per nearly
// empty category.
type multinomial struct {
	weights []int
	cum     []int // cum[i] = weights[0] + ... + weights[i-1]; len(weights)+1 entries
	total   int
	// owner[u] is the category whose weight interval [cum[c], cum[c+1]) holds u; nil when the
	// total is too large for a table, and then every category gets a binomial.
	owner []int32
	// switchAt is the first category whose items are placed one by one.
	switchAt int
}

// maxOwnerTable caps the single-item lookup table (4 bytes an item).
const maxOwnerTable = 1 << 22

// itemsPerBinomial is about how many single-item placements cost as much as one binomial draw.
const itemsPerBinomial = 32

func newMultinomial(weights []int) *multinomial {
	m := &multinomial{weights: weights, cum: make([]int, len(weights)+1)}
	for i, w := range weights {
		m.cum[i+1] = m.cum[i] + w
	}
	m.total = m.cum[len(weights)]
	m.switchAt = len(weights)
	if m.total > maxOwnerTable {
		return m
	}
	// Binomials for categories before s and single items after cost about
	// itemsPerBinomial*s + (items expected to remain at s), and the expected remainder at s is its
	// weight suffix total-cum[s]. Pick the cheapest s once; it depends only on the weights.
	best := math.MaxInt
	for s := range len(weights) + 1 {
		if cost := itemsPerBinomial*s + m.total - m.cum[s]; cost < best {
			best, m.switchAt = cost, s
		}
	}
	if m.switchAt < len(weights) {
		m.owner = make([]int32, m.total)
		for c := range weights {
			for u := m.cum[c]; u < m.cum[c+1]; u++ {
				m.owner[u] = int32(c)
			}
		}
	}
	return m
}

// draw fills out (len(weights) entries) with one multinomial draw of m.total items.
func (m *multinomial) draw(r *rand.Rand, out []int) {
	clear(out)
	remaining := m.total
	for i, w := range m.weights {
		if remaining == 0 {
			return
		}
		mass := m.total - m.cum[i] // weight of categories i and later
		if i == m.switchAt {
			for range remaining {
				out[m.owner[m.cum[i]+r.IntN(mass)]]++
			}
			return
		}
		switch {
		case w == 0:
		case w == mass:
			out[i] = remaining
			return
		default:
			x := binomial(r, remaining, float64(w)/float64(mass))
			out[i] = x
			remaining -= x
		}
	}
}
