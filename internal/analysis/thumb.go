package analysis

import (
	"math"

	"github.com/cvgate/cvgate/internal/imaging"
)

// ThumbSide is the side of the luma thumbnail kept per image to confirm near-duplicates.
//
// A perceptual hash alone cannot tell a copy from a look-alike on small, uniform images: on
// MNIST, 6% of the test digits have a training digit with the very same 64-bit pHash and 63% one
// within 4 bits, although the two sets share no image. Candidates found by hash are therefore
// confirmed by correlating thumbnails. At 32x32 (1 KiB per image) the correlation of a copy that
// was re-encoded as JPEG (quality 75), brightened by 0.2 or gamma-corrected stays at 0.994 or
// more on MNIST, while only 0.1% of the test digits have a training digit above 0.99 (and none
// above 0.995) among all 60,000; at 16x16 look-alikes reach 0.997.
const ThumbSide = 32

// Thumb is a ThumbSide x ThumbSide luma thumbnail with the sums Similarity needs.
type Thumb struct {
	Pix        [ThumbSide * ThumbSide]uint8
	sum, sumSq int64
}

// MakeThumb averages img's luma (ITU-R BT.601) over a ThumbSide x ThumbSide grid by exact area
// weights, for any size and aspect ratio: each source pixel adds to the cells it overlaps, in
// proportion to the overlap. Sums are integers (luma times 1000, overlaps in units of
// 1/(n*ThumbSide) of an axis of n pixels) until the final rounding.
func MakeThumb(img *imaging.Image) Thumb {
	const s = ThumbSide
	w, h, c := img.Width, img.Height, img.Channels
	xs, ys := newSpans(w), newSpans(h)
	luma := make([]uint64, w)
	var acc [s * s]uint64
	var cells [s]uint64
	for y := 0; y < h; y++ {
		row := img.Pix[y*w*c : (y+1)*w*c]
		if c == 3 {
			for x := range luma {
				p := row[3*x : 3*x+3 : 3*x+3]
				luma[x] = 299*uint64(p[0]) + 587*uint64(p[1]) + 114*uint64(p[2])
			}
		} else {
			for x := range luma {
				luma[x] = 1000 * uint64(row[x])
			}
		}
		// Each cell gathers the pixels it overlaps, summing in a register.
		for j := range cells {
			var sum uint64
			first := int(xs.first[j])
			for k, wt := range xs.weight[xs.off[j]:xs.off[j+1]] {
				sum += luma[first+k] * uint64(wt)
			}
			cells[j] = sum
		}
		// A row overlaps one or a few cell rows.
		for k := ys.rowOff[y]; k < ys.rowOff[y+1]; k++ {
			e := ys.rowSpans[k]
			dst := (*[s]uint64)(acc[int(e.cell)*s:])
			wt := uint64(e.weight)
			for j, v := range cells {
				dst[j] += v * wt
			}
		}
	}
	// acc holds s^2 * 1000 * (sum of luma x covered area) per cell, and a cell covers w*h/s^2
	// source pixels: the mean luma is acc / (1000 w h).
	var t Thumb
	inv := 1 / (1000 * float64(w) * float64(h))
	for i, v := range acc {
		p := uint8(min(255, uint64(float64(v)*inv+0.5))) // exact: v < 2^53 for any real image
		t.Pix[i] = p
		t.sum += int64(p)
		t.sumSq += int64(p) * int64(p)
	}
	return t
}

// spans relates the n source pixels of an axis to the ThumbSide cells. Pixel x covers
// [x*s, (x+1)*s) and cell j covers [j*n, (j+1)*n), in units of 1/(n*s) of the axis; an overlap is
// measured in those units. By cell (for gathering a row): cell j overlaps pixels first[j], ...
// with weights weight[off[j]:off[j+1]]. By pixel (for scattering rows): row y overlaps the cells
// rowSpans[rowOff[y]:rowOff[y+1]].
type spans struct {
	first, off []int32
	weight     []uint32
	rowOff     []int32
	rowSpans   []cellWeight
}

type cellWeight struct {
	cell   int32
	weight uint32
}

func newSpans(n int) spans {
	const s = ThumbSide
	sp := spans{first: make([]int32, s), off: make([]int32, s+1), weight: make([]uint32, 0, n+s), rowOff: make([]int32, n+1), rowSpans: make([]cellWeight, 0, n+s)}
	for j := 0; j < s; j++ {
		lo, hi := j*n, (j+1)*n
		sp.first[j] = int32(lo / s)
		for x := lo / s; x < n && x*s < hi; x++ {
			if a, b := max(lo, x*s), min(hi, (x+1)*s); b > a {
				sp.weight = append(sp.weight, uint32(b-a))
			}
		}
		sp.off[j+1] = int32(len(sp.weight))
	}
	for x := 0; x < n; x++ {
		lo, hi := x*s, (x+1)*s
		for j := lo / n; j < s && j*n < hi; j++ {
			if a, b := max(lo, j*n), min(hi, (j+1)*n); b > a {
				sp.rowSpans = append(sp.rowSpans, cellWeight{cell: int32(j), weight: uint32(b - a)})
			}
		}
		sp.rowOff[x+1] = int32(len(sp.rowSpans))
	}
	return sp
}

// Similarity is the Pearson correlation of two thumbnails, in [-1, 1]: 1 for the same picture up
// to brightness and contrast. It ignores a uniform change of brightness or contrast, as the
// perceptual hash does. A constant thumbnail (a blank image) has no pattern to correlate: two
// equal ones count as identical (1), anything else as unrelated (0).
func Similarity(a, b *Thumb) float64 {
	const n = ThumbSide * ThumbSide
	va := n*a.sumSq - a.sum*a.sum // n^2 times the variance, exact in integers
	vb := n*b.sumSq - b.sum*b.sum
	if va == 0 || vb == 0 {
		if va == 0 && vb == 0 && a.sum == b.sum {
			return 1
		}
		return 0
	}
	var dot int64
	pa, pb := &a.Pix, &b.Pix
	for i := 0; i < n; i += 4 {
		dot += int64(uint32(pa[i])*uint32(pb[i]) + uint32(pa[i+1])*uint32(pb[i+1]) +
			uint32(pa[i+2])*uint32(pb[i+2]) + uint32(pa[i+3])*uint32(pb[i+3]))
	}
	cov := n*dot - a.sum*b.sum
	return float64(cov) / math.Sqrt(float64(va)*float64(vb))
}
