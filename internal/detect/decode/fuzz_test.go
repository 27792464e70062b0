package decode

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzDecodeYOLOv8 decodes arbitrary float values as a small YOLOv8 head: the decoder returns
// finite, ordered boxes with probabilities, at most MaxDetections of them, or an error; it never
// panics. `go test` runs the seeds; fuzz longer with go test -fuzz FuzzDecodeYOLOv8.
func FuzzDecodeYOLOv8(f *testing.F) {
	f.Add(make([]byte, 4*7*5), false)
	f.Add([]byte{0, 0, 0x80, 0x7f, 1, 2, 3, 4}, true) // +Inf first
	f.Fuzz(func(t *testing.T, raw []byte, logits bool) {
		const A, C = 5, 3
		vals := make([]float32, (4+C)*A)
		for i := range vals {
			if 4*i+4 <= len(raw) {
				vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		}
		shape := []int64{1, 4 + C, A}
		d, err := Resolve([]Output{{Name: "o", Shape: shape}}, Config{Convention: YOLOv8, Logits: logits, MaxDetections: 3, ScoreThreshold: 0.01})
		if err != nil {
			t.Fatal(err)
		}
		out, err := d.Decode([]Tensor{{Name: "o", Shape: shape, F32: vals}}, 1)
		if err != nil {
			return
		}
		if len(out[0]) > 3 {
			t.Fatalf("%d detections above the cap", len(out[0]))
		}
		for i, det := range out[0] {
			if !det.Finite() || det.X2 < det.X1 || det.Y2 < det.Y1 || !(det.Score > 0.01) || det.Score > 1+scoreSlack || det.Class < 0 || det.Class >= C {
				t.Fatalf("detection %+v", det)
			}
			if i > 0 && det.Score > out[0][i-1].Score {
				t.Fatalf("detections out of score order: %v", out[0])
			}
		}
	})
}
