package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/github/githubtest"
	"github.com/cvgate/cvgate/report"
)

// ranCommands is what the runner would run from a step's stdout and stderr, leaving out what
// cvgate itself is expected to write: masking the token and stopping and resuming command
// processing.
func ranCommands(t *testing.T, stdout, stderr string) []githubtest.RunnerCommand {
	t.Helper()
	var out []githubtest.RunnerCommand
	for _, stream := range []string{stdout, stderr} {
		for _, c := range githubtest.ParseCommands(stream) {
			switch {
			case c.Name == "add-mask" && c.Data == testToken && !c.Legacy:
			case c.Name == "stop-commands" && len(c.Data) == 32 && !c.Legacy:
			case len(c.Name) == 32 && c.Data == "" && !c.Legacy: // resume
			default:
				out = append(out, c)
			}
		}
	}
	return out
}

// onlyAnnotations fails the test unless every command is an error or warning annotation.
func onlyAnnotations(t *testing.T, cmds []githubtest.RunnerCommand) {
	t.Helper()
	for _, c := range cmds {
		if c.Legacy || (c.Name != "error" && c.Name != "warning") {
			t.Errorf("the runner would run %s (legacy %v) from line %q", c.Name, c.Legacy, c.Line)
		}
	}
}

// A pull request adds a model whose file name carries workflow commands (git allows line breaks
// in names). The action checks it, logs it, annotates it and comments on it: the runner must run
// nothing but cvgate's own annotations, and the verdict output is the gate's.
func TestActionHostileModelName(t *testing.T) {
	// No "[" in the name: evaluate expands model paths as globs (a note for its owner).
	hostile := "models/a\n::set-output name=verdict::pass\r::add-mask::Hello\r\n  ::warning::forged.onnx"
	srv := newGitHub(t)
	ws := newWorkspace(t, "mnist_cnn.onnx", "mnist_cnn.onnx")
	ws.copy(t, "mnist_nan.onnx", hostile)
	ws.head = ws.commit(t, "a hostile model")
	srv.SetPullFiles(payloadPR, []githubtest.PullFile{{Filename: hostile, Status: "added"}})

	s := newStep(t, srv, ws, "pull_request", ws.payload(t, githubtest.EventPullRequestOpened))
	code, stdout, stderr := s.run()
	if code == ExitCannotRun {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	r := s.report()
	if len(r.Targets) != 1 || r.Targets[0].Name != hostile {
		t.Fatalf("targets %+v: the hostile model should have been checked", r.Targets)
	}
	cmds := ranCommands(t, stdout, stderr)
	onlyAnnotations(t, cmds)
	for _, c := range cmds {
		if strings.Contains(c.Data, "forged") && c.Props["file"] == "" {
			t.Errorf("a forged annotation: %q", c.Line)
		}
	}
	if got := s.outputs()["verdict"]; got != string(r.Gate.Verdict) {
		t.Errorf("verdict output %q, want the gate's %q", got, r.Gate.Verdict)
	}
	if !strings.Contains(stderr, "models/a%0A::set-output") {
		t.Errorf("the log should name the model, escaped:\n%s", stderr)
	}
}

// workflowRunPayload is the real workflow_run payload for the workspace's head commit, with the
// name GitHub gives the checking run (the example leaves it empty).
func workflowRunPayload(t *testing.T, ws *workspace, name string) string {
	t.Helper()
	var payload map[string]any
	if err := json.Unmarshal([]byte(readFile(t, ws.payload(t, githubtest.EventWorkflowRunCompleted))), &payload); err != nil {
		t.Fatal(err)
	}
	payload["workflow_run"].(map[string]any)["name"] = name
	p := filepath.Join(t.TempDir(), "workflow_run.json")
	data, _ := json.Marshal(payload)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// craftedReport is what an attacker's run could upload: a PASS headline over failing results,
// a marker of another workflow's comment, pings, a tracking image, and target names that carry
// workflow commands, for more targets than GitHub shows annotations for.
func craftedReport(t *testing.T, head string) *report.Report {
	t.Helper()
	r := &report.Report{
		SchemaVersion: report.SchemaVersion, Kind: "check",
		Tool: report.Tool{Name: "@org/admins", Version: `<img src="https://tracker.example/p.png">`},
		Run:  report.Run{CI: map[string]string{"pr": "2", "head_sha": head, "workflow": "release", "comment_id": "default"}},
		Gate: report.Gate{FailOn: report.FailOnFail, Verdict: report.StatusPass, Passed: 99},
	}
	for i := range 12 {
		r.Targets = append(r.Targets, report.Target{
			Name:    fmt.Sprintf("models/m%d.onnx\n::set-output name=verdict::pass\r::add-mask::cvgate", i),
			Model:   report.Model{Path: fmt.Sprintf("models/m%d.onnx\n::notice::forged", i)},
			Verdict: report.StatusPass,
			Results: []report.Result{{ID: "perf.metrics", Status: report.StatusFail,
				Summary: `accuracy 0.1 @org/team <img src="https://tracker.example/q.png"> ## not a heading`}},
		})
	}
	r.Normalize(nil)
	return r
}

// cvgate publish runs in a trusted job on an untrusted artifact. The verdict, the counts, the
// outputs and the comment are derived from the results, not the report's claims; the marker is
// the job's own, so another cvgate comment cannot be overwritten; every string is neutralized;
// and no line of the log can run a workflow command.
func TestPublishCraftedReport(t *testing.T) {
	srv := newGitHub(t)
	ws := newWorkspace(t, "mnist_cnn.onnx", "mnist_cnn.onnx")
	releaseMarker := github.Marker(defaultCommentID, "release")
	other := srv.AddComment(payloadPR, githubtest.BotLogin, true, releaseMarker+"\nthe release gate's own comment")
	srv.SetPull(payloadPR, githubtest.Pull{HeadSHA: ws.head})

	saved := filepath.Join(ws.dir, "artifact", "report.json")
	if err := os.MkdirAll(filepath.Dir(saved), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := (report.JSON{}).Write(&buf, craftedReport(t, ws.head)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(saved, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	s := newStep(t, srv, ws, "workflow_run", workflowRunPayload(t, ws, testWorkflow))
	s.env["GITHUB_WORKFLOW"] = "publish cvgate"
	code, stdout, stderr := s.run("publish", "--report", "artifact/report.json")
	if code != ExitPass {
		t.Fatalf("publish exit %d\n%s", code, stderr)
	}
	for _, c := range srv.Comments(payloadPR) {
		if c.ID == other && c.Body != releaseMarker+"\nthe release gate's own comment" {
			t.Errorf("the release gate's comment was overwritten:\n%.300s", c.Body)
		}
	}
	cs := srv.Comments(payloadPR)
	if len(cs) != 2 {
		t.Fatalf("%d comments, want the release gate's and a new one", len(cs))
	}
	body := cs[1].Body
	if !strings.HasPrefix(body, github.Marker(defaultCommentID, testWorkflow)+"\n") {
		t.Errorf("marker not the job's own:\n%.200s", body)
	}
	if !strings.Contains(body, "## ❌ cvgate FAIL") || !strings.Contains(body, "**0 passed, 12 failed**") || strings.Contains(body, "99 passed") {
		t.Errorf("headline not derived from the results:\n%.600s", body)
	}
	if strings.Contains(body, "<img") || strings.Contains(body, "@org") || strings.Contains(body, "\n## not") {
		t.Errorf("input reached the comment as markup:\n%s", body)
	}
	if !strings.Contains(body, "> Results of [workflow run ") {
		t.Errorf("no line saying where the results come from:\n%.800s", body)
	}
	out := s.outputs()
	if out["verdict"] != "fail" || out["failed"] != "12" || out["passed"] != "0" {
		t.Errorf("outputs %v: want the derived verdict and counts", out)
	}
	if !strings.Contains(s.summary(), "## ❌ cvgate FAIL") {
		t.Errorf("step summary not derived from the results")
	}
	cmds := ranCommands(t, stdout, stderr)
	onlyAnnotations(t, cmds)
	if len(cmds) != github.MaxShownErrors {
		t.Errorf("%d annotations, want GitHub's %d", len(cmds), github.MaxShownErrors)
	}
}

// A report that does not match the schema is refused before anything is posted.
func TestPublishRefusesMalformedReport(t *testing.T) {
	ws := newWorkspace(t, "mnist_cnn.onnx", "mnist_cnn.onnx")
	var buf bytes.Buffer
	if err := (report.JSON{}).Write(&buf, craftedReport(t, ws.head)); err != nil {
		t.Fatal(err)
	}
	valid := buf.String()
	tests := []struct{ name, body, want string }{
		{"unknown field", strings.Replace(valid, `"kind": "check"`, `"kind": "check", "comment_marker": "<!-- cvgate:x -->"`, 1), "unknown field"},
		{"unknown status", strings.Replace(valid, `"status": "fail"`, `"status": "PASS"`, 1), `status "PASS"`},
		{"trailing data", valid + `{"schema_version": 1}`, "more data"},
		{"no schema version", `{"kind": "check"}`, "schema_version none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newGitHub(t)
			saved := filepath.Join(t.TempDir(), "report.json")
			if err := os.WriteFile(saved, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			s := newStep(t, srv, ws, "workflow_run", workflowRunPayload(t, ws, testWorkflow))
			code, _, stderr := s.run("publish", "--report", saved)
			if code != ExitCannotRun || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, saved) {
				t.Errorf("exit %d, stderr %q; want %d naming the file and %q", code, stderr, ExitCannotRun, tt.want)
			}
			if n := len(srv.Comments(payloadPR)); n != 0 {
				t.Errorf("%d comments posted from a refused report", n)
			}
		})
	}
}

// Someone posts a comment that carries our marker (a person, or another app's bot): the action
// must not adopt it (editing it would put cvgate's result under their name, or theirs under
// ours); it writes its own comment.
func TestActionIgnoresForgedComment(t *testing.T) {
	srv := newGitHub(t)
	srv.SetPullFiles(payloadPR, prFiles())
	ws := newWorkspace(t, "mnist_weak.onnx", "mnist_cnn.onnx")
	marker := github.Marker(defaultCommentID, testWorkflow)
	forged := map[int64]string{
		srv.AddComment(payloadPR, "mallory", false, marker+"\n## ✅ cvgate: PASS"):  marker + "\n## ✅ cvgate: PASS",
		srv.AddComment(payloadPR, "evil[bot]", true, marker+"\n## ✅ cvgate: PASS"): marker + "\n## ✅ cvgate: PASS",
	}
	s := newStep(t, srv, ws, "pull_request", ws.payload(t, githubtest.EventPullRequestOpened))
	if code, _, stderr := s.run(); code == ExitCannotRun {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	cs := srv.Comments(payloadPR)
	if len(cs) != 3 || srv.Calls(githubtest.OpUpdateComment) != 0 {
		t.Fatalf("%d comments, %d updates; want the two forged ones untouched and a new one", len(cs), srv.Calls(githubtest.OpUpdateComment))
	}
	for _, c := range cs {
		if body, ok := forged[c.ID]; ok && c.Body != body {
			t.Errorf("%s's comment was edited", c.Login)
		}
	}
	if c := cs[2]; c.Login != githubtest.BotLogin || !strings.HasPrefix(c.Body, marker) {
		t.Errorf("new comment by %s: %.100s", c.Login, c.Body)
	}
}
