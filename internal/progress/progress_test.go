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
