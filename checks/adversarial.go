package checks

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

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
	views   []*imaging.Float
	eps     float64 // the budget in the attack's norm (+Inf: none)
	outs    []attack.Outcome
	sum     attack.Summary
	// qLabel and qConf are the model's answer on each adversarial image rounded to 8 bits, the
	// form it is exported in, in a pass of its own (-1 and 0 where there is no adversarial image).
	// broken marks the images that count against the model: an 8-bit image within the budget that
	// the model misclassifies when it sees it again.
	qLabel []int
	qConf  []float64
	broken []bool
	// qLinf and qL2 are the distances of the rounded images (the attacks return 8-bit images, so
	// they equal the outcomes' own; they are measured again rather than assumed).
	qLinf, qL2 []float64
	maxQueries int // the per-image query budget it ran with
	survived   int // successes still misclassified after rounding
	mismatched int // rounded images whose answer differed from the attack's own query of them
}

// robust reports, per attacked image, whether the model withstood the attack: not broken and not
// already wrong at the model's resolution.
func (a *advAttack) robust() []bool {
	out := make([]bool, len(a.outs))
	for i, o := range a.outs {
		out[i] = !a.broken[i] && !o.Skipped
	}
	return out
}

// robustAccuracy is the share of sampled images the attack did not break with a deliverable 8-bit
// image. Skipped images (wrong before any perturbation, which can happen when the view differs
// from the clean pass's input by rounding) count as not robust.
func (a *advAttack) robustAccuracy() float64 {
	if a.sum.Images == 0 {
		return math.NaN()
	}
	return float64(a.sum.Images-a.sum.Skipped-a.survived) / float64(a.sum.Images)
}

// successRate is the share of attacked images broken with a deliverable 8-bit image: the headline.
func (a *advAttack) successRate() float64 {
	if a.sum.Attacked == 0 {
		return math.NaN()
	}
	return float64(a.survived) / float64(a.sum.Attacked)
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
	names := make([]string, len(cfg.Attacks))
	for k, name := range cfg.Attacks {
		if canonical, ok := config.CanonicalAttack(name); ok {
			name = canonical // a Config built in code may use an alias
		}
		names[k] = name
	}
	seq := newAdvSequence(env, cfg, len(names), len(sample))
	runs := make([][]*advAttack, len(names)) // [attack][subject]
	for {
		from, to := seq.done, seq.next()
		start := time.Now()
		for k, name := range names {
			for si, s := range env.Subjects() {
				a, err := env.runAttack(ctx, name, s, sample[from:to], labels[from:to], from, seq.cfg)
				if err != nil {
					return nil, fmt.Errorf("attack %s with %s: %w", s.Role, name, err)
				}
				if from == 0 {
					runs[k] = append(runs[k], a)
				} else {
					runs[k][si].extend(a)
				}
			}
		}
		if !seq.record(runs, to, time.Since(start)) {
			break
		}
	}
	res := advResult(env, seq.cfg, runs, sample[:seq.done], eligible)
	titles := make([]string, len(names))
	for k, name := range names {
		titles[k] = advTitle(name)
	}
	seq.report(res, titles)
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
	return &Subject{Role: s.Role, Name: s.Name, Model: s.Model, Spec: spec, Info: s.Info, CacheID: s.CacheID, kind: s.OutputKind()}
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
// first is the position of sample[0] in the whole sample, which picks the images' random streams.
func (e *Env) runAttack(ctx context.Context, name string, s *Subject, sample, labels []int, first int, cfg config.RobustAdversarial) (*advAttack, error) {
	view := viewSubject(s)
	imgs := make([]*imaging.Float, len(sample))
	for k, i := range sample {
		imgs[k] = s.Spec.View(e.Data.Items[i].Image).Float()
	}
	oracle, err := e.newAttackOracle(ctx, view)
	if err != nil {
		return nil, err
	}
	defer oracle.Close()
	seed := attackSeed(e.Config.Seed, name)
	// An oracle call of the model's own batch size runs as one forward pass: the driver fills the
	// probes, preprocessing copies them into the input tensor and ONNX Runtime reads them while
	// they are still in cache. Calls of 256 (four passes at the automatic batch of 64 for MNIST)
	// cost a few percent more CPU per query on a LeNet-5. A fixed batch (often 1) keeps the attacks'
	// default, so that the driver's own work per call stays amortised.
	batch := e.Config.Runtime.BatchSize
	if batch == 0 && !view.Model.FixedBatch {
		batch = view.Model.Batch
	}
	var outs []attack.Outcome
	a := &advAttack{name: name, subject: view, views: imgs, maxQueries: cfg.MaxQueries}
	switch name {
	case AttackSquare:
		a.eps = cfg.Epsilon
		sc := attack.SquareConfig{Epsilon: cfg.Epsilon, MaxQueries: cfg.MaxQueries, PInit: cfg.PInit, Seed: seed, MaxBatch: batch, FirstIndex: first}
		outs, err = e.attackImages(view, squareRecord(sc), sample, imgs, labels, func(imgs []*imaging.Float, labels []int, streams []uint64) ([]attack.Outcome, error) {
			sc.Streams = streams
			return attack.Square(ctx, oracle, imgs, labels, sc)
		})
	case AttackHopSkipJump:
		a.eps = cfg.EpsilonL2
		hc := attack.HSJConfig{Epsilon: cfg.EpsilonL2, MaxQueries: cfg.MaxQueries, Seed: seed, MaxBatch: batch, FirstIndex: first}
		outs, err = e.attackImages(view, hsjRecord(hc), sample, imgs, labels, func(imgs []*imaging.Float, labels []int, streams []uint64) ([]attack.Outcome, error) {
			hc.Streams = streams
			return attack.HopSkipJump(ctx, oracle, imgs, labels, hc)
		})
	default:
		return nil, fmt.Errorf("run attack %q: unknown attack (%s)", name, strings.Join(config.AttackNames(), ", "))
	}
	if err != nil {
		return nil, err
	}
	a.outs, a.sum = outs, attack.Summarize(outs)
	if err := e.verifyQuantized(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// extend appends the outcomes of the next images of the sample, attacked with the same attack,
// model and budget.
func (a *advAttack) extend(b *advAttack) {
	a.views = append(a.views, b.views...)
	a.outs = append(a.outs, b.outs...)
	a.sum = attack.Summarize(a.outs)
	a.qLabel, a.qConf, a.broken = append(a.qLabel, b.qLabel...), append(a.qConf, b.qConf...), append(a.broken, b.broken...)
	a.qLinf, a.qL2 = append(a.qLinf, b.qLinf...), append(a.qL2, b.qL2...)
	a.survived += b.survived
	a.mismatched += b.mismatched
}

// verifyQuantized re-runs every adversarial image rounded to 8 bits, the form an image file
// carries, in batches of its own, and decides which images are broken: rounded, within the
// budget, and still misclassified. The attacks already deliver 8-bit images that were answered
// misclassified, so this is a second, independent look (a batch-dependent model could answer
// differently), and what robust accuracy and the headline count.
func (e *Env) verifyQuantized(ctx context.Context, a *advAttack) error {
	n := len(a.outs)
	a.qLabel, a.qConf, a.broken = make([]int, n), make([]float64, n), make([]bool, n)
	a.qLinf, a.qL2 = make([]float64, n), make([]float64, n)
	var idx []int
	for i, o := range a.outs {
		a.qLabel[i] = -1
		if o.Adversarial != nil {
			idx = append(idx, i)
		}
	}
	// onnx.Run splits each part into the model's own batches.
	const batch = 256
	for start := 0; start < len(idx); start += batch {
		part := idx[start:min(start+batch, len(idx))]
		imgs := make([]*imaging.Float, len(part))
		for k, i := range part {
			imgs[k] = a.outs[i].Adversarial.Bytes().Float()
			a.qLinf[i], a.qL2[i] = advDistances(imgs[k], a.views[i])
		}
		probs, classes, err := e.ForwardFloat(ctx, a.subject, imgs)
		if err != nil {
			return fmt.Errorf("verify rounded adversarial images: %w", err)
		}
		top, conf := argmax(probs, classes)
		for k, i := range part {
			o := a.outs[i]
			a.qLabel[i], a.qConf[i] = int(top[k]), float64(conf[k])
			if a.qLabel[i] != o.AdvLabel {
				a.mismatched++
			}
			norm := a.qL2[i]
			if a.name == AttackSquare {
				norm = a.qLinf[i]
			}
			// The attacks measure in float64 from float32 pixels; allow for that rounding only.
			if o.Success && a.qLabel[i] != o.Label && norm <= a.eps+1e-6 {
				a.broken[i] = true
				a.survived++
			}
		}
	}
	return nil
}

// advDistances are the L-inf and L2 distances between two images of the same shape.
func advDistances(a, b *imaging.Float) (linf, l2 float64) {
	var sum float64
	for i, v := range a.Pix {
		d := math.Abs(float64(v) - float64(b.Pix[i]))
		linf = max(linf, d)
		sum += d * d
	}
	return linf, math.Sqrt(sum)
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
// Success rates, robust accuracy, queries and distances count 8-bit successes checked again
// (broken); success_rate_raw is the unrounded figure beside them.
func advMetrics(m map[string]float64, a *advAttack) {
	p := a.name + "_"
	s := a.sum
	var queries, linf, l2, raw []float64
	for i, o := range a.outs {
		if a.broken[i] {
			queries = append(queries, float64(o.SuccessQueries))
			linf, l2 = append(linf, a.qLinf[i]), append(l2, a.qL2[i])
		}
		if o.RawSuccess {
			raw = append(raw, o.RawL2)
		}
	}
	m[p+"attacked"] = float64(s.Attacked)
	m[p+"robust_accuracy"] = finite(a.robustAccuracy())
	m[p+"success_rate"] = finite(a.successRate())
	rawRate := math.NaN()
	if s.Attacked > 0 {
		rawRate = s.RawSuccessRate
	}
	m[p+"success_rate_raw"] = finite(rawRate)
	m[p+"median_queries"] = finite(advMedian(queries))
	m[p+"mean_queries"] = finite(advMean(queries))
	m[p+"total_queries"] = float64(s.TotalQueries)
	m[p+"median_linf"] = finite(advMedian(linf))
	m[p+"median_l2"] = finite(advMedian(l2))
	m[p+"median_raw_l2"] = finite(advMedian(raw))
	budgets := attack.Budgets(a.maxQueries)
	for j, v := range attack.L2Curve(a.outs, budgets) {
		m[fmt.Sprintf("%smedian_l2_at_%d", p, budgets[j])] = finite(v)
	}
}

// advMedian is the median, NaN for none (undefined, not zero).
func advMedian(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func advMean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	var sum float64
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// advResult turns the runs into the check's result and applies the thresholds.
func advResult(env *Env, cfg config.RobustAdversarial, runs [][]*advAttack, sample []int, eligible int) *report.Result {
	sampled := len(sample)
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
		for _, a := range per {
			res.Attacks = append(res.Attacks, advRecord(env, sample, a))
		}
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
	note += " An image counts as broken only when its adversarial image, rounded to 8 bits as an image file holds it, is within the budget and still misclassified when the model sees it again: what an attacker could deliver." +
		" Robust accuracy is the share of attacked images not broken: an upper bound, since a stronger attack can only lower it."
	res.Details = append([]report.Section{{Text: note}}, res.Details...)
	return res
}

// advRecord is one attack's per-image record and L2 curve for report.json.
func advRecord(env *Env, sample []int, a *advAttack) report.AttackRun {
	run := report.AttackRun{Attack: a.name, Model: a.subject.Role, Norm: "linf", MaxQueries: a.maxQueries,
		Curve: []report.AttackCurvePoint{}, Images: make([]report.AttackImage, len(a.outs))}
	if a.name == AttackHopSkipJump {
		run.Norm = "l2"
	}
	if !math.IsInf(a.eps, 1) {
		run.Epsilon = advPtr(a.eps)
	}
	budgets := attack.Budgets(a.maxQueries)
	for j, v := range attack.L2Curve(a.outs, budgets) {
		pt := report.AttackCurvePoint{Queries: budgets[j], SuccessRate: round(advBrokenWithin(a, budgets[j]))}
		if !math.IsInf(v, 0) && !math.IsNaN(v) {
			pt.MedianL2 = advPtr(v)
		}
		run.Curve = append(run.Curve, pt)
	}
	for k, o := range a.outs {
		it := env.Data.Items[sample[k]]
		im := report.AttackImage{Path: it.Path, Label: env.className(o.Label), Skipped: o.Skipped, Queries: o.Queries,
			Success: o.RawSuccess, Success8bit: a.broken[k]}
		if a.broken[k] {
			im.QueriesToSuccess = &o.SuccessQueries
		}
		if o.Adversarial != nil {
			im.QueriesToFinal = &o.FinalQueries
			im.L2, im.Linf = advPtr(a.qL2[k]), advPtr(a.qLinf[k])
			im.RawL2, im.RawLinf = advPtr(o.RawL2), advPtr(o.RawLinf)
			im.Predicted, im.Confidence = env.className(a.qLabel[k]), round(a.qConf[k])
		}
		run.Images[k] = im
	}
	return run
}

// advPtr is a rounded copy of x, for the report's optional numbers.
func advPtr(x float64) *float64 {
	r := round(x)
	return &r
}

// advBrokenWithin is the share of attacked images broken within q queries.
func advBrokenWithin(a *advAttack, q int) float64 {
	if a.sum.Attacked == 0 {
		return math.NaN()
	}
	n := 0
	for i, o := range a.outs {
		if a.broken[i] && o.SuccessQueries <= q {
			n++
		}
	}
	return float64(n) / float64(a.sum.Attacked)
}

// advQueriesText is "median 14 queries", or why there is no median.
func advQueriesText(a *advAttack) string {
	if a.survived == 0 {
		return "no success"
	}
	var q []float64
	for i, o := range a.outs {
		if a.broken[i] {
			q = append(q, float64(o.SuccessQueries))
		}
	}
	return "median " + strconv.FormatFloat(advMedian(q), 'f', -1, 64) + " queries"
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
// queries it took, the share broken within a query budget and, for HopSkipJump, the L2 distance
// reached against the queries spent.
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
		kept := a.sum.Images - a.sum.Skipped - a.survived
		iv, err := stats.WilsonInterval(kept, a.sum.Images, 0.95)
		if err != nil {
			return pct(a.robustAccuracy())
		}
		return fmt.Sprintf("%s [%s, %s]", pct(a.robustAccuracy()), pct(iv.Lo), pct(iv.Hi))
	})
	row("attack success rate, 8-bit images", func(a *advAttack) string { return pct(a.successRate()) })
	row("unrounded (float) success rate", func(a *advAttack) string { return pct(a.sum.RawSuccessRate) })
	row("queries to success: median / mean", func(a *advAttack) string {
		var q []float64
		for i, o := range a.outs {
			if a.broken[i] {
				q = append(q, float64(o.SuccessQueries))
			}
		}
		if len(q) == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%s / %.1f", strconv.FormatFloat(advMedian(q), 'f', -1, 64), advMean(q))
	})
	row("queries spent", func(a *advAttack) string { return strconv.Itoa(a.sum.TotalQueries) })
	row("median L-inf / L2 of successes", func(a *advAttack) string {
		var linf, l2 []float64
		for i := range a.outs {
			if a.broken[i] {
				linf, l2 = append(linf, a.qLinf[i]), append(l2, a.qL2[i])
			}
		}
		if len(l2) == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%s / %s", f3(advMedian(linf)), f3(advMedian(l2)))
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
	if c.name == AttackSquare {
		text += fmt.Sprintf(" Square moves each pixel value to a corner of the L-inf ball on the 8-bit grid, %d/255 from the original (epsilon %s), so every image it sends is already an image file's.",
			int(math.Floor(cfg.Epsilon*255+1e-6)), f3(cfg.Epsilon))
	}
	if c.name == AttackHopSkipJump {
		var l2 []string
		for _, a := range []*advAttack{c, b} {
			if a != nil {
				l2 = append(l2, a.subject.Role+": "+advL2Distribution(a))
			}
		}
		text += " L2 of the closest 8-bit adversarial image found: " + strings.Join(l2, "; ") + "."
	}
	for _, a := range []*advAttack{c, b} {
		if a != nil && a.mismatched > 0 {
			text += fmt.Sprintf(" %s: %d rounded images were answered differently when checked again than during the attack (a model whose answers depend on the batch).", a.subject.Role, a.mismatched)
		}
	}
	out = append(out, report.Section{Text: text, Chart: advChart(c, b, cfg.MaxQueries)})
	if c.name == AttackHopSkipJump {
		if ch := advL2Chart(c, b); ch != nil {
			out = append(out, report.Section{Text: "Median L2 distance of the 8-bit adversarial images an attacker holds after a given number of queries per image (lower is closer): the budget at which the curve flattens is what the attack needs.", Chart: ch})
		}
	}
	return out
}

// advQueryQuantiles summarises the queries successes took.
func advQueryQuantiles(a *advAttack, budget int) string {
	var q []float64
	for i, o := range a.outs {
		if a.broken[i] {
			q = append(q, float64(o.SuccessQueries))
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

// advL2Distribution summarises, over the attacked images, the L2 distance of the 8-bit adversarial
// image HopSkipJump returned (none counts as infinitely far).
func advL2Distribution(a *advAttack) string {
	var d []float64
	found := 0
	for i, o := range a.outs {
		if o.Skipped {
			continue
		}
		if o.Adversarial == nil || a.qLabel[i] == o.Label {
			d = append(d, math.Inf(1))
			continue
		}
		found++
		d = append(d, a.qL2[i])
	}
	if len(d) == 0 {
		return "nothing attacked"
	}
	med := advMedian(d)
	medText := f3(med)
	if math.IsInf(med, 1) {
		medText = "none found"
	}
	within := fmt.Sprintf(", %s within epsilon_l2 %s", pct(a.successRate()), f3(a.eps))
	if math.IsInf(a.eps, 1) {
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
		YLabel: "attack success rate (8-bit images)", YMin: 0, YMax: 1}
	for _, x := range xs {
		ch.X = append(ch.X, strconv.Itoa(x))
	}
	for _, a := range []*advAttack{c, b} {
		if a == nil {
			continue
		}
		vals := make([]float64, len(xs))
		for j, x := range xs {
			vals[j] = round(finiteOr0(advBrokenWithin(a, x)))
		}
		ch.Series = append(ch.Series, report.Series{Name: a.subject.Role, Values: vals})
	}
	return ch
}

// advL2Chart plots attack.L2Curve for each model, from the first budget at which every model has
// an adversarial image for at least half the images (before that the median is infinite); nil
// when there is no such budget.
func advL2Chart(c, b *advAttack) *report.Chart {
	budgets := attack.Budgets(c.maxQueries)
	var curves [][]float64
	for _, a := range []*advAttack{c, b} {
		if a != nil {
			curves = append(curves, attack.L2Curve(a.outs, budgets))
		}
	}
	first := -1
	for j := range budgets {
		ok := true
		for _, cv := range curves {
			ok = ok && !math.IsInf(cv[j], 0) && !math.IsNaN(cv[j])
		}
		if ok {
			first = j
			break
		}
	}
	if first < 0 {
		return nil
	}
	ch := &report.Chart{Title: advTitle(c.name) + ": median L2 reached within a query budget", XLabel: "queries per image",
		YLabel: "median L2 (8-bit images)", YMin: 0}
	for _, q := range budgets[first:] {
		ch.X = append(ch.X, strconv.Itoa(q))
	}
	k := 0
	for _, a := range []*advAttack{c, b} {
		if a == nil {
			continue
		}
		vals := make([]float64, 0, len(budgets)-first)
		for _, v := range curves[k][first:] {
			// Later budgets can only be closer, so an infinite value cannot follow a finite one;
			// the guard keeps the chart JSON-encodable regardless.
			vals = append(vals, round(finiteOr0(v)))
			ch.YMax = max(ch.YMax, math.Ceil(finiteOr0(v)))
		}
		k++
		ch.Series = append(ch.Series, report.Series{Name: a.subject.Role, Values: vals})
	}
	return ch
}

// advSuccesses counts the candidate's 8-bit successes, over all attacks.
func advSuccesses(runs [][]*advAttack) int {
	n := 0
	for _, per := range runs {
		n += per[0].survived
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
			predicted, conf, severity := env.className(a.qLabel[k]), a.qConf[k], 1+a.qConf[k]
			note := fmt.Sprintf("%d queries; L-inf %s, L2 %s", o.SuccessQueries, f3(a.qLinf[k]), f3(a.qL2[k]))
			if !a.broken[k] {
				// Still worth seeing, but the exported file itself no longer fools the model.
				predicted, conf, severity = env.className(o.AdvLabel), 0, 0
				note += fmt.Sprintf("; the 8-bit file is classified %s when checked again", env.className(a.qLabel[k]))
			}
			cases = append(cases, failures.Case{
				Image:        o.Adversarial.Bytes(),
				Original:     env.Candidate.Spec.View(it.Image),
				Path:         it.Path,
				Label:        env.className(o.Label),
				Predicted:    predicted,
				Confidence:   conf,
				Perturbation: a.name + " " + advBudgetShort(a.name, a.qLinf[k], a.qL2[k]),
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
func advBudgetShort(name string, linf, l2 float64) string {
	if name == AttackHopSkipJump {
		return "L2 " + f3(l2)
	}
	return "L-inf " + f3(linf)
}
