package perturb

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/cvgate/cvgate/internal/imaging"
)

// Abnormal input kinds: images a classifier is not built for. The names are stable; they appear in
// reports.
const (
	AbnormalBlank         = "blank"          // all black
	AbnormalWhite         = "white"          // all white
	AbnormalGray          = "gray"           // constant mid-gray (128)
	AbnormalRed           = "red"            // constant pure red (RGB only)
	AbnormalGreen         = "green"          // constant pure green (RGB only)
	AbnormalBlue          = "blue"           // constant pure blue (RGB only)
	AbnormalUniformNoise  = "uniform_noise"  // every value uniform on 0..255
	AbnormalGaussianNoise = "gaussian_noise" // every value N(0.5, 0.25) clipped to [0,1]
	AbnormalInverted      = "inverted"       // 255-x of a given image
	AbnormalSaturated     = "saturated"      // a given image with contrast x10 about its mean, clipped
)

var (
	syntheticKinds = []string{AbnormalBlank, AbnormalWhite, AbnormalGray, AbnormalRed, AbnormalGreen, AbnormalBlue, AbnormalUniformNoise, AbnormalGaussianNoise}
	derivedKinds   = []string{AbnormalInverted, AbnormalSaturated}
	colourKinds    = map[string][3]uint8{AbnormalRed: {255, 0, 0}, AbnormalGreen: {0, 255, 0}, AbnormalBlue: {0, 0, 255}}
)

// AbnormalNames lists, in a stable order, the abnormal kinds that apply to images with the given
// channel count: the synthetic ones (made by Synthesize; the pure colours only for RGB) and then
// the derived ones (made from an image by Derive).
func AbnormalNames(channels int) []string {
	var out []string
	for _, k := range syntheticKinds {
		if _, colour := colourKinds[k]; colour && channels != 3 {
			continue
		}
		out = append(out, k)
	}
	return append(out, derivedKinds...)
}

// IsDerived reports whether an abnormal kind transforms a given image (Derive) rather than being
// synthesized from nothing (Synthesize).
func IsDerived(name string) bool { return slices.Contains(derivedKinds, name) }

// Synthesize makes a synthetic abnormal image of the given shape. Only the noise kinds use seed.
func Synthesize(name string, width, height, channels int, seed uint64) (*imaging.Image, error) {
	if width <= 0 || height <= 0 || (channels != 1 && channels != 3) {
		return nil, fmt.Errorf("synthesize abnormal input %q: invalid shape %dx%dx%d", name, width, height, channels)
	}
	m := imaging.New(width, height, channels)
	switch name {
	case AbnormalBlank:
	case AbnormalWhite:
		fill(m.Pix, 255)
	case AbnormalGray:
		fill(m.Pix, 128)
	case AbnormalRed, AbnormalGreen, AbnormalBlue:
		if channels != 3 {
			return nil, fmt.Errorf("synthesize abnormal input %q: needs 3 channels, got %d", name, channels)
		}
		c := colourKinds[name]
		for i := 0; i < len(m.Pix); i += 3 {
			m.Pix[i], m.Pix[i+1], m.Pix[i+2] = c[0], c[1], c[2]
		}
	case AbnormalUniformNoise:
		rng := rand.NewPCG(seed, streamOf(name))
		for i := range m.Pix {
			m.Pix[i] = uint8(rng.Uint64() >> 56)
		}
	case AbnormalGaussianNoise:
		var c Corruptor
		c.rng.Seed(seed, streamOf(name))
		for i := range m.Pix {
			m.Pix[i] = unitByte(0.5 + 0.25*c.normal16(c.rng.Uint64()))
		}
	default:
		if IsDerived(name) {
			return nil, fmt.Errorf("synthesize abnormal input %q: it is made from an image, use Derive", name)
		}
		return nil, fmt.Errorf("synthesize abnormal input %q: unknown kind (valid: %s)", name, strings.Join(syntheticKinds, ", "))
	}
	return m, nil
}

// Derive makes a derived abnormal image from src: its negative (inverted) or an over-saturated
// version with contrast x10 about the mean of all its values, clipped (saturated).
func Derive(name string, src *imaging.Image) (*imaging.Image, error) {
	if err := src.Validate(); err != nil {
		return nil, fmt.Errorf("derive abnormal input %q: source: %w", name, err)
	}
	out := &imaging.Image{Width: src.Width, Height: src.Height, Channels: src.Channels, Pix: make([]uint8, len(src.Pix))}
	switch name {
	case AbnormalInverted:
		for i, v := range src.Pix {
			out.Pix[i] = 255 - v
		}
	case AbnormalSaturated:
		var sum float64
		for _, v := range src.Pix {
			sum += float64(v)
		}
		mean := sum / float64(len(src.Pix)) / 255
		applyLUT(out, src, func(v float64) float64 { return (v-mean)*10 + mean })
	default:
		return nil, fmt.Errorf("derive abnormal input %q: unknown kind (valid: %s)", name, strings.Join(derivedKinds, ", "))
	}
	return out, nil
}

func fill(p []uint8, v uint8) {
	for i := range p {
		p[i] = v
	}
}
