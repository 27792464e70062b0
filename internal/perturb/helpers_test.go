package perturb

import (
	"image/png"
	"io"
	"math"

	"github.com/cvgate/cvgate/internal/imaging"
)

func decodePNG(r io.Reader) (*imaging.Image, error) {
	m, err := png.Decode(r)
	if err != nil {
		return nil, err
	}
	return imaging.FromStd(m), nil
}

// psnr is the peak signal-to-noise ratio in dB between two images of one shape (+Inf if equal).
func psnr(a, b *imaging.Image) float64 {
	var se float64
	for i := range a.Pix {
		d := float64(a.Pix[i]) - float64(b.Pix[i])
		se += d * d
	}
	if se == 0 {
		return math.Inf(1)
	}
	mse := se / float64(len(a.Pix))
	return 10 * math.Log10(255*255/mse)
}
