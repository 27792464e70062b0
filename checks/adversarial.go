package checks

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/internal/attack"
	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/preprocess"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/report"
)

// IDRobustAdversarial is the ID of the black-box adversarial robustness check.
const IDRobustAdversarial = "robust.adversarial"

// The attacks robust.adversarial runs, as named in config.
const (
	AttackSquare      = "square"      // score-based, L-inf
	AttackHopSkipJump = "hopskipjump" // decision-based, L2
)

// RobustAdversarial attacks a stratified sample of correctly classified images with black-box
// attacks that see only the models' outputs, as an attacker behind an API would, and reports
// robust accuracy, attack success rate, the queries needed and the size of the perturbations, for
// the candidate and the baseline on the same images.
//
// The attacks work on each image as the model sees it (Spec.View: converted, resized and cropped
// to the model's input, before scaling and normalisation), so that budgets are in pixel units of
// the model's input, [0,1], and the cost of a query does not grow with the photo's size: a
// perturbation of a 500x375 photo in front of a 224x224 model would spend most of its budget on
// pixels that resizing averages away. The perturbation is therefore what a camera delivering
// images at the model's resolution could add.
//
// Robust accuracy is measured on the attacked images, which both models classify correctly, so it
// is the share of them the attack could not break within the budget: an upper bound on true
// robustness (a stronger attack can only lower it), and a fair comparison because both models
// face the same images, budget and random draws.
type RobustAdversarial struct{}

// ID implements Check.
func (RobustAdversarial) ID() string { return IDRobustAdversarial }

// Title implements Check.
func (RobustAdversarial) Title() string { return "Adversarial robustness (black-box)" }

// Common implements Toggled.
func (RobustAdversarial) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.RobustAdversarial.Common, true
}

// advAttack is one attack run against one model on the sample.
type advAttack struct {
	name    string
	subject *Subject // the view subject the attack queried
	outs    []attack.Outcome
	sum     attack.Summary
	// qLabel and qConf are the model's answer on each success's adversarial image rounded to 8
	// bits, the form it is exported in (-1 and 0 for outcomes that are not successes).
	qLabel   []int
	qConf    []float64
	survived int // successes still misclassified after rounding
}

// robust reports, per attacked image, whether the model still classified it correctly: neither
// broken nor already wrong at the model's resolution.
func (a *advAttack) robust() []bool {
	out := make([]bool, len(a.outs))
	for i, o := range a.outs {
		out[i] = !o.Success && !o.Skipped
	}
	return out
}

// robustAccuracy is the share of sampled images the attack did not break. Skipped images (wrong
// before any perturbation, which can happen when the view differs from the clean pass's input by
// rounding) count as not robust.
func (a *advAttack) robustAccuracy() float64 {
	if a.sum.Images == 0 {
		return math.NaN()
	}
	return float64(a.sum.Images-a.sum.Skipped-a.sum.Succeeded) / float64(a.sum.Images)
}

// Run implements Check.
func (RobustAdversarial) Run(ctx context.Context, env *Env) (*report.Result, error) {
	if env.decoded() {
		return taskAdversarial(ctx, env)
	}
	if err := env.labelled(); err != nil {
		return nil, err
	}
	cfg := env.Config.Thresholds.RobustAdversarial
	if len(cfg.Attacks) == 0 {
		return nil, Skip("no attacks configured (thresholds.robust.adversarial.attacks)")
	}
	cand, base, err := env.Clean(ctx)
	if err != nil {
		return nil, err
	}
	sample, eligible := advSample(env, cand, base, cfg.Sample)
	if len(sample) == 0 {
		who := "the candidate"
		if base != nil {
			who = "both the candidate and the baseline"
		}
		return nil, Skip("no image is classified correctly by %s", who)
	}
	labels := make([]int, len(sample))
	for k, i := range sample {
		labels[k] = env.Data.Items[i].Label
	}

	var runs [][]*advAttack // [attack][subject]
	for _, name := range cfg.Attacks {
		var per []*advAttack
		for _, s := range env.Subjects() {
			a, err := env.runAttack(ctx, name, s, sample, labels, cfg)
			if err != nil {
				return nil, fmt.Errorf("attack %s with %s: %w", s.Role, name, err)
			}
			per = append(per, a)
		}
		runs = append(runs, per)
	}
	res := advResult(env, cfg, runs, len(sample), eligible)
	if env.exportLimit() > 0 {
		env.export(res, IDRobustAdversarial, advCases(env, sample, runs), advSuccesses(runs))
	}
	return res, nil
}

// advSample picks up to n images that the candidate, and the baseline when there is one, classify
// correctly, stratified by label and in a seeded order (sampleOrder), so that both models are
// attacked on the same images and a bigger sample only adds images. eligible is how many images
// qualified.
func advSample(env *Env, cand, base *Predictions, n int) (sample []int, eligible int) {
	ok := cand.Correct(env.Data)
	var okBase []bool
	if base != nil {
		okBase = base.Correct(env.Data)
	}
	var items, labels []int
	for r, i := range cand.Indices {
		if ok[r] && (okBase == nil || okBase[r]) {
			items = append(items, i)
			labels = append(labels, env.Data.Items[i].Label)
		}
	}
	order := sampleOrder(labels, true, env.Config.Seed)
	if len(order) > n {
		order = order[:n]
	}
	sample = make([]int, len(order))
	for k, j := range order {
		sample[k] = items[j]
	}
	return sample, len(items)
}

// viewSubject returns the subject as the attacks query it: the same model, fed images already at
// its input size. Centre cropping is dropped because the view is already cropped; at the input
// size resizing is the identity, so the view passes through unchanged. Nearest-neighbour is the
// same identity with one tap per pixel instead of three: resampling was the largest cost of a
// query outside ONNX Runtime on small models.
func viewSubject(s *Subject) *Subject {
	spec := s.Spec
	spec.CropFraction = 0
	spec.Filter = preprocess.Nearest
	return &Subject{Role: s.Role, Name: s.Name, Model: s.Model, Spec: spec, Info: s.Info, kind: s.OutputKind()}
}

// subjectOracle lets an attack query a subject through Env.ForwardFloat. The attack package counts
// the queries: each image passed to Probs is one.
type subjectOracle struct {
	env     *Env
	subject *Subject
}

// Probs implements attack.Oracle.
func (o *subjectOracle) Probs(ctx context.Context, imgs []*imaging.Float) ([][]float32, error) {
	probs, classes, err := o.env.ForwardFloat(ctx, o.subject, imgs)
	if err != nil {
		return nil, err
	}
	rows := make([][]float32, len(imgs))
	for i := range rows {
		rows[i] = probs[i*classes : (i+1)*classes : (i+1)*classes]
	}
	return rows, nil
}

// attackSeed gives every attack its own stream of the run's seed, the same for both models so that
// they face the same random draws.
func attackSeed(seed uint64, name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return mix64(seed ^ h.Sum64())
}

// runAttack runs one attack against one subject on the sample's views and checks its successes
// after rounding to 8 bits.
func (e *Env) runAttack(ctx context.Context, name string, s *Subject, sample, labels []int, cfg config.RobustAdversarial) (*advAttack, error) {
	view := viewSubject(s)
	imgs := make([]*imaging.Float, len(sample))
	for k, i := range sample {
		imgs[k] = s.Spec.View(e.Data.Items[i].Image).Float()
	}
	oracle := &subjectOracle{env: e, subject: view}
	seed := attackSeed(e.Config.Seed, name)
	batch := e.Config.Runtime.BatchSize
	var outs []attack.Outcome
	var err error
	switch name {
	case AttackSquare:
		outs, err = attack.Square(ctx, oracle, imgs, labels, attack.SquareConfig{
			Epsilon: cfg.Epsilon, MaxQueries: cfg.MaxQueries, PInit: cfg.PInit, Seed: seed, MaxBatch: batch})
	case AttackHopSkipJump:
		outs, err = attack.HopSkipJump(ctx, oracle, imgs, labels, attack.HSJConfig{
			Epsilon: cfg.EpsilonL2, MaxQueries: cfg.MaxQueries, Seed: seed, MaxBatch: batch})
	default:
		return nil, fmt.Errorf("run attack %q: unknown attack (square or hopskipjump)", name)
	}
	if err != nil {
		return nil, err
	}
	a := &advAttack{name: name, subject: view, outs: outs, sum: attack.Summarize(outs)}
	if err := e.verifyQuantized(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// verifyQuantized re-runs every success rounded to 8 bits, the form an image file carries: a
// float perturbation that sits just past the decision boundary may not survive the rounding.
func (e *Env) verifyQuantized(ctx context.Context, a *advAttack) error {
	a.qLabel = make([]int, len(a.outs))
	a.qConf = make([]float64, len(a.outs))
	var idx []int
	for i, o := range a.outs {
		a.qLabel[i] = -1
		if o.Success {
			idx = append(idx, i)
		}
	}
	batch := max(e.Config.Runtime.BatchSize, 1)
	for start := 0; start < len(idx); start += batch {
		part := idx[start:min(start+batch, len(idx))]
		imgs := make([]*imaging.Float, len(part))
		for k, i := range part {
			imgs[k] = a.outs[i].Adversarial.Bytes().Float()
		}
		probs, classes, err := e.ForwardFloat(ctx, a.subject, imgs)
		if err != nil {
			return fmt.Errorf("verify rounded adversarial images: %w", err)
		}
		top, conf := argmax(probs, classes)
		for k, i := range part {
			a.qLabel[i], a.qConf[i] = int(top[k]), float64(conf[k])
			if a.qLabel[i] != a.outs[i].Label {
				a.survived++
			}
		}
	}
	return nil
}

// advTitle is an attack's name in reports.
func advTitle(name string) string {
	switch name {
	case AttackSquare:
		return "Square"
	case AttackHopSkipJump:
		return "HopSkipJump"
	}
	return name
}

// advBudget states an attack's perturbation budget, e.g. "L-inf 0.031".
func advBudget(name string, cfg config.RobustAdversarial) string {
	if name == AttackHopSkipJump {
		if math.IsInf(cfg.EpsilonL2, 1) {
			return "L2 unbounded"
		}
		return "L2 " + f3(cfg.EpsilonL2)
	}
	return "L-inf " + f3(cfg.Epsilon)
}

// advMetrics are the named numbers of one attack on one model, prefixed by the attack's name.
func advMetrics(m map[string]float64, a *advAttack) {
	p := a.name + "_"
	s := a.sum
	nan := math.NaN()
	medQ, meanQ, medLinf, medL2 := s.MedianQueries, s.MeanQueries, s.MedianLinf, s.MedianL2
	if s.Succeeded == 0 {
		medQ, meanQ, medLinf, medL2 = nan, nan, nan, nan // no success: undefined, not zero
	}
	m[p+"attacked"] = float64(s.Attacked)
	m[p+"robust_accuracy"] = finite(a.robustAccuracy())
	m[p+"success_rate"] = round(s.SuccessRate)
	m[p+"median_queries"] = finite(medQ)
	m[p+"mean_queries"] = finite(meanQ)
	m[p+"total_queries"] = float64(s.TotalQueries)
	m[p+"median_linf"] = finite(medLinf)
	m[p+"median_l2"] = finite(medL2)
	rounded := nan
	if s.Attacked > 0 {
		rounded = float64(a.survived) / float64(s.Attacked)
	}
	m[p+"success_rate_8bit"] = finite(rounded)
}

// advResult turns the runs into the check's result and applies the thresholds.
func advResult(env *Env, cfg config.RobustAdversarial, runs [][]*advAttack, sampled, eligible int) *report.Result {
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{
		"sample": float64(sampled), "eligible": float64(eligible)}}
	hasBase := env.Baseline != nil
	if hasBase {
		res.BaselineMetrics = map[string]float64{"sample": float64(sampled), "eligible": float64(eligible)}
	}
	var summaries, vs, problems []string
	for _, per := range runs {
		c := per[0]
		advMetrics(res.Metrics, c)
		title := advTitle(c.name)
		budget := advBudget(c.name, cfg)
		line := fmt.Sprintf("robust accuracy %s at %s (%s, %d images, %s)", pct(c.robustAccuracy()), budget, title, c.sum.Images, advQueriesText(c))
		var b *advAttack
		if hasBase {
			b = per[1]
			advMetrics(res.BaselineMetrics, b)
			line += "; baseline " + pct(b.robustAccuracy())
			d := c.robustAccuracy() - b.robustAccuracy()
			vs = append(vs, fmt.Sprintf("%s robust accuracy %s %s (McNemar p=%s)", title, pp(d), arrow(d, true), advP(c, b)))
		}
		summaries = append(summaries, line)
		if v := cfg.MinRobustAccuracy; v != nil && c.robustAccuracy() < *v {
			problems = append(problems, fmt.Sprintf("%s robust accuracy %s at %s is below min_robust_accuracy %s", title, pct(c.robustAccuracy()), budget, pct(*v)))
		}
		if v := cfg.MaxDrop; v != nil && b != nil {
			if drop := b.robustAccuracy() - c.robustAccuracy(); drop > *v {
				problems = append(problems, fmt.Sprintf("%s robust accuracy dropped %s (%s → %s, McNemar p=%s), more than max_drop %s",
					title, advPoints(drop), pct(b.robustAccuracy()), pct(c.robustAccuracy()), advP(c, b), advPoints(*v)))
			}
		}
		res.Details = append(res.Details, advSections(env, cfg, c, b)...)
	}
	res.Summary = strings.Join(summaries, " · ")
	res.VsBaseline = strings.Join(vs, "; ")
	res.Threshold = advThreshold(cfg, hasBase)
	if len(problems) > 0 {
		res.Status = report.StatusWarn
		if cfg.Fail {
			res.Status = report.StatusFail
		}
		res.Summary = strings.Join(problems, "; ")
	}
	who := "the candidate classifies"
	if hasBase {
		who = "the candidate and the baseline both classify"
	}
	note := fmt.Sprintf("Attacked %d of the %d images that %s correctly, stratified by class (seed %d), at each model's input resolution; up to %d queries per image and attack.",
		sampled, eligible, who, env.Config.Seed, cfg.MaxQueries)
	if sampled < cfg.Sample {
		note += fmt.Sprintf(" Fewer than the %d configured: no more images qualified.", cfg.Sample)
	}
	note += " Robust accuracy is the share of attacked images the attack did not break: an upper bound, since a stronger attack can only lower it."
	res.Details = append([]report.Section{{Text: note}}, res.Details...)
	return res
}

// advQueriesText is "median 14 queries", or why there is no median.
func advQueriesText(a *advAttack) string {
	if a.sum.Succeeded == 0 {
		return "no success"
	}
	return "median " + strconv.FormatFloat(a.sum.MedianQueries, 'f', -1, 64) + " queries"
}

// advP is McNemar's exact p-value on the images exactly one model withstood.
func advP(c, b *advAttack) string {
	t, err := stats.NewPairedTable(c.robust(), b.robust())
	if err != nil {
		return "n/a"
	}
	p, err := stats.McNemarExact(t.AOnly, t.BOnly)
	if err != nil {
		return "n/a"
	}
	return strconv.FormatFloat(p, 'g', 2, 64)
}

// advPoints formats a difference of shares in percentage points, without a sign.
func advPoints(d float64) string { return fmt.Sprintf("%.1f pp", 100*d) }

func advThreshold(cfg config.RobustAdversarial, hasBase bool) string {
	var parts []string
	if v := cfg.MinRobustAccuracy; v != nil {
		parts = append(parts, "robust accuracy >= "+pct(*v))
	}
	if v := cfg.MaxDrop; v != nil {
		t := "drop vs baseline <= " + advPoints(*v)
		if !hasBase {
			t += " (no baseline)"
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "none set (report only)"
	}
	level := "warn"
	if cfg.Fail {
		level = "fail"
	}
	return strings.Join(parts, ", ") + " (" + level + ")"
}

// advSections are the details of one attack: a table for both models, the distribution of the
// queries it took, and for HopSkipJump the distances it reached.
func advSections(env *Env, cfg config.RobustAdversarial, c, b *advAttack) []report.Section {
	title := advTitle(c.name)
	cols := []string{"", "candidate"}
	if b != nil {
		cols = append(cols, "baseline")
	}
	t := tableOf(cols...)
	row := func(name string, f func(a *advAttack) string) {
		cells := []string{name, f(c)}
		if b != nil {
			cells = append(cells, f(b))
		}
		addRow(t, cells...)
	}
	row("images attacked", func(a *advAttack) string { return strconv.Itoa(a.sum.Attacked) })
	row("already wrong at input size", func(a *advAttack) string { return strconv.Itoa(a.sum.Skipped) })
	row("robust accuracy (95% Wilson)", func(a *advAttack) string {
		kept := a.sum.Images - a.sum.Skipped - a.sum.Succeeded
		iv, err := stats.WilsonInterval(kept, a.sum.Images, 0.95)
		if err != nil {
			return pct(a.robustAccuracy())
		}
		return fmt.Sprintf("%s [%s, %s]", pct(a.robustAccuracy()), pct(iv.Lo), pct(iv.Hi))
	})
	row("attack success rate", func(a *advAttack) string { return pct(a.sum.SuccessRate) })
	row("successes surviving 8-bit rounding", func(a *advAttack) string {
		return fmt.Sprintf("%d of %d", a.survived, a.sum.Succeeded)
	})
	row("queries to success: median / mean", func(a *advAttack) string {
		if a.sum.Succeeded == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%s / %.1f", strconv.FormatFloat(a.sum.MedianQueries, 'f', -1, 64), a.sum.MeanQueries)
	})
	row("queries spent", func(a *advAttack) string { return strconv.Itoa(a.sum.TotalQueries) })
	row("median L-inf / L2 of successes", func(a *advAttack) string {
		if a.sum.Succeeded == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%s / %s", f3(a.sum.MedianLinf), f3(a.sum.MedianL2))
	})
	out := []report.Section{{Title: fmt.Sprintf("%s attack, %s", title, advBudget(c.name, cfg)), Table: t}}

	var lines []string
	for _, a := range []*advAttack{c, b} {
		if a == nil {
			continue
		}
		lines = append(lines, a.subject.Role+": "+advQueryQuantiles(a, cfg.MaxQueries))
	}
	text := "Queries to success (the clean query included): " + strings.Join(lines, "; ") + "."
	if c.name == AttackHopSkipJump {
		var l2 []string
		for _, a := range []*advAttack{c, b} {
			if a != nil {
				l2 = append(l2, a.subject.Role+": "+advL2Distribution(a, cfg.EpsilonL2))
			}
		}
		text += " L2 of the closest adversarial image found: " + strings.Join(l2, "; ") + "."
	}
	out = append(out, report.Section{Text: text, Chart: advChart(c, b, cfg.MaxQueries)})
	return out
}

// advQueryQuantiles summarises the queries successes took.
func advQueryQuantiles(a *advAttack, budget int) string {
	var q []float64
	for _, o := range a.outs {
		if o.Success {
			q = append(q, float64(o.Queries))
		}
	}
	if len(q) == 0 {
		return fmt.Sprintf("no success within %d queries", budget)
	}
	qs, err := stats.Quantiles(q, 0.1, 0.25, 0.5, 0.75, 0.9, 1)
	if err != nil {
		return "n/a"
	}
	g := func(x float64) string { return strconv.FormatFloat(math.Round(x), 'f', -1, 64) }
	return fmt.Sprintf("p10 %s, p25 %s, median %s, p75 %s, p90 %s, max %s", g(qs[0]), g(qs[1]), g(qs[2]), g(qs[3]), g(qs[4]), g(qs[5]))
}

// advL2Distribution summarises, over the attacked images, the L2 distance of the closest
// adversarial image HopSkipJump found (none found counts as infinitely far).
func advL2Distribution(a *advAttack, eps float64) string {
	var d []float64
	found := 0
	for _, o := range a.outs {
		if o.Skipped {
			continue
		}
		if o.Adversarial == nil {
			d = append(d, math.Inf(1))
			continue
		}
		found++
		d = append(d, o.L2)
	}
	if len(d) == 0 {
		return "nothing attacked"
	}
	slices.Sort(d)
	med := d[len(d)/2]
	if len(d)%2 == 0 {
		med = (d[len(d)/2-1] + d[len(d)/2]) / 2
	}
	medText := f3(med)
	if math.IsInf(med, 1) {
		medText = "none found"
	}
	within := fmt.Sprintf(", %s within epsilon_l2 %s", pct(a.sum.SuccessRate), f3(eps))
	if math.IsInf(eps, 1) {
		within = ""
	}
	return fmt.Sprintf("median %s (found for %d of %d)%s", medText, found, len(d), within)
}

// advChart plots the share of attacked images broken within a query budget, for budgets up to the
// configured one: how much harder each model makes the attacker work. It starts at 2 queries: the
// first is the clean image, which never breaks.
func advChart(c, b *advAttack, budget int) *report.Chart {
	var xs []int
	for _, base := range []int{2, 5, 10} {
		for x := base; x < budget; x *= 10 {
			xs = append(xs, x)
		}
	}
	xs = append(xs, budget)
	slices.Sort(xs)
	ch := &report.Chart{Title: advTitle(c.name) + ": images broken within a query budget", XLabel: "queries per image",
		YLabel: "attack success rate", YMin: 0, YMax: 1}
	for _, x := range xs {
		ch.X = append(ch.X, strconv.Itoa(x))
	}
	for _, a := range []*advAttack{c, b} {
		if a == nil {
			continue
		}
		vals := make([]float64, len(xs))
		for j, x := range xs {
			n := 0
			for _, o := range a.outs {
				if o.Success && o.Queries <= x {
					n++
				}
			}
			if a.sum.Attacked > 0 {
				vals[j] = round(float64(n) / float64(a.sum.Attacked))
			}
		}
		ch.Series = append(ch.Series, report.Series{Name: a.subject.Role, Values: vals})
	}
	return ch
}

// advSuccesses counts the candidate's successful attacks, over all attacks.
func advSuccesses(runs [][]*advAttack) int {
	n := 0
	for _, per := range runs {
		n += per[0].sum.Succeeded
	}
	return n
}

// advCases are the candidate's adversarial images beside their originals, both at the model's
// input size and in 8 bits, so that the exporter can show original | adversarial | difference.
// Those that still fool the model after rounding come first, most confident first.
func advCases(env *Env, sample []int, runs [][]*advAttack) []failures.Case {
	var cases []failures.Case
	limit := max(env.exportLimit(), 1)
	for _, per := range runs {
		a := per[0]
		for k, o := range a.outs {
			if !o.Success {
				continue
			}
			it := env.Data.Items[sample[k]]
			survives := a.qLabel[k] != o.Label
			predicted, conf, severity := env.className(a.qLabel[k]), a.qConf[k], 1+a.qConf[k]
			note := fmt.Sprintf("%d queries; L-inf %s, L2 %s", o.Queries, f3(o.Linf), f3(o.L2))
			if !survives {
				// Still worth seeing, but the exported file itself no longer fools the model.
				predicted, conf, severity = env.className(o.AdvLabel), 0, 0
				note += fmt.Sprintf("; the 8-bit file is classified %s again", env.className(a.qLabel[k]))
			}
			cases = append(cases, failures.Case{
				Image:        o.Adversarial.Bytes(),
				Original:     env.Candidate.Spec.View(it.Image),
				Path:         it.Path,
				Label:        env.className(o.Label),
				Predicted:    predicted,
				Confidence:   conf,
				Perturbation: a.name + " " + advBudgetShort(a.name, o),
				Severity:     severity,
				Note:         note,
			})
			if len(cases) > 4*limit {
				cases = topCases(cases, limit)
			}
		}
	}
	return cases
}

// advBudgetShort is the size of one perturbation in the attack's norm.
func advBudgetShort(name string, o attack.Outcome) string {
	if name == AttackHopSkipJump {
		return "L2 " + f3(o.L2)
	}
	return "L-inf " + f3(o.Linf)
}
