package stats

import (
	"fmt"
	"math"
)

// Confusion is a confusion matrix over NumClasses classes: Counts[t*NumClasses+p] images have true
// class t and predicted class p.
type Confusion struct {
	NumClasses int
	Counts     []int
}

// NewConfusion counts (truth[i], pred[i]) pairs; labels must lie in [0, numClasses).
func NewConfusion(truth, pred []int, numClasses int) (*Confusion, error) {
	if len(truth) != len(pred) {
		return nil, fmt.Errorf("confusion matrix of %d labels and %d predictions: %w", len(truth), len(pred), ErrLengthMismatch)
	}
	if len(truth) == 0 {
		return nil, fmt.Errorf("confusion matrix: %w", ErrEmpty)
	}
	if err := checkLabels(truth, numClasses); err != nil {
		return nil, err
	}
	if err := checkLabels(pred, numClasses); err != nil {
		return nil, err
	}
	c := &Confusion{NumClasses: numClasses, Counts: make([]int, numClasses*numClasses)}
	for i, t := range truth {
		c.Counts[t*numClasses+pred[i]]++
	}
	return c, nil
}

// At returns the number of images of true class t predicted as p.
func (c *Confusion) At(t, p int) int { return c.Counts[t*c.NumClasses+p] }

// Total returns the number of images.
func (c *Confusion) Total() int {
	n := 0
	for _, v := range c.Counts {
		n += v
	}
	return n
}

// Accuracy returns the share of images on the diagonal, or 0 for an empty matrix.
func (c *Confusion) Accuracy() float64 {
	n, correct := 0, 0
	for t := range c.NumClasses {
		correct += c.At(t, t)
	}
	n = c.Total()
	if n == 0 {
		return 0
	}
	return float64(correct) / float64(n)
}

// ClassMetrics are one class's one-vs-rest metrics.
type ClassMetrics struct {
	Class int
	// Support is the number of images whose true class is Class; Predicted the number predicted as
	// Class; TruePositives those that are both.
	Support, Predicted, TruePositives int
	// Precision = TP/Predicted, Recall = TP/Support, F1 = their harmonic mean. Each is 0 when its
	// denominator is 0 (never predicted, no support, or P+R = 0): a class the model never predicts
	// gets precision 0, not "undefined", so that reports stay numeric and JSON-safe.
	Precision, Recall, F1 float64
}

// PerClass returns the metrics of every class 0..NumClasses-1, in order.
func (c *Confusion) PerClass() []ClassMetrics {
	tp, support, predicted := c.marginals()
	out := make([]ClassMetrics, c.NumClasses)
	for k := range out {
		p, r, f := precisionRecallF1(tp[k], support[k], predicted[k])
		out[k] = ClassMetrics{Class: k, Support: support[k], Predicted: predicted[k], TruePositives: tp[k],
			Precision: p, Recall: r, F1: f}
	}
	return out
}

// MacroF1 returns the unweighted mean F1 over the classes that occur in the truth or the
// predictions (scikit-learn's default label set). Classes absent from both are left out: their F1
// is undefined, not bad, and counting them as 0 would punish a dataset for not containing every
// class. A class with support that is never predicted (or predicted but absent) counts with F1 0.
func (c *Confusion) MacroF1() float64 {
	tp, support, predicted := c.marginals()
	return macroF1(tp, support, predicted)
}

func (c *Confusion) marginals() (tp, support, predicted []int) {
	k := c.NumClasses
	buf := make([]int, 3*k)
	tp, support, predicted = buf[:k], buf[k:2*k], buf[2*k:]
	for t := range k {
		tp[t] = c.At(t, t)
		for p := range k {
			v := c.At(t, p)
			support[t] += v
			predicted[p] += v
		}
	}
	return tp, support, predicted
}

func precisionRecallF1(tp, support, predicted int) (precision, recall, f1 float64) {
	if predicted > 0 {
		precision = float64(tp) / float64(predicted)
	}
	if support > 0 {
		recall = float64(tp) / float64(support)
	}
	// 2PR/(P+R) = 2TP/(support+predicted), which avoids the 0/0 of P+R = 0 when TP > 0 is impossible.
	if support+predicted > 0 {
		f1 = 2 * float64(tp) / float64(support+predicted)
	}
	return precision, recall, f1
}

// macroF1 averages F1 over classes with support or predictions; 0 if there are none.
func macroF1(tp, support, predicted []int) float64 {
	sum, classes := 0.0, 0
	for k := range tp {
		if support[k]+predicted[k] == 0 {
			continue
		}
		sum += 2 * float64(tp[k]) / float64(support[k]+predicted[k])
		classes++
	}
	if classes == 0 {
		return 0
	}
	return sum / float64(classes)
}

// Predictions returns, for each probability row, the predicted class (the arg-max, lowest index on
// ties) and its probability (the confidence used by ExpectedCalibrationError). Rows must be
// non-empty, of equal length and free of NaN.
func Predictions(probs [][]float32) (pred []int, confidence []float64, err error) {
	if _, err := checkProbRows(probs); err != nil {
		return nil, nil, err
	}
	pred = make([]int, len(probs))
	confidence = make([]float64, len(probs))
	for i, row := range probs {
		best := 0
		for k, v := range row {
			if v > row[best] {
				best = k
			}
		}
		pred[i], confidence[i] = best, float64(row[best])
	}
	return pred, confidence, nil
}

// TopKAccuracy returns the share of images whose true class is among the k most probable classes
// of its row. Ties are broken by class index, lower first, exactly as Predictions does, so top-1
// accuracy equals the accuracy of Predictions and a constant output row cannot look accurate: the
// true class t ranks behind every class with a higher probability and every lower-indexed class
// with an equal one.
func TopKAccuracy(probs [][]float32, truth []int, k int) (float64, error) {
	if len(probs) != len(truth) {
		return 0, fmt.Errorf("top-%d accuracy over %d rows and %d labels: %w", k, len(probs), len(truth), ErrLengthMismatch)
	}
	classes, err := checkProbRows(probs)
	if err != nil {
		return 0, err
	}
	if k <= 0 {
		return 0, fmt.Errorf("top-k accuracy with k = %d: %w", k, ErrInvalidArgument)
	}
	if err := checkLabels(truth, classes); err != nil {
		return 0, err
	}
	hits := 0
	for i, row := range probs {
		t := truth[i]
		pt := row[t]
		ahead := 0
		for c, v := range row {
			if v > pt || (v == pt && c < t) {
				ahead++
				if ahead >= k {
					break
				}
			}
		}
		if ahead < k {
			hits++
		}
	}
	return float64(hits) / float64(len(probs)), nil
}

// checkLabels reports the first label outside [0, numClasses).
func checkLabels(labels []int, numClasses int) error {
	if numClasses <= 0 {
		return fmt.Errorf("%d classes: %w", numClasses, ErrInvalidArgument)
	}
	for i, l := range labels {
		if l < 0 || l >= numClasses {
			return fmt.Errorf("label %d at index %d outside [0,%d): %w", l, i, numClasses, ErrInvalidArgument)
		}
	}
	return nil
}

// checkProbRows checks that rows exist, share one non-zero length and hold no NaN, and returns
// that length.
func checkProbRows(probs [][]float32) (int, error) {
	if len(probs) == 0 {
		return 0, fmt.Errorf("probability rows: %w", ErrEmpty)
	}
	classes := len(probs[0])
	if classes == 0 {
		return 0, fmt.Errorf("probability row 0 is empty: %w", ErrInvalidArgument)
	}
	for i, row := range probs {
		if len(row) != classes {
			return 0, fmt.Errorf("probability row %d has %d classes, row 0 has %d: %w", i, len(row), classes, ErrLengthMismatch)
		}
		for c, v := range row {
			if math.IsNaN(float64(v)) {
				return 0, fmt.Errorf("probability row %d class %d is NaN: %w", i, c, ErrInvalidArgument)
			}
		}
	}
	return classes, nil
}
