package dataset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"math"
)

// Limits bound what reading a dataset may cost. Image headers are small and cheap to forge: a
// PNG of under a kilobyte may declare 100000x100000 pixels, and the decoder allocates what the
// header says before it finds the data missing. So every file's size is capped before it is read,
// every image's header is read (image.DecodeConfig) before its pixels, and the decoded store is
// reserved image by image. Zero fields take DefaultLimits' values.
type Limits struct {
	// MaxFileBytes caps one file: an image, a manifest or a labels file.
	MaxFileBytes int64
	// MaxPixels caps width*height of one image.
	MaxPixels int64
	// MaxAspect caps the longer side over the shorter one: a 10000x1 strip is within any pixel
	// budget but is no photo, and every tile, thumbnail and resampling kernel after decoding
	// assumes a picture.
	MaxAspect float64
	// MaxStoreBytes caps the decoded pixels kept for one dataset (8 bits per channel).
	MaxStoreBytes int64
}

// The defaults: 256 MiB per file, 50 megapixels and 100:1 per image, 4 GiB of decoded pixels.
const (
	DefaultMaxFileBytes  = 256 << 20
	DefaultMaxPixels     = 50_000_000
	DefaultMaxAspect     = 100
	DefaultMaxStoreBytes = 4 << 30
)

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{MaxFileBytes: DefaultMaxFileBytes, MaxPixels: DefaultMaxPixels, MaxAspect: DefaultMaxAspect, MaxStoreBytes: DefaultMaxStoreBytes}
}

func pick[T int64 | float64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

func (l Limits) fileBytes() int64  { return pick(l.MaxFileBytes, DefaultMaxFileBytes) }
func (l Limits) pixels() int64     { return pick(l.MaxPixels, DefaultMaxPixels) }
func (l Limits) aspect() float64   { return pick(l.MaxAspect, DefaultMaxAspect) }
func (l Limits) storeBytes() int64 { return pick(l.MaxStoreBytes, DefaultMaxStoreBytes) }

// checkHeader reads an image's header and refuses a size beyond the limits, before any pixel
// memory is allocated. It returns the format and size for the store reservation.
func (l Limits) checkHeader(raw []byte) (image.Config, string, error) {
	cfg, format, err := pngHeader(raw)
	if err != nil {
		cfg, format, err = image.DecodeConfig(bytes.NewReader(raw))
	}
	if err != nil {
		return cfg, format, describeDecodeError(format, raw, err)
	}
	w, h := int64(cfg.Width), int64(cfg.Height)
	if w <= 0 || h <= 0 {
		return cfg, format, fmt.Errorf("%s has no pixels (%dx%d)", format, w, h)
	}
	if px := l.pixels(); w > px || h > px || w*h > px {
		return cfg, format, fmt.Errorf("%s declares %dx%d pixels (%.1f megapixels), over the %.1f-megapixel limit (runtime.max_pixels); refused before decoding",
			format, w, h, float64(w)*float64(h)/1e6, float64(px)/1e6)
	}
	long, short := max(w, h), min(w, h)
	if a := l.aspect(); float64(long) > a*float64(short) {
		return cfg, format, fmt.Errorf("%s is %dx%d, an aspect ratio of %.0f:1, over the %g:1 limit (runtime.max_aspect)", format, w, h, float64(long)/float64(short), a)
	}
	return cfg, format, nil
}

// pngHeader reads a PNG's size straight from its IHDR chunk, which the format requires to come
// first: image.DecodeConfig takes 5 us to find the same two numbers, an eighth of decoding a
// 28x28 PNG. Anything unusual is left to image.DecodeConfig (the error says so).
func pngHeader(raw []byte) (image.Config, string, error) {
	const sig = "\x89PNG\r\n\x1a\n"
	if len(raw) < 33 || string(raw[:8]) != sig || string(raw[12:16]) != "IHDR" || binary.BigEndian.Uint32(raw[8:12]) != 13 {
		return image.Config{}, "", errNotSimplePNG
	}
	w, h := binary.BigEndian.Uint32(raw[16:20]), binary.BigEndian.Uint32(raw[20:24])
	if w > math.MaxInt32 || h > math.MaxInt32 {
		return image.Config{}, "", errNotSimplePNG
	}
	return image.Config{Width: int(w), Height: int(h)}, "png", nil
}

var errNotSimplePNG = errors.New("not a PNG with a plain IHDR")
