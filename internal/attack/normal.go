package attack

import (
	"math"
	"math/rand/v2"
)

// HopSkipJump draws d Gaussian deviates per probe (thousands of probes of 784 to 150k values),
// which with rand.NormFloat64 costs about as much as a small model's forward pass. normals draws
// them with its own ziggurat (Marsaglia and Tsang, 2000) over the concrete PCG source, two
// deviates per 64-bit draw: each 32-bit half gives a 7-bit layer index and a 25-bit signed
// abscissa, which is plenty for float32 pixels.

const (
	zigLayers = 128
	zigR      = 3.442619855899      // right edge of the base layer's rectangle
	zigV      = 9.91256303526217e-3 // area of each layer
	zigScale  = 1 << 24             // magnitude of the 25-bit signed abscissa
	zigUnit   = 1.0 / (1 << 53)     // spacing of uniform doubles from 53 random bits
)

// ziggurat holds the layer tables: k[i] is the acceptance bound of layer i in abscissa units,
// w[i] turns an abscissa into a deviate, f[i] is the density at the layer's edge.
type ziggurat struct {
	k [zigLayers]int32
	w [zigLayers]float64
	f [zigLayers]float64
	// w32 is w in float32 for the fast path: abscissas have 25 bits, so float32(j)*w32 loses
	// nothing that a float32 pixel could hold.
	w32 [zigLayers]float32
}

// zig is computed once and only read afterwards.
var zig = newZiggurat()

func newZiggurat() *ziggurat {
	z := &ziggurat{}
	dn, tn := zigR, zigR
	q := zigV / math.Exp(-0.5*dn*dn)
	z.k[0] = int32(dn / q * zigScale)
	z.k[1] = 0
	z.w[0] = q / zigScale
	z.w[zigLayers-1] = dn / zigScale
	z.f[0] = 1
	z.f[zigLayers-1] = math.Exp(-0.5 * dn * dn)
	for i := zigLayers - 2; i >= 1; i-- {
		dn = math.Sqrt(-2 * math.Log(zigV/dn+math.Exp(-0.5*dn*dn)))
		z.k[i+1] = int32(dn / tn * zigScale)
		tn = dn
		z.f[i] = math.Exp(-0.5 * dn * dn)
		z.w[i] = dn / zigScale
	}
	for i, w := range z.w {
		z.w32[i] = float32(w)
	}
	return z
}

// normals fills dst with independent standard normal deviates from src.
func normals(src *rand.PCG, dst []float32) {
	z := zig
	for i := 0; i < len(dst); i += 2 {
		u := src.Uint64()
		// The inner-rectangle case (99%) inline; the rest in deviate.
		lo := uint32(u)
		layer, j := lo&(zigLayers-1), int32(lo)>>7
		if abs32(j) < z.k[layer] {
			dst[i] = float32(j) * z.w32[layer]
		} else {
			dst[i] = float32(z.deviate(src, lo))
		}
		if i+1 == len(dst) {
			break
		}
		hi := uint32(u >> 32)
		layer, j = hi&(zigLayers-1), int32(hi)>>7
		if abs32(j) < z.k[layer] {
			dst[i+1] = float32(j) * z.w32[layer]
		} else {
			dst[i+1] = float32(z.deviate(src, hi))
		}
	}
}

// deviate turns 32 random bits into a normal deviate, drawing more bits from src in the rare
// cases (about 1%) that fall outside a layer's inner rectangle.
func (z *ziggurat) deviate(src *rand.PCG, bits uint32) float64 {
	for {
		layer := bits & (zigLayers - 1)
		j := int32(bits) >> 7 // signed 25-bit abscissa
		x := float64(j) * z.w[layer]
		if abs32(j) < z.k[layer] {
			return x
		}
		if layer == 0 {
			// The tail beyond zigR, by Marsaglia's exponential rejection.
			var t float64
			for {
				t = -math.Log(uniform(src)) / zigR
				if -2*math.Log(uniform(src)) >= t*t {
					break
				}
			}
			if j > 0 {
				return zigR + t
			}
			return -zigR - t
		}
		if z.f[layer]+uniform(src)*(z.f[layer-1]-z.f[layer]) < math.Exp(-0.5*x*x) {
			return x
		}
		bits = uint32(src.Uint64())
	}
}

// uniform is a double in (0,1), never 0, so that its logarithm is finite.
func uniform(src *rand.PCG) float64 { return (float64(src.Uint64()>>11) + 0.5) * zigUnit }

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}
