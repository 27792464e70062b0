package stats

import (
	"math"
	"testing"
)

func TestConfusion(t *testing.T) {
	// By hand, 4 classes, class 3 never occurs:
	//   class 0: TP 1, support 2, predicted 3 -> P 1/3, R 1/2, F1 2*1/(2+3) = 0.4
	//   class 1: TP 2, support 3, predicted 3 -> P 2/3, R 2/3, F1 2/3
	//   class 2: TP 0, support 1, predicted 0 -> P 0 (0/0 defined as 0), R 0, F1 0
	//   macro F1 over classes 0..2 = (0.4 + 2/3 + 0)/3; accuracy 3/6.
	truth := []int{0, 0, 1, 1, 1, 2}
	pred := []int{0, 1, 1, 1, 0, 0}
	c, err := NewConfusion(truth, pred, 4)
	if err != nil {
		t.Fatal(err)
	}
	if c.At(1, 0) != 1 || c.At(2, 0) != 1 || c.At(0, 1) != 1 || c.Total() != 6 {
		t.Errorf("counts %v", c.Counts)
	}
	assertNear(t, "Accuracy", c.Accuracy(), 0.5, 1e-15)
	assertNear(t, "MacroF1", c.MacroF1(), (0.4+2.0/3)/3, 1e-15)
	want := []ClassMetrics{
		{Class: 0, Support: 2, Predicted: 3, TruePositives: 1, Precision: 1.0 / 3, Recall: 0.5, F1: 0.4},
		{Class: 1, Support: 3, Predicted: 3, TruePositives: 2, Precision: 2.0 / 3, Recall: 2.0 / 3, F1: 2.0 / 3},
		{Class: 2, Support: 1},
		{Class: 3},
	}
	got := c.PerClass()
	for i := range want {
		g, w := got[i], want[i]
		if g.Class != w.Class || g.Support != w.Support || g.Predicted != w.Predicted || g.TruePositives != w.TruePositives ||
			!near(g.Precision, w.Precision, 1e-15) || !near(g.Recall, w.Recall, 1e-15) || !near(g.F1, w.F1, 1e-15) {
			t.Errorf("class %d: %+v, want %+v", i, g, w)
		}
	}
	// F1 = harmonic mean of P and R wherever both are positive.
	for _, m := range got[:2] {
		assertNear(t, "harmonic", m.F1, 2*m.Precision*m.Recall/(m.Precision+m.Recall), 1e-15)
	}

	_, err = NewConfusion([]int{0, 4}, []int{0, 1}, 4)
	assertErr(t, err, ErrInvalidArgument, "label 4")
	_, err = NewConfusion([]int{0}, []int{0, 1}, 4)
	assertErr(t, err, ErrLengthMismatch, "")
	_, err = NewConfusion(nil, nil, 4)
	assertErr(t, err, ErrEmpty, "")
	_, err = NewConfusion([]int{0}, []int{0}, 0)
	assertErr(t, err, ErrInvalidArgument, "0 classes")
}

func TestPredictionsAndTopK(t *testing.T) {
	probs := [][]float32{
		{0.1, 0.6, 0.3},
		{0.5, 0.2, 0.3},
		{0.25, 0.25, 0.5},
		{1.0 / 3, 1.0 / 3, 1.0 / 3}, // constant output
	}
	truth := []int{1, 2, 1, 2}
	pred, conf, err := Predictions(probs)
	if err != nil {
		t.Fatal(err)
	}
	wantPred := []int{1, 0, 2, 0} // ties go to the lowest index
	for i := range wantPred {
		if pred[i] != wantPred[i] || conf[i] != float64(probs[i][pred[i]]) {
			t.Errorf("row %d: pred %d conf %v, want %d", i, pred[i], conf[i], wantPred[i])
		}
	}
	// Rank of the true class (classes ahead of it: higher probability, or equal with a lower
	// index): row 0: 0.6 is the top -> 0; row 1: 0.5 ahead -> 1; row 2: 0.5 and the tied class 0
	// ahead -> 2; row 3 (constant): classes 0 and 1 ahead -> 2. Top-k counts ranks below k.
	for _, tt := range []struct {
		k    int
		want float64
	}{{1, 1.0 / 4}, {2, 2.0 / 4}, {3, 1}} {
		got, err := TopKAccuracy(probs, truth, tt.k)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, "top-k", got, tt.want, 1e-15)
	}
	// Top-1 equals the accuracy of Predictions.
	top1, _ := TopKAccuracy(probs, truth, 1)
	hits := 0
	for i := range pred {
		if pred[i] == truth[i] {
			hits++
		}
	}
	assertNear(t, "top-1 vs argmax", top1, float64(hits)/4, 0)

	_, err = TopKAccuracy(probs, truth, 0)
	assertErr(t, err, ErrInvalidArgument, "k = 0")
	_, err = TopKAccuracy(probs, truth[:2], 1)
	assertErr(t, err, ErrLengthMismatch, "")
	_, _, err = Predictions([][]float32{{0.5, float32(math.NaN())}})
	assertErr(t, err, ErrInvalidArgument, "NaN")
	_, _, err = Predictions(nil)
	assertErr(t, err, ErrEmpty, "")
}
