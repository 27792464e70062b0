package preprocess

import (
	"math"
	"sync"
)

// Filter is a resampling filter.
type Filter string

// The resampling filters. Bilinear and area are antialiased when shrinking (the filter support
// grows with the scale factor), as PIL and torchvision do, so that a downscaled image is what a
// training pipeline using them would have produced.
const (
	Bilinear Filter = "bilinear"
	Nearest  Filter = "nearest"
	Area     Filter = "area"
)

// taps are the precomputed source indices and weights of every output pixel along one axis.
type taps struct {
	start  []int32   // first source index per output pixel
	n      []int32   // number of weights per output pixel
	off    []int32   // offset of its weights in w
	w      []float32 // weights, normalised to sum 1
	srcLen int
}

type tapsKey struct {
	filter         Filter
	src, dst, full int // full: the length the whole source would be resized to
	offset         int // output offset into the resized length (center crop)
}

// tapsCache memoizes taps per geometry; datasets usually have few distinct image sizes.
type tapsCache struct {
	mu sync.Mutex
	m  map[tapsKey]*taps
}

func (c *tapsCache) get(k tapsKey) *taps {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.m[k]; ok {
		return t
	}
	if c.m == nil {
		c.m = map[tapsKey]*taps{}
	}
	t := computeTaps(k)
	if len(c.m) > 256 {
		clear(c.m) // bound memory on datasets with thousands of distinct sizes
	}
	c.m[k] = t
	return t
}

// computeTaps resamples a source axis of length k.src as if it were resized to k.full pixels,
// keeping the k.dst outputs starting at k.offset (so resize-then-crop costs only the kept pixels).
func computeTaps(k tapsKey) *taps {
	t := &taps{srcLen: k.src}
	scale := float64(k.src) / float64(k.full)
	support, kernel := 1.0, triangle
	switch k.filter {
	case Area:
		support, kernel = 0.5, box
	case Nearest:
		support = 0
	}
	fscale := math.Max(scale, 1)
	for i := 0; i < k.dst; i++ {
		center := (float64(i+k.offset) + 0.5) * scale
		if k.filter == Nearest {
			idx := int(math.Floor(center))
			idx = clampInt(idx, 0, k.src-1)
			t.start = append(t.start, int32(idx))
			t.n = append(t.n, 1)
			t.off = append(t.off, int32(len(t.w)))
			t.w = append(t.w, 1)
			continue
		}
		radius := support * fscale
		lo := int(math.Floor(center - radius))
		hi := int(math.Ceil(center + radius))
		lo = max(lo, 0)
		hi = min(hi, k.src)
		if hi <= lo { // far outside: take the nearest edge pixel
			lo = clampInt(int(center), 0, k.src-1)
			hi = lo + 1
		}
		var ws []float64
		sum := 0.0
		for j := lo; j < hi; j++ {
			w := kernel((float64(j) + 0.5 - center) / fscale)
			ws = append(ws, w)
			sum += w
		}
		// Trim zero weights at the ends so inner loops stay short.
		first, last := 0, len(ws)-1
		for first < last && ws[first] == 0 {
			first++
		}
		for last > first && ws[last] == 0 {
			last--
		}
		if sum == 0 {
			ws[first], sum = 1, 1
		}
		t.start = append(t.start, int32(lo+first))
		t.n = append(t.n, int32(last-first+1))
		t.off = append(t.off, int32(len(t.w)))
		for j := first; j <= last; j++ {
			t.w = append(t.w, float32(ws[j]/sum))
		}
	}
	return t
}

func triangle(x float64) float64 {
	x = math.Abs(x)
	if x < 1 {
		return 1 - x
	}
	return 0
}

func box(x float64) float64 {
	if x >= -0.5 && x < 0.5 {
		return 1
	}
	return 0
}

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// resample resizes an interleaved image with c channels from (sw, sh) through the x and y taps
// into dst (interleaved, len(tx.start) x len(ty.start) x c, float32 in source units). tmp is a
// scratch buffer reused across calls.
func resample[T uint8 | float32](src []T, sw, c int, tx, ty *taps, dst []float32, tmp *[]float32) {
	dw, dh := len(tx.start), len(ty.start)
	// Horizontal pass only over the source rows the vertical taps touch.
	rowLo, rowHi := int(ty.start[0]), 0
	for i := range ty.start {
		rowHi = max(rowHi, int(ty.start[i]+ty.n[i]))
		rowLo = min(rowLo, int(ty.start[i]))
	}
	need := (rowHi - rowLo) * dw * c
	if cap(*tmp) < need {
		*tmp = make([]float32, need)
	}
	h := (*tmp)[:need]
	for y := rowLo; y < rowHi; y++ {
		srow := src[y*sw*c : (y+1)*sw*c]
		hrow := h[(y-rowLo)*dw*c : (y-rowLo+1)*dw*c]
		for x := 0; x < dw; x++ {
			s, n, o := int(tx.start[x]), int(tx.n[x]), int(tx.off[x])
			ws := tx.w[o : o+n]
			if c == 1 {
				var acc float32
				for k, w := range ws {
					acc += float32(srow[s+k]) * w
				}
				hrow[x] = acc
				continue
			}
			for ch := 0; ch < c; ch++ {
				var acc float32
				for k, w := range ws {
					acc += float32(srow[(s+k)*c+ch]) * w
				}
				hrow[x*c+ch] = acc
			}
		}
	}
	rowLen := dw * c
	for y := 0; y < dh; y++ {
		s, n, o := int(ty.start[y])-rowLo, int(ty.n[y]), int(ty.off[y])
		ws := ty.w[o : o+n]
		drow := dst[y*rowLen : (y+1)*rowLen]
		first := h[s*rowLen : (s+1)*rowLen]
		w0 := ws[0]
		for i, v := range first {
			drow[i] = v * w0
		}
		for k := 1; k < n; k++ {
			row := h[(s+k)*rowLen : (s+k+1)*rowLen]
			w := ws[k]
			for i, v := range row {
				drow[i] += v * w
			}
		}
	}
}
