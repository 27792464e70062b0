package detect

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cvgate/cvgate/internal/detect/box"
	"github.com/cvgate/cvgate/internal/task"
)

var _ task.Codec = (*Task)(nil)

// detectionBytes is one detection's size in a record: four float64 coordinates, the class
// (int64) and the score (float64), so that a record reads back bit for bit.
const detectionBytes = 6 * 8

// AppendPrediction implements task.Codec: the number of detections, then each detection, then
// the number of detections dropped for labels that name no class.
func (t *Task) AppendPrediction(dst []byte, p task.Prediction) ([]byte, error) {
	pr, ok := p.(Prediction)
	if !ok {
		return nil, fmt.Errorf("encode detection prediction: unexpected type %T", p)
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(pr.Detections)))
	for _, d := range pr.Detections {
		for _, v := range []float64{d.X1, d.Y1, d.X2, d.Y2} {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
		}
		dst = binary.LittleEndian.AppendUint64(dst, uint64(int64(d.Class)))
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(d.Score))
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(pr.Dropped))
	return dst, nil
}

// ReadPrediction implements task.Codec.
func (t *Task) ReadPrediction(b []byte) (task.Prediction, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("read detection record: %d bytes", len(b))
	}
	n := int(binary.LittleEndian.Uint32(b))
	if len(b) != 4+n*detectionBytes+4 {
		return nil, fmt.Errorf("read detection record: %d bytes for %d detections", len(b), n)
	}
	out := Prediction{Detections: make([]box.Detection, n)}
	f := func(off int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b[off:])) }
	for j := range out.Detections {
		o := 4 + j*detectionBytes
		class := int64(binary.LittleEndian.Uint64(b[o+32:]))
		if class < 0 || class >= int64(len(t.classes)) {
			return nil, fmt.Errorf("read detection record: class %d outside the %d classes", class, len(t.classes))
		}
		out.Detections[j] = box.Detection{Box: box.Box{X1: f(o), Y1: f(o + 8), X2: f(o + 16), Y2: f(o + 24)}, Class: int(class), Score: f(o + 40)}
	}
	if n == 0 {
		out.Detections = nil
	}
	out.Dropped = int(binary.LittleEndian.Uint32(b[4+n*detectionBytes:]))
	return out, nil
}
