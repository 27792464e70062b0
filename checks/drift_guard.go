package checks

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/guard"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/preprocess"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/report"
)

// IDDriftGuard is the ID of the guard's share of flagged current images.
const IDDriftGuard = "drift.guard"

// DriftGuard reports the share of current images the model's input guard flags: the guard of
// thresholds.robust.guard.guard when set (built by `cvgate guard build` for this model), else one
// built from the drift reference images (with the model's score when a model is given, its input
// checks alone otherwise). On images like the reference the share stays near the guard's target
// false-reject rate; well above it, production sends the model inputs it was not built for.
type DriftGuard struct{ driftCommon }

// ID implements Check.
func (DriftGuard) ID() string { return IDDriftGuard }

// Title implements Check.
func (DriftGuard) Title() string { return "Inputs the guard flags" }

// Run implements Check.
func (DriftGuard) Run(ctx context.Context, env *Env) (*report.Result, error) {
	if env.Reference == nil {
		return nil, Skip("no reference set (cvgate drift --reference DIR)")
	}
	cfg := env.Config.Thresholds.RobustGuard
	var g *guard.Guard
	var probe *guard.Probe
	source := "built from the reference images"
	s := env.Candidate
	if env.decoded() {
		// Guards read class scores and penultimate features; for detectors and segmenters only
		// the input checks would apply, measured on the images without the model.
		s = nil
	}
	if s != nil {
		rt, err := onnx.Current()
		if err != nil {
			return nil, err
		}
		path, err := modelFile(s)
		if err != nil {
			return nil, err
		}
		rc := env.Config.Runtime
		if probe, err = guard.NewProbe(rt, path, s.Spec, guard.ProbeOptions{Threads: rc.Threads, BatchSize: rc.BatchSize, Provider: string(rc.ExecutionProvider),
			Input: s.Model.Input.Name, Output: s.Model.Output.Name}); err != nil {
			return nil, err
		}
		defer probe.Close()
	}
	if cfg.Guard != "" {
		if s == nil {
			return nil, Skip("thresholds.robust.guard.guard is a model's guard: pass the model (cvgate drift --model MODEL.onnx)")
		}
		var err error
		if g, err = guard.Load(resolvePath(s.RepoRoot, cfg.Guard)); err != nil {
			return nil, err
		}
		if g.Model.SHA256 != s.Model.SHA256 {
			return nil, fmt.Errorf("guard %q was built for the model with sha256 %s, and the model has sha256 %s: rebuild it with cvgate guard build", cfg.Guard, short12(g.Model.SHA256), short12(s.Model.SHA256))
		}
		source = "from " + cfg.Guard
	}
	imgsRef, labels := itemsOf(env.Reference.Data)
	opts := guard.BuildOptions{TargetFRR: cfg.TargetFRR, CalibrationShare: cfg.CalibrationShare, Score: cfg.Score, Seed: env.Config.Seed, InputsOnly: probe == nil}
	if g == nil {
		var err error
		if probe != nil {
			g, _, err = guard.Learn(ctx, probe, imgsRef, labels, opts)
		} else {
			var spec preprocess.Spec
			var obs *guard.Observations
			if spec, err = inputSpec(env); err == nil {
				if obs, err = guard.ObserveInputs(ctx, imgsRef, spec); err == nil {
					g, err = guard.Build(obs, opts)
				}
			}
		}
		if err != nil {
			var few *guard.TooFewError
			if errors.As(err, &few) && cfg.Reference == "" {
				// No guard was asked for: a reference set too small to calibrate one is a reason
				// to skip the measurement, not a failed run.
				return nil, Skip("the reference set is too small to calibrate a guard: %v", err)
			}
			return nil, fmt.Errorf("build the guard from the reference images: %w", err)
		}
	}
	cur, _ := itemsOf(env.Data)
	var obs *guard.Observations
	var err error
	if probe != nil {
		obs, err = probe.Observe(ctx, cur, nil)
	} else {
		var spec preprocess.Spec
		if spec, err = inputSpec(env); err == nil {
			obs, err = guard.ObserveInputs(ctx, cur, spec)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("current images: %w", err)
	}
	verdicts := g.JudgeAll(obs)
	k := guard.Rejected(verdicts)
	ci, err := stats.WilsonInterval(k, len(verdicts), 0.95)
	if err != nil {
		return nil, err
	}
	target := g.Threshold.TargetFRR
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{
		"flagged_share": round(ci.Estimate), "flagged_ci_lo": round(ci.Lo), "flagged_ci_hi": round(ci.Hi),
		"flagged": float64(k), "current_images": float64(len(verdicts)), "target_frr": target,
	}}
	byReason := map[string]int{}
	for _, v := range verdicts {
		for _, r := range v.Reasons {
			if i := strings.IndexByte(r, ' '); i > 0 {
				r = r[:i]
			}
			byReason[r]++
		}
	}
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, r)
		res.Metrics["reason."+r] = float64(byReason[r])
	}
	sort.Slice(reasons, func(i, j int) bool {
		if byReason[reasons[i]] != byReason[reasons[j]] {
			return byReason[reasons[i]] > byReason[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	res.Threshold = fmt.Sprintf("flagged share <= %s (the guard's target false-reject rate, 95%% CI)", pct(target))
	res.Summary = fmt.Sprintf("the guard (%s, score %s) flags %s of %d current images (95%% CI %s-%s; %s expected on reference-like images)",
		source, g.Score, pct(ci.Estimate), len(verdicts), pct(ci.Lo), pct(ci.Hi), pct(target))
	if ci.Lo > target {
		res.Status = report.StatusWarn
		if cfg.Fail {
			res.Status = report.StatusFail
		}
		res.Summary = "inputs unlike the reference: " + res.Summary
	}
	tb := tableOf("Reason", "Images")
	for _, r := range reasons[:min(10, len(reasons))] {
		addRow(tb, r, fmt.Sprint(byReason[r]))
	}
	text := "Each flagged image fails at least one check; an image can fail several."
	if probe == nil {
		text += " Without a model the guard has its input checks only (image properties and input tensor moments)."
	}
	res.Details = append(res.Details, report.Section{Title: "Why images were flagged", Text: text, Table: tb})
	return res, nil
}

// inputSpec is the preprocessing the input checks' tensor moments are computed with: the model's
// when there is one, else a plain 0..1 tensor of the reference's first image size and channels.
func inputSpec(env *Env) (preprocess.Spec, error) {
	if env.Candidate != nil {
		return env.Candidate.Spec, nil
	}
	first := env.Reference.Data.Items[0].Image
	in := onnx.TensorInfo{Name: "image", DType: onnx.Float32, Shape: []int64{-1, int64(first.Channels), int64(first.Height), int64(first.Width)}}
	c := config.Defaults().Preprocess
	c.Preset = "unit"
	return preprocess.Resolve(c, in)
}
