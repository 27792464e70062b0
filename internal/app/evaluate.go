package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cvgate/cvgate/checks"
	"github.com/cvgate/cvgate/internal/analysis"
	"github.com/cvgate/cvgate/internal/baseline"
	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/confine"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/onnxproto"
	"github.com/cvgate/cvgate/internal/predcache"
	"github.com/cvgate/cvgate/internal/preprocess"
	"github.com/cvgate/cvgate/internal/progress"
	"github.com/cvgate/cvgate/internal/task"
	"github.com/cvgate/cvgate/internal/task/registry"
	"github.com/cvgate/cvgate/report"
)

// session holds what one evaluation shares across its targets.
type session struct {
	app      *App
	cfg      *config.Loaded
	rt       *onnx.Runtime
	stats    *onnx.Stats
	prog     *progress.Reporter
	counters report.Counters
	tmpDir   string
	// remote reads baselines through the GitHub API (a git: ref the checkout lacks, release:
	// assets); its zero value means local only.
	remote baseline.Remote
	// baselinePaths maps a candidate to its path at the baseline ref when the change renamed it.
	baselinePaths map[string]string
	// repoRoot bounds external data paths.
	repoRoot string
	// ws confines every input path (nil with --allow-outside-workspace); data reads datasets
	// through it under the runtime limits. Both are set up on first use (see reader).
	ws   *confine.Root
	data *dataset.Reader
	// keepEnvs keeps each target's Env in envs for evalOptions.inspect.
	keepEnvs bool
	envs     []*checks.Env
	// facts are the evaluation images' properties and hashes, computed while decoding; train and
	// trainFacts are data.leakage's training set (hashed, no pixels kept), when configured.
	facts      *analysis.Facts
	train      *dataset.Dataset
	trainFacts *analysis.Facts
	// choice is the run's task and its ground truth; task is nil for classification.
	choice registry.Choice
	task   task.Task
	// cache holds the per-image records (nil: none); shard makes the run one shard of a
	// sharded run; mergeDirs are the shards' record folders a merge reads.
	cache     *predcache.Store
	shard     *checks.Shard
	mergeDirs []string
}

// opened is a model that ONNX Runtime loaded, or the reason it did not.
type opened struct {
	path  string
	file  string // on disk; for a baseline, the resolved copy
	model *onnx.Model
	proto *onnxproto.Model
	err   error
}

// evaluate runs the whole check pipeline on the configured models and returns the report.
// Errors are "could not run" problems (exit 2); model failures are results in the report.
func (a *App) evaluate(ctx context.Context, cfg *config.Loaded) (*report.Report, error) {
	return a.evaluateWith(ctx, cfg, evalOptions{})
}

// evalOptions is what a GitHub run adds to an evaluation.
type evalOptions struct {
	remote        baseline.Remote
	baselinePaths map[string]string // candidate -> its path at the baseline ref (renames)
	// inspect is called once every target ran, while the candidates' sessions are still open
	// (cvgate compare ranks them); it may add to the report.
	inspect func(ctx context.Context, r *report.Report, envs []*checks.Env) error
	// mergeDirs are the record folders of the shards a merge reads; verify checks, before any
	// check runs, that the report's inputs are those the shards ran on.
	mergeDirs []string
	verify    func(r *report.Report, models []opened) error
}

func (a *App) evaluateWith(ctx context.Context, cfg *config.Loaded, opts evalOptions) (*report.Report, error) {
	wallStart := time.Now()
	startedAt := a.Now().UTC()
	// The whole run has a deadline; when it passes, or a signal arrives, every forward pass stops
	// (onnx.Run terminates the session) and the report says what did not finish.
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.Runtime.Timeout, &RunTimeoutError{Limit: cfg.Runtime.Timeout})
	defer cancel()
	s := &session{app: a, cfg: cfg, stats: &onnx.Stats{}, prog: progress.New(a.Stderr, a.StderrTerminal, nil), repoRoot: a.path("."),
		remote: opts.remote, baselinePaths: opts.baselinePaths, keepEnvs: opts.inspect != nil, mergeDirs: opts.mergeDirs}
	if root, err := filepath.Abs(s.repoRoot); err == nil {
		s.repoRoot = root
	}
	if s.remote.Root == "" {
		s.remote.Root = s.repoRoot
	}
	if _, err := s.reader(); err != nil {
		return nil, err
	}
	// The output folder is checked (and created) before any work, so that a folder outside the
	// workspace fails the run at once rather than after every check has run.
	if ws, err := a.workspace(); err != nil {
		return nil, err
	} else if out, err := confine.OpenOut(a.path(cfg.Out), ws); err != nil {
		return nil, err
	} else {
		out.Close()
	}
	sh, err := a.shard(cfg.Runtime)
	if err != nil {
		return nil, err
	}
	s.shard = sh
	if err := s.openCache(a.path(cfg.Out)); err != nil {
		return nil, err
	}
	defer s.closeCache(nil)

	models, err := a.expandModels(cfg.Models)
	if err != nil {
		return nil, err
	}
	if cfg.Data == "" {
		return nil, errors.New("no data: pass --data DIR|MANIFEST (a class-per-folder directory or a CSV/JSONL manifest) or set data in .cvgate.yml")
	}
	if _, err := s.ws.Stat(a.path(cfg.Data)); err != nil {
		return nil, fmt.Errorf("open data %q: %w", cfg.Data, err)
	}
	include := cfg.Checks
	selected, err := checks.Select(checks.All(), include, cfg.Skip)
	if err != nil {
		return nil, err
	}
	selected = checks.Enabled(selected, &cfg.Config, include)
	if s.shard != nil {
		// A shard only warms the records of the checks that produce them.
		selected = checks.RecordProducers(selected)
	}
	if err := s.chooseTask(); err != nil {
		return nil, err
	}

	initStart := time.Now()
	lib, err := onnx.Locate(cfg.Runtime.ORTLib, a.getenv, a.Executable)
	if err != nil {
		return nil, err
	}
	if s.rt, err = onnx.Init(lib); err != nil {
		return nil, err
	}
	s.counters.ORTInitSeconds = time.Since(initStart).Seconds()
	if s.tmpDir, err = os.MkdirTemp("", "cvgate-"); err != nil {
		return nil, fmt.Errorf("create temporary folder: %w", err)
	}
	defer os.RemoveAll(s.tmpDir)

	// Open every candidate first: the first one that loads tells how many classes to expect.
	loadStart := time.Now()
	var cands []opened
	for _, m := range models {
		cands = append(cands, s.open(m))
	}
	defer func() {
		for _, c := range cands {
			if c.model != nil {
				c.model.Close()
			}
		}
	}()
	s.counters.LoadSeconds = time.Since(loadStart).Seconds()
	// An execution provider that was required and cannot be had is this machine's problem, not
	// the model's: the run stops (exit 2) rather than failing model.load.
	for _, c := range cands {
		var pe *onnx.ProviderError
		if errors.As(c.err, &pe) {
			return nil, c.err
		}
	}

	ds, err := s.loadData(ctx, cands)
	if err != nil {
		return nil, interrupted(ctx, err)
	}
	if err := s.loadTrain(ctx, selected); err != nil {
		return nil, interrupted(ctx, err)
	}

	digest, err := ds.Digest()
	if err != nil {
		return nil, err
	}
	r := &report.Report{
		SchemaVersion: report.SchemaVersion,
		Kind:          "check",
		Tool:          report.Tool{Name: "cvgate", Version: a.Version, Commit: a.Commit, GoVersion: runtime.Version(), ORTVersion: s.rt.Version},
		Run:           report.Run{StartedAt: startedAt.Format(time.RFC3339), CI: a.ciInfo(ctx)},
		Inputs: report.Inputs{ConfigPath: cfg.File, ConfigSHA256: cfg.SHA256, Dataset: &report.Dataset{
			Path: cfg.Data, SHA256: digest, Images: len(ds.Items), Attributes: ds.Attributes,
			DecodeSeconds: round3(ds.Decode.Seconds()),
		}},
	}
	s.describeTask(r.Inputs.Dataset)
	if s.task != nil {
		r.Inputs.Dataset.Objects = objectCount(ds, s.task.Kind())
		r.Run.Notes = append(r.Run.Notes, s.choice.Reader.Notes()...)
	} else if ds.Classes != nil {
		r.Inputs.Dataset.Classes = ds.Classes.Names
		r.Inputs.Dataset.LabelSource = ds.Classes.Source
		r.Inputs.Dataset.PerClass = ds.PerClass()
	} else {
		r.Inputs.Dataset.LabelSource = "none (unlabelled)"
	}
	for _, p := range ds.Unreadable {
		r.Inputs.Dataset.Unreadable = append(r.Inputs.Dataset.Unreadable, report.Problem{Path: p.Path, Reason: p.Reason})
	}
	if len(ds.Unreadable) > 0 {
		r.Run.Notes = append(r.Run.Notes, fmt.Sprintf("%d unreadable image(s) were left out (under max_unreadable %.1f%%): see inputs.dataset.unreadable", len(ds.Unreadable), 100*cfg.MaxUnreadable))
	}
	if err := s.describeAnalysis(r, ds); err != nil {
		return nil, err
	}
	if opts.verify != nil {
		if err := opts.verify(r, cands); err != nil {
			return nil, err
		}
	}

	checksStart := time.Now()
	for _, c := range cands {
		if ctx.Err() != nil {
			r.Targets = append(r.Targets, *notRun(c.path, selected, "interrupted before this model ran: "+causeOf(ctx)))
			continue
		}
		t, err := s.evaluateTarget(ctx, c, ds, selected)
		if err != nil && ctx.Err() == nil {
			return nil, err
		}
		if t == nil {
			t = notRun(c.path, selected, "interrupted: "+causeOf(ctx))
		}
		r.Targets = append(r.Targets, *t)
	}
	r.Run.Notes = append(r.Run.Notes, providerNotes(r.Targets)...)
	if opts.inspect != nil && ctx.Err() == nil {
		if err := opts.inspect(ctx, r, s.envs); err != nil {
			return nil, interrupted(ctx, err)
		}
	}
	s.counters.ChecksSeconds = time.Since(checksStart).Seconds()

	c := &s.counters
	c.Images = len(ds.Items)
	c.Unreadable = len(ds.Unreadable)
	c.DecodeSeconds = round3(ds.Decode.Seconds())
	c.DecodedStoreMiB = round3(float64(ds.StoreBytes) / (1 << 20))
	c.ForwardPasses = s.stats.Samples()
	c.ORTCalls = s.stats.Calls()
	c.ORTSeconds = round3(s.stats.Duration().Seconds())
	c.ORTInitSeconds = round3(c.ORTInitSeconds)
	c.LoadSeconds = round3(c.LoadSeconds)
	c.ChecksSeconds = round3(c.ChecksSeconds)
	c.TotalSeconds = round3(time.Since(wallStart).Seconds())
	c.PeakRSSBytes = peakRSS()
	r.Run.Counters = *c
	var info *ShardInfo
	if s.shard != nil && ctx.Err() == nil {
		if info, err = s.shardInfo(r, a.Version); err != nil {
			return nil, err
		}
	}
	if err := s.closeCache(r); err != nil {
		if s.shard != nil {
			return nil, err // a shard's records are its result
		}
		r.Run.Notes = append(r.Run.Notes, err.Error())
	}
	if info != nil {
		if err := writeShardInfo(a.path(cfg.Out), info); err != nil {
			return nil, err
		}
	}
	r.Normalize(checks.IDs(checks.All()))
	report.ApplyGate(r, cfg.FailOn)
	if ctx.Err() != nil {
		// Checks that did not finish are errors, so the gate cannot pass on a partial report.
		r.Run.Notes = append(r.Run.Notes, fmt.Sprintf("INTERRUPTED after %.1f s (%s): this report is partial; checks marked \"interrupted\" did not finish",
			time.Since(wallStart).Seconds(), causeOf(ctx)))
		return r, &InterruptedError{Cause: context.Cause(ctx)}
	}
	return r, nil
}

// InterruptedError says that the run stopped before it finished, because of a signal or
// runtime.timeout; the report that comes with it is partial.
type InterruptedError struct {
	Cause error
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("interrupted (%v): the run stopped before every check finished", e.Cause)
}

func (e *InterruptedError) Unwrap() error { return e.Cause }

// RunTimeoutError is the cause of a run stopped by runtime.timeout.
type RunTimeoutError struct {
	Limit time.Duration
}

func (e *RunTimeoutError) Error() string {
	return fmt.Sprintf("the run took longer than runtime.timeout (%s)", e.Limit)
}

// interrupted turns an error that a stopped run caused into an *InterruptedError; other errors
// pass through.
func interrupted(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	return &InterruptedError{Cause: context.Cause(ctx)}
}

func causeOf(ctx context.Context) string {
	if err := context.Cause(ctx); err != nil {
		return err.Error()
	}
	return "not stopped"
}

// notRun is a target none of whose checks ran, each marked as an error with the reason.
func notRun(name string, selected []checks.Check, reason string) *report.Target {
	t := &report.Target{Name: name, Model: report.Model{Path: name}}
	for _, ch := range selected {
		t.Results = append(t.Results, report.Result{ID: ch.ID(), Title: ch.Title(), Status: report.StatusError, Summary: "not run: " + reason, Error: reason})
	}
	return t
}

// runChecks runs the selected checks one at a time, so that a run stopped midway (signal or
// runtime.timeout) keeps the results that finished and marks the rest "interrupted" rather than
// letting them read as the checks' own errors.
func runChecks(ctx context.Context, env *checks.Env, selected []checks.Check, timeout time.Duration) []report.Result {
	out := make([]report.Result, 0, len(selected))
	for _, ch := range selected {
		if ctx.Err() != nil {
			out = append(out, report.Result{ID: ch.ID(), Title: ch.Title(), Status: report.StatusError,
				Summary: "not run: interrupted", Error: "interrupted before this check started: " + causeOf(ctx)})
			continue
		}
		res := checks.Run(ctx, env, []checks.Check{ch}, timeout)[0]
		if ctx.Err() != nil && res.Status == report.StatusError {
			res.Summary = "interrupted: " + causeOf(ctx)
			res.Error = "interrupted while running: " + causeOf(ctx) + " (" + res.Error + ")"
		}
		out = append(out, res)
	}
	return out
}

// reader is the session's dataset reader: confined to the workspace, under the runtime limits.
func (s *session) reader() (*dataset.Reader, error) {
	if s.data != nil {
		return s.data, nil
	}
	ws, err := s.app.workspace()
	if err != nil {
		return nil, err
	}
	rc := s.cfg.Runtime
	s.ws = ws
	s.data = &dataset.Reader{Root: ws, Limits: dataset.Limits{
		MaxFileBytes: rc.MaxFileMB << 20, MaxPixels: rc.MaxPixels, MaxAspect: rc.MaxAspect, MaxStoreBytes: rc.MemoryMB << 20,
	}}
	return s.data, nil
}

// list lists a dataset (a folder or manifest path as configured) through the session's reader.
func (s *session) list(path string) (*dataset.Listing, error) {
	r, err := s.reader()
	if err != nil {
		return nil, err
	}
	return r.List(s.app.path(path))
}

// readLabels reads a labels file through the session's reader.
func (s *session) readLabels(path string) (*dataset.Classes, error) {
	r, err := s.reader()
	if err != nil {
		return nil, err
	}
	return r.ReadLabels(s.app.path(path))
}

// modelOptions are the session options of every model the run opens.
func (s *session) modelOptions() onnx.Options {
	rc, pc := s.cfg.Runtime, s.cfg.Preprocess
	return onnx.Options{Threads: rc.Threads, BatchSize: rc.BatchSize, Provider: string(rc.ExecutionProvider), Input: pc.Input, Output: pc.Output,
		PassTimeout: rc.PassTimeout, Budget: s.budget(), AllOutputs: s.decodedTask()}
}

// budget bounds the models' batch buffers: a quarter of runtime.memory_mb (the rest is the
// decoded images').
func (s *session) budget() onnx.Budget { return onnx.Budget{Bytes: s.cfg.Runtime.MemoryMB << 20 / 4} }

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

// expandModels resolves globs; a pattern that matches nothing is an error naming it.
func (a *App) expandModels(patterns []string) ([]string, error) {
	if len(patterns) == 0 {
		return nil, errors.New("no model to check: pass --model PATH (or MODEL.onnx as an argument), or set models in .cvgate.yml")
	}
	var out, missing []string
	seen := map[string]bool{}
	for _, p := range patterns {
		var matches []string
		// A file that exists is taken as named, so that a model called "a[1].onnx" is not read
		// as a pattern; anything else with glob characters is a pattern.
		if _, err := os.Lstat(a.path(p)); err != nil && strings.ContainsAny(p, "*?[") {
			m, err := filepath.Glob(a.path(p))
			if err != nil {
				return nil, fmt.Errorf("model pattern %q: %w", p, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("model pattern %q matches no file", p)
			}
			sort.Strings(m)
			for _, x := range m {
				if a.Dir != "" {
					if rel, err := filepath.Rel(a.Dir, x); err == nil {
						x = rel
					}
				}
				matches = append(matches, x)
			}
		} else {
			// A model named explicitly that is not there is a mistake in the command or the
			// config, not a model that fails: cvgate cannot run (exit 2). One that exists but
			// does not load is a failing model.load.
			if _, err := os.Lstat(a.path(p)); errors.Is(err, fs.ErrNotExist) {
				missing = append(missing, p)
				continue
			}
			matches = []string{p}
		}
		for _, m := range matches {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	if len(missing) > 0 {
		where := "the working directory"
		if a.Dir != "" {
			where = a.Dir
		}
		return nil, fmt.Errorf("model file %s not found (relative paths are read from %s): check --model, the positional arguments or models in the config", quoteList(missing), where)
	}
	return out, nil
}

// quoteList writes names quoted and comma-separated, the first few of many.
func quoteList(names []string) string {
	var q []string
	for i, n := range names {
		if i == 5 {
			q = append(q, fmt.Sprintf("and %d more", len(names)-i))
			break
		}
		q = append(q, strconv.Quote(n))
	}
	return strings.Join(q, ", ")
}

// open opens a model named by the user (a candidate, or a baseline PATH): it must be a regular
// file inside the workspace.
func (s *session) open(path string) opened {
	full := s.app.path(path)
	if _, err := s.reader(); err != nil {
		return opened{path: path, file: full, err: err}
	}
	if _, err := s.ws.Check(full); err != nil {
		return opened{path: path, file: full, err: fmt.Errorf("open model %q: %w", path, err)}
	}
	return s.openFile(path, full)
}

// openFile opens a model file: the header is read and its external data checked without ONNX
// Runtime first, then ONNX Runtime loads it.
func (s *session) openFile(path, full string) opened {
	o := opened{path: path, file: full}
	if _, err := os.Stat(full); err != nil {
		o.err = fmt.Errorf("open model %q: %w", path, err)
		return o
	}
	// Read the header without ONNX Runtime first: it gives a precise message for a file that is
	// not an ONNX model at all, and the opsets and metadata ONNX Runtime does not expose.
	proto, err := onnxproto.Read(full)
	if err != nil {
		o.err = err
		return o
	}
	o.proto = proto
	// External data may only come from the model's own folder, checked before ONNX Runtime
	// opens anything the model names (a location of ../../../etc/shadow, or a symlink out).
	if err := proto.CheckExternalData(full, filepath.Dir(full)); err != nil {
		o.err = err
		return o
	}
	m, err := onnx.Open(s.rt, full, s.modelOptions(), s.stats)
	if err != nil {
		if !s.decodedTask() {
			err = taskHint(err)
		}
		o.err = err
		return o
	}
	m.Path = path
	o.model = m
	return o
}

// loadData lists and decodes the evaluation images once, and maps labels to output indices.
func (s *session) loadData(ctx context.Context, cands []opened) (*dataset.Dataset, error) {
	if s.decodedTask() {
		return s.loadTaskData(ctx)
	}
	cfg := s.cfg
	listing, err := s.list(cfg.Data)
	if err != nil {
		return nil, err
	}
	outputs := 0
	for _, c := range cands {
		if c.model != nil && len(c.model.Output.Shape) >= 2 && c.model.Output.Shape[1] > 0 {
			outputs = int(c.model.Output.Shape[1])
			break
		}
	}
	var classes *dataset.Classes
	switch {
	case cfg.Labels != "":
		if classes, err = s.readLabels(cfg.Labels); err != nil {
			return nil, err
		}
	case listing.FolderClasses != nil:
		if classes, err = dataset.FolderClasses(listing.FolderClasses, outputs); err != nil {
			return nil, err
		}
	default:
		names := distinctLabels(listing)
		if len(names) > 0 {
			if classes, err = dataset.FolderClasses(names, outputs); err != nil {
				return nil, err
			}
			classes.Source = strings.Replace(classes.Source, "folder names", "manifest labels", 1)
		}
	}
	if classes != nil && outputs > 0 && len(classes.Names) != outputs {
		// The source may carry its own hint after a semicolon; this message gives the hint
		// that fits the mismatch.
		where, _, _ := strings.Cut(classes.Source, ";")
		hint := "pass --labels FILE with one class name per model output, in output order"
		if cfg.Labels != "" {
			hint = "fix the labels file: one line per model output, in output order"
		}
		return nil, fmt.Errorf("the model outputs %d classes but %s gives %d (%s); %s",
			outputs, where, len(classes.Names), previewNames(classes.Names), hint)
	}
	s.prog.Start("decode images", len(listing.Entries))
	ds, facts, err := s.loadAnalysed(ctx, listing, dataset.Options{
		Classes:       classes,
		MaxUnreadable: cfg.MaxUnreadable,
		Progress:      func(done, total int) { s.prog.Add(1) },
	}, false)
	s.prog.Done()
	if err != nil {
		return nil, err
	}
	s.facts = facts
	return ds, nil
}

func distinctLabels(l *dataset.Listing) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range l.Entries {
		if e.LabelName != "" && !seen[e.LabelName] {
			seen[e.LabelName] = true
			out = append(out, e.LabelName)
		}
	}
	return out
}

func previewNames(names []string) string {
	if len(names) <= 6 {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:6], ", ") + ", ..."
}

// evaluateTarget prepares one candidate (preprocessing, baseline) and runs the suite on it.
func (s *session) evaluateTarget(ctx context.Context, c opened, ds *dataset.Dataset, selected []checks.Check) (*report.Target, error) {
	t := &report.Target{Name: c.path, Model: report.Model{Path: c.path}}
	if c.err != nil {
		// The model itself is broken: that is a failing result, not a failed run.
		s.app.logf("%v", c.err)
		t.Results = append(t.Results, report.Result{ID: checks.IDModelLoad, Title: checks.ModelLoad{}.Title(), Status: report.StatusFail,
			Summary: "the model does not load: " + firstLine(c.err.Error()), Error: c.err.Error(), Metrics: map[string]float64{}})
		// The checks of the data alone still run: a broken model must not hide broken data.
		env := &checks.Env{Task: s.task, Config: &s.cfg.Config, Data: ds, Out: s.cfg.Out, Progress: s.prog,
			Facts: s.facts, Train: s.train, TrainFacts: s.trainFacts}
		var dataOnly []checks.Check
		for _, ch := range selected {
			switch {
			case ch.ID() == checks.IDModelLoad:
			case !checks.NeedsModel(ch):
				dataOnly = append(dataOnly, ch)
			default:
				t.Results = append(t.Results, report.Result{ID: ch.ID(), Title: ch.Title(), Status: report.StatusSkip, Summary: "skipped: the model did not load", Error: "the model did not load"})
			}
		}
		t.Results = append(t.Results, runChecks(ctx, env, dataOnly, s.cfg.Runtime.CheckTimeout)...)
		return t, nil
	}
	cand, err := s.subject("candidate", c, ds)
	if err == nil {
		err = placement(ctx, cand)
	}
	if err != nil {
		return nil, err
	}
	if err := s.bindTask(cand); err != nil {
		return nil, err
	}
	t.Model = *cand.Info

	env := &checks.Env{
		Cache:     s.cache,
		Shard:     s.shard,
		Task:      s.task,
		Config:    &s.cfg.Config,
		Data:      ds,
		Candidate: cand,
		Out:       s.cfg.Out,
		Progress:  s.prog,
		Export: &failures.Exporter{Root: s.app.path(s.cfg.Out), MaxPerCheck: s.cfg.Thresholds.Failures.MaxPerCheck,
			Columns: s.cfg.Thresholds.Failures.SheetColumns, Workspace: s.ws},
		Facts:      s.facts,
		Train:      s.train,
		TrainFacts: s.trainFacts,
	}
	base, note, err := s.baseline(ctx, c.path, ds)
	if err != nil {
		return nil, interrupted(ctx, err)
	}
	if base != nil {
		env.Baseline = base
		defer base.Model.Close()
	} else {
		env.BaselineNote = note
		t.BaselineNote = note
	}

	// The clean pass first, as its own phase: every check reuses it, and a model that cannot be
	// fed the data is a setup problem to report before any check runs.
	// It runs under runtime.check_timeout like any check: a model whose forward pass never ends
	// (a Loop of 10^15 iterations) is a failing target, not a hung run.
	s.prog.Start("predict "+c.path, len(ds.Items)*len(env.Subjects()))
	cleanCtx, cancel := context.WithTimeout(ctx, s.cfg.Runtime.CheckTimeout)
	_, _, err = env.Clean(cleanCtx)
	cancel()
	s.prog.Done()
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, interrupted(ctx, err)
	case err != nil && errors.Is(err, context.DeadlineExceeded):
		reason := fmt.Sprintf("the clean pass of %q on %q did not finish within runtime.check_timeout (%s): %v", c.path, s.cfg.Data, s.cfg.Runtime.CheckTimeout, err)
		s.app.logf("%s", reason)
		nt := notRun(c.path, selected, reason)
		nt.Model = t.Model
		return nt, nil
	case err != nil:
		return nil, fmt.Errorf("run %q on %q: %w", c.path, s.cfg.Data, err)
	}
	for _, sub := range env.Subjects() {
		if sub.Decoder != nil {
			sub.Info.Output = sub.Decoder.Describe() // resolved on the clean pass's first batch
		}
	}
	t.Results = runChecks(ctx, env, selected, s.cfg.Runtime.CheckTimeout)
	t.Model = *cand.Info
	t.Cache = cacheUse(env)
	if s.keepEnvs {
		s.envs = append(s.envs, env)
	}
	if base != nil {
		bi := *base.Info
		t.Baseline = &bi
	}
	return t, nil
}

// dataSizes is what the decoded images say about their size, for a model whose height and width
// are dynamic: the one size they all have, or how many there are.
func dataSizes(ds *dataset.Dataset) preprocess.DataSizes {
	seen := map[[2]int]bool{}
	var order [][2]int
	for _, it := range ds.Items {
		if it.Image == nil {
			continue
		}
		k := [2]int{it.Image.Width, it.Image.Height}
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
	}
	out := preprocess.DataSizes{Distinct: len(order)}
	if len(order) == 1 {
		out.Width, out.Height = order[0][0], order[0][1]
	}
	for i, k := range order {
		if i == 3 {
			out.Examples = append(out.Examples, "...")
			break
		}
		out.Examples = append(out.Examples, fmt.Sprintf("%dx%d", k[0], k[1]))
	}
	return out
}

// subject resolves a loaded model's preprocessing against the data and describes it.
func (s *session) subject(role string, c opened, ds *dataset.Dataset) (*checks.Subject, error) {
	pc := s.cfg.Preprocess
	defaultFit := s.choice.Kind == task.Detection && pc.Fit == "" && pc.Preset == "" && pc.CenterCrop == 0
	if defaultFit {
		// Detectors are trained on images whose aspect ratio is kept (YOLO's letterbox, or
		// torchvision's own resize): stretching would distort every box. Letterbox is their
		// default, as the report says; preprocess.fit overrides it.
		pc.Fit = "letterbox"
	}
	spec, err := preprocess.ResolveForData(pc, c.model.Input, dataSizes(ds))
	if err == nil && defaultFit {
		spec.Source += "; letterbox fit, the default for detectors (preprocess.fit: stretch to change it)"
	}
	if err != nil {
		return nil, fmt.Errorf("prepare %s %q: %w", role, c.path, err)
	}
	// Dynamic spatial dimensions are only decided now (preprocess.size): check them as Open
	// checked the fixed ones.
	if err := onnx.CheckDims(c.model, spec.Dims, s.budget()); err != nil {
		return nil, fmt.Errorf("prepare %s %q: %w", role, c.path, err)
	}
	counts := ds.ChannelCounts()
	if counts[spec.Channels] == 0 {
		other := 1
		if spec.Channels == 1 {
			other = 3
		}
		if err := spec.CheckChannels(other); err != nil {
			return nil, fmt.Errorf("feed %s %q with the images in %q: %w", role, c.path, s.cfg.Data, err)
		}
	}
	info := &report.Model{
		Path: c.path, SHA256: c.model.SHA256, SizeBytes: c.model.SizeBytes,
		Signature:  signature(c.model),
		Preprocess: describePreprocess(spec),
		Metadata:   c.model.Metadata.Custom,
	}
	if c.proto != nil {
		info.IRVersion = c.proto.IRVersion
		info.Producer = strings.TrimSpace(c.proto.ProducerName + " " + c.proto.ProducerVersion)
		info.Opsets = map[string]int64{}
		for _, o := range c.proto.OpsetImports {
			d := o.Domain
			if d == "" {
				d = "ai.onnx"
			}
			info.Opsets[d] = o.Version
		}
	}
	id, err := cacheID(c.file, c.model.SHA256, c.proto, s.rt.Version, string(s.cfg.Runtime.ExecutionProvider))
	if err != nil {
		// Without a complete identity the model's records are neither read nor stored.
		s.app.logf("prediction cache: %v", err)
		id = ""
	}
	return &checks.Subject{Role: role, Name: c.path, Model: c.model, Spec: spec, Info: info, Proto: c.proto, RepoRoot: s.repoRoot, Reopen: s.reopener(c.file), CacheID: id}, nil
}

// baseline resolves, opens and prepares the baseline of a candidate. A baseline that cannot be
// found or loaded is not fatal: comparison checks skip with the returned note.
func (s *session) baseline(ctx context.Context, candidate string, ds *dataset.Dataset) (*checks.Subject, string, error) {
	spec, err := baseline.Parse(s.cfg.Baseline)
	if err != nil {
		return nil, "", err
	}
	if spec.Kind == "none" {
		return nil, "no baseline configured (set --baseline PATH, git:REF or release:TAG:ASSET to compare)", nil
	}
	if spec.Kind == "path" {
		spec.Path = s.app.path(spec.Path)
		if _, err := s.ws.Check(spec.Path); err != nil {
			note := fmt.Sprintf("baseline %s cannot be read: %v", spec.Path, err)
			s.app.logf("%s", note)
			return nil, note, nil
		}
	}
	if spec.Kind == "git" {
		spec.Path = s.baselinePaths[candidate]
	}
	res, err := baseline.Resolve(ctx, spec, s.app.path(candidate), s.tmpDir, s.remote)
	var un *baseline.Unavailable
	if errors.As(err, &un) {
		s.app.logf("no baseline for %s: %s", candidate, un.Reason)
		return nil, un.Reason, nil
	}
	if err != nil {
		return nil, "", err
	}
	// res.File is the user's path (checked above) or cvgate's own copy of a git or release blob.
	o := s.openFile(res.File, res.File)
	var pe *onnx.ProviderError
	if errors.As(o.err, &pe) {
		return nil, "", o.err
	}
	if o.err != nil {
		note := fmt.Sprintf("baseline %s does not load: %v", res.Source, o.err)
		s.app.logf("%s", note)
		return nil, note, nil
	}
	o.path = res.Source
	o.model.Path = res.Source
	sub, err := s.subject("baseline", o, ds)
	if err == nil {
		if err := placement(ctx, sub); err != nil {
			o.model.Close()
			return nil, "", err
		}
		err = s.bindTask(sub)
	}
	if err != nil {
		o.model.Close()
		note := fmt.Sprintf("baseline %s cannot be fed the same images: %v", res.Source, err)
		s.app.logf("%s", note)
		return nil, note, nil
	}
	sub.Info.Source = res.Source
	return sub, "", nil
}

// placement measures where a session that obtained CUDA runs its nodes, on the model's own
// input shape, and records the provider asked for and obtained in the report. A session that was
// required to get CUDA and runs every node on the CPU stops the run.
func placement(ctx context.Context, sub *checks.Subject) error {
	if err := sub.Model.ResolvePlacement(ctx, sub.Spec.Dims); err != nil {
		return fmt.Errorf("%s %q: %w", sub.Role, sub.Name, err)
	}
	p := sub.Model.Placement()
	sub.Info.ExecutionProvider = &report.ExecutionProvider{Requested: p.Requested, Obtained: p.Obtained, Nodes: p.Nodes, CPUOps: p.CPUOps, Note: p.Note}
	return nil
}

// providerNotes repeats each model's execution-provider note among the run's notes.
func providerNotes(targets []report.Target) []string {
	var notes []string
	for _, t := range targets {
		for _, m := range []*report.Model{&t.Model, t.Baseline} {
			if m != nil && m.ExecutionProvider != nil && m.ExecutionProvider.Note != "" {
				notes = append(notes, fmt.Sprintf("%s: %s", m.Path, m.ExecutionProvider.Note))
			}
		}
	}
	return notes
}

func signature(m *onnx.Model) *report.Signature {
	sig := &report.Signature{Inputs: []report.Tensor{}, Outputs: []report.Tensor{}}
	for _, t := range m.Inputs {
		sig.Inputs = append(sig.Inputs, report.Tensor{Name: t.Name, DType: t.ElemType, Shape: t.Shape})
	}
	for _, t := range m.Outputs {
		sig.Outputs = append(sig.Outputs, report.Tensor{Name: t.Name, DType: t.ElemType, Shape: t.Shape})
	}
	return sig
}

func describePreprocess(s preprocess.Spec) *report.Preprocess {
	resize := fmt.Sprintf("%s to %dx%d (stretch)", s.Filter, s.Width, s.Height)
	if s.CropFraction > 0 {
		resize = fmt.Sprintf("%s, shorter side so that a %dx%d center crop keeps %.3g of it", s.Filter, s.Width, s.Height, s.CropFraction)
	}
	if s.Letterbox {
		resize = fmt.Sprintf("%s letterbox into %dx%d (aspect kept, padded with %g)", s.Filter, s.Width, s.Height, s.PadValue)
	}
	return &report.Preprocess{
		Width: s.Width, Height: s.Height, Channels: s.Channels, ChannelOrder: s.Order,
		Layout: string(s.Layout), DType: string(s.DType), Resize: resize, CenterCrop: s.CropFraction,
		Scale: s.Scale, Mean: s.Mean[:s.Channels], Std: s.Std[:s.Channels], Source: s.Source,
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
