package detect

import (
	"reflect"
	"testing"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/detect/box"
)

func TestCodecRoundTripAndRejects(t *testing.T) {
	tk := New([]string{"a", "b"}, config.Detection{})
	for _, p := range []Prediction{{}, {Dropped: 3}, {Detections: []box.Detection{{Box: box.Box{X1: 0.1, Y1: 2, X2: 3.5, Y2: 4}, Class: 1, Score: 0.25}}, Dropped: 2}} {
		b, err := tk.AppendPrediction(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tk.ReadPrediction(b)
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("round trip: %v %+v, want %+v", err, got, p)
		}
		for _, bad := range [][]byte{nil, b[:len(b)-1], append(b, 0)} {
			if _, err := tk.ReadPrediction(bad); err == nil {
				t.Errorf("%d bytes accepted", len(bad))
			}
		}
	}
	b, _ := tk.AppendPrediction(nil, Prediction{Detections: []box.Detection{{Class: 1}}})
	b[4+32] = 7 // class 7 of 2
	if _, err := tk.ReadPrediction(b); err == nil {
		t.Error("class outside the classes accepted")
	}
}
