package checks

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/report"
)

// The sequential design of robust.adversarial. The sample (the seeded, stratified order of images
// both models classify correctly) is attacked in looks: 10, 20, 35, 50 images, then half as many
// again each look, up to thresholds.robust.adversarial.sample. A look only adds images (each
// image meets the same random draws whichever look attacks it: attack.SquareConfig.FirstIndex),
// so an early stop sees a prefix of what the full sample would. After each look the gates are
// judged on exact intervals:
//
//   - min_robust_accuracy: the Clopper-Pearson interval of the candidate's robust accuracy;
//   - max_drop (with a baseline): the drop RA(baseline) - RA(candidate) equals p01 - p10, the
//     shares of images only the baseline withstood and only the candidate withstood. Each share
//     gets a Clopper-Pearson interval at half the look's error, and the drop's interval is
//     [lo01 - hi10, hi01 - lo10]: exact whatever the correlation of the two models' outcomes,
//     and conservative (the union bound). Its upper end settles "within max_drop". Its lower
//     end is too loose to be useful (it subtracts hi10 even when no image favours the
//     candidate), so "beyond max_drop" is settled by the score test for paired proportions
//     against the margin (stats.PairedMarginTest, as perf.baseline gates), p below the look's
//     error.
//
// A gate is settled when its interval lies entirely on one side of its threshold (for the
// drop's failing side: when the score test rejects "within"). Checking at up
// to L looks would inflate the error of a settled verdict, so every look uses the Bonferroni level
// 1 - alpha/L (98.75% for the default 4 looks): the chance that any look's interval misses the
// truth is at most alpha, so a settled verdict is wrong with probability at most alpha = 0.05,
// whenever the sampling stops. (This is the corruption sweep's rule; the intervals here are exact
// rather than bootstrapped, because the outcomes are a few dozen yes/no answers.) With no
// threshold set the check reports only; with a baseline the comparison still counts as settled
// once the drop's interval excludes zero (a difference is shown, in its direction), which is the
// only early stop it has.
const (
	advAlpha = 0.05
	// advFitImages is the sample the query budget must fit in budget_seconds when every image
	// spends all its queries: the second look, the first at which an exact interval can settle
	// anything against a threshold 25 points away.
	advFitImages = 20
	// advMinQueries is the fewest queries per image the budget may leave: under it Square has
	// hardly started (its first query is the clean image, its second the stripes).
	advMinQueries = 20
)

// advLooks is the look schedule for a sample of n images: 10, 20, 35, 50, then x1.5, ending at n.
func advLooks(n int) []int {
	var looks []int
	for _, k := range []int{10, 20, 35, 50} {
		if k >= n {
			break
		}
		looks = append(looks, k)
	}
	for k := 50; len(looks) > 0 && looks[len(looks)-1] >= 50; {
		k = k * 3 / 2
		if k >= n {
			break
		}
		looks = append(looks, k)
	}
	return append(looks, n)
}

// advFitQueries is the per-image query budget that lets advFitImages images through every attack
// and model fit in budget seconds when each spends all its queries, at perQuery seconds per query
// through every model (the clean pass's measured rate); at most maxQueries, at least
// advMinQueries, rounded down to a multiple of 10 (of 50 from 100 up) so that small differences
// in machine speed rarely change it. perQuery <= 0 or budget <= 0: maxQueries.
func advFitQueries(maxQueries, attacks int, perQuery time.Duration, budget time.Duration) int {
	if perQuery <= 0 || budget <= 0 || attacks <= 0 {
		return maxQueries
	}
	fit := int(budget / (perQuery * time.Duration(advFitImages*attacks)))
	if fit >= maxQueries {
		return maxQueries
	}
	step := 10
	if fit >= 100 {
		step = 50
	}
	return max(fit/step*step, min(advMinQueries, maxQueries))
}

// advCounts are one attack's paired outcomes on the first n sampled images.
type advCounts struct {
	n          int
	candRobust int // images the candidate withstood
	candOnly   int // withstood by the candidate only (with a baseline)
	baseOnly   int // withstood by the baseline only
	hasBase    bool
}

// advCountsOf tallies the paired outcomes of an attack's runs (candidate first).
func advCountsOf(per []*advAttack) advCounts {
	c := advCounts{hasBase: len(per) > 1}
	rc := per[0].robust()
	c.n = len(rc)
	var rb []bool
	if c.hasBase {
		rb = per[1].robust()
	}
	for i, r := range rc {
		if r {
			c.candRobust++
		}
		if c.hasBase {
			switch {
			case r && !rb[i]:
				c.candOnly++
			case !r && rb[i]:
				c.baseOnly++
			}
		}
	}
	return c
}

// gateState is where one gate stands after a look.
type gateState int

const (
	gateOpen   gateState = iota // the interval straddles the threshold
	gateWithin                  // settled on the passing side
	gateBeyond                  // settled on the failing side
)

// advGate is one gate's interval and state at a look.
type advGate struct {
	name      string // "min_robust_accuracy", "max_drop", or "difference" (report only)
	threshold float64
	interval  stats.Interval
	p         float64 // the drop's score-test p-value of "beyond the margin" (NaN for others)
	state     gateState
}

// advJudge computes the gates of one attack at a look of level `level`: the candidate's robust
// accuracy against min_robust_accuracy when set, and with a baseline the drop against max_drop
// (or, report only, against zero).
func advJudge(c advCounts, cfg config.RobustAdversarial, level float64) []advGate {
	var out []advGate
	if c.n == 0 {
		return nil
	}
	if v := cfg.MinRobustAccuracy; v != nil {
		g := advGate{name: "min_robust_accuracy", threshold: *v}
		g.interval, _ = stats.ClopperPearsonInterval(c.candRobust, c.n, level)
		switch {
		case g.interval.Lo >= *v:
			g.state = gateWithin
		case g.interval.Hi < *v:
			g.state = gateBeyond
		}
		out = append(out, g)
	}
	if c.hasBase {
		// The drop's interval: each discordant share at half the look's error, so that together
		// they cover with 1 - alpha/L whatever the correlation of the two models' outcomes. Its
		// upper end settles "within"; its lower end is loose when one share is near zero (it
		// subtracts the other share's upper bound), so "beyond" is settled by the score test for
		// paired proportions against the margin instead (stats.PairedMarginTest, perf.baseline's
		// test), at the look's error.
		half := 1 - (1-level)/2
		p01, _ := stats.ClopperPearsonInterval(c.baseOnly, c.n, half)
		p10, _ := stats.ClopperPearsonInterval(c.candOnly, c.n, half)
		iv := stats.Interval{Estimate: float64(c.baseOnly-c.candOnly) / float64(c.n),
			Lo: p01.Lo - p10.Hi, Hi: p01.Hi - p10.Lo, Level: level}
		g := advGate{name: "difference", interval: iv}
		margin := 0.0
		if v := cfg.MaxDrop; v != nil {
			g.name, g.threshold, margin = "max_drop", *v, min(*v, 0.999)
		}
		table := stats.PairedTable{AOnly: c.candOnly, BOnly: c.baseOnly, Neither: c.n - c.candOnly - c.baseOnly}
		g.p = math.NaN()
		if mt, err := stats.PairedMarginTest(table, margin); err == nil {
			g.p = mt.P
		}
		switch {
		case g.p < 1-level:
			g.state = gateBeyond
		case g.name == "max_drop" && iv.Hi <= margin, g.name == "difference" && iv.Hi < 0:
			g.state = gateWithin
		}
		out = append(out, g)
	}
	return out
}

// advLook is one interim analysis: the gates of every attack.
type advLook struct {
	n       int
	level   float64
	gates   [][]advGate // [attack]
	settled bool
}

// advSettled says whether a look's gates settle the verdict: one gate settled on the failing
// side decides it, otherwise every gate must be settled. No gate at all (report only, no
// baseline) settles nothing: the sample runs to its cap or the budget.
func advSettled(gates [][]advGate) bool {
	any, open := false, false
	for _, gs := range gates {
		for _, g := range gs {
			any = true
			if g.state == gateBeyond {
				return true
			}
			if g.state == gateOpen {
				open = true
			}
		}
	}
	return any && !open
}

// describe says where a gate stands, in words.
func (g advGate) describe(title string) string {
	iv := g.interval
	switch g.name {
	case "min_robust_accuracy":
		return fmt.Sprintf("%s robust accuracy %s, %s interval [%s, %s] vs min_robust_accuracy %s (%s)", title, pct(iv.Estimate), levelText(iv.Level), pct(iv.Lo), pct(iv.Hi), pct(g.threshold), g.state)
	case "max_drop":
		return fmt.Sprintf("%s drop vs baseline %s, %s interval [%s, %s], p=%s that it exceeds max_drop %s (%s)", title, advSigned(iv.Estimate), levelText(iv.Level), advSigned(iv.Lo), advSigned(iv.Hi), advPValue(g.p), advPoints(g.threshold), g.state)
	}
	shown := "no difference shown"
	switch g.state {
	case gateBeyond:
		shown = "the candidate is shown less robust"
	case gateWithin:
		shown = "the candidate is shown more robust"
	}
	return fmt.Sprintf("%s drop vs baseline %s, %s interval [%s, %s], p=%s (report only: %s)", title, advSigned(iv.Estimate), levelText(iv.Level), advSigned(iv.Lo), advSigned(iv.Hi), advPValue(g.p), shown)
}

func advPValue(p float64) string {
	if math.IsNaN(p) {
		return "n/a"
	}
	return strconv.FormatFloat(p, 'g', 2, 64)
}

func (s gateState) String() string {
	switch s {
	case gateWithin:
		return "settled, within"
	case gateBeyond:
		return "settled, beyond"
	}
	return "not settled"
}

// advSigned formats a difference of shares in percentage points with its sign.
func advSigned(d float64) string {
	if math.IsNaN(d) {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f pp", 100*d)
}

// advSequence runs the looks: it fits the query budget, plans the looks and decides after each
// whether to go on.
type advSequence struct {
	cfg        config.RobustAdversarial // as run: MaxQueries fitted to the budget
	configured int                      // max_queries as configured
	perQuery   time.Duration            // the clean pass's rate the fit used (0: none measured)
	budget     time.Duration
	looks      []int // planned sample sizes
	done       int   // images attacked so far
	spent      time.Duration
	history    []advLook
	stopped    string // why sampling stopped, for the report
	budgetStop bool   // the budget stopped it before the sample did
	sampleCap  int    // thresholds.robust.adversarial.sample
	available  int    // images in the sample (eligible, up to the cap)
}

func newAdvSequence(env *Env, cfg config.RobustAdversarial, attacks, n int) *advSequence {
	q := &advSequence{cfg: cfg, configured: cfg.MaxQueries, sampleCap: cfg.Sample, available: n,
		budget: time.Duration(cfg.BudgetSeconds * float64(time.Second))}
	// A shard warms the cache for its images: it attacks its whole part of the sample with the
	// configured queries, whatever the merge's looks then need.
	if q.budget <= 0 || env.Exhaustive() {
		q.looks = []int{n}
		return q
	}
	q.looks = advLooks(n)
	// The clean pass's wall time per image through every model prices a query; attacks query
	// views already at the model's input size, so this errs on the dear side. A clean pass that
	// was not timed (0) leaves max_queries as configured; the looks still watch the budget.
	q.perQuery = env.CleanPerImage()
	q.cfg.MaxQueries = advFitQueries(cfg.MaxQueries, attacks, q.perQuery, q.budget)
	return q
}

// next is the sample size of the next look.
func (q *advSequence) next() int { return q.looks[len(q.history)] }

// record analyses the look that attacked the first n images (took: its wall time) and says
// whether to attack more.
func (q *advSequence) record(runs [][]*advAttack, n int, took time.Duration) bool {
	q.done = n
	q.spent += took
	lk := advLook{n: n, level: 1 - advAlpha/float64(len(q.looks))}
	for _, per := range runs {
		lk.gates = append(lk.gates, advJudge(advCountsOf(per), q.cfg, lk.level))
	}
	lk.settled = advSettled(lk.gates)
	q.history = append(q.history, lk)
	switch {
	case q.budget <= 0:
		q.stopped = fmt.Sprintf("budget_seconds is 0, so all %d sampled images were attacked in one look", n)
		return false
	case lk.settled:
		q.stopped = fmt.Sprintf("the verdict was settled at look %d of at most %d (%d images): every gate's interval lies on one side of its threshold, or one lies beyond it", len(q.history), len(q.looks), n)
		return false
	case len(q.history) == len(q.looks):
		if q.available < q.sampleCap {
			q.stopped = fmt.Sprintf("all %d eligible images were attacked", n)
		} else {
			q.stopped = fmt.Sprintf("the sample cap of %d images (thresholds.robust.adversarial.sample) was reached", q.sampleCap)
		}
		return false
	}
	next := q.next()
	cost := q.spent.Seconds() / float64(n) * float64(next-n)
	left := q.budget.Seconds() - q.spent.Seconds()
	if cost > left {
		q.stopped = fmt.Sprintf("the next look (%d images, about %.0f s at this run's rate) would not fit in the %.0f s left of budget_seconds %g", next, cost, max(left, 0), q.cfg.BudgetSeconds)
		q.budgetStop = true
		return false
	}
	return true
}

// last is the final look.
func (q *advSequence) last() advLook { return q.history[len(q.history)-1] }

// report adds the sequential design to the result: metrics, a summary note when the verdict is
// not settled, and a section saying what was attacked, why it stopped and what the budget left
// out.
func (q *advSequence) report(res *report.Result, titles []string) {
	lk := q.last()
	m := res.Metrics
	m["looks"] = float64(len(q.history))
	m["interval_level"] = round(lk.level)
	m["settled"] = 0
	if lk.settled {
		m["settled"] = 1
	}
	m["max_queries"] = float64(q.cfg.MaxQueries)
	m["budget_seconds"] = q.cfg.BudgetSeconds
	var open, states []string
	gated := false
	for k, gs := range lk.gates {
		for _, g := range gs {
			p := q.attackName(res, k) + "_"
			switch g.name {
			case "min_robust_accuracy":
				m[p+"robust_accuracy_lo"], m[p+"robust_accuracy_hi"] = round(g.interval.Lo), round(g.interval.Hi)
			default:
				m[p+"drop_lo"], m[p+"drop_hi"] = round(g.interval.Lo), round(g.interval.Hi)
			}
			states = append(states, g.describe(titles[k]))
			if g.name != "difference" {
				gated = true
				if g.state == gateOpen {
					open = append(open, g.describe(titles[k]))
				}
			}
		}
	}
	if gated && !lk.settled {
		why := "not settled at the sample cap"
		if q.budgetStop {
			why = "not settled within budget_seconds"
		}
		res.Summary += fmt.Sprintf(" · %s (%d images): %s", why, q.done, joinSemi(open))
	}

	text := fmt.Sprintf("Attacked %d of the %d images sampled (looks of %s images planned).", q.done, q.available, intList(q.looks))
	text += fmt.Sprintf(" Sampling stopped because %s.", q.stopped)
	if len(states) > 0 {
		text += fmt.Sprintf(" At the last look: %s.", joinSemi(states))
	}
	text += fmt.Sprintf(" Intervals are exact (Clopper-Pearson; the drop's from its two discordant shares) at %s per look, and a drop beyond max_drop needs the paired score test's p below %s: Bonferroni over the %d planned looks, so a settled verdict is wrong with probability at most %s whenever sampling stops.",
		levelText(lk.level), advPValue(1-lk.level), len(q.looks), pct(advAlpha))
	if q.budget > 0 {
		text += fmt.Sprintf(" Time: %.1f s of the %g s budget.", q.spent.Seconds(), q.cfg.BudgetSeconds)
	} else {
		text += fmt.Sprintf(" Time: %.1f s.", q.spent.Seconds())
	}
	var left []string
	if q.cfg.MaxQueries < q.configured {
		left = append(left, fmt.Sprintf("queries per image cut from max_queries %d to %d, so that %d images fit in budget_seconds at the clean pass's %s per image through every model (a weaker attack: robust accuracy is a looser upper bound)",
			q.configured, q.cfg.MaxQueries, advFitImages, q.perQuery.Round(time.Microsecond)))
	}
	if q.done < q.available {
		left = append(left, fmt.Sprintf("%d of the %d sampled images not attacked", q.available-q.done, q.available))
	}
	if len(left) > 0 {
		text += " Left out: " + joinSemi(left) + "; `--profile full` attacks every sampled image with the whole budget."
	}
	res.Details = append(res.Details, report.Section{Title: "Sample and budget", Text: text})
}

// attackName is the k-th attack's metric prefix, read back from the result's records.
func (q *advSequence) attackName(res *report.Result, k int) string {
	seen := 0
	for i, a := range res.Attacks {
		if i > 0 && a.Attack == res.Attacks[i-1].Attack {
			continue
		}
		if seen == k {
			return a.Attack
		}
		seen++
	}
	return fmt.Sprintf("attack%d", k)
}

func joinSemi(xs []string) string { return strings.Join(xs, "; ") }

func intList(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return englishList(parts)
}
