package decode

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/detect/box"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var approx = cmpopts.EquateApprox(1e-6, 1e-9)

func det(x1, y1, x2, y2 float64, class int, score float64) box.Detection {
	return box.Detection{Box: box.Box{X1: x1, Y1: y1, X2: x2, Y2: y2}, Class: class, Score: score}
}

func mustResolve(t *testing.T, outs []Output, cfg Config) *Decoder {
	t.Helper()
	d, err := Resolve(outs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// head3 is a 3-class, 4-anchor YOLOv8 head [1, 7, 4] in anchor-major rows (cx, cy, w, h, scores):
// anchors 0 and 1 are the same class-0 object (IoU 0.905), anchor 2 overlaps them as class 1,
// anchor 3 scores below every threshold used.
var head3 = [][]float32{
	{20, 20, 20, 20, 0.9, 0.1, 0.0},
	{21, 20, 20, 20, 0.8, 0.0, 0.0},
	{20, 21, 20, 20, 0.1, 0.7, 0.0},
	{60, 60, 10, 10, 0.01, 0.02, 0.03},
}

func channelsFirst(rows [][]float32) []float32 {
	A, W := len(rows), len(rows[0])
	out := make([]float32, A*W)
	for a, r := range rows {
		for c, v := range r {
			out[c*A+a] = v
		}
	}
	return out
}

func flatten(rows [][]float32) []float32 {
	var out []float32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func TestDecodeRawHeads(t *testing.T) {
	want := []box.Detection{det(10, 10, 30, 30, 0, 0.9), det(10, 11, 30, 31, 1, 0.7)}
	v5 := make([][]float32, len(head3))
	for i, r := range head3 {
		// Objectness 1 except anchor 1; YOLOv5 scores are objectness x class score.
		obj := float32(1)
		if i == 1 {
			obj = 0.5
		}
		v5[i] = append(append(append([]float32{}, r[:4]...), obj), r[4:]...)
	}
	tests := []struct {
		name string
		conv Convention
		t    Tensor
		cfg  Config
		want []box.Detection
	}{
		{"yolov8", YOLOv8, Tensor{Shape: []int64{1, 7, 4}, F32: channelsFirst(head3)}, Config{ScoreThreshold: 0.25}, want},
		{"yolov8 transposed", YOLOv8Transposed, Tensor{Shape: []int64{1, 4, 7}, F32: flatten(head3)}, Config{ScoreThreshold: 0.25}, want},
		{"yolov5", YOLOv5, Tensor{Shape: []int64{1, 4, 8}, F32: flatten(v5)}, Config{ScoreThreshold: 0.25}, want},
		{"agnostic", YOLOv8, Tensor{Shape: []int64{1, 7, 4}, F32: channelsFirst(head3)}, Config{ScoreThreshold: 0.25, Agnostic: true}, want[:1]},
		{"loose IoU keeps the duplicate", YOLOv8, Tensor{Shape: []int64{1, 7, 4}, F32: channelsFirst(head3)},
			Config{ScoreThreshold: 0.25, IoUThreshold: 0.95}, []box.Detection{want[0], det(11, 10, 31, 30, 0, 0.8), want[1]}},
		{"multi-label", YOLOv8, Tensor{Shape: []int64{1, 7, 4}, F32: channelsFirst(head3)},
			Config{ScoreThreshold: 0.05, IoUThreshold: 0.95, MultiLabel: true},
			// Two candidates tie at 0.1: anchor 0's class 1 comes before anchor 2's class 0.
			[]box.Detection{want[0], det(11, 10, 31, 30, 0, 0.8), want[1], det(10, 10, 30, 30, 1, 0.1), det(10, 11, 30, 31, 0, 0.1)}},
		{"multi-label suppressed within the class", YOLOv8, Tensor{Shape: []int64{1, 7, 4}, F32: channelsFirst(head3)},
			Config{ScoreThreshold: 0.05, MultiLabel: true}, want},
		{"max detections", YOLOv8, Tensor{Shape: []int64{1, 7, 4}, F32: channelsFirst(head3)}, Config{ScoreThreshold: 0.25, MaxDetections: 1}, want[:1]},
		{"nothing above threshold", YOLOv8, Tensor{Shape: []int64{1, 7, 4}, F32: channelsFirst(head3)}, Config{ScoreThreshold: 0.95}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.t.Name = "out"
			tt.cfg.Convention = tt.conv
			d := mustResolve(t, []Output{{Name: "out", Shape: tt.t.Shape}}, tt.cfg)
			got, err := d.Decode([]Tensor{tt.t}, 1)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got[0], approx, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("detections differ (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTransposedHeadsAgree decodes one random head in both YOLOv8 layouts and in the YOLOv5
// layout with objectness 1: the detections must be identical.
func TestTransposedHeadsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const A, C = 500, 7
	rows := make([][]float32, A)
	for a := range rows {
		rows[a] = []float32{float32(rng.Float64() * 320), float32(rng.Float64() * 320), float32(5 + rng.Float64()*60), float32(5 + rng.Float64()*60)}
		for range C {
			rows[a] = append(rows[a], float32(rng.Float64()))
		}
	}
	v5 := make([][]float32, A)
	for a, r := range rows {
		v5[a] = append(append(append([]float32{}, r[:4]...), 1), r[4:]...)
	}
	decode := func(conv Convention, shape []int64, data []float32) []box.Detection {
		d := mustResolve(t, []Output{{Name: "o", Shape: shape}}, Config{Convention: conv, ScoreThreshold: 0.3, IoUThreshold: 0.5})
		got, err := d.Decode([]Tensor{{Name: "o", Shape: shape, F32: data}}, 1)
		if err != nil {
			t.Fatal(err)
		}
		return got[0]
	}
	a := decode(YOLOv8, []int64{1, 4 + C, A}, channelsFirst(rows))
	b := decode(YOLOv8Transposed, []int64{1, A, 4 + C}, flatten(rows))
	c := decode(YOLOv5, []int64{1, A, 5 + C}, flatten(v5))
	if len(a) < 20 {
		t.Fatalf("only %d detections: the test input is too sparse", len(a))
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("transposed layout differs:\n%s", diff)
	}
	if diff := cmp.Diff(a, c); diff != "" {
		t.Errorf("YOLOv5 layout differs:\n%s", diff)
	}
}

func TestDecodeLogits(t *testing.T) {
	logit := func(p float64) float32 { return float32(math.Log(p / (1 - p))) }
	rows := [][]float32{{20, 20, 20, 20, logit(0.9), logit(0.2)}, {80, 80, 20, 20, logit(0.3), logit(0.6)}}
	shape := []int64{1, 6, 2}
	d := mustResolve(t, []Output{{Name: "o", Shape: shape}}, Config{Convention: YOLOv8, Logits: true, ScoreThreshold: 0.5})
	got, err := d.Decode([]Tensor{{Name: "o", Shape: shape, F32: channelsFirst(rows)}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []box.Detection{det(10, 10, 30, 30, 0, 0.9), det(70, 70, 90, 90, 1, 0.6)}
	if diff := cmp.Diff(want, got[0], approx); diff != "" {
		t.Errorf("detections differ (-want +got):\n%s", diff)
	}
	// The same logits read as probabilities: a score above 1 is an error that names the fix.
	d = mustResolve(t, []Output{{Name: "o", Shape: shape}}, Config{Convention: YOLOv8, ScoreThreshold: 0.5})
	if _, err := d.Decode([]Tensor{{Name: "o", Shape: shape, F32: channelsFirst(rows)}}, 1); err == nil || !strings.Contains(err.Error(), "scores_are_logits") {
		t.Errorf("logits read as probabilities: err = %v", err)
	}
}

func TestDecodeEncodings(t *testing.T) {
	// One torchvision-style detection in every encoding and unit; all describe [10,20]-[50,80] in a 100x200 input.
	tests := []struct {
		enc   Encoding
		units Units
		v     [4]float32
	}{
		{XYXY, Pixels, [4]float32{10, 20, 50, 80}},
		{XYWH, Pixels, [4]float32{10, 20, 40, 60}},
		{CXCYWH, Pixels, [4]float32{30, 50, 40, 60}},
		{YXYX, Pixels, [4]float32{20, 10, 80, 50}},
		{XYXY, Normalized, [4]float32{0.1, 0.1, 0.5, 0.4}},
		{YXYX, Normalized, [4]float32{0.1, 0.1, 0.4, 0.5}},
	}
	for _, tt := range tests {
		t.Run(string(tt.enc)+"/"+string(tt.units), func(t *testing.T) {
			outs := []Output{{Name: "boxes", Shape: []int64{1, 4}}, {Name: "scores", Shape: []int64{1}}, {Name: "labels", Shape: []int64{1}, Int: true}}
			d := mustResolve(t, outs, Config{Encoding: tt.enc, Units: tt.units, InputWidth: 100, InputHeight: 200})
			got, err := d.Decode([]Tensor{
				{Name: "boxes", Shape: []int64{1, 4}, F32: tt.v[:]}, {Name: "scores", Shape: []int64{1}, F32: []float32{0.5}},
				{Name: "labels", Shape: []int64{1}, I64: []int64{2}},
			}, 1)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]box.Detection{det(10, 20, 50, 80, 2, 0.5)}, got[0], approx); diff != "" {
				t.Errorf("detections differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodePostNMS(t *testing.T) {
	tv := []Output{{Name: "boxes", Shape: []int64{-1, 4}}, {Name: "scores", Shape: []int64{-1}}, {Name: "labels", Shape: []int64{-1}, Int: true}}
	tests := []struct {
		name    string
		outs    []Output
		cfg     Config
		ts      []Tensor
		batch   int
		want    [][]box.Detection
		dropped int64
	}{
		{"torchvision, 1-based labels", tv, Config{LabelOffset: 1, ScoreThreshold: 0.3}, []Tensor{
			{Name: "boxes", Shape: []int64{3, 4}, F32: []float32{0, 0, 10, 10, 5, 5, 20, 20, 1, 1, 2, 2}},
			{Name: "scores", Shape: []int64{3}, F32: []float32{0.4, 0.9, 0.2}},
			{Name: "labels", Shape: []int64{3}, I64: []int64{1, 3, 1}},
		}, 1, [][]box.Detection{{det(5, 5, 20, 20, 2, 0.9), det(0, 0, 10, 10, 0, 0.4)}}, 0},
		{"torchvision, COCO category ids", tv, Config{LabelIDs: []int64{1, 3, 90}}, []Tensor{
			{Name: "boxes", Shape: []int64{3, 4}, F32: []float32{0, 0, 10, 10, 5, 5, 20, 20, 1, 1, 2, 2}},
			{Name: "scores", Shape: []int64{3}, F32: []float32{0.4, 0.9, 0.2}},
			{Name: "labels", Shape: []int64{3}, I64: []int64{90, 2, 1}},
		}, 1, [][]box.Detection{{det(0, 0, 10, 10, 2, 0.4), det(1, 1, 2, 2, 0, 0.2)}}, 1},
		{"batched with counts", []Output{{Name: "det_boxes", Shape: []int64{2, 2, 4}}, {Name: "det_scores", Shape: []int64{2, 2}},
			{Name: "det_classes", Shape: []int64{2, 2}, Int: true}, {Name: "num_dets", Shape: []int64{2, 1}, Int: true}}, Config{}, []Tensor{
			{Name: "det_boxes", Shape: []int64{2, 2, 4}, F32: []float32{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7}},
			{Name: "det_scores", Shape: []int64{2, 2}, F32: []float32{0.9, 0.8, 0.7, 0.6}},
			{Name: "det_classes", Shape: []int64{2, 2}, I64: []int64{0, 1, 2, 3}},
			{Name: "num_dets", Shape: []int64{2, 1}, I64: []int64{1, 0}},
		}, 2, [][]box.Detection{{det(0, 0, 1, 1, 0, 0.9)}, {}}, 0},
		{"padded6 with zero rows", []Output{{Name: "output0", Shape: []int64{1, 3, 6}}}, Config{Convention: Padded6}, []Tensor{
			{Name: "output0", Shape: []int64{1, 3, 6}, F32: []float32{1, 2, 3, 4, 0.5, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		}, 1, [][]box.Detection{{det(1, 2, 3, 4, 7, 0.5)}}, 0},
		{"padded7", []Output{{Name: "o", Shape: []int64{2, 2, 7}}}, Config{Convention: Padded7}, []Tensor{
			{Name: "o", Shape: []int64{2, 2, 7}, F32: []float32{0, 1, 2, 3, 4, 0.5, 7, -1, 0, 0, 0, 0, 0, 0, 1, 5, 5, 6, 6, 0.25, 2, 1, 1, 1, 2, 2, 0.75, 3}},
		}, 2, [][]box.Detection{{det(1, 2, 3, 4, 7, 0.5)}, {det(1, 1, 2, 2, 3, 0.75), det(5, 5, 6, 6, 2, 0.25)}}, 0},
		{"flat7, YOLOv7 column order", []Output{{Name: "output", Shape: []int64{-1, 7}}}, Config{ClassBeforeScore: true}, []Tensor{
			{Name: "output", Shape: []int64{3, 7}, F32: []float32{1, 0, 0, 9, 9, 4, 0.3, 0, 1, 1, 2, 2, 5, 0.9, 1, 3, 3, 4, 4, 0, 0.6}},
		}, 2, [][]box.Detection{{det(1, 1, 2, 2, 5, 0.9)}, {det(3, 3, 4, 4, 0, 0.6), det(0, 0, 9, 9, 4, 0.3)}}, 0},
		{"ssd with background", []Output{{Name: "boxes", Shape: []int64{1, 2, 4}}, {Name: "scores", Shape: []int64{1, 2, 3}}}, Config{NumClasses: 2, ScoreThreshold: 0.3}, []Tensor{
			{Name: "boxes", Shape: []int64{1, 2, 4}, F32: []float32{0, 0, 10, 10, 1, 0, 11, 10}},
			{Name: "scores", Shape: []int64{1, 2, 3}, F32: []float32{0.1, 0.8, 0.1, 0.9, 0.05, 0.05}},
		}, 1, [][]box.Detection{{det(0, 0, 10, 10, 0, 0.8)}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustResolve(t, tt.outs, tt.cfg)
			got, drops, err := d.DecodeCounted(tt.ts, tt.batch)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, approx, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("detections differ (-want +got):\n%s", diff)
			}
			var dropped int64
			for _, n := range drops {
				dropped += int64(n)
			}
			if dropped != tt.dropped {
				t.Errorf("dropped %d labels, want %d", dropped, tt.dropped)
			}
		})
	}
}

func TestDecodeBadOutputs(t *testing.T) {
	v8 := []Output{{Name: "out", Shape: []int64{-1, 6, 4}}}
	tests := []struct {
		name  string
		outs  []Output
		ts    []Tensor
		batch int
		want  string
	}{
		{"missing output", v8, []Tensor{{Name: "other", Shape: []int64{1, 6, 4}, F32: make([]float32, 24)}}, 1, `lack "out"`},
		{"short data", v8, []Tensor{{Name: "out", Shape: []int64{1, 6, 4}, F32: make([]float32, 23)}}, 1, "23 values for shape [1 6 4]"},
		{"batch mismatch", v8, []Tensor{{Name: "out", Shape: []int64{2, 6, 4}, F32: make([]float32, 48)}}, 1, "batch 2, want 1"},
		{"channels changed", v8, []Tensor{{Name: "out", Shape: []int64{1, 7, 4}, F32: make([]float32, 28)}}, 1, "7 channels, resolved 6"},
		{"NaN box", v8, []Tensor{{Name: "out", Shape: []int64{1, 6, 1}, F32: []float32{float32(math.NaN()), 1, 1, 1, 0.9, 0}}}, 1, "not finite"},
		{"zero batch", v8, nil, 0, "batch size 0"},
		{"flat batch index out of range", []Output{{Name: "o", Shape: []int64{-1, 7}}},
			[]Tensor{{Name: "o", Shape: []int64{1, 7}, F32: []float32{3, 0, 0, 1, 1, 0.9, 0}}}, 2, "batch index 3"},
		{"unbatched lists for a batch", []Output{{Name: "boxes", Shape: []int64{-1, 4}}, {Name: "scores", Shape: []int64{-1}}, {Name: "labels", Shape: []int64{-1}, Int: true}},
			[]Tensor{{Name: "boxes", Shape: []int64{0, 4}}, {Name: "scores", Shape: []int64{0}}, {Name: "labels", Shape: []int64{0}}}, 2, "run the model at batch 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustResolve(t, tt.outs, Config{Convention: conventionOf(tt.outs), ScoreThreshold: 0.1})
			_, err := d.Decode(tt.ts, tt.batch)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// conventionOf declares YOLOv8 for the tiny test heads, whose few anchors auto-detection would not
// take for a raw head.
func conventionOf(outs []Output) Convention {
	if len(outs) == 1 && len(outs[0].Shape) == 3 {
		return YOLOv8
	}
	return ""
}

func TestNMS(t *testing.T) {
	a := det(0, 0, 10, 10, 0, 0.9)
	b := det(1, 0, 11, 10, 0, 0.8)  // IoU with a: 90/110 = 0.818
	c := det(5, 0, 15, 10, 0, 0.8)  // IoU with a: 50/150 = 0.333; ties b's score
	e := det(0, 0, 10, 10, 1, 0.85) // a's box, another class
	tests := []struct {
		name     string
		in       []box.Detection
		iou      float64
		maxDet   int
		agnostic bool
		want     []box.Detection
	}{
		{"class-aware", []box.Detection{c, b, e, a}, 0.5, 0, false, []box.Detection{a, e, c}},
		{"agnostic", []box.Detection{c, b, e, a}, 0.5, 0, true, []box.Detection{a, c}},
		{"threshold is strict", []box.Detection{a, c}, 1.0 / 3, 0, false, []box.Detection{a, c}},
		{"ties keep input order", []box.Detection{c, b}, 0.95, 0, false, []box.Detection{c, b}},
		{"ties keep input order reversed", []box.Detection{b, c}, 0.95, 0, false, []box.Detection{b, c}},
		{"cap", []box.Detection{c, b, e, a}, 0.5, 2, false, []box.Detection{a, e}},
		{"empty", nil, 0.5, 0, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NMS(tt.in, tt.iou, tt.maxDet, tt.agnostic)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("kept differ (-want +got):\n%s", diff)
			}
		})
	}
}
