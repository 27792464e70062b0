package checks

import (
	"context"
	"fmt"
	"sort"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/task"
	"github.com/cvgate/cvgate/report"
)

// Drift for detection and segmentation: the task describes each side's ground truth (drift.labels)
// or predictions (drift.predictions) as signals, numeric (objects per image, box sizes and
// positions, foreground share) and categorical (object classes, classes present), compared as the
// classification drift checks compare theirs (KS, chi-square, PSI, Holm across the signals).

// truthSignals profiles a side's ground truth, when every image has some.
func truthSignals(p task.Profiler, e *Env) (task.Signals, bool) {
	xs := make([]any, len(e.Data.Items))
	items := allItems(len(e.Data.Items))
	truths, sizes := e.truthsOf(items)
	for i, t := range truths {
		if t == nil {
			return task.Signals{}, false
		}
		xs[i] = t
	}
	return p.Profile(xs, sizes), len(xs) > 0
}

// predictionSignals profiles a side's clean predictions.
func predictionSignals(ctx context.Context, p task.Profiler, e *Env) (task.Signals, error) {
	cand, _, err := e.Clean(ctx)
	if err != nil {
		return task.Signals{}, err
	}
	xs := make([]any, len(cand.Task))
	for i, x := range cand.Task {
		xs[i] = x
	}
	_, sizes := e.truthsOf(cand.Indices)
	return p.Profile(xs, sizes), nil
}

// signalDrift compares two sides' signals.
func signalDrift(what string, ref, cur task.Signals, cfg config.Drift) (*report.Result, error) {
	var shifts []*shift
	var names []string
	for name := range ref.Numeric {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r, c := ref.Numeric[name], cur.Numeric[name]
		if len(r) < 2 || len(c) < 2 {
			continue
		}
		s, err := numericShift(name, r, c)
		if err != nil {
			return nil, err
		}
		shifts = append(shifts, s)
	}
	names = names[:0]
	for name := range ref.Categorical {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r, c := ref.Categorical[name], cur.Categorical[name]
		if len(r) == 0 || len(c) == 0 {
			continue
		}
		s, err := categoricalShift(name, r, c)
		if err != nil {
			return nil, err
		}
		shifts = append(shifts, s)
	}
	if len(shifts) == 0 {
		return nil, Skip("no %s signal has samples on both sets", what)
	}
	if err := decide(shifts, cfg); err != nil {
		return nil, err
	}
	res := &report.Result{Status: report.StatusPass, Threshold: driftThreshold(cfg), Metrics: map[string]float64{"signals": float64(len(shifts))}}
	shiftMetrics(res.Metrics, shifts)
	res.Summary = fmt.Sprintf("%s stable over %d signals", what, len(shifts))
	if d := drifted(shifts); len(d) > 0 {
		res.Status = report.StatusFail
		res.Summary = fmt.Sprintf("%s drifted: %s", what, describeShifts(d, 3))
	}
	res.Details = append(res.Details, report.Section{Title: "Signals", Table: shiftTable(shifts)})
	return res, nil
}

// taskLabelDrift is drift.labels for decoded tasks.
func taskLabelDrift(env *Env) (*report.Result, error) {
	p, ok := env.Task.(task.Profiler)
	if !ok {
		return nil, Skip("%s ground truth has no drift signals yet", env.Task.Kind())
	}
	ref, okR := truthSignals(p, env.Reference)
	cur, okC := truthSignals(p, env)
	if !okR || !okC {
		return nil, Skip("ground truth is needed on both sets (one of them has no annotations)")
	}
	return signalDrift("ground truth", ref, cur, env.Config.Thresholds.Drift)
}

// taskPredictionDrift is drift.predictions for decoded tasks.
func taskPredictionDrift(ctx context.Context, env *Env) (*report.Result, error) {
	p, ok := env.Task.(task.Profiler)
	if !ok {
		return nil, Skip("%s predictions have no drift signals yet", env.Task.Kind())
	}
	ref, err := predictionSignals(ctx, p, env.Reference)
	if err != nil {
		return nil, err
	}
	cur, err := predictionSignals(ctx, p, env)
	if err != nil {
		return nil, err
	}
	return signalDrift("predictions", ref, cur, env.Config.Thresholds.Drift)
}
