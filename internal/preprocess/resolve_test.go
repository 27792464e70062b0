package preprocess

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/onnx"
)

func ptr[T any](v T) *T { return &v }

func input(dtype onnx.DType, shape ...int64) onnx.TensorInfo {
	return onnx.TensorInfo{Name: "x", DType: dtype, ElemType: string(dtype), Shape: shape}
}

// mustResolve resolves a spec or fails the test.
func mustResolve(t testing.TB, c config.Preprocess, in onnx.TensorInfo) Spec {
	t.Helper()
	s, err := Resolve(c, in)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// specView is the part of a Spec a test states.
type specView struct {
	Layout        Layout
	Width, Height int
	Channels      int
	Order         string
	Dims          []int64
}

var (
	imagenetMean = [3]float64{0.485, 0.456, 0.406}
	imagenetStd  = [3]float64{0.229, 0.224, 0.225}
	noMean       = [3]float64{}
	unitStd      = [3]float64{1, 1, 1}
)

func TestResolveShapes(t *testing.T) {
	f32 := onnx.Float32
	tests := []struct {
		name string
		cfg  config.Preprocess
		in   onnx.TensorInfo
		want specView
	}{
		{name: "NCHW gray", in: input(f32, -1, 1, 28, 28), want: specView{NCHW, 28, 28, 1, "gray", []int64{1, 28, 28}}},
		{name: "NHWC gray", in: input(f32, -1, 28, 28, 1), want: specView{NHWC, 28, 28, 1, "gray", []int64{28, 28, 1}}},
		{name: "NCHW colour", in: input(f32, -1, 3, 224, 224), want: specView{NCHW, 224, 224, 3, "rgb", []int64{3, 224, 224}}},
		{name: "NHWC colour", in: input(f32, -1, 224, 224, 3), want: specView{NHWC, 224, 224, 3, "rgb", []int64{224, 224, 3}}},
		{name: "non-square fixed batch", in: input(f32, 1, 1, 32, 24), want: specView{NCHW, 24, 32, 1, "gray", []int64{1, 32, 24}}},
		{name: "NHW", in: input(f32, -1, 28, 28), want: specView{NHW, 28, 28, 1, "gray", []int64{28, 28}}},
		{name: "flat square", in: input(f32, -1, 784), want: specView{Flat, 28, 28, 1, "gray", []int64{784}}},
		{name: "flat non-square with size", cfg: config.Preprocess{Size: []int{30, 20}}, in: input(f32, -1, 600), want: specView{Flat, 30, 20, 1, "gray", []int64{600}}},
		{name: "flat dynamic with size", cfg: config.Preprocess{Size: []int{16, 8}}, in: input(f32, -1, -1), want: specView{Flat, 16, 8, 1, "gray", []int64{128}}},
		{name: "dynamic size from config", cfg: config.Preprocess{Size: []int{160, 120}}, in: input(f32, -1, 3, -1, -1), want: specView{NCHW, 160, 120, 3, "rgb", []int64{3, 120, 160}}},
		{name: "dynamic NHWC", cfg: config.Preprocess{Size: []int{64, 48}}, in: input(f32, -1, -1, -1, 3), want: specView{NHWC, 64, 48, 3, "rgb", []int64{48, 64, 3}}},
		{name: "size agreeing with the model", cfg: config.Preprocess{Size: []int{24, 32}}, in: input(f32, 1, 1, 32, 24), want: specView{NCHW, 24, 32, 1, "gray", []int64{1, 32, 24}}},
		{name: "dynamic size from preset", cfg: config.Preprocess{Preset: "imagenet"}, in: input(f32, -1, 3, -1, -1), want: specView{NCHW, 224, 224, 3, "rgb", []int64{3, 224, 224}}},
		{name: "explicit layout for tiny images", cfg: config.Preprocess{Layout: "nchw"}, in: input(f32, -1, 3, 3, 3), want: specView{NCHW, 3, 3, 3, "rgb", []int64{3, 3, 3}}},
		{name: "layout name case", cfg: config.Preprocess{Layout: "NHWC"}, in: input(f32, -1, 4, 4, 3), want: specView{NHWC, 4, 4, 3, "rgb", []int64{4, 4, 3}}},
		{name: "bgr", cfg: config.Preprocess{Color: "bgr"}, in: input(f32, -1, 3, 32, 32), want: specView{NCHW, 32, 32, 3, "bgr", []int64{3, 32, 32}}},
		{name: "uint8", in: input(onnx.Uint8, -1, 224, 224, 3), want: specView{NHWC, 224, 224, 3, "rgb", []int64{224, 224, 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustResolve(t, tt.cfg, tt.in)
			got := specView{s.Layout, s.Width, s.Height, s.Channels, s.Order, s.Dims}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
			if s.SampleSize() != int(product(s.Dims)) {
				t.Errorf("SampleSize = %d, want the product of Dims %v", s.SampleSize(), s.Dims)
			}
			if s.DType != tt.in.DType {
				t.Errorf("DType = %s, want %s", s.DType, tt.in.DType)
			}
		})
	}
}

func product(dims []int64) int64 {
	p := int64(1)
	for _, d := range dims {
		p *= d
	}
	return p
}

func TestResolveNormalisation(t *testing.T) {
	tests := []struct {
		name      string
		cfg       config.Preprocess
		in        onnx.TensorInfo
		scale     float64
		mean, std [3]float64
		crop      float64
		filter    Filter
		convert   bool
	}{
		{name: "default float", in: input(onnx.Float32, -1, 1, 28, 28), scale: 1.0 / 255, mean: noMean, std: unitStd, filter: Bilinear},
		{name: "default uint8", in: input(onnx.Uint8, -1, 1, 28, 28), scale: 1, mean: noMean, std: unitStd, filter: Bilinear},
		{name: "imagenet", cfg: config.Preprocess{Preset: "imagenet"}, in: input(onnx.Float32, -1, 3, 224, 224), scale: 1.0 / 255, mean: imagenetMean, std: imagenetStd, crop: 0.875, filter: Bilinear},
		{name: "imagenet stretched", cfg: config.Preprocess{Preset: "imagenet", Fit: "stretch"}, in: input(onnx.Float32, -1, 3, 224, 224), scale: 1.0 / 255, mean: imagenetMean, std: imagenetStd, filter: Bilinear},
		{name: "imagenet with own mean", cfg: config.Preprocess{Preset: "imagenet", Mean: []float64{0.5}}, in: input(onnx.Float32, -1, 3, 224, 224), scale: 1.0 / 255, mean: [3]float64{0.5, 0.5, 0.5}, std: imagenetStd, crop: 0.875, filter: Bilinear},
		{name: "inception", cfg: config.Preprocess{Preset: "inception"}, in: input(onnx.Float32, -1, 3, 299, 299), scale: 1.0 / 255, mean: [3]float64{0.5, 0.5, 0.5}, std: [3]float64{0.5, 0.5, 0.5}, crop: 0.875, filter: Bilinear},
		{name: "raw", cfg: config.Preprocess{Preset: "raw"}, in: input(onnx.Float32, -1, 1, 28, 28), scale: 1, mean: noMean, std: unitStd, filter: Bilinear},
		{name: "unit", cfg: config.Preprocess{Preset: "unit"}, in: input(onnx.Float32, -1, 1, 28, 28), scale: 1.0 / 255, mean: noMean, std: unitStd, filter: Bilinear},
		{name: "explicit scale beats the preset", cfg: config.Preprocess{Preset: "raw", Scale: ptr(0.5)}, in: input(onnx.Float32, -1, 1, 28, 28), scale: 0.5, mean: noMean, std: unitStd, filter: Bilinear},
		{name: "mean and std", cfg: config.Preprocess{Mean: []float64{0.1, 0.2, 0.3}, Std: []float64{0.4}}, in: input(onnx.Float32, -1, 3, 32, 32), scale: 1.0 / 255, mean: [3]float64{0.1, 0.2, 0.3}, std: [3]float64{0.4, 0.4, 0.4}, filter: Bilinear},
		{name: "fit crop default fraction", cfg: config.Preprocess{Fit: "crop", Resize: "area"}, in: input(onnx.Float32, -1, 3, 32, 32), scale: 1.0 / 255, mean: noMean, std: unitStd, crop: 0.875, filter: Area},
		{name: "center crop alone", cfg: config.Preprocess{CenterCrop: 0.9, Resize: "nearest"}, in: input(onnx.Float32, -1, 3, 32, 32), scale: 1.0 / 255, mean: noMean, std: unitStd, crop: 0.9, filter: Nearest},
		{name: "uint8 with scale 1", cfg: config.Preprocess{Scale: ptr(1.0)}, in: input(onnx.Uint8, -1, 3, 32, 32), scale: 1, mean: noMean, std: unitStd, filter: Bilinear},
		{name: "colour conversion requested", cfg: config.Preprocess{Color: "rgb"}, in: input(onnx.Float32, -1, 3, 32, 32), scale: 1.0 / 255, mean: noMean, std: unitStd, filter: Bilinear, convert: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustResolve(t, tt.cfg, tt.in)
			if s.Scale != tt.scale || s.Mean != tt.mean || s.Std != tt.std || s.CropFraction != tt.crop || s.Filter != tt.filter || s.ConvertColor != tt.convert {
				t.Errorf("scale %g mean %v std %v crop %g filter %s convert %v;\nwant  %g mean %v std %v crop %g filter %s convert %v",
					s.Scale, s.Mean, s.Std, s.CropFraction, s.Filter, s.ConvertColor, tt.scale, tt.mean, tt.std, tt.crop, tt.filter, tt.convert)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	f32 := onnx.Float32
	tests := []struct {
		name    string
		cfg     config.Preprocess
		in      onnx.TensorInfo
		wantErr []string
	}{
		{name: "dynamic size", in: input(f32, -1, 3, -1, -1), wantErr: []string{`input "x" [?,3,?,?]`, "dynamic", "set preprocess.size"}},
		{name: "ambiguous tiny shape", in: input(f32, -1, 3, 3, 3), wantErr: []string{"[?,3,3,3]", "set preprocess.layout"}},
		{name: "no channel dimension", in: input(f32, -1, 2, 28, 28), wantErr: []string{"no dimension of 1 or 3 channels", "preprocess.layout"}},
		{name: "dynamic channels", in: input(f32, -1, -1, 28, 28), wantErr: []string{"preprocess.layout"}},
		{name: "rank 5", in: input(f32, -1, 1, 3, 28, 28), wantErr: []string{"rank 5 input", "preprocess.layout"}},
		{name: "rank 1", in: input(f32, -1), wantErr: []string{"rank 1 input"}},
		{name: "rank 0", in: input(f32), wantErr: []string{`input "x" []`, "rank 0"}},
		{name: "four channels by layout", cfg: config.Preprocess{Layout: "nchw"}, in: input(f32, -1, 4, 28, 28), wantErr: []string{"dimension 1 is 4, not 1 or 3 channels"}},
		{name: "NHWC layout on an NCHW shape", cfg: config.Preprocess{Layout: "nhwc"}, in: input(f32, -1, 1, 28, 28), wantErr: []string{"preprocess.layout nhwc", "dimension 3 is 28"}},
		{name: "layout rank mismatch", cfg: config.Preprocess{Layout: "nhw"}, in: input(f32, -1, 1, 28, 28), wantErr: []string{"rank 3 (with batch), the model's has rank 4"}},
		{name: "flat not square", in: input(f32, -1, 600), wantErr: []string{"600 values is not a square image", "preprocess.size"}},
		{name: "flat size disagrees", cfg: config.Preprocess{Size: []int{20, 20}}, in: input(f32, -1, 600), wantErr: []string{"preprocess.size"}},
		{name: "size disagrees", cfg: config.Preprocess{Size: []int{32, 32}}, in: input(f32, -1, 1, 28, 28), wantErr: []string{"preprocess.size 32x32 disagrees with the model's fixed 28x28"}},
		{name: "uint8 with scale", cfg: config.Preprocess{Scale: ptr(1.0 / 255)}, in: input(onnx.Uint8, -1, 3, 32, 32), wantErr: []string{"uint8 pixels", "preprocess.scale/mean/std"}},
		{name: "uint8 with a preset", cfg: config.Preprocess{Preset: "imagenet"}, in: input(onnx.Uint8, -1, 3, 224, 224), wantErr: []string{"uint8 pixels"}},
		{name: "uint8 with mean", cfg: config.Preprocess{Mean: []float64{0.5}}, in: input(onnx.Uint8, -1, 3, 32, 32), wantErr: []string{"uint8 pixels"}},
		{name: "rgb on a gray model", cfg: config.Preprocess{Color: "rgb"}, in: input(f32, -1, 1, 28, 28), wantErr: []string{"preprocess.color rgb", "takes 1 channel"}},
		{name: "gray on a colour model", cfg: config.Preprocess{Color: "gray"}, in: input(f32, -1, 3, 28, 28), wantErr: []string{"preprocess.color gray", "takes 3 channels"}},
		{name: "float16", in: onnx.TensorInfo{Name: "x", DType: onnx.Other, ElemType: "float16", Shape: []int64{-1, 3, 32, 32}}, wantErr: []string{"element type float16 is not supported"}},
		{name: "float64", in: onnx.TensorInfo{Name: "x", DType: onnx.Float64, ElemType: "float64", Shape: []int64{-1, 3, 32, 32}}, wantErr: []string{"element type float64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Resolve(tt.cfg, tt.in)
			if err == nil {
				t.Fatalf("Resolve succeeded (%s); want an error", s.Describe())
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestResolveSource(t *testing.T) {
	s := mustResolve(t, config.Preprocess{}, input(onnx.Float32, -1, 1, 28, 28))
	for _, w := range []string{"inferred from input [?,1,28,28]", "layout NCHW inferred", "set preprocess.mean/std (or preset: imagenet)"} {
		if !strings.Contains(s.Source, w) {
			t.Errorf("Source %q does not say %q", s.Source, w)
		}
	}
	s = mustResolve(t, config.Preprocess{Preset: "imagenet", Size: []int{224, 224}}, input(onnx.Float32, -1, 3, -1, -1))
	for _, w := range []string{"config, completed from input [?,3,?,?]", "preset imagenet", "size 224x224 from config"} {
		if !strings.Contains(s.Source, w) {
			t.Errorf("Source %q does not say %q", s.Source, w)
		}
	}
	if strings.Contains(s.Source, "no mean/std assumed") {
		t.Errorf("Source %q warns about normalisation although a preset sets it", s.Source)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		cfg  config.Preprocess
		in   onnx.TensorInfo
		want string
	}{
		{in: input(onnx.Float32, -1, 1, 28, 28), want: "gray 28x28, NCHW float32, bilinear, x/255"},
		{cfg: config.Preprocess{Preset: "imagenet"}, in: input(onnx.Float32, -1, 3, 224, 224),
			want: "rgb 224x224, NCHW float32, bilinear + center crop 0.875, x/255, mean [0.485 0.456 0.406] std [0.229 0.224 0.225]"},
		{cfg: config.Preprocess{Scale: ptr(1.0), Mean: []float64{127.5}, Std: []float64{127.5}, Color: "bgr"}, in: input(onnx.Float32, -1, 64, 32, 3),
			want: "bgr 32x64, NHWC float32, bilinear, x*1, mean [127.5 127.5 127.5] std [127.5 127.5 127.5]"},
		{in: input(onnx.Uint8, -1, 28, 28), want: "gray 28x28, NHW uint8, bilinear, raw 0..255"},
	}
	for _, tt := range tests {
		if got := mustResolve(t, tt.cfg, tt.in).Describe(); got != tt.want {
			t.Errorf("Describe = %q\nwant       %q", got, tt.want)
		}
	}
}

func TestCheckChannels(t *testing.T) {
	gray := mustResolve(t, config.Preprocess{}, input(onnx.Float32, -1, 1, 28, 28))
	grayConvert := mustResolve(t, config.Preprocess{Color: "gray"}, input(onnx.Float32, -1, 1, 28, 28))
	rgb := mustResolve(t, config.Preprocess{}, input(onnx.Float32, -1, 3, 28, 28))
	rgbConvert := mustResolve(t, config.Preprocess{Color: "rgb"}, input(onnx.Float32, -1, 3, 28, 28))
	tests := []struct {
		name     string
		spec     Spec
		channels int
		wantErr  string
	}{
		{name: "gray to gray", spec: gray, channels: 1},
		{name: "colour to colour", spec: rgb, channels: 3},
		{name: "colour to gray", spec: gray, channels: 3, wantErr: "set preprocess.color: gray"},
		{name: "gray to colour", spec: rgb, channels: 1, wantErr: "set preprocess.color: rgb"},
		{name: "colour to gray, allowed", spec: grayConvert, channels: 3},
		{name: "gray to colour, allowed", spec: rgbConvert, channels: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.CheckChannels(tt.channels)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("CheckChannels(%d) = %v, want nil", tt.channels, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("CheckChannels(%d) = %v, want an error saying %q", tt.channels, err, tt.wantErr)
			}
		})
	}
}

// TestResolveForData: dynamic height and width take the one size every image of the data has (and
// the source says so); a size from the config, the model or a preset comes first; mixed sizes
// still need preprocess.size, and the error lists them.
func TestResolveForData(t *testing.T) {
	f32 := onnx.Float32
	uniform := DataSizes{Width: 192, Height: 48, Distinct: 1, Examples: []string{"192x48"}}
	mixed := DataSizes{Distinct: 2, Examples: []string{"28x28", "32x32"}}
	tests := []struct {
		name       string
		cfg        config.Preprocess
		in         onnx.TensorInfo
		data       DataSizes
		w, h       int
		wantSource string
		wantErr    []string
	}{
		{name: "uniform data fills dynamic dims", in: input(f32, -1, 1, -1, -1), data: uniform, w: 192, h: 48,
			wantSource: "size 192x48 inferred from the data (every image is 192x48"},
		{name: "dynamic flat input", in: input(f32, -1, -1), data: uniform, w: 192, h: 48, wantSource: "inferred from the data"},
		{name: "the model's fixed size wins", in: input(f32, -1, 1, 28, 28), data: uniform, w: 28, h: 28},
		{name: "the config wins", cfg: config.Preprocess{Size: []int{64, 32}}, in: input(f32, -1, 1, -1, -1), data: uniform, w: 64, h: 32, wantSource: "size 64x32 from config"},
		{name: "a preset wins", cfg: config.Preprocess{Preset: "imagenet"}, in: input(f32, -1, 3, -1, -1), data: uniform, w: 224, h: 224},
		{name: "mixed sizes", in: input(f32, -1, 1, -1, -1), data: mixed, wantErr: []string{"2 different sizes (28x28, 32x32)", "preprocess.size", "--size WxH"}},
		{name: "no data known", in: input(f32, -1, 1, -1, -1), wantErr: []string{"dynamic", "--size WxH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ResolveForData(tt.cfg, tt.in, tt.data)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("resolved %s; want an error", s.Describe())
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Width != tt.w || s.Height != tt.h {
				t.Errorf("size %dx%d, want %dx%d", s.Width, s.Height, tt.w, tt.h)
			}
			if !strings.Contains(s.Source, tt.wantSource) {
				t.Errorf("source %q lacks %q", s.Source, tt.wantSource)
			}
			if tt.wantSource == "" && strings.Contains(s.Source, "from the data") {
				t.Errorf("source %q claims the data decided", s.Source)
			}
		})
	}
}

// TestEffectiveMatchesPreprocess: what `cvgate config` prints for an unset resize and pad value
// is what Resolve does with them.
func TestEffectiveMatchesPreprocess(t *testing.T) {
	s := mustResolve(t, config.Preprocess{}, input(onnx.Float32, -1, 1, 28, 28))
	if got := config.UnsetMeaning("preprocess.resize"); got != string(s.Filter) {
		t.Errorf("cvgate config says resize %q, Resolve uses %q", got, s.Filter)
	}
	lb := mustResolve(t, config.Preprocess{Fit: "letterbox"}, input(onnx.Float32, -1, 3, 64, 64))
	if got := config.UnsetMeaning("preprocess.pad_value"); got != strconv.FormatFloat(lb.PadValue, 'g', -1, 64) {
		t.Errorf("cvgate config says pad_value %q, Resolve uses %g", got, lb.PadValue)
	}
}
