package perturb

import (
	"math"

	"github.com/cvgate/cvgate/internal/imaging"
)

// Reference parameters of the noise corruptions (values in [0,1] units).
var (
	gaussianNoiseSigma = [Severities]float64{.08, .12, .18, .26, .38}
	shotNoiseRate      = [Severities]float64{60, 25, 12, 5, 3}
	impulseNoiseAmount = [Severities]float64{.03, .06, .09, .17, .27}
	speckleNoiseSigma  = [Severities]float64{.15, .2, .35, .45, .6}
)

func (c *Corruptor) gaussianNoiseSeverity(dst, src *imaging.Image, sev int) {
	c.gaussianNoise(dst.Pix, src.Pix, gaussianNoiseSigma[sev])
}

func (c *Corruptor) speckleNoiseSeverity(dst, src *imaging.Image, sev int) {
	c.speckleNoise(dst.Pix, src.Pix, speckleNoiseSigma[sev])
}

func (c *Corruptor) shotNoiseSeverity(dst, src *imaging.Image, sev int) {
	c.shotNoise(dst.Pix, src.Pix, shotNoiseRate[sev])
}

func (c *Corruptor) impulseNoiseSeverity(dst, src *imaging.Image, sev int) {
	c.impulseNoise(dst.Pix, src.Pix, impulseNoiseAmount[sev])
}

// gaussianNoise adds N(0, sigma) to every value, independently per channel (x + n, clipped).
// Working on the 0..255 scale directly keeps it exact while skipping float conversions.
func (c *Corruptor) gaussianNoise(dst, src []uint8, sigma float64) {
	s := float32(sigma * 255)
	dst = dst[:len(src)]
	n := len(src) &^ 3
	for i := 0; i < n; i += 4 {
		u := c.rng.Uint64()
		in, out := src[i:i+4:i+4], dst[i:i+4:i+4]
		for k := range 4 {
			v := normalFast(u)
			if v != v {
				v = c.normalEdge(u)
			}
			out[k] = byteRound(float32(in[k]) + s*v)
			u >>= 16
		}
	}
	for i := n; i < len(src); i++ {
		dst[i] = byteRound(float32(src[i]) + s*c.normal16(c.rng.Uint64()))
	}
}

// speckleNoise is multiplicative Gaussian noise: x + x*n with n ~ N(0, sigma), clipped.
func (c *Corruptor) speckleNoise(dst, src []uint8, sigma float64) {
	s := float32(sigma)
	dst = dst[:len(src)]
	n := len(src) &^ 3
	for i := 0; i < n; i += 4 {
		u := c.rng.Uint64()
		in, out := src[i:i+4:i+4], dst[i:i+4:i+4]
		for k := range 4 {
			d := normalFast(u)
			if d != d {
				d = c.normalEdge(u)
			}
			v := float32(in[k])
			out[k] = byteRound(v + v*s*d)
			u >>= 16
		}
	}
	for i := n; i < len(src); i++ {
		v := float32(src[i])
		dst[i] = byteRound(v + v*s*c.normal16(c.rng.Uint64()))
	}
}

// impulseNoise is salt-and-pepper noise: each value independently becomes 0 or 255 (equally
// likely) with probability amount, like scikit-image's random_noise(mode="s&p").
func (c *Corruptor) impulseNoise(dst, src []uint8, amount float64) {
	flip := uint32(min(amount, 1) * math.MaxUint32)
	pepper := flip / 2
	dst = dst[:len(src)]
	pick := func(v uint8, u uint32) uint8 {
		switch {
		case u < pepper:
			return 0
		case u < flip:
			return 255
		}
		return v
	}
	n := len(src) &^ 1
	for i := 0; i < n; i += 2 {
		u := c.rng.Uint64()
		dst[i] = pick(src[i], uint32(u))
		dst[i+1] = pick(src[i+1], uint32(u>>32))
	}
	if n < len(src) {
		dst[n] = pick(src[n], uint32(c.rng.Uint64()))
	}
}

// shotTable holds, for every input byte v, the exact distribution of the output byte of
// Poisson(v/255*rate)/rate clipped to [0,1], as cumulative 32-bit thresholds. Output counts k >= rate
// all clip to white, so each distribution has only ceil(rate)+1 categories.
type shotTable struct {
	cats  int                   // categories per input value
	cdf   []uint32              // 256*cats thresholds: P(K <= k) * 2^32, the last is MaxUint32
	out   []uint8               // 256*cats output bytes
	guide [256][shotGuide]uint8 // first category whose threshold exceeds the bucket start
}

const (
	shotGuide      = 64
	shotGuideShift = 26 // 32 - log2(shotGuide)
)

func newShotTable(rate float64) *shotTable {
	cats := int(math.Ceil(rate)) + 1
	t := &shotTable{cats: cats, cdf: make([]uint32, 256*cats), out: make([]uint8, 256*cats)}
	for v := range 256 {
		lambda := float64(v) / 255 * rate
		p := math.Exp(-lambda)
		cum := 0.0
		row := t.cdf[v*cats : (v+1)*cats]
		for k := range cats {
			t.out[v*cats+k] = imaging.UnitToByte(float32(min(float64(k)/rate, 1)))
			if k == cats-1 {
				row[k] = math.MaxUint32
				break
			}
			cum += p
			p *= lambda / float64(k+1)
			row[k] = uint32(min(cum, 1) * math.MaxUint32)
		}
		k := 0
		for g := range shotGuide {
			start := uint32(g) << shotGuideShift
			for row[k] <= start && k < cats-1 {
				k++
			}
			t.guide[v][g] = uint8(k)
		}
	}
	return t
}

// sample returns the output byte for input v and uniform u.
func (t *shotTable) sample(v uint8, u uint32) uint8 {
	base := int(v) * t.cats
	k := int(t.guide[v][u>>shotGuideShift])
	row := t.cdf[base : base+t.cats]
	for k < len(row)-1 && row[k] <= u {
		k++
	}
	return t.out[base+k]
}

// shotNoise is Poisson (photon) noise: Poisson(x*rate)/rate, sampled exactly from per-byte
// distribution tables cached in the Corruptor.
func (c *Corruptor) shotNoise(dst, src []uint8, rate float64) {
	if c.shot == nil {
		c.shot = map[float64]*shotTable{}
	}
	t := c.shot[rate]
	if t == nil {
		t = newShotTable(rate)
		c.shot[rate] = t
	}
	dst = dst[:len(src)]
	n := len(src) &^ 1
	for i := 0; i < n; i += 2 {
		u := c.rng.Uint64()
		dst[i] = t.sample(src[i], uint32(u))
		dst[i+1] = t.sample(src[i+1], uint32(u>>32))
	}
	if n < len(src) {
		dst[n] = t.sample(src[n], uint32(c.rng.Uint64()))
	}
}
