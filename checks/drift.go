package checks

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/internal/analysis"
	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/report"
)

// Check IDs of the drift family (`cvgate drift`).
const (
	IDDriftProperties  = "drift.properties"
	IDDriftLabels      = "drift.labels"
	IDDriftPredictions = "drift.predictions"
	IDDriftDomain      = "drift.domain"
)

// Drift returns the checks of `cvgate drift`, in report order. Each compares the current images
// (Env.Data) with the reference images (Env.Reference.Data).
func Drift() []Check {
	return []Check{DriftProperties{}, DriftLabels{}, DriftPredictions{}, DriftDomain{}, DriftGuard{}}
}

// maxProbabilityFeatures is the largest class count whose probabilities feed the domain classifier
// one by one; with more classes only summaries (confidence, margin, entropy) do.
const maxProbabilityFeatures = 20

// driftCommon is embedded by the drift checks: one config section switches them all.
type driftCommon struct{}

// Common implements Toggled.
func (driftCommon) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.Drift.Common, true
}

// DriftSide is one set of a drift comparison: its images (labels as the data names them), their
// facts and, when a model is compared, its predictions on every image (rows in Items order).
type DriftSide struct {
	Data  *dataset.Dataset
	Facts *analysis.Facts
	Preds *Predictions
}

// driftSides gathers the reference and current sides from an Env: Env.Reference holds the
// reference images, Env.Data the current ones; with a candidate both are predicted (memoized).
func driftSides(ctx context.Context, env *Env) (ref, cur DriftSide, err error) {
	if env.Reference == nil {
		return ref, cur, Skip("no reference set (cvgate drift --reference DIR)")
	}
	ref = DriftSide{Data: env.Reference.Data, Facts: env.Reference.Facts}
	cur = DriftSide{Data: env.Data, Facts: env.Facts}
	if env.Candidate != nil {
		if ref.Preds, _, err = env.Reference.Clean(ctx); err != nil {
			return ref, cur, fmt.Errorf("predict the reference images: %w", err)
		}
		if cur.Preds, _, err = env.Clean(ctx); err != nil {
			return ref, cur, fmt.Errorf("predict the current images: %w", err)
		}
	}
	return ref, cur, nil
}

func (s DriftSide) hasProps() bool { return s.Facts != nil && s.Facts.Props != nil }

// itemLabel is item i's label as the data names it; "" when unlabelled.
func itemLabel(ds *dataset.Dataset, i int) string {
	it := ds.Items[i]
	if it.Label >= 0 && ds.Classes != nil {
		return ds.Classes.Names[it.Label]
	}
	return it.LabelName
}

// outputName names model output c by the current set's classes (a labels file), else its index.
func outputName(ds *dataset.Dataset, c int) string {
	switch {
	case c < 0:
		return "NaN"
	case ds.Classes != nil && c < len(ds.Classes.Names):
		return ds.Classes.Names[c]
	}
	return strconv.Itoa(c)
}

// shift is one distribution compared between the reference and the current images.
type shift struct {
	name        string
	categorical bool
	// Numeric: Kolmogorov-Smirnov, Wasserstein distance over the reference IQR, PSI.
	ks stats.KSResult
	w1 float64
	// Categorical: chi-square test and Cramer's V over the categories.
	chi        stats.ChiSquareResult
	categories []string
	refCounts  []int
	curCounts  []int
	psi        float64
	p          float64 // after the Holm adjustment over the check's tests
	refMid     string  // reference median, or most common category
	curMid     string
	drifted    bool
}

// effect is the test's effect size: KS D or Cramer's V.
func (s *shift) effect() float64 {
	if s.categorical {
		return s.chi.CramersV
	}
	return s.ks.D
}

func (s *shift) rawP() float64 {
	if s.categorical {
		return s.chi.PValue
	}
	return s.ks.PValue
}

// numericShift compares two samples of a number.
func numericShift(name string, ref, cur []float64) (*shift, error) {
	s := &shift{name: name}
	var err error
	if s.ks, err = stats.KolmogorovSmirnov(ref, cur); err != nil {
		return nil, fmt.Errorf("compare %s: %w", name, err)
	}
	if s.w1, err = stats.NormalizedWasserstein1(ref, cur, stats.SpreadIQR); err != nil {
		s.w1 = math.NaN() // the reference is constant: no scale to measure the move in
	}
	psi, err := stats.PSI(ref, cur, stats.PSIOptions{})
	if err != nil {
		return nil, fmt.Errorf("compare %s: %w", name, err)
	}
	s.psi = psi.PSI
	rm, _ := stats.Median(ref)
	cm, _ := stats.Median(cur)
	s.refMid, s.curMid = num(rm), num(cm)
	return s, nil
}

// categoricalShift compares two samples of a category.
func categoricalShift(name string, ref, cur []string) (*shift, error) {
	s := &shift{name: name, categorical: true}
	index := map[string]int{}
	for _, v := range append(append([]string{}, ref...), cur...) {
		if _, ok := index[v]; !ok {
			index[v] = 0
			s.categories = append(s.categories, v)
		}
	}
	sort.Strings(s.categories)
	for i, c := range s.categories {
		index[c] = i
	}
	s.refCounts = make([]int, len(s.categories))
	s.curCounts = make([]int, len(s.categories))
	for _, v := range ref {
		s.refCounts[index[v]]++
	}
	for _, v := range cur {
		s.curCounts[index[v]]++
	}
	var err error
	if s.chi, err = stats.ChiSquareIndependence([][]int{s.refCounts, s.curCounts}); err != nil {
		return nil, fmt.Errorf("compare %s: %w", name, err)
	}
	s.psi = categoricalPSI(s.refCounts, s.curCounts)
	s.refMid, s.curMid = mode(s.categories, s.refCounts), mode(s.categories, s.curCounts)
	return s, nil
}

// categoricalPSI is the population stability index over categories, shares floored at 1e-4 as
// stats.PSI floors empty bins.
func categoricalPSI(ref, cur []int) float64 {
	nr, nc := 0, 0
	for i := range ref {
		nr += ref[i]
		nc += cur[i]
	}
	psi := 0.0
	for i := range ref {
		r := math.Max(float64(ref[i])/float64(nr), stats.DefaultPSIEpsilon)
		c := math.Max(float64(cur[i])/float64(nc), stats.DefaultPSIEpsilon)
		psi += (c - r) * math.Log(c/r)
	}
	return psi
}

func mode(cats []string, counts []int) string {
	best := 0
	for i, c := range counts {
		if c > counts[best] {
			best = i
		}
	}
	return fmt.Sprintf("%s (%s)", cats[best], pct(float64(counts[best])/float64(max(sum(counts), 1))))
}

func sum(x []int) int {
	s := 0
	for _, v := range x {
		s += v
	}
	return s
}

// signalLevel is the significance level of each drift check. ks_p_value is the false-alarm level of
// a whole monitoring run, which asks four questions (properties, labels, predictions, all together):
// each gets an even share (Bonferroni, valid however the answers depend on one another), and the
// tests inside a check share it by Holm's method. Measured on random halves of MNIST with
// ks_p_value 0.01: 1 run in 200 alarms at 1,000 images a side, 2 in 400 at 200 a side (without
// the split, 9 in 400: 2.2%, over the level).
func signalLevel(cfg config.Drift) float64 { return cfg.KSPValue / float64(len(Drift())) }

// decide adjusts the p-values of a check's tests together (Holm) and marks the shifts that drift:
// significant at the check's level after adjustment, and large enough to matter, by the effect
// size (KS D >= min_effect, Cramer's V >= max_cramers_v) or PSI >= max_psi. Significance alone
// would flag trivial shifts on large samples; effect size alone would flag noise on small ones.
func decide(shifts []*shift, cfg config.Drift) error {
	if len(shifts) == 0 {
		return nil
	}
	p := make([]float64, len(shifts))
	for i, s := range shifts {
		p[i] = s.rawP()
	}
	adj, err := stats.Holm(p)
	if err != nil {
		return fmt.Errorf("adjust p-values: %w", err)
	}
	for i, s := range shifts {
		s.p = adj[i]
		minEffect := cfg.MinEffect
		if s.categorical {
			minEffect = cfg.MaxCramersV
		}
		s.drifted = s.p < signalLevel(cfg) && (s.effect() >= minEffect || s.psi >= cfg.MaxPSI)
	}
	return nil
}

func driftThreshold(cfg config.Drift) string {
	return fmt.Sprintf("drift: p < %g (ks_p_value / 4, Holm) and (KS D >= %g or Cramer's V >= %g or PSI >= %g)", signalLevel(cfg), cfg.MinEffect, cfg.MaxCramersV, cfg.MaxPSI)
}

// shiftTable lists the shifts, drifted ones first.
func shiftTable(shifts []*shift) *report.Table {
	t := tableOf("signal", "test", "effect", "p (Holm)", "W1 / IQR", "PSI", "reference", "current", "drift")
	sorted := append([]*shift{}, shifts...)
	sort.SliceStable(sorted, func(a, b int) bool {
		if sorted[a].drifted != sorted[b].drifted {
			return sorted[a].drifted
		}
		return sorted[a].effect() > sorted[b].effect()
	})
	for _, s := range sorted {
		test, effect, w1 := "KS", "D "+f3(s.ks.D), f3(s.w1)
		if s.categorical {
			test, effect, w1 = "chi-square", "V "+f3(s.chi.CramersV), ""
		}
		mark := ""
		if s.drifted {
			mark = "**drift**"
		}
		addRow(t, s.name, test, effect, pvalue(s.p), w1, f3(s.psi), s.refMid, s.curMid, mark)
	}
	return t
}

func pvalue(p float64) string {
	if p < 1e-4 {
		return "<0.0001"
	}
	return strconv.FormatFloat(p, 'f', 4, 64)
}

func drifted(shifts []*shift) []*shift {
	var out []*shift
	for _, s := range shifts {
		if s.drifted {
			out = append(out, s)
		}
	}
	return out
}

func describeShifts(ss []*shift, n int) string {
	var parts []string
	for i, s := range ss {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more", len(ss)-n))
			break
		}
		if s.categorical {
			parts = append(parts, fmt.Sprintf("%s (V %.2f, PSI %.2f)", s.name, s.chi.CramersV, s.psi))
		} else {
			parts = append(parts, fmt.Sprintf("%s (D %.2f, PSI %.2f, median %s -> %s)", s.name, s.ks.D, s.psi, s.refMid, s.curMid))
		}
	}
	return strings.Join(parts, ", ")
}

func shiftMetrics(m map[string]float64, ss []*shift) {
	for _, s := range ss {
		key := strings.ReplaceAll(s.name, " ", "_")
		m[key+"_effect"] = round(s.effect())
		m[key+"_psi"] = round(s.psi)
		m[key+"_p"] = round(s.p)
	}
}

// DriftProperties compares the distribution of every image property (KS test, Wasserstein
// distance, PSI), of the channel count and of every manifest attribute both sets have (chi-square,
// Cramer's V, PSI).
type DriftProperties struct{ driftCommon }

// ID implements Check.
func (DriftProperties) ID() string { return IDDriftProperties }

// Title implements Check.
func (DriftProperties) Title() string { return "Image property drift" }

// Run implements Check.
func (DriftProperties) Run(ctx context.Context, env *Env) (*report.Result, error) {
	if env.Reference == nil {
		return nil, Skip("no reference set (cvgate drift --reference DIR)")
	}
	ref := DriftSide{Data: env.Reference.Data, Facts: env.Reference.Facts}
	return PropertyDrift(ref, DriftSide{Data: env.Data, Facts: env.Facts}, env.Config.Thresholds.Drift)
}

// PropertyDrift is drift.properties on two sides (predictions are not needed).
func PropertyDrift(ref, cur DriftSide, cfg config.Drift) (*report.Result, error) {
	if !ref.hasProps() || !cur.hasProps() {
		return nil, Skip("image properties were not computed")
	}
	var shifts []*shift
	for k, name := range cur.Facts.Names {
		s, err := numericShift(name, ref.Facts.Column(k), cur.Facts.Column(k))
		if err != nil {
			return nil, err
		}
		shifts = append(shifts, s)
	}
	s, err := categoricalShift("color", channelNames(ref.Facts), channelNames(cur.Facts))
	if err != nil {
		return nil, err
	}
	shifts = append(shifts, s)
	for cc, a := range cur.Data.Attributes {
		rc := slices.Index(ref.Data.Attributes, a)
		if rc < 0 {
			continue
		}
		s, err := categoricalShift(a, attributeValues(ref.Data, rc), attributeValues(cur.Data, cc))
		if err != nil {
			return nil, err
		}
		shifts = append(shifts, s)
	}
	if err := decide(shifts, cfg); err != nil {
		return nil, err
	}
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{}, Threshold: driftThreshold(cfg)}
	shiftMetrics(res.Metrics, shifts)
	moved := drifted(shifts)
	res.Metrics["drifted"] = float64(len(moved))
	res.Metrics["signals"] = float64(len(shifts))
	if len(moved) > 0 {
		res.Status = report.StatusFail
		res.Summary = fmt.Sprintf("%d of %d properties drifted: %s", len(moved), len(shifts), describeShifts(moved, 4))
	} else {
		top := slices.MaxFunc(shifts, func(a, b *shift) int { return cmp.Compare(a.effect(), b.effect()) })
		res.Summary = fmt.Sprintf("no property drifted (%d compared; largest effect %s %.3f)", len(shifts), top.name, top.effect())
	}
	res.Details = append(res.Details, report.Section{Title: fmt.Sprintf("Properties: reference %d images, current %d images", len(ref.Data.Items), len(cur.Data.Items)), Table: shiftTable(shifts)})
	return res, nil
}

func channelNames(f *analysis.Facts) []string {
	out := make([]string, f.Len())
	for i, c := range f.Channels {
		out[i] = "rgb"
		if c == 1 {
			out[i] = "gray"
		}
	}
	return out
}

func attributeValues(ds *dataset.Dataset, col int) []string {
	out := make([]string, len(ds.Items))
	for i, it := range ds.Items {
		if col < len(it.Attrs) && it.Attrs[col] != "" {
			out[i] = it.Attrs[col]
		} else {
			out[i] = "(empty)"
		}
	}
	return out
}

// DriftLabels compares the label distributions, when both sets are labelled: new or vanished
// classes and changed class frequencies.
type DriftLabels struct{ driftCommon }

// ID implements Check.
func (DriftLabels) ID() string { return IDDriftLabels }

// Title implements Check.
func (DriftLabels) Title() string { return "Label drift" }

// Run implements Check.
func (DriftLabels) Run(ctx context.Context, env *Env) (*report.Result, error) {
	if env.Reference == nil {
		return nil, Skip("no reference set (cvgate drift --reference DIR)")
	}
	if env.Task != nil {
		return taskLabelDrift(env)
	}
	return LabelDrift(DriftSide{Data: env.Reference.Data}, DriftSide{Data: env.Data}, env.Config.Thresholds.Drift)
}

// LabelDrift is drift.labels on two sides. Labels are compared by name, so that sets labelled
// with different class lists compare.
func LabelDrift(ref, cur DriftSide, cfg config.Drift) (*report.Result, error) {
	rl, cl := labelNames(ref.Data), labelNames(cur.Data)
	if len(rl) == 0 || len(cl) == 0 {
		return nil, Skip("labels are needed on both sets (one of them is unlabelled)")
	}
	s, err := categoricalShift("label", rl, cl)
	if err != nil {
		return nil, err
	}
	if err := decide([]*shift{s}, cfg); err != nil {
		return nil, err
	}
	res := &report.Result{Status: report.StatusPass, Threshold: driftThreshold(cfg), Metrics: map[string]float64{
		"cramers_v":          round(s.chi.CramersV),
		"psi":                round(s.psi),
		"p":                  round(s.p),
		"reference_labelled": float64(len(rl)),
		"current_labelled":   float64(len(cl)),
	}}
	var added, gone []string
	t := tableOf("label", "reference", "current", "change")
	nr, nc := float64(len(rl)), float64(len(cl))
	for i, c := range s.categories {
		r, k := float64(s.refCounts[i])/nr, float64(s.curCounts[i])/nc
		switch {
		case s.refCounts[i] == 0:
			added = append(added, c)
		case s.curCounts[i] == 0:
			gone = append(gone, c)
		}
		addRow(t, c, pct(r), pct(k), pp(k-r))
	}
	res.Summary = fmt.Sprintf("label distribution stable (Cramer's V %.3f, PSI %.3f)", s.chi.CramersV, s.psi)
	if s.drifted {
		res.Status = report.StatusFail
		res.Summary = fmt.Sprintf("labels drifted: Cramer's V %.2f, PSI %.2f", s.chi.CramersV, s.psi)
	}
	if len(added) > 0 {
		res.Summary += fmt.Sprintf("; %s only in the current set (%s)", count(len(added), "label", "labels"), preview(added, 5))
	}
	if len(gone) > 0 {
		res.Summary += fmt.Sprintf("; %s only in the reference (%s)", count(len(gone), "label", "labels"), preview(gone, 5))
	}
	res.Details = append(res.Details, report.Section{Title: "Label shares", Table: t})
	return res, nil
}

// labelNames lists the labels of the labelled images, or nil when none is labelled.
func labelNames(ds *dataset.Dataset) []string {
	var out []string
	for i := range ds.Items {
		if l := itemLabel(ds, i); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// DriftPredictions compares what the model says on the two sets: the distribution of predicted
// classes and of confidence. When both sets carry labels the model knows, it also reports the
// accuracy on each (for information: drift is about inputs, accuracy needs labels).
type DriftPredictions struct{ driftCommon }

// ID implements Check.
func (DriftPredictions) ID() string { return IDDriftPredictions }

// Title implements Check.
func (DriftPredictions) Title() string { return "Prediction drift (classes and confidence)" }

// Run implements Check.
func (DriftPredictions) Run(ctx context.Context, env *Env) (*report.Result, error) {
	if env.Candidate == nil {
		return nil, Skip("no model (cvgate drift --model MODEL.onnx compares its predictions)")
	}
	if env.decoded() && env.Reference != nil {
		return taskPredictionDrift(ctx, env)
	}
	ref, cur, err := driftSides(ctx, env)
	if err != nil {
		return nil, err
	}
	return PredictionDrift(ref, cur, env.Config.Thresholds.Drift)
}

// PredictionDrift is drift.predictions on two sides with predictions. Outputs are named by the
// current set's classes (a labels file) or their index.
func PredictionDrift(ref, cur DriftSide, cfg config.Drift) (*report.Result, error) {
	rp, cp := ref.Preds, cur.Preds
	if rp == nil || cp == nil {
		return nil, Skip("no model (cvgate drift --model MODEL.onnx compares its predictions)")
	}
	classes, err := categoricalShift("predicted class", predictedNames(cur.Data, rp), predictedNames(cur.Data, cp))
	if err != nil {
		return nil, err
	}
	conf, err := numericShift("confidence", confidences(rp), confidences(cp))
	if err != nil {
		return nil, err
	}
	shifts := []*shift{classes, conf}
	if err := decide(shifts, cfg); err != nil {
		return nil, err
	}
	res := &report.Result{Status: report.StatusPass, Threshold: driftThreshold(cfg), Metrics: map[string]float64{
		"reference_mean_confidence": round(meanOf(confidences(rp))),
		"current_mean_confidence":   round(meanOf(confidences(cp))),
	}}
	shiftMetrics(res.Metrics, shifts)
	moved := drifted(shifts)
	res.Summary = fmt.Sprintf("predictions stable: classes V %.3f, confidence D %.3f (mean %s -> %s)", classes.chi.CramersV, conf.ks.D,
		pct(res.Metrics["reference_mean_confidence"]), pct(res.Metrics["current_mean_confidence"]))
	if len(moved) > 0 {
		res.Status = report.StatusFail
		res.Summary = fmt.Sprintf("predictions drifted: %s; mean confidence %s -> %s", describeShifts(moved, 2),
			pct(res.Metrics["reference_mean_confidence"]), pct(res.Metrics["current_mean_confidence"]))
	}
	ra, rn := accuracyByName(ref.Data, cur.Data.Classes, rp)
	ca, cn := accuracyByName(cur.Data, cur.Data.Classes, cp)
	if rn > 0 && cn > 0 {
		res.Metrics["reference_accuracy"] = round(ra)
		res.Metrics["current_accuracy"] = round(ca)
		res.Summary += fmt.Sprintf("; accuracy %s -> %s", pct(ra), pct(ca))
	}
	res.Details = append(res.Details, report.Section{Title: "Predictions", Table: shiftTable(shifts)})
	t := tableOf("predicted class", "reference", "current", "change")
	for i, c := range classes.categories {
		r := float64(classes.refCounts[i]) / float64(rp.Rows())
		k := float64(classes.curCounts[i]) / float64(cp.Rows())
		addRow(t, c, pct(r), pct(k), pp(k-r))
	}
	res.Details = append(res.Details, report.Section{Title: "Predicted class shares", Table: t})
	return res, nil
}

func predictedNames(names *dataset.Dataset, p *Predictions) []string {
	out := make([]string, p.Rows())
	for r := range out {
		out[r] = outputName(names, int(p.Top1[r]))
	}
	return out
}

// confidences are the top-1 probabilities, with 0 for unusable (NaN) outputs.
func confidences(p *Predictions) []float64 {
	out := make([]float64, p.Rows())
	for r, c := range p.Conf {
		if !math.IsNaN(float64(c)) {
			out[r] = float64(c)
		}
	}
	return out
}

func meanOf(x []float64) float64 {
	m, err := stats.Mean(x)
	if err != nil {
		return math.NaN()
	}
	return m
}

// accuracyByName scores the images whose label names one of the model's classes; n is how many.
func accuracyByName(ds *dataset.Dataset, classes *dataset.Classes, p *Predictions) (acc float64, n int) {
	if classes == nil {
		return 0, 0
	}
	right := 0
	for r, i := range p.Indices {
		c, ok := classes.Index(itemLabel(ds, i))
		if !ok {
			continue
		}
		n++
		if int(p.Top1[r]) == c {
			right++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return float64(right) / float64(n), n
}

// DriftDomain trains a classifier to tell current images from reference images on their
// properties and, with a model, the model's outputs; its cross-validated AUC says how separable
// the sets are, all features together. Score = max(0, 2 AUC - 1): 0 indistinguishable, 1 fully
// separable.
type DriftDomain struct{ driftCommon }

// ID implements Check.
func (DriftDomain) ID() string { return IDDriftDomain }

// Title implements Check.
func (DriftDomain) Title() string { return "Multivariate drift (domain classifier)" }

// Run implements Check.
func (DriftDomain) Run(ctx context.Context, env *Env) (*report.Result, error) {
	ref, cur, err := driftSides(ctx, env)
	if err != nil {
		return nil, err
	}
	if env.decoded() {
		// The domain classifier's model features are class probabilities, which detectors and
		// segmenters do not have: it uses the image properties alone.
		ref.Preds, cur.Preds = nil, nil
	}
	return DomainDrift(ref, cur, env.Config.Thresholds.Drift, env.Config.Seed)
}

// DomainDrift is drift.domain on two sides; predictions are used when both sides have them. seed
// assigns images to the cross-validation folds.
func DomainDrift(ref, cur DriftSide, cfg config.Drift, seed uint64) (*report.Result, error) {
	if !ref.hasProps() || !cur.hasProps() {
		return nil, Skip("image properties were not computed")
	}
	withModel := ref.Preds != nil && cur.Preds != nil
	names, refRows := domainFeatures(ref, cur.Data, withModel)
	_, curRows := domainFeatures(cur, cur.Data, withModel)
	if len(refRows) < stats.DefaultDomainFolds || len(curRows) < stats.DefaultDomainFolds {
		return nil, Skip("the domain classifier needs %d images on each side", stats.DefaultDomainFolds)
	}
	dr, err := stats.DomainClassifier(refRows, curRows, stats.DomainOptions{Seed: seed, Quadratic: true})
	if err != nil {
		return nil, fmt.Errorf("domain classifier: %w", err)
	}
	// The score alone is noisy on small sets (its spread under no drift is about
	// 2 sqrt((n1+n2+1) / (12 n1 n2)), 0.12 at 50 images a side): an alarm also needs the AUC to be
	// significantly above 0.5 at the check's level, by the Mann-Whitney normal approximation.
	n1, n2 := float64(len(refRows)), float64(len(curRows))
	p := 1 - stats.NormalCDF((dr.AUC-0.5)/math.Sqrt((n1+n2+1)/(12*n1*n2)))
	significant := p < signalLevel(cfg)
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{
		"auc":      round(dr.AUC),
		"score":    round(dr.Score),
		"p":        round(p),
		"auc_min":  round(slices.Min(dr.FoldAUC)),
		"auc_max":  round(slices.Max(dr.FoldAUC)),
		"features": float64(len(names)),
	}}
	res.Threshold = fmt.Sprintf("score (2 AUC - 1) <= %g warn, <= %g fail, when AUC > 0.5 at p < %g", cfg.MaxDomainScore, cfg.FailDomainScore, signalLevel(cfg))
	res.Summary = fmt.Sprintf("the sets are hard to tell apart: AUC %.3f, score %.3f", dr.AUC, dr.Score)
	switch {
	case !significant:
		if dr.Score > cfg.MaxDomainScore {
			res.Summary += fmt.Sprintf(" (not significant on %d and %d images: p %.3g)", len(refRows), len(curRows), p)
		}
	case dr.Score > cfg.FailDomainScore:
		res.Status = report.StatusFail
		res.Summary = fmt.Sprintf("a classifier tells current from reference images: AUC %.3f, score %.3f over %g", dr.AUC, dr.Score, cfg.FailDomainScore)
	case dr.Score > cfg.MaxDomainScore:
		res.Status = report.StatusWarn
		res.Summary = fmt.Sprintf("current images are partly separable from the reference: AUC %.3f, score %.3f over %g", dr.AUC, dr.Score, cfg.MaxDomainScore)
	}
	res.Details = append(res.Details, separatingFeatures(names, refRows, curRows))
	return res, nil
}

// domainFeatures builds one row per image of side: its properties, its colour (0 gray, 1 RGB)
// and, withModel, confidence, margin, normalised entropy and (for up to 20 classes) every class
// probability. names names outputs.
func domainFeatures(side DriftSide, names *dataset.Dataset, withModel bool) ([]string, [][]float64) {
	cols := append(append([]string{}, side.Facts.Names...), "color")
	p := side.Preds
	if withModel {
		cols = append(cols, "confidence", "margin", "entropy")
		if p.Classes <= maxProbabilityFeatures {
			for c := 0; c < p.Classes; c++ {
				cols = append(cols, "p("+outputName(names, c)+")")
			}
		}
	}
	rows := make([][]float64, side.Facts.Len())
	for i := range rows {
		row := append(make([]float64, 0, len(cols)), side.Facts.Props[i]...)
		rows[i] = append(row, float64(side.Facts.Channels[i]-1)/2)
	}
	if withModel {
		for r, i := range p.Indices {
			probs := p.Row(r)
			conf, margin, ent := outputSummary(probs)
			rows[i] = append(rows[i], conf, margin, ent)
			if p.Classes <= maxProbabilityFeatures {
				for _, v := range probs {
					rows[i] = append(rows[i], finiteOr0(float64(v)))
				}
			}
		}
	}
	return cols, rows
}

// outputSummary returns the top probability, its margin over the second and the entropy of the
// distribution divided by log(classes); NaN outputs give 0s.
func outputSummary(probs []float32) (conf, margin, entropy float64) {
	first, second := 0.0, 0.0
	for _, v := range probs {
		x := float64(v)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, 0, 0
		}
		if x > first {
			first, second = x, first
		} else if x > second {
			second = x
		}
		if x > 0 {
			entropy -= x * math.Log(x)
		}
	}
	if len(probs) > 1 {
		entropy /= math.Log(float64(len(probs)))
	}
	return first, first - second, entropy
}

func finiteOr0(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// separatingFeatures ranks the features by how well each alone tells the sets apart
// (|AUC - 0.5|), to say what moved.
func separatingFeatures(names []string, ref, cur [][]float64) report.Section {
	type ranked struct {
		name string
		auc  float64
	}
	var rs []ranked
	positive := make([]bool, len(ref)+len(cur))
	for i := len(ref); i < len(positive); i++ {
		positive[i] = true
	}
	scores := make([]float64, len(positive))
	for k, name := range names {
		for i, r := range ref {
			scores[i] = r[k]
		}
		for i, r := range cur {
			scores[len(ref)+i] = r[k]
		}
		auc, err := stats.AUC(scores, positive)
		if err != nil {
			continue
		}
		rs = append(rs, ranked{name, auc})
	}
	sort.SliceStable(rs, func(a, b int) bool { return math.Abs(rs[a].auc-0.5) > math.Abs(rs[b].auc-0.5) })
	t := tableOf("feature", "AUC alone", "direction")
	for i, r := range rs {
		if i == 8 {
			break
		}
		dir := "higher in current"
		if r.auc < 0.5 {
			dir = "lower in current"
		}
		if math.Abs(r.auc-0.5) < 0.01 {
			dir = "="
		}
		addRow(t, r.name, f3(r.auc), dir)
	}
	return report.Section{Title: "Features that tell the sets apart best, one at a time", Table: t}
}
