package perturb

import (
	"math"
	"math/rand/v2"
	"sync"

	"github.com/cvgate/cvgate/internal/imaging"
)

// frostParams: weights of the image and of the frost layer (x*image + frost*layer, clipped).
var frostParams = [Severities]struct{ image, frost float64 }{
	{1, .4}, {.8, .6}, {.7, .7}, {.65, .7}, {.6, .75},
}

// frostSize is the side of the procedural frost texture, in pixels at 224 px scale. The reference
// crops 224 px windows at random from photographs of frost several hundred pixels wide; the
// texture is likewise larger than the window so that the crop position varies.
const frostSize = 384

// frostTexture is the procedural stand-in for the reference's six frost photographs: feathery,
// branching ice crystals (dendrites with side branches at 60 degrees, as ice grows) over a faint
// plasma haze, tinted white-blue. It depends on nothing but fixed seeds, so it is built once per
// process and shared read-only by every Corruptor.
var frostTexture = sync.OnceValue(func() *frostLayer { return newFrostLayer(frostSize, frostSeed1, frostSeed2) })

// Fixed seeds of the frost texture (arbitrary; changing them changes every frost output).
const frostSeed1, frostSeed2 = 0x6f726f73, 0x74

// frostLayer holds the texture as interleaved RGB and as BT.601 luma, values in [0,1].
type frostLayer struct {
	size      int
	rgb, gray []float32
}

func newFrostLayer(size int, seed1, seed2 uint64) *frostLayer {
	rng := rand.New(rand.NewPCG(seed1, seed2))
	work := &Corruptor{}
	work.rng.Seed(seed1^0x9e3779b97f4a7c15, seed2)

	ice := make([]float32, size*size)
	deposit := func(x, y, v float64) {
		x0, y0 := math.Floor(x), math.Floor(y)
		fx, fy := float32(x-x0), float32(y-y0)
		ix, iy := int(x0), int(y0)
		for dy := range 2 {
			for dx := range 2 {
				px, py := (ix+dx)%size, (iy+dy)%size // the texture wraps around
				wx, wy := 1-fx, 1-fy
				if dx == 1 {
					wx = fx
				}
				if dy == 1 {
					wy = fy
				}
				ice[py*size+px] += float32(v) * wx * wy
			}
		}
	}
	var grow func(x, y, angle, length, strength float64, depth int)
	grow = func(x, y, angle, length, strength float64, depth int) {
		nextBranch := 2 + rng.Float64()*5
		side := 1.0
		for t := 0.0; t < length; t += 0.7 {
			fade := 1 - 0.6*t/length
			deposit(math.Mod(x+float64(size), float64(size)), math.Mod(y+float64(size), float64(size)), strength*fade)
			angle += rng.NormFloat64() * 0.05
			x += 0.7 * math.Cos(angle)
			y += 0.7 * math.Sin(angle)
			if depth < 3 && t >= nextBranch {
				rest := length - t
				grow(x, y, angle+side*math.Pi/3, rest*(0.25+0.3*rng.Float64()), strength*0.8, depth+1)
				side = -side
				nextBranch = t + 2 + rng.Float64()*(6-float64(depth))
			}
		}
	}
	fronds := size * size / 1800
	for range fronds {
		grow(rng.Float64()*float64(size), rng.Float64()*float64(size), rng.Float64()*2*math.Pi,
			float64(size)*(0.08+0.22*rng.Float64()), 0.5+0.5*rng.Float64(), 0)
	}
	// Small sparkles: isolated crystals.
	for range size * size / 60 {
		deposit(rng.Float64()*float64(size-1), rng.Float64()*float64(size-1), 0.3+0.5*rng.Float64())
	}
	for i, v := range ice {
		ice[i] = float32(1 - math.Exp(-1.6*float64(v)))
	}
	glow := append([]float32(nil), ice...)
	work.gaussianBlur(glow, size, size, 1, 3)
	sharp := append([]float32(nil), ice...)
	work.gaussianBlur(sharp, size, size, 1, 0.6)
	haze := make([]float32, size*size)
	work.plasmaFractal(haze, size, 1.8)

	l := &frostLayer{size: size, rgb: make([]float32, 3*size*size), gray: make([]float32, size*size)}
	for i := range ice {
		f := min(0.1+0.25*haze[i]+0.85*sharp[i]+0.6*glow[i], 1)
		r, g, b := 0.84*f, 0.93*f, min(f+0.03, 1)
		l.rgb[3*i], l.rgb[3*i+1], l.rgb[3*i+2] = r, g, b
		l.gray[i] = lumaR*r + lumaG*g + lumaB*b
	}
	return l
}

func (c *Corruptor) frostSeverity(dst, src *imaging.Image, sev int) {
	p := frostParams[sev]
	c.frost(dst, src, p.image, p.frost)
}

// frost blends the image with a window of the frost texture: a random position and one of four
// mirrorings (the reference picks one of six photographs), the window covering the image at the
// texture's 224 px scale, so that a 28 px image sees the texture shrunk like everything else.
// Windows wider than the texture mirror it.
func (c *Corruptor) frost(dst, src *imaging.Image, imageWeight, frostWeight float64) {
	tex := frostTexture()
	w, h, ch := src.Width, src.Height, src.Channels
	s := sizeScale(w, h)
	winW, winH := float64(w)/s, float64(h)/s
	offX := int(c.uniform(0, max(float64(tex.size)-winW, 0)+1))
	offY := int(c.uniform(0, max(float64(tex.size)-winH, 0)+1))
	mirror := c.rng.Uint64()
	plane, tch := tex.rgb, 3
	if ch == 1 {
		plane, tch = tex.gray, 1
	}
	xs := c.windowAxis(0, w, offX, s, tex.size, mirror&1 != 0)
	ys := c.windowAxis(1, h, offY, s, tex.size, mirror&2 != 0)
	iw, fw := float32(imageWeight), float32(frostWeight)
	if s == 1 { // one texture pixel per image pixel (224 px short side): plain indexing
		for y := range h {
			trow := plane[ys[y][0].i*tex.size*tch:]
			for x := range w {
				o, t := (y*w+x)*ch, xs[x][0].i*tch
				for k := range ch {
					dst.Pix[o+k] = unitByte(iw*imaging.ByteToUnit(src.Pix[o+k]) + fw*trow[t+k])
				}
			}
		}
		return
	}
	for y := range h {
		for x := range w {
			o := (y*w + x) * ch
			for k := range ch {
				var v float32
				for _, sy := range ys[y] {
					for _, sx := range xs[x] {
						v += sy.w * sx.w * plane[(sy.i*tex.size+sx.i)*tch+k]
					}
				}
				dst.Pix[o+k] = unitByte(iw*imaging.ByteToUnit(src.Pix[o+k]) + fw*v)
			}
		}
	}
}

// tap is one source index and weight of an area resampling.
type tap struct {
	i int
	w float32
}

// windowAxis maps n output pixels onto texture pixels off + [i/s, (i+1)/s) with area weights, for
// axis a (0 for x, 1 for y); indices beyond the texture mirror, and flip reverses the window.
// The taps live in the Corruptor and stay valid until the next call for the same axis.
func (c *Corruptor) windowAxis(a, n, off int, s float64, size int, flip bool) [][]tap {
	if c.frostTaps[a] == nil || cap(c.frostTaps[a]) < n {
		c.frostTaps[a] = make([][]tap, n)
	}
	out := c.frostTaps[a][:n]
	for i := range n {
		lo, hi := float64(i)/s, float64(i+1)/s
		if flip {
			lo, hi = float64(n-1-i)/s, float64(n-i)/s
		}
		taps := out[i][:0]
		for p := int(math.Floor(lo)); float64(p) < hi; p++ {
			ov := math.Min(hi, float64(p+1)) - math.Max(lo, float64(p))
			if ov <= 1e-9 {
				continue
			}
			taps = append(taps, tap{reflect101(off+p, size), float32(ov * s)})
		}
		out[i] = taps
	}
	return out
}
