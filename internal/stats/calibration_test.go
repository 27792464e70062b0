package stats

import (
	"math"
	"testing"
)

func TestExpectedCalibrationError(t *testing.T) {
	// By hand with 2 bins, (0,0.5] and (0.5,1]:
	//   bin 0: 0.2 F, 0.4 T, 0.5 F -> mean confidence 1.1/3, accuracy 1/3, gap 0.1/3
	//   bin 1: 0.6 T, 0.9 T, 1.0 F -> mean confidence 2.5/3, accuracy 2/3, gap 0.5/3
	//   ECE = 3/6 * 0.1/3 + 3/6 * 0.5/3 = 0.1; MCE = 0.5/3.
	conf := []float64{0.2, 0.4, 0.5, 0.6, 0.9, 1.0}
	correct := []bool{false, true, false, true, true, false}
	got, err := ExpectedCalibrationError(conf, correct, 2)
	if err != nil {
		t.Fatal(err)
	}
	assertNear(t, "ECE", got.ECE, 0.1, 1e-15)
	assertNear(t, "MCE", got.MCE, 0.5/3, 1e-15)
	want := []CalibrationBin{
		{Lo: 0, Hi: 0.5, Count: 3, MeanConfidence: 1.1 / 3, Accuracy: 1.0 / 3},
		{Lo: 0.5, Hi: 1, Count: 3, MeanConfidence: 2.5 / 3, Accuracy: 2.0 / 3},
	}
	for i, b := range got.Bins {
		w := want[i]
		if b.Count != w.Count || !near(b.MeanConfidence, w.MeanConfidence, 1e-15) || !near(b.Accuracy, w.Accuracy, 1e-15) ||
			b.Lo != w.Lo || b.Hi != w.Hi {
			t.Errorf("bin %d = %+v, want %+v", i, b, w)
		}
	}
}

func TestCalibrationBinEdges(t *testing.T) {
	// 0.3*10 rounds to 3.0000000000000004 in float64; 0.3 must still land in (0.2, 0.3], and 0
	// in the first bin. Empty bins are reported with zeros, never NaN.
	got, err := ExpectedCalibrationError([]float64{0.3, 0, 0.7, 1}, []bool{true, false, true, true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Bins) != DefaultCalibrationBins {
		t.Fatalf("%d bins, want %d", len(got.Bins), DefaultCalibrationBins)
	}
	got10, _ := ExpectedCalibrationError([]float64{0.3, 0, 0.7, 1}, []bool{true, false, true, true}, 10)
	for i, want := range []int{1, 0, 1, 0, 0, 0, 1, 0, 0, 1} {
		if got10.Bins[i].Count != want {
			t.Errorf("bin %d (%v, %v] count %d, want %d", i, got10.Bins[i].Lo, got10.Bins[i].Hi, got10.Bins[i].Count, want)
		}
	}
	for _, b := range got10.Bins {
		if math.IsNaN(b.MeanConfidence) || math.IsNaN(b.Accuracy) {
			t.Errorf("NaN in bin %+v", b)
		}
	}
	// A perfectly calibrated toy: confidence 0.75 and 3 of 4 right gives 0.
	perfect, _ := ExpectedCalibrationError([]float64{0.75, 0.75, 0.75, 0.75}, []bool{true, true, false, true}, 0)
	assertNear(t, "perfect ECE", perfect.ECE, 0, 1e-15)

	_, err = ExpectedCalibrationError([]float64{1.2}, []bool{true}, 0)
	assertErr(t, err, ErrInvalidArgument, "1.2")
	_, err = ExpectedCalibrationError([]float64{0.5}, []bool{true, false}, 0)
	assertErr(t, err, ErrLengthMismatch, "")
	_, err = ExpectedCalibrationError(nil, nil, 0)
	assertErr(t, err, ErrEmpty, "")
}

func TestBrierAndNLL(t *testing.T) {
	probs := [][]float32{{0.7, 0.2, 0.1}, {0.1, 0.1, 0.8}}
	truth := []int{0, 1}
	// By hand: row 0: 0.3^2 + 0.2^2 + 0.1^2 = 0.14; row 1: 0.1^2 + 0.9^2 + 0.8^2 = 1.46; mean 0.8.
	brier, err := BrierScore(probs, truth)
	if err != nil {
		t.Fatal(err)
	}
	assertNear(t, "Brier", brier, 0.8, 1e-6) // float32 inputs
	// -(ln 0.7 + ln 0.1)/2.
	nll, err := NegLogLikelihood(probs, truth)
	if err != nil {
		t.Fatal(err)
	}
	assertNear(t, "NLL", nll, -(math.Log(0.7)+math.Log(0.1))/2, 1e-6)
	// A zero probability on the true class costs -ln(NLLFloor), not +Inf.
	nll, _ = NegLogLikelihood([][]float32{{1, 0}}, []int{1})
	assertNear(t, "NLL floor", nll, -math.Log(NLLFloor), 1e-12)

	_, err = BrierScore([][]float32{{0.5, 0.5}, {1}}, []int{0, 0})
	assertErr(t, err, ErrLengthMismatch, "row 1")
	_, err = BrierScore([][]float32{{-0.5, 1.5}}, []int{0})
	assertErr(t, err, ErrInvalidArgument, "-0.5")
	_, err = NegLogLikelihood([][]float32{{0.5, 0.5}}, []int{2})
	assertErr(t, err, ErrInvalidArgument, "label 2")
	_, err = NegLogLikelihood([][]float32{{float32(math.NaN()), 0.5}}, []int{1})
	assertErr(t, err, ErrInvalidArgument, "NaN")
}
