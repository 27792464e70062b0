package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/checks"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/report"
)

// Objectives cvgate compare can rank by.
const (
	objectiveAccuracy = "accuracy"
	objectiveMacroF1  = "macro_f1"
)

// compareOptions are the flags of `cvgate compare` beyond those of check: what "best" means.
type compareOptions struct {
	objective       string
	headline        string // the task's headline metric, for detection and segmentation
	maxLatencyRatio float64
	requires        requirements
}

func (o *compareOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.objective, "objective", objectiveAccuracy, "what to maximise: accuracy or macro_f1")
	fs.Float64Var(&o.maxLatencyRatio, "max-latency-ratio", 0, "eligible only if batch-1 latency <= this times the fastest model's (0: no limit), e.g. 1.2")
	fs.Var(&o.requires, "require", "eligible only if a check's metric meets a limit, CHECK:METRIC>=VALUE or <=VALUE (repeatable),\n"+
		strings.Repeat(" ", 31)+"e.g. robust.corruptions:mean_accuracy>=0.8 or model.latency:p95_ms<=20")
}

func (o *compareOptions) validate() error {
	var errs []error
	if o.objective != objectiveAccuracy && o.objective != objectiveMacroF1 {
		errs = append(errs, fmt.Errorf("--objective %q: allowed values are %s, %s", o.objective, objectiveAccuracy, objectiveMacroF1))
	}
	if o.maxLatencyRatio != 0 && (o.maxLatencyRatio < 1 || math.IsNaN(o.maxLatencyRatio)) {
		errs = append(errs, fmt.Errorf("--max-latency-ratio %g: must be 0 (no limit) or at least 1", o.maxLatencyRatio))
	}
	return errors.Join(errs...)
}

// requirement is one --require limit on a check's metric.
type requirement struct {
	check, metric string
	atLeast       bool
	value         float64
}

func (r requirement) String() string {
	op := "<="
	if r.atLeast {
		op = ">="
	}
	return fmt.Sprintf("%s:%s%s%g", r.check, r.metric, op, r.value)
}

// met reports whether v satisfies the limit.
func (r requirement) met(v float64) bool {
	if r.atLeast {
		return v >= r.value
	}
	return v <= r.value
}

// requirements is a repeatable flag.
type requirements []requirement

func (rs *requirements) String() string {
	var out []string
	for _, r := range *rs {
		out = append(out, r.String())
	}
	return strings.Join(out, ", ")
}

// Set implements flag.Value.
func (rs *requirements) Set(s string) error {
	op, atLeast := ">=", true
	i := strings.Index(s, op)
	if i < 0 {
		op, atLeast = "<=", false
		i = strings.Index(s, op)
	}
	if i < 0 {
		return fmt.Errorf("%q: want CHECK:METRIC>=VALUE or CHECK:METRIC<=VALUE", s)
	}
	left, right := s[:i], strings.TrimSpace(s[i+len(op):])
	check, metric, ok := strings.Cut(strings.TrimSpace(left), ":")
	if !ok || check == "" || metric == "" {
		return fmt.Errorf("%q: want CHECK:METRIC%sVALUE, e.g. robust.corruptions:mean_accuracy>=0.8", s, op)
	}
	v, err := strconv.ParseFloat(right, 64)
	if err != nil || math.IsNaN(v) {
		return fmt.Errorf("%q: %q is not a number", s, right)
	}
	*rs = append(*rs, requirement{check: check, metric: metric, atLeast: atLeast, value: v})
	return nil
}

const compareSummary = `Evaluate several candidate models on the same labelled images and rank them: the
highest accuracy (or macro F1, --objective) among the eligible models, ties broken by batch-1
latency. A model is eligible when it loads, fails no check, and meets --max-latency-ratio and every
--require. Each model is compared with the one ranked next, and the best with every other, pair by
pair (McNemar's exact test, Holm-adjusted, and a paired bootstrap interval of the difference), so
the ranking says which gaps are real. Latency is measured once, with all models interleaved in one
process; every latency figure in the report is that measurement.`

// compareExit is compare's exit-code rule: the ranking decides, not the gate of each model.
const compareExit = "Exit codes: 0 a best model was found, 1 no model is eligible, 2 cvgate could not run."

func (a *App) runCompare(ctx context.Context, args []string) int {
	opts := &compareOptions{}
	loaded, f, code := a.parseCheckWith("compare", compareSummary, compareExit, args, opts.register)
	if code >= 0 {
		return code
	}
	// Latency is measured once for all models, interleaved (measureLatency); model.latency's own
	// candidate-versus-baseline timing would give a second, different set of figures.
	loaded.Skip = append(loaded.Skip, checks.IDModelLatency)
	if err := opts.validate(); err != nil {
		return a.fail(err)
	}
	if len(loaded.Models) < 2 && !strings.ContainsAny(strings.Join(loaded.Models, ""), "*?[") {
		// Say so before evaluating anything; a glob is counted once expanded.
		return a.fail(fmt.Errorf("compare needs at least two models, got %d (pass --model A --model B)", len(loaded.Models)))
	}
	r, err := a.evaluateWith(ctx, loaded, evalOptions{inspect: func(ctx context.Context, r *report.Report, envs []*checks.Env) error {
		return opts.rank(ctx, r, envs)
	}})
	if err != nil {
		return a.fail(err)
	}
	if err := a.writeOutputs(r, loaded, !f.quiet); err != nil {
		return a.fail(err)
	}
	c := r.Comparison
	if c.Best == "" {
		a.logf("no model is eligible (report: %s)", filepath.Join(loaded.Out, "report.json"))
		return ExitGateFailed
	}
	a.logf("best: %s (report: %s)", c.Best, filepath.Join(loaded.Out, "report.json"))
	return ExitPass
}

// candidate is one compared model as rank sees it.
type candidate struct {
	target  *report.Target
	env     *checks.Env // nil when the model did not load
	preds   *checks.Predictions
	latency *checks.LatencyProfile
	row     report.ComparisonRow
}

// rank fills r.Comparison from the evaluated targets.
func (o *compareOptions) rank(ctx context.Context, r *report.Report, envs []*checks.Env) error {
	if len(r.Targets) < 2 {
		return fmt.Errorf("compare needs at least two models, got %d (pass --model A --model B)", len(r.Targets))
	}
	byName := map[string]*checks.Env{}
	for _, e := range envs {
		byName[e.Candidate.Name] = e
	}
	cands := make([]*candidate, len(r.Targets))
	var loaded []*candidate
	for i := range r.Targets {
		t := &r.Targets[i]
		c := &candidate{target: t, env: byName[t.Name], row: report.ComparisonRow{Model: t.Name, Metrics: map[string]float64{}}}
		cands[i] = c
		if c.env == nil {
			t.Results = append(t.Results, report.Result{ID: checks.IDModelLatency, Title: checks.ModelLatency{}.Title(), Status: report.StatusSkip,
				Summary: "skipped: the model did not load", Error: "the model did not load"})
			continue
		}
		preds, _, err := c.env.Clean(ctx)
		if err != nil {
			return err
		}
		c.preds = preds
		loaded = append(loaded, c)
	}
	if len(loaded) == 0 {
		r.Kind = "compare"
		r.Comparison = &report.Comparison{Objective: o.describe(), Rows: rowsOf(cands), Pairs: []report.ComparisonPair{}, Note: "No model loaded."}
		return nil
	}
	first := loaded[0].env
	if first.Task != nil {
		// Detection and segmentation rank by their headline metric (COCO mAP, mIoU).
		o.objective = first.Evaluation(loaded[0].preds).Headline().Key
		o.headline = first.Evaluation(loaded[0].preds).Headline().Name
	} else if first.Data.Classes == nil {
		return errors.New("compare needs labelled images: the data has no labels")
	}
	if err := o.measureLatency(ctx, first, loaded); err != nil {
		return err
	}
	for _, c := range loaded {
		if err := o.score(c, first); err != nil {
			return err
		}
	}
	for _, c := range cands {
		o.eligibility(c)
	}
	sort.SliceStable(cands, func(i, j int) bool { return better(cands[i], cands[j]) })
	for i, c := range cands {
		c.row.Rank = i + 1
	}
	var vsBest, vsNext [][2]*candidate
	for i, c := range cands[1:] {
		vsBest = append(vsBest, [2]*candidate{cands[0], c})
		vsNext = append(vsNext, [2]*candidate{cands[i], c})
	}
	pairs, err := o.pairs(first, vsBest)
	if err != nil {
		return err
	}
	next, err := o.pairs(first, vsNext)
	if err != nil {
		return err
	}
	for _, p := range next {
		for _, c := range cands {
			if c.row.Model == p.A {
				p := p
				c.row.Next = &p
			}
		}
	}
	cmp := &report.Comparison{Objective: o.describe(), Metric: o.objective, Rows: rowsOf(cands), Pairs: pairs}
	if cands[0].row.Eligible {
		cmp.Best = cands[0].row.Model
	}
	cmp.Note = o.note(cands, pairs, first)
	r.Kind = "compare"
	r.Comparison = cmp
	return nil
}

func (o *compareOptions) describe() string {
	parts := []string{"highest " + o.objectiveName() + " among eligible models (loads, no failing check"}
	if o.maxLatencyRatio > 0 {
		parts = append(parts, fmt.Sprintf("batch-1 latency <= ×%g the fastest", o.maxLatencyRatio))
	}
	for _, q := range o.requires {
		parts = append(parts, q.String())
	}
	return strings.Join(parts, ", ") + "); ties broken by batch-1 latency"
}

func (o *compareOptions) objectiveName() string {
	if o.headline != "" {
		return o.headline
	}
	if o.objective == objectiveMacroF1 {
		return "macro F1"
	}
	return "accuracy"
}

// measureLatency times every loaded model, interleaved in one pass, and sets each one's ratio to
// the fastest (by median batch-1 latency).
func (o *compareOptions) measureLatency(ctx context.Context, env *checks.Env, cs []*candidate) error {
	subjects := make([]*checks.Subject, len(cs))
	for i, c := range cs {
		subjects[i] = c.env.Candidate
	}
	cfg := env.Config
	profiles, err := checks.MeasureLatency(ctx, env.Data, subjects, checks.LatencyOptions{Repeats: cfg.Thresholds.ModelLatency.Repeats, Batch: cfg.Runtime.BatchSize, Threads: cfg.Thresholds.ModelLatency.Threads})
	if err != nil {
		return err
	}
	fastest := profiles[0]
	for _, p := range profiles {
		if p.P50 < fastest.P50 {
			fastest = p
		}
	}
	for i, c := range cs {
		p := profiles[i]
		c.latency = p
		ratio, err := checks.LatencyRatio(p, fastest)
		if err != nil {
			return err
		}
		m := c.row.Metrics
		m["p50_ms"], m["p95_ms"] = round6(p.P50), round6(p.P95)
		m["throughput_ips"] = round6(p.Throughput)
		m["latency_ratio"], m["latency_ratio_low"], m["latency_ratio_high"] = round6(ratio.Estimate), round6(ratio.Lo), round6(ratio.Hi)
		if p.MemoryBytes >= 0 {
			m["memory_mb"] = round6(float64(p.MemoryBytes) / (1 << 20))
		}
	}
	for _, c := range cs {
		c.target.Results = append(c.target.Results, latencyResult(c, len(cs)))
	}
	return nil
}

// latencyResult is model.latency of a compared model: the interleaved measurement of all models,
// the same figures the ranking shows, with the ratio to the fastest.
func latencyResult(c *candidate, models int) report.Result {
	m := map[string]float64{}
	for _, k := range []string{"p50_ms", "p95_ms", "throughput_ips", "latency_ratio", "latency_ratio_low", "latency_ratio_high", "memory_mb"} {
		if v, ok := c.row.Metrics[k]; ok {
			m[k] = v
		}
	}
	p := c.latency
	m["p99_ms"] = round6(p.P99)
	m["throughput_batch"] = float64(p.Batch)
	summary := fmt.Sprintf("p50 %s, p95 %s at batch 1, ×%.2f [%.2f, %.2f] the fastest model's · %s img/s at batch %d · measured with the %d compared models in interleaved rounds",
		msFigure(p.P50), msFigure(p.P95), m["latency_ratio"], m["latency_ratio_low"], m["latency_ratio_high"], strconv.FormatFloat(math.Round(p.Throughput), 'f', 0, 64), p.Batch, models)
	return report.Result{ID: checks.IDModelLatency, Title: checks.ModelLatency{}.Title(), Status: report.StatusPass, Summary: summary,
		Threshold: "report only (cvgate compare: see --max-latency-ratio)", Metrics: m, Details: []report.Section{}}
}

// msFigure writes milliseconds with three significant digits.
func msFigure(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) + " ms" }

// score computes the objective on the clean predictions.
func (o *compareOptions) score(c *candidate, env *checks.Env) error {
	if env.Task != nil {
		ev := env.Evaluation(c.preds)
		h := ev.Headline()
		cfg := env.Config.Thresholds.PerfMetrics
		iv, err := stats.BootstrapIndices(ev.Len(), ev.Score, stats.BootstrapOptions{Resamples: min(max(cfg.Bootstrap, 200), 1000), Seed: env.Config.Seed})
		if err != nil {
			return err
		}
		m := c.row.Metrics
		m["images"] = float64(ev.Len())
		m[h.Key], m[h.Key+"_low"], m[h.Key+"_high"] = round6(iv.Estimate), round6(iv.Lo), round6(iv.Hi)
		c.row.Score = m[h.Key]
		return nil
	}
	truth, pred := labelsAndPredictions(env, c.preds)
	correct := 0
	n := 0
	for i, y := range truth {
		if y < 0 {
			continue
		}
		n++
		if pred[i] == y {
			correct++
		}
	}
	if n == 0 {
		return errors.New("compare: no labelled image")
	}
	acc, err := stats.WilsonInterval(correct, n, 0.95)
	if err != nil {
		return err
	}
	var t, p []int
	for i, y := range truth {
		if y >= 0 {
			t = append(t, y)
			p = append(p, usablePrediction(pred[i], y, c.preds.Classes))
		}
	}
	conf, err := stats.NewConfusion(t, p, c.preds.Classes)
	if err != nil {
		return err
	}
	m := c.row.Metrics
	m["images"] = float64(n)
	m["accuracy"], m["accuracy_low"], m["accuracy_high"] = round6(acc.Estimate), round6(acc.Lo), round6(acc.Hi)
	m["macro_f1"] = round6(conf.MacroF1())
	c.row.Score = m[o.objective]
	return nil
}

func usablePrediction(pred, truth, classes int) int {
	if pred < 0 || pred >= classes {
		return (truth + 1) % classes
	}
	return pred
}

func labelsAndPredictions(env *checks.Env, p *checks.Predictions) (truth, pred []int) {
	truth = make([]int, p.Rows())
	pred = make([]int, p.Rows())
	for r, i := range p.Indices {
		truth[r] = env.Data.Items[i].Label
		pred[r] = int(p.Top1[r])
	}
	return truth, pred
}

// eligibility decides whether a model may be picked, and says why not.
func (o *compareOptions) eligibility(c *candidate) {
	var why []string
	c.row.SizeBytes = c.target.Model.SizeBytes
	if c.env == nil {
		c.row.Reason = "did not load"
		for _, q := range o.requires {
			c.row.Required = append(c.row.Required, report.Requirement{Rule: q.String()})
		}
		return
	}
	var failing []string
	for _, res := range c.target.Results {
		if res.Status == report.StatusFail || res.Status == report.StatusError {
			failing = append(failing, res.ID)
		}
	}
	if len(failing) > 0 {
		why = append(why, "fails "+strings.Join(failing, ", "))
	}
	if lim := o.maxLatencyRatio; lim > 0 {
		if v := c.row.Metrics["latency_ratio"]; v > lim {
			why = append(why, fmt.Sprintf("latency ×%.2f the fastest, over ×%g", v, lim))
		}
	}
	for _, q := range o.requires {
		v, ok := metricOf(c.target, q.check, q.metric)
		c.row.Required = append(c.row.Required, report.Requirement{Rule: q.String(), Value: round6(v), Found: ok, Met: ok && q.met(v)})
		switch {
		case !ok:
			why = append(why, fmt.Sprintf("no %s:%s (check not run or skipped)", q.check, q.metric))
		case !q.met(v):
			why = append(why, fmt.Sprintf("%s:%s %s misses %s", q.check, q.metric, strconv.FormatFloat(v, 'g', 4, 64), q))
		default:
			c.row.Metrics[q.check+":"+q.metric] = v
		}
	}
	c.row.Eligible = len(why) == 0
	c.row.Reason = strings.Join(why, "; ")
}

func metricOf(t *report.Target, check, metric string) (float64, bool) {
	for _, res := range t.Results {
		if res.ID == check && res.Status != report.StatusSkip && res.Status != report.StatusError {
			v, ok := res.Metrics[metric]
			return v, ok
		}
	}
	return 0, false
}

// better orders the ranking: eligible models first, then by score (higher first), then by median
// batch-1 latency (lower first), then by name so that the order is stable.
func better(a, b *candidate) bool {
	if a.row.Eligible != b.row.Eligible {
		return a.row.Eligible
	}
	if (a.preds != nil) != (b.preds != nil) {
		return a.preds != nil
	}
	if a.row.Score != b.row.Score {
		return a.row.Score > b.row.Score
	}
	if a.latency != nil && b.latency != nil && a.latency.P50 != b.latency.P50 {
		return a.latency.P50 < b.latency.P50
	}
	return a.row.Model < b.row.Model
}

func rowsOf(cs []*candidate) []report.ComparisonRow {
	rows := make([]report.ComparisonRow, len(cs))
	for i, c := range cs {
		rows[i] = c.row
	}
	return rows
}

// pairs compares each pair (a, b) on the same images, and adjusts the McNemar p-values of the set
// with Holm's method: with several models, some gap would look significant by chance alone. A
// pair with a model that did not run is left out.
func (o *compareOptions) pairs(env *checks.Env, set [][2]*candidate) ([]report.ComparisonPair, error) {
	cfg := env.Config.Thresholds.PerfBaseline
	out := []report.ComparisonPair{}
	var ps []float64
	for _, ab := range set {
		a, b := ab[0], ab[1]
		if a.preds == nil || b.preds == nil {
			continue
		}
		if env.Task != nil {
			diff, p := checks.PairedTaskDifference(env.Evaluation(a.preds), env.Evaluation(b.preds), cfg.Bootstrap, env.Config.Seed, cfg.Alpha)
			out = append(out, report.ComparisonPair{A: a.row.Model, B: b.row.Model, Metric: o.objective,
				Diff: round6(diff.Estimate), DiffLow: round6(diff.Lo), DiffHigh: round6(diff.Hi), PValue: round6(p)})
			ps = append(ps, p)
			continue
		}
		truth, predA := labelsAndPredictions(env, a.preds)
		_, predB := labelsAndPredictions(env, b.preds)
		pc, err := checks.ComparePaired(truth, predA, predB, a.preds.Classes, checks.PairedOptions{
			MaxDrop: cfg.MaxDrop, Alpha: cfg.Alpha, Bootstrap: cfg.Bootstrap, Seed: env.Config.Seed})
		if err != nil {
			return nil, fmt.Errorf("compare %q with %q: %w", a.row.Model, b.row.Model, err)
		}
		diff := pc.Diff
		if o.objective == objectiveMacroF1 {
			diff = pc.F1Diff
		}
		out = append(out, report.ComparisonPair{A: a.row.Model, B: b.row.Model, Metric: o.objective,
			Diff: round6(diff.Estimate), DiffLow: round6(diff.Lo), DiffHigh: round6(diff.Hi), PValue: round6(pc.P)})
		ps = append(ps, pc.P)
	}
	if len(ps) == 0 {
		return out, nil
	}
	adj, err := stats.Holm(ps)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].PValueAdjusted = round6(adj[i])
		out[i].Significant = adj[i] < cfg.Alpha
	}
	return out, nil
}

// note says in words what the ranking means: which gaps to the top model are real.
func (o *compareOptions) note(ranked []*candidate, pairs []report.ComparisonPair, env *checks.Env) string {
	top := ranked[0]
	if !top.row.Eligible {
		return "No model is eligible; the ranking shows the rest by " + o.objectiveName() + "."
	}
	var real, tied []string
	for _, p := range pairs {
		if p.Significant {
			real = append(real, "`"+p.B+"`")
		} else {
			tied = append(tied, fmt.Sprintf("`%s` (p=%s)", p.B, strconv.FormatFloat(p.PValueAdjusted, 'f', 3, 64)))
		}
	}
	s := fmt.Sprintf("`%s` ranks first on %s.", top.row.Model, o.objectiveName())
	alpha := env.Config.Thresholds.PerfBaseline.Alpha
	if len(real) > 0 {
		s += fmt.Sprintf(" It is significantly better than %s (McNemar's test on right and wrong answers, Holm-adjusted p < %g).", strings.Join(real, ", "), alpha)
	}
	if len(tied) > 0 {
		s += fmt.Sprintf(" These images cannot tell it apart from %s: pick among them on other grounds, or evaluate on more images.", strings.Join(tied, ", "))
	}
	return s
}

func round6(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return -1
	}
	return math.Round(x*1e6) / 1e6
}
