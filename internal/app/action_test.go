package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/github/githubtest"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
	"github.com/cvgate/cvgate/report"
)

// The real payloads (npm @octokit/webhooks-examples) are about Codertocat/Hello-World pull request
// #2; these are the commits they name, which the tests swap for the commits of a real repository.
const (
	payloadRepo    = "Codertocat/Hello-World"
	payloadPR      = 2
	payloadBaseSHA = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
	payloadHeadSHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	payloadRunHead = "3484a3fb816e0859fd6e1cea078d76385ff50625" // workflow_run.head_sha
	testWorkflow   = "models"
	// testToken looks like an installation token, so masking is tested on a realistic value.
	testToken = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
	// fastChecks keep each run near a second: loading, numerics and the accuracy checks, which
	// need the baseline. Named one by one, so checks added to the catalogue later (latency, which
	// rightly warns that the bigger model is slower) do not change these tests' verdicts.
	fastChecks = "model.load,model.signature,model.numerics,perf.metrics,perf.baseline,perf.trivial"
)

// workspace is a git checkout as actions/checkout leaves it: models/m.onnx is baseModel on the
// base commit and headModel on the head commit, which is checked out.
type workspace struct {
	dir, base, head string
}

func newWorkspace(t *testing.T, baseModel, headModel string) *workspace {
	t.Helper()
	w := &workspace{dir: t.TempDir()}
	w.git(t, "init", "-q", "-b", "main")
	w.copy(t, baseModel, "models/m.onnx")
	w.write(t, "README.md", "models\n")
	w.base = w.commit(t, "base")
	w.git(t, "checkout", "-q", "-b", "feature")
	w.copy(t, headModel, "models/m.onnx")
	w.write(t, "docs/notes.md", "a new model\n")
	w.head = w.commit(t, "head")
	return w
}

func (w *workspace) git(t *testing.T, args ...string) string {
	t.Helper()
	base := []string{"-c", "user.name=cvgate test", "-c", "user.email=test@invalid", "-c", "commit.gpgsign=false"}
	cmd := exec.Command("git", append(base, args...)...)
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (w *workspace) write(t *testing.T, rel, content string) {
	t.Helper()
	p := filepath.Join(w.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (w *workspace) copy(t *testing.T, model, rel string) {
	t.Helper()
	data, err := os.ReadFile(ortlib.Model(t, model))
	if err != nil {
		t.Fatal(err)
	}
	w.write(t, rel, string(data))
}

func (w *workspace) commit(t *testing.T, msg string) string {
	t.Helper()
	w.git(t, "add", "-A")
	w.git(t, "commit", "-q", "-m", msg)
	return w.git(t, "rev-parse", "HEAD")
}

// payload writes a real event payload with its commits replaced by the workspace's.
func (w *workspace) payload(t *testing.T, name string) string {
	t.Helper()
	data := string(githubtest.EventPayload(t, name))
	data = strings.NewReplacer(payloadBaseSHA, w.base, payloadHeadSHA, w.head, payloadRunHead, w.head).Replace(data)
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// step is one action step as the runner starts it: INPUT_* for every declared input (empty unless
// set), GITHUB_* variables, and fresh GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files.
type step struct {
	t   *testing.T
	env map[string]string
	ws  *workspace
}

func newStep(t *testing.T, srv *githubtest.Server, ws *workspace, event, payload string) *step {
	t.Helper()
	files := t.TempDir()
	s := &step{t: t, ws: ws, env: map[string]string{
		"ORT_LIB":             ortlib.Runtime(t).LibPath,
		"GITHUB_ACTIONS":      "true",
		"GITHUB_EVENT_NAME":   event,
		"GITHUB_EVENT_PATH":   payload,
		"GITHUB_REPOSITORY":   payloadRepo,
		"GITHUB_WORKSPACE":    ws.dir,
		"GITHUB_API_URL":      srv.URL,
		"GITHUB_SERVER_URL":   "https://github.com",
		"GITHUB_WORKFLOW":     testWorkflow,
		"GITHUB_RUN_ID":       "4242",
		"GITHUB_SHA":          ws.head,
		"GITHUB_OUTPUT":       filepath.Join(files, "output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(files, "summary"),
		allowOutsideEnv:       "1", // the data inputs below name the repository's fixtures
	}}
	for _, name := range actionYAMLInputs(t) {
		s.input(name, "")
	}
	s.input(inputToken, testToken)
	s.input("data", ortlib.RepoRoot(t)+"/testdata/images/mnist")
	s.input("labels", ortlib.RepoRoot(t)+"/testdata/labels/mnist.txt")
	s.input("checks", fastChecks)
	return s
}

// input sets INPUT_<NAME> as the runner does: upper-cased, hyphens kept.
func (s *step) input(name, value string) { s.env["INPUT_"+strings.ToUpper(name)] = value }

func (s *step) run(args ...string) (code int, stdout, stderr string) {
	s.t.Helper()
	var out, errb bytes.Buffer
	a := &App{Args: append([]string{"action"}, args...), Env: s.env, Stdout: &out, Stderr: &errb, Version: "test",
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }}
	code = a.Run(context.Background())
	return code, out.String(), errb.String()
}

func (s *step) outputs() map[string]string {
	s.t.Helper()
	return githubtest.ReadOutputs(s.t, s.env["GITHUB_OUTPUT"])
}

func (s *step) summary() string {
	s.t.Helper()
	data, err := os.ReadFile(s.env["GITHUB_STEP_SUMMARY"])
	if err != nil {
		s.t.Fatalf("read GITHUB_STEP_SUMMARY: %v", err)
	}
	return string(data)
}

func (s *step) report() *report.Report {
	s.t.Helper()
	r, err := report.ReadJSON(filepath.Join(s.ws.dir, "cvgate-out", "report.json"))
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

func newGitHub(t *testing.T) *githubtest.Server {
	t.Helper()
	owner, repo, _ := strings.Cut(payloadRepo, "/")
	srv := githubtest.NewServer(t, owner, repo)
	srv.SetToken(testToken)
	return srv
}

// prFiles are the changed files of the pull request; with a page cap of 2 the model is on page 3.
func prFiles() []githubtest.PullFile {
	return []githubtest.PullFile{
		{Filename: "README.md", Status: "modified"},
		{Filename: "docs/notes.md", Status: "added"},
		{Filename: "docs/old.onnx", Status: "removed"},
		{Filename: "scripts/train.py", Status: "modified"},
		{Filename: "models/m.onnx", Status: "modified"},
	}
}

// rowRE is a row of a results table: the status emoji, then the check ID. The comment splits the
// checks into the ones that did not pass and a fold of the passing ones; report.md and the job
// summary have one table; every row has this shape.
var rowRE = regexp.MustCompile("^\\| (\\S+) +\\| `([a-z.]+)` +\\|")

// statusOfIcon reads a status back from its emoji.
var statusOfIcon = map[string]string{"✅": "pass", "⚠️": "warn", "❌": "fail", "💥": "error", "⏭️": "skip"}

// tableRows reads the results rows of the first target in a markdown report: (check, status), in
// check order.
func tableRows(t *testing.T, md string) [][2]string {
	t.Helper()
	var rows [][2]string
	inTarget := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "### ") {
			if inTarget {
				break
			}
			inTarget = !strings.HasPrefix(line, "### Models") && !strings.HasPrefix(line, "### Ranking")
			continue
		}
		if !inTarget {
			continue
		}
		if m := rowRE.FindStringSubmatch(line); m != nil {
			if st, ok := statusOfIcon[m[1]]; ok {
				rows = append(rows, [2]string{m[2], st})
			}
		}
	}
	return rows
}

func reportRows(r *report.Report) [][2]string {
	var rows [][2]string
	for _, res := range r.Targets[0].Results {
		rows = append(rows, [2]string{res.ID, string(res.Status)})
	}
	return rows
}

func sameRows(t *testing.T, what string, got, want [][2]string) {
	t.Helper()
	// The comment lists the checks that did not pass first; compare as sets.
	got, want = slices.Clone(got), slices.Clone(want)
	less := func(a, b [2]string) int { return strings.Compare(a[0], b[0]) }
	slices.SortFunc(got, less)
	slices.SortFunc(want, less)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s table rows %v, want report.json's %v", what, got, want)
	}
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestActionPullRequest(t *testing.T) {
	srv := newGitHub(t)
	srv.SetPageCap(2)
	srv.SetPullFiles(payloadPR, prFiles())
	ws := newWorkspace(t, "mnist_weak.onnx", "mnist_cnn.onnx")
	marker := github.Marker(defaultCommentID, testWorkflow)

	s := newStep(t, srv, ws, "pull_request", ws.payload(t, githubtest.EventPullRequestOpened))
	code, stdout, stderr := s.run()
	r := s.report()
	if want := map[bool]int{true: ExitGateFailed, false: ExitPass}[r.Gate.ExitFailed]; code != want {
		t.Fatalf("exit %d, want %d by the gate\nstderr:\n%s", code, want, stderr)
	}
	if r.Gate.Verdict != report.StatusPass {
		t.Errorf("verdict %s: the stronger model against the weak one should pass\n%s", r.Gate.Verdict, stderr)
	}
	if n := srv.Calls(githubtest.OpListPullFiles); n != 3 {
		t.Errorf("pull request files listed in %d requests, want 3 pages of 2", n)
	}
	// The default baseline: the same path on the pull request's base commit, from git objects.
	tg := r.Targets[0]
	if tg.Name != "models/m.onnx" || tg.Baseline == nil || tg.Baseline.Source != "git:"+ws.base+":models/m.onnx" {
		t.Fatalf("target %q, baseline %+v; want models/m.onnx against git:%s", tg.Name, tg.Baseline, ws.base)
	}
	if want := fileSHA(t, ortlib.Model(t, "mnist_weak.onnx")); tg.Baseline.SHA256 != want {
		t.Errorf("baseline sha256 %s, want mnist_weak.onnx's %s", tg.Baseline.SHA256, want)
	}
	if got := srv.Calls(githubtest.OpGetContent); got != 0 {
		t.Errorf("%d contents API calls: the base commit is in the checkout, git objects suffice", got)
	}
	if r.Run.CI["pr"] != "2" || r.Run.CI["head_sha"] != ws.head || r.Run.CI["workflow"] != testWorkflow {
		t.Errorf("run.ci = %v: publish needs the pull request, head commit and workflow", r.Run.CI)
	}

	comments := srv.Comments(payloadPR)
	if len(comments) != 1 {
		t.Fatalf("%d comments, want exactly 1", len(comments))
	}
	c := comments[0]
	if !strings.HasPrefix(c.Body, marker) || c.Login != githubtest.BotLogin {
		t.Errorf("comment does not start with the marker %q:\n%.300s", marker, c.Body)
	}
	sameRows(t, "comment", tableRows(t, c.Body), reportRows(r))

	out := s.outputs()
	want := map[string]string{
		"verdict": "pass", "passed": fmt.Sprint(r.Gate.Passed), "warned": "0", "failed": "0",
		"report-json": "cvgate-out/report.json", "report-markdown": "cvgate-out/report.md",
		"badge-svg": "cvgate-out/badge.svg", "badge-json": "cvgate-out/badge.json",
		"comment-url": fmt.Sprintf("%s/%s/pull/%d#issuecomment-%d", srv.URL, payloadRepo, payloadPR, c.ID),
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("output %s = %q, want %q", k, out[k], v)
		}
	}
	for _, k := range []string{"report-json", "report-markdown", "badge-svg", "badge-json"} {
		if _, err := os.Stat(filepath.Join(ws.dir, out[k])); err != nil {
			t.Errorf("output %s names a missing file: %v", k, err)
		}
	}
	badge, _ := os.ReadFile(filepath.Join(ws.dir, out["badge-json"]))
	if wantBadge := fmt.Sprintf(`"message":"%d/%d passed"`, r.Gate.Passed, r.Gate.Passed); !strings.Contains(string(badge), wantBadge) {
		t.Errorf("badge.json %s lacks %s", badge, wantBadge)
	}
	sum := s.summary()
	if !strings.Contains(sum, "## ✅ cvgate PASS") || strings.Contains(sum, marker) {
		t.Errorf("step summary lacks the headline or carries the marker:\n%.400s", sum)
	}
	sameRows(t, "summary", tableRows(t, sum), reportRows(r))

	// The token: masked first thing, never printed otherwise, sent only as the Authorization header.
	if !strings.HasPrefix(stdout, "::add-mask::"+testToken+"\n") || strings.Count(stdout, testToken) != 1 || strings.Contains(stderr, testToken) {
		t.Errorf("token not masked first, or printed:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	if strings.Contains(stdout, "::error") || strings.Contains(stdout, "::warning") {
		t.Errorf("a passing run annotated something:\n%s", stdout)
	}
	for _, req := range srv.Requests() {
		if req.Auth != "Bearer "+testToken {
			t.Errorf("%s %s sent Authorization %q", req.Method, req.Path, req.Auth)
		}
	}

	// The pull request gets a new commit: the same comment is updated, never a second one.
	s2 := newStep(t, srv, ws, "pull_request", ws.payload(t, githubtest.EventPullRequestSynchronize))
	s2.input("checks", "model.load,perf.metrics,perf.baseline") // a different table, so the body changes
	if code, _, stderr := s2.run(); code != ExitPass {
		t.Fatalf("second run exit %d\n%s", code, stderr)
	}
	comments = srv.Comments(payloadPR)
	if len(comments) != 1 || srv.Calls(githubtest.OpCreateComment) != 1 || srv.Calls(githubtest.OpUpdateComment) != 1 {
		t.Fatalf("after the second run: %d comments, %d creates, %d updates; want 1, 1, 1",
			len(comments), srv.Calls(githubtest.OpCreateComment), srv.Calls(githubtest.OpUpdateComment))
	}
	sameRows(t, "updated comment", tableRows(t, comments[0].Body), reportRows(s2.report()))
	if got := len(tableRows(t, comments[0].Body)); got != 3 {
		t.Errorf("updated comment has %d rows, want the 3 checks asked for", got)
	}
	// The container cannot see the runner's tool cache: the records live in the workspace,
	// where actions/cache can save them and the next run reads them back.
	if _, err := os.Stat(filepath.Join(ws.dir, actionCacheDir)); err != nil {
		t.Errorf("no prediction cache in the workspace: %v", err)
	}
	if c := s2.report().Targets[0].Cache; c == nil || c.Candidate.Hits == 0 || c.Candidate.Misses != 0 {
		t.Errorf("second run's cache use %+v: want the clean predictions read back", c)
	}
}

func TestActionFindsOurCommentOnPage3(t *testing.T) {
	srv := newGitHub(t)
	srv.SetPullFiles(payloadPR, prFiles())
	ws := newWorkspace(t, "mnist_weak.onnx", "mnist_cnn.onnx")
	marker := github.Marker(defaultCommentID, testWorkflow)
	other := github.Marker("other-id", testWorkflow)
	var ours int64
	for i := range 260 {
		switch i {
		case 5:
			// A person quoting our comment: marked, but not ours to edit.
			srv.AddComment(payloadPR, "octocat", false, "> "+marker+"\n> quoted")
		case 120:
			// Another cvgate step's comment (a different comment-id).
			srv.AddComment(payloadPR, githubtest.BotLogin, true, other+"\nother step")
		case 230: // page 3 of 100
			ours = srv.AddComment(payloadPR, githubtest.BotLogin, true, marker+"\nan old result")
		default:
			srv.AddComment(payloadPR, "octocat", false, fmt.Sprintf("review comment %d", i))
		}
	}
	s := newStep(t, srv, ws, "pull_request", ws.payload(t, githubtest.EventPullRequestSynchronize))
	if code, _, stderr := s.run(); code != ExitPass {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if n := srv.Calls(githubtest.OpListComments); n != 3 {
		t.Errorf("listed comments in %d requests, want 3 pages", n)
	}
	if srv.Calls(githubtest.OpCreateComment) != 0 || srv.Calls(githubtest.OpUpdateComment) != 1 {
		t.Fatalf("%d creates, %d updates; want the comment on page 3 updated in place",
			srv.Calls(githubtest.OpCreateComment), srv.Calls(githubtest.OpUpdateComment))
	}
	for _, c := range srv.Comments(payloadPR) {
		switch c.ID {
		case ours:
			sameRows(t, "comment on page 3", tableRows(t, c.Body), reportRows(s.report()))
		default:
			if strings.Contains(c.Body, "cvgate PASS") {
				t.Errorf("comment %d by %s was overwritten", c.ID, c.Login)
			}
		}
	}
	if got := s.outputs()["comment-url"]; !strings.HasSuffix(got, fmt.Sprintf("#issuecomment-%d", ours)) {
		t.Errorf("comment-url %q does not point at comment %d", got, ours)
	}
}

// A fork's token is read-only: no comment, but the gate, the summary, the outputs and one
// warning about the workflow_run pattern.
func TestActionForkReadOnly(t *testing.T) {
	srv := newGitHub(t)
	srv.SetReadOnly(true)
	srv.SetPullFiles(payloadPR, prFiles())
	// The fork replaces the model with a much weaker one: perf.baseline must fail.
	ws := newWorkspace(t, "mnist_cnn.onnx", "mnist_weak.onnx")
	s := newStep(t, srv, ws, "pull_request", ws.payload(t, githubtest.EventPullRequestFork))
	code, stdout, stderr := s.run()
	if code != ExitGateFailed {
		t.Fatalf("exit %d, want %d (the gate fails; the missing comment does not change that)\n%s", code, ExitGateFailed, stderr)
	}
	if len(srv.Comments(payloadPR)) != 0 || srv.Calls(githubtest.OpCreateComment) != 1 {
		t.Errorf("comments %d, create attempts %d; want 0 and 1 (answered 403)", len(srv.Comments(payloadPR)), srv.Calls(githubtest.OpCreateComment))
	}
	if n := strings.Count(stdout, "::warning"); n != 1 || !strings.Contains(stdout, "workflow_run") {
		t.Errorf("want exactly one warning explaining the workflow_run pattern, got %d:\n%s", n, stdout)
	}
	if !strings.Contains(stdout, "::error file=models/m.onnx,line=1,title=cvgate%3A models/m.onnx FAIL::perf.baseline fail") {
		t.Errorf("no error annotation on the failing model file:\n%s", stdout)
	}
	r := s.report()
	out := s.outputs()
	if out["verdict"] != "fail" || out["failed"] != fmt.Sprint(r.Gate.Failed) || out["comment-url"] != "" {
		t.Errorf("outputs %v, want verdict fail, failed %d, no comment url", out, r.Gate.Failed)
	}
	sameRows(t, "summary", tableRows(t, s.summary()), reportRows(r))
}

// A 5xx on listing comments is retried; a pull request files API the token may not read falls
// back to git diff in the workspace.
func TestActionRetriesAndGitFallback(t *testing.T) {
	srv := newGitHub(t)
	srv.Fail(githubtest.OpListComments, githubtest.Fault{Status: 502})
	srv.Fail(githubtest.OpListPullFiles, githubtest.Fault{Status: 403, Body: `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest"}`})
	ws := newWorkspace(t, "mnist_weak.onnx", "mnist_cnn.onnx")
	s := newStep(t, srv, ws, "pull_request", ws.payload(t, githubtest.EventPullRequestOpened))
	code, _, stderr := s.run()
	if code != ExitPass {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "using git diff") || !strings.Contains(stderr, "retrying") {
		t.Errorf("stderr does not tell about the fallback and the retry:\n%s", stderr)
	}
	if r := s.report(); len(r.Targets) != 1 || r.Targets[0].Name != "models/m.onnx" {
		t.Fatalf("targets from git diff: %+v", r.Targets)
	}
	if n := srv.Calls(githubtest.OpListComments); n != 2 {
		t.Errorf("listed comments %d times, want 2 (502, then success)", n)
	}
	if len(srv.Comments(payloadPR)) != 1 {
		t.Errorf("%d comments, want 1", len(srv.Comments(payloadPR)))
	}
}

func TestActionNoChangedModels(t *testing.T) {
	srv := newGitHub(t)
	srv.SetPullFiles(payloadPR, []githubtest.PullFile{{Filename: "README.md", Status: "modified"}, {Filename: "models/old.onnx", Status: "removed"}})
	ws := newWorkspace(t, "mnist_weak.onnx", "mnist_cnn.onnx")
	s := newStep(t, srv, ws, "pull_request", ws.payload(t, githubtest.EventPullRequestOpened))
	code, _, stderr := s.run()
	if code != ExitPass {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if n := len(srv.Comments(payloadPR)); n != 0 {
		t.Errorf("%d comments: a pull request that never had one gets none", n)
	}
	if out := s.outputs(); out["verdict"] != "pass" || out["passed"] != "0" || out["badge-svg"] == "" {
		t.Errorf("outputs %v", out)
	}
	if sum := s.summary(); !strings.Contains(sum, "nothing to gate") || !strings.Contains(sum, "*.onnx") {
		t.Errorf("summary:\n%s", sum)
	}
	badge, _ := os.ReadFile(filepath.Join(ws.dir, "cvgate-out", "badge.json"))
	if !strings.Contains(string(badge), "no checks") {
		t.Errorf("badge.json = %s", badge)
	}

	// With an earlier result on the pull request, that comment is corrected.
	marker := github.Marker(defaultCommentID, testWorkflow)
	id := srv.AddComment(payloadPR, githubtest.BotLogin, true, marker+"\n## cvgate: FAIL")
	s2 := newStep(t, srv, ws, "pull_request", ws.payload(t, githubtest.EventPullRequestSynchronize))
	if code, _, stderr := s2.run(); code != ExitPass {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	cs := srv.Comments(payloadPR)
	if len(cs) != 1 || cs[0].ID != id || !strings.Contains(cs[0].Body, "nothing to gate") || !strings.HasPrefix(cs[0].Body, marker) {
		t.Errorf("comments %+v: want the earlier one rewritten to say there is nothing to gate", cs)
	}
}

// The release gate: no pull request, models from the input, and the release profile of the
// config file stricter than the default.
func TestActionReleaseProfile(t *testing.T) {
	srv := newGitHub(t)
	ws := newWorkspace(t, "mnist_weak.onnx", "mnist_cnn.onnx")
	ws.write(t, "ci/cvgate.yml", "version: 1\nprofiles:\n  release:\n    thresholds:\n      perf.metrics: {min_accuracy: 0.995}\n")
	for _, tt := range []struct {
		profile string
		code    int
	}{{"", ExitPass}, {"release", ExitGateFailed}} {
		t.Run("profile="+tt.profile, func(t *testing.T) {
			s := newStep(t, srv, ws, "release", ws.payload(t, githubtest.EventReleasePublished))
			s.input("models", "**/*.onnx")
			s.input("config", "ci/cvgate.yml")
			s.input("profile", tt.profile)
			code, stdout, stderr := s.run()
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, stderr)
			}
			r := s.report()
			if len(r.Targets) != 1 || r.Targets[0].Baseline != nil || !strings.Contains(r.Targets[0].BaselineNote, "no baseline") {
				t.Errorf("a release run has no default baseline: %+v", r.Targets)
			}
			if r.Run.CI["release"] != "0.0.1" {
				t.Errorf("run.ci = %v, want the release tag from the payload", r.Run.CI)
			}
			if tt.code == ExitGateFailed && !strings.Contains(stdout, "::error file=models/m.onnx") {
				t.Errorf("no annotation on the failing model:\n%s", stdout)
			}
		})
	}
	if n := srv.TotalCalls(); n != 0 {
		t.Errorf("%d API calls for a release run with explicit models and no pull request, want 0", n)
	}
}

func TestActionCannotRun(t *testing.T) {
	tests := []struct {
		name, event, payload string
		inputs               map[string]string
		env                  map[string]string
		lfs                  bool
		want                 string
	}{
		{name: "push without models", event: "push", payload: githubtest.EventPush, want: "set the action's models input"},
		{name: "bad fail-on", event: "push", payload: githubtest.EventPush, inputs: map[string]string{"models": "models/m.onnx", "fail-on": "sometimes"}, want: "fail_on"},
		// A docker:// step can only pass inputs through env:, with underscores.
		{name: "bad fail-on from env", event: "push", payload: githubtest.EventPush, env: map[string]string{"INPUT_MODELS": "models/m.onnx", "INPUT_FAIL_ON": "sometimes"}, want: "fail_on"},
		{name: "LFS pointer", event: "pull_request", payload: githubtest.EventPullRequestOpened, lfs: true, want: "lfs: true"},
		{name: "missing config file", event: "pull_request", payload: githubtest.EventPullRequestOpened, inputs: map[string]string{"config": "nope.yml"}, want: "nope.yml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newGitHub(t)
			srv.SetPullFiles(payloadPR, prFiles())
			ws := newWorkspace(t, "mnist_weak.onnx", "mnist_cnn.onnx")
			if tt.lfs {
				ws.write(t, "models/m.onnx", "version https://git-lfs.github.com/spec/v1\noid sha256:"+strings.Repeat("ab", 32)+"\nsize 108436\n")
			}
			marker := github.Marker(defaultCommentID, testWorkflow)
			srv.AddComment(payloadPR, githubtest.BotLogin, true, marker+"\n## cvgate: PASS")
			s := newStep(t, srv, ws, tt.event, ws.payload(t, tt.payload))
			for k, v := range tt.inputs {
				s.input(k, v)
			}
			for k, v := range tt.env {
				s.env[k] = v
			}
			code, stdout, stderr := s.run()
			if code != ExitCannotRun || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, ExitCannotRun, tt.want)
			}
			if !strings.Contains(stdout, "::error title=cvgate could not run::") || s.outputs()["verdict"] != "error" {
				t.Errorf("want an error annotation and verdict=error:\n%s", stdout)
			}
			if !strings.Contains(s.summary(), "could not run") {
				t.Errorf("summary: %s", s.summary())
			}
			cs := srv.Comments(payloadPR)
			wantUpdated := tt.event == "pull_request"
			if len(cs) != 1 || strings.Contains(cs[0].Body, "could not run") != wantUpdated {
				t.Errorf("comment %q: an earlier PASS on the pull request must be corrected (and only there)", cs[0].Body)
			}
		})
	}
}

// publish posts a saved report from a workflow_run job: the report of a pull request run, with a
// check's details blown up past GitHub's comment limit.
func TestPublishFromWorkflowRun(t *testing.T) {
	srv := newGitHub(t)
	srv.SetReadOnly(true) // the pull request run itself cannot comment (a fork)
	srv.SetPullFiles(payloadPR, prFiles())
	ws := newWorkspace(t, "mnist_cnn.onnx", "mnist_weak.onnx")
	pr := newStep(t, srv, ws, "pull_request", ws.payload(t, githubtest.EventPullRequestFork))
	if code, _, stderr := pr.run(); code != ExitGateFailed {
		t.Fatalf("pull request run: exit %d\n%s", code, stderr)
	}
	r := pr.report()
	big := strings.Repeat("a very long failure explanation ", 4000) // 128,000 characters
	for i := range r.Targets[0].Results {
		if res := &r.Targets[0].Results[i]; res.Status == report.StatusFail {
			// Many sections: markdown caps one paragraph, so one huge text alone would fit.
			for range 40 {
				res.Details = append(res.Details, report.Section{Title: "everything", Text: big})
			}
		}
	}
	saved := filepath.Join(ws.dir, "artifact", "report.json")
	if err := os.MkdirAll(filepath.Dir(saved), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := (report.JSON{}).Write(&buf, r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(saved, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	srv.SetReadOnly(false) // the trusted job's token may write
	s := newStep(t, srv, ws, "workflow_run", workflowRunPayload(t, ws, testWorkflow))
	s.env["GITHUB_WORKFLOW"] = "publish cvgate"
	code, stdout, stderr := s.run("publish", "--report", "artifact/report.json")
	if code != ExitPass {
		t.Fatalf("publish exit %d\n%s", code, stderr)
	}
	cs := srv.Comments(payloadPR)
	if len(cs) != 1 {
		t.Fatalf("%d comments, want 1", len(cs))
	}
	body := cs[0].Body
	if n := len([]rune(body)); n > github.MaxCommentBody {
		t.Errorf("comment has %d characters, over %d", n, github.MaxCommentBody)
	}
	// The marker names the pull request run's workflow (from the event, not the report), so the
	// two jobs share one comment.
	if !strings.HasPrefix(body, github.Marker(defaultCommentID, testWorkflow)) {
		t.Errorf("comment marker: %.80s", body)
	}
	sameRows(t, "trimmed comment", tableRows(t, body), reportRows(r))
	if !strings.Contains(body, "left out") || !strings.Contains(body, fullReportWhere) || strings.Contains(body, big[:200]) {
		t.Errorf("the comment should drop the huge details and say where the full report is:\n%.2000s", body)
	}
	if sum := s.summary(); !strings.Contains(sum, big[:200]) {
		t.Errorf("the step summary (1 MiB budget) should keep the details")
	}
	out := s.outputs()
	if out["verdict"] != "fail" || out["report-json"] != "artifact/report.json" || !strings.Contains(out["comment-url"], "#issuecomment-") {
		t.Errorf("outputs %v", out)
	}
	if strings.Count(stdout, testToken) != 1 {
		t.Errorf("token printed beyond its mask:\n%s", stdout)
	}
}

func TestPublishTarget(t *testing.T) {
	rep := func(pr, head string) *report.Report {
		return &report.Report{Run: report.Run{CI: map[string]string{"pr": pr, "head_sha": head}}}
	}
	wr := func(pr int, head string) github.Event {
		return github.Event{Name: "workflow_run", WorkflowRun: &github.WorkflowRun{PullRequestNumber: pr, HeadSHA: head}}
	}
	tests := []struct {
		name       string
		flag       int
		r          *report.Report
		ev         github.Event
		want       int
		fromReport bool
		wantErr    string
	}{
		{"flag wins", 9, rep("2", ""), github.Event{}, 9, false, ""},
		{"report's number, to be checked", 0, rep("2", "abc"), wr(0, "abc"), 2, true, ""},
		{"event's number (fork artifacts may lack it)", 0, rep("", ""), wr(7, "abc"), 7, false, ""},
		{"agreeing numbers", 0, rep("7", "abc"), wr(7, "abc"), 7, false, ""},
		{"report steered to another pull request", 0, rep("8", "abc"), wr(7, "abc"), 0, false, "refusing"},
		{"report from another commit", 0, rep("7", "def"), wr(0, "abc"), 0, false, "refusing"},
		{"nothing", 0, rep("", ""), github.Event{}, 0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fromReport, err := publishTarget(tt.flag, tt.r, tt.ev)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || fromReport != tt.fromReport {
				t.Errorf("publishTarget = %d, %v, %v; want %d, %v", got, fromReport, err, tt.want, tt.fromReport)
			}
		})
	}
}

// A fork's workflow_run event has no pull request number: it comes from the report, and is
// believed only when GitHub says that pull request is at the commit the run was for.
func TestPublishForkArtifact(t *testing.T) {
	srv := newGitHub(t)
	srv.SetReadOnly(true)
	srv.SetPullFiles(payloadPR, prFiles())
	ws := newWorkspace(t, "mnist_weak.onnx", "mnist_cnn.onnx")
	pr := newStep(t, srv, ws, "pull_request", ws.payload(t, githubtest.EventPullRequestFork))
	if code, _, stderr := pr.run(); code != ExitPass {
		t.Fatalf("pull request run: exit %d\n%s", code, stderr)
	}
	srv.SetReadOnly(false)
	// The real workflow_run payload, as GitHub sends it for a fork: no pull_requests.
	var payload map[string]any
	if err := json.Unmarshal([]byte(readFile(t, ws.payload(t, githubtest.EventWorkflowRunCompleted))), &payload); err != nil {
		t.Fatal(err)
	}
	payload["workflow_run"].(map[string]any)["pull_requests"] = []any{}
	forkRun := filepath.Join(t.TempDir(), "workflow_run.fork.json")
	data, _ := json.Marshal(payload)
	if err := os.WriteFile(forkRun, data, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		pull     *githubtest.Pull // GitHub's view of pull request #2
		code     int
		comments int
		want     string // in stdout or stderr
	}{
		{"pull request at the run's commit", &githubtest.Pull{HeadSHA: ws.head}, ExitPass, 1, "comment created"},
		{"pull request elsewhere", &githubtest.Pull{HeadSHA: ws.base}, ExitPass, 0, "nothing was published"},
		{"no such pull request", nil, ExitCannotRun, 0, "pull request #2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newGitHub(t)
			if tt.pull != nil {
				srv.SetPull(payloadPR, *tt.pull)
			}
			s := newStep(t, srv, ws, "workflow_run", forkRun)
			code, stdout, stderr := s.run("publish", "--report", "cvgate-out/report.json")
			if code != tt.code || len(srv.Comments(payloadPR)) != tt.comments || !strings.Contains(stdout+stderr, tt.want) {
				t.Errorf("exit %d, %d comments; want %d, %d and %q\nstdout:\n%s\nstderr:\n%s",
					code, len(srv.Comments(payloadPR)), tt.code, tt.comments, tt.want, stdout, stderr)
			}
			if srv.Calls(githubtest.OpGetPull) != 1 {
				t.Errorf("the pull request was checked %d times, want once", srv.Calls(githubtest.OpGetPull))
			}
		})
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Every option with an action input is declared in action.yml, and action.yml declares nothing
// else but the two inputs that are not config options.
func TestActionYAMLMatchesOptions(t *testing.T) {
	declared := map[string]bool{}
	for _, name := range actionYAMLInputs(t) {
		declared[name] = true
	}
	want := map[string]bool{inputConfig: true, inputToken: true}
	for _, o := range config.Options() {
		if o.Input != "" {
			want[o.Input] = true
		}
	}
	for name := range want {
		if !declared[name] {
			t.Errorf("input %q is not declared in action.yml", name)
		}
	}
	for name := range declared {
		if !want[name] {
			t.Errorf("action.yml declares input %q, which no option reads", name)
		}
	}
	outs := actionYAML(t).Outputs
	if len(outs) != len(actionOutputs()) {
		t.Errorf("action.yml declares %d outputs, the action sets %d", len(outs), len(actionOutputs()))
	}
	for _, name := range actionOutputs() {
		if outs[name].Description == "" {
			t.Errorf("output %q is not declared (with a description) in action.yml", name)
		}
	}
}

// A renamed model is compared with the file at its old path on the base commit.
func TestActionRenamedModel(t *testing.T) {
	srv := newGitHub(t)
	ws := newWorkspace(t, "mnist_weak.onnx", "mnist_cnn.onnx")
	ws.git(t, "mv", "models/m.onnx", "models/renamed.onnx")
	ws.head = ws.commit(t, "rename")
	srv.SetPullFiles(payloadPR, []githubtest.PullFile{{Filename: "models/renamed.onnx", Status: "renamed", PreviousFilename: "models/m.onnx"}})
	s := newStep(t, srv, ws, "pull_request", ws.payload(t, githubtest.EventPullRequestOpened))
	s.input("checks", "model.load,perf.baseline")
	if code, _, stderr := s.run(); code != ExitPass {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	tg := s.report().Targets[0]
	if tg.Name != "models/renamed.onnx" || tg.Baseline == nil || tg.Baseline.Source != "git:"+ws.base+":models/m.onnx" {
		t.Fatalf("target %q baseline %+v, want models/renamed.onnx against the old path at the base", tg.Name, tg.Baseline)
	}
	if want := fileSHA(t, ortlib.Model(t, "mnist_weak.onnx")); tg.Baseline.SHA256 != want {
		t.Errorf("baseline sha256 %s, want mnist_weak.onnx's", tg.Baseline.SHA256)
	}
}

// A token GitHub rejects costs the comment, never the gate: the files come from git diff and one
// warning explains.
func TestActionRejectedToken(t *testing.T) {
	srv := newGitHub(t)
	srv.SetToken("ghs_someOtherToken000000000000000000000")
	srv.SetPullFiles(payloadPR, prFiles())
	ws := newWorkspace(t, "mnist_weak.onnx", "mnist_cnn.onnx")
	ws.write(t, "cvgate.yml", "version: 1\nmodels: [./models/m.onnx]\n")
	s := newStep(t, srv, ws, "pull_request", ws.payload(t, githubtest.EventPullRequestOpened))
	s.input("config", "cvgate.yml")
	code, stdout, stderr := s.run()
	if code != ExitPass {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if r := s.report(); len(r.Targets) != 1 || r.Targets[0].Name != "models/m.onnx" {
		t.Fatalf("targets %+v, want models/m.onnx from git diff, matched by the config's ./models/m.onnx", r.Targets)
	}
	if n := strings.Count(stdout, "::warning"); n != 1 || !strings.Contains(stdout, "rejected the token") || !strings.Contains(stdout, "gate is not affected") {
		t.Errorf("want one warning about the token:\n%s", stdout)
	}
	if s.outputs()["verdict"] != "pass" || len(srv.Comments(payloadPR)) != 0 {
		t.Errorf("outputs %v, %d comments", s.outputs(), len(srv.Comments(payloadPR)))
	}
}
