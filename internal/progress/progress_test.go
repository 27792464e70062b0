package progress_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/github/githubtest"
	"github.com/cvgate/cvgate/internal/progress"
)

// A phase name or a logged value from input must not run a workflow command, in a CI log or on
// a terminal.
func TestNoCommandsFromInput(t *testing.T) {
	for _, terminal := range []bool{false, true} {
		var out bytes.Buffer
		clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		now := func() time.Time { clock = clock.Add(6 * time.Second); return clock }
		r := progress.New(&out, terminal, now)
		r.Start("predict a.onnx\n::set-output name=verdict::pass", 10)
		r.Add(5)
		r.Log("reading %s: %v", "img\r::add-mask::x.png", "##[set-output name=v;]p")
		r.Done()
		if cmds := githubtest.ParseCommands(out.String()); len(cmds) > 0 {
			t.Errorf("terminal %v: the runner would run %+v from\n%q", terminal, cmds, out.String())
		}
		if !strings.Contains(out.String(), "predict a.onnx%0A::set-output") {
			t.Errorf("terminal %v: the phase name should stay readable, escaped: %q", terminal, out.String())
		}
	}
}

// TestHeartbeat: in a log, a phase that reports no progress of its own (an attack) still gets a
// line every reporting interval, and none more often; a finished phase is quiet.
func TestHeartbeat(t *testing.T) {
	var out bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	r := progress.New(&out, false, now)
	r.Start("robust.adversarial", 0)
	for i := 0; i < 12; i++ { // 12 s of silence, looked at every second
		clock = clock.Add(time.Second)
		r.Tick()
	}
	r.Done()
	clock = clock.Add(10 * time.Second)
	r.Tick()
	want := "cvgate: robust.adversarial running (5 s)\ncvgate: robust.adversarial running (10 s)\ncvgate: robust.adversarial done in 12.0s\n"
	if got := out.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}
