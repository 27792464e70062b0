package checks

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/report"
)

// IDPerfBaseline is the ID of the paired regression check against the baseline.
const IDPerfBaseline = "perf.baseline"

// targetPower is the target power of the "how many images would tell" estimate: the usual 80%.
const targetPower = 0.8

// warnBeyondP is the one-sided p-value of "the drop exceeds max_drop" (stats.PairedMarginTest)
// under which a drop that does not fail still warns: the drop is probably, not yet significantly,
// over max_drop. Measured on 1,000 subsamples of 500 MNIST images, a warning on any significant
// drop over max_drop (McNemar p < alpha) came up in 3.1% of seed-only changes; this rule, in a
// simulation at the same discordance, in 0.7%, while a real 2 pp drop still fails or warns in 61%
// of 500-image sets (TestPerfBaselineFalseAlarmRate measures the real-model rate).
const warnBeyondP = 0.2

// PerfBaseline compares the candidate with the baseline on the same images, pair by pair. A drop
// in accuracy fails the check only when it is larger than max_drop, significantly so: McNemar's
// exact test on the images where exactly one model is right says the models differ, and the
// paired bootstrap interval of the difference lies wholly beyond max_drop. A drop that is probably
// but not significantly beyond max_drop warns and says how many images would tell. Small
// evaluation sets make naive thresholds flaky: 0.5% on 500 images is a few images, and a gate that
// fails on noise gets switched off.
type PerfBaseline struct{}

// ID implements Check.
func (PerfBaseline) ID() string { return IDPerfBaseline }

// Common implements Toggled.
func (PerfBaseline) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.PerfBaseline.Common, true
}

// Title implements Check.
func (PerfBaseline) Title() string { return "Regression vs baseline (paired)" }

// PairedOptions configure ComparePaired.
type PairedOptions struct {
	MaxDrop float64 // accuracy drop (absolute share) that matters
	Alpha   float64 // significance level of every test
	// MaxNegativeFlipRate fails when more images go from right to wrong; nil: no limit.
	MaxNegativeFlipRate *float64
	// ClassMaxDrop is the recall drop a class may lose before it counts as regressed; nil uses
	// MaxDrop. A class's tolerance is never below one of its images (1/support): on a class of 40
	// images one image is 2.5 pp, and a tolerance finer than that cannot be tested.
	ClassMaxDrop *float64
	Bootstrap    int // resamples of each bootstrap interval
	Seed         uint64
	// ClassName names a class in messages; nil uses its index.
	ClassName func(int) string
}

// PairedComparison is what ComparePaired finds: model A (the candidate) against model B (the
// baseline) on the same images.
type PairedComparison struct {
	N     int
	Table stats.PairedTable // A = candidate, B = baseline
	// AccA and AccB are the accuracies; Diff is AccA - AccB with its paired bootstrap interval.
	AccA, AccB float64
	Diff       stats.Interval
	// F1A and F1B are macro F1; F1Diff is F1A - F1B with its paired bootstrap interval.
	F1A, F1B float64
	F1Diff   stats.Interval
	// P is McNemar's exact two-sided p-value on the discordant pairs.
	P float64
	// PBeyond is the one-sided p-value of "the drop exceeds max_drop" (stats.PairedMarginTest).
	PBeyond float64
	// NFR is the negative flip rate (A wrong where B was right) over all images, PFR the positive
	// flip rate. RelativeNFR is NFR over the rate expected if the two models erred independently,
	// acc(B) x error(A) (Yan et al., 2021): below 1, A's new errors concentrate where B erred too.
	NFR, PFR, RelativeNFR float64
	PerClass              []ClassDelta
	// Verdict is pass, warn or fail, with the reasons in Problems (fail) and Warnings (warn).
	Verdict  report.Status
	Problems []string
	Warnings []string
	// Notes are findings that do not change the verdict: classes whose recall changed
	// significantly but within their tolerance.
	Notes []string
	// Needed is, when the drop exceeds max_drop but the data cannot tell it from max_drop, how
	// many images would, with 80% power, at the observed drop and discordance (imagesToTell);
	// PowerNow is the power the images at hand have.
	Needed   int
	PowerNow float64
}

// ClassDelta is one class's recall under both models, tested on that class's images alone, in two
// ways: whether it changed at all (McNemar), and whether it dropped by more than the class's
// tolerance (the score test against that margin), each with Holm's correction over the classes.
type ClassDelta struct {
	Class     int
	Support   int
	RecallA   float64
	RecallB   float64
	Lost      int     // images of the class A gets wrong and B right
	Gained    int     // images of the class A gets right and B wrong
	P         float64 // McNemar exact: did the recall change at all
	PAdjusted float64 // Holm over the classes
	// Tolerance is the recall drop this class may lose: ClassMaxDrop, or one image of the class
	// when that is more.
	Tolerance float64
	// PBeyond is the one-sided p-value of "the drop exceeds Tolerance" (stats.PairedMarginTest);
	// PBeyondAdjusted is Holm-adjusted over the classes.
	PBeyond, PBeyondAdjusted float64
	// Regression: the drop exceeds the tolerance, significantly (PBeyondAdjusted < alpha).
	Regression bool
	// Changed: the recall changed significantly (PAdjusted < alpha) but is not a regression.
	Changed bool
}

// Drop is the accuracy lost by the candidate (negative when it gained).
func (c *PairedComparison) Drop() float64 { return -c.Diff.Estimate }

// ComparePaired compares two models' top-1 predictions on the same images. truth holds the labels
// (rows with a negative label are left out); predA and predB the predicted classes, -1 for an
// unusable (NaN) output, which counts as wrong.
func ComparePaired(truth, predA, predB []int, classes int, o PairedOptions) (*PairedComparison, error) {
	if len(truth) != len(predA) || len(truth) != len(predB) {
		return nil, fmt.Errorf("compare predictions: %d labels, %d and %d predictions", len(truth), len(predA), len(predB))
	}
	if classes <= 0 {
		return nil, fmt.Errorf("compare predictions: %d classes", classes)
	}
	// Keep labelled rows; an unusable prediction becomes a wrong class so that the confusion
	// matrix and macro F1 count it as an error, as perf.metrics does.
	var t, a, b []int
	for i, y := range truth {
		if y < 0 {
			continue
		}
		if y >= classes {
			return nil, fmt.Errorf("compare predictions: label %d outside the %d classes", y, classes)
		}
		t = append(t, y)
		a = append(a, usable(predA[i], y, classes))
		b = append(b, usable(predB[i], y, classes))
	}
	n := len(t)
	if n == 0 {
		return nil, fmt.Errorf("compare predictions: no labelled image")
	}
	okA := make([]bool, n)
	okB := make([]bool, n)
	for i := range t {
		okA[i], okB[i] = a[i] == t[i], b[i] == t[i]
	}
	table, err := stats.NewPairedTable(okA, okB)
	if err != nil {
		return nil, err
	}
	c := &PairedComparison{N: n, Table: table, Verdict: report.StatusPass}
	c.AccA = float64(table.Both+table.AOnly) / float64(n)
	c.AccB = float64(table.Both+table.BOnly) / float64(n)
	boot := stats.BootstrapOptions{Resamples: o.Bootstrap, Seed: o.Seed, Level: 1 - o.Alpha}
	if c.Diff, err = stats.BootstrapPairedDifference(table, boot); err != nil {
		return nil, fmt.Errorf("bootstrap accuracy difference: %w", err)
	}
	// A different stream for the second interval, so the two are not computed from the same draws.
	boot.Seed = o.Seed + 1
	if c.F1Diff, err = stats.BootstrapPairedMacroF1(t, a, b, classes, boot); err != nil {
		return nil, fmt.Errorf("bootstrap macro F1 difference: %w", err)
	}
	confA, err := stats.NewConfusion(t, a, classes)
	if err != nil {
		return nil, err
	}
	confB, err := stats.NewConfusion(t, b, classes)
	if err != nil {
		return nil, err
	}
	c.F1A, c.F1B = confA.MacroF1(), confB.MacroF1()
	if c.P, err = stats.McNemarExact(table.AOnly, table.BOnly); err != nil {
		return nil, err
	}
	beyond, err := stats.PairedMarginTest(table, min(o.MaxDrop, 0.999))
	if err != nil {
		return nil, fmt.Errorf("test the drop against max_drop: %w", err)
	}
	c.PBeyond = beyond.P
	c.NFR = float64(table.BOnly) / float64(n)
	c.PFR = float64(table.AOnly) / float64(n)
	if expected := c.AccB * (1 - c.AccA); expected > 0 {
		c.RelativeNFR = c.NFR / expected
	} else {
		c.RelativeNFR = math.NaN()
	}
	if c.PerClass, err = classDeltas(t, okA, okB, classes, o.Alpha, classTolerance(o)); err != nil {
		return nil, err
	}
	c.decide(o)
	return c, nil
}

func usable(pred, truth, classes int) int {
	if pred < 0 || pred >= classes {
		return (truth + 1) % classes
	}
	return pred
}

// classDeltas tests each class on its own images and controls the family-wise error rate over
// the classes with Holm's method: with ten or a thousand classes, some would look significant by
// chance alone. A class regresses when its drop is significantly beyond its tolerance, the same
// question the overall gate asks of max_drop. Testing against zero instead, as McNemar does, asks
// whether the recall changed at all; on a big set a class that lost exactly its tolerance then
// "regresses" almost every time (a 1,000-image class losing 1.2 pp with few gains has McNemar
// p < 0.005). That answer is still reported, as information.
func classDeltas(truth []int, okA, okB []bool, classes int, alpha, tolerance float64) ([]ClassDelta, error) {
	ds := make([]ClassDelta, classes)
	rightA := make([]int, classes)
	rightB := make([]int, classes)
	for i, y := range truth {
		d := &ds[y]
		d.Support++
		if okA[i] {
			rightA[y]++
		}
		if okB[i] {
			rightB[y]++
		}
		switch {
		case okA[i] && !okB[i]:
			d.Gained++
		case okB[i] && !okA[i]:
			d.Lost++
		}
	}
	var out []ClassDelta
	var ps, beyond []float64
	for k := range ds {
		d := ds[k]
		if d.Support == 0 {
			continue
		}
		d.Class = k
		d.RecallA = float64(rightA[k]) / float64(d.Support)
		d.RecallB = float64(rightB[k]) / float64(d.Support)
		p, err := stats.McNemarExact(d.Gained, d.Lost)
		if err != nil {
			return nil, err
		}
		d.P = p
		d.Tolerance = min(max(tolerance, 1/float64(d.Support)), 0.999)
		both := rightA[k] - d.Gained
		mt, err := stats.PairedMarginTest(stats.PairedTable{Both: both, AOnly: d.Gained, BOnly: d.Lost, Neither: d.Support - both - d.Gained - d.Lost}, d.Tolerance)
		if err != nil {
			return nil, fmt.Errorf("test class %d against its tolerance: %w", k, err)
		}
		d.PBeyond = mt.P
		out = append(out, d)
		ps = append(ps, p)
		beyond = append(beyond, mt.P)
	}
	adj, err := stats.Holm(ps)
	if err != nil {
		return nil, err
	}
	adjBeyond, err := stats.Holm(beyond)
	if err != nil {
		return nil, err
	}
	for i := range out {
		d := &out[i]
		d.PAdjusted, d.PBeyondAdjusted = adj[i], adjBeyond[i]
		d.Regression = d.PBeyondAdjusted < alpha && d.RecallB-d.RecallA > d.Tolerance
		d.Changed = !d.Regression && d.PAdjusted < alpha
	}
	return out, nil
}

// decide applies the verdict rules. A drop fails the check only when it is larger than max_drop
// and significantly so: McNemar's exact test says the models differ (p < alpha) and the paired
// bootstrap interval of the difference lies wholly beyond max_drop. Testing against max_drop, not
// against "no change", is what keeps two models that differ by noise from failing: a fraction of a
// point can be real on a big set, and on 500 images a one-point drop is a handful of images. A
// drop larger than max_drop that is probably beyond it (one-sided p < warnBeyondP against max_drop)
// but that the data cannot tell from max_drop warns and says how many images would tell; a smaller
// excess is noted with the same numbers, without a warning. A negative flip rate over its limit fails; a class whose recall dropped by
// significantly more than its tolerance, after Holm's correction, warns; a class that changed
// significantly within its tolerance is noted.
func (c *PairedComparison) decide(o PairedOptions) {
	drop := c.Drop()
	level := ciLevel(o.Alpha)
	if drop > o.MaxDrop {
		if c.P < o.Alpha && -c.Diff.Hi > o.MaxDrop {
			c.Problems = append(c.Problems, fmt.Sprintf("accuracy dropped %s (%s → %s), %s CI %s, McNemar %s: significant and over max_drop %s",
				ppAbs(drop), pct(c.AccB), pct(c.AccA), level, ciPP(c.Diff), pText(c.P), ppAbs(o.MaxDrop)))
		} else {
			c.Needed, c.PowerNow = imagesToTell(c.N, c.Table.Discordance(), drop, o.MaxDrop, o.Alpha, targetPower)
			msg := fmt.Sprintf("accuracy dropped %s (%s → %s), %s CI %s, McNemar %s: over max_drop %s, but these %d images cannot tell it from %s; about %s would, with %.0f%% power (power now %.0f%%)",
				ppAbs(drop), pct(c.AccB), pct(c.AccA), level, ciPP(c.Diff), pText(c.P), ppAbs(o.MaxDrop), c.N, ppAbs(o.MaxDrop), thousands(c.Needed), 100*targetPower, 100*c.PowerNow)
			if c.PBeyond < warnBeyondP {
				c.Warnings = append(c.Warnings, msg)
			} else {
				// The drop is over max_drop but not even probably beyond it: on 500 images, two
				// models that differ only by their training seed show a drop over 1 pp in about
				// one draw of fifteen. Say so and how many images would tell, without a warning.
				c.Notes = append(c.Notes, fmt.Sprintf("%s; p=%s that it exceeds max_drop, so no warning", msg, pValue(c.PBeyond)))
			}
		}
	}
	if lim := o.MaxNegativeFlipRate; lim != nil && c.NFR > *lim {
		c.Problems = append(c.Problems, fmt.Sprintf("%d images (%s) went from right to wrong, over max_negative_flip_rate %s",
			c.Table.BOnly, pct(c.NFR), pct(*lim)))
	}
	var regressed, changed []string
	for _, d := range c.PerClass {
		name := strconv.Itoa(d.Class)
		if o.ClassName != nil {
			name = o.ClassName(d.Class)
		}
		switch {
		case d.Regression:
			regressed = append(regressed, fmt.Sprintf("%s %s", name, pp(d.RecallA-d.RecallB)))
		case d.Changed:
			changed = append(changed, fmt.Sprintf("%s %s", name, pp(d.RecallA-d.RecallB)))
		}
	}
	if len(regressed) > 0 {
		c.Warnings = append(c.Warnings, fmt.Sprintf("recall dropped significantly beyond the class tolerance for %d class(es) (Holm-adjusted p < %g): %s",
			len(regressed), o.Alpha, strings.Join(regressed, ", ")))
	}
	if len(changed) > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("recall changed significantly but within the class tolerance for %d class(es): %s",
			len(changed), strings.Join(changed, ", ")))
	}
	switch {
	case len(c.Problems) > 0:
		c.Verdict = report.StatusFail
	case len(c.Warnings) > 0:
		c.Verdict = report.StatusWarn
	}
}

// classTolerance is the per-class tolerance before the one-image floor.
func classTolerance(o PairedOptions) float64 {
	if o.ClassMaxDrop != nil {
		return *o.ClassMaxDrop
	}
	return o.MaxDrop
}

// imagesToTell returns how many paired images would show, with the given power, that a drop of
// size drop exceeds maxDrop (a one-sided test at alpha/2, matching the two-sided interval), when a
// share disc of images is discordant, and the power the n images at hand have. The paired
// difference has variance (disc - drop^2)/n, so, with z quantiles of the normal distribution:
//
//	n = (z(1-alpha/2) + z(power))^2 (disc - drop^2) / (drop - maxDrop)^2
//
// With maxDrop = 0 this is the usual normal-approximation sample size of a paired comparison.
func imagesToTell(n int, disc, drop, maxDrop, alpha, power float64) (int, float64) {
	gap := drop - maxDrop
	v := disc - drop*drop
	if gap <= 0 || v <= 0 {
		return 0, math.NaN()
	}
	za := stats.NormalQuantile(1 - alpha/2)
	need := (za + stats.NormalQuantile(power)) * (za + stats.NormalQuantile(power)) * v / (gap * gap)
	now := stats.NormalCDF(gap*math.Sqrt(float64(n)/v) - za)
	return int(math.Ceil(need - 1e-9)), now
}

// ciLevel names the interval level that goes with alpha, e.g. "95%".
func ciLevel(alpha float64) string {
	return strconv.FormatFloat(100*(1-alpha), 'g', 4, 64) + "%"
}

// Run implements Check.
func (PerfBaseline) Run(ctx context.Context, env *Env) (*report.Result, error) {
	if env.decoded() {
		if err := env.annotated(); err != nil {
			return nil, err
		}
		return taskPerfBaseline(ctx, env)
	}
	if err := env.labelled(); err != nil {
		return nil, err
	}
	if env.Baseline == nil {
		reason := env.BaselineNote
		if reason == "" {
			reason = "no baseline"
		}
		return nil, Skip("%s", reason)
	}
	cand, base, err := env.Clean(ctx)
	if err != nil {
		return nil, err
	}
	if base == nil {
		return nil, Skip("the baseline gave no predictions")
	}
	if cand.Classes != base.Classes {
		return nil, Skip("the baseline has %d outputs and the candidate %d: accuracy cannot be compared pair by pair (model.signature reports the change)", base.Classes, cand.Classes)
	}
	cfg := env.Config.Thresholds.PerfBaseline
	opts := PairedOptions{MaxDrop: cfg.MaxDrop, Alpha: cfg.Alpha, MaxNegativeFlipRate: cfg.MaxNegativeFlipRate, ClassMaxDrop: cfg.ClassMaxDrop,
		Bootstrap: cfg.Bootstrap, Seed: env.Config.Seed, ClassName: env.className}
	truth, predA, predB := pairedRows(env, cand, base)
	c, err := ComparePaired(truth, predA, predB, cand.Classes, opts)
	if err != nil {
		return nil, err
	}
	res := &report.Result{Status: c.Verdict, Metrics: pairedMetrics(c, cfg.Alpha)}
	res.BaselineMetrics = map[string]float64{"accuracy": round(c.AccB), "macro_f1": round(c.F1B)}
	res.Threshold = fmt.Sprintf("fail if drop > %s, significantly (McNemar p < %g, %s CI beyond it); warn if a class drops significantly beyond %s",
		ppAbs(cfg.MaxDrop), cfg.Alpha, ciLevel(cfg.Alpha), ppAbs(classTolerance(opts)))
	if lim := cfg.MaxNegativeFlipRate; lim != nil {
		res.Threshold += ", negative flips <= " + pct(*lim)
	}
	res.VsBaseline = fmt.Sprintf("accuracy %s → %s: %s %s%s (%s)", pct(c.AccB), pct(c.AccA), pp(c.Diff.Estimate), arrow(c.Diff.Estimate, true), sigMark(c.P, cfg.Alpha), pText(c.P))
	switch c.Verdict {
	case report.StatusFail:
		res.Summary = strings.Join(c.Problems, "; ")
	case report.StatusWarn:
		res.Summary = strings.Join(c.Warnings, "; ")
	default:
		res.Summary = fmt.Sprintf("accuracy %s vs %s baseline: %s, %s CI %s, McNemar %s · %s to wrong, %d to right",
			pct(c.AccA), pct(c.AccB), pp(c.Diff.Estimate), ciLevel(cfg.Alpha), ciPP(c.Diff), pText(c.P), count(c.Table.BOnly, "flip", "flips"), c.Table.AOnly)
	}
	if len(c.Notes) > 0 {
		res.Summary += " · " + strings.Join(c.Notes, "; ")
	}
	res.Details = append(res.Details,
		sideBySideSection(c, cfg.Alpha),
		report.Section{Title: "Method", Text: methodText(c, opts)},
		classDeltaSection(env, c))
	flips := flipSection(env, cand, base)
	if flips.Table != nil {
		res.Details = append(res.Details, flips)
	}
	if env.Export != nil {
		env.export(res, IDPerfBaseline, flipCases(env, cand, base), c.Table.AOnly+c.Table.BOnly)
	}
	return res, nil
}

// pairedRows lines up labels and both models' predictions by image.
func pairedRows(env *Env, cand, base *Predictions) (truth, a, b []int) {
	truth = make([]int, cand.Rows())
	a = make([]int, cand.Rows())
	b = make([]int, cand.Rows())
	for r, i := range cand.Indices {
		truth[r] = env.Data.Items[i].Label
		a[r] = int(cand.Top1[r])
		b[r] = int(base.Top1[r])
	}
	return truth, a, b
}

func pairedMetrics(c *PairedComparison, alpha float64) map[string]float64 {
	regressed, changed := 0, 0
	for _, d := range c.PerClass {
		if d.Regression {
			regressed++
		}
		if d.Changed {
			changed++
		}
	}
	m := map[string]float64{
		"images":             float64(c.N),
		"accuracy":           round(c.AccA),
		"baseline_accuracy":  round(c.AccB),
		"accuracy_diff":      round(c.Diff.Estimate),
		"accuracy_diff_low":  round(c.Diff.Lo),
		"accuracy_diff_high": round(c.Diff.Hi),
		"macro_f1":           round(c.F1A),
		"baseline_macro_f1":  round(c.F1B),
		"macro_f1_diff":      round(c.F1Diff.Estimate),
		"macro_f1_diff_low":  round(c.F1Diff.Lo),
		"macro_f1_diff_high": round(c.F1Diff.Hi),
		"mcnemar_p":          round(c.P),
		"p_beyond_max_drop":  round(c.PBeyond),
		"negative_flips":     float64(c.Table.BOnly),
		"positive_flips":     float64(c.Table.AOnly),
		"negative_flip_rate": round(c.NFR),
		"positive_flip_rate": round(c.PFR),
		"relative_nfr":       finite(c.RelativeNFR),
		"classes_regressed":  float64(regressed),
		"classes_changed":    float64(changed),
		"discordant_share":   round(c.Table.Discordance()),
		"significant":        boolMetric(c.P < alpha),
	}
	if c.Needed > 0 {
		m["images_needed"] = float64(c.Needed)
		m["power"] = round(c.PowerNow)
	}
	return m
}

func sideBySideSection(c *PairedComparison, alpha float64) report.Section {
	t := tableOf("metric", "candidate", "baseline", "difference", ciLevel(alpha)+" CI", "test")
	addRow(t, "accuracy", pct(c.AccA), pct(c.AccB), pp(c.Diff.Estimate)+" "+arrow(c.Diff.Estimate, true)+sigMark(c.P, alpha), ciPP(c.Diff), "McNemar "+pText(c.P))
	addRow(t, "macro F1", f3(c.F1A), f3(c.F1B), fmt.Sprintf("%+.3f %s", c.F1Diff.Estimate, arrow(c.F1Diff.Estimate, true)), fmt.Sprintf("[%+.3f, %+.3f]", c.F1Diff.Lo, c.F1Diff.Hi), "paired bootstrap")
	addRow(t, "correct images", strconv.Itoa(c.Table.Both+c.Table.AOnly), strconv.Itoa(c.Table.Both+c.Table.BOnly), fmt.Sprintf("%+d", c.Table.AOnly-c.Table.BOnly), "", "")
	addRow(t, "negative flips (right → wrong)", fmt.Sprintf("%d (%s)", c.Table.BOnly, pct(c.NFR)), "", "", "", relNFRText(c.RelativeNFR))
	addRow(t, "positive flips (wrong → right)", fmt.Sprintf("%d (%s)", c.Table.AOnly, pct(c.PFR)), "", "", "", "")
	addRow(t, "both right / both wrong", fmt.Sprintf("%d / %d", c.Table.Both, c.Table.Neither), "", "", "", "")
	return report.Section{Title: fmt.Sprintf("Candidate vs baseline on the same %d images", c.N), Table: t}
}

func relNFRText(r float64) string {
	if math.IsNaN(r) {
		return ""
	}
	return fmt.Sprintf("relative NFR %.2f", r)
}

func methodText(c *PairedComparison, o PairedOptions) string {
	s := fmt.Sprintf("Both models ran on the same %d images in one pass. The accuracy difference has a paired percentile bootstrap interval (%d resamples of images, seed %d); McNemar's exact test uses only the %d images where exactly one model is right (%d for the candidate, %d for the baseline). Marks: * significant at alpha %g, n.s. not significant.",
		c.N, o.Bootstrap, o.Seed, c.Table.AOnly+c.Table.BOnly, c.Table.AOnly, c.Table.BOnly, o.Alpha)
	s += fmt.Sprintf(" The check fails only when the drop exceeds max_drop (%s) significantly: McNemar p < %g and the whole %s interval beyond max_drop, so that a difference of a few images on a small set never fails the gate. It warns when the drop is probably beyond max_drop (the Nam-Tango score test against max_drop gives one-sided p < %g; here p=%s) without being significantly so.",
		ppAbs(o.MaxDrop), o.Alpha, ciLevel(o.Alpha), warnBeyondP, pValue(c.PBeyond))
	s += fmt.Sprintf(" Per class, the recall drop is tested against the class tolerance (%s, or one image of the class when that is more) with the Nam-Tango score test for paired proportions, Holm-adjusted over the classes: a class warns only when its drop is significantly beyond its tolerance, as the overall gate asks of max_drop. McNemar's test per class (also Holm-adjusted) says whether the recall changed at all; a significant change within the tolerance is reported, not warned.",
		ppAbs(classTolerance(o)))
	s += " Relative NFR is the negative flip rate over the rate expected if the models erred independently (baseline accuracy × candidate error rate); below 1 the candidate's new errors fall where the baseline also erred."
	if c.Needed > 0 {
		s += fmt.Sprintf(" At the observed drop (%s) and discordance (%s of images), about %s images would show that the drop exceeds max_drop with %.0f%% power; these %d images give %.0f%%.",
			ppAbs(c.Drop()), pct(c.Table.Discordance()), thousands(c.Needed), 100*targetPower, c.N, 100*c.PowerNow)
	}
	return s
}

// maxClassRows bounds the per-class table: with many classes the most significant ones say more.
const maxClassRows = 30

func classDeltaSection(env *Env, c *PairedComparison) report.Section {
	rows := append([]ClassDelta(nil), c.PerClass...)
	title := "Per-class recall (Holm-adjusted over the classes)"
	if len(rows) > maxClassRows {
		sort.SliceStable(rows, func(i, j int) bool {
			if rows[i].PBeyondAdjusted != rows[j].PBeyondAdjusted {
				return rows[i].PBeyondAdjusted < rows[j].PBeyondAdjusted
			}
			return rows[i].PAdjusted < rows[j].PAdjusted
		})
		rows = rows[:maxClassRows]
		title += fmt.Sprintf(", the %d most significant of %d classes", maxClassRows, len(c.PerClass))
	}
	t := tableOf("class", "images", "baseline recall", "candidate recall", "difference", "lost / gained", "changed? p (McNemar)", "tolerance", "beyond it? p", "flag")
	for _, d := range rows {
		flag := ""
		switch {
		case d.Regression:
			flag = "**regression**"
		case d.Changed:
			flag = "changed, within tolerance"
		}
		delta := d.RecallA - d.RecallB
		addRow(t, env.className(d.Class), strconv.Itoa(d.Support), pct(d.RecallB), pct(d.RecallA), pp(delta)+" "+arrow(delta, true),
			fmt.Sprintf("%d / %d", d.Lost, d.Gained), pValue(d.PAdjusted), ppAbs(d.Tolerance), pValue(d.PBeyondAdjusted), flag)
	}
	return report.Section{Title: title, Table: t}
}

// maxFlipRows bounds the flipped-images table; the exporter keeps its own cap.
const maxFlipRows = 50

type flip struct {
	row      int
	negative bool
}

// flips lists the images where exactly one model is right: negative flips (the candidate broke
// them) first, then positive ones, each in dataset order.
func flips(env *Env, cand, base *Predictions) []flip {
	var neg, pos []flip
	okA, okB := cand.Correct(env.Data), base.Correct(env.Data)
	for r := range okA {
		if env.Data.Items[cand.Indices[r]].Label < 0 {
			continue
		}
		switch {
		case okB[r] && !okA[r]:
			neg = append(neg, flip{row: r, negative: true})
		case okA[r] && !okB[r]:
			pos = append(pos, flip{row: r})
		}
	}
	return append(neg, pos...)
}

func flipSection(env *Env, cand, base *Predictions) report.Section {
	fs := flips(env, cand, base)
	if len(fs) == 0 {
		return report.Section{}
	}
	t := tableOf("image", "label", "baseline", "candidate", "flip")
	for i, f := range fs {
		if i == maxFlipRows {
			break
		}
		it := env.Data.Items[cand.Indices[f.row]]
		kind := "right → wrong"
		if !f.negative {
			kind = "wrong → right"
		}
		addRow(t, it.Path, env.className(it.Label), env.className(int(base.Top1[f.row])), env.className(int(cand.Top1[f.row])), kind)
	}
	title := fmt.Sprintf("Images that flipped (%d)", len(fs))
	if len(fs) > maxFlipRows {
		title += fmt.Sprintf(", first %d shown", maxFlipRows)
	}
	return report.Section{Title: title, Table: t}
}

// flipCases exports the flipped images: negative flips rank above positive ones (severity 1 plus
// the candidate's confidence, against the confidence alone).
func flipCases(env *Env, cand, base *Predictions) []failures.Case {
	var cases []failures.Case
	for _, f := range flips(env, cand, base) {
		it := env.Data.Items[cand.Indices[f.row]]
		conf := float64(cand.Conf[f.row])
		if math.IsNaN(conf) {
			conf = 0
		}
		c := failures.Case{Image: env.Candidate.Spec.View(it.Image), Path: it.Path, Label: env.className(it.Label),
			Predicted: env.className(int(cand.Top1[f.row])), Confidence: conf, Perturbation: "clean",
			Baseline: env.className(int(base.Top1[f.row])), Sheet: "flips to wrong"}
		if f.negative {
			c.Severity = 1 + conf
			c.Note = "negative flip: the baseline said " + env.className(int(base.Top1[f.row]))
		} else {
			c.Severity = 0.999 * conf
			c.Note = "positive flip: the baseline said " + env.className(int(base.Top1[f.row]))
			c.Sheet = "flips to right"
		}
		cases = append(cases, c)
	}
	return cases
}

// sigMark marks a difference significant at alpha.
func sigMark(p, alpha float64) string {
	if p < alpha {
		return "*"
	}
	return " n.s."
}

// pText formats a p-value for prose: "p<0.001" or "p=0.034".
func pText(p float64) string {
	if p < 0.001 {
		return "p<0.001"
	}
	return "p=" + pValue(p)
}

func pValue(p float64) string {
	switch {
	case math.IsNaN(p):
		return "n/a"
	case p < 0.001:
		return "<0.001"
	case p >= 0.9995:
		return "1"
	}
	return strconv.FormatFloat(p, 'f', 3, 64)
}

// ppAbs formats a share as unsigned percentage points.
func ppAbs(d float64) string { return fmt.Sprintf("%.1f pp", 100*d) }

// ciPP formats an interval of share differences in percentage points.
func ciPP(iv stats.Interval) string {
	return fmt.Sprintf("[%+.1f, %+.1f] pp", 100*iv.Lo, 100*iv.Hi)
}

// thousands writes an integer with thousands separators.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
