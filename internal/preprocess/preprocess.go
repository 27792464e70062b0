// Package preprocess turns decoded images into a model's input tensor: colour conversion, resize
// (optionally resize-then-center-crop), scaling, per-channel mean/std and layout. A Spec is a
// plain value resolved once per model from the config and the model's input signature; applying
// it is a pure function of the image.
package preprocess

import (
	"fmt"
	"math"
	"strings"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
)

// Layout is the order of a tensor's dimensions after the batch dimension.
type Layout string

// The layouts.
const (
	NCHW Layout = "nchw"
	NHWC Layout = "nhwc"
	NHW  Layout = "nhw"  // gray without a channel dimension
	Flat Layout = "flat" // gray, flattened to H*W
)

// Spec is a resolved preprocessing recipe.
type Spec struct {
	Width, Height int
	Channels      int    // 1 or 3
	Order         string // "gray", "rgb" or "bgr"
	Layout        Layout
	DType         onnx.DType // float32 or uint8
	Filter        Filter
	// CropFraction > 0 resizes so that the output is this fraction of the resized image, then
	// center-crops (torchvision's Resize(size/f) + CenterCrop(size)).
	CropFraction float64
	// Letterbox keeps the aspect ratio: the image is scaled to fit inside Width x Height, centred,
	// and the border filled with PadValue (0..255 source units), as YOLO exports expect.
	Letterbox bool
	PadValue  float64
	Scale     float64
	Mean, Std [3]float64
	// ConvertColor allows converting images whose channel count differs from the model's.
	ConvertColor bool
	// Dims is the per-sample tensor shape (without batch) as fed to the model.
	Dims []int64
	// Source explains where each choice came from, for the report.
	Source string

	cache *tapsCache
}

// DataSizes describes the image sizes of the data set a model will be fed.
type DataSizes struct {
	// Width and Height are the size every image has, or 0 when the sizes differ or are unknown.
	Width, Height int
	// Distinct is how many different sizes there are (0: unknown); Examples names a few, e.g.
	// "28x28".
	Distinct int
	Examples []string
}

// Resolve builds the Spec for a model input from the config. Anything the config leaves unset is
// inferred from the input shape when unambiguous; otherwise the error says which key to set.
func Resolve(c config.Preprocess, in onnx.TensorInfo) (Spec, error) {
	return ResolveForData(c, in, DataSizes{})
}

// ResolveForData is Resolve for a known data set: when the model's height and width are dynamic
// and neither the config nor a preset sets them, the one size every image has is used (and the
// report says it was inferred); only mixed sizes need preprocess.size.
func ResolveForData(c config.Preprocess, in onnx.TensorInfo, data DataSizes) (Spec, error) {
	s := Spec{DType: in.DType, Filter: Bilinear, cache: &tapsCache{}}
	var notes []string
	fail := func(format string, args ...any) (Spec, error) {
		return Spec{}, fmt.Errorf("input %q %s: %s", in.Name, in.ShapeString(), fmt.Sprintf(format, args...))
	}
	if in.DType != onnx.Float32 && in.DType != onnx.Uint8 {
		return fail("element type %s is not supported (float32 or uint8)", in.ElemType)
	}

	// Preset defaults, overridden field by field by explicit config.
	preset := presets[c.Preset]
	if c.Preset != "" {
		notes = append(notes, "preset "+c.Preset)
	}

	if len(in.Shape) == 0 {
		return fail("a rank 0 (scalar) input is not an image batch")
	}
	dims := in.Shape[1:]
	layout := Layout(strings.ToLower(c.Layout))
	if layout == "" || layout == "auto" {
		var err error
		if layout, err = inferLayout(dims); err != nil {
			return fail("%v; set preprocess.layout (nchw, nhwc, nhw or flat)", err)
		}
		notes = append(notes, "layout "+strings.ToUpper(string(layout))+" inferred from the input shape")
	} else if err := checkLayout(layout, dims); err != nil {
		return fail("preprocess.layout %s: %v", layout, err)
	}
	s.Layout = layout

	// Size and channels from the shape; dynamic spatial dimensions need preprocess.size.
	var h, w int64
	switch layout {
	case NCHW:
		s.Channels, h, w = int(dims[0]), dims[1], dims[2]
	case NHWC:
		h, w, s.Channels = dims[0], dims[1], int(dims[2])
	case NHW:
		s.Channels, h, w = 1, dims[0], dims[1]
	case Flat:
		s.Channels = 1
		if dims[0] > 0 {
			side := int64(math.Round(math.Sqrt(float64(dims[0]))))
			if side*side != dims[0] {
				if len(c.Size) != 2 || int64(c.Size[0]*c.Size[1]) != dims[0] {
					return fail("a flat input of %d values is not a square image; set preprocess.size [width, height]", dims[0])
				}
				side = 0
			}
			h, w = side, side
		} else {
			h, w = -1, -1
		}
	}
	if s.Channels != 1 && s.Channels != 3 {
		return fail("%d channels: cvgate feeds gray (1) or colour (3) images", s.Channels)
	}
	switch {
	case len(c.Size) == 2:
		if (w > 0 && int64(c.Size[0]) != w) || (h > 0 && int64(c.Size[1]) != h) {
			return fail("preprocess.size %dx%d disagrees with the model's fixed %dx%d (width x height)", c.Size[0], c.Size[1], w, h)
		}
		s.Width, s.Height = c.Size[0], c.Size[1]
		notes = append(notes, fmt.Sprintf("size %dx%d from config", s.Width, s.Height))
	case w > 0 && h > 0:
		s.Width, s.Height = int(w), int(h)
	case preset.size > 0:
		s.Width, s.Height = preset.size, preset.size
	case data.Width > 0 && data.Height > 0:
		s.Width, s.Height = data.Width, data.Height
		notes = append(notes, fmt.Sprintf("size %dx%d inferred from the data (every image is %dx%d; the model's height and width are dynamic)", s.Width, s.Height, s.Width, s.Height))
	case data.Distinct > 1:
		return fail("the image height/width are dynamic and the images have %d different sizes (%s): set preprocess.size [width, height] or pass --size WxH",
			data.Distinct, strings.Join(data.Examples, ", "))
	default:
		return fail("the image height/width are dynamic; set preprocess.size [width, height] or pass --size WxH")
	}

	switch c.Color {
	case "":
		if s.Channels == 1 {
			s.Order = "gray"
		} else {
			s.Order = "rgb"
		}
	case "gray":
		if s.Channels != 1 {
			return fail("preprocess.color gray, but the model takes %d channels", s.Channels)
		}
		s.Order, s.ConvertColor = "gray", true
	case "rgb", "bgr":
		if s.Channels != 3 {
			return fail("preprocess.color %s, but the model takes %d channel", c.Color, s.Channels)
		}
		s.Order, s.ConvertColor = c.Color, true
	}

	if c.Resize != "" {
		s.Filter = Filter(c.Resize)
	}
	switch {
	case c.Fit == "crop" || (c.Fit == "" && c.CenterCrop > 0):
		s.CropFraction = c.CenterCrop
		if s.CropFraction == 0 {
			s.CropFraction = 0.875
		}
	case c.Fit == "letterbox" || (c.Fit == "" && preset.letterbox):
		s.Letterbox, s.PadValue = true, 114
		if c.PadValue != nil {
			s.PadValue = *c.PadValue
		}
	case c.Fit == "" && preset.crop > 0:
		s.CropFraction = preset.crop
	}

	s.Scale = 1.0 / 255
	if in.DType == onnx.Uint8 {
		s.Scale = 1
	} else if preset.scale > 0 {
		s.Scale = preset.scale
	}
	if c.Scale != nil {
		s.Scale = *c.Scale
	}
	s.Mean, s.Std = [3]float64{0, 0, 0}, [3]float64{1, 1, 1}
	if preset.mean != nil {
		s.Mean, s.Std = expand(preset.mean), expand(preset.std)
	}
	if len(c.Mean) > 0 {
		s.Mean = expand(c.Mean)
	}
	if len(c.Std) > 0 {
		s.Std = expand(c.Std)
	}
	if in.DType == onnx.Uint8 && (s.Scale != 1 || s.Mean != [3]float64{} || s.Std != [3]float64{1, 1, 1}) {
		return fail("the model takes uint8 pixels, so preprocess.scale/mean/std cannot apply; remove them")
	}

	switch layout {
	case NCHW:
		s.Dims = []int64{int64(s.Channels), int64(s.Height), int64(s.Width)}
	case NHWC:
		s.Dims = []int64{int64(s.Height), int64(s.Width), int64(s.Channels)}
	case NHW:
		s.Dims = []int64{int64(s.Height), int64(s.Width)}
	case Flat:
		s.Dims = []int64{int64(s.Height * s.Width)}
	}
	s.Source = describeSource(s, in, c, notes)
	return s, nil
}

type presetValues struct {
	size      int
	crop      float64
	scale     float64
	mean, std []float64
	letterbox bool
}

// presets are the preprocessing conventions most exported models were trained with.
var presets = map[string]presetValues{
	"imagenet":  {size: 224, crop: 0.875, mean: []float64{0.485, 0.456, 0.406}, std: []float64{0.229, 0.224, 0.225}},
	"inception": {size: 299, crop: 0.875, mean: []float64{0.5, 0.5, 0.5}, std: []float64{0.5, 0.5, 0.5}},
	"unit":      {scale: 1.0 / 255},
	"raw":       {scale: 1},
	// yolo: Ultralytics exports (YOLOv5/v8/v11): letterbox to the input size, pad 114, RGB / 255.
	"yolo": {scale: 1.0 / 255, letterbox: true},
}

func expand(v []float64) [3]float64 {
	if len(v) == 1 {
		return [3]float64{v[0], v[0], v[0]}
	}
	return [3]float64{v[0], v[1], v[2]}
}

func isChan(d int64) bool { return d == 1 || d == 3 }

// inferLayout reads the layout off a per-sample shape. Spatial dimensions must be larger than 4 (or
// dynamic) so that [3,H,W] and [H,W,3] cannot be confused.
func inferLayout(dims []int64) (Layout, error) {
	spatial := func(d int64) bool { return d < 0 || d > 4 }
	switch len(dims) {
	case 3:
		chw := isChan(dims[0]) && spatial(dims[1]) && spatial(dims[2])
		hwc := isChan(dims[2]) && spatial(dims[0]) && spatial(dims[1])
		switch {
		case chw && !hwc:
			return NCHW, nil
		case hwc && !chw:
			return NHWC, nil
		case chw && hwc:
			return "", fmt.Errorf("both NCHW and NHWC fit")
		}
		return "", fmt.Errorf("no dimension of 1 or 3 channels beside two spatial dimensions")
	case 2:
		return NHW, nil
	case 1:
		return Flat, nil
	}
	return "", fmt.Errorf("rank %d input (with batch) is not an image batch", len(dims)+1)
}

func checkLayout(l Layout, dims []int64) error {
	want := map[Layout]int{NCHW: 3, NHWC: 3, NHW: 2, Flat: 1}[l]
	if len(dims) != want {
		return fmt.Errorf("needs an input of rank %d (with batch), the model's has rank %d", want+1, len(dims)+1)
	}
	if l == NCHW && dims[0] > 0 && !isChan(dims[0]) {
		return fmt.Errorf("dimension 1 is %d, not 1 or 3 channels", dims[0])
	}
	if l == NHWC && dims[2] > 0 && !isChan(dims[2]) {
		return fmt.Errorf("dimension 3 is %d, not 1 or 3 channels", dims[2])
	}
	return nil
}

func describeSource(s Spec, in onnx.TensorInfo, c config.Preprocess, notes []string) string {
	origin := "inferred from input " + in.ShapeString()
	if c.Preset != "" || len(c.Size) > 0 || c.Scale != nil || len(c.Mean) > 0 || c.Color != "" || (c.Layout != "" && c.Layout != "auto") {
		origin = "config, completed from input " + in.ShapeString()
	}
	parts := []string{origin}
	parts = append(parts, notes...)
	if in.DType == onnx.Float32 && c.Scale == nil && len(c.Mean) == 0 && c.Preset == "" {
		parts = append(parts, "scale 1/255 and no mean/std assumed: set preprocess.mean/std (or preset: imagenet) if the model was trained with normalisation")
	}
	return strings.Join(parts, "; ")
}

// Describe is a one-line human description, e.g. "gray 28x28, NCHW float32, bilinear, x/255".
func (s Spec) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %dx%d, %s %s, %s", s.Order, s.Width, s.Height, strings.ToUpper(string(s.Layout)), s.DType, s.Filter)
	if s.CropFraction > 0 {
		fmt.Fprintf(&b, " + center crop %.3g", s.CropFraction)
	}
	if s.Letterbox {
		fmt.Fprintf(&b, " letterbox (pad %g)", s.PadValue)
	}
	if s.DType == onnx.Uint8 {
		b.WriteString(", raw 0..255")
		return b.String()
	}
	if math.Abs(s.Scale-1.0/255) < 1e-12 {
		b.WriteString(", x/255")
	} else {
		fmt.Fprintf(&b, ", x*%g", s.Scale)
	}
	if s.Mean != [3]float64{} || s.Std != [3]float64{1, 1, 1} {
		fmt.Fprintf(&b, ", mean %v std %v", trim3(s.Mean, s.Channels), trim3(s.Std, s.Channels))
	}
	return b.String()
}

func trim3(v [3]float64, c int) []float64 { return v[:c] }

// SampleSize is the number of tensor elements per image.
func (s Spec) SampleSize() int { return s.Width * s.Height * s.Channels }

// CheckChannels returns an error when images with the given channel count cannot be fed to this
// model without an explicit conversion rule (preprocess.color).
func (s Spec) CheckChannels(imageChannels int) error {
	if imageChannels == s.Channels || s.ConvertColor {
		return nil
	}
	if s.Channels == 3 {
		return fmt.Errorf("the model takes 3-channel colour images but the images are grayscale; set preprocess.color: rgb to replicate gray into 3 channels")
	}
	return fmt.Errorf("the model takes 1-channel gray images but the images are in colour; set preprocess.color: gray to convert them (ITU-R BT.601 luma)")
}

// Scratch holds per-goroutine buffers so that Apply does not allocate in the hot path.
type Scratch struct {
	tmp, plane, gray []float32
}

// View returns the image as the model sees it, before scaling and normalisation: converted to the
// model's colour mode, resized and cropped, quantised to 8 bits. Failure-case exports use it.
func (s Spec) View(img *imaging.Image) *imaging.Image {
	var sc Scratch
	plane := s.resize(img.Pix, img.Width, img.Height, img.Channels, &sc, nil)
	out := imaging.New(s.Width, s.Height, s.Channels)
	for i := range out.Pix {
		out.Pix[i] = clampByte(plane[i])
	}
	// The view is shown to people, so it stays RGB even for BGR models.
	return out
}

// resize converts the colour mode and resamples into an interleaved float32 plane of
// Width*Height*Channels values in 0..255 (source units), in RGB (or gray) order.
func (s Spec) resize(pix []uint8, w, h, c int, sc *Scratch, fpix []float32) []float32 {
	n := s.Width * s.Height * s.Channels
	if cap(sc.plane) < n {
		sc.plane = make([]float32, n)
	}
	plane := sc.plane[:n]
	// Convert colour before resampling when it reduces work (RGB -> gray); replicate gray after.
	srcC := c
	if fpix == nil && c == 3 && s.Channels == 1 {
		pix = imaging.ToGrayPix(pix)
		srcC = 1
	}
	if fpix != nil && c == 3 && s.Channels == 1 {
		fpix = grayFloat(fpix)
		srcC = 1
	}
	// Images already at the model's size (the common case for curated sets) need no resampling:
	// the separable filter would only multiply every pixel by a weight of 1.
	if s.Letterbox && (w != s.Width || h != s.Height) {
		return s.letterbox(pix, fpix, w, h, srcC, sc, plane)
	}
	identity := w == s.Width && h == s.Height && s.CropFraction == 0
	if identity && srcC == s.Channels {
		if fpix != nil {
			copy(plane, fpix)
		} else {
			for i, v := range pix[:n] {
				plane[i] = float32(v)
			}
		}
		return plane
	}
	tx, ty := s.axisTaps(w, h)
	if srcC == s.Channels {
		if fpix != nil {
			resample(fpix, w, srcC, tx, ty, plane, &sc.tmp)
		} else {
			resample(pix, w, srcC, tx, ty, plane, &sc.tmp)
		}
		return plane
	}
	// Gray source, colour model: resample once, then replicate.
	if cap(sc.gray) < s.Width*s.Height {
		sc.gray = make([]float32, s.Width*s.Height)
	}
	one := sc.gray[:s.Width*s.Height]
	if fpix != nil {
		resample(fpix, w, 1, tx, ty, one, &sc.tmp)
	} else {
		resample(pix, w, 1, tx, ty, one, &sc.tmp)
	}
	for i, v := range one {
		plane[3*i], plane[3*i+1], plane[3*i+2] = v, v, v
	}
	return plane
}

func (s Spec) axisTaps(w, h int) (*taps, *taps) {
	cache := s.cache
	if cache == nil {
		cache = &tapsCache{}
	}
	fullW, fullH, offX, offY := s.cropGeometry(w, h)
	tx := cache.get(tapsKey{filter: s.Filter, src: w, dst: s.Width, full: fullW, offset: offX})
	ty := cache.get(tapsKey{filter: s.Filter, src: h, dst: s.Height, full: fullH, offset: offY})
	return tx, ty
}

// cropGeometry is the size the whole image is resized to and the offset of the kept window.
func (s Spec) cropGeometry(w, h int) (fullW, fullH, offX, offY int) {
	fullW, fullH = s.Width, s.Height
	if s.CropFraction > 0 {
		// Resize so that the crop is CropFraction of the resized image along the binding axis
		// (the shorter side, for a square crop), keeping the aspect ratio, then take the centre.
		// The integer steps are torchvision's Resize(int(size/f)) + CenterCrop(size): the binding
		// side becomes int(size/f), the other int(new*other/binding), truncated, and the crop
		// starts at Python's round((full-size)/2), which rounds half to even. Rounding differently
		// shifts a 500x375 photo's crop by a pixel.
		if float64(s.Width)/float64(w) >= float64(s.Height)/float64(h) {
			fullW = int(float64(s.Width) / s.CropFraction)
			fullH = int(float64(fullW*h) / float64(w))
		} else {
			fullH = int(float64(s.Height) / s.CropFraction)
			fullW = int(float64(fullH*w) / float64(h))
		}
		fullW, fullH = max(fullW, s.Width), max(fullH, s.Height)
		offX = int(math.RoundToEven(float64(fullW-s.Width) / 2))
		offY = int(math.RoundToEven(float64(fullH-s.Height) / 2))
	}
	return fullW, fullH, offX, offY
}

// Apply writes the tensor of one image into dst (SampleSize float32 values) for float32 models.
func (s Spec) Apply(img *imaging.Image, dst []float32, sc *Scratch) {
	plane := s.resize(img.Pix, img.Width, img.Height, img.Channels, sc, nil)
	s.normalize(plane, dst, 1)
}

// ApplyFloat is Apply for a working image with values in [0,1] (adversarial attacks).
func (s Spec) ApplyFloat(img *imaging.Float, dst []float32, sc *Scratch) {
	var plane []float32
	if !s.Letterbox && s.CropFraction == 0 && img.Width == s.Width && img.Height == s.Height && img.Channels == s.Channels {
		// At the model's size resizing is the identity (resize would copy the pixels into its
		// scratch plane), so normalize reads the image itself: attacks send thousands of such
		// images per attacked one.
		plane = img.Pix
	} else {
		plane = s.resize(nil, img.Width, img.Height, img.Channels, sc, img.Pix)
	}
	s.normalize(plane, dst, 255)
}

// ApplyUint8 writes the tensor of one image into dst (SampleSize bytes) for uint8 models.
func (s Spec) ApplyUint8(img *imaging.Image, dst []uint8, sc *Scratch) {
	plane := s.resize(img.Pix, img.Width, img.Height, img.Channels, sc, nil)
	s.layoutBytes(plane, dst, 1)
}

// ApplyFloatUint8 is ApplyUint8 for a working image in [0,1].
func (s Spec) ApplyFloatUint8(img *imaging.Float, dst []uint8, sc *Scratch) {
	plane := s.resize(nil, img.Width, img.Height, img.Channels, sc, img.Pix)
	s.layoutBytes(plane, dst, 255)
}

// normalize applies ((v*unit)*scale - mean)/std per channel and writes in the model's layout and
// channel order. unit converts the plane to 0..255 units (1 for byte sources, 255 for [0,1]).
// The arithmetic is float64, rounded once to float32: a float32 multiply by 1/255 is off by one
// ulp for half of the byte values, where float64 gives exactly what training code's x/255 gives.
// It costs no measurable time.
func (s Spec) normalize(plane, dst []float32, unit float64) {
	c := s.Channels
	var a, b [3]float64
	for ch := 0; ch < c; ch++ {
		a[ch] = unit * s.Scale / s.Std[ch]
		b[ch] = -s.Mean[ch] / s.Std[ch]
	}
	hw := s.Width * s.Height
	if c == 1 {
		a0, b0 := a[0], b[0]
		if a0 == 1 && b0 == 0 {
			// The identity ([0,1] input, mean 0, std 1, as MNIST models take): float32 to float64
			// and back is exact, so a copy writes the same values, several times faster.
			copy(dst[:hw], plane[:hw])
			return
		}
		for i, v := range plane[:hw] {
			dst[i] = float32(float64(v)*a0 + b0)
		}
		return
	}
	r, g, bl := 0, 1, 2
	if s.Order == "bgr" {
		r, bl = 2, 0
	}
	src := [3]int{r, g, bl} // output channel k takes plane channel src[k]
	if s.Layout == NHWC {
		for i := 0; i < hw; i++ {
			for k := 0; k < 3; k++ {
				ch := src[k]
				dst[3*i+k] = float32(float64(plane[3*i+ch])*a[ch] + b[ch])
			}
		}
		return
	}
	for k := 0; k < 3; k++ {
		ch := src[k]
		out := dst[k*hw : (k+1)*hw]
		ak, bk := a[ch], b[ch]
		for i := range out {
			out[i] = float32(float64(plane[3*i+ch])*ak + bk)
		}
	}
}

func (s Spec) layoutBytes(plane []float32, dst []uint8, unit float32) {
	c := s.Channels
	hw := s.Width * s.Height
	if c == 1 {
		for i, v := range plane[:hw] {
			dst[i] = clampByte(v * unit)
		}
		return
	}
	r, g, bl := 0, 1, 2
	if s.Order == "bgr" {
		r, bl = 2, 0
	}
	src := [3]int{r, g, bl}
	for i := 0; i < hw; i++ {
		for k := 0; k < 3; k++ {
			v := clampByte(plane[3*i+src[k]] * unit)
			if s.Layout == NHWC {
				dst[3*i+k] = v
			} else {
				dst[k*hw+i] = v
			}
		}
	}
}

func clampByte(v float32) uint8 {
	if !(v > 0) {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v + 0.5)
}

func grayFloat(p []float32) []float32 {
	out := make([]float32, len(p)/3)
	for i := range out {
		out[i] = 0.299*p[3*i] + 0.587*p[3*i+1] + 0.114*p[3*i+2]
	}
	return out
}

// SameTensor reports whether two specs turn every image into the same tensor, so that a batch
// prepared for one model can be fed to the other (a candidate and its baseline usually share
// preprocessing). Source, which only explains the choices, does not count.
func (s Spec) SameTensor(o Spec) bool {
	if len(s.Dims) != len(o.Dims) {
		return false
	}
	for i := range s.Dims {
		if s.Dims[i] != o.Dims[i] {
			return false
		}
	}
	return s.Width == o.Width && s.Height == o.Height && s.Channels == o.Channels && s.Order == o.Order &&
		s.Layout == o.Layout && s.DType == o.DType && s.Filter == o.Filter && s.CropFraction == o.CropFraction &&
		s.Letterbox == o.Letterbox && s.PadValue == o.PadValue &&
		s.Scale == o.Scale && s.Mean == o.Mean && s.Std == o.Std && s.ConvertColor == o.ConvertColor
}
