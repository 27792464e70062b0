package checks

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"
	"time"

	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/perturb"
	"github.com/cvgate/cvgate/internal/preprocess"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/internal/task"
	"github.com/cvgate/cvgate/report"
)

// The robustness checks for decoded tasks (detection, segmentation). They measure the task's
// headline metric under perturbation on a seeded sample of images, as the object-detection and
// segmentation benchmarks do (Michaelis et al. 2019: mPC, the mean performance under corruption,
// and rPC = mPC / clean performance; Cityscapes-C and ADE20K-C report mIoU the same way).

// ForwardPredictions runs images through a decoded subject, without memoizing, and returns one
// prediction per image. Attacks and abnormal inputs query the model through it.
func (e *Env) ForwardPredictions(ctx context.Context, s *Subject, imgs []*imaging.Image) ([]task.Prediction, error) {
	if len(imgs) == 0 {
		return nil, nil
	}
	geoms := make([]preprocess.Geometry, len(imgs))
	per := s.Spec.SampleSize()
	var sc preprocess.Scratch
	var f32 []float32
	var u8 []uint8
	if s.Spec.DType == onnx.Uint8 {
		u8 = make([]uint8, len(imgs)*per)
	} else {
		f32 = make([]float32, len(imgs)*per)
	}
	for j, img := range imgs {
		geoms[j] = s.Spec.Geometry(img.Width, img.Height)
		if u8 != nil {
			s.Spec.ApplyUint8(img, u8[j*per:(j+1)*per], &sc)
		} else {
			s.Spec.Apply(img, f32[j*per:(j+1)*per], &sc)
		}
	}
	return e.decodeTensor(ctx, s, geoms, f32, u8)
}

// evaluateRows scores predictions of the given dataset items (in the same order), with each
// item's truth passed through move first (nil: as annotated).
func (e *Env) evaluateRows(preds []task.Prediction, items []int, move func(task.Truth, int, int) task.Truth) task.Evaluation {
	truths, sizes := e.truthsOf(items)
	if move != nil {
		for r := range truths {
			truths[r] = move(truths[r], sizes[r][0], sizes[r][1])
		}
	}
	return e.Task.Evaluate(preds, truths, sizes)
}

// rowsOf picks the predictions of items from a pass over all images.
func rowsOf(p *Predictions, items []int) []task.Prediction {
	at := make(map[int]int, len(p.Indices))
	for r, i := range p.Indices {
		at[i] = r
	}
	out := make([]task.Prediction, len(items))
	for k, i := range items {
		out[k] = p.Task[at[i]]
	}
	return out
}

// taskSample is the seeded sample of a robustness check: a prefix of a random order, so that a
// smaller sample is part of a larger one.
func (e *Env) taskSample(n int) []int {
	order := sampleOrder(e.itemLabels(), false, e.Config.Seed)
	if n > 0 && n < len(order) {
		order = order[:n]
	}
	return order
}

// taskCell is one corruption at one severity: each model's predictions on the sample.
type taskCell struct {
	name     string
	severity int
	preds    [][]task.Prediction // [model][sample position]
}

// taskCorruptions is robust.corruptions for decoded tasks.
func taskCorruptions(ctx context.Context, env *Env) (*report.Result, error) {
	if err := env.annotated(); err != nil {
		return nil, err
	}
	cfg := env.Config.Thresholds.RobustCorruptions
	names, sevs, err := corruptionGrid(cfg)
	if err != nil {
		return nil, err
	}
	cand, base, err := env.Clean(ctx)
	if err != nil {
		return nil, err
	}
	subjects := env.Subjects()
	cleanPasses := []*Predictions{cand, base}[:len(subjects)]
	nMax := len(env.Data.Items)
	if cfg.Sample > 0 {
		nMax = min(cfg.Sample, nMax)
	}
	sample := env.taskSample(nMax)
	corr := newCorruptor(env)
	budget := time.Duration(cfg.BudgetSeconds * float64(time.Second))
	start := time.Now()

	// A first look on a few images measures the cost of one image through one cell, so that the
	// sample (and, if even that is too slow, the severities) can be cut to fit the budget.
	var cells []*taskCell
	for _, nm := range names {
		for _, s := range sevs {
			cells = append(cells, &taskCell{name: nm, severity: s, preds: make([][]task.Prediction, len(subjects))})
		}
	}
	run := func(cells []*taskCell, from, to int) error {
		jobs := make([]*streamJob, len(cells))
		for k, c := range cells {
			jobs[k] = &streamJob{indices: sample[from:to], transform: corr.transform(c.name, c.severity, env.Config.Seed),
				record: corruptionRecord(c.name, c.severity, env.Config.Seed)}
		}
		if err := env.stream(ctx, jobs, runtime.NumCPU()); err != nil {
			if corr.err != nil {
				return fmt.Errorf("corrupt images: %w", corr.err)
			}
			return fmt.Errorf("predict corrupted images: %w", err)
		}
		for k, c := range cells {
			for si := range subjects {
				c.preds[si] = append(c.preds[si][:from], jobs[k].preds[si]...)
			}
		}
		return nil
	}
	n := len(sample)
	var left []string
	if budget > 0 && !env.Exhaustive() {
		first := min(n, 8)
		if err := run(cells, 0, first); err != nil {
			return nil, err
		}
		perImageCell := time.Since(start).Seconds() / float64(first*len(cells))
		remaining := budget.Seconds() - time.Since(start).Seconds()
		fit := first + int(remaining/(perImageCell*float64(len(cells))))
		if fit < n {
			minImages := min(n, 30)
			if fit < minImages && len(sevs) > 1 {
				// Too slow even for a small sample at every severity: keep the middle severity.
				mid := sevs[len(sevs)/2]
				var kept []*taskCell
				for _, c := range cells {
					if c.severity == mid {
						kept = append(kept, c)
					}
				}
				left = append(left, fmt.Sprintf("severities other than %d", mid))
				cells = kept
				fit = first + int(remaining/(perImageCell*float64(len(cells))))
			}
			if fit < n {
				left = append(left, fmt.Sprintf("%d of %d images per cell (budget_seconds %g; about %s per image and cell)",
					n-max(fit, first), n, cfg.BudgetSeconds, roughDuration(perImageCell)))
				n = max(fit, first)
			}
		}
		if n > first {
			if err := run(cells, first, n); err != nil {
				return nil, err
			}
		}
	} else if err := run(cells, 0, n); err != nil {
		return nil, err
	}
	sample = sample[:n]
	for _, c := range cells {
		for si := range subjects {
			c.preds[si] = c.preds[si][:n]
		}
	}

	// Scores: clean on the sample, and per cell.
	type modelScores struct {
		clean     task.Evaluation
		cells     []task.Evaluation
		agreement []float64
	}
	ms := make([]modelScores, len(subjects))
	for si := range subjects {
		clean := rowsOf(cleanPasses[si], sample)
		ms[si].clean = env.evaluateRows(clean, sample, nil)
		for _, c := range cells {
			ms[si].cells = append(ms[si].cells, env.evaluateRows(c.preds[si], sample, nil))
			agree := 0.0
			for r := range sample {
				agree += env.Task.Agreement(clean[r], c.preds[si][r])
			}
			ms[si].agreement = append(ms[si].agreement, agree/float64(len(sample)))
		}
	}
	h := ms[0].clean.Headline()
	mpc := func(si int, rows []int) (mPC, clean float64) {
		sum := 0.0
		for _, ev := range ms[si].cells {
			sum += ev.Score(rows)
		}
		return sum / float64(len(cells)), ms[si].clean.Score(rows)
	}
	candMPC, candClean := mpc(0, nil)
	rPC := candMPC / candClean
	// Interval of the relative drop 1 - rPC by an image-level bootstrap (the same resample for
	// the clean and corrupted scores).
	o := bootstrapOpts(200, env.Config.Seed, 0)
	all := make([]int, len(sample))
	for k := range all {
		all[k] = k
	}
	timed := time.Now()
	mpc(0, all)
	if per := time.Since(timed); per > 0 {
		o.Resamples = min(200, max(100, int(bootstrapTime/per)))
	}
	dropIv, err := stats.BootstrapIndices(len(sample), func(idx []int) float64 {
		m, c := mpc(0, idx)
		return 1 - m/c
	}, o)
	if err != nil {
		return nil, err
	}
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{
		"mpc": candMPC, "clean_" + h.Key: candClean, "rpc": rPC, "relative_drop": 1 - rPC,
		"relative_drop_ci_low": dropIv.Lo, "relative_drop_ci_high": dropIv.Hi, "images": float64(len(sample)),
		"cells": float64(len(cells)), "agreement": meanOf(ms[0].agreement),
	}}
	res.Summary = fmt.Sprintf("mPC %s (%s under corruption) vs clean %s on the same %d images: rPC %s, relative drop %s [%s, %s]",
		h.Format(candMPC), h.Name, h.Format(candClean), len(sample), pct(rPC), pct(1-rPC), pct(dropIv.Lo), pct(dropIv.Hi))
	res.Threshold = fmt.Sprintf("relative drop <= %s", pct(cfg.MaxMeanDrop))
	var problems, warnings []string
	switch {
	case dropIv.Lo > cfg.MaxMeanDrop:
		problems = append(problems, fmt.Sprintf("%s loses %s of its clean value under corruption (95%% CI %s to %s), beyond max_mean_drop %s",
			h.Name, pct(1-rPC), pct(dropIv.Lo), pct(dropIv.Hi), pct(cfg.MaxMeanDrop)))
	case 1-rPC > cfg.MaxMeanDrop:
		warnings = append(warnings, fmt.Sprintf("%s loses %s of its clean value under corruption, beyond max_mean_drop %s, but the %d images cannot tell it apart (95%% CI %s to %s)",
			h.Name, pct(1-rPC), pct(cfg.MaxMeanDrop), len(sample), pct(dropIv.Lo), pct(dropIv.Hi)))
	}
	if len(subjects) == 2 {
		// mCE with error = 1 - metric, per corruption summed over severities (Hendrycks &
		// Dietterich's definition with the baseline as the reference model).
		baseMPC, baseClean := mpc(1, nil)
		res.BaselineMetrics = map[string]float64{"mpc": baseMPC, "clean_" + h.Key: baseClean, "rpc": baseMPC / baseClean}
		mce := taskMCE(cells, ms[0].cells, ms[1].cells)
		res.Metrics["mce"] = mce
		res.VsBaseline = fmt.Sprintf("rPC %s vs %s, mCE %s", pct(rPC), pct(baseMPC/baseClean), f2(mce))
		res.Threshold += fmt.Sprintf(", mCE vs baseline <= %s", f2(cfg.MaxMCE))
		if mce > cfg.MaxMCE {
			problems = append(problems, fmt.Sprintf("corruption error %s times the baseline's (mCE with error = 1 - %s), over max_mce %s", f2(mce), h.Name, f2(cfg.MaxMCE)))
		}
	}
	switch {
	case len(problems) > 0:
		res.Status, res.Summary = report.StatusFail, strings.Join(problems, "; ")+" · "+res.Summary
	case len(warnings) > 0:
		res.Status, res.Summary = report.StatusWarn, strings.Join(warnings, "; ")+" · "+res.Summary
	}

	// Per corruption: the metric at each severity, and its relative drop.
	cols := []string{"corruption"}
	for _, s := range sevs {
		cols = append(cols, fmt.Sprintf("s%d", s))
	}
	cols = append(cols, "mean", "agreement")
	tb := tableOf(cols...)
	chart := &report.Chart{Title: h.Name + " under corruption (mean over corruptions)", XLabel: "severity", YLabel: h.Name, YMin: 0, YMax: 1}
	for _, s := range sevs {
		chart.X = append(chart.X, fmt.Sprint(s))
	}
	for si, sub := range subjects {
		vals := make([]float64, len(sevs))
		counts := make([]int, len(sevs))
		for k, c := range cells {
			for j, s := range sevs {
				if c.severity == s {
					vals[j] += ms[si].cells[k].Score(nil)
					counts[j]++
				}
			}
		}
		for j := range vals {
			if counts[j] > 0 {
				vals[j] /= float64(counts[j])
			} else {
				vals[j] = math.NaN()
			}
		}
		chart.Series = append(chart.Series, report.Series{Name: sub.Role, Values: vals})
	}
	for _, nm := range names {
		row := []string{nm}
		sum, cnt, agree := 0.0, 0, 0.0
		for _, s := range sevs {
			cell := "–"
			for k, c := range cells {
				if c.name == nm && c.severity == s {
					v := ms[0].cells[k].Score(nil)
					cell = h.Format(v)
					sum += v
					agree += ms[0].agreement[k]
					cnt++
					res.Metrics[fmt.Sprintf("%s.s%d", nm, s)] = v
				}
			}
			row = append(row, cell)
		}
		if cnt == 0 {
			continue
		}
		row = append(row, h.Format(sum/float64(cnt)), pct(agree/float64(cnt)))
		addRow(tb, row...)
	}
	res.Details = append(res.Details, report.Section{Title: "Per corruption (" + h.Name + ")", Table: tb}, report.Section{Chart: chart})
	note := fmt.Sprintf("Each cell scores the %d sampled images under one corruption at one severity (seed %d). mPC is the mean over cells, rPC = mPC / clean %s on the same images (Michaelis et al. 2019); agreement is how far the corrupted predictions match the clean ones (%s).",
		len(sample), env.Config.Seed, h.Name, agreementWord(env.Task.Kind()))
	if len(left) > 0 {
		note += " The time budget left out: " + strings.Join(left, "; ") + "."
		res.Metrics["budget_limited"] = 1
	}
	res.Details = append(res.Details, report.Section{Title: "Method", Text: note})

	// Failure cases: for the worst cell, the images whose score fell most.
	worst := 0
	for k := range cells {
		if ms[0].cells[k].Score(nil) < ms[0].cells[worst].Score(nil) {
			worst = k
		}
	}
	if len(cells) > 0 {
		c := cells[worst]
		var pending []pendingCase
		for r := range sample {
			loss := ms[0].clean.ImageScore(r) - ms[0].cells[worst].ImageScore(r)
			if loss <= 0 {
				continue
			}
			item, r := sample[r], r
			ev := ms[0].cells[worst]
			pred := c.preds[0][r]
			cs := env.taskCase(item, pred, ev, r, fmt.Sprintf("%s s%d", c.name, c.severity), nil)
			cs.Severity = loss
			pending = append(pending, pendingCase{c: cs, build: func() *imaging.Image {
				img, err := corr.apply(env.Data.Items[item].Image, c.name, c.severity, env.itemSeed(env.Config.Seed, item))
				if err != nil {
					return nil
				}
				if rd, ok := env.Task.(Renderer); ok {
					return rd.Render(img, env.Data.Items[item].Truth, pred)
				}
				return img
			}})
		}
		env.exportTaskPending(res, IDRobustCorruptions, pending)
	}
	return res, nil
}

// exportTaskPending exports pending cases whose images are already in image coordinates (the
// task drew its boxes or masks on them), unlike exportPending, which shows the model's view.
func (e *Env) exportTaskPending(res *report.Result, check string, ps []pendingCase) {
	limit := e.exportLimit()
	if limit == 0 || len(ps) == 0 {
		return
	}
	total := len(ps)
	var out []pendingCase
	for _, p := range keepWorst(ps, limit) {
		if img := p.build(); img != nil {
			p.c.Image = img
			out = append(out, p)
		}
	}
	cases := make([]failures.Case, len(out))
	for i, p := range out {
		cases[i] = p.c
	}
	e.export(res, check, cases, total)
}

// taskMCE is the mean over corruptions of the candidate's summed error over severities divided by
// the baseline's, with error = 1 - the headline metric.
func taskMCE(cells []*taskCell, cand, base []task.Evaluation) float64 {
	type acc struct{ c, b float64 }
	per := map[string]*acc{}
	var order []string
	for k, c := range cells {
		a, ok := per[c.name]
		if !ok {
			a = &acc{}
			per[c.name] = a
			order = append(order, c.name)
		}
		a.c += 1 - cand[k].Score(nil)
		a.b += 1 - base[k].Score(nil)
	}
	sum, n := 0.0, 0
	for _, nm := range order {
		a := per[nm]
		if a.b > 0 {
			sum += a.c / a.b
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

func agreementWord(k task.Kind) string {
	switch k {
	case task.Detection:
		return "F1 of corrupted boxes matched to clean boxes of the same class at IoU 0.5"
	case task.Segmentation:
		return "share of pixels with the same class"
	}
	return "same answer"
}

// taskInvariance is robust.invariance for decoded tasks: each transform is applied to the image
// and, for geometric ones, to the ground truth too, so the score under the transform is comparable
// with the clean score; agreement compares the prediction on the transformed image with the
// clean prediction moved by the same transform.
func taskInvariance(ctx context.Context, env *Env) (*report.Result, error) {
	if err := env.annotated(); err != nil {
		return nil, err
	}
	cfg := env.Config.Thresholds.RobustInvariance
	if len(cfg.Transforms) == 0 {
		return nil, Skip("no transform configured (thresholds.robust.invariance.transforms)")
	}
	cand, base, err := env.Clean(ctx)
	if err != nil {
		return nil, err
	}
	subjects := env.Subjects()
	cleanPasses := []*Predictions{cand, base}[:len(subjects)]
	sample := env.taskSample(cfg.Sample)
	var budgetNote string
	if n, cut := env.budgetSample(len(sample), len(cfg.Transforms), time.Duration(cfg.BudgetSeconds*float64(time.Second)), 20); cut {
		budgetNote = fmt.Sprintf(" The time budget (budget_seconds %g) kept %d of %d images per transform.", cfg.BudgetSeconds, n, len(sample))
		sample = sample[:n]
	}
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{"images": float64(len(sample))}}
	var h task.Metric
	tb := tableOf("transform", "score kept", "agreement", "baseline agreement")
	var low, skipped []string
	minAgree := math.Inf(1)
	for _, spec := range cfg.Transforms {
		tr, err := perturb.ParseTransform(spec)
		if err != nil {
			return nil, fmt.Errorf("thresholds.robust.invariance.transforms: %w", err)
		}
		if ts, ok := env.Task.(transformSupport); ok {
			if why := ts.Unsupported(tr); why != "" {
				skipped = append(skipped, fmt.Sprintf("%s (%s)", tr, why))
				continue
			}
		}
		v := Variant{Key: fmt.Sprintf("%s|%s|seed%d|n%d", IDRobustInvariance, tr, env.Config.Seed, len(sample)), Indices: sample,
			Record: transformRecord(IDRobustInvariance, tr.String()),
			Transform: func(_ int, img *imaging.Image) *imaging.Image {
				dst := &imaging.Image{}
				if err := tr.Apply(dst, img); err != nil {
					return nil
				}
				return dst
			}}
		pc, pb, err := env.Predict(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("predict under %s: %w", tr, err)
		}
		moveTruth := func(t task.Truth, w, h int) task.Truth { return env.Task.Move(t, tr, w, h) }
		row := []string{tr.String()}
		agreements := make([]float64, len(subjects))
		for si, p := range []*Predictions{pc, pb}[:len(subjects)] {
			clean := rowsOf(cleanPasses[si], sample)
			cleanEv := env.evaluateRows(clean, sample, nil)
			ev := env.evaluateRows(p.Task, sample, moveTruth)
			h = ev.Headline()
			agree := 0.0
			for r, i := range sample {
				img := env.Data.Items[i].Image
				moved := env.Task.Move(clean[r], tr, img.Width, img.Height)
				agree += env.Task.Agreement(moved, p.Task[r])
			}
			agreements[si] = agree / float64(len(sample))
			kept := ev.Score(nil) / cleanEv.Score(nil)
			if si == 0 {
				row = append(row, pct(kept), pct(agreements[0]))
				res.Metrics[tr.String()+".agreement"] = agreements[0]
				res.Metrics[tr.String()+".score_kept"] = kept
				res.Metrics[tr.String()+"."+h.Key] = ev.Score(nil)
				minAgree = math.Min(minAgree, agreements[0])
				if agreements[0] < cfg.MinConsistency {
					low = append(low, fmt.Sprintf("%s %s", tr, pct(agreements[0])))
				}
			}
		}
		if len(subjects) == 2 {
			row = append(row, pct(agreements[1]))
		} else {
			row = append(row, "n/a")
		}
		addRow(tb, row...)
	}
	if math.IsInf(minAgree, 1) {
		return nil, Skip("no configured transform applies to %s models: %s", env.Task.Kind(), strings.Join(skipped, "; "))
	}
	if len(skipped) > 0 {
		budgetNote += " Left out: " + strings.Join(skipped, "; ") + "."
	}
	res.Metrics["min_agreement"] = minAgree
	res.Threshold = fmt.Sprintf("agreement >= %s for every transform", pct(cfg.MinConsistency))
	res.Summary = fmt.Sprintf("lowest agreement %s over %d transforms on %d images", pct(minAgree), len(cfg.Transforms)-len(skipped), len(sample))
	if len(low) > 0 {
		res.Status = report.StatusWarn
		res.Summary = fmt.Sprintf("agreement below %s under %s", pct(cfg.MinConsistency), strings.Join(low, ", "))
	}
	res.Details = append(res.Details, report.Section{Title: "Per transform", Table: tb,
		Text: fmt.Sprintf("Geometric transforms move the ground truth with the image, so 'score kept' is %s on the transformed images over %s on the clean ones; agreement compares each prediction with the clean prediction moved by the same transform (%s).",
			h.Name, h.Name, agreementWord(env.Task.Kind())) + budgetNote})
	return res, nil
}

// transformSupport is implemented by tasks whose ground truth cannot follow some transforms.
type transformSupport interface {
	// Unsupported says why the task leaves a transform out of invariance checks ("" if it does not).
	Unsupported(tr perturb.Transform) string
}

// taskAbnormal is robust.abnormal for decoded tasks: inputs that hold nothing (constant images,
// noise) must not make the model claim objects or regions with confidence.
func taskAbnormal(ctx context.Context, env *Env) (*report.Result, error) {
	cfg := env.Config.Thresholds.RobustAbnormal
	if _, _, err := env.Clean(ctx); err != nil {
		return nil, err
	}
	kinds, err := abnormalKinds(env, cfg.Samples)
	if err != nil {
		return nil, err
	}
	subjects := env.Subjects()
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{}}
	tb := tableOf("kind", "inputs", "flagged", "mean amount", "baseline flagged")
	overall := make([]float64, len(subjects))
	var pending []pendingCase
	used := 0
	variance := 0.0 // of the candidate's flagged shares, summed over kinds
	for _, k := range kinds {
		if k.derived {
			continue // inverted or saturated real images keep their objects: not phantoms
		}
		used++
		imgs := make([]*imaging.Image, len(k.inputs))
		for j, in := range k.inputs {
			imgs[j] = in.img
		}
		row := []string{k.name, fmt.Sprint(len(imgs))}
		for si, s := range subjects {
			preds, err := env.ForwardPredictions(ctx, s, imgs)
			if err != nil {
				return nil, fmt.Errorf("%s inputs through %s: %w", k.name, s.Role, err)
			}
			flagged, amount := 0, 0.0
			for j, p := range preds {
				a, f := env.Task.Phantoms(p, cfg.Confidence)
				amount += a
				if f {
					flagged++
					if si == 0 {
						img, pred := imgs[j], p
						pending = append(pending, pendingCase{c: taskAbnormalCase(k.inputs[j].path, k.name, a), build: func() *imaging.Image {
							if rd, ok := env.Task.(Renderer); ok {
								return rd.Render(img, nil, pred)
							}
							return img
						}})
					}
				}
			}
			share := float64(flagged) / float64(len(preds))
			overall[si] += share
			if si == 0 {
				variance += share * (1 - share) / float64(len(preds))
			}
			if si == 0 {
				row = append(row, pct(share), fmt.Sprintf("%.3g", amount/float64(len(preds))))
				res.Metrics[k.name+".flagged_share"] = share
				res.Metrics[k.name+".mean_amount"] = amount / float64(len(preds))
			} else {
				row = append(row, pct(share))
			}
		}
		if len(subjects) == 1 {
			row = append(row, "n/a")
		}
		addRow(tb, row...)
	}
	if used == 0 {
		return nil, Skip("no abnormal input kind without content for this model")
	}
	for si := range overall {
		overall[si] /= float64(used)
	}
	lower := overall[0] - 1.6448536269514722*math.Sqrt(variance)/float64(used)
	res.Metrics["flagged_share"] = overall[0]
	res.Metrics["flagged_share_lower_95"] = math.Max(lower, 0)
	what := phantomWord(env.Task.Kind())
	claim := fmt.Sprintf("%s with confidence >= %g", what, cfg.Confidence)
	if pt, ok := env.Task.(interface{ PhantomRule(float64) string }); ok {
		claim = pt.PhantomRule(cfg.Confidence)
	}
	res.Summary = fmt.Sprintf("%s of empty inputs (constant, noise) get %s (mean over %d kinds)", pct(overall[0]), claim, used)
	res.Threshold = fmt.Sprintf("flagged share <= %s", pct(cfg.MaxShare))
	// As for classifiers, the gate needs the share's one-sided 95% lower bound over the limit.
	switch {
	case cfg.FailShare > 0 && lower > cfg.FailShare:
		res.Status = report.StatusFail
		res.Summary = fmt.Sprintf("claims content in empty inputs: %s over fail_share %s · %s", pct(overall[0]), pct(cfg.FailShare), res.Summary)
	case lower > cfg.MaxShare:
		res.Status = report.StatusWarn
		res.Summary = fmt.Sprintf("claims content in empty inputs: %s over max_share %s · %s", pct(overall[0]), pct(cfg.MaxShare), res.Summary)
	case overall[0] > cfg.MaxShare:
		res.Summary += fmt.Sprintf(" (over max_share %s, but within sampling error of it)", pct(cfg.MaxShare))
	}
	if len(subjects) == 2 {
		res.BaselineMetrics = map[string]float64{"flagged_share": overall[1]}
		d := overall[0] - overall[1]
		res.VsBaseline = fmt.Sprintf("flagged %s %s (baseline %s)", pp(d), arrow(d, false), pct(overall[1]))
	}
	res.Details = append(res.Details, report.Section{Title: "Empty inputs", Table: tb,
		Text: fmt.Sprintf("An input is flagged when the model returns %s; the amount is %s per input.", claim, phantomUnit(env.Task.Kind()))})
	env.exportTaskPending(res, IDRobustAbnormal, pending)
	return res, nil
}

func taskAbnormalCase(path, kind string, amount float64) failures.Case {
	return failures.Case{Path: path, Label: "(nothing)", Predicted: fmt.Sprintf("%.3g", amount), Perturbation: kind, Severity: amount}
}

func phantomWord(k task.Kind) string {
	if k == task.Segmentation {
		return "foreground regions"
	}
	return "detections"
}

func phantomUnit(k task.Kind) string {
	if k == task.Segmentation {
		return "the share of pixels labelled foreground"
	}
	return "the number of such detections"
}
