package guard

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Observations are what the guard sees of a set of images: their properties, the model input
// tensor's statistics, and the model's logits and penultimate activations.
type Observations struct {
	N int
	// PropNames name the columns of Props (imgprops.Names).
	PropNames []string
	Props     [][]float64
	// Mean and Var are each input tensor's mean and variance over its elements.
	Mean, Var []float64
	// Logits are N x K; Features N x D (nil when the model has no feature layer).
	K, D     int
	Logits   []float32
	Features []float32
	// Labels are class indices, -1 when unknown; nil for an unlabelled set.
	Labels []int
}

func (o *Observations) logits(i int) []float32 { return o.Logits[i*o.K : (i+1)*o.K] }

func (o *Observations) features(i int) []float32 {
	if o.Features == nil {
		return nil
	}
	return o.Features[i*o.D : (i+1)*o.D]
}

// top1 is the arg-max class of image i (-1 when its logits are not finite).
func (o *Observations) top1(i int) int {
	best, bv := -1, math.Inf(-1)
	for k, v := range o.logits(i) {
		if f := float64(v); f > bv {
			best, bv = k, f
		}
	}
	return best
}

// Subset returns the observations of the images idx, in that order.
func (o *Observations) Subset(idx []int) *Observations {
	s := &Observations{N: len(idx), PropNames: o.PropNames, K: o.K, D: o.D}
	for _, i := range idx {
		if o.Props != nil {
			s.Props = append(s.Props, o.Props[i])
		}
		s.Mean = append(s.Mean, o.Mean[i])
		s.Var = append(s.Var, o.Var[i])
		s.Logits = append(s.Logits, o.logits(i)...)
		if o.Features != nil {
			s.Features = append(s.Features, o.features(i)...)
		}
		if o.Labels != nil {
			s.Labels = append(s.Labels, o.Labels[i])
		}
	}
	return s
}

// BuildOptions say how to learn a guard.
type BuildOptions struct {
	// TargetFRR is the false-reject rate the threshold is calibrated for (default 0.01).
	TargetFRR float64
	// CalibrationShare is the part of the reference images held out for calibration (0.3).
	CalibrationShare float64
	// Score is "auto" (combined when both scores are available, else the one that is),
	// "energy", "mahalanobis" or "combined".
	Score string
	Seed  uint64
	// Level of the false-reject interval (0.95).
	Level float64
	// LogitsAreProbabilities says the "logits" tensor holds probabilities (the model ends in a
	// softmax cvgate could not see through): the energy score is then not available.
	LogitsAreProbabilities bool
	// FeaturesNote says why there are no features, when Observations.Features is nil.
	FeaturesNote string
	// InputsOnly builds a guard of input checks alone (score "none"): for models whose outputs
	// the guard cannot read yet (detection, segmentation).
	InputsOnly bool
}

func (o *BuildOptions) defaults() {
	if o.TargetFRR == 0 {
		o.TargetFRR = 0.01
	}
	if o.CalibrationShare == 0 {
		o.CalibrationShare = 0.3
	}
	if o.Score == "" {
		o.Score = ScoreAuto
	}
	if o.Level == 0 {
		o.Level = 0.95
	}
}

// Split is Build's seeded split of n reference images into the fit and calibration images (each
// list in ascending order), so that callers can tell which images were held out.
func Split(n int, share float64, seed uint64) (fit, cal []int) {
	nCal := int(math.Round(float64(n) * share))
	perm := rand.New(rand.NewPCG(seed, 0x67756172640a)).Perm(n)
	fit, cal = slices.Clone(perm[nCal:]), slices.Clone(perm[:nCal])
	slices.Sort(fit)
	slices.Sort(cal)
	return fit, cal
}

// minFitPerClass is the fewest fit images a class needs for its own mean; classes with fewer are
// left out of the minimum (a mean of one or two images is a point, not a class).
const minFitPerClass = 3

// Build learns a guard from reference observations. g's Model, Preprocess and Tool are the
// caller's to fill in.
func Build(obs *Observations, opts BuildOptions) (*Guard, error) {
	opts.defaults()
	if !(opts.TargetFRR > 0 && opts.TargetFRR < 0.5) {
		return nil, fmt.Errorf("target false-reject rate %g is not in (0, 0.5)", opts.TargetFRR)
	}
	if !(opts.CalibrationShare > 0 && opts.CalibrationShare < 1) {
		return nil, fmt.Errorf("calibration share %g is not in (0, 1)", opts.CalibrationShare)
	}
	nCal := int(math.Round(float64(obs.N) * opts.CalibrationShare))
	if need := MinCalibration(opts.TargetFRR); nCal < need {
		return nil, &TooFewError{Have: nCal, Need: need, TargetFRR: opts.TargetFRR, Share: opts.CalibrationShare}
	}
	nFit := obs.N - nCal
	if nFit < 2 {
		return nil, fmt.Errorf("%d reference images leave %d to fit the guard on", obs.N, nFit)
	}
	fitIdx, calIdx := Split(obs.N, opts.CalibrationShare, opts.Seed)
	fit, cal := obs.Subset(fitIdx), obs.Subset(calIdx)

	g := &Guard{SchemaVersion: SchemaVersion, Task: "classification", Notes: []string{},
		Reference: Reference{Images: obs.N, Fit: nFit, Calibration: nCal, CalibrationShare: opts.CalibrationShare, Seed: opts.Seed}}
	var err error
	if g.InputChecks, err = fitInputChecks(fit); err != nil {
		return nil, err
	}

	switch {
	case opts.InputsOnly || obs.K == 0:
	case !opts.LogitsAreProbabilities:
		g.Energy = &Energy{Temperature: 1}
	default:
		g.Notes = append(g.Notes, "energy score not available: the class scores are probabilities and no logits were found before the softmax")
	}
	switch {
	case opts.InputsOnly || obs.K == 0:
	case obs.Features == nil:
		note := "Mahalanobis score not available"
		if opts.FeaturesNote != "" {
			note += ": " + opts.FeaturesNote
		}
		g.Notes = append(g.Notes, note)
	default:
		m, source, err := fitMahalanobis(fit)
		if err != nil {
			g.Notes = append(g.Notes, "Mahalanobis score not available: "+err.Error())
		} else {
			g.Mahalanobis, g.Reference.ClassSource = m, source
		}
	}

	if g.Energy != nil && g.Mahalanobis != nil {
		if g.Combined, err = fitCombined(g, fit); err != nil {
			g.Notes = append(g.Notes, "combined score not available: "+err.Error())
		}
	}
	available := map[string]bool{ScoreEnergy: g.Energy != nil, ScoreMahalanobis: g.Mahalanobis != nil, ScoreCombined: g.Combined != nil}
	switch {
	case opts.InputsOnly:
		g.Score = ScoreNone
	case opts.Score == ScoreAuto:
		for _, s := range []string{ScoreCombined, ScoreMahalanobis, ScoreEnergy} {
			if available[s] {
				g.Score = s
				break
			}
		}
		if g.Score == ScoreEnergy {
			g.Notes = append(g.Notes, "fell back to the energy score alone")
		}
	case opts.Score == ScoreEnergy || opts.Score == ScoreMahalanobis || opts.Score == ScoreCombined:
		if !available[opts.Score] {
			return nil, fmt.Errorf("the %s score was asked for but is not available: %s", opts.Score, joinNotes(g.Notes))
		}
		g.Score = opts.Score
	default:
		return nil, fmt.Errorf("score %q is not auto, energy, mahalanobis or combined", opts.Score)
	}
	if g.Score == "" {
		return nil, fmt.Errorf("no out-of-distribution score is available for this model: %s", joinNotes(g.Notes))
	}

	// Calibration: an image the input checks reject scores +Inf, so that the threshold's
	// guarantee covers every way the guard can reject a clean image.
	scores := make([]float64, cal.N)
	for i, v := range g.JudgeAll(cal) {
		scores[i] = v.Score
		if v.InputRejected || math.IsNaN(v.Score) {
			scores[i] = math.Inf(1)
		}
	}
	if g.Threshold, err = calibrate(scores, opts.TargetFRR, opts.Level); err != nil {
		var few *TooFewError
		if errors.As(err, &few) {
			few.Share = opts.CalibrationShare
		}
		return nil, err
	}
	return g, nil
}

// minScoreSpread is the smallest spread, relative to the mean's size, of a score the combined
// score standardizes: about a thousand float32 steps.
const minScoreSpread = 1e-4

// fitCombined standardizes the energy and the log distance on the fit images.
func fitCombined(g *Guard, fit *Observations) (*Combined, error) {
	// Score the fit images with the two scores alone (Combined is not set yet).
	probe := &Guard{Energy: g.Energy, Mahalanobis: g.Mahalanobis, Score: ScoreEnergy, InputChecks: g.InputChecks}
	var es, ms []float64
	for _, v := range probe.JudgeAll(fit) {
		e, m := v.Energy, v.Mahalanobis
		if math.IsNaN(e) || math.IsNaN(m) || math.IsInf(e, 0) || math.IsInf(m, 0) {
			continue
		}
		es, ms = append(es, e), append(ms, math.Log1p(m))
	}
	c := &Combined{}
	c.EnergyMean, c.EnergySD = meanSD(es)
	c.LogMahalanobisMean, c.LogMahalanobisSD = meanSD(ms)
	// The guarded graph computes in float32: a score whose spread over the reference images is
	// within a few thousand float32 steps of its mean carries no information the graph can
	// reproduce (a model with nearly constant logits has a constant energy), and standardizing
	// it would turn float32 rounding into the combined score.
	for _, s := range []struct {
		name     string
		mean, sd float64
	}{{"energy", c.EnergyMean, c.EnergySD}, {"log Mahalanobis distance", c.LogMahalanobisMean, c.LogMahalanobisSD}} {
		if !(s.sd > minScoreSpread*math.Max(1, math.Abs(s.mean))) {
			return nil, fmt.Errorf("the %s barely varies over the reference images (sd %.3g around %.4g), so it separates nothing", s.name, s.sd, s.mean)
		}
	}
	return c, nil
}

func meanSD(x []float64) (float64, float64) {
	if len(x) < 2 {
		return math.NaN(), math.NaN()
	}
	var s float64
	for _, v := range x {
		s += v
	}
	mean := s / float64(len(x))
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(x)-1))
}

func joinNotes(notes []string) string {
	s := ""
	for i, n := range notes {
		if i > 0 {
			s += "; "
		}
		s += n
	}
	return s
}

func fitInputChecks(fit *Observations) (InputChecks, error) {
	var ic InputChecks
	if fit.Props != nil {
		for k, name := range fit.PropNames {
			col := make([]float64, fit.N)
			for i := range col {
				col[i] = fit.Props[i][k]
			}
			b, err := fitBound(name, col)
			if err != nil {
				return ic, err
			}
			ic.Properties = append(ic.Properties, b)
		}
	}
	var err error
	if ic.TensorMean, err = fitBound("tensor_mean", fit.Mean); err != nil {
		return ic, err
	}
	if ic.TensorVariance, err = fitBound("tensor_variance", fit.Var); err != nil {
		return ic, err
	}
	return ic, nil
}

// fitMahalanobis estimates the class means and the shared (within-class) covariance of the fit
// images' features. Classes come from the labels when every fit image has one, else from the
// model's own predictions (an unlabelled reference set).
func fitMahalanobis(fit *Observations) (*Mahalanobis, string, error) {
	d, k := fit.D, fit.K
	if d > MaxFeatures {
		return nil, "", fmt.Errorf("the feature layer has %d values, over the %d this score supports", d, MaxFeatures)
	}
	source := "labels"
	class := make([]int, fit.N)
	for i := range class {
		class[i] = -1
		if fit.Labels != nil {
			class[i] = fit.Labels[i]
		}
		if class[i] < 0 || class[i] >= k {
			source = "predictions"
		}
	}
	if source == "predictions" {
		for i := range class {
			class[i] = fit.top1(i)
		}
	}
	counts := make([]int, k)
	means := make([]float64, k*d)
	for i := range fit.N {
		c := class[i]
		if c < 0 {
			continue
		}
		counts[c]++
		row := means[c*d : (c+1)*d]
		for j, v := range fit.features(i) {
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, "", errors.New("the features are not finite on a reference image")
			}
			row[j] += f
		}
	}
	for c := range k {
		if counts[c] < minFitPerClass {
			counts[c] = 0
			clear(means[c*d : (c+1)*d])
			continue
		}
		for j := range d {
			means[c*d+j] /= float64(counts[c])
		}
	}
	centred := make([]float64, 0, fit.N*d)
	rows := 0
	for i := range fit.N {
		c := class[i]
		if c < 0 || counts[c] == 0 {
			continue
		}
		for j, v := range fit.features(i) {
			centred = append(centred, float64(v)-means[c*d+j])
		}
		rows++
	}
	cov, err := ledoitWolf(centred, rows, d)
	if err != nil {
		return nil, "", err
	}
	w, err := whitening(cov.cov, d)
	if err != nil {
		return nil, "", err
	}
	m := &Mahalanobis{Dim: d, Classes: k, ClassCounts: counts, Estimator: "ledoit-wolf", Shrinkage: cov.shrinkage,
		Means: newMatrix(k, d, means), Whitening: newMatrix(d, d, w)}
	if err := m.prepare(); err != nil {
		return nil, "", err
	}
	return m, source, nil
}
