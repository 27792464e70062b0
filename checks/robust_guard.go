package checks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/guard"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/perturb"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/report"
)

// IDRobustGuard is the ID of the input-guard check.
const IDRobustGuard = "robust.guard"

// RobustGuard measures the input guard (internal/guard) of the model: built on the fly from
// thresholds.robust.guard.reference, or read from a guard.json that `cvgate guard build` wrote.
// On the suite's own images, which the guard never saw, it measures the false-reject rate against
// the target the guard was calibrated for; on blank, constant and noise inputs, severity-5
// corruptions and an optional out-of-distribution set, the share it catches and, for the latter,
// how well each score separates (AUROC, FPR at 95% TPR). The baseline's guard, built from the same
// reference, is measured beside it.
//
// For detection and segmentation models the guard has its input checks only (image properties
// and input tensor moments): a model-level score over decoded outputs is not supported yet.
type RobustGuard struct{}

// ID implements Check.
func (RobustGuard) ID() string { return IDRobustGuard }

// Title implements Check.
func (RobustGuard) Title() string { return "Input guard (false rejects, catch rates, AUROC)" }

// Common implements Toggled.
func (RobustGuard) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.RobustGuard.Common, true
}

// Bounds on what the check decodes, so that no configuration makes a run unbounded: reference and
// out-of-distribution sets larger than this are sampled (seeded).
const (
	guardMaxReference = 20000
	guardMaxOOD       = 5000
	// guardCorrupted is the number of suite images corrupted at severity 5 by each corruption.
	guardCorrupted = 32
	// guardNoise is the number of seeded noise inputs per noise kind.
	guardNoise = 16
)

// guardSet is one set of inputs and the guard's verdicts on them.
type guardSet struct {
	name     string
	kind     string // "clean", "abnormal", "derived", "corrupted", "ood"
	paths    []string
	items    []int // suite item per input, -1 when synthetic
	verdicts []guard.Verdict
}

func (s *guardSet) caught() float64 { return guard.RejectedShare(s.verdicts) }

// guardEval is one subject's guard and its verdicts.
type guardEval struct {
	g    *guard.Guard
	sets []*guardSet
	seps []guard.Separation
}

func (ev *guardEval) set(name string) *guardSet {
	for _, s := range ev.sets {
		if s.name == name {
			return s
		}
	}
	return nil
}

// caughtOf is the share of rejected inputs over every set of a kind.
func (ev *guardEval) caughtOf(kind string) (float64, int) {
	var all []guard.Verdict
	for _, s := range ev.sets {
		if s.kind == kind {
			all = append(all, s.verdicts...)
		}
	}
	return guard.RejectedShare(all), len(all)
}

// Run implements Check.
func (RobustGuard) Run(ctx context.Context, env *Env) (*report.Result, error) {
	cfg := env.Config.Thresholds.RobustGuard
	if cfg.Reference == "" && cfg.Guard == "" {
		return nil, Skip("no guard to measure: set thresholds.robust.guard.reference (images to build it from) or thresholds.robust.guard.guard (a folder written by cvgate guard build)")
	}
	inputsOnly := env.decoded()
	if inputsOnly && cfg.Guard != "" {
		return nil, Skip("a guard.json holds a classifier's guard; for %s models set thresholds.robust.guard.reference so that the input checks are built on the fly", env.Task.Kind())
	}
	root := env.Candidate.RepoRoot
	var ref, ood *dataset.Dataset
	var notes []string
	var err error
	if cfg.Reference != "" {
		if ref, err = loadGuardSet(ctx, env, resolvePath(root, cfg.Reference), guardMaxReference, true); err != nil {
			return nil, fmt.Errorf("thresholds.robust.guard.reference: %w", err)
		}
		if len(ref.Unreadable) > 0 {
			notes = append(notes, fmt.Sprintf("%d unreadable reference image(s) were left out.", len(ref.Unreadable)))
		}
	}
	if cfg.OOD != "" {
		if ood, err = loadGuardSet(ctx, env, resolvePath(root, cfg.OOD), guardMaxOOD, false); err != nil {
			return nil, fmt.Errorf("thresholds.robust.guard.ood: %w", err)
		}
		if ref != nil {
			if err := guard.CheckOverlap(ref, ood); err != nil {
				return nil, fmt.Errorf("thresholds.robust.guard.ood: %w", err)
			}
		}
	}
	// The suite's images are the held-out clean set; any that are also reference images would
	// make the false-reject rate look better than it is, so they are left out.
	clean := make([]int, 0, len(env.Data.Items))
	if ref != nil {
		shared, err := guard.Overlap(ref, env.Data)
		if err != nil {
			return nil, err
		}
		skip := map[string]bool{}
		for _, p := range shared {
			skip[p[1]] = true
		}
		if len(skip) > 0 {
			notes = append(notes, fmt.Sprintf("%d of the evaluated images are also reference images and are not counted as held-out clean images.", len(skip)))
		}
		for i, it := range env.Data.Items {
			if !skip[it.Path] {
				clean = append(clean, i)
			}
		}
	} else {
		for i := range env.Data.Items {
			clean = append(clean, i)
		}
	}
	if len(clean) == 0 {
		return nil, Skip("every evaluated image is a reference image: there is no held-out clean image to measure false rejects on")
	}

	rt, err := onnx.Current()
	if err != nil {
		return nil, err
	}
	subjects := env.Subjects()
	evals := make([]*guardEval, len(subjects))
	for si, s := range subjects {
		ev, err := evalGuard(ctx, env, rt, s, ref, ood, clean, inputsOnly)
		if err != nil {
			if si == 0 {
				return nil, err
			}
			notes = append(notes, "The baseline's guard could not be measured: "+err.Error()+".")
			break
		}
		evals[si] = ev
	}
	if inputsOnly {
		notes = append(notes, fmt.Sprintf("For %s models the guard has its input checks only (image properties and input tensor moments); a model-level score over the decoded outputs is not supported yet.", env.Task.Kind()))
	}
	return guardResult(env, cfg, evals, notes), nil
}

// evalGuard builds (or loads) one subject's guard and measures it on every set.
func evalGuard(ctx context.Context, env *Env, rt *onnx.Runtime, s *Subject, ref, ood *dataset.Dataset, clean []int, inputsOnly bool) (*guardEval, error) {
	cfg := env.Config.Thresholds.RobustGuard
	ev := &guardEval{}
	var probe *guard.Probe
	if !inputsOnly {
		path, err := modelFile(s)
		if err != nil {
			return nil, err
		}
		rc := env.Config.Runtime
		probe, err = guard.NewProbe(rt, path, s.Spec, guard.ProbeOptions{Threads: rc.Threads, BatchSize: rc.BatchSize, Provider: string(rc.ExecutionProvider),
			Input: s.Model.Input.Name, Output: s.Model.Output.Name})
		if err != nil {
			return nil, err
		}
		defer probe.Close()
	}
	observe := func(imgs []*imaging.Image, labels []int) (*guard.Observations, error) {
		if probe == nil {
			return guard.ObserveInputs(ctx, imgs, s.Spec)
		}
		return probe.Observe(ctx, imgs, labels)
	}
	opts := guard.BuildOptions{TargetFRR: cfg.TargetFRR, CalibrationShare: cfg.CalibrationShare, Score: cfg.Score, Seed: env.Config.Seed, InputsOnly: inputsOnly}
	switch {
	case cfg.Guard != "":
		g, err := guard.Load(resolvePath(s.RepoRoot, cfg.Guard))
		if err != nil {
			return nil, err
		}
		if g.Model.SHA256 != s.Model.SHA256 {
			return nil, fmt.Errorf("guard %q was built for the model with sha256 %s, and %s has sha256 %s: rebuild it with cvgate guard build", cfg.Guard, short12(g.Model.SHA256), s.Role, short12(s.Model.SHA256))
		}
		ev.g = g
	default:
		imgs, labels := itemsOf(ref)
		var err error
		if probe == nil {
			obs, oerr := observe(imgs, nil)
			if oerr != nil {
				return nil, oerr
			}
			ev.g, err = guard.Build(obs, opts)
		} else {
			ev.g, _, err = guard.Learn(ctx, probe, imgs, labels, opts)
		}
		if err != nil {
			return nil, fmt.Errorf("build the %s's guard from %s: %w", s.Role, cfg.Reference, err)
		}
	}
	g := ev.g
	judge := func(name, kind string, imgs []*imaging.Image, paths []string, items []int) (*guardSet, error) {
		obs, err := observe(imgs, nil)
		if err != nil {
			return nil, fmt.Errorf("%s inputs: %w", name, err)
		}
		set := &guardSet{name: name, kind: kind, paths: paths, items: items, verdicts: g.JudgeAll(obs)}
		ev.sets = append(ev.sets, set)
		return set, nil
	}

	var imgs []*imaging.Image
	var paths []string
	for _, i := range clean {
		imgs, paths = append(imgs, env.Data.Items[i].Image), append(paths, env.Data.Items[i].Path)
	}
	cleanSet, err := judge("clean", "clean", imgs, paths, clean)
	if err != nil {
		return nil, err
	}

	// Abnormal inputs at the size of the suite's first image (so that size alone does not give
	// them away), and derived ones from a sample of the suite.
	first := env.Data.Items[clean[0]].Image
	sample := clean[:min(guardCorrupted, len(clean))]
	for _, name := range perturb.AbnormalNames(first.Channels) {
		var in []*imaging.Image
		var ps []string
		var items []int
		switch {
		case perturb.IsDerived(name):
			for _, i := range sample {
				img, err := perturb.Derive(name, env.Data.Items[i].Image)
				if err != nil {
					return nil, err
				}
				in, ps, items = append(in, img), append(ps, env.Data.Items[i].Path), append(items, i)
			}
		default:
			count := 1
			if name == perturb.AbnormalUniformNoise || name == perturb.AbnormalGaussianNoise {
				count = guardNoise
			}
			for j := range count {
				img, err := perturb.Synthesize(name, first.Width, first.Height, first.Channels, imageSeed(env.Config.Seed^nameHash(name), j))
				if err != nil {
					return nil, err
				}
				in, ps, items = append(in, img), append(ps, fmt.Sprintf("(%s #%d)", name, j+1)), append(items, -1)
			}
		}
		kind := "abnormal"
		if perturb.IsDerived(name) {
			kind = "derived"
		}
		if _, err := judge(name, kind, in, ps, items); err != nil {
			return nil, err
		}
	}
	for _, name := range perturb.Names() {
		var in []*imaging.Image
		var ps []string
		for _, i := range sample {
			img, err := perturb.Apply(env.Data.Items[i].Image, name, 5, imageSeed(env.Config.Seed^nameHash(name), i))
			if err != nil {
				return nil, err
			}
			in, ps = append(in, img), append(ps, env.Data.Items[i].Path)
		}
		if _, err := judge(name+" s5", "corrupted", in, ps, sample); err != nil {
			return nil, err
		}
	}
	if ood != nil {
		oi, _ := itemsOf(ood)
		var op []string
		for _, it := range ood.Items {
			op = append(op, it.Path)
		}
		oodSet, err := judge("out-of-distribution", "ood", oi, op, nil)
		if err != nil {
			return nil, err
		}
		ev.seps = g.Separations(cleanSet.verdicts, oodSet.verdicts)
	}
	return ev, nil
}

func guardResult(env *Env, cfg config.RobustGuard, evals []*guardEval, notes []string) *report.Result {
	ev := evals[0]
	g := ev.g
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{}}
	clean := ev.set("clean")
	k := guard.Rejected(clean.verdicts)
	n := len(clean.verdicts)
	frr := float64(k) / float64(n)
	ci, _ := stats.WilsonInterval(k, n, 0.95)
	target := g.Threshold.TargetFRR
	abnormal, _ := ev.caughtOf("abnormal")
	corrupted, _ := ev.caughtOf("corrupted")
	fill := func(m map[string]float64, e *guardEval) {
		c := e.set("clean")
		kk := guard.Rejected(c.verdicts)
		w, _ := stats.WilsonInterval(kk, len(c.verdicts), 0.95)
		m["frr"], m["frr_ci_lo"], m["frr_ci_hi"] = round(w.Estimate), round(w.Lo), round(w.Hi)
		m["clean_images"] = float64(len(c.verdicts))
		m["target_frr"] = e.g.Threshold.TargetFRR
		m["threshold"] = finite(e.g.Threshold.Value)
		m["conformal_frr_lo"], m["conformal_frr_hi"] = round(e.g.Threshold.Interval[0]), round(e.g.Threshold.Interval[1])
		m["calibration_images"] = float64(e.g.Threshold.Calibration)
		a, _ := e.caughtOf("abnormal")
		d, _ := e.caughtOf("derived")
		cr, _ := e.caughtOf("corrupted")
		m["abnormal_caught"], m["derived_caught"], m["corrupted_caught"] = round(a), round(d), round(cr)
		for _, s := range e.sets {
			if s.kind != "clean" {
				m[strings.ReplaceAll(s.name, " ", "_")+".caught"] = round(s.caught())
			}
		}
		if o := e.set("out-of-distribution"); o != nil {
			m["ood_caught"] = round(o.caught())
			m["ood_images"] = float64(len(o.verdicts))
		}
		for _, sp := range e.seps {
			m[sp.Score+".auroc"] = round4(sp.AUROC)
			m[sp.Score+".fpr_at_95_tpr"] = round4(sp.FPRAt95TPR)
		}
	}
	fill(res.Metrics, ev)
	hasBase := len(evals) == 2 && evals[1] != nil
	if hasBase {
		res.BaselineMetrics = map[string]float64{}
		fill(res.BaselineMetrics, evals[1])
	}

	var problems []string
	if ci.Lo > target {
		problems = append(problems, fmt.Sprintf("false-reject rate %s (95%% CI %s-%s) above the target %s", pct(frr), pct(ci.Lo), pct(ci.Hi), pct(target)))
	}
	if abnormal < cfg.MinAbnormalCatch {
		problems = append(problems, fmt.Sprintf("catches %s of blank, constant and noise inputs, under min_abnormal_catch %s", pct(abnormal), pct(cfg.MinAbnormalCatch)))
	}
	guardAUROC := math.NaN()
	for _, sp := range ev.seps {
		if sp.Score == "guard" {
			guardAUROC = sp.AUROC
		}
	}
	if !math.IsNaN(guardAUROC) && guardAUROC < cfg.MinAUROC {
		problems = append(problems, fmt.Sprintf("separates the out-of-distribution set at AUROC %.3f, under min_auroc %.3g", guardAUROC, cfg.MinAUROC))
	}
	res.Threshold = fmt.Sprintf("false rejects <= %s (95%% CI), abnormal caught >= %s", pct(target), pct(cfg.MinAbnormalCatch))
	if ev.set("out-of-distribution") != nil {
		res.Threshold += fmt.Sprintf(", OOD AUROC >= %.3g", cfg.MinAUROC)
	}
	parts := []string{fmt.Sprintf("false rejects %s of %d held-out images (target %s)", pct(frr), n, pct(target)),
		fmt.Sprintf("catches %s of abnormal inputs, %s of severity-5 corruptions", pct(abnormal), pct(corrupted))}
	if o := ev.set("out-of-distribution"); o != nil {
		parts = append(parts, fmt.Sprintf("%s of out-of-distribution images (AUROC %.3f)", pct(o.caught()), guardAUROC))
	}
	res.Summary = strings.Join(parts, " · ")
	if len(problems) > 0 {
		res.Status = report.StatusWarn
		if cfg.Fail {
			res.Status = report.StatusFail
		}
		res.Summary = "guard: " + strings.Join(problems, "; ") + " · " + res.Summary
	}
	if hasBase {
		b := res.BaselineMetrics
		d := res.Metrics["frr"] - b["frr"]
		res.VsBaseline = fmt.Sprintf("false rejects %s %s (baseline %s)", pp(d), arrow(d, false), pct(b["frr"]))
		if oc, ok := b["ood_caught"]; ok {
			dd := res.Metrics["ood_caught"] - oc
			res.VsBaseline += fmt.Sprintf(", OOD caught %s %s", pp(dd), arrow(dd, true))
		}
	}

	// What the guard is.
	text := fmt.Sprintf("Score **%s**", g.Score)
	if g.Model.Features != "" {
		text += fmt.Sprintf(" on %s (%s)", code(g.Model.Features), g.Model.FeatureSource)
	}
	th := g.Threshold
	text += fmt.Sprintf("; threshold %.4g, calibrated on %d held-out reference images for a %s false-reject rate: split-conformal guarantee %s-%s, and %s-%s for 95%% of calibration draws.",
		th.Value, th.Calibration, pct(th.TargetFRR), pct(th.LowerFRR), pct(th.ExpectedFRR), pct(th.Interval[0]), pct(th.Interval[1]))
	for _, nt := range g.Notes {
		notes = append(notes, inertText(capitalize(nt))+".")
	}
	if len(notes) > 0 {
		text += "\n\n" + strings.Join(notes, " ")
	}
	cols := []string{"Inputs", "Kind", "Count", "Rejected"}
	if hasBase {
		cols = append(cols, "Baseline rejected")
	}
	tb := tableOf(cols...)
	for _, s := range ev.sets {
		row := []string{s.name, s.kind, fmt.Sprint(len(s.verdicts)), pct(s.caught())}
		if hasBase {
			if bs := evals[1].set(s.name); bs != nil {
				row = append(row, pct(bs.caught()))
			} else {
				row = append(row, "n/a")
			}
		}
		addRow(tb, row...)
	}
	res.Details = append(res.Details, report.Section{Title: "Guard", Text: text, Table: tb})
	if len(ev.seps) > 0 {
		st := tableOf("Score", "AUROC", "FPR at 95% TPR")
		for _, sp := range ev.seps {
			addRow(st, sp.Score, fmt.Sprintf("%.4f", sp.AUROC), pct(sp.FPRAt95TPR))
		}
		res.Details = append(res.Details, report.Section{Title: "Out-of-distribution separation",
			Text: "Clean: the held-out evaluated images; positive: the out-of-distribution set. \"guard\" is the thresholded score with the input checks' rejects ranked first.", Table: st})
	}

	// Failure cases: the clean images the guard rejects, the highest score first.
	var pending []pendingCase
	for j, v := range clean.verdicts {
		if !v.Reject {
			continue
		}
		item := clean.items[j]
		img := env.Data.Items[item].Image
		c := failures.Case{Path: clean.paths[j], Label: labelText(env, env.Data.Items[item].Label), Predicted: "rejected",
			Confidence: conf32(float32(v.Score)), Perturbation: "clean", Severity: severityOf(v), Note: strings.Join(v.Reasons, "; ")}
		pending = append(pending, pendingCase{c: c, build: func() *imaging.Image { return img }})
	}
	env.exportPending(res, IDRobustGuard, pending, k)
	return res
}

// severityOf orders rejected images for export: input-check failures first, then by score.
func severityOf(v guard.Verdict) float64 {
	if v.InputRejected || math.IsNaN(v.Score) {
		return math.MaxFloat64
	}
	return v.Score
}

func short12(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// inertText keeps a sentence that quotes names from the model file (a note naming its final
// layer) from becoming markup: HTML is escaped, markdown's active characters are neutralized and
// line breaks are flattened.
func inertText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "`", "'", "|", "/", "*", "\\*", "_", "\\_",
		"[", "\\[", "]", "\\]", "\n", " ", "\r", " ").Replace(s)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// code renders a name from the model (untrusted) as inline code: backticks, angle brackets and
// line breaks are dropped, and long names are cut, so that it cannot break out of the span.
func code(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '`', '<', '>', '\n', '\r', '|', '\\':
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 80 {
		s = string(r[:79]) + "~"
	}
	return "`" + s + "`"
}

func resolvePath(root, p string) string {
	if p == "" || filepath.IsAbs(p) || root == "" {
		return p
	}
	return filepath.Join(root, p)
}

// modelFile finds the subject's model file on disk: its path as given, or below the workspace,
// confirmed by its sha256 (a baseline fetched from git or a release may have no such path).
func modelFile(s *Subject) (string, error) {
	for _, p := range []string{s.Model.Path, resolvePath(s.RepoRoot, s.Model.Path)} {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err == nil && hex.EncodeToString(h.Sum(nil)) == s.Model.SHA256 {
			return p, nil
		}
	}
	return "", fmt.Errorf("the %s's model file (%s) is not readable from this run, so its guard cannot be built", s.Role, s.Model.Path)
}

// loadGuardSet decodes a folder or manifest of images, sampled (seeded) down to max images. With
// labels, class folders or labels that name the suite's classes become class indices (the guard's
// class means); anything else loads unlabelled.
func loadGuardSet(ctx context.Context, env *Env, path string, max int, labels bool) (*dataset.Dataset, error) {
	l, err := dataset.List(path)
	if err != nil {
		return nil, err
	}
	if len(l.Entries) > max {
		rng := rand.New(rand.NewPCG(env.Config.Seed, 0x6775617264))
		keep := rng.Perm(len(l.Entries))[:max]
		slices.Sort(keep)
		entries := make([]dataset.Entry, len(keep))
		for j, i := range keep {
			entries[j] = l.Entries[i]
		}
		l.Entries = entries
	}
	var classes *dataset.Classes
	if labels && env.Data.Classes != nil {
		known := map[string]bool{}
		for _, n := range env.Data.Classes.Names {
			known[n] = true
		}
		all := true
		for _, e := range l.Entries {
			all = all && e.LabelName != "" && known[e.LabelName]
		}
		if all {
			classes = env.Data.Classes
		}
	}
	ds, err := dataset.Load(ctx, l, dataset.Options{Classes: classes, MaxUnreadable: env.Config.MaxUnreadable})
	if err != nil {
		return nil, err
	}
	if len(ds.Items) == 0 {
		return nil, errors.New("no readable image")
	}
	return ds, nil
}

// itemsOf returns a dataset's images and labels (nil labels for an unlabelled set).
func itemsOf(ds *dataset.Dataset) ([]*imaging.Image, []int) {
	imgs := make([]*imaging.Image, len(ds.Items))
	var labels []int
	if ds.Classes != nil {
		labels = make([]int, len(ds.Items))
	}
	for i, it := range ds.Items {
		imgs[i] = it.Image
		if labels != nil {
			labels[i] = it.Label
		}
	}
	return imgs, labels
}
