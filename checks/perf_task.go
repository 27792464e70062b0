package checks

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/internal/task"
	"github.com/cvgate/cvgate/report"
)

// taskPerfMetrics is perf.metrics for decoded tasks: the task's metrics on the clean images
// (COCO's twelve numbers, mIoU and friends), the headline with an image-level bootstrap interval,
// the task's tables and charts, and the worst images exported.
func taskPerfMetrics(ctx context.Context, env *Env) (*report.Result, error) {
	cfg := env.Config.Thresholds.PerfMetrics
	cand, base, err := env.Clean(ctx)
	if err != nil {
		return nil, err
	}
	ev := env.evaluate(cand)
	h := ev.Headline()
	iv, err := scoreInterval(ev, bootstrapOpts(cfg.Bootstrap, env.Config.Seed, 0))
	if err != nil {
		return nil, err
	}
	res := &report.Result{Status: report.StatusPass, Metrics: headlineMetrics(ev, iv)}
	res.Summary = fmt.Sprintf("%s %s on %d images", h.Name, ciText(h, iv), ev.Len())
	if extra := highlights(ev); extra != "" {
		res.Summary += " · " + extra
	}
	res.Threshold = "none set (report only)"
	if v := cfg.MinScore; v != nil {
		res.Threshold = fmt.Sprintf("%s >= %s", h.Name, h.Format(*v))
		if iv.Estimate < *v {
			res.Status = report.StatusFail
			res.Summary = fmt.Sprintf("%s %s is below min_score %s (95%% interval %s to %s)", h.Name, h.Format(iv.Estimate), h.Format(*v), h.Format(iv.Lo), h.Format(iv.Hi))
		}
	}
	if base != nil {
		bev := env.evaluate(base)
		res.BaselineMetrics = bev.Metrics(nil)
		res.BaselineMetrics[h.Key] = bev.Score(nil)
		d := iv.Estimate - bev.Score(nil)
		res.VsBaseline = fmt.Sprintf("%s %s %s (baseline %s)", h.Name, h.FormatDelta(d), arrow(d, true), h.Format(bev.Score(nil)))
	}
	res.Details = append(res.Details, ev.Details()...)
	if sec, n := suspectsSection(env, ev, cand.Indices); n > 0 {
		res.Details = append(res.Details, sec)
		res.Metrics["likely_label_errors"] = float64(n)
	}
	if w, ok := env.Task.(interface {
		Warnings([]task.Prediction) []string
	}); ok {
		if ws := w.Warnings(cand.Task); len(ws) > 0 {
			if res.Status == report.StatusPass {
				res.Status = report.StatusWarn
			}
			res.Summary = strings.Join(ws, "; ") + " · " + res.Summary
		}
	}

	// Failure cases: the images the model does worst on.
	rows := env.worstRows(ev, cand.Indices, max(env.exportLimit(), 0), 1)
	var cases []failures.Case
	for _, r := range rows {
		cases = append(cases, env.taskCase(cand.Indices[r], cand.Task[r], ev, r, "clean", nil))
	}
	total := 0
	for r := 0; r < ev.Len(); r++ {
		if ev.ImageScore(r) < 1 {
			total++
		}
	}
	env.export(res, IDPerfMetrics, cases, total)
	return res, nil
}

// highlighter is implemented by evaluations that name the few metrics worth a summary line.
type highlighter interface{ Highlights() []task.Metric }

func highlights(ev task.Evaluation) string {
	hl, ok := ev.(highlighter)
	if !ok {
		return ""
	}
	m := ev.Metrics(nil)
	var parts []string
	for _, k := range hl.Highlights() {
		if v, ok := m[k.Key]; ok && !math.IsNaN(v) {
			parts = append(parts, k.Name+" "+k.Format(v))
		}
	}
	return strings.Join(parts, " · ")
}

// taskPerfBaseline is perf.baseline for decoded tasks. The candidate and the baseline are scored
// on the same images and compared by a paired image-level bootstrap of the headline metric (the
// images are resampled once per draw for both models). It fails only when the drop is
// significant and its whole interval lies beyond max_drop, the rule the classification gate uses;
// it warns when the drop exceeds max_drop but the data cannot tell it from max_drop, saying about
// how many images would. Per-class drops are tested against the same tolerance, one-sided, with
// Holm's correction across classes.
func taskPerfBaseline(ctx context.Context, env *Env) (*report.Result, error) {
	if env.Baseline == nil {
		reason := env.BaselineNote
		if reason == "" {
			reason = "no baseline"
		}
		return nil, Skip("%s", reason)
	}
	cfg := env.Config.Thresholds.PerfBaseline
	cand, base, err := env.Clean(ctx)
	if err != nil {
		return nil, err
	}
	ca, ba := env.evaluate(cand), env.evaluate(base)
	h := ca.Headline()
	o := bootstrapOpts(cfg.Bootstrap, env.Config.Seed, cfg.Alpha)
	classTol := cfg.MaxDrop
	if cfg.ClassMaxDrop != nil {
		classTol = *cfg.ClassMaxDrop
	}
	pr := pairedDeltas(ca, ba, o, cfg.MaxDrop, classTol)
	holm(pr.perClass, cfg.Alpha)
	diff := pr.diff
	drop := -diff.Estimate
	level := ciLevel(cfg.Alpha)

	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{
		h.Key: ca.Score(nil), "baseline_" + h.Key: ba.Score(nil), "delta": diff.Estimate, "delta_ci_low": diff.Lo, "delta_ci_high": diff.Hi,
		"images": float64(ca.Len()), "bootstrap_draws": float64(pr.draws), "probability_beyond_max_drop": pr.probBeyond,
	}}
	res.Threshold = fmt.Sprintf("fail if the drop is significant (%s CI) and beyond max_drop %s", level, h.FormatDelta(-cfg.MaxDrop))
	res.VsBaseline = fmt.Sprintf("%s %s %s", h.Name, h.FormatDelta(diff.Estimate), arrow(diff.Estimate, true))
	res.Summary = fmt.Sprintf("%s %s → %s, Δ %s (%s CI)", h.Name, h.Format(ba.Score(nil)), h.Format(ca.Score(nil)), deltaCI(h, diff), level)
	var problems, warnings []string
	if drop > cfg.MaxDrop {
		if -diff.Hi > cfg.MaxDrop {
			problems = append(problems, fmt.Sprintf("%s dropped %s (%s → %s), %s CI %s: significant and beyond max_drop %s",
				h.Name, h.FormatDelta(-drop), h.Format(ba.Score(nil)), h.Format(ca.Score(nil)), level, deltaCI(h, diff), h.FormatDelta(-cfg.MaxDrop)))
		} else if pr.probBeyond >= 0.8 {
			// Warn only when the drop is probably (bootstrap p < 0.2) beyond max_drop, the rule of
			// the classification gate: seed-only retrains otherwise warn on sampling noise.
			need := imagesNeeded(ca.Len(), diff, drop-cfg.MaxDrop, cfg.Alpha)
			msg := fmt.Sprintf("%s dropped %s (%s → %s), %s CI %s: beyond max_drop %s, but these %d images cannot tell it from %s",
				h.Name, h.FormatDelta(-drop), h.Format(ba.Score(nil)), h.Format(ca.Score(nil)), level, deltaCI(h, diff), h.FormatDelta(-cfg.MaxDrop), ca.Len(), h.FormatDelta(-cfg.MaxDrop))
			if need > 0 {
				msg += fmt.Sprintf("; about %s would, with 80%% power", thousands(need))
				res.Metrics["images_needed"] = float64(need)
			}
			warnings = append(warnings, msg)
		} else {
			res.Summary += fmt.Sprintf("; the drop is beyond max_drop %s in only %.0f%% of the bootstrap draws: within sampling noise",
				h.FormatDelta(-cfg.MaxDrop), 100*pr.probBeyond)
		}
	}
	var regressed, changed []string
	table := tableOf("class", "baseline", "candidate", "Δ", level+" CI", "tolerance", "p (drop > tolerance), Holm")
	for _, d := range pr.perClass {
		name := env.classLabel(d.class)
		addRow(table, name, h.Format(d.b), h.Format(d.a), h.FormatDelta(d.delta),
			fmt.Sprintf("[%s, %s]", h.FormatDelta(d.lo), h.FormatDelta(d.hi)), h.FormatDelta(-d.tolerance), fmt.Sprintf("%.3g", d.pAdjusted))
		switch {
		case d.regression:
			regressed = append(regressed, fmt.Sprintf("%s %s", name, h.FormatDelta(d.delta)))
		case d.changed:
			changed = append(changed, fmt.Sprintf("%s %s", name, h.FormatDelta(d.delta)))
		}
	}
	if len(regressed) > 0 {
		warnings = append(warnings, fmt.Sprintf("%s dropped beyond max_drop for %d %s (Holm-adjusted bootstrap p < %g): %s",
			h.Name, len(regressed), plural(len(regressed), "class", "classes"), cfg.Alpha, strings.Join(regressed, ", ")))
	}
	res.Details = append(res.Details, report.Section{Title: "Per class (" + h.Name + ")", Table: table})
	if len(changed) > 0 {
		res.Details = append(res.Details, report.Section{Title: "Changed, within tolerance",
			Text: "These classes changed significantly but by less than max_drop (information only): " + strings.Join(changed, ", ")})
	}

	// Images that got worse: the detection analogue of negative flips (objects the baseline found
	// and the candidate misses, new false positives), exported worst first.
	worse := tableOf("image", "baseline", "candidate", "what changed")
	var cases []failures.Case
	nWorse, nBetter := 0, 0
	type change struct {
		row  int
		loss float64
	}
	var losses []change
	for r := 0; r < ca.Len(); r++ {
		d := ca.ImageScore(r) - ba.ImageScore(r)
		switch {
		case d < -1e-9:
			nWorse++
			losses = append(losses, change{r, -d})
		case d > 1e-9:
			nBetter++
		}
	}
	sort.SliceStable(losses, func(i, j int) bool {
		a, b := losses[i], losses[j]
		if a.loss != b.loss {
			return a.loss > b.loss
		}
		return env.Data.Items[cand.Indices[a.row]].Path < env.Data.Items[cand.Indices[b.row]].Path
	})
	for k, l := range losses {
		if k >= 20 {
			break
		}
		it := env.Data.Items[cand.Indices[l.row]]
		addRow(worse, it.Path, fmt.Sprintf("%.2f", ba.ImageScore(l.row)), fmt.Sprintf("%.2f", ca.ImageScore(l.row)), ca.Describe(l.row))
		if k < env.exportLimit() {
			c := env.taskCase(cand.Indices[l.row], cand.Task[l.row], ca, l.row, "vs baseline", nil)
			c.Note = "baseline: " + ba.Describe(l.row)
			c.Severity = l.loss
			cases = append(cases, c)
		}
	}
	res.Metrics["images_worse"] = float64(nWorse)
	res.Metrics["images_better"] = float64(nBetter)
	res.Details = append(res.Details, report.Section{Title: fmt.Sprintf("Images that got worse (%d; %d got better)", nWorse, nBetter), Table: worse})
	if lim := cfg.MaxNegativeFlipRate; lim != nil && ca.Len() > 0 {
		if rate := float64(nWorse) / float64(ca.Len()); rate > *lim {
			problems = append(problems, fmt.Sprintf("%d images (%s) got worse, over max_negative_flip_rate %s", nWorse, pct(rate), pct(*lim)))
		}
	}
	switch {
	case len(problems) > 0:
		res.Status = report.StatusFail
		res.Summary = strings.Join(problems, "; ")
	case len(warnings) > 0:
		res.Status = report.StatusWarn
		res.Summary = strings.Join(warnings, "; ")
	}
	env.export(res, IDPerfBaseline, cases, nWorse)
	return res, nil
}

// imagesNeeded estimates how many images would show, with 80% power, that a drop exceeds
// max_drop by gap, from the bootstrap standard error at n images (it shrinks as 1/sqrt(n)).
func imagesNeeded(n int, diff stats.Interval, gap, alpha float64) int {
	za := stats.NormalQuantile(1 - alpha/2)
	se := (diff.Hi - diff.Lo) / (2 * za)
	if gap <= 0 || se <= 0 || math.IsNaN(se) {
		return 0
	}
	k := (za + stats.NormalQuantile(0.8)) * se / gap
	return int(math.Ceil(float64(n) * k * k))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// taskSegments is perf.segments for decoded tasks: the headline metric on every slice of one
// feature value (manifest attributes, image-property bins), with an image-level bootstrap
// interval; a slice is flagged when its score is below min_ratio x overall and its whole interval
// lies below the overall score.
func taskSegments(ctx context.Context, env *Env) (*report.Result, error) {
	if err := env.annotated(); err != nil {
		return nil, err
	}
	cfg := env.Config.Thresholds.PerfSegments
	cand, base, err := env.Clean(ctx)
	if err != nil {
		return nil, err
	}
	feats, notes, err := segmentFeatures(env, cand.Indices, cfg)
	if err != nil {
		return nil, err
	}
	if len(feats) == 0 {
		return nil, Skip("nothing to slice on: the data has no attributes and no image property varies")
	}
	ev := env.evaluate(cand)
	var bev task.Evaluation
	if base != nil {
		bev = env.evaluate(base)
	}
	h := ev.Headline()
	overall := ev.Score(nil)
	limit := cfg.MinRatio * overall
	type slice struct {
		name     string
		rows     []int
		iv       stats.Interval
		base     float64
		flagged  bool
		position int
	}
	var slices []*slice
	o := bootstrapOpts(200, env.Config.Seed, 0)
	for _, f := range feats {
		byGroup := make([][]int, len(f.groups))
		for r, g := range f.values {
			if g >= 0 {
				byGroup[g] = append(byGroup[g], r)
			}
		}
		for g, rows := range byGroup {
			if len(rows) < cfg.MinSize || len(rows) == len(f.values) {
				continue
			}
			s := &slice{name: f.groups[g], rows: rows, base: math.NaN(), position: len(slices)}
			sub := func(idx []int) float64 {
				pick := make([]int, len(idx))
				for k, i := range idx {
					pick[k] = rows[i]
				}
				return ev.Score(pick)
			}
			if s.iv, err = stats.BootstrapIndices(len(rows), sub, o); err != nil {
				return nil, err
			}
			if bev != nil {
				s.base = bev.Score(rows)
			}
			s.flagged = s.iv.Estimate < limit && s.iv.Hi < overall
			slices = append(slices, s)
		}
	}
	if len(slices) == 0 {
		return nil, Skip("no slice has min_size %d images", cfg.MinSize)
	}
	sort.SliceStable(slices, func(i, j int) bool {
		if slices[i].iv.Estimate != slices[j].iv.Estimate {
			return slices[i].iv.Estimate < slices[j].iv.Estimate
		}
		return slices[i].position < slices[j].position
	})
	weakest := slices[0]
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{
		h.Key: overall, "slices": float64(len(slices)), "features": float64(len(feats)), "min_size": float64(cfg.MinSize),
		"weakest_score": weakest.iv.Estimate, "weakest_size": float64(len(weakest.rows)),
	}}
	if overall > 0 {
		res.Metrics["weakest_ratio"] = weakest.iv.Estimate / overall
	}
	res.Threshold = fmt.Sprintf("slice %s >= %.2g x overall (%s), slices of %d+ images", h.Name, cfg.MinRatio, h.Format(limit), cfg.MinSize)
	res.Summary = fmt.Sprintf("weakest slice %s: %s %s on %d images vs %s overall", weakest.name, h.Name, ciText(h, weakest.iv), len(weakest.rows), h.Format(overall))
	var flagged []string
	for _, s := range slices {
		if s.flagged {
			flagged = append(flagged, fmt.Sprintf("%s %s (n=%d)", s.name, h.Format(s.iv.Estimate), len(s.rows)))
		}
	}
	res.Metrics["flagged"] = float64(len(flagged))
	if len(flagged) > 0 {
		res.Status = report.StatusWarn
		if cfg.Fail {
			res.Status = report.StatusFail
		}
		res.Summary = fmt.Sprintf("%d %s below %.2g x overall %s %s: %s", len(flagged), plural(len(flagged), "slice", "slices"), cfg.MinRatio, h.Name,
			h.Format(overall), strings.Join(flagged[:min(3, len(flagged))], "; "))
	}
	cols := []string{"slice", "images", h.Name, "95% CI"}
	if bev != nil {
		cols = append(cols, "baseline")
		res.BaselineMetrics = map[string]float64{"weakest_score": weakest.base}
		d := weakest.iv.Estimate - weakest.base
		res.VsBaseline = fmt.Sprintf("%s: %s %s (baseline %s)", weakest.name, h.FormatDelta(d), arrow(d, true), h.Format(weakest.base))
	}
	tb := tableOf(cols...)
	for k, s := range slices {
		if k >= max(cfg.MaxReport, 1) {
			break
		}
		row := []string{s.name, fmt.Sprint(len(s.rows)), h.Format(s.iv.Estimate), fmt.Sprintf("[%s, %s]", h.Format(s.iv.Lo), h.Format(s.iv.Hi))}
		if bev != nil {
			row = append(row, h.Format(s.base))
		}
		addRow(tb, row...)
	}
	res.Details = append(res.Details, report.Section{Title: "Weakest slices", Table: tb})
	if len(notes) > 0 {
		res.Details = append(res.Details, report.Section{Text: strings.Join(notes, " ")})
	}
	var cases []failures.Case
	total := 0
	for _, r := range weakest.rows {
		if ev.ImageScore(r) < 1 {
			total++
			cases = append(cases, env.taskCase(cand.Indices[r], cand.Task[r], ev, r, weakest.name, nil))
		}
	}
	env.export(res, IDPerfSegments, topCases(cases, max(env.exportLimit(), 1)), total)
	return res, nil
}

// suspectsSection lists the likely label errors an evaluation finds (detection: confident
// detections of another class on a box, or on no box), with the images' paths.
func suspectsSection(env *Env, ev task.Evaluation, items []int) (report.Section, int) {
	ls, ok := ev.(task.LabelSuspecter)
	if !ok {
		return report.Section{}, 0
	}
	var rows [][2]string
	for _, x := range ls.LabelSuspects() {
		rows = append(rows, [2]string{env.Data.Items[items[x.Row]].Path, x.Text})
	}
	if len(rows) == 0 {
		return report.Section{}, 0
	}
	tb := tableOf("image", "likely label error")
	for i, r := range rows {
		if i == 30 {
			addRow(tb, fmt.Sprintf("... and %d more", len(rows)-30), "")
			break
		}
		addRow(tb, r[0], r[1])
	}
	return report.Section{Title: fmt.Sprintf("Likely label errors (%d): confident detections that disagree with the annotations", len(rows)), Table: tb}, len(rows)
}
