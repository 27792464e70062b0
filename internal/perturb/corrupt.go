package perturb

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/cvgate/cvgate/internal/imaging"
)

// Reference names the implementation whose damage the corruptions match (see the package
// documentation), for reports that quote mCE figures next to published ones.
const Reference = "imagecorruptions 1.1.2"

// Severities is the number of severity levels of every corruption; Apply takes 1..Severities.
const Severities = 5

// Groups of corruptions, as the ImageNet-C paper presents them ("extra" holds its four held-out
// corruptions).
const (
	GroupNoise   = "noise"
	GroupBlur    = "blur"
	GroupWeather = "weather"
	GroupDigital = "digital"
	GroupExtra   = "extra"
)

// corruption binds a name to its group and its severity-indexed implementation.
type corruption struct {
	name, group string
	apply       func(c *Corruptor, dst, src *imaging.Image, sev int)
}

// corruptions is the canonical order: the paper's 15 in its order, then the 4 extras.
var corruptions = [...]corruption{
	{"gaussian_noise", GroupNoise, (*Corruptor).gaussianNoiseSeverity},
	{"shot_noise", GroupNoise, (*Corruptor).shotNoiseSeverity},
	{"impulse_noise", GroupNoise, (*Corruptor).impulseNoiseSeverity},
	{"defocus_blur", GroupBlur, (*Corruptor).defocusBlurSeverity},
	{"glass_blur", GroupBlur, (*Corruptor).glassBlurSeverity},
	{"motion_blur", GroupBlur, (*Corruptor).motionBlurSeverity},
	{"zoom_blur", GroupBlur, (*Corruptor).zoomBlurSeverity},
	{"snow", GroupWeather, (*Corruptor).snowSeverity},
	{"frost", GroupWeather, (*Corruptor).frostSeverity},
	{"fog", GroupWeather, (*Corruptor).fogSeverity},
	{"brightness", GroupWeather, (*Corruptor).brightnessSeverity},
	{"contrast", GroupDigital, (*Corruptor).contrastSeverity},
	{"elastic_transform", GroupDigital, (*Corruptor).elasticSeverity},
	{"pixelate", GroupDigital, (*Corruptor).pixelateSeverity},
	{"jpeg_compression", GroupDigital, (*Corruptor).jpegSeverity},
	{"speckle_noise", GroupExtra, (*Corruptor).speckleNoiseSeverity},
	{"gaussian_blur", GroupExtra, (*Corruptor).gaussianBlurSeverity},
	{"spatter", GroupExtra, (*Corruptor).spatterSeverity},
	{"saturate", GroupExtra, (*Corruptor).saturateSeverity},
}

// Names returns the 19 corruption names in canonical order (a fresh slice each call).
func Names() []string {
	out := make([]string, len(corruptions))
	for i, k := range corruptions {
		out[i] = k.name
	}
	return out
}

// Group returns the group of a corruption (GroupNoise, GroupBlur, ...), or "" for an unknown name.
func Group(name string) string {
	if i := corruptionIndex(name); i >= 0 {
		return corruptions[i].group
	}
	return ""
}

func corruptionIndex(name string) int {
	for i := range corruptions {
		if corruptions[i].name == name {
			return i
		}
	}
	return -1
}

// Corruptor applies corruptions. It owns the working buffers and the per-size tables (kernels,
// zoom maps, shot-noise distributions) that make repeated calls cheap. It is not safe for
// concurrent use: give each goroutine its own. The zero value is ready to use.
type Corruptor struct {
	rng rand.PCG

	// Float working buffers, grown on demand and reused across calls.
	bufs     [6][]float32
	ints     []int32
	byteBufs [3][]uint8
	small    [2][]int
	rows     [][]float32

	kernels    map[float32][]float32
	shot       map[float64]*shotTable
	zooms      map[zoomKey]*zoomTables
	jpegQ      map[int][2]*jpegQuant
	jpegPlanes [3][]uint8
	jpegCC     []uint64
	// jpegScalar keeps jpeg_compression on its scalar path even where the vector one is
	// available: the tests compare the two.
	jpegScalar bool
	windowTaps [2][][]tap
	spans      [2][]boxSpan
}

// NewCorruptor returns a Corruptor with empty caches.
func NewCorruptor() *Corruptor { return &Corruptor{} }

// Apply writes corruption name at severity (1..Severities) of src into dst. dst takes src's size
// and channel count; its pixel slice is reused when large enough. dst may be src itself (the
// corruption is then done in place) but must not otherwise share memory with it. The same
// (src, name, severity, seed) always gives the same bytes.
func (c *Corruptor) Apply(dst, src *imaging.Image, name string, severity int, seed uint64) error {
	i := corruptionIndex(name)
	if i < 0 {
		return fmt.Errorf("apply corruption %q: unknown name (valid: %s)", name, strings.Join(Names(), ", "))
	}
	if severity < 1 || severity > Severities {
		return fmt.Errorf("apply corruption %q: severity %d outside 1..%d", name, severity, Severities)
	}
	if err := src.Validate(); err != nil {
		return fmt.Errorf("apply corruption %q: source: %w", name, err)
	}
	if dst == nil {
		return fmt.Errorf("apply corruption %q: nil destination", name)
	}
	reshape(dst, src)
	c.rng.Seed(seed, streamOf(name))
	corruptions[i].apply(c, dst, src, severity-1)
	return nil
}

// Apply is a convenience for one-off use: it allocates a Corruptor and the result. Loops over many
// images should keep a Corruptor and a destination per goroutine instead.
func Apply(src *imaging.Image, name string, severity int, seed uint64) (*imaging.Image, error) {
	dst := &imaging.Image{}
	if err := NewCorruptor().Apply(dst, src, name, severity, seed); err != nil {
		return nil, err
	}
	return dst, nil
}

// streamOf gives each corruption its own PCG stream, so that one seed used for two corruptions
// does not correlate their noise.
func streamOf(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// reshape gives dst the shape of src, reusing dst's pixel memory when it is large enough.
func reshape(dst, src *imaging.Image) {
	n := len(src.Pix)
	if dst != src {
		if cap(dst.Pix) < n {
			dst.Pix = make([]uint8, n)
		}
		dst.Pix = dst.Pix[:n]
	}
	dst.Width, dst.Height, dst.Channels = src.Width, src.Height, src.Channels
}

// minScale is the floor of the size scale; see the package documentation.
const minScale = 0.25

// sizeScale is the factor applied to pixel-valued reference parameters (tuned for 224 px).
func sizeScale(w, h int) float64 {
	return max(float64(min(w, h))/224, minScale)
}

// roundAtLeast1 rounds a scaled integer parameter and keeps it at least 1.
func roundAtLeast1(v float64) int {
	return max(int(math.Round(v)), 1)
}

// buf returns working buffer i with length n, growing it if needed. Contents are unspecified.
func (c *Corruptor) buf(i, n int) []float32 {
	if cap(c.bufs[i]) < n {
		c.bufs[i] = make([]float32, n)
	}
	return c.bufs[i][:n]
}

// bytesN returns reusable byte buffer i (0..2) with length n. Contents are unspecified.
func (c *Corruptor) bytesN(i, n int) []uint8 {
	if cap(c.byteBufs[i]) < n {
		c.byteBufs[i] = make([]uint8, n)
	}
	return c.byteBufs[i][:n]
}

// smallInts returns reusable int slice i (0 or 1) with length n, for per-call tables such as
// kernel offsets.
func (c *Corruptor) smallInts(i, n int) []int {
	if cap(c.small[i]) < n {
		c.small[i] = make([]int, n)
	}
	return c.small[i][:n]
}

// intsN returns the reusable int32 buffer with length n.
func (c *Corruptor) intsN(n int) []int32 {
	if cap(c.ints) < n {
		c.ints = make([]int32, n)
	}
	return c.ints[:n]
}

// toFloat converts bytes to [0,1] floats.
func toFloat(dst []float32, src []uint8) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = imaging.ByteToUnit(v)
	}
}

// toBytes quantizes [0,1] floats to bytes with rounding and clamping, as saving an image would.
func toBytes(dst []uint8, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = unitByte(v)
	}
}

// unitByte is imaging.UnitToByte with fewer branches, for the hot loops: the same result for every
// input, NaN included (0).
func unitByte(v float32) uint8 {
	if v >= 1 {
		return 255
	}
	x := int32(v*255 + 0.5) // NaN and large negatives convert to a negative value
	if x < 0 {
		return 0
	}
	return uint8(x)
}

// byteRound quantizes a value on the 0..255 scale with rounding and clamping.
func byteRound(v float32) uint8 {
	if !(v > 0) {
		return 0
	}
	if v >= 254.5 {
		return 255
	}
	return uint8(v + 0.5)
}

// luma weights (ITU-R BT.601), used for gray versions of colours and for RGB-to-gray steps.
const (
	lumaR = 0.299
	lumaG = 0.587
	lumaB = 0.114
)

// colourFor returns an RGB colour (components in [0,1]) for an image of ch channels: the colour
// itself for RGB, its luma for gray.
func colourFor(ch int, r, g, b float32) [3]float32 {
	if ch == 1 {
		y := lumaR*r + lumaG*g + lumaB*b
		return [3]float32{y, y, y}
	}
	return [3]float32{r, g, b}
}
