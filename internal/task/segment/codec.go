package segment

import (
	"encoding/binary"
	"fmt"

	seg "github.com/cvgate/cvgate/internal/segment"
	"github.com/cvgate/cvgate/internal/task"
)

var _ task.Codec = (*Task)(nil)

// AppendPrediction implements task.Codec: width and height, then the label map's values (the
// prediction cache deflates them).
func (t *Task) AppendPrediction(dst []byte, p task.Prediction) ([]byte, error) {
	pr, ok := p.(Prediction)
	if !ok {
		return nil, fmt.Errorf("encode segmentation prediction: unexpected type %T", p)
	}
	m := pr.Map
	if m.W*m.H != len(m.Pix) {
		return nil, fmt.Errorf("encode segmentation prediction: %dx%d map with %d values", m.W, m.H, len(m.Pix))
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(m.W))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(m.H))
	for _, v := range m.Pix {
		dst = binary.LittleEndian.AppendUint16(dst, v)
	}
	return dst, nil
}

// ReadPrediction implements task.Codec.
func (t *Task) ReadPrediction(b []byte) (task.Prediction, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("read segmentation record: %d bytes", len(b))
	}
	w, h := int64(binary.LittleEndian.Uint32(b)), int64(binary.LittleEndian.Uint32(b[4:]))
	if w <= 0 || h <= 0 || int64(len(b)-8) != 2*w*h {
		return nil, fmt.Errorf("read segmentation record: %d bytes for a %dx%d map", len(b), w, h)
	}
	m := seg.LabelMap{W: int(w), H: int(h), Pix: make([]uint16, w*h)}
	for j := range m.Pix {
		m.Pix[j] = binary.LittleEndian.Uint16(b[8+2*j:])
	}
	return Prediction{Map: m}, nil
}
