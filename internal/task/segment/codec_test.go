package segment

import (
	"reflect"
	"testing"

	"github.com/cvgate/cvgate/internal/config"
	seg "github.com/cvgate/cvgate/internal/segment"
)

func TestCodecRoundTripAndRejects(t *testing.T) {
	tk := New([]string{"bg", "fg"}, config.Segmentation{})
	p := Prediction{Map: seg.LabelMap{W: 3, H: 2, Pix: []uint16{0, 1, 1, 0, 255, 1}}}
	b, err := tk.AppendPrediction(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tk.ReadPrediction(b)
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Errorf("round trip: %v %+v", err, got)
	}
	huge := append([]byte{0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f}, b[8:]...)
	for _, bad := range [][]byte{nil, b[:len(b)-1], append(b, 0), huge} {
		if _, err := tk.ReadPrediction(bad); err == nil {
			t.Errorf("%d bytes accepted", len(bad))
		}
	}
}
