package checks

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/report"
)

// Check IDs of the performance family.
const (
	IDPerfMetrics = "perf.metrics"
	IDPerfTrivial = "perf.trivial"
)

// PerfMetrics measures accuracy (with a bootstrap interval), top-k accuracy, macro F1, per-class
// precision and recall, the confusion matrix and calibration.
type PerfMetrics struct{}

// ID implements Check.
func (PerfMetrics) ID() string { return IDPerfMetrics }

// Common implements Toggled.
func (PerfMetrics) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.PerfMetrics.Common, true
}

// Title implements Check.
func (PerfMetrics) Title() string { return "Accuracy and per-class metrics" }

// classMetrics are the numbers perf.metrics computes for one model.
type classMetrics struct {
	acc       stats.Interval
	topK      float64
	macroF1   float64
	calib     stats.Calibration
	confusion *stats.Confusion
	nanRows   int
	correct   []bool
}

func computeMetrics(p *Predictions, ds *dataset.Dataset, cfg perfCfg) (*classMetrics, error) {
	n := p.Rows()
	truth := make([]int, n)
	pred := make([]int, n)
	rows := make([][]float32, n)
	conf := make([]float64, n)
	m := &classMetrics{correct: p.Correct(ds)}
	for r, i := range p.Indices {
		truth[r] = ds.Items[i].Label
		pred[r] = int(p.Top1[r])
		rows[r] = p.Row(r)
		if p.Top1[r] < 0 {
			m.nanRows++
			// An unusable output is a wrong answer with no confidence.
			pred[r] = (truth[r] + 1) % p.Classes
			conf[r] = 0
			continue
		}
		conf[r] = float64(p.Conf[r])
	}
	var err error
	if m.acc, err = stats.BootstrapAccuracy(m.correct, stats.BootstrapOptions{Resamples: cfg.bootstrap, Seed: cfg.seed}); err != nil {
		return nil, fmt.Errorf("bootstrap accuracy: %w", err)
	}
	if m.confusion, err = stats.NewConfusion(truth, pred, p.Classes); err != nil {
		return nil, fmt.Errorf("confusion matrix: %w", err)
	}
	m.macroF1 = m.confusion.MacroF1()
	k := min(cfg.topK, p.Classes)
	if m.nanRows == 0 {
		if m.topK, err = stats.TopKAccuracy(rows, truth, k); err != nil {
			return nil, fmt.Errorf("top-%d accuracy: %w", k, err)
		}
	} else {
		m.topK = math.NaN()
	}
	if m.calib, err = stats.ExpectedCalibrationError(conf, m.correct, cfg.bins); err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	return m, nil
}

type perfCfg struct {
	bootstrap, topK, bins int
	seed                  uint64
}

// Run implements Check.
func (PerfMetrics) Run(ctx context.Context, env *Env) (*report.Result, error) {
	if env.decoded() {
		if err := env.annotated(); err != nil {
			return nil, err
		}
		return taskPerfMetrics(ctx, env)
	}
	if err := env.labelled(); err != nil {
		return nil, err
	}
	cfg := env.Config.Thresholds.PerfMetrics
	pc := perfCfg{bootstrap: cfg.Bootstrap, topK: cfg.TopK, bins: cfg.CalibrationBins, seed: env.Config.Seed}
	cand, base, err := env.Clean(ctx)
	if err != nil {
		return nil, err
	}
	m, err := computeMetrics(cand, env.Data, pc)
	if err != nil {
		return nil, err
	}
	k := min(cfg.TopK, cand.Classes)
	res := &report.Result{Status: report.StatusPass, Metrics: metricsMap(m, k)}
	res.Summary = fmt.Sprintf("accuracy %s [%s, %s] on %d images · macro F1 %s · top-%d %s · ECE %s",
		pct(m.acc.Estimate), pct(m.acc.Lo), pct(m.acc.Hi), cand.Rows(), f3(m.macroF1), k, pct(m.topK), f3(m.calib.ECE))
	var thresholds, problems, warnings []string
	if v := cfg.MinAccuracy; v != nil {
		thresholds = append(thresholds, "accuracy >= "+pct(*v))
		if m.acc.Estimate < *v {
			problems = append(problems, fmt.Sprintf("accuracy %s is below min_accuracy %s (95%% interval %s to %s)", pct(m.acc.Estimate), pct(*v), pct(m.acc.Lo), pct(m.acc.Hi)))
		}
	}
	if v := cfg.MinMacroF1; v != nil {
		thresholds = append(thresholds, "macro F1 >= "+f3(*v))
		if m.macroF1 < *v {
			problems = append(problems, fmt.Sprintf("macro F1 %s is below min_macro_f1 %s", f3(m.macroF1), f3(*v)))
		}
	}
	if v := cfg.MaxECE; v != nil {
		thresholds = append(thresholds, "ECE <= "+f3(*v))
		if m.calib.ECE > *v {
			warnings = append(warnings, fmt.Sprintf("calibration error %s is above max_ece %s", f3(m.calib.ECE), f3(*v)))
		}
	}
	res.Threshold = joinNonEmpty(", ", thresholds...)
	if res.Threshold == "" {
		res.Threshold = "none set (report only)"
	}
	switch {
	case len(problems) > 0:
		res.Status = report.StatusFail
		res.Summary = joinNonEmpty("; ", problems...)
	case len(warnings) > 0:
		res.Status = report.StatusWarn
		res.Summary = joinNonEmpty("; ", warnings...)
	}
	if m.nanRows > 0 {
		res.Summary += fmt.Sprintf(" (%d images with NaN outputs counted as wrong)", m.nanRows)
	}

	var bm *classMetrics
	if base != nil {
		if bm, err = computeMetrics(base, env.Data, pc); err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		res.BaselineMetrics = metricsMap(bm, k)
		d := m.acc.Estimate - bm.acc.Estimate
		res.VsBaseline = fmt.Sprintf("accuracy %s %s (baseline %s)", pp(d), arrow(d, true), pct(bm.acc.Estimate))
	}
	res.Details = append(res.Details, perClassSection(env, m, bm), confusionSection(env, m), calibrationSection(m))

	// Failure cases: wrong answers, most confident first (the ones a team most needs to see).
	var cases []failures.Case
	wrong := 0
	for r, ok := range m.correct {
		if ok {
			continue
		}
		wrong++
		it := env.Data.Items[cand.Indices[r]]
		conf := float64(cand.Conf[r])
		if math.IsNaN(conf) {
			conf = 0
		}
		cases = append(cases, failures.Case{Image: env.Candidate.Spec.View(it.Image), Path: it.Path, Label: env.className(it.Label),
			Predicted: env.className(int(cand.Top1[r])), Confidence: conf, Perturbation: "clean", Severity: conf})
		if len(cases) > 4*max(env.exportLimit(), 1) {
			// Keep memory bounded on big sets: keep only the most confident so far.
			cases = topCases(cases, env.exportLimit())
		}
	}
	env.export(res, IDPerfMetrics, cases, wrong)
	return res, nil
}

func (e *Env) exportLimit() int {
	if e.Export == nil {
		return 0
	}
	return e.Export.MaxPerCheck
}

// topCases keeps the n most severe cases.
func topCases(cs []failures.Case, n int) []failures.Case {
	sortCases(cs)
	if len(cs) > n {
		cs = cs[:n]
	}
	return cs
}

func metricsMap(m *classMetrics, k int) map[string]float64 {
	return map[string]float64{
		"accuracy":                             round(m.acc.Estimate),
		"accuracy_low":                         round(m.acc.Lo),
		"accuracy_high":                        round(m.acc.Hi),
		"macro_f1":                             round(m.macroF1),
		"top_" + strconv.Itoa(k) + "_accuracy": finite(m.topK),
		"ece":                                  round(m.calib.ECE),
		"mce":                                  round(m.calib.MCE),
		"images":                               float64(len(m.correct)),
		"nan_outputs":                          float64(m.nanRows),
	}
}

func perClassSection(env *Env, m, bm *classMetrics) report.Section {
	cols := []string{"class", "support", "precision", "recall", "F1"}
	if bm != nil {
		cols = append(cols, "recall vs baseline")
	}
	t := tableOf(cols...)
	var basePer []stats.ClassMetrics
	if bm != nil {
		basePer = bm.confusion.PerClass()
	}
	for i, c := range m.confusion.PerClass() {
		row := []string{env.className(c.Class), strconv.Itoa(c.Support), f3(c.Precision), f3(c.Recall), f3(c.F1)}
		if bm != nil {
			d := c.Recall - basePer[i].Recall
			row = append(row, fmt.Sprintf("%s %s", pp(d), arrow(d, true)))
		}
		addRow(t, row...)
	}
	return report.Section{Title: "Per-class metrics", Table: t}
}

func confusionSection(env *Env, m *classMetrics) report.Section {
	n := m.confusion.NumClasses
	mx := &report.Matrix{RowLabel: "true", ColLabel: "predicted"}
	for i := 0; i < n; i++ {
		mx.Rows = append(mx.Rows, env.className(i))
		mx.Cols = append(mx.Cols, env.className(i))
		row := make([]float64, n)
		for j := 0; j < n; j++ {
			row[j] = float64(m.confusion.At(i, j))
		}
		mx.Values = append(mx.Values, row)
	}
	if n > 30 {
		// A 1000-class matrix does not fit a comment; the most confused pairs say more.
		return mostConfused(env, m)
	}
	return report.Section{Title: "Confusion matrix (rows: true class)", Matrix: mx}
}

func mostConfused(env *Env, m *classMetrics) report.Section {
	type pair struct{ t, p, n int }
	var pairs []pair
	n := m.confusion.NumClasses
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i != j && m.confusion.At(i, j) > 0 {
				pairs = append(pairs, pair{i, j, m.confusion.At(i, j)})
			}
		}
	}
	sort.Slice(pairs, func(a, b int) bool {
		if pairs[a].n != pairs[b].n {
			return pairs[a].n > pairs[b].n
		}
		if pairs[a].t != pairs[b].t {
			return pairs[a].t < pairs[b].t
		}
		return pairs[a].p < pairs[b].p
	})
	t := tableOf("true", "predicted", "images")
	for i, p := range pairs {
		if i == 20 {
			break
		}
		addRow(t, env.className(p.t), env.className(p.p), strconv.Itoa(p.n))
	}
	return report.Section{Title: "Most confused class pairs", Table: t}
}

func calibrationSection(m *classMetrics) report.Section {
	t := tableOf("confidence", "images", "mean confidence", "accuracy")
	for _, b := range m.calib.Bins {
		if b.Count == 0 {
			continue
		}
		addRow(t, fmt.Sprintf("%.2f-%.2f", b.Lo, b.Hi), strconv.Itoa(b.Count), f3(b.MeanConfidence), f3(b.Accuracy))
	}
	return report.Section{Title: fmt.Sprintf("Calibration (ECE %s, MCE %s)", f3(m.calib.ECE), f3(m.calib.MCE)), Table: t}
}

// PerfTrivial compares the model with the majority-class model: a model that barely beats always
// answering the most common class has learnt little.
type PerfTrivial struct{}

// ID implements Check.
func (PerfTrivial) ID() string { return IDPerfTrivial }

// Common implements Toggled.
func (PerfTrivial) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.PerfTrivial.Common, true
}

// Title implements Check.
func (PerfTrivial) Title() string { return "Gain over the majority-class model" }

// Run implements Check.
func (PerfTrivial) Run(ctx context.Context, env *Env) (*report.Result, error) {
	if env.decoded() {
		return nil, Skip("the majority-class reference is defined for classification only; a %s model's floor is its per-class metrics in perf.metrics", env.Task.Kind())
	}
	if err := env.labelled(); err != nil {
		return nil, err
	}
	cand, base, err := env.Clean(ctx)
	if err != nil {
		return nil, err
	}
	counts := make([]int, len(env.Data.Classes.Names))
	for _, i := range cand.Indices {
		if l := env.Data.Items[i].Label; l >= 0 {
			counts[l]++
		}
	}
	majority, best := 0, 0
	for c, n := range counts {
		if n > best {
			majority, best = c, n
		}
	}
	trivial := float64(best) / float64(max(cand.Rows(), 1))
	acc := cand.Accuracy(env.Data)
	gain := acc - trivial
	minGain := env.Config.Thresholds.PerfTrivial.MinGain
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{
		"accuracy":          round(acc),
		"majority_accuracy": round(trivial),
		"gain":              round(gain),
	}}
	res.Threshold = "gain >= " + pp(minGain)
	res.Summary = fmt.Sprintf("accuracy %s vs %s for always answering %q: gain %s", pct(acc), pct(trivial), env.className(majority), pp(gain))
	if gain < minGain {
		res.Status = report.StatusFail
		res.Summary = fmt.Sprintf("the model beats always answering %q (%s) by only %s", env.className(majority), pct(trivial), pp(gain))
		if gain <= 0 {
			res.Summary = fmt.Sprintf("the model does no better than always answering %q (%s): gain %s", env.className(majority), pct(trivial), pp(gain))
		}
	}
	if base != nil {
		bg := base.Accuracy(env.Data) - trivial
		res.BaselineMetrics = map[string]float64{"gain": round(bg)}
		res.VsBaseline = fmt.Sprintf("gain %s %s", pp(gain-bg), arrow(gain-bg, true))
	}
	return res, nil
}
