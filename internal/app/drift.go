package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cvgate/cvgate/checks"
	"github.com/cvgate/cvgate/internal/analysis"
	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/progress"
	"github.com/cvgate/cvgate/internal/task"
	"github.com/cvgate/cvgate/internal/task/registry"
	"github.com/cvgate/cvgate/report"
)

const driftSummary = `Compare current images (e.g. recent production inputs) with reference images (e.g. the
validation set): image properties, labels, and, with --model, the model's predictions, one signal
at a time and all together (a domain classifier). Exit 0: no drift past a threshold; 1: drift
(the gate, see --fail-on); 2: could not run.

  cvgate drift --reference data/val --current prod/sample [--model model.onnx] [--out DIR]`

// runDrift is `cvgate drift`.
func (a *App) runDrift(ctx context.Context, args []string) int {
	var ref, cur string
	loaded, f, code := a.parseCheck("drift", driftSummary, args, func(fs *flag.FlagSet) {
		fs.StringVar(&ref, "reference", "", "reference images, a folder or manifest (default thresholds.drift.reference)")
		fs.StringVar(&cur, "current", "", "current images, a folder or manifest (default thresholds.drift.current)")
	})
	if code >= 0 {
		return code
	}
	// Flags are the last source, so they simply override what the config file said.
	if ref != "" {
		loaded.Thresholds.Drift.Reference = ref
	}
	if cur != "" {
		loaded.Thresholds.Drift.Current = cur
	}
	r, err := a.drift(ctx, loaded)
	return a.finish(r, err, loaded, f.quiet)
}

// driftChecks are the drift checks the config selects. The checks and skip lists are shared with
// `cvgate check` (one config file serves both), so patterns that name no drift check are ignored
// here rather than refused.
func driftChecks(cfg *config.Config) ([]checks.Check, error) {
	all := checks.Drift()
	ids := checks.IDs(all)
	keep := func(patterns []string) []string {
		var out []string
		for _, p := range patterns {
			if _, err := checks.Select(all, []string{p}, nil); err == nil {
				out = append(out, p)
			}
		}
		return out
	}
	include := keep(cfg.Checks)
	selected, err := checks.Select(all, include, keep(cfg.Skip))
	if err != nil {
		return nil, err
	}
	if len(selected) == 0 {
		return nil, fmt.Errorf("every drift check is skipped (drift checks: %s)", strings.Join(ids, ", "))
	}
	if selected = checks.Enabled(selected, cfg, include); len(selected) == 0 {
		return nil, errors.New("the drift checks are disabled (thresholds.drift.enabled: false): nothing to run")
	}
	return selected, nil
}

// drift loads both sets (sampled to thresholds.drift.sample images each), runs the model on both
// when one is given, and runs the drift checks. Errors are "could not run" problems.
func (a *App) drift(ctx context.Context, loaded *config.Loaded) (*report.Report, error) {
	wallStart := time.Now()
	startedAt := a.Now().UTC()
	dc := loaded.Thresholds.Drift
	if dc.Reference == "" {
		return nil, errors.New("no reference images: pass --reference DIR|MANIFEST (the images to compare with, e.g. the validation set) or set thresholds.drift.reference")
	}
	if dc.Current == "" {
		return nil, errors.New("no current images: pass --current DIR|MANIFEST (e.g. a sample of recent production inputs) or set thresholds.drift.current")
	}
	selected, err := driftChecks(&loaded.Config)
	if err != nil {
		return nil, err
	}
	s := &session{app: a, cfg: loaded, stats: &onnx.Stats{}, prog: progress.New(a.Stderr, a.StderrTerminal, nil), repoRoot: a.path(".")}
	if root, err := filepath.Abs(s.repoRoot); err == nil {
		s.repoRoot = root
	}

	// Detection and segmentation sets carry ground truth the task reads; the task is decided on
	// the reference set (the one with annotations; a production sample may have none).
	if _, err := s.reader(); err != nil {
		return nil, err
	}
	refChoice, err := registry.Choose(&loaded.Config, task.Input{Data: a.path(dc.Reference), Within: s.within(), List: s.list})
	if err != nil {
		return nil, fmt.Errorf("reference images: %w", err)
	}
	s.choice = refChoice
	var model *opened
	if len(loaded.Models) > 0 {
		models, err := a.expandModels(loaded.Models)
		if err != nil {
			return nil, err
		}
		if len(models) > 1 {
			return nil, fmt.Errorf("cvgate drift compares the predictions of one model; got %d (%s)", len(models), strings.Join(models, ", "))
		}
		lib, err := onnx.Locate(loaded.Runtime.ORTLib, a.getenv, a.Executable)
		if err != nil {
			return nil, err
		}
		if s.rt, err = onnx.Init(lib); err != nil {
			return nil, err
		}
		o := s.open(models[0])
		if o.err != nil {
			return nil, o.err
		}
		defer o.model.Close()
		model = &o
	}
	classes, err := s.outputClasses(model)
	if err != nil {
		return nil, err
	}

	var notes []string
	load := s.loadDriftSet
	if s.decodedTask() {
		load = s.loadTaskDriftSet
	}
	refDS, refFacts, note, err := load(ctx, "reference", dc.Reference, classes)
	if err != nil {
		return nil, err
	}
	notes = append(notes, note...)
	curDS, curFacts, note, err := load(ctx, "current", dc.Current, classes)
	if err != nil {
		return nil, err
	}
	notes = append(notes, note...)

	env := &checks.Env{Config: &loaded.Config, Data: curDS, Facts: curFacts, Out: loaded.Out, Progress: s.prog,
		Export: &failures.Exporter{Root: a.path(loaded.Out), MaxPerCheck: loaded.Thresholds.Failures.MaxPerCheck, Columns: loaded.Thresholds.Failures.SheetColumns}}
	env.Reference = &checks.Env{Config: &loaded.Config, Data: refDS, Facts: refFacts, Out: loaded.Out}
	env.Task, env.Reference.Task = s.task, s.task
	t := report.Target{Name: dc.Current + " vs " + dc.Reference}
	if model != nil {
		subj, err := s.subject("candidate", *model, curDS)
		if err == nil {
			err = placement(ctx, subj)
		}
		if err != nil {
			return nil, err
		}
		if err := s.bindTask(subj); err != nil {
			return nil, err
		}
		env.Candidate, env.Reference.Candidate = subj, subj
		t.Model = *subj.Info
		s.prog.Start("predict "+model.path, len(refDS.Items)+len(curDS.Items))
		if _, _, err := env.Reference.Clean(ctx); err != nil {
			s.prog.Done()
			return nil, fmt.Errorf("run %q on %q: %w", model.path, dc.Reference, err)
		}
		if _, _, err := env.Clean(ctx); err != nil {
			s.prog.Done()
			return nil, fmt.Errorf("run %q on %q: %w", model.path, dc.Current, err)
		}
		s.prog.Done()
		t.Model = *subj.Info
	}
	checksStart := time.Now()
	t.Results = checks.Run(ctx, env, selected, loaded.Runtime.CheckTimeout)

	r := &report.Report{
		SchemaVersion: report.SchemaVersion,
		Kind:          "drift",
		Tool:          report.Tool{Name: "cvgate", Version: a.Version, Commit: a.Commit, GoVersion: runtime.Version()},
		Run:           report.Run{StartedAt: startedAt.Format(time.RFC3339), CI: a.ciInfo(ctx), Notes: notes},
		Inputs:        report.Inputs{ConfigPath: loaded.File, ConfigSHA256: loaded.SHA256},
		Targets:       []report.Target{t},
	}
	r.Run.Notes = append(r.Run.Notes, providerNotes(r.Targets)...)
	if s.rt != nil {
		r.Tool.ORTVersion = s.rt.Version
	}
	if r.Inputs.Dataset, err = describeSet(dc.Current, curDS, curFacts); err != nil {
		return nil, err
	}
	if r.Inputs.Reference, err = describeSet(dc.Reference, refDS, refFacts); err != nil {
		return nil, err
	}
	c := &r.Run.Counters
	c.Images = len(refDS.Items) + len(curDS.Items)
	c.Unreadable = len(refDS.Unreadable) + len(curDS.Unreadable)
	c.DecodeSeconds = round3(refDS.Decode.Seconds() + curDS.Decode.Seconds())
	c.DecodedStoreMiB = round3(float64(refDS.StoreBytes+curDS.StoreBytes) / (1 << 20))
	c.ForwardPasses = s.stats.Samples()
	c.ORTCalls = s.stats.Calls()
	c.ORTSeconds = round3(s.stats.Duration().Seconds())
	c.ChecksSeconds = round3(time.Since(checksStart).Seconds())
	c.TotalSeconds = round3(time.Since(wallStart).Seconds())
	c.PeakRSSBytes = peakRSS()
	r.Normalize(checks.IDs(checks.Drift()))
	report.ApplyGate(r, loaded.FailOn)
	return r, nil
}

// outputClasses names the model's outputs: the labels file when given, else the output indices.
// Without a model, a labels file still names nothing: labels are compared as the data names them.
func (s *session) outputClasses(model *opened) (*dataset.Classes, error) {
	if s.cfg.Labels != "" {
		return s.readLabels(s.cfg.Labels)
	}
	if model == nil || len(model.model.Output.Shape) < 2 || model.model.Output.Shape[1] <= 0 {
		return nil, nil
	}
	names := make([]string, model.model.Output.Shape[1])
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	return dataset.NewClasses(names, "output indices")
}

// loadDriftSet lists one side, samples it to thresholds.drift.sample images (seeded), and decodes
// it with its facts. Labels stay as the data names them (Item.LabelName): the two sides may use
// different class lists, and a current set of production images has none. classes only names the
// model's outputs.
func (s *session) loadDriftSet(ctx context.Context, side, path string, classes *dataset.Classes) (*dataset.Dataset, *analysis.Facts, []string, error) {
	l, err := s.list(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s images: %w", side, err)
	}
	var notes []string
	if n := s.cfg.Thresholds.Drift.Sample; n > 0 && len(l.Entries) > n {
		notes = append(notes, fmt.Sprintf("%s: %d of %d images sampled (thresholds.drift.sample %d, seed %d)", side, n, len(l.Entries), n, s.cfg.Seed))
		l.Entries = sampleEntries(l.Entries, n, s.cfg.Seed, side)
	}
	s.prog.Start("decode "+side+" images", len(l.Entries))
	ds, facts, err := s.loadAnalysed(ctx, l, dataset.Options{MaxUnreadable: s.cfg.MaxUnreadable, Progress: func(done, total int) { s.prog.Add(1) }}, false)
	s.prog.Done()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s images: %w", side, err)
	}
	ds.Classes = classes
	if len(ds.Unreadable) > 0 {
		notes = append(notes, fmt.Sprintf("%s: %d unreadable image(s) left out", side, len(ds.Unreadable)))
	}
	return ds, facts, notes, nil
}

// sampleEntries keeps n entries chosen at random (seeded by the run's seed and the side), in their
// listing order.
func sampleEntries(entries []dataset.Entry, n int, seed uint64, side string) []dataset.Entry {
	h := fnv.New64a()
	h.Write([]byte(side))
	r := rand.New(rand.NewPCG(seed, h.Sum64()))
	idx := r.Perm(len(entries))[:n]
	slices.Sort(idx)
	out := make([]dataset.Entry, n)
	for k, i := range idx {
		out[k] = entries[i]
	}
	return out
}

// driftFound reports whether any drift check found drift (warn or fail). A check that could not
// run says nothing either way.
func driftFound(r *report.Report) bool {
	for _, t := range r.Targets {
		for _, res := range t.Results {
			if res.Status == report.StatusWarn || res.Status == report.StatusFail {
				return true
			}
		}
	}
	return false
}

// actionDrift is the action's drift mode (input command: drift): the drift report, the step
// summary and outputs, and one GitHub issue that is opened while drift lasts and closed when it is
// gone. No pull request comment: drift is about data, not about a change.
func (a *App) actionDrift(ctx context.Context, gh *ghContext, p *publication, loaded *config.Loaded) int {
	p.mode = github.CommentOff
	r, err := a.drift(ctx, loaded)
	if err != nil {
		return a.actionCannotRun(ctx, p, err)
	}
	gh.recordCI(r, loaded.Publish.CommentID)
	if err := a.writeOutputs(r, loaded, false); err != nil {
		return a.actionCannotRun(ctx, p, err)
	}
	a.logf("%s (report: %s)", r.Gate.Headline(), p.files.reportJSON)
	a.publish(ctx, p, r)
	a.driftIssue(ctx, gh, p.rt, loaded, r)
	if r.Gate.ExitFailed {
		return ExitGateFailed
	}
	return ExitPass
}

// driftIssue opens or updates the drift issue when the report shows drift, and comments on and
// closes it when drift is gone (close_when_resolved). Like the PR comment, it never changes the
// exit code: a token without issues: write costs the issue, not the gate.
func (a *App) driftIssue(ctx context.Context, gh *ghContext, rt *github.Runtime, loaded *config.Loaded, r *report.Report) {
	if gh.repo == nil || !gh.token {
		a.logf("no repository or token: the drift issue is left alone")
		return
	}
	dc := loaded.Thresholds.Drift
	marker := github.Marker("drift:"+orDefault(loaded.Publish.CommentID, defaultCommentID), gh.ev.Workflow)
	var labels []string
	if dc.IssueLabel != "" {
		labels = []string{dc.IssueLabel}
	}
	ctx, cancel := context.WithTimeout(ctx, githubTimeout)
	defer cancel()
	run := runURL(gh.ev)
	if run == "" {
		run = "run " + r.Run.StartedAt
	}
	var res github.IssueResult
	var err error
	switch {
	case driftFound(r):
		body, berr := driftIssueBody(r, marker, run)
		if berr != nil {
			a.logf("render the drift issue: %v", berr)
			return
		}
		res, err = github.UpsertIssue(ctx, gh.repo, github.IssueSpec{
			Marker:  marker,
			Title:   "cvgate: data drift in " + loaded.Thresholds.Drift.Current,
			Body:    body,
			Labels:  labels,
			Comment: fmt.Sprintf("Drift is still there (%s): %s. The table above is up to date.", run, r.Gate.Headline()),
		})
	case !dc.CloseWhenResolve:
		res, err = commentOnly(ctx, gh.repo, marker, dc.IssueLabel, fmt.Sprintf("No drift past the thresholds in %s. The issue stays open (close_when_resolved is false).", run))
	default:
		res, err = github.ResolveIssue(ctx, gh.repo, marker, dc.IssueLabel, fmt.Sprintf("No drift past the thresholds in %s: closing. cvgate reopens a new issue if drift comes back.", run))
	}
	if err != nil {
		msg := fmt.Sprintf("cvgate could not update the drift issue: %v", err)
		if _, ok := errorsAs[*github.PermissionError](err); ok {
			msg += " (the workflow needs permissions: issues: write)"
		}
		a.logf("%s", msg)
		_ = rt.WarnOnce("drift-issue", msg+". The drift report is in this job's summary and outputs.")
		_ = rt.Flush()
		return
	}
	if res.Action != github.ActionNone {
		a.logf("drift issue %s: #%d %s", res.Action, res.Number, res.URL)
	}
}

// driftIssueBody is the issue: the results table and the details of every signal that drifted,
// within the issue size limit.
func driftIssueBody(r *report.Report, marker, run string) (string, error) {
	var b strings.Builder
	footer := fmt.Sprintf("\n\nLast checked by %s. cvgate updates this issue while drift lasts and closes it when a run finds none.\n", run)
	err := report.Markdown{Marker: marker, MaxBytes: github.MaxIssueBody - len(footer), FullReport: "the run's report.json"}.Write(&b, r)
	return b.String() + footer, err
}

// commentOnly comments on the open issue carrying marker, when there is one, and leaves it open.
func commentOnly(ctx context.Context, store github.IssueStore, marker, label, comment string) (github.IssueResult, error) {
	for _, l := range []string{label, ""} {
		issues, err := store.ListOpenIssues(ctx, l)
		if err != nil {
			return github.IssueResult{}, fmt.Errorf("list open issues labelled %q: %w", l, err)
		}
		for _, is := range issues {
			if strings.Contains(is.Body, marker) {
				if _, err := store.CreateComment(ctx, is.Number, comment); err != nil {
					return github.IssueResult{}, fmt.Errorf("comment on issue #%d: %w", is.Number, err)
				}
				return github.IssueResult{Number: is.Number, URL: is.URL, Action: github.ActionUpdated}, nil
			}
		}
		if label == "" {
			break
		}
	}
	return github.IssueResult{Action: github.ActionNone}, nil
}
