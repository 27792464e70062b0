package app

import (
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/github/githubtest"
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
