package app

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cvgate/cvgate/checks"
	"github.com/cvgate/cvgate/internal/baseline"
	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/github/wfcmd"
	"github.com/cvgate/cvgate/report"
)

// Action inputs that are not config options (config.Options declares the others).
const (
	inputConfig = "config"       // the config file, relative to the workspace
	inputToken  = "github-token" // the only way the token reaches a container action
)

// defaultModelPattern is what a pull request run checks when nothing narrows it.
const defaultModelPattern = "*.onnx"

// defaultCommentID keeps the marker readable when the comment-id input is empty.
const defaultCommentID = "default"

// actionCacheDir is the action's prediction cache, relative to the workspace (see runAction).
const actionCacheDir = ".cvgate-cache"

// githubTimeout bounds each phase of GitHub traffic (listing files, publishing): a stuck API must
// not hold a CI job for its whole timeout.
const githubTimeout = 5 * time.Minute

// fullReportWhere is what a trimmed PR comment points at.
const fullReportWhere = "the job summary and the cvgate-report artifact"

// readmeForkSection is the README section a read-only token's warning points at.
const readmeForkSection = `README.md, "GitHub Action" > "Pull requests from forks"`

// runAction is `cvgate action`, the container action's entrypoint: it reads the runner's
// environment (INPUT_*, GITHUB_*), finds the models to check, evaluates them as `check` does,
// and publishes the result (outputs, step summary, annotations, one sticky PR comment).
//
// With arguments it runs another command instead, so that a step using the prebuilt image
// (`uses: docker://...`) can say `args: publish --report ...` despite the image's entrypoint.
func (a *App) runAction(ctx context.Context, args []string) int {
	defer a.guardStreams()()
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			fmt.Fprint(a.Stdout, actionUsage)
			return ExitPass
		case "action":
			return a.runAction(ctx, args[1:])
		}
		for _, c := range a.commands() {
			if c.name == args[0] {
				return c.run(a, ctx, args[1:])
			}
		}
		fmt.Fprintf(a.Stderr, "cvgate action: unknown command %q (the action takes its settings from INPUT_* variables; arguments name another command, e.g. publish)\n", args[0])
		return ExitCannotRun
	}

	rt := github.NewRuntime(a.getenv, a.Stdout)
	gh, err := a.connect(rt)
	if err != nil {
		return a.actionCannotRun(ctx, nil, err)
	}
	defer a.stopCommands(rt)()
	if gh.ev.Workspace != "" {
		a.Dir = gh.ev.Workspace
	}
	p := gh.publication(rt)
	if gh.ev.Name == "pull_request_target" && gh.ev.PullRequest != nil && gh.ev.PullRequest.Fork {
		_ = rt.WarnOnce("pull_request_target", "cvgate runs on pull_request_target for a pull request from a fork: this job has write access and secrets, "+
			"so it must not load the fork's models. Use pull_request plus a workflow_run job that runs `cvgate publish` (see "+readmeForkSection+").")
	}

	inputs := map[string]string{}
	for _, o := range config.Options() {
		if o.Input != "" {
			inputs[o.Input] = a.input(rt, o.Input)
		}
	}
	// The action runs in its container, where the runner's tool cache ($RUNNER_TOOL_CACHE names
	// the host's folder) is not mounted: records written there would vanish with the container
	// and actions/cache could never save them. The workspace is mounted, so the cache lives
	// there unless the input names another folder.
	if strings.TrimSpace(inputs["cache"]) == "" {
		inputs["cache"] = actionCacheDir
	}
	// The marker from the input alone, until the config file (which may set comment_id) loads: a
	// run that fails to load it still corrects an earlier comment.
	p.marker = github.Marker(orDefault(inputs["comment-id"], defaultCommentID), gh.ev.Workflow)
	configFile := a.input(rt, inputConfig)
	ws, err := a.workspace()
	if err != nil {
		return a.actionCannotRun(ctx, p, err)
	}
	loaded, err := config.Load(config.Sources{File: configFile, FileRequired: configFile != "", Dir: a.Dir, Inputs: config.InputSettings(inputs), Workspace: ws})
	if err != nil {
		return a.actionCannotRun(ctx, p, err)
	}
	p.marker = github.Marker(orDefault(loaded.Publish.CommentID, defaultCommentID), gh.ev.Workflow)
	p.mode = github.CommentMode(loaded.Publish.Comment)
	p.files = outputFiles(loaded.Out)
	if loaded.Command == "drift" {
		return a.actionDrift(ctx, gh, p, loaded) // monitoring: drift.go
	}

	t, err := a.resolveTargets(ctx, gh, loaded, inputs["models"] != "")
	if err != nil {
		return a.actionCannotRun(ctx, p, err)
	}
	if t.none {
		r := a.emptyReport(loaded, t.note)
		gh.recordCI(r, loaded.Publish.CommentID)
		return a.finishAction(ctx, p, loaded, r)
	}
	loaded.Models = t.models
	if inputs["baseline"] == "" && loaded.Baseline == "" && gh.ev.PullRequest != nil && gh.ev.PullRequest.BaseSHA != "" {
		// The same file on the pull request's base commit; a renamed model is read at its old path.
		loaded.Baseline = "git:" + gh.ev.PullRequest.BaseSHA
	}
	a.logInput("checking %d model(s): %s (baseline: %s)", len(t.models), strings.Join(t.models, ", "), orDefault(loaded.Baseline, "none"))

	r, err := a.evaluateWith(ctx, loaded, evalOptions{remote: baseline.Remote{Repo: gh.repo}, baselinePaths: t.renames})
	if err != nil {
		return a.actionCannotRun(ctx, p, err)
	}
	gh.recordCI(r, loaded.Publish.CommentID)
	return a.finishAction(ctx, p, loaded, r)
}

const actionUsage = `Usage: cvgate action [COMMAND ARGS...]

The GitHub container action's entrypoint. Settings come from the runner's environment:
INPUT_* (action.yml's inputs), GITHUB_EVENT_PATH, GITHUB_WORKSPACE, GITHUB_OUTPUT,
GITHUB_STEP_SUMMARY. On a pull request with no models input it checks the .onnx files the
pull request adds or changes, each against its version on the base commit.

With arguments, runs that command instead (e.g. "cvgate action publish --report FILE"), so a
step using the prebuilt image can run any command despite the image's entrypoint.

Exit codes: 0 the gate passed, 1 the gate failed, 2 cvgate could not run.
`

// finishAction writes the output folder and publishes; the gate decides the exit code.
func (a *App) finishAction(ctx context.Context, p *publication, loaded *config.Loaded, r *report.Report) int {
	if err := a.writeOutputs(r, loaded, false); err != nil {
		return a.actionCannotRun(ctx, p, err)
	}
	a.logInput("%s (report: %s)", r.Gate.Headline(), p.files.reportJSON)
	a.publish(ctx, p, r)
	if r.Gate.ExitFailed {
		return ExitGateFailed
	}
	return ExitPass
}

// actionCannotRun reports a run that could not evaluate: an error annotation, the job summary,
// verdict output "error", and an update of an earlier sticky comment (whose result no longer
// holds); never a new comment.
func (a *App) actionCannotRun(ctx context.Context, p *publication, err error) int {
	code := a.fail(err)
	if p == nil {
		return code
	}
	msg := err.Error()
	_ = p.rt.Annotate(github.Annotation{Level: github.LevelError, Title: "cvgate could not run", Message: msg})
	body := fmt.Sprintf("## %s cvgate could not run\n\n%s\n\nNo model was gated; see the job log%s.\n", report.StatusIcon(report.StatusError), report.MarkdownCodeBlock(msg), p.runLink())
	if _, serr := p.rt.AppendSummary(body); serr != nil {
		a.logInput("write step summary: %v", serr)
	}
	p.setOutputs(a, map[string]string{"verdict": "error"})
	if p.marker != "" {
		a.updateOnly(ctx, p, body+"\nThe previous cvgate result here no longer applies.\n")
	}
	_ = p.rt.Flush()
	return code
}

// guardStreams puts the App's stdout and stderr behind wfcmd.Writers, so that no line printed
// from here on (a model path, a label, an error quoting either) can run a workflow command; the
// runtime's own commands pass through WriteCommand. The returned function flushes them.
// Wrapping is idempotent, so the commands that runAction dispatches to may call it again.
func (a *App) guardStreams() func() {
	out, errw := wfcmd.NewWriter(a.Stdout), wfcmd.NewWriter(a.Stderr)
	a.Stdout, a.Stderr = out, errw
	return func() {
		_ = out.Flush()
		_ = errw.Flush()
	}
}

// stopCommands asks the runner to ignore workflow commands in the step's output for the rest of
// the run (the runtime resumes around its own), so that output that bypasses the Writers (ONNX
// Runtime's C logger writes to file descriptor 2; a panic prints its message there) cannot run
// one either. Call it after the token is masked; the returned function resumes.
func (a *App) stopCommands(rt *github.Runtime) func() {
	if err := rt.StopCommands(); err != nil {
		a.logInput("%v", err)
	}
	return func() { _ = rt.ResumeCommands() }
}

// logInput is logf for a line that carries input: every string, error and Stringer argument
// goes through wfcmd.Text (one line, escaped per the workflow-command rules).
func (a *App) logInput(format string, args ...any) { a.logf("%s", wfcmd.Sprintf(format, args...)) }

// input reads an action input. Besides the runner's INPUT_FAIL-ON form it accepts INPUT_FAIL_ON,
// which is what a `uses: docker://` step can set through env: (such steps have no action.yml to
// turn with: into INPUT_* variables).
func (a *App) input(rt *github.Runtime, name string) string {
	if v := rt.Input(name); v != "" {
		return v
	}
	return strings.TrimSpace(a.getenv("INPUT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))))
}

// ghContext is what a run knows about GitHub: the event and, when the repository is known, an
// API client bound to it.
type ghContext struct {
	ev    github.Event
	repo  *github.Repo // nil when the run has no repository (a local run)
	token bool         // a token was given
}

// connect reads the event and builds the API client. The token is masked before anything else
// is printed.
func (a *App) connect(rt *github.Runtime) (*ghContext, error) {
	token := a.input(rt, inputToken)
	if token == "" {
		token = strings.TrimSpace(a.getenv("GITHUB_TOKEN"))
	}
	if token != "" {
		if err := rt.Mask(token); err != nil {
			return nil, err
		}
	}
	ev, err := rt.Event()
	if err != nil {
		return nil, err
	}
	g := &ghContext{ev: ev, token: token != ""}
	if ev.Owner == "" || ev.Repo == "" {
		return g, nil
	}
	opts := []github.Option{github.WithUserAgent("cvgate/" + a.Version), github.WithLogf(a.logInput)}
	if a.HTTPClient != nil && a.HTTPClient.Transport != nil {
		opts = append(opts, github.WithTransport(a.HTTPClient.Transport))
	}
	c, err := github.NewClient(token, ev.APIURL, opts...)
	if err != nil {
		return nil, err
	}
	g.repo = c.Repo(ev.Owner, ev.Repo)
	return g, nil
}

// recordCI adds what the event says about the run to report.json's run.ci, over what evaluate
// read from the environment. `cvgate publish` reads the pull request number, the head commit, the
// workflow and the comment id back from it.
func (g *ghContext) recordCI(r *report.Report, commentID string) {
	ev := g.ev
	if r.Run.CI == nil {
		r.Run.CI = map[string]string{}
	}
	ci := r.Run.CI
	put := func(k, v string) {
		if v != "" {
			ci[k] = v
		}
	}
	put("event", ev.Name)
	put("repository", joinRepo(ev.Owner, ev.Repo))
	put("sha", ev.SHA)
	put("ref", ev.Ref)
	put("workflow", ev.Workflow)
	put("comment_id", commentID)
	if ev.RunID != 0 {
		put("run_id", strconv.FormatInt(ev.RunID, 10))
		put("run_url", runURL(ev))
	}
	if pr := ev.PullRequest; pr != nil {
		put("pr", strconv.Itoa(pr.Number))
		put("base_sha", pr.BaseSHA)
		put("head_sha", pr.HeadSHA)
		put("head_repo", pr.HeadRepo)
	}
	if ev.Release != nil {
		put("release", ev.Release.Tag)
	}
}

func joinRepo(owner, name string) string {
	if owner == "" || name == "" {
		return ""
	}
	return owner + "/" + name
}

func runURL(ev github.Event) string {
	if ev.ServerURL == "" || ev.Owner == "" || ev.RunID == 0 {
		return ""
	}
	return fmt.Sprintf("%s/%s/%s/actions/runs/%d", strings.TrimSuffix(ev.ServerURL, "/"), ev.Owner, ev.Repo, ev.RunID)
}

// targets are the models a run checks.
type targets struct {
	models  []string          // workspace-relative paths
	renames map[string]string // model -> its path on the base commit
	none    bool              // a pull request that changes no model: nothing to gate
	note    string            // why there is nothing to gate
}

// resolveTargets decides what to check: the models input (paths and globs) when given; on a pull
// request the .onnx files it adds or changes (narrowed by the config file's models, when it lists
// any); on other events the config file's models. A Git LFS pointer where a model should be is a
// setup problem, reported before anything runs.
func (a *App) resolveTargets(ctx context.Context, gh *ghContext, loaded *config.Loaded, fromInput bool) (*targets, error) {
	var t *targets
	var err error
	switch {
	case fromInput:
		t = &targets{}
		t.models, err = a.expandRecursive(loaded.Models)
	case gh.ev.PullRequest != nil:
		patterns := []string{defaultModelPattern}
		if len(loaded.Models) > 0 {
			patterns = patterns[:0]
			for _, m := range loaded.Models {
				patterns = append(patterns, path.Clean(filepath.ToSlash(m))) // "./models/a.onnx" names models/a.onnx
			}
		}
		t, err = a.changedModels(ctx, gh, patterns)
	case len(loaded.Models) > 0:
		t = &targets{}
		t.models, err = a.expandRecursive(loaded.Models)
	default:
		event := orDefault(gh.ev.Name, "this")
		return nil, fmt.Errorf("no model to check on a %s event: set the action's models input (paths or globs, e.g. models/**/*.onnx) "+
			"or models in %s; only pull_request events default to the .onnx files the pull request changes", event, config.DefaultFile)
	}
	if err != nil || t.none {
		return t, err
	}
	for _, m := range t.models {
		if err := checkNotLFSPointer(a.path(m), m); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// expandRecursive expands patterns with "**" (any number of folders) by walking the workspace;
// other patterns are left to evaluate, which globs within one folder.
func (a *App) expandRecursive(patterns []string) ([]string, error) {
	var out []string
	for _, p := range patterns {
		if !strings.Contains(p, "**") {
			out = append(out, p)
			continue
		}
		root := a.path(".")
		var found []string
		err := filepath.WalkDir(root, func(file string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == ".git" {
				return filepath.SkipDir
			}
			if d.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(root, file)
			if err != nil {
				return err
			}
			if ok, err := github.MatchPath(p, filepath.ToSlash(rel)); err != nil {
				return err
			} else if ok {
				found = append(found, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("expand model pattern %q: %w", p, err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("model pattern %q matches no file", p)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// changedModels lists the models a pull request adds or changes: from the pull request files API
// (renames keep their old path for the baseline), or, when the API is unavailable or capped at
// 3000 files, from git diff base...head in the workspace.
func (a *App) changedModels(ctx context.Context, gh *ghContext, patterns []string) (*targets, error) {
	pr := gh.ev.PullRequest
	ctx, cancel := context.WithTimeout(ctx, githubTimeout)
	defer cancel()
	t := &targets{renames: map[string]string{}}
	var apiErr error
	if gh.repo != nil && pr.Number > 0 {
		files, capped, err := gh.repo.PullFiles(ctx, pr.Number)
		switch {
		case err != nil:
			apiErr = err
		case capped:
			apiErr = fmt.Errorf("the pull request files API stops at %d files", github.MaxPullRequestFiles)
		default:
			selected, err := github.SelectFiles(files, patterns)
			if err != nil {
				return nil, err
			}
			for _, f := range selected {
				t.models = append(t.models, f.Path)
				if f.Status == github.FileRenamed && f.PreviousPath != "" {
					t.renames[f.Path] = f.PreviousPath
				}
			}
			a.logInput("pull request #%d changes %d file(s), %d of them model(s) matching %s", pr.Number, len(files), len(t.models), strings.Join(patterns, ", "))
			return t.orNone(patterns), nil
		}
	}
	if apiErr != nil {
		a.logInput("listing the pull request's files through the API did not work (%v); using git diff in the workspace", apiErr)
	}
	if pr.BaseSHA == "" || pr.HeadSHA == "" {
		return nil, fmt.Errorf("find the models pull request #%d changes: the event has no base and head commits%s", pr.Number, errSuffix(apiErr))
	}
	files, err := github.GitChangedFiles(ctx, a.path("."), pr.BaseSHA, pr.HeadSHA)
	if err != nil {
		return nil, fmt.Errorf("find the models pull request #%d changes: %w (check out with fetch-depth: 0 so git has the base commit, or pass the models input)%s",
			pr.Number, err, errSuffix(apiErr))
	}
	for _, f := range files {
		for _, p := range patterns {
			if ok, _ := github.MatchPath(p, f); ok {
				t.models = append(t.models, f)
				break
			}
		}
	}
	a.logInput("git diff %.12s...%.12s: %d changed file(s), %d model(s)", pr.BaseSHA, pr.HeadSHA, len(files), len(t.models))
	return t.orNone(patterns), nil
}

func (t *targets) orNone(patterns []string) *targets {
	if len(t.models) == 0 {
		t.none = true
		t.note = fmt.Sprintf("no changed models: this pull request adds or changes no file matching %s", strings.Join(patterns, ", "))
	}
	return t
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return fmt.Sprintf("; the API said: %v", err)
}

// checkNotLFSPointer refuses a model file that is a Git LFS pointer: the checkout ran without LFS.
func checkNotLFSPointer(path, name string) error {
	// Non-blocking: a model that is a FIFO (or a symlink to one) is refused by model.load, not
	// waited on here.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil // a missing model is reported by model.load
	}
	defer f.Close()
	head := make([]byte, 1024)
	n, _ := io.ReadFull(f, head)
	if ptr, ok := github.ParseLFSPointer(head[:n]); ok {
		return &github.LFSPointerError{Path: name, Pointer: ptr}
	}
	return nil
}

// emptyReport is the report of a run with nothing to check: it passes, and says why.
func (a *App) emptyReport(loaded *config.Loaded, note string) *report.Report {
	r := &report.Report{
		SchemaVersion: report.SchemaVersion,
		Kind:          "check",
		Tool:          report.Tool{Name: "cvgate", Version: a.Version, Commit: a.Commit},
		Run:           report.Run{StartedAt: a.Now().UTC().Format(time.RFC3339), Notes: []string{note}},
		Inputs:        report.Inputs{ConfigPath: loaded.File, ConfigSHA256: loaded.SHA256},
	}
	r.Normalize(checks.IDs(checks.All()))
	report.ApplyGate(r, loaded.FailOn)
	return r
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
