package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/report"
)

// publication is where and how a report is published on GitHub.
type publication struct {
	rt     *github.Runtime
	gh     *ghContext
	number int    // pull request to comment on; 0: none
	marker string // identifies our sticky comment; "" until known
	mode   github.CommentMode
	files  files
	// origin, when set, is a line of our own markdown under the comment's headline saying
	// where the results come from (cvgate publish).
	origin string
}

func (g *ghContext) publication(rt *github.Runtime) *publication {
	return &publication{rt: rt, gh: g, number: g.ev.PullRequestNumber(), mode: github.CommentUpdate}
}

// files are the output folder's files, as the outputs name them (workspace-relative when the
// folder is, so later steps of the job find them).
type files struct {
	reportJSON, reportMarkdown, badgeSVG, badgeJSON string
}

func outputFiles(dir string) files {
	return files{
		reportJSON:     filepath.Join(dir, "report.json"),
		reportMarkdown: filepath.Join(dir, "report.md"),
		badgeSVG:       filepath.Join(dir, "badge.svg"),
		badgeJSON:      filepath.Join(dir, "badge.json"),
	}
}

// actionOutputs lists the action's outputs in the order they are set; action.yml declares the same
// names (a test keeps them equal).
func actionOutputs() []string {
	return []string{"verdict", "passed", "warned", "failed", "report-json", "report-markdown", "badge-svg", "badge-json", "comment-url"}
}

// publish puts a report everywhere it belongs: the sticky pull request comment, the step summary,
// the outputs and an annotation on each model that did not pass. Nothing here changes the exit
// code: a read-only token (pull requests from forks), a bad token or an API outage cost the
// comment, not the gate.
func (a *App) publish(ctx context.Context, p *publication, r *report.Report) {
	commentURL := a.comment(ctx, p, r)

	summary, err := summaryBody(r)
	if err != nil {
		a.logInput("render step summary: %v", err)
	} else if truncated, err := p.rt.AppendSummary(summary); err != nil {
		a.logInput("write step summary: %v", err)
	} else if truncated {
		a.logInput("the step summary was cut to GitHub's %d-byte limit", github.MaxStepSummaryBytes)
	}

	g := r.Gate
	p.setOutputs(a, map[string]string{
		"verdict":         string(g.Verdict),
		"passed":          strconv.Itoa(g.Passed),
		"warned":          strconv.Itoa(g.Warned),
		"failed":          strconv.Itoa(g.Failed),
		"report-json":     p.files.reportJSON,
		"report-markdown": p.files.reportMarkdown,
		"badge-svg":       p.files.badgeSVG,
		"badge-json":      p.files.badgeJSON,
		"comment-url":     commentURL,
	})

	for _, t := range r.Targets {
		if a := targetAnnotation(t); a != nil {
			_ = p.rt.Annotate(*a)
		}
	}
	if err := p.rt.Flush(); err != nil {
		a.logInput("write annotations: %v", err)
	}
}

// setOutputs sets the given outputs in actionOutputs order.
func (p *publication) setOutputs(a *App, values map[string]string) {
	for _, name := range actionOutputs() {
		v, ok := values[name]
		if !ok {
			continue
		}
		if err := p.rt.SetOutput(name, v); err != nil {
			a.logInput("set output: %v", err)
		}
	}
}

// comment upserts the sticky comment and returns its URL ("" when there is none).
func (a *App) comment(ctx context.Context, p *publication, r *report.Report) string {
	switch {
	case p.mode == github.CommentOff:
		return ""
	case p.number == 0:
		a.logInput("not a pull request: no comment (the report is in the job summary)")
		return ""
	case p.gh.repo == nil:
		a.logInput("no repository (GITHUB_REPOSITORY is unset): no comment")
		return ""
	}
	if len(r.Targets) == 0 {
		// Nothing to gate: correct an earlier comment, but do not add noise to a pull request
		// that never had one.
		return a.updateOnly(ctx, p, noModelsBody(r))
	}
	body, err := commentBody(r, p.marker, runURL(p.gh.ev), p.origin)
	if err != nil {
		a.logInput("render comment: %v", err)
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, githubTimeout)
	defer cancel()
	res, err := github.UpsertComment(ctx, p.gh.repo, p.number, p.marker, body, p.mode)
	if err != nil {
		a.commentFailed(p, err)
		return ""
	}
	a.logInput("comment %s on #%d: %s", res.Action, p.number, res.URL)
	return res.URL
}

// updateOnly rewrites our sticky comment when there is one, and creates none.
func (a *App) updateOnly(ctx context.Context, p *publication, body string) string {
	if p.mode == github.CommentOff || p.number == 0 || p.gh.repo == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, githubTimeout)
	defer cancel()
	res, err := github.UpdateOwnComment(ctx, p.gh.repo, p.number, p.marker, body)
	if err != nil {
		a.commentFailed(p, err)
		return ""
	}
	if res.Action == github.ActionNone {
		a.logInput("no earlier cvgate comment on #%d to update; none created", p.number)
		return ""
	}
	a.logInput("comment %s on #%d: %s", res.Action, p.number, res.URL)
	return res.URL
}

// commentFailed explains why there is no comment; the run goes on.
func (a *App) commentFailed(p *publication, err error) {
	if _, ok := errorsAs[*github.PermissionError](err); ok {
		a.logInput("%v", err)
		_ = p.rt.WarnOnce("read-only-token", "cvgate could not comment on the pull request: the token is read-only (as for pull requests from forks) "+
			"or lacks pull-requests: write. The result is in this job's summary and outputs. To comment on fork pull requests, "+
			"upload the output folder as an artifact and publish it from a workflow_run job with `cvgate publish` (see "+readmeForkSection+").")
		return
	}
	msg := fmt.Sprintf("cvgate could not comment: %v", err)
	if _, ok := errorsAs[*github.NotFoundError](err); ok {
		msg += fmt.Sprintf(" (is the pull request in %s, and may the token see it?)", p.gh.repo.FullName())
	}
	a.logInput("%s", msg)
	_ = p.rt.WarnOnce("comment-failed", msg+". The result is in this job's summary and outputs; the gate is not affected.")
}

// commentBody renders the PR comment: the tables always, details as the budget allows, and a
// link to the run whose job summary and artifact hold the full report.
func commentBody(r *report.Report, marker, runLink, origin string) (string, error) {
	var b strings.Builder
	err := report.Markdown{Marker: marker, MaxBytes: github.MaxCommentBody, FullReport: fullReportWhere, FullReportURL: runLink, Origin: origin}.Write(&b, r)
	return b.String(), err
}

// summaryBody renders the step summary: everything, within GitHub's 1 MiB.
func summaryBody(r *report.Report) (string, error) {
	if len(r.Targets) == 0 {
		return noModelsBody(r), nil
	}
	var b strings.Builder
	err := report.Markdown{MaxBytes: github.MaxStepSummaryBytes, FullReport: "report.json and report.md in the output folder", AllDetails: true}.Write(&b, r)
	return b.String(), err
}

// noModelsBody is the comment and summary of a run with nothing to check.
func noModelsBody(r *report.Report) string {
	why := "no model to check"
	if len(r.Run.Notes) > 0 {
		why = r.Run.Notes[0]
	}
	return fmt.Sprintf("## %s cvgate: nothing to gate\n\n%s.\n\n<sub>%s</sub>\n", report.StatusIcon(report.StatusSkip),
		report.MarkdownText(why), report.MarkdownText(r.Tool.Name+" "+r.Tool.Version))
}

// targetAnnotation marks a model file that failed (error) or warned (warning), listing the checks.
func targetAnnotation(t report.Target) *github.Annotation {
	var level github.AnnotationLevel
	switch t.Verdict {
	case report.StatusFail, report.StatusError:
		level = github.LevelError
	case report.StatusWarn:
		level = github.LevelWarning
	default:
		return nil
	}
	var parts []string
	for _, res := range t.Results {
		if res.Status == report.StatusPass || res.Status == report.StatusSkip {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s: %s", res.ID, res.Status, clip(res.Summary, 200)))
	}
	return &github.Annotation{
		Level:   level,
		File:    filepath.ToSlash(t.Model.Path),
		Title:   fmt.Sprintf("cvgate: %s %s", t.Name, strings.ToUpper(string(t.Verdict))),
		Message: strings.Join(parts, "\n"),
	}
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func (p *publication) runLink() string {
	if u := runURL(p.gh.ev); u != "" {
		return " of " + u
	}
	return ""
}

// runPublish is `cvgate publish`: it posts a saved report.json from a trusted job (a
// workflow_run job that downloaded the artifact of an untrusted pull request run). It never runs
// a model.
func (a *App) runPublish(ctx context.Context, args []string) int {
	defer a.guardStreams()()
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	reportPath := fs.String("report", "", "report.json written by cvgate check or the action (required)")
	pr := fs.Int("pr", 0, "pull request to comment on (default: the report's run.ci.pr, else the workflow_run event's)")
	commentID := fs.String("comment-id", "", "keeps several cvgate comments apart: the comment-id the checking run used (default \"default\"); never taken from the report")
	mode := github.CommentUpdate
	fs.Var(&mode, "comment", "update one sticky comment, post a new one, or off (update|new|off)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: cvgate publish --report FILE [flags]\n\n"+
			"Posts a saved report as the sticky pull request comment, and writes the step summary and\n"+
			"outputs, from a trusted workflow_run job. It reads the report only; it never runs a model.\n"+
			"The token comes from the github-token input or GITHUB_TOKEN.\n\nFlags:\n")
		printFlags(fs)
	}
	rest, code, ok := a.parseFlags(fs, args)
	if !ok {
		return code
	}
	if *reportPath == "" || len(rest) > 0 {
		fmt.Fprintln(a.Stderr, "cvgate publish: pass --report FILE (and no other arguments)")
		return ExitCannotRun
	}

	rt := github.NewRuntime(a.getenv, a.Stdout)
	gh, err := a.connect(rt)
	if err != nil {
		return a.fail(err)
	}
	defer a.stopCommands(rt)()
	if gh.ev.Workspace != "" && a.Dir == "" {
		a.Dir = gh.ev.Workspace
	}
	// The report comes from another run, which a pull request (a fork's too) controls: read it
	// strictly, and take nothing from it that steers this trusted job. The verdict and counts
	// are derived again from the results; the marker comes from this job's flags and event.
	r, err := report.ReadJSON(a.path(*reportPath))
	if err != nil {
		return a.fail(err)
	}
	policy := r.Gate.FailOn
	if policy == "" {
		policy = report.FailOnFail
	}
	report.ApplyGate(r, policy)
	p := gh.publication(rt)
	p.mode = mode
	p.origin = publishOrigin(gh.ev)
	number, fromReport, err := publishTarget(*pr, r, gh.ev)
	if err != nil {
		return a.fail(err)
	}
	p.number = number
	if fromReport && gh.ev.WorkflowRun != nil {
		current, err := a.pullMatchesRun(ctx, gh, number)
		if err != nil {
			return a.fail(err)
		}
		if !current {
			_ = rt.WarnOnce("publish-mismatch", fmt.Sprintf("cvgate publish: pull request #%d is no longer at commit %s, which this report is about "+
				"(a newer push, or a report naming the wrong pull request); nothing was published", number, gh.ev.WorkflowRun.HeadSHA))
			_ = rt.Flush()
			return ExitPass
		}
	}
	p.marker = github.Marker(orDefault(*commentID, defaultCommentID), publishWorkflow(gh.ev))
	dir := filepath.Dir(*reportPath)
	p.files = outputFiles(dir)
	p.files.reportJSON = *reportPath
	for _, f := range []*string{&p.files.reportMarkdown, &p.files.badgeSVG, &p.files.badgeJSON} {
		if _, err := os.Stat(a.path(*f)); err != nil {
			*f = ""
		}
	}
	a.logInput("publishing %s (%s) to #%d", *reportPath, r.Gate.Headline(), p.number)
	a.publish(ctx, p, r)
	return ExitPass
}

// publishWorkflow is the workflow name in the marker: the name of the run that made the report,
// as the workflow_run event (GitHub, not the artifact) gives it, so that the comment is the one
// that run's own job would update; else this job's workflow.
func publishWorkflow(ev github.Event) string {
	if wr := ev.WorkflowRun; wr != nil && wr.Name != "" {
		return wr.Name
	}
	return ev.Workflow
}

// publishOrigin is the comment's line on where its results come from, built from the event
// only: the checking run, and that a fork controls a fork's run.
func publishOrigin(ev github.Event) string {
	wr := ev.WorkflowRun
	if wr == nil || wr.ID == 0 {
		return ""
	}
	run := fmt.Sprintf("workflow run %d", wr.ID)
	if ev.ServerURL != "" && ev.Owner != "" && ev.Repo != "" {
		run = fmt.Sprintf("[%s](%s/%s/%s/actions/runs/%d)", run, strings.TrimSuffix(ev.ServerURL, "/"), ev.Owner, ev.Repo, wr.ID)
	}
	s := "Results of " + run + ", posted by `cvgate publish`, which derived the verdict again from them."
	if wr.Fork {
		s += " The pull request comes from a fork, and a fork's pull request controls its own run: these are that run's results, not an independent check."
	}
	return s
}

// publishTarget picks the pull request for a saved report: --pr, else the report's own number,
// else the workflow_run event's. A report whose number or head commit contradicts the event that
// triggered this job is refused: the artifact comes from an untrusted run and must not steer the
// comment to another pull request. fromReport says the number rests on the report alone (GitHub
// leaves a fork's workflow_run without one), so the caller must check it against GitHub.
func publishTarget(flagPR int, r *report.Report, ev github.Event) (number int, fromReport bool, err error) {
	reportPR, _ := strconv.Atoi(r.Run.CI["pr"])
	eventPR := ev.PullRequestNumber()
	if wr := ev.WorkflowRun; wr != nil {
		if eventPR != 0 && reportPR != 0 && eventPR != reportPR {
			return 0, false, fmt.Errorf("publish report: it is for pull request #%d but the workflow_run event is for #%d; refusing to publish", reportPR, eventPR)
		}
		if head := r.Run.CI["head_sha"]; head != "" && wr.HeadSHA != "" && head != wr.HeadSHA {
			return 0, false, fmt.Errorf("publish report: it was made for commit %s but the workflow_run event ran on %s; refusing to publish", head, wr.HeadSHA)
		}
	}
	switch {
	case flagPR > 0:
		return flagPR, false, nil
	case eventPR > 0:
		// The event's own number, equal to the report's when that has one.
		return eventPR, false, nil
	case reportPR > 0:
		return reportPR, true, nil
	}
	return 0, false, nil
}

// pullMatchesRun reports whether pull request number is still at the commit the workflow_run
// event ran on: only then does a report that names the pull request itself belong there.
func (a *App) pullMatchesRun(ctx context.Context, gh *ghContext, number int) (bool, error) {
	head := gh.ev.WorkflowRun.HeadSHA
	if gh.repo == nil || head == "" {
		return false, fmt.Errorf("publish report: cannot check that pull request #%d is the one the workflow_run event ran on (no repository or head commit); pass --pr", number)
	}
	ctx, cancel := context.WithTimeout(ctx, githubTimeout)
	defer cancel()
	pr, err := gh.repo.GetPullRequest(ctx, number)
	if err != nil {
		return false, fmt.Errorf("publish report: check pull request #%d: %w", number, err)
	}
	return pr.HeadSHA == head, nil
}

// errorsAs is errors.As for a target type, for the publishing code's branches.
func errorsAs[T error](err error) (T, bool) {
	var t T
	ok := errors.As(err, &t)
	return t, ok
}
