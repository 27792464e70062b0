package stats

import (
	"fmt"
	"math"
)

// DefaultCalibrationBins is the number of equal-width confidence bins used when
// ExpectedCalibrationError is given 0 bins (Guo et al. 2017 use 15).
const DefaultCalibrationBins = 15

// CalibrationBin is one equal-width confidence bin of a reliability diagram.
type CalibrationBin struct {
	// Lo and Hi bound the bin: (Lo, Hi], except that the first bin also holds confidence 0.
	Lo, Hi float64
	// Count is the number of predictions whose confidence falls in the bin.
	Count int
	// MeanConfidence and Accuracy are the bin's mean confidence and share of correct predictions;
	// both are 0 for an empty bin (never NaN, so reports stay JSON-safe).
	MeanConfidence, Accuracy float64
}

// Calibration summarises how well confidences match accuracy.
type Calibration struct {
	// ECE is the expected calibration error: sum over bins of Count/N |Accuracy - MeanConfidence|,
	// in [0,1]. A model whose 80%-confident predictions are right 80% of the time scores 0.
	ECE float64
	// MCE is the maximum calibration error: the largest |Accuracy - MeanConfidence| over non-empty
	// bins.
	MCE float64
	// Bins are all bins in ascending order, empty ones included.
	Bins []CalibrationBin
}

// ExpectedCalibrationError bins predictions by confidence into equal-width bins over [0,1] (0
// means DefaultCalibrationBins) and compares each bin's accuracy with its mean confidence.
// confidence[i] is the probability the model gave its prediction for image i (see Predictions);
// correct[i] says whether that prediction was right.
//
// ECE depends on the binning and is biased upwards on small samples (a perfectly calibrated
// model scores about sqrt(bins/N) by chance), so compare it between models on the same data
// rather than against an absolute threshold when N is small.
func ExpectedCalibrationError(confidence []float64, correct []bool, bins int) (Calibration, error) {
	if len(confidence) != len(correct) {
		return Calibration{}, fmt.Errorf("calibration of %d confidences and %d outcomes: %w", len(confidence), len(correct), ErrLengthMismatch)
	}
	if len(confidence) == 0 {
		return Calibration{}, fmt.Errorf("calibration: %w", ErrEmpty)
	}
	if bins == 0 {
		bins = DefaultCalibrationBins
	}
	if bins < 0 {
		return Calibration{}, fmt.Errorf("calibration with %d bins: %w", bins, ErrInvalidArgument)
	}
	for i, c := range confidence {
		if math.IsNaN(c) || c < 0 || c > 1 {
			return Calibration{}, fmt.Errorf("calibration: confidence %v at index %d outside [0,1]: %w", c, i, ErrInvalidArgument)
		}
	}
	res := Calibration{Bins: make([]CalibrationBin, bins)}
	hits := make([]int, bins)
	sums := make([]float64, bins)
	for i, c := range confidence {
		// Bin b is (b/bins, (b+1)/bins]; ceil puts a confidence on an edge in the bin below it.
		b := max(0, int(math.Ceil(c*float64(bins)))-1)
		// c*bins can round across an integer (0.3*10 = 3.0000000000000004); settle the bin by
		// comparing with the edges themselves, so an edge value always lands in the bin below.
		if b > 0 && c <= float64(b)/float64(bins) {
			b--
		} else if b < bins-1 && c > float64(b+1)/float64(bins) {
			b++
		}
		res.Bins[b].Count++
		sums[b] += c
		if correct[i] {
			hits[b]++
		}
	}
	n := float64(len(confidence))
	for b := range res.Bins {
		bin := &res.Bins[b]
		bin.Lo, bin.Hi = float64(b)/float64(bins), float64(b+1)/float64(bins)
		if bin.Count == 0 {
			continue
		}
		bin.MeanConfidence = sums[b] / float64(bin.Count)
		bin.Accuracy = float64(hits[b]) / float64(bin.Count)
		gap := math.Abs(bin.Accuracy - bin.MeanConfidence)
		res.ECE += float64(bin.Count) / n * gap
		res.MCE = max(res.MCE, gap)
	}
	return res, nil
}

// BrierScore returns the multi-class Brier score: the mean over images of
// sum over classes k of (probs[i][k] - [k == truth[i]])^2, in [0,2]; lower is better, and a
// confident wrong answer costs 2. (Some texts divide by the number of classes; this does not.)
func BrierScore(probs [][]float32, truth []int) (float64, error) {
	if err := checkScored("brier score", probs, truth); err != nil {
		return 0, err
	}
	total := 0.0
	for i, row := range probs {
		s := 0.0
		for k, p := range row {
			d := float64(p)
			if k == truth[i] {
				d--
			}
			s += d * d
		}
		total += s
	}
	return total / float64(len(probs)), nil
}

// NLLFloor is the smallest probability NegLogLikelihood takes the log of, so one confidently wrong
// image costs at most -ln(1e-15) ~ 34.5 nats instead of +Inf.
const NLLFloor = 1e-15

// NegLogLikelihood returns the mean negative log-likelihood (cross-entropy, in nats) of the true
// classes: mean over images of -ln max(probs[i][truth[i]], NLLFloor). Rows are used as given
// (not renormalised).
func NegLogLikelihood(probs [][]float32, truth []int) (float64, error) {
	if err := checkScored("negative log-likelihood", probs, truth); err != nil {
		return 0, err
	}
	total := 0.0
	for i, row := range probs {
		total -= math.Log(max(float64(row[truth[i]]), NLLFloor))
	}
	return total / float64(len(probs)), nil
}

// checkScored validates probability rows against labels: equal counts, rows of one length with
// values in [0,1] (a small float32 rounding excess is tolerated), labels in range.
func checkScored(what string, probs [][]float32, truth []int) error {
	if len(probs) != len(truth) {
		return fmt.Errorf("%s over %d rows and %d labels: %w", what, len(probs), len(truth), ErrLengthMismatch)
	}
	classes, err := checkProbRows(probs)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	for i, row := range probs {
		for k, p := range row {
			if p < 0 || p > 1+1e-5 {
				return fmt.Errorf("%s: probability %v at row %d class %d outside [0,1]: %w", what, p, i, k, ErrInvalidArgument)
			}
		}
	}
	if err := checkLabels(truth, classes); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
