// Package mask reads ground-truth label maps for semantic segmentation: one class index per pixel
// in an 8- or 16-bit grayscale PNG, a palette PNG (the palette index is the class, as in VOC's
// SegmentationClass), an RGB colour mask with a class-colour table, or a binary foreground mask.
// It finds each image's mask by a naming rule (locate.go) and decodes under a byte and a pixel
// budget, so that a hostile file cannot exhaust memory.
package mask

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/cvgate/cvgate/internal/segment"
)

// Encoding says how a mask's pixel values map to class indices.
type Encoding string

// The encodings.
const (
	// Auto reads gray and palette masks as indices and RGB masks through the colour table; with
	// exactly two classes it reads masks as Binary, because a 0/255 foreground mask read as
	// indices would turn every foreground pixel into the ignore index.
	Auto Encoding = ""
	// Index: the pixel value (gray level or palette index) is the class index.
	Index Encoding = "index"
	// Color: RGB colours looked up in Options.Colors.
	Color Encoding = "color"
	// Binary: 0 is background (class 0) and the foreground is 255 in 0/255 masks or 1 in 0/1
	// masks (class 1); in a 0/1 mask, 255 is the ignore index (when ignore_index is 255). In a
	// 0/255 mask 255 is foreground even though it is also the default ignore index. With Options.Threshold > 0,
	// values at or above it are foreground, for soft (alpha matte) masks.
	Binary Encoding = "binary"
)

// Default budgets. 40 million pixels hold a 6000x6000 aerial tile (80 MB as uint16); 256 MiB is
// more than any PNG of that size needs.
const (
	DefaultMaxPixels = 40_000_000
	DefaultMaxBytes  = 256 << 20
)

// Options configure a Reader.
type Options struct {
	Encoding Encoding
	// NumClasses > 0 makes values at or beyond it (other than Ignore) an error.
	NumClasses int
	// Ignore is the ignore index: pixels holding it are left out of the metrics. Nil means
	// segment.DefaultIgnore (255); a negative value means none.
	Ignore *int
	// Colors maps RGB colours to class indices (position in the table) for Color masks.
	Colors []ClassColor
	// IgnoreColor, when set, is the colour of ignored pixels in Color masks (VOC paints its
	// borders 224,224,192); they become the ignore index.
	IgnoreColor *[3]uint8
	// Threshold > 0 switches Binary masks to thresholding: value >= Threshold is foreground.
	Threshold int
	// Foreground fixes the foreground value of Binary masks, 1 or 255. Zero decides per mask: 1
	// when the mask holds a 1, else 255. Set it when 0/1 masks carry 255 borders as the ignore
	// index, so that a mask with a border but no 1 is not read as 0/255.
	Foreground int
	// MaxPixels and MaxBytes bound one mask; 0 means the defaults.
	MaxPixels int64
	MaxBytes  int64
}

// Reader decodes masks with fixed options. It is safe for concurrent use.
type Reader struct {
	opts   Options
	ignore int // -1: none
	colors map[[3]uint8]uint16
}

// NewReader validates the options.
func NewReader(o Options) (*Reader, error) {
	r := &Reader{opts: o, ignore: segment.DefaultIgnore}
	if o.Ignore != nil {
		r.ignore = *o.Ignore
	}
	if r.ignore > 65535 {
		return nil, fmt.Errorf("ignore_index %d: a mask pixel holds at most 65535 (use a negative value for none)", r.ignore)
	}
	if r.ignore < 0 {
		r.ignore = -1
	}
	switch o.Encoding {
	case Auto, Index, Color, Binary:
	default:
		return nil, fmt.Errorf("mask encoding %q: want index, color or binary", o.Encoding)
	}
	if o.NumClasses < 0 || o.NumClasses > 1<<16 {
		return nil, fmt.Errorf("mask classes %d: want 1 to 65536", o.NumClasses)
	}
	if r.ignore >= 0 && r.ignore < o.NumClasses {
		return nil, fmt.Errorf("ignore_index %d is one of the %d classes (0..%d): set ignore_index outside them (255 is the usual value) or to -1 for none", r.ignore, o.NumClasses, o.NumClasses-1)
	}
	if o.Encoding == Color && len(o.Colors) == 0 {
		return nil, errors.New("mask encoding color needs a colour table: list each class as name + [r,g,b] in index order")
	}
	if len(o.Colors) > 0 {
		if err := CheckColors(o.Colors); err != nil {
			return nil, fmt.Errorf("check colour table: %w", err)
		}
		if o.NumClasses > 0 && len(o.Colors) != o.NumClasses {
			return nil, fmt.Errorf("the colour table has %d colours but there are %d classes: give one colour per class, in index order", len(o.Colors), o.NumClasses)
		}
		if len(o.Colors) > 1<<16 {
			return nil, fmt.Errorf("the colour table has %d colours, more than 65536", len(o.Colors))
		}
		r.colors = make(map[[3]uint8]uint16, len(o.Colors))
		for i, c := range o.Colors {
			r.colors[c.RGB] = uint16(i)
		}
		if o.IgnoreColor != nil {
			if r.ignore < 0 {
				return nil, errors.New("an ignore colour needs an ignore_index to map it to")
			}
			if j, ok := r.colors[*o.IgnoreColor]; ok {
				return nil, fmt.Errorf("the ignore colour %s is also the colour of class %q", rgbString(*o.IgnoreColor), o.Colors[j].Name)
			}
		}
	}
	if o.Foreground != 0 && o.Foreground != 1 && o.Foreground != 255 {
		return nil, fmt.Errorf("binary mask foreground %d: want 1 or 255 (0 to decide per mask)", o.Foreground)
	}
	if o.Threshold < 0 || o.Threshold > 65535 {
		return nil, fmt.Errorf("binary mask threshold %d: want 1 to 65535 (0 for strict 0/255 or 0/1 masks)", o.Threshold)
	}
	if r.opts.MaxPixels <= 0 {
		r.opts.MaxPixels = DefaultMaxPixels
	}
	if r.opts.MaxBytes <= 0 {
		r.opts.MaxBytes = DefaultMaxBytes
	}
	return r, nil
}

// Ignore is the ignore index in use, -1 for none.
func (r *Reader) Ignore() int { return r.ignore }

// MaxBytes is the byte budget of one mask file.
func (r *Reader) MaxBytes() int64 { return r.opts.MaxBytes }

// ReadFile reads and decodes the mask at path. When wantW and wantH are positive (the size of the
// mask's image), a mask of any other size is an error naming both sizes.
func (r *Reader) ReadFile(path string, wantW, wantH int) (segment.LabelMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return segment.LabelMap{}, fmt.Errorf("open mask %q: %w", path, err)
	}
	defer f.Close()
	return r.read(path, f, wantW, wantH)
}

// read reads at most MaxBytes from f (the budget holds even when the file grows meanwhile).
func (r *Reader) read(name string, f io.Reader, wantW, wantH int) (segment.LabelMap, error) {
	raw, err := io.ReadAll(io.LimitReader(f, r.opts.MaxBytes+1))
	if err != nil {
		return segment.LabelMap{}, fmt.Errorf("read mask %q: %w", name, err)
	}
	if int64(len(raw)) > r.opts.MaxBytes {
		return segment.LabelMap{}, fmt.Errorf("read mask %q: larger than the %d-byte limit (max_bytes); is it a mask?", name, r.opts.MaxBytes)
	}
	return r.Decode(name, raw, wantW, wantH)
}

// Decode decodes a mask file's bytes; name is only used in errors. See ReadFile for the size check.
func (r *Reader) Decode(name string, raw []byte, wantW, wantH int) (segment.LabelMap, error) {
	fail := func(format string, args ...any) (segment.LabelMap, error) {
		return segment.LabelMap{}, fmt.Errorf("read mask %q: %s", name, fmt.Sprintf(format, args...))
	}
	if len(raw) == 0 {
		return fail("empty file")
	}
	format, decodeConfig, decode := sniff(raw)
	switch format {
	case "jpeg":
		return fail("JPEG is lossy: compression blurs class indices into values between them; save masks as PNG")
	case "":
		return fail("not a PNG, TIFF or BMP file (masks must be lossless images)")
	}
	// The header gives the size before any pixel memory is allocated.
	cfg, err := decodeConfig(bytes.NewReader(raw))
	if err != nil {
		return fail("corrupt %s header: %v", format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return fail("%s has no pixels (%dx%d)", format, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > r.opts.MaxPixels {
		return fail("%dx%d is %d pixels, over the %d-pixel limit (max_pixels)", cfg.Width, cfg.Height, px, r.opts.MaxPixels)
	}
	if wantW > 0 && wantH > 0 && (cfg.Width != wantW || cfg.Height != wantH) {
		hint := "masks must have their image's size"
		if cfg.Width == wantH && cfg.Height == wantW {
			hint += " (width and height are swapped: was one of them rotated, e.g. by EXIF orientation?)"
		}
		return fail("mask is %dx%d but its image is %dx%d: %s", cfg.Width, cfg.Height, wantW, wantH, hint)
	}
	img, err := decode(bytes.NewReader(raw))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fail("truncated %s file", format)
		}
		return fail("corrupt %s: %v", format, err)
	}
	m, err := r.convert(img)
	if err != nil {
		return fail("%v", err)
	}
	return m, nil
}

type decodeConfigFunc func(io.Reader) (image.Config, error)
type decodeFunc func(io.Reader) (image.Image, error)

// sniff names the format by its magic bytes; the decoders are called directly, not through
// image.Decode's global registry, so that only lossless formats are ever tried.
func sniff(raw []byte) (string, decodeConfigFunc, decodeFunc) {
	switch {
	case bytes.HasPrefix(raw, []byte("\x89PNG\r\n\x1a\n")):
		return "png", png.DecodeConfig, png.Decode
	case bytes.HasPrefix(raw, []byte("II*\x00")), bytes.HasPrefix(raw, []byte("MM\x00*")):
		return "tiff", tiff.DecodeConfig, tiff.Decode
	case bytes.HasPrefix(raw, []byte("BM")):
		return "bmp", bmp.DecodeConfig, bmp.Decode
	case bytes.HasPrefix(raw, []byte("\xff\xd8")):
		return "jpeg", nil, nil
	}
	return "", nil, nil
}

// convert maps the decoded pixels to class indices by the encoding.
func (r *Reader) convert(img image.Image) (segment.LabelMap, error) {
	b := img.Bounds()
	m := segment.NewLabelMap(b.Dx(), b.Dy())
	enc := r.opts.Encoding
	switch src := img.(type) {
	case *image.Gray:
		if enc == Color {
			return m, errors.New("is a grayscale image but encoding is color: use encoding index (or save RGB colour masks)")
		}
		for y := 0; y < m.H; y++ {
			row := src.Pix[y*src.Stride : y*src.Stride+m.W]
			out := m.Pix[y*m.W : (y+1)*m.W]
			for x, v := range row {
				out[x] = uint16(v)
			}
		}
	case *image.Gray16:
		if enc == Color {
			return m, errors.New("is a 16-bit grayscale image but encoding is color: use encoding index")
		}
		for y := 0; y < m.H; y++ {
			row := src.Pix[y*src.Stride:]
			out := m.Pix[y*m.W : (y+1)*m.W]
			for x := range out {
				out[x] = uint16(row[2*x])<<8 | uint16(row[2*x+1])
			}
		}
	case *image.Paletted:
		if enc == Color {
			// A palette mask painted with the colour table's colours: look the colours up.
			return m, r.fromColors(m, img)
		}
		for y := 0; y < m.H; y++ {
			row := src.Pix[y*src.Stride : y*src.Stride+m.W]
			out := m.Pix[y*m.W : (y+1)*m.W]
			for x, v := range row {
				out[x] = uint16(v)
			}
		}
	default:
		if r.colors != nil && enc != Index && enc != Binary {
			return m, r.fromColors(m, img)
		}
		if !r.fromGrayRGB(m, img) {
			return m, errors.New("is an RGB colour mask but no colour table is configured: list each class as name + [r,g,b] in index order (or a class file with name r g b lines), or save masks as 8-bit grayscale or palette PNGs holding class indices")
		}
	}
	if enc == Binary || (enc == Auto && r.opts.NumClasses == 2 && r.colors == nil) {
		return m, r.binarize(m)
	}
	return m, r.checkRange(m)
}

// fromGrayRGB takes the value of an RGB image whose every pixel is gray (a gray mask saved as
// RGB); it reports false at the first coloured pixel.
func (r *Reader) fromGrayRGB(m segment.LabelMap, img image.Image) bool {
	b := img.Bounds()
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			c := rgb8(img, b.Min.X+x, b.Min.Y+y)
			if c[0] != c[1] || c[1] != c[2] {
				return false
			}
			m.Pix[y*m.W+x] = uint16(c[0])
		}
	}
	return true
}

// fromColors looks every pixel's colour up in the colour table. Alpha is ignored: colour masks
// are painted opaque, and a transparent pixel's stored colour is still its class colour.
func (r *Reader) fromColors(m segment.LabelMap, img image.Image) error {
	b := img.Bounds()
	unknown := map[[3]uint8]int64{}
	var last [3]uint8
	lastIdx, haveLast := uint16(0), false
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			c := rgb8(img, b.Min.X+x, b.Min.Y+y)
			if haveLast && c == last {
				m.Pix[y*m.W+x] = lastIdx
				continue
			}
			idx, ok := r.colors[c]
			switch {
			case ok:
			case r.opts.IgnoreColor != nil && c == *r.opts.IgnoreColor:
				idx = uint16(r.ignore)
			default:
				unknown[c]++
				continue
			}
			m.Pix[y*m.W+x] = idx
			last, lastIdx, haveLast = c, idx, true
		}
	}
	if len(unknown) > 0 {
		type entry struct {
			c [3]uint8
			n int64
		}
		var es []entry
		var total int64
		for c, n := range unknown {
			es = append(es, entry{c, n})
			total += n
		}
		sort.Slice(es, func(i, j int) bool {
			if es[i].n != es[j].n {
				return es[i].n > es[j].n
			}
			return rgbKey(es[i].c) < rgbKey(es[j].c)
		})
		var parts []string
		for i, e := range es {
			if i == 5 {
				parts = append(parts, fmt.Sprintf("and %d more colours", len(es)-5))
				break
			}
			parts = append(parts, fmt.Sprintf("%s (%d px)", rgbString(e.c), e.n))
		}
		return fmt.Errorf("%d pixels have colours that are not in the colour table: %s; add them to the table (or set the ignore colour), or re-export the mask without antialiasing", total, strings.Join(parts, ", "))
	}
	return nil
}

func rgbKey(c [3]uint8) int { return int(c[0])<<16 | int(c[1])<<8 | int(c[2]) }

// rgb8 is the 8-bit colour of a pixel without premultiplying alpha.
func rgb8(img image.Image, x, y int) [3]uint8 {
	switch s := img.(type) {
	case *image.NRGBA:
		o := s.PixOffset(x, y)
		return [3]uint8{s.Pix[o], s.Pix[o+1], s.Pix[o+2]}
	case *image.RGBA:
		o := s.PixOffset(x, y)
		return [3]uint8{s.Pix[o], s.Pix[o+1], s.Pix[o+2]}
	case *image.Paletted:
		cr, cg, cb, ca := s.Palette[s.ColorIndexAt(x, y)].RGBA()
		return unpremultiply(cr, cg, cb, ca)
	}
	cr, cg, cb, ca := img.At(x, y).RGBA()
	return unpremultiply(cr, cg, cb, ca)
}

func unpremultiply(r, g, b, a uint32) [3]uint8 {
	if a == 0 || a == 0xffff {
		return [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
	}
	return [3]uint8{uint8(r * 0xffff / a >> 8), uint8(g * 0xffff / a >> 8), uint8(b * 0xffff / a >> 8)}
}

// checkRange refuses values at or beyond NumClasses that are not the ignore index.
func (r *Reader) checkRange(m segment.LabelMap) error {
	n := r.opts.NumClasses
	if n <= 0 {
		return nil
	}
	var bad map[uint16]int64
	for _, v := range m.Pix {
		if int(v) >= n && int(v) != r.ignore {
			if bad == nil {
				bad = map[uint16]int64{}
			}
			bad[v]++
		}
	}
	if bad == nil {
		return nil
	}
	ign := "no ignore index"
	if r.ignore >= 0 {
		ign = fmt.Sprintf("the ignore index %d", r.ignore)
	}
	return fmt.Errorf("%s beyond the %d classes (0..%d) and %s; fix the masks, the class list, or ignore_index",
		describeValues(bad), n, n-1, ign)
}

// binarize maps a binary mask to 0 (background) and 1 (foreground); see Binary.
func (r *Reader) binarize(m segment.LabelMap) error {
	if t := r.opts.Threshold; t > 0 {
		for i, v := range m.Pix {
			if int(v) >= t {
				m.Pix[i] = 1
			} else {
				m.Pix[i] = 0
			}
		}
		return nil
	}
	var has1, has255 bool
	var bad map[uint16]int64
	for _, v := range m.Pix {
		switch v {
		case 0:
		case 1:
			has1 = true
		case 255:
			has255 = true
		default:
			if int(v) == r.ignore {
				continue
			}
			if bad == nil {
				bad = map[uint16]int64{}
			}
			bad[v]++
		}
	}
	if bad != nil {
		return fmt.Errorf("is read as a binary mask (0/255 or 0/1) but %s; save hard masks, or set a binary threshold for soft (matte) masks", describeValues(bad))
	}
	fg := uint16(255) // a 0/255 mask
	switch {
	case r.opts.Foreground != 0:
		fg = uint16(r.opts.Foreground)
		if fg == 255 && has1 {
			return errors.New("holds 1s but the binary foreground is 255: is it a 0/1 mask?")
		}
		if fg == 1 && has255 && r.ignore != 255 {
			return errors.New("holds 255s but the binary foreground is 1 and 255 is not the ignore index: is it a 0/255 mask?")
		}
	case has1:
		fg = 1
		if has255 && r.ignore != 255 {
			return errors.New("holds 0, 1 and 255: a binary mask is 0/255 or 0/1 (with 255 as the ignore index only when ignore_index is 255)")
		}
	}
	for i, v := range m.Pix {
		switch {
		case v == fg:
			m.Pix[i] = 1
		case v == 0:
		case int(v) == r.ignore:
		default:
			m.Pix[i] = 0
		}
	}
	return nil
}

// describeValues lists offending values by pixel count, most frequent first, at most five.
func describeValues(bad map[uint16]int64) string {
	vals := make([]uint16, 0, len(bad))
	var total int64
	for v, n := range bad {
		vals = append(vals, v)
		total += n
	}
	sort.Slice(vals, func(i, j int) bool {
		if bad[vals[i]] != bad[vals[j]] {
			return bad[vals[i]] > bad[vals[j]]
		}
		return vals[i] < vals[j]
	})
	var parts []string
	for i, v := range vals {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more values", len(vals)-5))
			break
		}
		parts = append(parts, fmt.Sprintf("%d (%d px)", v, bad[v]))
	}
	return fmt.Sprintf("%d pixels hold values %s", total, strings.Join(parts, ", "))
}
