package perturb

import "math"

// Fast sampling on top of the Corruptor's PCG stream. Each 64-bit draw is split into two 32-bit
// uniforms, and normal deviates come from a quantile table, so that the noise corruptions spend a
// few nanoseconds per value; inverse-CDF sampling also couples severities: one uniform maps to a
// larger deviation at a larger sigma.

const (
	normalBits  = 12
	normalCells = 1 << normalBits
	normalShift = 32 - normalBits
)

// normalCell[i] holds the standard normal quantile at i/normalCells and its step per sixteenth
// of the cell, for linear interpolation. The end cells are unbounded and sampled exactly by
// normalTail instead. The table is computed once and never written afterwards.
var normalCell = func() (t [normalCells]struct{ base, step float32 }) {
	q := func(i int) float64 { return math.Sqrt2 * math.Erfinv(2*float64(i)/normalCells-1) }
	for i := 1; i < normalCells-1; i++ {
		lo, hi := q(i), q(i+1)
		t[i].base, t[i].step = float32(lo), float32((hi-lo)/16)
	}
	nan := float32(math.NaN()) // marks the end cells for normal16
	t[0].base, t[normalCells-1].base = nan, nan
	return t
}()

// normal16 maps 16 random bits (the low 16 of u) to a standard normal deviate (the low 16 of u): 12 pick the quantile cell and 4
// interpolate in it, a resolution far below one 8-bit level after scaling. The two outermost
// cells draw 20 more bits from the Corruptor's stream for an exact tail. Four deviates per 64-bit
// draw make the noise corruptions about twice as fast.
//
// Hot loops inline the fast path themselves: v := normalFast(u); if v != v { v = c.normalEdge(u) }.
func (c *Corruptor) normal16(u uint64) float32 {
	if v := normalFast(u); v == v {
		return v
	}
	return c.normalEdge(u)
}

// normalFast is normal16 without the end cells, for which it returns NaN.
func normalFast(u uint64) float32 {
	cell := &normalCell[(u>>4)&(normalCells-1)]
	return cell.base + cell.step*float32(u&15)
}

// normalEdge samples the outermost cell that u's bits 4..15 select exactly, with fresh bits
// below the cell index.
func (c *Corruptor) normalEdge(u uint64) float32 {
	i := (u >> 4) & (normalCells - 1)
	return normalTail(uint32(i)<<normalShift | uint32(c.rng.Uint64()>>(64-normalShift)))
}

func normalTail(u uint32) float32 {
	p := (float64(u) + 0.5) / (1 << 32)
	return float32(math.Sqrt2 * math.Erfinv(2*p-1))
}

// unit maps a 32-bit uniform to [0,1).
func unit(u uint32) float32 { return float32(u>>8) * (1.0 / (1 << 24)) }

// uniform returns a float64 in [lo, hi).
func (c *Corruptor) uniform(lo, hi float64) float64 {
	return lo + (hi-lo)*float64(c.rng.Uint64()>>11)*(1.0/(1<<53))
}

// fillNormal writes loc + scale*N(0,1) deviates into dst.
func (c *Corruptor) fillNormal(dst []float32, loc, scale float32) {
	for i := 0; i < len(dst); i += 4 {
		u := c.rng.Uint64()
		for k := i; k < min(i+4, len(dst)); k++ {
			v := normalFast(u)
			if v != v {
				v = c.normalEdge(u)
			}
			dst[k] = loc + scale*v
			u >>= 16
		}
	}
}

// fillUniform writes uniforms in [lo, hi) into dst.
func (c *Corruptor) fillUniform(dst []float32, lo, hi float32) {
	span := hi - lo
	n := len(dst) &^ 1
	for i := 0; i < n; i += 2 {
		u := c.rng.Uint64()
		dst[i] = lo + span*unit(uint32(u))
		dst[i+1] = lo + span*unit(uint32(u>>32))
	}
	if n < len(dst) {
		dst[n] = lo + span*unit(uint32(c.rng.Uint64()))
	}
}
