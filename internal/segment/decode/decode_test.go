package decode

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func randF32(r *rand.Rand, n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = (r.Float32()*2 - 1) * scale
	}
	return v
}

// softmaxNCHW turns logits into per-pixel probabilities.
func softmaxNCHW(v []float32, c, hw int) []float32 {
	out := make([]float32, len(v))
	for n := 0; n < len(v)/(c*hw); n++ {
		for p := 0; p < hw; p++ {
			var sum float64
			for k := 0; k < c; k++ {
				sum += math.Exp(float64(v[(n*c+k)*hw+p]))
			}
			for k := 0; k < c; k++ {
				out[(n*c+k)*hw+p] = float32(math.Exp(float64(v[(n*c+k)*hw+p])) / sum)
			}
		}
	}
	return out
}

func toNHWC(v []float32, n, c, h, w int) []float32 {
	out := make([]float32, len(v))
	for b := 0; b < n; b++ {
		for k := 0; k < c; k++ {
			for p := 0; p < h*w; p++ {
				out[(b*h*w+p)*c+k] = v[(b*c+k)*h*w+p]
			}
		}
	}
	return out
}

func TestResolve(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	logits := func(shape ...int64) Tensor {
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		return Tensor{Name: "out", Shape: shape, F32: randF32(r, int(n), 4)}
	}
	probs := Tensor{Name: "out", Shape: []int64{1, 3, 4, 4}, F32: softmaxNCHW(randF32(r, 48, 3), 3, 16)}
	sig := Tensor{Name: "out", Shape: []int64{1, 1, 8, 8}, F32: make([]float32, 64)}
	for i := range sig.F32 {
		sig.F32[i] = r.Float32()
	}
	tests := []struct {
		name    string
		outs    []Tensor
		cfg     Config
		kind    Kind
		layout  Layout
		act     Activation
		wantErr string
	}{
		{name: "nchw logits", outs: []Tensor{logits(1, 21, 16, 16)}, cfg: Config{NumClasses: 21}, kind: Scores, layout: NCHW, act: Logits},
		{name: "nhwc logits", outs: []Tensor{logits(1, 16, 16, 21)}, cfg: Config{NumClasses: 21}, kind: Scores, layout: NHWC, act: Logits},
		{name: "nchw probabilities", outs: []Tensor{probs}, cfg: Config{NumClasses: 3}, kind: Scores, layout: NCHW, act: Probabilities},
		{name: "two-channel binary as scores", outs: []Tensor{logits(1, 2, 8, 8)}, cfg: Config{NumClasses: 2}, kind: Scores, layout: NCHW, act: Logits},
		{name: "int64 indices nhw", outs: []Tensor{{Name: "out", Shape: []int64{2, 8, 8}, I64: make([]int64, 128)}}, cfg: Config{NumClasses: 21}, kind: Indices, layout: NHW},
		{name: "int32 indices n1hw", outs: []Tensor{{Name: "out", Shape: []int64{1, 1, 8, 8}, I32: make([]int32, 64)}}, cfg: Config{NumClasses: 21}, kind: Indices, layout: NCHW},
		{name: "float indices n1hw", outs: []Tensor{{Name: "out", Shape: []int64{1, 1, 8, 8}, F32: make([]float32, 64)}}, cfg: Config{NumClasses: 5}, kind: Indices, layout: NCHW},
		{name: "sigmoid probabilities", outs: []Tensor{sig}, cfg: Config{NumClasses: 2}, kind: Binary, layout: NCHW, act: Probabilities},
		{name: "single-channel logits", outs: []Tensor{logits(1, 1, 8, 8)}, cfg: Config{NumClasses: 2}, kind: Binary, layout: NCHW, act: Logits},
		{name: "nhwc single channel", outs: []Tensor{logits(1, 8, 8, 1)}, cfg: Config{NumClasses: 2}, kind: Binary, layout: NHWC, act: Logits},
		{name: "declared layout breaks a tie", outs: []Tensor{logits(1, 21, 21, 21)}, cfg: Config{NumClasses: 21, Layout: NHWC}, kind: Scores, layout: NHWC, act: Logits},
		{name: "named among several", outs: []Tensor{{Name: "aux", Shape: []int64{1, 21, 8, 8}, F32: make([]float32, 21*64)}, logits(1, 21, 8, 8)},
			cfg: Config{NumClasses: 21, Output: "out"}, kind: Scores, layout: NCHW, act: Logits},
		{name: "only one map among outputs", outs: []Tensor{{Name: "score", Shape: []int64{1, 21}, F32: make([]float32, 21)}, logits(1, 21, 8, 8)},
			cfg: Config{NumClasses: 21}, kind: Scores, layout: NCHW, act: Logits},

		{name: "channels differ from classes", outs: []Tensor{logits(1, 19, 32, 32)}, cfg: Config{NumClasses: 21},
			wantErr: `output "out" [1,19,32,32]: 19 score channels (NCHW) but 21 classes: the model and the class list disagree`},
		{name: "nhwc channels differ", outs: []Tensor{logits(1, 32, 32, 19)}, cfg: Config{NumClasses: 21}, wantErr: "19 score channels (NHWC) but 21 classes"},
		{name: "declared layout with other channels", outs: []Tensor{logits(1, 19, 32, 32)}, cfg: Config{NumClasses: 21, Layout: NCHW}, wantErr: "19 score channels but 21 classes"},
		{name: "ambiguous layout", outs: []Tensor{logits(1, 21, 21, 21)}, cfg: Config{NumClasses: 21},
			wantErr: "both dimension 1 and 3 could be the 21 class channels: set segmentation.output_kind (scores, indices, binary) and segmentation.output_layout"},
		{name: "several candidate outputs", outs: []Tensor{logits(1, 21, 8, 8), {Name: "aux", Shape: []int64{1, 21, 8, 8}, F32: make([]float32, 21*64)}},
			cfg: Config{NumClasses: 21}, wantErr: `several outputs could be the segmentation map ("out" float32 [1,21,8,8], "aux" float32 [1,21,8,8]): set segmentation.output`},
		{name: "named output missing", outs: []Tensor{logits(1, 21, 8, 8)}, cfg: Config{NumClasses: 21, Output: "seg"}, wantErr: `segmentation.output "seg": the model has no such output`},
		{name: "no map output", outs: []Tensor{{Name: "p", Shape: []int64{1, 10}, F32: make([]float32, 10)}}, cfg: Config{NumClasses: 10}, wantErr: "no output is a"},
		{name: "no classes", outs: []Tensor{logits(1, 21, 8, 8)}, cfg: Config{}, wantErr: "0 classes; give the class names"},
		{name: "binary with three classes", outs: []Tensor{logits(1, 1, 8, 8)}, cfg: Config{NumClasses: 3, Kind: Binary}, wantErr: "binary outputs score two classes"},
		{name: "integer scores", outs: []Tensor{{Name: "out", Shape: []int64{1, 21, 8, 8}, I64: make([]int64, 21*64)}}, cfg: Config{NumClasses: 21}, wantErr: "score maps must be float32"},
		{name: "bad threshold", outs: []Tensor{sig}, cfg: Config{NumClasses: 2, Threshold: 1.5}, wantErr: "segmentation.threshold 1.5"},
		{name: "bad kind", outs: []Tensor{sig}, cfg: Config{NumClasses: 2, Kind: "mask"}, wantErr: `segmentation.output_kind "mask"`},
		{name: "symbolic dimension", outs: []Tensor{{Name: "out", Shape: []int64{-1, 21, 8, 8}, F32: make([]float32, 21*64)}}, cfg: Config{NumClasses: 21}, wantErr: "not a concrete size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Resolve(tc.outs, tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.kind != tc.kind || d.layout != tc.layout || d.activation != tc.act {
				t.Errorf("got %s %s %s, want %s %s %s", d.kind, d.layout, d.activation, tc.kind, tc.layout, tc.act)
			}
			if !strings.Contains(d.Describe(), "inferred") && tc.cfg.Layout == "" {
				t.Errorf("Describe() = %q does not say what was inferred", d.Describe())
			}
		})
	}
}

// naiveScores resizes each class plane with torch's bilinear formula (align_corners=False)
// evaluated directly per label pixel in float64, and returns the argmax and the top-2 gap.
func naiveScores(v []float32, c, oh, ow, h, w int) ([]uint16, []float64) {
	src := func(dst, in, out int) (int, int, float64) {
		s := (float64(dst)+0.5)*float64(in)/float64(out) - 0.5
		if s < 0 {
			s = 0
		}
		lo := int(math.Floor(s))
		if lo > in-1 {
			lo = in - 1
		}
		hi := lo + 1
		if hi > in-1 {
			hi = in - 1
		}
		return lo, hi, s - float64(lo)
	}
	idx := make([]uint16, h*w)
	gap := make([]float64, h*w)
	for y := 0; y < h; y++ {
		y0, y1, wy := src(y, oh, h)
		for x := 0; x < w; x++ {
			x0, x1, wx := src(x, ow, w)
			best, second, bi := math.Inf(-1), math.Inf(-1), 0
			for k := 0; k < c; k++ {
				p := func(yy, xx int) float64 { return float64(v[(k*oh+yy)*ow+xx]) }
				s := (1-wy)*((1-wx)*p(y0, x0)+wx*p(y0, x1)) + wy*((1-wx)*p(y1, x0)+wx*p(y1, x1))
				if s > best {
					second, best, bi = best, s, k
				} else if s > second {
					second = s
				}
			}
			idx[y*w+x], gap[y*w+x] = uint16(bi), best-second
		}
	}
	return idx, gap
}

func TestDecodeScoresResize(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		c, oh, ow, h, w int
	}{
		{21, 16, 16, 64, 64}, // 4x upsampling, the usual stride-4/8 head
		{5, 10, 7, 33, 50},   // non-integer factors, non-square
		{3, 40, 40, 17, 23},  // downsampling
		{4, 9, 9, 9, 9},      // identity
	} {
		logits := randF32(r, tc.c*tc.oh*tc.ow, 5)
		for _, layout := range []Layout{NCHW, NHWC} {
			shape := []int64{1, int64(tc.c), int64(tc.oh), int64(tc.ow)}
			data := logits
			if layout == NHWC {
				shape = []int64{1, int64(tc.oh), int64(tc.ow), int64(tc.c)}
				data = toNHWC(logits, 1, tc.c, tc.oh, tc.ow)
			}
			outs := []Tensor{{Name: "logits", Shape: shape, F32: data}}
			d, err := Resolve(outs, Config{NumClasses: tc.c, Layout: layout, Confidence: true})
			if err != nil {
				t.Fatal(err)
			}
			var p Prediction
			var sc Scratch
			if err := d.Decode(outs, 0, Stretch(tc.w, tc.h, tc.ow*3, tc.oh*3), &p, &sc); err != nil {
				t.Fatal(err)
			}
			want, gap := naiveScores(logits, tc.c, tc.oh, tc.ow, tc.h, tc.w)
			for i := range want {
				if p.Map.Pix[i] != want[i] && gap[i] > 1e-5 {
					t.Fatalf("%+v %s pixel %d: class %d, want %d (gap %g)", tc, layout, i, p.Map.Pix[i], want[i], gap[i])
				}
			}
			if p.Resized != (tc.oh != tc.h || tc.ow != tc.w) {
				t.Errorf("%+v: Resized = %v", tc, p.Resized)
			}
			for _, c := range p.Conf {
				if !(c >= 1/float32(tc.c)-1e-6 && c <= 1) {
					t.Fatalf("confidence %g outside [1/C, 1]", c)
				}
			}
		}
	}
}

func TestDecodeTiesAndConfidence(t *testing.T) {
	// Two pixels: classes 1 and 2 tie at the first (the lower index wins); class 0 wins the second.
	outs := []Tensor{{Name: "o", Shape: []int64{1, 3, 1, 2}, F32: []float32{0, 5, 2, 1, 2, 1}}}
	d, err := Resolve(outs, Config{NumClasses: 3, Confidence: true})
	if err != nil {
		t.Fatal(err)
	}
	var p Prediction
	if err := d.Decode(outs, 0, Stretch(2, 1, 2, 1), &p, &Scratch{}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Map.Pix, []uint16{1, 0}) {
		t.Fatalf("map %v, want [1 0]", p.Map.Pix)
	}
	want0 := math.Exp(2) / (1 + 2*math.Exp(2))
	want1 := math.Exp(5) / (math.Exp(5) + math.Exp(1) + math.Exp(1))
	if math.Abs(float64(p.Conf[0])-want0) > 1e-6 || math.Abs(float64(p.Conf[1])-want1) > 1e-6 {
		t.Errorf("confidence %v, want [%g %g]", p.Conf, want0, want1)
	}
}

func TestDecodeBinary(t *testing.T) {
	probs := []float32{0.1, 0.5, 0.51, 0.9}
	logit := make([]float32, 4)
	for i, p := range probs {
		logit[i] = float32(math.Log(float64(p) / (1 - float64(p))))
	}
	for _, tc := range []struct {
		name string
		data []float32
		cfg  Config
		want []uint16
	}{
		{"probabilities", probs, Config{NumClasses: 2, Confidence: true}, []uint16{0, 0, 1, 1}},
		{"logits declared", logit, Config{NumClasses: 2, Activation: Logits, Confidence: true}, []uint16{0, 0, 1, 1}},
		{"threshold 0.3", probs, Config{NumClasses: 2, Threshold: 0.3, Confidence: true}, []uint16{0, 1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outs := []Tensor{{Name: "mask", Shape: []int64{1, 1, 2, 2}, F32: tc.data}}
			d, err := Resolve(outs, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var p Prediction
			if err := d.Decode(outs, 0, Stretch(2, 2, 2, 2), &p, &Scratch{}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Map.Pix, tc.want) {
				t.Fatalf("map %v, want %v", p.Map.Pix, tc.want)
			}
			for i, pr := range probs {
				want := pr
				if tc.want[i] == 0 {
					want = 1 - pr
				}
				if math.Abs(float64(p.Conf[i]-want)) > 1e-5 {
					t.Errorf("conf[%d] = %g, want %g", i, p.Conf[i], want)
				}
			}
		})
	}
}

func TestDecodeIndices(t *testing.T) {
	// A 2x2 index map upsampled to 4x4 by nearest: each value fills a 2x2 block.
	want := []uint16{0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3}
	for _, tc := range []struct {
		name string
		t    Tensor
	}{
		{"int64", Tensor{Name: "i", Shape: []int64{1, 2, 2}, I64: []int64{0, 1, 2, 3}}},
		{"int32", Tensor{Name: "i", Shape: []int64{1, 1, 2, 2}, I32: []int32{0, 1, 2, 3}}},
		{"uint8", Tensor{Name: "i", Shape: []int64{1, 2, 2, 1}, U8: []uint8{0, 1, 2, 3}}},
		{"float", Tensor{Name: "i", Shape: []int64{1, 1, 2, 2}, F32: []float32{0, 1, 2, 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outs := []Tensor{tc.t}
			d, err := Resolve(outs, Config{NumClasses: 4, Kind: Indices, Layout: map[int]Layout{3: NHW, 4: ""}[len(tc.t.Shape)]})
			if err != nil {
				t.Fatal(err)
			}
			var p Prediction
			if err := d.Decode(outs, 0, Stretch(4, 4, 8, 8), &p, &Scratch{}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Map.Pix, want) {
				t.Fatalf("map %v, want %v", p.Map.Pix, want)
			}
		})
	}
	for _, tc := range []struct {
		name    string
		t       Tensor
		wantErr string
	}{
		{"beyond the classes", Tensor{Name: "i", Shape: []int64{1, 2, 2}, I64: []int64{0, 1, 9, 3}}, "not class indices 0..3 (first: 9 at (0,1))"},
		{"negative", Tensor{Name: "i", Shape: []int64{1, 2, 2}, I32: []int32{0, -1, 2, 3}, I64: nil}, "-1 at (1,0)"},
		{"fractional float", Tensor{Name: "i", Shape: []int64{1, 1, 2, 2}, F32: []float32{0, 0.5, 2, 3}}, "0.5 at (1,0)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outs := []Tensor{tc.t}
			layout := Layout("")
			if len(tc.t.Shape) == 3 {
				layout = NHW
			}
			d, err := Resolve(outs, Config{NumClasses: 4, Kind: Indices, Layout: layout})
			if err != nil {
				t.Fatal(err)
			}
			err = d.Decode(outs, 0, Stretch(2, 2, 2, 2), &Prediction{}, &Scratch{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestLetterboxInverse(t *testing.T) {
	// A 100x50 image letterboxed into 64x64: scaled to 64x32 at rows 16..47. The model's
	// 16x16 output paints the padding class 2 and the image rows with class 0 (left half) and 1.
	g := Letterbox(100, 50, 64, 64, true)
	if g.CW != 64 || g.CH != 32 || g.X0 != 0 || g.Y0 != 16 {
		t.Fatalf("letterbox geometry %+v", g)
	}
	const c, oh, ow = 3, 16, 16
	v := make([]float32, c*oh*ow)
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			k := 2
			if y >= 4 && y < 12 { // input rows 16..47
				k = 0
				if x >= ow/2 {
					k = 1
				}
			}
			v[(k*oh+y)*ow+x] = 10
		}
	}
	outs := []Tensor{{Name: "o", Shape: []int64{1, c, oh, ow}, F32: v}}
	d, err := Resolve(outs, Config{NumClasses: c})
	if err != nil {
		t.Fatal(err)
	}
	var p Prediction
	if err := d.Decode(outs, 0, g, &p, &Scratch{}); err != nil {
		t.Fatal(err)
	}
	var counts [3]int
	for y := 0; y < 50; y++ {
		for x := 0; x < 100; x++ {
			k := p.Map.At(x, y)
			counts[k]++
			if want := map[bool]uint16{true: 0, false: 1}[x < 50]; k != want && y > 2 && y < 47 {
				t.Fatalf("pixel (%d,%d) = %d, want %d", x, y, k, want)
			}
		}
	}
	if counts[2] != 0 {
		t.Errorf("%d label pixels took the padding's class", counts[2])
	}
	if err := (Geometry{W: 10, H: 10, InW: 8, InH: 8, X0: -1, CW: 10, CH: 8}).Validate(); err == nil || !strings.Contains(err.Error(), "center crop") {
		t.Errorf("a cropped geometry validates: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	v := make([]float32, 21*64)
	v[5] = float32(math.NaN())
	outs := []Tensor{{Name: "o", Shape: []int64{1, 21, 8, 8}, F32: v}}
	d, err := Resolve(outs, Config{NumClasses: 21, Activation: Logits})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		outs    []Tensor
		n       int
		wantErr string
	}{
		{"nan", outs, 0, "1 NaN values"},
		{"item beyond the batch", outs, 1, "the batch has 1 items"},
		{"channels changed", []Tensor{{Name: "o", Shape: []int64{1, 20, 8, 8}, F32: make([]float32, 20*64)}}, 0, "20 score channels but 21 classes"},
		{"short data", []Tensor{{Name: "o", Shape: []int64{1, 21, 8, 8}, F32: make([]float32, 10)}}, 0, "holds 10 values, its shape needs 1344"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := d.Decode(tc.outs, tc.n, Stretch(8, 8, 8, 8), &Prediction{}, &Scratch{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	outs := []Tensor{{Name: "o", Shape: []int64{2, 21, 32, 32}, F32: randF32(r, 2*21*32*32, 3)}}
	d, err := Resolve(outs, Config{NumClasses: 21, Confidence: true})
	if err != nil {
		t.Fatal(err)
	}
	var p Prediction
	var sc Scratch
	g := Stretch(128, 96, 128, 128)
	if err := d.Decode(outs, 1, g, &p, &sc); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(5, func() { _ = d.Decode(outs, 1, g, &p, &sc) }); a != 0 {
		t.Errorf("Decode allocates %v times per call with a warm scratch", a)
	}
}
