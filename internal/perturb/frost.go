package perturb

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/cvgate/cvgate/internal/imaging"
)

// frostParams: weights of the image and of the frost layer (x*image + frost*layer, clipped).
var frostParams = [Severities]struct{ image, frost float64 }{
	{1, .4}, {.8, .6}, {.7, .7}, {.65, .7}, {.6, .75},
}

// The reference blends in one of five frost photographs (two of which hold the same pixels),
// scaled by 1.1 and cropped at random. cvgate ships no photographs: it grows a procedural ice
// texture per photograph, about as large, and calibrates it to the photograph's statistics as
// the reference's frost() sees it at 224 px: the luma histogram (49 quantiles, dense in the tails), the radial power
// spectrum of the luma (19 half-octave bins) and each colour channel as a linear function of
// luma. The numbers come from `scripts/corruption-fidelity.py frost` (testdata/frost_stats.json
// holds the same values; the tests check the tables and the textures against it).
type frostVariant struct {
	name      string
	weight    int                  // reference draws (of five) that pick this photograph
	size      [2]int               // texture width and height: the photograph's, rounded to small prime factors
	quantiles [frostLevels]float32 // luma at frostLevel(0..48), on the 0..255 scale
	psd       [19]float64          // radial power spectral density of the luma at frostPSDCentres (0: not measured)
	colour    [3][2]float32        // channel k = colour[k][0] + colour[k][1]*luma, clipped
}

// frostPSDCentres are the geometric centres (cycles per pixel) of the spectrum bins, whose edges
// are 2^(k/2)/1024 for k = 0..19.
var frostPSDCentres = [19]float64{0.00116134, 0.00164238, 0.00232267, 0.00328475, 0.00464534, 0.0065695, 0.00929068, 0.013139, 0.0185814, 0.026278, 0.0371627, 0.052556, 0.0743254, 0.105112, 0.148651, 0.210224, 0.297302, 0.420448, 0.594604}

var frostVariants = [...]frostVariant{
	{ // 991x660 at 224 px: blue-green crinkled ice, mostly smooth
		name:      "frost1",
		weight:    1,
		size:      [2]int{768, 512},
		quantiles: [...]float32{80.567, 90.029, 90.773, 91.416, 92.136, 92.809, 93.524, 94.239, 95.008, 95.823, 96.659, 97.638, 98.762, 100.06, 101.59, 103.26, 105.03, 106.98, 109.02, 111.28, 113.75, 116.46, 119.46, 122.67, 126.13, 129.78, 133.56, 137.45, 141.48, 145.56, 149.65, 153.65, 157.44, 160.94, 164.23, 167.26, 170.13, 172.91, 175.43, 177.72, 179.91, 182.04, 184.04, 186.08, 187.87, 189.67, 191.6, 193.55, 224.15},
		psd:       [...]float64{0, 0, 0, 0, 0, 0, 76957, 26491, 11960, 4276.2, 1564.6, 763.97, 507.66, 386.14, 307.05, 234.67, 111.31, 20.831, 3.0663},
		colour:    [3][2]float32{{-103.79, 1.4061}, {37.455, 0.85896}, {79.362, 0.66106}},
	},
	{ // 616x347 at 224 px: dense white needles (frost3 holds the same pixels)
		name:      "frost2",
		weight:    2,
		size:      [2]int{640, 360},
		quantiles: [...]float32{57.271, 108.01, 112.05, 116.18, 120.67, 124.56, 128.86, 132.67, 136.49, 140.65, 144.9, 148.79, 153.19, 157.67, 161.9, 166.13, 170.9, 175.6, 180.06, 184.79, 189.13, 193.77, 197.83, 201.77, 205.13, 208.86, 212.06, 215.06, 217.77, 220.06, 222.34, 224.35, 226.34, 228.06, 229.93, 231.19, 232.83, 234.05, 235.06, 236.06, 237.06, 238.05, 238.94, 239.83, 240.67, 241.62, 242.37, 243.15, 254.06},
		psd:       [...]float64{0, 0, 0, 0, 0, 0, 47400, 26014, 17778, 11027, 7787.4, 5192.6, 2556, 1217.5, 705.34, 364.28, 151.36, 23.06, 2.6442},
		colour:    [3][2]float32{{2.1882, 0.9688}, {-1.2268, 1.0073}, {0.57756, 1.0442}},
	},
	{ // 580x386 at 224 px: grey dendrites on a window
		name:      "frost4",
		weight:    1,
		size:      [2]int{576, 384},
		quantiles: [...]float32{24.221, 54.834, 57.139, 60.092, 63.139, 66.797, 70.698, 74.912, 79.829, 84.034, 89.008, 93.829, 98.215, 103.31, 108.66, 113.7, 118.81, 123.93, 129.01, 133.8, 138.7, 143.7, 148.47, 153.01, 157.7, 161.83, 166.01, 170.04, 174.04, 178.04, 182.04, 186.04, 190.06, 194.25, 198.7, 203.04, 208.04, 213.14, 218.7, 224.06, 229.7, 233.99, 237.95, 241.89, 244.6, 246.97, 248.74, 250.23, 255},
		psd:       [...]float64{0, 0, 0, 0, 0, 0, 33095, 28913, 17647, 13997, 10111, 6805.2, 4099.5, 2897, 1920.9, 1114.5, 481.71, 82.723, 10.345},
		colour:    [3][2]float32{{-10.753, 0.99306}, {3.6649, 0.99549}, {9.3308, 1.0414}},
	},
	{ // 727x545 at 224 px: ferns of ice over dark glass
		name:      "frost5",
		weight:    1,
		size:      [2]int{720, 540},
		quantiles: [...]float32{8.378, 32.079, 33.15, 34.378, 35.78, 36.78, 38.335, 39.78, 41.367, 42.78, 44.78, 46.78, 48.78, 51.78, 54.677, 57.78, 61.78, 66.008, 70.41, 75.709, 81.008, 87.008, 93.008, 99.894, 107.01, 114.38, 122.01, 129.78, 136.89, 144.15, 151.15, 158.38, 165.78, 173.04, 180.04, 186.82, 193.15, 199.34, 205.71, 211.37, 217.04, 222.19, 226.98, 231.3, 235.74, 239.16, 242.49, 245.56, 255},
		psd:       [...]float64{0, 0, 0, 0, 0, 0, 2.0016e+05, 1.6481e+05, 1.0906e+05, 61834, 28983, 14208, 7909, 4018.1, 2080.2, 1067.7, 476.33, 153.49, 48.379},
		colour:    [3][2]float32{{-10.901, 1.0142}, {2.228, 0.99838}, {17.119, 0.97103}},
	},
}

// frostLevels is the number of stored luma quantiles.
const frostLevels = 49

// frostLevel is the probability of stored quantile k: 0, 1, and between them 47 logistic steps
// 1/(1+e^-t), t = -7..7, dense in the tails, where a histogram's variance hides.
func frostLevel(k int) float64 {
	switch k {
	case 0:
		return 0
	case frostLevels - 1:
		return 1
	}
	t := -7 + 14*float64(k-1)/float64(frostLevels-3)
	return 1 / (1 + math.Exp(-t))
}

// frostDraws is the number of equally likely draws the reference makes (randint(5)).
const frostDraws = 5

// frostTextures are built once per process from fixed seeds and shared read-only by every
// Corruptor (about 5 MB of 8-bit RGB and luma). The textures are periodic (synthesized in the
// Fourier domain), so a window anywhere wraps without a seam.
var frostTextures = sync.OnceValue(func() []*frostLayer {
	out := make([]*frostLayer, len(frostVariants))
	var wg sync.WaitGroup
	for i := range frostVariants {
		wg.Go(func() { out[i] = newFrostLayer(&frostVariants[i], frostSeed+uint64(i)) })
	}
	wg.Wait()
	return out
})

// frostSeed is the fixed seed of the textures (arbitrary; changing it changes every frost output).
const frostSeed = 0x6f726f7374

// frostLayer holds one texture as interleaved 8-bit RGB and as 8-bit BT.601 luma.
type frostLayer struct {
	w, h      int
	rgb, gray []uint8
}

// newFrostLayer grows a texture for one variant: branching ice crystals give the pattern, then
// the luma is alternately given the variant's power spectrum (keeping the pattern's Fourier
// phases, which carry its lines and edges) and the variant's histogram (by rank), ending on the
// histogram. Colour follows from luma by the variant's linear fit.
func newFrostLayer(v *frostVariant, seed uint64) *frostLayer {
	w, h := v.size[0], v.size[1]
	n := w * h
	lum := frostPattern(w, h, seed)
	// Target amplitude per frequency: |F|^2 = n * PSD(f) (the unnormalized DFT of a field with
	// that spectral density); the DC term is left to the histogram step.
	power := make([]float64, n)
	var total, low float64
	// The spectrum as a fine table over the radial frequency (0 .. 0.71 cycles per pixel),
	// interpolated linearly: the log-log interpolation per frequency would cost more than the
	// FFTs.
	const steps = 4096
	lut := make([]float64, steps+2)
	for i := range lut {
		lut[i] = v.interpPSD(max(float64(i), 0.5) * (math.Sqrt2 / 2 / steps))
	}
	for y := range h {
		for x := range w {
			if f := math.Hypot(freqOf(y, h), freqOf(x, w)); f > 0 {
				t := f / (math.Sqrt2 / 2 / steps)
				i := int(t)
				p := lut[i] + (t-float64(i))*(lut[i+1]-lut[i])
				power[y*w+x] = p
				total += p
				if f < frostLowFreq {
					low += p
				}
			}
		}
	}
	// A photograph is not stationary: lit and shaded regions give its histogram more variance
	// than its (windowed) spectrum holds. That excess is variation between regions, so it goes
	// to the frequencies below frostLowFreq, where 224 px crops see it as differing means.
	if excess := v.variance()*float64(n) - total; excess > 0 && low > 0 {
		boost := 1 + excess/low
		for y := range h {
			for x := range w {
				if f := math.Hypot(freqOf(y, h), freqOf(x, w)); f > 0 && f < frostLowFreq {
					power[y*w+x] *= boost
				}
			}
		}
	}
	amp := power
	for i, p := range power {
		amp[i] = math.Sqrt(float64(n) * p)
	}
	for range 2 {
		z := realFFT2(lum, w, h)
		for i, c := range z {
			if a := cmplx.Abs(c); a > 0 {
				z[i] = c * complex(amp[i]/a, 0)
			} else {
				z[i] = 0
			}
		}
		realIFFT2(lum, z, w, h)
		v.matchHistogram(lum)
	}
	l := &frostLayer{w: w, h: h, rgb: make([]uint8, 3*n), gray: make([]uint8, n)}
	for i, y := range lum {
		var rgb [3]float32
		for k := range 3 {
			rgb[k] = min(max(v.colour[k][0]+v.colour[k][1]*float32(y), 0), 255)
			l.rgb[3*i+k] = byteRound(rgb[k])
		}
		l.gray[i] = byteRound(lumaR*rgb[0] + lumaG*rgb[1] + lumaB*rgb[2])
	}
	return l
}

// frostLowFreq (cycles per pixel) bounds the frequencies that vary from one 224 px crop to the
// next rather than within one.
const frostLowFreq = 1.0 / 224

// variance is the luma variance of the stored histogram (piecewise linear quantile function).
func (v *frostVariant) variance() float64 {
	var m, m2 float64
	for k := range frostLevels - 1 {
		dp := frostLevel(k+1) - frostLevel(k)
		a, b := float64(v.quantiles[k]), float64(v.quantiles[k+1])
		m += dp * (a + b) / 2
		m2 += dp * (a*a + a*b + b*b) / 3
	}
	return m2 - m*m
}

// freqOf is the signed DFT frequency of index i of n, in cycles per sample.
func freqOf(i, n int) float64 {
	if i <= (n-1)/2 {
		return float64(i) / float64(n)
	}
	return float64(i-n) / float64(n)
}

// interpPSD interpolates the spectrum linearly in log-log between the measured bin centres, flat
// beyond the measured ends.
func (v *frostVariant) interpPSD(f float64) float64 {
	lo, hi := -1, -1 // nearest measured bins below and above f
	for i, c := range frostPSDCentres {
		if v.psd[i] == 0 {
			continue
		}
		if c <= f {
			lo = i
		} else if hi < 0 {
			hi = i
		}
	}
	switch {
	case lo < 0:
		return v.psd[hi]
	case hi < 0:
		return v.psd[lo]
	}
	c0, c1 := frostPSDCentres[lo], frostPSDCentres[hi]
	t := math.Log(f/c0) / math.Log(c1/c0)
	return math.Exp((1-t)*math.Log(v.psd[lo]) + t*math.Log(v.psd[hi]))
}

// histogramBins is the resolution of matchHistogram's ranking: values closer than range/2^16
// share a rank, far below one 8-bit level of the result.
const histogramBins = 1 << 16

// matchHistogram replaces each value by the variant's luma quantile at its rank (linear between
// the stored quantiles), so the plane gets the photograph's histogram and keeps its order. Ranks
// come from a fine histogram instead of a sort: linear time.
func (v *frostVariant) matchHistogram(lum []float64) {
	lo, hi := slices.Min(lum), slices.Max(lum)
	if hi <= lo {
		hi = lo + 1
	}
	scale := (histogramBins - 1) / (hi - lo)
	counts := make([]int, histogramBins)
	for _, l := range lum {
		counts[int((l-lo)*scale)]++
	}
	var levels [frostLevels]float64
	for k := range levels {
		levels[k] = frostLevel(k)
	}
	// Each bin's value is the quantile at the mid-rank of its members.
	values := make([]float64, histogramBins)
	last := max(float64(len(lum)-1), 1)
	below, k := 0, 0
	for b, c := range counts {
		if c > 0 {
			p := (float64(below) + float64(c-1)/2) / last
			for k < frostLevels-2 && levels[k+1] <= p {
				k++
			}
			t := (p - levels[k]) / (levels[k+1] - levels[k])
			values[b] = (1-t)*float64(v.quantiles[k]) + t*float64(v.quantiles[k+1])
		}
		below += c
	}
	for i, l := range lum {
		lum[i] = values[int((l-lo)*scale)]
	}
}

// frostPattern draws the ice: fronds that wander, fork at 60 degrees and fade, plus isolated
// sparkles, sharpened and glowing. Values are arbitrary (the calibration sets spectrum and
// histogram); the pattern wraps around.
func frostPattern(w, h int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0x74))
	work := &Corruptor{}
	ice := make([]float32, w*h)
	fw, fh := float64(w), float64(h)
	wrap := func(v, n float64) float64 {
		for v < 0 {
			v += n
		}
		for v >= n {
			v -= n
		}
		return v
	}
	deposit := func(x, y, v float64) {
		x, y = wrap(x, fw), wrap(y, fh)
		x0, y0 := math.Floor(x), math.Floor(y)
		fx, fy := float32(x-x0), float32(y-y0)
		ix, iy := int(x0), int(y0)
		for dy := range 2 {
			for dx := range 2 {
				px, py := (ix+dx)%w, (iy+dy)%h
				wx, wy := 1-fx, 1-fy
				if dx == 1 {
					wx = fx
				}
				if dy == 1 {
					wy = fy
				}
				ice[py*w+px] += float32(v) * wx * wy
			}
		}
	}
	var grow func(x, y, angle, length, strength float64, depth int)
	grow = func(x, y, angle, length, strength float64, depth int) {
		nextBranch := 2 + rng.Float64()*5
		side := 1.0
		for t := 0.0; t < length; t += 0.7 {
			deposit(x, y, strength*(1-0.6*t/length))
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
	side := math.Sqrt(fw * fh)
	for range w * h / 1800 {
		grow(rng.Float64()*fw, rng.Float64()*fh, rng.Float64()*2*math.Pi, side*(0.08+0.22*rng.Float64()), 0.5+0.5*rng.Float64(), 0)
	}
	for range w * h / 60 {
		deposit(rng.Float64()*fw, rng.Float64()*fh, 0.3+0.5*rng.Float64())
	}
	for i, v := range ice {
		ice[i] = float32(1 - math.Exp(-1.6*float64(v)))
	}
	glow := append([]float32(nil), ice...)
	work.gaussianBlur(glow, w, h, 1, 3)
	sharp := append([]float32(nil), ice...)
	work.gaussianBlur(sharp, w, h, 1, 0.6)
	out := make([]float64, w*h)
	for i := range out {
		out[i] = float64(0.85*sharp[i] + 0.6*glow[i])
	}
	return out
}

func (c *Corruptor) frostSeverity(dst, src *imaging.Image, sev int) {
	p := frostParams[sev]
	c.frost(dst, src, p.image, p.frost)
}

// frost blends the image with a window of one frost texture: the variant drawn as the reference
// draws its photographs, a random position and one of four mirrorings, the window covering the
// image at the texture's 224 px scale, so that a 28 px image sees the texture shrunk like
// everything else. Windows wider than the texture wrap around it.
func (c *Corruptor) frost(dst, src *imaging.Image, imageWeight, frostWeight float64) {
	draw := int(c.uniform(0, frostDraws))
	vi := 0
	for draw >= frostVariants[vi].weight {
		draw -= frostVariants[vi].weight
		vi++
	}
	tex := frostTextures()[vi]
	w, h, ch := src.Width, src.Height, src.Channels
	s := sizeScale(w, h)
	offX := int(c.uniform(0, float64(tex.w)))
	offY := int(c.uniform(0, float64(tex.h)))
	mirror := c.rng.Uint64()
	plane, tch := tex.rgb, 3
	if ch == 1 {
		plane, tch = tex.gray, 1
	}
	xs := c.windowAxis(0, w, offX, s, tex.w, mirror&1 != 0)
	ys := c.windowAxis(1, h, offY, s, tex.h, mirror&2 != 0)
	iw, fw := float32(imageWeight), float32(frostWeight)
	if s == 1 { // one texture pixel per image pixel (224 px short side): plain indexing
		for y := range h {
			trow := plane[ys[y][0].i*tex.w*tch:]
			for x := range w {
				o, t := (y*w+x)*ch, xs[x][0].i*tch
				for k := range ch {
					dst.Pix[o+k] = unitByte(iw*imaging.ByteToUnit(src.Pix[o+k]) + fw*imaging.ByteToUnit(trow[t+k]))
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
						v += sy.w * sx.w * imaging.ByteToUnit(plane[(sy.i*tex.w+sx.i)*tch+k])
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
// axis a (0 for x, 1 for y); indices wrap around the periodic texture, and flip reverses the
// window. The taps live in the Corruptor and stay valid until the next call for the same axis.
func (c *Corruptor) windowAxis(a, n, off int, s float64, size int, flip bool) [][]tap {
	if c.windowTaps[a] == nil || cap(c.windowTaps[a]) < n {
		c.windowTaps[a] = make([][]tap, n)
	}
	out := c.windowTaps[a][:n]
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
			taps = append(taps, tap{((off+p)%size + size) % size, float32(ov * s)})
		}
		out[i] = taps
	}
	return out
}
