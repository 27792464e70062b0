package dedup

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"

	"github.com/cvgate/cvgate/internal/imaging"
)

// Hash is a 64-bit perceptual hash; see PHash. Similar images have hashes at a small Hamming
// Distance.
type Hash uint64

// Distance is the Hamming distance between two hashes: the number of differing bits (0..64).
func Distance(a, b Hash) int { return bits.OnesCount64(uint64(a ^ b)) }

// String returns the hash as 16 hex digits.
func (h Hash) String() string { return fmt.Sprintf("%016x", uint64(h)) }

// MarshalText encodes the hash as 16 hex digits, so that JSON keeps all 64 bits (a JSON number
// would lose them in JavaScript readers).
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText parses 16 hex digits.
func (h *Hash) UnmarshalText(text []byte) error {
	if len(text) != 16 {
		return fmt.Errorf("parse perceptual hash %q: want 16 hex digits", text)
	}
	v, err := strconv.ParseUint(string(text), 16, 64)
	if err != nil {
		return fmt.Errorf("parse perceptual hash %q: %w", text, err)
	}
	*h = Hash(v)
	return nil
}

const (
	// phashSide is the side of the luma thumbnail the DCT runs on: large enough that the 8x8
	// lowest frequencies are free of aliasing, small enough to be cheap.
	phashSide = 32
	// phashFreqs is how many of the lowest frequencies per axis the hash keeps.
	phashFreqs = 8
	// coefficientEpsilon snaps DCT coefficients that are zero up to rounding to exactly zero.
	// Without it a blank image would hash to the signs of rounding noise, and two blank images of
	// different gray levels would look unrelated; with it every constant image hashes to 0. Real
	// structure gives coefficients many orders of magnitude larger (values are on a 0..1 scale).
	coefficientEpsilon = 1e-9
)

// PHash computes a DCT-based perceptual hash of img:
//
//  1. luma (ITU-R BT.601, as imaging.ToGray) is averaged down (or up) to 32x32 by exact area
//     averaging, for any input size and aspect ratio;
//  2. the orthonormal 2-D DCT-II of that thumbnail is taken, keeping the 8x8 lowest frequencies;
//  3. of those 64 coefficients the DC term (the mean brightness) is dropped, and each of the 63
//     others sets its bit when it is above their median.
//
// Bit k-1 holds the coefficient at vertical frequency k/8 and horizontal frequency k%8, for k in
// 1..63; bit 63 is always 0. Because the DC term is dropped and the threshold is a median, the hash
// ignores brightness offsets and contrast scaling (up to clipping); small noise, JPEG artifacts
// and rescaling move few bits. Cropping, rotation and flips change it a lot: it finds copies, not
// augmentations. Constant images (blank, any gray level) hash to 0.
//
// The difference hash (dHash) was the alternative; pHash was chosen because its bits come from
// global frequency content, so local noise and JPEG blocking move fewer of them.
func PHash(img *imaging.Image) (Hash, error) {
	t, err := NewLumaGrid(img)
	if err != nil {
		return 0, err
	}
	return t.Hash(), nil
}

// LumaGridSide is the side of the luma grid the perceptual hash is computed from.
const LumaGridSide = phashSide

// LumaGrid is an image's luma (ITU-R BT.601, 0..1) averaged over a 32x32 grid by exact area
// weights: what PHash hashes. Callers that also want a thumbnail (to confirm near-duplicates) take
// it from here instead of resampling the image a second time.
type LumaGrid [phashSide * phashSide]float64

// NewLumaGrid computes the luma grid of img.
func NewLumaGrid(img *imaging.Image) (*LumaGrid, error) {
	if err := checkShape(img); err != nil {
		return nil, fmt.Errorf("compute perceptual hash: %w", err)
	}
	var t LumaGrid
	areaResizeLuma(img, (*[phashSide * phashSide]float64)(&t))
	return &t, nil
}

// Hash is the perceptual hash of the grid (see PHash).
func (t *LumaGrid) Hash() Hash {
	coeffs := lowFrequencyDCT((*[phashSide * phashSide]float64)(t))
	return hashCoefficients(&coeffs)
}

// hashCoefficients turns the 8x8 low-frequency block (row-major, vertical frequency first) into
// the hash: bit k-1 is set when coefficient k is above the median of coefficients 1..63.
func hashCoefficients(c *[phashFreqs * phashFreqs]float64) Hash {
	var ac [phashFreqs*phashFreqs - 1]float64
	for k := 1; k < len(c); k++ {
		v := c[k]
		if math.Abs(v) < coefficientEpsilon {
			v = 0
		}
		ac[k-1] = v
	}
	sorted := ac
	slices.Sort(sorted[:])
	median := sorted[len(sorted)/2] // 63 values: the 32nd
	var h Hash
	for i, v := range ac {
		if v > median {
			h |= 1 << i
		}
	}
	return h
}

// axisSpan says that source pixel src covers weight units of destination cell dst, where each
// source pixel is phashSide units long and each destination cell is n units long (n = source
// length). Integer weights make the resize exact: a constant image stays exactly constant.
type axisSpan struct {
	src, dst, weight int32
}

// areaSpans lists, for a source axis of n pixels mapped onto phashSide cells, every overlapping
// (source pixel, cell) pair with its overlap, ordered by cell and then source pixel (so source
// pixels come in non-decreasing order).
func areaSpans(n int) []axisSpan {
	spans := make([]axisSpan, 0, n+phashSide)
	for dst := range phashSide {
		lo, hi := dst*n, (dst+1)*n // the cell, in units of 1/phashSide source pixel
		for src := lo / phashSide; src*phashSide < hi; src++ {
			overlap := min(src*phashSide+phashSide, hi) - max(src*phashSide, lo)
			spans = append(spans, axisSpan{src: int32(src), dst: int32(dst), weight: int32(overlap)})
		}
	}
	return spans
}

// areaResizeLuma writes the area-averaged luma of img, on a 0..1 scale, into a 32x32 thumbnail.
// Luma is kept unrounded (299R+587G+114B, or 1000*Y for gray) until the final division.
func areaResizeLuma(img *imaging.Image, thumb *[phashSide * phashSide]float64) {
	w, h, ch := img.Width, img.Height, img.Channels
	colSpans := areaSpans(w)
	rowSpans := colSpans
	if h != w {
		rowSpans = areaSpans(h)
	}
	luma := make([]int64, w)
	var rowSum [phashSide]int64 // one source row reduced to phashSide columns
	var cells [phashSide * phashSide]int64
	current := -1
	for _, rs := range rowSpans {
		if int(rs.src) != current {
			current = int(rs.src)
			row := img.Pix[current*w*ch : (current+1)*w*ch]
			if ch == 1 {
				for x, v := range row {
					luma[x] = 1000 * int64(v)
				}
			} else {
				for x := range luma {
					px := row[3*x : 3*x+3 : 3*x+3]
					luma[x] = 299*int64(px[0]) + 587*int64(px[1]) + 114*int64(px[2])
				}
			}
			rowSum = [phashSide]int64{}
			for _, cs := range colSpans {
				rowSum[cs.dst] += int64(cs.weight) * luma[cs.src]
			}
		}
		out := cells[rs.dst*phashSide : (rs.dst+1)*phashSide]
		for j, v := range rowSum {
			out[j] += int64(rs.weight) * v
		}
	}
	// Each cell's weights sum to w*h; luma is at most 255*1000. The largest sum, w*h*255000, fits
	// in int64 for any image that fits in memory.
	scale := 1 / (float64(w) * float64(h) * 255000)
	for i, v := range cells {
		thumb[i] = float64(v) * scale
	}
}

// dctBasis[k][x] is the orthonormal DCT-II basis: alpha(k) * cos((2x+1) k pi / 64). Read-only.
var dctBasis = func() (b [phashFreqs][phashSide]float64) {
	for k := range phashFreqs {
		alpha := math.Sqrt(2.0 / phashSide)
		if k == 0 {
			alpha = math.Sqrt(1.0 / phashSide)
		}
		for x := range phashSide {
			b[k][x] = alpha * math.Cos(float64(2*x+1)*float64(k)*math.Pi/(2*phashSide))
		}
	}
	return b
}()

// lowFrequencyDCT returns the 8x8 lowest-frequency coefficients of the orthonormal 2-D DCT-II of
// the thumbnail, row-major with the vertical frequency first. Only those are computed, separably,
// and each 1-D transform folds the input in half first: basis k is symmetric about the centre for
// even k and antisymmetric for odd k, so sum(f[x]*b[k][x]) = sum over x<16 of b[k][x] times
// f[x]+f[31-x] (even k) or f[x]-f[31-x] (odd k). That is 6k multiply-adds instead of 10k.
func lowFrequencyDCT(thumb *[phashSide * phashSide]float64) [phashFreqs * phashFreqs]float64 {
	var rows [phashFreqs][phashSide]float64 // rows[fx][y]: row y transformed horizontally
	var line [phashSide]float64
	for y := range phashSide {
		copy(line[:], thumb[y*phashSide:(y+1)*phashSide])
		coeffs := fold8(&line)
		for fx, c := range coeffs {
			rows[fx][y] = c
		}
	}
	var out [phashFreqs * phashFreqs]float64
	for fx := range phashFreqs {
		coeffs := fold8(&rows[fx])
		for fy, c := range coeffs {
			out[fy*phashFreqs+fx] = c
		}
	}
	return out
}

// fold8 returns the first 8 orthonormal DCT-II coefficients of one line of 32 values.
func fold8(line *[phashSide]float64) [phashFreqs]float64 {
	const half = phashSide / 2
	var sum, diff [half]float64
	for x := range half {
		sum[x] = line[x] + line[phashSide-1-x]
		diff[x] = line[x] - line[phashSide-1-x]
	}
	var out [phashFreqs]float64
	for k := range phashFreqs {
		folded := &sum
		if k%2 == 1 {
			folded = &diff
		}
		basis := &dctBasis[k]
		var s float64
		for x := range half {
			s += basis[x] * folded[x]
		}
		out[k] = s
	}
	return out
}
