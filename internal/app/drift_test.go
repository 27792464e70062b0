package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/github/githubtest"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
	"github.com/cvgate/cvgate/report"
)

// `cvgate check` on the demo data reports integrity, leakage (against the training sample) and
// weak slices, and lists every image's properties in report.json.
func TestCheckReportsDataChecks(t *testing.T) {
	h := newHarness(t)
	cfg := filepath.Join(h.dir, "cvgate.yml")
	if err := os.WriteFile(cfg, []byte("version: 1\nthresholds:\n  data.leakage:\n    train: "+h.testdata("images/mnist_train_sample")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := h.run("check", "--quiet", "--config", cfg, "--model", h.testdata("models/mnist_cnn.onnx"),
		"--data", h.testdata("images/mnist"), "--out", "out", "--checks", "perf.segments,data")
	if code != ExitPass {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	r := h.report("out")
	for _, id := range []string{"perf.segments", "data.integrity", "data.leakage"} {
		if res := result(t, r, 0, id); res.Status != report.StatusPass {
			t.Errorf("%s: %s (%s), want pass on the clean demo data", id, res.Status, res.Summary)
		}
	}
	if got := result(t, r, 0, "data.leakage").Metrics["train_images"]; got != 200 {
		t.Errorf("leakage searched %g training images, want 200", got)
	}
	if tr := r.Inputs.Train; tr == nil || tr.Images != 200 || len(tr.SHA256) != 64 {
		t.Errorf("inputs.train %+v, want the 200 training images with their digest", tr)
	}
	props := r.Inputs.Dataset.Properties
	if props == nil || len(props.Images) != 500 || len(props.Summary) != len(props.Names) {
		t.Fatalf("inputs.dataset.properties missing or incomplete: %+v", props)
	}
	row := props.Images[0]
	if len(row.Values) != len(props.Names) || !strings.HasSuffix(row.Path, ".png") {
		t.Errorf("first row %+v", row)
	}
	for _, v := range row.Values {
		if s := strconv.FormatFloat(v, 'g', -1, 64); len(strings.TrimLeft(strings.ReplaceAll(strings.Split(s, "e")[0], ".", ""), "0")) > 4 {
			t.Errorf("value %s is not rounded to 4 significant digits", s)
		}
	}
}

// `cvgate drift` separates Fashion-MNIST from MNIST (exit 1) and finds nothing between MNIST test
// and training images (exit 0); it cannot run without a reference or with two models (exit 2).
func TestDriftCommand(t *testing.T) {
	h := newHarness(t)
	model := h.testdata("models/mnist_cnn.onnx")
	mnist, fashion, train := h.testdata("images/mnist"), h.testdata("images/fashion"), h.testdata("images/mnist_train_sample")
	tests := []struct {
		name     string
		args     []string
		code     int
		statuses map[string]report.Status
		stderr   string
	}{
		{name: "fashion against mnist", args: []string{"--reference", mnist, "--current", fashion, "--model", model}, code: ExitGateFailed,
			statuses: map[string]report.Status{"drift.properties": report.StatusFail, "drift.labels": report.StatusFail, "drift.predictions": report.StatusFail, "drift.domain": report.StatusFail, "drift.guard": report.StatusWarn}},
		{name: "mnist train against mnist test", args: []string{"--reference", mnist, "--current", train, "--model", model}, code: ExitPass,
			statuses: map[string]report.Status{"drift.properties": report.StatusPass, "drift.labels": report.StatusPass, "drift.predictions": report.StatusPass, "drift.domain": report.StatusPass, "drift.guard": report.StatusPass}},
		{name: "without a model", args: []string{"--reference", mnist, "--current", fashion}, code: ExitGateFailed,
			statuses: map[string]report.Status{"drift.properties": report.StatusFail, "drift.predictions": report.StatusSkip}},
		{name: "checks from a shared list", args: []string{"--reference", mnist, "--current", train, "--checks", "perf.metrics,drift.labels"}, code: ExitPass,
			statuses: map[string]report.Status{"drift.labels": report.StatusPass}},
		{name: "no reference", args: []string{"--current", fashion}, code: ExitCannotRun, stderr: "--reference"},
		{name: "two models", args: []string{"--reference", mnist, "--current", fashion, "--model", model, "--model", h.testdata("models/mnist_weak.onnx")}, code: ExitCannotRun, stderr: "one model"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := "drift" + strconv.Itoa(i)
			code, _, stderr := h.run(append([]string{"drift", "--quiet", "--out", out}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", code, tt.code, stderr)
			}
			if tt.stderr != "" && !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr)
			}
			if tt.statuses == nil {
				return
			}
			r := h.report(out)
			if r.Kind != "drift" || r.Inputs.Reference == nil || r.Inputs.Dataset == nil || r.Inputs.Dataset.Properties == nil {
				t.Errorf("report kind %q, reference %v: not a complete drift report", r.Kind, r.Inputs.Reference)
			}
			if len(r.Targets[0].Results) != len(tt.statuses) && !strings.Contains(tt.name, "without") {
				t.Errorf("%d results, want %d", len(r.Targets[0].Results), len(tt.statuses))
			}
			for id, want := range tt.statuses {
				if res := result(t, r, 0, id); res.Status != want {
					t.Errorf("%s: %s (%s), want %s", id, res.Status, res.Summary, want)
				}
			}
		})
	}
}

// monitor runs the action in drift mode as a scheduled workflow would, against a fake GitHub.
type monitor struct {
	t   *testing.T
	srv *githubtest.Server
	env map[string]string
}

func newMonitor(t *testing.T) *monitor {
	t.Helper()
	owner, repo, _ := strings.Cut(payloadRepo, "/")
	srv := githubtest.NewServer(t, owner, repo)
	srv.SetToken(testToken)
	payload := filepath.Join(t.TempDir(), "schedule.json")
	// A schedule event's payload is just the cron line that fired.
	if err := os.WriteFile(payload, []byte(`{"schedule": "0 6 * * 1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &monitor{t: t, srv: srv, env: map[string]string{
		"ORT_LIB":           ortlib.Runtime(t).LibPath,
		"GITHUB_ACTIONS":    "true",
		"GITHUB_EVENT_NAME": "schedule",
		"GITHUB_EVENT_PATH": payload,
		"GITHUB_REPOSITORY": payloadRepo,
		"GITHUB_WORKSPACE":  t.TempDir(),
		"GITHUB_API_URL":    srv.URL,
		"GITHUB_SERVER_URL": "https://github.com",
		"GITHUB_WORKFLOW":   "drift monitor",
		allowOutsideEnv:     "1", // the image inputs name the repository's fixtures
	}}
	for _, name := range actionYAMLInputs(t) {
		m.input(name, "")
	}
	root := ortlib.RepoRoot(t)
	m.input(inputToken, testToken)
	m.input("command", "drift")
	m.input("models", filepath.Join(root, "testdata/models/mnist_cnn.onnx"))
	m.input("reference", filepath.Join(root, "testdata/images/mnist"))
	return m
}

func (m *monitor) input(name, value string) { m.env["INPUT_"+strings.ToUpper(name)] = value }

// run is one scheduled run over the current images.
func (m *monitor) run(runID int, current string) (int, string) {
	m.t.Helper()
	files := m.t.TempDir()
	m.env["GITHUB_RUN_ID"] = strconv.Itoa(runID)
	m.env["GITHUB_OUTPUT"] = filepath.Join(files, "output")
	m.env["GITHUB_STEP_SUMMARY"] = filepath.Join(files, "summary")
	m.input("current", filepath.Join(ortlib.RepoRoot(m.t), "testdata/images", current))
	var out, errb bytes.Buffer
	a := &App{Args: []string{"action"}, Env: m.env, Stdout: &out, Stderr: &errb, Version: "test",
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }}
	code := a.Run(context.Background())
	// The token appears once, in the command that masks it, and nowhere else.
	if !strings.HasPrefix(out.String(), "::add-mask::"+testToken+"\n") || strings.Count(out.String(), testToken) != 1 || strings.Contains(errb.String(), testToken) {
		m.t.Errorf("the token was printed unmasked")
	}
	return code, errb.String()
}

// The scheduled monitoring flow: drift opens one issue, drift again updates it (no second issue),
// no drift comments on it and closes it, and a quiet week touches nothing.
func TestDriftMonitoringIssue(t *testing.T) {
	m := newMonitor(t)
	marker := github.Marker("drift:"+defaultCommentID, "drift monitor")

	code, stderr := m.run(101, "fashion")
	if code != ExitGateFailed {
		t.Fatalf("drifted run: exit %d, want 1\n%s", code, stderr)
	}
	issues := m.srv.Issues()
	if len(issues) != 1 {
		t.Fatalf("%d issues after the first drift, want 1", len(issues))
	}
	is := issues[0]
	if is.State != "open" || !strings.HasPrefix(is.Body, marker) || len(is.Labels) != 1 || is.Labels[0] != "cvgate-drift" {
		t.Errorf("issue %+v: want open, labelled cvgate-drift, body starting with %s", is, marker)
	}
	for _, want := range []string{"drift.properties", "drift.domain", "brightness", "actions/runs/101"} {
		if !strings.Contains(is.Body, want) {
			t.Errorf("issue body lacks %q", want)
		}
	}

	if code, stderr := m.run(102, "fashion"); code != ExitGateFailed {
		t.Fatalf("second drifted run: exit %d\n%s", code, stderr)
	}
	if n := len(m.srv.Issues()); n != 1 || m.srv.Calls(githubtest.OpCreateIssue) != 1 || m.srv.Calls(githubtest.OpUpdateIssue) != 1 {
		t.Errorf("after drift again: %d issues, %d creates, %d updates; want the one issue updated",
			n, m.srv.Calls(githubtest.OpCreateIssue), m.srv.Calls(githubtest.OpUpdateIssue))
	}
	is, _ = m.srv.Issue(is.Number)
	if !strings.Contains(is.Body, "actions/runs/102") || strings.Contains(is.Body, "actions/runs/101") {
		t.Errorf("the issue body was not brought up to date")
	}
	if c := m.srv.Comments(is.Number); len(c) != 1 || !strings.Contains(c[0].Body, "still there") {
		t.Errorf("comments %+v, want one saying drift is still there", c)
	}

	if code, stderr := m.run(103, "mnist_train_sample"); code != ExitPass {
		t.Fatalf("undrifted run: exit %d, want 0\n%s", code, stderr)
	}
	is, _ = m.srv.Issue(is.Number)
	if is.State != "closed" || is.StateReason != "completed" {
		t.Errorf("issue %s (%s) after a run without drift, want closed", is.State, is.StateReason)
	}
	c := m.srv.Comments(is.Number)
	if len(c) != 2 || !strings.Contains(c[1].Body, "No drift") || !strings.Contains(c[1].Body, "actions/runs/103") {
		t.Errorf("comments %+v, want a closing note for run 103", c)
	}

	calls := m.srv.TotalCalls()
	if code, _ := m.run(104, "mnist_train_sample"); code != ExitPass {
		t.Fatalf("quiet run: exit %d", code)
	}
	if m.srv.Calls(githubtest.OpCreateIssue) != 1 || m.srv.Calls(githubtest.OpCreateComment) != 2 || m.srv.TotalCalls()-calls > 2 {
		t.Errorf("a quiet run after the issue was closed should only look for open issues: %d calls", m.srv.TotalCalls()-calls)
	}
}

// A token without issues: write costs the issue, not the gate, and is explained once.
func TestDriftMonitoringReadOnlyToken(t *testing.T) {
	m := newMonitor(t)
	m.srv.SetReadOnly(true)
	code, stderr := m.run(201, "fashion")
	if code != ExitGateFailed {
		t.Fatalf("exit %d, want the gate's 1\n%s", code, stderr)
	}
	if len(m.srv.Issues()) != 0 || !strings.Contains(stderr, "issues: write") {
		t.Errorf("issues %d; stderr should say which permission is missing:\n%s", len(m.srv.Issues()), stderr)
	}
}
