// Package imgprops computes cheap, model-independent properties of a decoded image (brightness,
// contrast, sharpness, entropy, size, colour balance, clipping). They are computed once per image in
// the shared decoding pass and then reused by data-integrity checks (outliers), weak-slice search
// (slices over property bins) and drift (distributions of each property).
//
// Every property is a float64 so that checks can iterate over them generically through Names,
// Values and Get instead of knowing each field.
package imgprops

import (
	"fmt"
	"math"

	"github.com/cvgate/cvgate/internal/imaging"
)

// Luma thresholds (inclusive) for a clipped pixel: 0.02 and 0.98 of full scale, i.e. 5.1 and
// 249.9 on the 0..255 scale, so bins 0..5 are dark and 250..255 are bright.
const (
	darkMaxLuma   = 5
	brightMinLuma = 250
)

// Properties describes one image. All luma-based values use ITU-R BT.601 luma rounded to 8 bits,
// exactly as imaging.Image.ToGray computes it, so a gray image and its RGB copy agree.
type Properties struct {
	// Brightness is the mean luma in [0,1].
	Brightness float64 `json:"brightness"`
	// Contrast is the RMS contrast: the population standard deviation of luma in [0,1] (0..0.5).
	Contrast float64 `json:"contrast"`
	// Sharpness is the variance of the normalized 4-neighbour Laplacian of luma in [0,1]: each
	// interior pixel contributes (mean of its 4 neighbours - itself), which lies in [-1,1], so the
	// variance lies in [0,1] (a one-pixel checkerboard gives 1). Border pixels are skipped rather
	// than padded, so padding never invents edges; images narrower or shorter than 3 pixels get 0.
	// OpenCV's cv2.Laplacian(gray8, CV_64F).var() on the same interior equals Sharpness*16*255^2.
	Sharpness float64 `json:"sharpness"`
	// Entropy is the Shannon entropy of the 256-bin luma histogram in bits (0..8).
	Entropy float64 `json:"entropy"`
	// AspectRatio is width / height.
	AspectRatio float64 `json:"aspect_ratio"`
	// Area is width * height in pixels.
	Area float64 `json:"area"`
	// RedShare, GreenShare and BlueShare are each channel's mean divided by the sum of the three
	// means (they sum to 1). Gray images and all-black images get 1/3 each: no colour cast.
	RedShare   float64 `json:"red_share"`
	GreenShare float64 `json:"green_share"`
	BlueShare  float64 `json:"blue_share"`
	// ClippedShare is the share of pixels whose luma is <= 0.02 or >= 0.98 of full scale, the sum of
	// DarkShare and BrightShare. High values flag under- or over-exposure (or, for MNIST-like data,
	// simply a black background: judge it relative to the reference set).
	ClippedShare float64 `json:"clipped_share"`
	DarkShare    float64 `json:"dark_share"`
	BrightShare  float64 `json:"bright_share"`
}

// field ties a property name to its struct field. The order here is the order of Names and Values;
// append new properties at the end so that stored value vectors keep their meaning.
type field struct {
	name string
	get  func(*Properties) float64
}

var fields = [...]field{
	{"brightness", func(p *Properties) float64 { return p.Brightness }},
	{"contrast", func(p *Properties) float64 { return p.Contrast }},
	{"sharpness", func(p *Properties) float64 { return p.Sharpness }},
	{"entropy", func(p *Properties) float64 { return p.Entropy }},
	{"aspect_ratio", func(p *Properties) float64 { return p.AspectRatio }},
	{"area", func(p *Properties) float64 { return p.Area }},
	{"red_share", func(p *Properties) float64 { return p.RedShare }},
	{"green_share", func(p *Properties) float64 { return p.GreenShare }},
	{"blue_share", func(p *Properties) float64 { return p.BlueShare }},
	{"clipped_share", func(p *Properties) float64 { return p.ClippedShare }},
	{"dark_share", func(p *Properties) float64 { return p.DarkShare }},
	{"bright_share", func(p *Properties) float64 { return p.BrightShare }},
}

// Names returns the property names (equal to the JSON keys) in a stable order. The slice is new on
// every call, so callers may modify it.
func Names() []string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	return names
}

// Values returns the properties in the order of Names.
func (p Properties) Values() []float64 {
	vals := make([]float64, len(fields))
	for i, f := range fields {
		vals[i] = f.get(&p)
	}
	return vals
}

// Get returns the property called name (a name from Names) and whether it exists.
func (p Properties) Get(name string) (float64, bool) {
	for _, f := range fields {
		if f.name == name {
			return f.get(&p), true
		}
	}
	return 0, false
}

// Compute measures img in one pass over its pixels: each row's luma is computed once, feeds the
// histogram (from which brightness, contrast, entropy and clipping follow) and a three-row window
// for the Laplacian. It allocates only that window (none for gray images).
func Compute(img *imaging.Image) (Properties, error) {
	if err := checkShape(img); err != nil {
		return Properties{}, err
	}
	w, h := img.Width, img.Height
	var acc accumulator
	acc.width = w

	if img.Channels == 1 {
		for y := range h {
			acc.addRow(img.Pix[y*w : (y+1)*w])
		}
	} else {
		// Ring of three luma rows: the Laplacian of row y-1 needs rows y-2..y.
		ring := make([]uint8, 3*w)
		for y := range h {
			acc.addRGBRow(ring[(y%3)*w:(y%3+1)*w], img.Pix[y*w*3:(y+1)*w*3])
		}
	}
	return acc.properties(w, h, img.Channels), nil
}

// accumulator holds the running sums of one Compute call.
type accumulator struct {
	width            int
	hist             [4][256]uint32 // interleaved counts since the last flush into total
	pending          uint64         // pixels counted in hist
	total            [256]uint64
	prev2, prev      []uint8 // the two previous luma rows, for the Laplacian
	rows             int
	lapSum, lapSumSq int64 // sums of 4*Laplacian (integer, exact)
	lapCount         int64
	sumR, sumG, sumB uint64
}

// addRow adds one row of gray luma. The row must stay unchanged until two more rows have been
// added (gray rows are slices of the image itself).
func (a *accumulator) addRow(row []uint8) {
	a.reserve(len(row))
	i := 0
	for ; i+4 <= len(row); i += 4 {
		q := row[i : i+4 : i+4]
		a.hist[0][q[0]]++
		a.hist[1][q[1]]++
		a.hist[2][q[2]]++
		a.hist[3][q[3]]++
	}
	for ; i < len(row); i++ {
		a.hist[0][row[i]]++
	}
	a.slide(row)
}

// addRGBRow is addRow for an RGB row: it writes the row's luma (rounded as imaging.ToGray does)
// into luma, which must stay unchanged for two more rows, and adds up the channels. Computing and
// counting luma in one loop is a fifth faster than writing the row first and counting it after.
func (a *accumulator) addRGBRow(luma, src []uint8) {
	a.reserve(len(luma))
	src = src[:3*len(luma)]
	var sumR, sumG, sumB uint64
	i := 0
	for ; i+2 <= len(luma); i += 2 {
		px := src[3*i : 3*i+6 : 3*i+6]
		r0, g0, b0 := uint32(px[0]), uint32(px[1]), uint32(px[2])
		r1, g1, b1 := uint32(px[3]), uint32(px[4]), uint32(px[5])
		l0 := uint8((299*r0 + 587*g0 + 114*b0 + 500) / 1000)
		l1 := uint8((299*r1 + 587*g1 + 114*b1 + 500) / 1000)
		luma[i], luma[i+1] = l0, l1
		a.hist[0][l0]++
		a.hist[1][l1]++
		sumR += uint64(r0 + r1)
		sumG += uint64(g0 + g1)
		sumB += uint64(b0 + b1)
	}
	if i < len(luma) {
		r, g, b := uint32(src[3*i]), uint32(src[3*i+1]), uint32(src[3*i+2])
		l := uint8((299*r + 587*g + 114*b + 500) / 1000)
		luma[i] = l
		a.hist[2][l]++
		sumR, sumG, sumB = sumR+uint64(r), sumG+uint64(g), sumB+uint64(b)
	}
	a.sumR, a.sumG, a.sumB = a.sumR+sumR, a.sumG+sumG, a.sumB+sumB
	a.slide(luma)
}

// reserve prepares the histograms for n more pixels. They are four interleaved 32-bit
// histograms: with one, runs of a value (a black background) would make every increment wait for
// the previous store to the same counter, and 32 bits halve what there is to clear and add up.
// They are flushed into the 64-bit totals before any counter could overflow.
func (a *accumulator) reserve(n int) {
	if a.pending+uint64(n) > math.MaxUint32 {
		a.flushHistogram()
	}
	a.pending += uint64(n)
}

// slide moves the three-row Laplacian window down by one row.
func (a *accumulator) slide(row []uint8) {
	if a.rows >= 2 && a.width >= 3 {
		a.laplacianRow(a.prev2, a.prev, row)
	}
	a.prev2, a.prev = a.prev, row
	a.rows++
}

func (a *accumulator) flushHistogram() {
	for v := range a.total {
		a.total[v] += uint64(a.hist[0][v]) + uint64(a.hist[1][v]) + uint64(a.hist[2][v]) + uint64(a.hist[3][v])
	}
	a.hist = [4][256]uint32{}
	a.pending = 0
}

// laplacianRow accumulates the 4-neighbour Laplacian (times 4, so it stays an integer) of the
// interior pixels of mid.
func (a *accumulator) laplacianRow(up, mid, down []uint8) {
	w := len(mid)
	up, down = up[:w], down[:w] // bounds-check hints
	var sum, sumSq int64
	left, centre := int32(mid[0]), int32(mid[1]) // slide along mid: one new load per pixel
	for x := 1; x < w-1; x++ {
		right := int32(mid[x+1])
		// |l| <= 1020, so l and l*l fit in int32; the sums need int64.
		l := int32(up[x]) + int32(down[x]) + left + right - 4*centre
		sum += int64(l)
		sumSq += int64(l * l)
		left, centre = centre, right
	}
	a.lapSum += sum
	a.lapSumSq += sumSq
	a.lapCount += int64(w - 2)
}

func (a *accumulator) properties(w, h, channels int) Properties {
	n := float64(w) * float64(h)
	var hist [256]uint64
	for v := range hist {
		hist[v] = a.total[v] + uint64(a.hist[0][v]) + uint64(a.hist[1][v]) + uint64(a.hist[2][v]) + uint64(a.hist[3][v])
	}
	// Entropy as log2(n) - sum(c*ln c)/(n ln 2): one natural log per occupied bin, cheaper than
	// math.Log2 of each probability.
	var sum, cLogC float64
	for v, c := range hist {
		if c == 0 {
			continue
		}
		fc := float64(c)
		sum += float64(v) * fc
		cLogC += fc * natLog(c)
	}
	entropy := max(math.Log2(n)-cLogC/(n*math.Ln2), 0) // a single bin gives 0 up to rounding
	mean := sum / n
	// A second pass over the 256 bins, not E[x^2]-E[x]^2, so that near-constant images do not
	// lose the variance to cancellation.
	var variance float64
	for v, c := range hist {
		d := float64(v) - mean
		variance += d * d * float64(c)
	}
	variance /= n

	var dark, bright uint64
	for v := 0; v <= darkMaxLuma; v++ {
		dark += hist[v]
	}
	for v := brightMinLuma; v <= 255; v++ {
		bright += hist[v]
	}

	p := Properties{
		Brightness:   mean / 255,
		Contrast:     math.Sqrt(variance) / 255,
		Entropy:      entropy,
		AspectRatio:  float64(w) / float64(h),
		Area:         n,
		DarkShare:    float64(dark) / n,
		BrightShare:  float64(bright) / n,
		ClippedShare: float64(dark+bright) / n,
		RedShare:     1.0 / 3,
		GreenShare:   1.0 / 3,
		BlueShare:    1.0 / 3,
	}
	if a.lapCount > 0 {
		// The integer Laplacian is 4*255 times the normalized one.
		c := float64(a.lapCount)
		m := float64(a.lapSum) / c
		v := max(float64(a.lapSumSq)/c-m*m, 0)
		p.Sharpness = v / (4 * 255 * 4 * 255)
	}
	if total := a.sumR + a.sumG + a.sumB; channels == 3 && total > 0 {
		t := float64(total)
		p.RedShare, p.GreenShare, p.BlueShare = float64(a.sumR)/t, float64(a.sumG)/t, float64(a.sumB)/t
	}
	return p
}

// checkShape rejects images whose fields disagree, so that no bad input can index out of range.
func checkShape(img *imaging.Image) error {
	if err := img.Validate(); err != nil {
		return fmt.Errorf("compute image properties: %w", err)
	}
	return nil
}

// smallLogs holds ln(c) for the bin counts of small images, where a math.Log per occupied bin
// would otherwise cost as much as the whole pixel pass. Read-only after initialization.
var smallLogs = func() (t [1024]float64) {
	for c := 1; c < len(t); c++ {
		t[c] = math.Log(float64(c))
	}
	return t
}()

func natLog(c uint64) float64 {
	if c < uint64(len(smallLogs)) {
		return smallLogs[c]
	}
	return math.Log(float64(c))
}
