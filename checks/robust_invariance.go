package checks

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/perturb"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/report"
)

// RobustInvariance measures prediction consistency under the transforms a team declares should
// not matter (small shifts and rotations, lighting): the share of images whose top-1 class stays
// the clean one, per transform, and the share of images that flip under at least one. It needs
// no labels. It warns when a transform's consistency is below min_consistency.
type RobustInvariance struct{}

// ID implements Check.
func (RobustInvariance) ID() string { return IDRobustInvariance }

// Title implements Check.
func (RobustInvariance) Title() string { return "Invariance to declared transforms" }

// Common implements Toggled.
func (RobustInvariance) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.RobustInvariance.Common, true
}

// invarianceOutcome is one transform's result for one model.
type invarianceOutcome struct {
	same     int // images whose top-1 stayed the clean one
	right    int // images predicted correctly after the transform (labelled data)
	interval stats.Interval
	flipped  []bool
	top      []int32
	conf     []float32
}

// Run implements Check.
func (RobustInvariance) Run(ctx context.Context, env *Env) (*report.Result, error) {
	if env.decoded() {
		return taskInvariance(ctx, env)
	}
	cfg := env.Config.Thresholds.RobustInvariance
	if len(cfg.Transforms) == 0 {
		return nil, Skip("no transform configured (thresholds.robust.invariance.transforms)")
	}
	transforms := make([]perturb.Transform, len(cfg.Transforms))
	for i, spec := range cfg.Transforms {
		t, err := perturb.ParseTransform(spec)
		if err != nil {
			return nil, fmt.Errorf("thresholds.robust.invariance.transforms: %w", err)
		}
		transforms[i] = t
	}
	cleanCand, cleanBase, err := env.Clean(ctx)
	if err != nil {
		return nil, err
	}
	// Every image counts (consistency needs no label); the sample is stratified by class where
	// there are labels, and accuracy is reported over the labelled images of the sample.
	itemLabels := env.itemLabels()
	order := sampleOrder(itemLabels, false, env.Config.Seed)
	if len(order) == 0 {
		return nil, Skip("no image to transform")
	}
	n := len(order)
	if cfg.Sample > 0 {
		n = min(cfg.Sample, n)
	}
	budgetNote := ""
	if fit, cut := env.budgetSample(n, len(transforms), time.Duration(cfg.BudgetSeconds*float64(time.Second)), 20); cut {
		budgetNote = fmt.Sprintf("The time budget (budget_seconds %g) kept %d of %d images per transform.", cfg.BudgetSeconds, fit, n)
		n = fit
	}
	sample := order[:n]
	nLabelled := 0
	for _, i := range sample {
		if itemLabels[i] >= 0 {
			nLabelled++
		}
	}
	labelled := nLabelled > 0
	cleanPreds := []*Predictions{cleanCand, cleanBase}[:len(env.Subjects())]
	cleanTop := make([][]int32, len(cleanPreds))
	for si, p := range cleanPreds {
		rowOf := make(map[int]int, p.Rows())
		for r, i := range p.Indices {
			rowOf[i] = r
		}
		cleanTop[si] = make([]int32, n)
		for r, i := range sample {
			cleanTop[si][r] = p.Top1[rowOf[i]]
		}
	}

	// The sample grows in looks (50, 100, 200, ... images) until every transform's consistency
	// is settled against min_consistency, or one is settled below it (invSettled); with
	// budget_seconds 0 it runs whole in one look.
	looks := []int{n}
	if cfg.BudgetSeconds > 0 && !env.Exhaustive() {
		looks = invLooks(n)
	}
	level := 1 - invAlpha/float64(len(looks))
	tops := make([][][]int32, len(transforms)) // [transform][model][sample position]
	confs := make([][][]float32, len(transforms))
	done, settled := 0, false
	for _, to := range looks {
		for ti, tr := range transforms {
			v := Variant{
				Key:     fmt.Sprintf("%s|%s|seed%d|%d-%d", IDRobustInvariance, tr, env.Config.Seed, done, to),
				Record:  transformRecord(IDRobustInvariance, tr.String()),
				Indices: sample[done:to],
				Transform: func(_ int, img *imaging.Image) *imaging.Image {
					dst := &imaging.Image{}
					if err := tr.Apply(dst, img); err != nil {
						return nil
					}
					return dst
				},
			}
			cand, base, err := env.Predict(ctx, v)
			if err != nil {
				return nil, fmt.Errorf("predict under %s: %w", tr, err)
			}
			if tops[ti] == nil {
				tops[ti], confs[ti] = make([][]int32, len(cleanPreds)), make([][]float32, len(cleanPreds))
			}
			for si, p := range []*Predictions{cand, base}[:len(cleanPreds)] {
				tops[ti][si] = append(tops[ti][si], p.Top1...)
				confs[ti][si] = append(confs[ti][si], p.Conf...)
			}
		}
		done = to
		same := make([]int, len(transforms))
		for ti := range transforms {
			for r, top := range tops[ti][0] {
				if top == cleanTop[0][r] && top >= 0 {
					same[ti]++
				}
			}
		}
		if settled = invSettled(same, done, cfg.MinConsistency, level); settled {
			break
		}
	}
	lookNote := ""
	if len(looks) > 1 {
		lookNote = fmt.Sprintf("Images were added in looks of %s until every transform's consistency was settled against min_consistency (an exact %s interval per look, Bonferroni over the looks), or one was settled below it: ", intList(looks), levelText(level))
		if settled {
			lookNote += fmt.Sprintf("settled at %d images.", done)
		} else {
			lookNote += fmt.Sprintf("not settled at %d images, the sample's size.", done)
		}
	}
	if done < n {
		budgetNote = strings.TrimSpace(budgetNote + fmt.Sprintf(" %d of the %d images the sample allowed were not needed.", n-done, n))
	}
	budgetNote = strings.TrimSpace(lookNote + " " + budgetNote)
	n, sample = done, sample[:done]
	for si := range cleanTop {
		cleanTop[si] = cleanTop[si][:n]
	}

	outcomes := make([][]*invarianceOutcome, len(transforms)) // [transform][model]
	anyFlip := make([][]bool, len(cleanPreds))
	for si := range anyFlip {
		anyFlip[si] = make([]bool, n)
	}
	for ti := range transforms {
		for si := range cleanPreds {
			o := &invarianceOutcome{flipped: make([]bool, n), top: tops[ti][si], conf: confs[ti][si]}
			for r, i := range sample {
				if o.top[r] == cleanTop[si][r] && o.top[r] >= 0 {
					o.same++
				} else {
					o.flipped[r] = true
					anyFlip[si][r] = true
				}
				if itemLabels[i] >= 0 && int(o.top[r]) == itemLabels[i] {
					o.right++
				}
			}
			var err error
			if o.interval, err = stats.WilsonInterval(o.same, n, 0.95); err != nil {
				return nil, err
			}
			outcomes[ti] = append(outcomes[ti], o)
		}
	}

	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{}}
	res.Threshold = "consistency >= " + pct(cfg.MinConsistency) + " per transform"
	worst, worstT := math.Inf(1), 0
	var below []string
	var cons []float64
	for ti, tr := range transforms {
		c := outcomes[ti][0].interval.Estimate
		cons = append(cons, c)
		if c < worst {
			worst, worstT = c, ti
		}
		if c < cfg.MinConsistency {
			below = append(below, fmt.Sprintf("%s %s", tr, pct(c)))
		}
	}
	anyShare := make([]float64, len(cleanPreds))
	for si := range anyFlip {
		k := 0
		for _, f := range anyFlip[si] {
			if f {
				k++
			}
		}
		anyShare[si] = float64(k) / float64(n)
	}
	summary := fmt.Sprintf("lowest consistency %s (%s) over %d transforms on %d images · %s of images flip under at least one",
		pct(worst), transforms[worstT], len(transforms), n, pct(anyShare[0]))
	res.Summary = summary
	if len(below) > 0 {
		res.Status = report.StatusWarn
		res.Summary = fmt.Sprintf("consistency below %s under %s · %s", pct(cfg.MinConsistency), strings.Join(below, ", "), summary)
	}
	if len(cleanPreds) == 2 {
		var bcons []float64
		for ti := range transforms {
			bcons = append(bcons, outcomes[ti][1].interval.Estimate)
		}
		d := mean(cons) - mean(bcons)
		res.VsBaseline = fmt.Sprintf("mean consistency %s %s (baseline %s)", pp(d), arrow(d, true), pct(mean(bcons)))
	}

	for si := range cleanPreds {
		m := res.Metrics
		if si == 1 {
			res.BaselineMetrics = map[string]float64{}
			m = res.BaselineMetrics
		}
		var cs []float64
		for ti, tr := range transforms {
			o := outcomes[ti][si]
			key := tr.String()
			m[key+".consistency"] = round(o.interval.Estimate)
			m[key+".flip_share"] = round(1 - o.interval.Estimate)
			if labelled {
				m[key+".accuracy"] = round(float64(o.right) / float64(nLabelled))
			}
			cs = append(cs, o.interval.Estimate)
		}
		m["min_consistency"] = round(minOf(cs))
		m["mean_consistency"] = round(mean(cs))
		m["any_flip_share"] = round(anyShare[si])
	}
	res.Metrics["images"] = float64(n)
	res.Metrics["settled"] = 0
	if settled {
		res.Metrics["settled"] = 1
	}

	cols := []string{"Transform", "Consistency (95% CI)", "Flips"}
	if labelled {
		cols = append(cols, "Accuracy")
	}
	if len(cleanPreds) == 2 {
		cols = append(cols, "Baseline consistency")
	}
	tb := tableOf(cols...)
	cleanAcc := math.NaN()
	if labelled {
		ok := 0
		for r, i := range sample {
			if itemLabels[i] >= 0 && int(cleanTop[0][r]) == itemLabels[i] {
				ok++
			}
		}
		cleanAcc = float64(ok) / float64(nLabelled)
		res.Metrics["clean_accuracy"] = round(cleanAcc)
	}
	for ti, tr := range transforms {
		o := outcomes[ti][0]
		row := []string{tr.String(), fmt.Sprintf("%s [%s, %s]", pct(o.interval.Estimate), pct(o.interval.Lo), pct(o.interval.Hi)),
			fmt.Sprintf("%d of %d", n-o.same, n)}
		if labelled {
			acc := float64(o.right) / float64(nLabelled)
			row = append(row, fmt.Sprintf("%s (%s)", pct(acc), pp(acc-cleanAcc)))
		}
		if len(cleanPreds) == 2 {
			row = append(row, pct(outcomes[ti][1].interval.Estimate))
		}
		addRow(tb, row...)
	}
	res.Details = append(res.Details, report.Section{
		Title: "Consistency per transform",
		Text:  strings.TrimSpace(fmt.Sprintf("Consistency is the share of %d images (stratified by class where labelled) whose top-1 class is the clean one after the transform. %s", n, budgetNote)),
		Table: tb,
	})

	// Failure cases: the candidate's flips to a wrong answer (on unlabelled data, every flip),
	// those that broke a right answer first, then the most confident.
	var pending []pendingCase
	flips := 0
	for ti, tr := range transforms {
		o := outcomes[ti][0]
		for r, i := range sample {
			it := env.Data.Items[i]
			if !o.flipped[r] || (itemLabels[i] >= 0 && int(o.top[r]) == itemLabels[i]) {
				continue
			}
			flips++
			conf := conf32(o.conf[r])
			sev := conf
			if itemLabels[i] >= 0 && int(cleanTop[0][r]) == itemLabels[i] {
				sev++
			}
			pending = append(pending, pendingCase{
				c: failures.Case{Path: it.Path, Label: labelText(env, itemLabels[i]), Predicted: env.className(int(o.top[r])),
					Confidence: conf, Perturbation: tr.String(), Severity: sev, Note: "clean prediction " + env.className(int(cleanTop[0][r]))},
				build: func() *imaging.Image {
					dst := &imaging.Image{}
					if tr.Apply(dst, it.Image) != nil {
						return nil
					}
					return dst
				},
			})
			if len(pending) > 4*max(env.exportLimit(), 1) {
				pending = keepWorst(pending, env.exportLimit())
			}
		}
	}
	env.exportPending(res, IDRobustInvariance, pending, flips)
	return res, nil
}

// labelText is the class name of a label, or "(unlabelled)".
func labelText(env *Env, label int) string {
	if label < 0 || env.Data.Classes == nil {
		return "(unlabelled)"
	}
	return env.className(label)
}

func minOf(x []float64) float64 {
	m := math.Inf(1)
	for _, v := range x {
		m = min(m, v)
	}
	return m
}

// invAlpha is the error of a settled invariance verdict over all looks.
const invAlpha = 0.05

// invLooks is the look schedule for n images: 50, 100, 200, ... (doubling), ending at n.
func invLooks(n int) []int {
	var looks []int
	for k := 50; k < n; k *= 2 {
		looks = append(looks, k)
	}
	return append(looks, n)
}

// invSettled says whether the consistencies (same[t] of n images kept the clean class) settle
// the verdict at this look: one transform's exact interval entirely below min_consistency
// decides it (a warning), otherwise every transform's must lie at or above it.
func invSettled(same []int, n int, minConsistency, level float64) bool {
	all := true
	for _, k := range same {
		iv, err := stats.ClopperPearsonInterval(k, n, level)
		if err != nil {
			return false
		}
		if iv.Hi < minConsistency {
			return true
		}
		all = all && iv.Lo >= minConsistency
	}
	return all
}
