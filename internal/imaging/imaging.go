// Package imaging holds the compact in-memory image types that every other cvgate package shares:
// decoded images (8 bits per channel) and working images (float32 in [0,1]).
//
// Pixels are interleaved (row-major, channel last) so that a pixel's channels are adjacent; the
// layout expected by a model (NCHW or NHWC) is produced later by preprocessing.
package imaging

import (
	"errors"
	"fmt"
	"image"
	"image/color"
)

// Image is a decoded image with 1 (gray) or 3 (RGB) channels of 8 bits each. Alpha is composited
// away at decode time and 16-bit images are reduced to 8 bits, so that the store stays compact.
type Image struct {
	Width, Height, Channels int
	// Pix has Width*Height*Channels bytes: row y, column x, channel c is at (y*Width+x)*Channels+c.
	Pix []uint8
}

// New returns a zeroed image. It panics on a non-positive size or a channel count other than 1 or 3,
// because that is a programming error, not bad input.
func New(width, height, channels int) *Image {
	mustShape(width, height, channels)
	return &Image{Width: width, Height: height, Channels: channels, Pix: make([]uint8, width*height*channels)}
}

// Clone returns a deep copy.
func (m *Image) Clone() *Image {
	c := *m
	c.Pix = append([]uint8(nil), m.Pix...)
	return &c
}

// At returns channel c of the pixel at (x, y).
func (m *Image) At(x, y, c int) uint8 { return m.Pix[(y*m.Width+x)*m.Channels+c] }

// Float converts the image to a working image with values in [0,1].
func (m *Image) Float() *Float {
	f := NewFloat(m.Width, m.Height, m.Channels)
	for i, v := range m.Pix {
		f.Pix[i] = byteToUnit[v]
	}
	return f
}

// ToRGB returns the image with 3 channels (gray is replicated); an RGB image is returned as is.
func (m *Image) ToRGB() *Image {
	if m.Channels == 3 {
		return m
	}
	out := New(m.Width, m.Height, 3)
	for i, v := range m.Pix {
		out.Pix[3*i], out.Pix[3*i+1], out.Pix[3*i+2] = v, v, v
	}
	return out
}

// ToGray returns the image with 1 channel (ITU-R BT.601 luma); a gray image is returned as is.
func (m *Image) ToGray() *Image {
	if m.Channels == 1 {
		return m
	}
	out := New(m.Width, m.Height, 1)
	for i := range out.Pix {
		r, g, b := int(m.Pix[3*i]), int(m.Pix[3*i+1]), int(m.Pix[3*i+2])
		out.Pix[i] = uint8((299*r + 587*g + 114*b + 500) / 1000)
	}
	return out
}

// Std converts to a standard library image (image.Gray or image.RGBA) for encoding.
func (m *Image) Std() image.Image {
	r := image.Rect(0, 0, m.Width, m.Height)
	if m.Channels == 1 {
		g := image.NewGray(r)
		copy(g.Pix, m.Pix)
		return g
	}
	out := image.NewRGBA(r)
	for i := 0; i < m.Width*m.Height; i++ {
		copy(out.Pix[4*i:4*i+3], m.Pix[3*i:3*i+3])
		out.Pix[4*i+3] = 0xff
	}
	return out
}

// FromStd converts any decoded standard library image. Gray and 16-bit gray stay one channel;
// everything else becomes RGB, with alpha composited over black (what a model trained on opaque
// images would most plausibly see).
func FromStd(src image.Image) *Image {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	switch s := src.(type) {
	case *image.Gray:
		out := New(w, h, 1)
		for y := 0; y < h; y++ {
			copy(out.Pix[y*w:(y+1)*w], s.Pix[y*s.Stride:y*s.Stride+w])
		}
		return out
	case *image.Gray16:
		out := New(w, h, 1)
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride:]
			for x := 0; x < w; x++ {
				out.Pix[y*w+x] = row[2*x] // high byte of the big-endian sample
			}
		}
		return out
	case *image.RGBA:
		out := New(w, h, 3)
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride:]
			for x := 0; x < w; x++ {
				// RGBA is premultiplied: compositing over black is the stored value itself.
				copy(out.Pix[(y*w+x)*3:(y*w+x)*3+3], row[4*x:4*x+3])
			}
		}
		return out
	case *image.NRGBA:
		out := New(w, h, 3)
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride:]
			for x := 0; x < w; x++ {
				a := uint32(row[4*x+3])
				o := (y*w + x) * 3
				for c := 0; c < 3; c++ {
					out.Pix[o+c] = uint8((uint32(row[4*x+c])*a + 127) / 255)
				}
			}
		}
		return out
	case *image.YCbCr:
		// JPEG's colour type. The generic path below boxes every pixel in an interface, which took
		// 80% of a 224x224 JPEG's decode time; this computes the same values (color.YCbCr.RGBA)
		// without the boxing.
		out := New(w, h, 3)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi, ci := s.YOffset(b.Min.X+x, b.Min.Y+y), s.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bb, _ := color.YCbCr{Y: s.Y[yi], Cb: s.Cb[ci], Cr: s.Cr[ci]}.RGBA()
				o := (y*w + x) * 3
				out.Pix[o], out.Pix[o+1], out.Pix[o+2] = uint8(r>>8), uint8(g>>8), uint8(bb>>8)
			}
		}
		return out
	case *image.Paletted:
		gray := true
		for _, c := range s.Palette {
			r, g, bb, _ := c.RGBA()
			if r != g || g != bb {
				gray = false
				break
			}
		}
		if gray {
			out := New(w, h, 1)
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					c := color.GrayModel.Convert(s.At(b.Min.X+x, b.Min.Y+y)).(color.Gray)
					out.Pix[y*w+x] = c.Y
				}
			}
			return out
		}
	}
	if isGrayModel(src.ColorModel()) {
		out := New(w, h, 1)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				r, _, _, _ := src.At(b.Min.X+x, b.Min.Y+y).RGBA()
				out.Pix[y*w+x] = uint8(r >> 8)
			}
		}
		return out
	}
	out := New(w, h, 3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			// RGBA() is alpha-premultiplied: this composites over black.
			r, g, bb, _ := src.At(b.Min.X+x, b.Min.Y+y).RGBA()
			o := (y*w + x) * 3
			out.Pix[o], out.Pix[o+1], out.Pix[o+2] = uint8(r>>8), uint8(g>>8), uint8(bb>>8)
		}
	}
	return out
}

func isGrayModel(m color.Model) bool { return m == color.GrayModel || m == color.Gray16Model }

// Float is a working image with float32 values nominally in [0,1], interleaved like Image.
type Float struct {
	Width, Height, Channels int
	Pix                     []float32
}

// NewFloat returns a zeroed working image.
func NewFloat(width, height, channels int) *Float {
	mustShape(width, height, channels)
	return &Float{Width: width, Height: height, Channels: channels, Pix: make([]float32, width*height*channels)}
}

// Clone returns a deep copy.
func (f *Float) Clone() *Float {
	c := *f
	c.Pix = append([]float32(nil), f.Pix...)
	return &c
}

// Clamp limits every value to [0,1] in place and returns f.
func (f *Float) Clamp() *Float {
	for i, v := range f.Pix {
		if v < 0 {
			f.Pix[i] = 0
		} else if v > 1 {
			f.Pix[i] = 1
		} else if v != v { // NaN
			f.Pix[i] = 0
		}
	}
	return f
}

// Bytes quantizes to 8 bits with rounding and clamping, as a camera or an image file would.
func (f *Float) Bytes() *Image {
	m := New(f.Width, f.Height, f.Channels)
	for i, v := range f.Pix {
		m.Pix[i] = UnitToByte(v)
	}
	return m
}

// UnitToByte maps a value in [0,1] to 0..255 with rounding; out-of-range values and NaN are clamped.
func UnitToByte(v float32) uint8 {
	if !(v > 0) {
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(v*255 + 0.5)
}

// ByteToUnit maps 0..255 to [0,1].
func ByteToUnit(v uint8) float32 { return byteToUnit[v] }

var byteToUnit = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

func mustShape(width, height, channels int) {
	if width <= 0 || height <= 0 || (channels != 1 && channels != 3) {
		panic(fmt.Sprintf("imaging: invalid shape %dx%dx%d", width, height, channels))
	}
}

// ToGrayPix converts interleaved RGB bytes to gray (ITU-R BT.601 luma), as ToGray does.
func ToGrayPix(rgb []uint8) []uint8 {
	out := make([]uint8, len(rgb)/3)
	for i := range out {
		r, g, b := int(rgb[3*i]), int(rgb[3*i+1]), int(rgb[3*i+2])
		out[i] = uint8((299*r + 587*g + 114*b + 500) / 1000)
	}
	return out
}

// Validate reports an image whose fields disagree (nil, a non-positive size, a channel count other
// than 1 or 3, or a pixel buffer of the wrong length), so that code indexing Pix never goes out of
// range on bad input. The length is checked by division, so absurd sizes cannot overflow into a
// false match.
func (m *Image) Validate() error {
	switch {
	case m == nil:
		return errors.New("nil image")
	case m.Width <= 0 || m.Height <= 0:
		return fmt.Errorf("invalid size %dx%d", m.Width, m.Height)
	case m.Channels != 1 && m.Channels != 3:
		return fmt.Errorf("image has %d channels, want 1 or 3", m.Channels)
	case len(m.Pix)%m.Channels != 0 || (len(m.Pix)/m.Channels)%m.Width != 0 || len(m.Pix)/m.Channels/m.Width != m.Height:
		return fmt.Errorf("image has %d pixel bytes for %dx%dx%d", len(m.Pix), m.Width, m.Height, m.Channels)
	}
	return nil
}
