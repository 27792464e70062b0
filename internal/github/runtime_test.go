package github_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/github/githubtest"
)

// fakeEnv is the getenv main would pass.
func fakeEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestInputAndMask(t *testing.T) {
	var out bytes.Buffer
	rt := github.NewRuntime(fakeEnv(map[string]string{
		"INPUT_FAIL-ON":      " warn ",
		"INPUT_GITHUB-TOKEN": testToken,
		"INPUT_MODEL_PATH":   "m.onnx",
	}), &out)
	if got := rt.Input("fail-on"); got != "warn" {
		t.Errorf("Input(fail-on) = %q, want warn (hyphen kept, trimmed)", got)
	}
	if got := rt.Input("model path"); got != "m.onnx" {
		t.Errorf("Input(model path) = %q, want m.onnx", got)
	}
	if err := rt.Mask(rt.Input("github-token")); err != nil {
		t.Fatal(err)
	}
	if err := rt.Mask("line1\nline2"); err != nil {
		t.Fatal(err)
	}
	want := "::add-mask::" + testToken + "\n::add-mask::line1\n::add-mask::line2\n"
	if out.String() != want {
		t.Errorf("output = %q, want %q", out.String(), want)
	}
}

// readOutputs parses a GITHUB_OUTPUT file in the runner's documented format:
// "name=value" lines, or "name<<DELIM", value lines, "DELIM".
func readOutputs(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if name, delim, ok := strings.Cut(line, "<<"); ok {
			var val []string
			closed := false
			for sc.Scan() {
				if sc.Text() == delim {
					closed = true
					break
				}
				val = append(val, sc.Text())
			}
			if !closed {
				t.Fatalf("output %q: delimiter %q never closes", name, delim)
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, _ := strings.Cut(line, "=")
		out[name] = val
	}
	return out
}

func TestSetOutput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "output")
	rt := github.NewRuntime(fakeEnv(map[string]string{"GITHUB_OUTPUT": file}), &bytes.Buffer{})
	values := map[string]string{
		"verdict": "fail",
		"summary": "line one\nEOF\n_GitHubActionsFileCommandDelimeter_\nlast",
		"tricky":  "ghadelimiter_x\n",
		"empty":   "",
	}
	for _, name := range []string{"verdict", "summary", "tricky", "empty"} {
		if err := rt.SetOutput(name, values[name]); err != nil {
			t.Fatal(err)
		}
	}
	got := readOutputs(t, file)
	for name, want := range values {
		if got[name] != want {
			t.Errorf("output %s = %q, want %q", name, got[name], want)
		}
	}
	if err := rt.SetOutput("bad\nname", "x"); err == nil {
		t.Error("a name with a newline must be refused")
	}
	if err := rt.SetOutput("huge", strings.Repeat("x", github.MaxJobOutputsBytes)); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("output over the job limit: err = %v", err)
	}
	// Outside Actions there is nowhere to write: no error, no file.
	if err := github.NewRuntime(fakeEnv(nil), &bytes.Buffer{}).SetOutput("verdict", "pass"); err != nil {
		t.Errorf("SetOutput outside Actions: %v", err)
	}
}

func TestAppendSummary(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "summary.md")
	rt := github.NewRuntime(fakeEnv(map[string]string{"GITHUB_STEP_SUMMARY": file}), &bytes.Buffer{})

	truncated, err := rt.AppendSummary("# cvgate\n\n| check | status |\n")
	if err != nil || truncated {
		t.Fatalf("small summary: truncated %v, %v", truncated, err)
	}

	// Another 1.2 MiB of table rows must be cut to fit what is left of 1 MiB.
	var big strings.Builder
	for i := 0; big.Len() < 1_200_000; i++ {
		big.WriteString("| robust.corruptions | fail | é |\n")
	}
	truncated, err = rt.AppendSummary(big.String())
	if err != nil || !truncated {
		t.Fatalf("big summary: truncated %v, %v; want truncated", truncated, err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > github.MaxStepSummaryBytes {
		t.Fatalf("summary is %d bytes, over the %d limit", len(data), github.MaxStepSummaryBytes)
	}
	if len(data) < github.MaxStepSummaryBytes-1000 {
		t.Errorf("summary is %d bytes: cut far more than needed", len(data))
	}
	body, note, ok := strings.Cut(string(data), "\n\n> **Note:**")
	if !ok || !strings.Contains(note, "1 MiB") || !strings.Contains(note, "dropped") {
		t.Fatalf("no truncation note at the end: %q", string(data[len(data)-200:]))
	}
	if !strings.HasSuffix(body, "|\n") {
		t.Errorf("cut mid-line: %q", body[len(body)-40:])
	}
	// Full: a further append writes nothing but still reports the cut.
	truncated, err = rt.AppendSummary(strings.Repeat("more\n", 40))
	if err != nil || !truncated {
		t.Errorf("append to a full summary: truncated %v, %v", truncated, err)
	}
	if after, _ := os.ReadFile(file); len(after) != len(data) {
		t.Errorf("full summary grew from %d to %d bytes", len(data), len(after))
	}
}

func TestAnnotationCaps(t *testing.T) {
	tests := []struct {
		name          string
		warnings      int
		errors        int
		notices       int
		wantWarnCmds  int
		wantErrCmds   int
		wantPlain     int
		wantSummaries []string
	}{
		{name: "under the cap", warnings: 3, errors: 2, wantWarnCmds: 3, wantErrCmds: 2},
		{name: "exactly ten", warnings: 10, wantWarnCmds: 10},
		{
			name: "over the cap", warnings: 25, errors: 11, notices: 12,
			// 9 shown + 1 summary line each; the rest go to the log as plain lines.
			wantWarnCmds: 10, wantErrCmds: 10, wantPlain: 16 + 2,
			wantSummaries: []string{"16 more warning annotations", "2 more error annotations"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			rt := github.NewRuntime(fakeEnv(nil), &out)
			for i := range tt.warnings {
				if err := rt.Annotate(github.Annotation{Level: github.LevelWarning, File: "models/a.onnx", Message: "w" + strings.Repeat("!", i)}); err != nil {
					t.Fatal(err)
				}
			}
			for range tt.errors {
				if err := rt.Annotate(github.Annotation{Level: github.LevelError, File: "models/a.onnx", Line: 3, Message: "e"}); err != nil {
					t.Fatal(err)
				}
			}
			for range tt.notices {
				if err := rt.Annotate(github.Annotation{Level: github.LevelNotice, Message: "n"}); err != nil {
					t.Fatal(err)
				}
			}
			if err := rt.Flush(); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			var warn, errs, notice, plain int
			for _, l := range lines {
				switch {
				case strings.HasPrefix(l, "::warning "):
					warn++
				case strings.HasPrefix(l, "::error "):
					errs++
				case strings.HasPrefix(l, "::notice::"):
					notice++
				case l != "":
					plain++
				}
			}
			if warn != tt.wantWarnCmds || errs != tt.wantErrCmds || notice != tt.notices || plain != tt.wantPlain {
				t.Errorf("warning/error/notice commands, plain lines = %d/%d/%d, %d; want %d/%d/%d, %d\n%s",
					warn, errs, notice, plain, tt.wantWarnCmds, tt.wantErrCmds, tt.notices, tt.wantPlain, out.String())
			}
			for _, s := range tt.wantSummaries {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q", s)
				}
			}
			if tt.warnings > 0 && !strings.Contains(out.String(), "::warning file=models/a.onnx,line=1::w") {
				t.Errorf("file annotation without a line should go on line 1:\n%s", out.String())
			}
		})
	}
}

func TestAnnotationEscapingAndWarnOnce(t *testing.T) {
	var out bytes.Buffer
	rt := github.NewRuntime(fakeEnv(nil), &out)
	// A message must not be able to smuggle a second workflow command.
	if err := rt.Annotate(github.Annotation{Level: github.LevelError, File: "a,b:c.onnx", Title: "model.load", Message: "bad\n::set-output name=verdict::pass"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := rt.WarnOnce("read-only", "token is read-only; comment skipped"); err != nil {
			t.Fatal(err)
		}
	}
	if err := rt.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "::error file=a%2Cb%3Ac.onnx,line=1,title=model.load::bad%0A::set-output name=verdict::pass\n" +
		"::warning::token is read-only; comment skipped\n"
	if out.String() != want {
		t.Errorf("output =\n%q\nwant\n%q", out.String(), want)
	}
}

// Hostile names: each tries to start a workflow command on a line of its own, in every way the
// runner recognises one (a line break, a lone carriage return, leading white space, the legacy
// "##[" form anywhere in a line, a Unicode line separator).
var hostileNames = []string{
	"models/a.onnx\n::set-output name=verdict::pass",
	"models/a.onnx\r::add-mask::x",
	"models/a.onnx\r\n  ::notice::forged",
	"\u00a0::warning::nbsp-led",
	"::error::at the very start",
	"models/a ##[set-output name=verdict;]pass",
	"models/a\u2028::debug::line separator",
	"models/a%0A::set-output name=verdict::pre-escaped",
}

// Past GitHub's 10 annotations per level the rest become plain log lines. Those lines carry a
// model path, a title and a message from input: none of them may run a command. The runner's
// view of the output (githubtest.ParseCommands) must show exactly the annotations cvgate meant.
func TestOverflowAnnotationsCannotRunCommands(t *testing.T) {
	var out bytes.Buffer
	rt := github.NewRuntime(fakeEnv(nil), &out)
	n := 0
	for range 3 {
		for _, name := range hostileNames {
			n++
			if err := rt.Annotate(github.Annotation{Level: github.LevelError, File: name, Title: name, Message: "failed: " + name}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := rt.Flush(); err != nil {
		t.Fatal(err)
	}
	cmds := githubtest.ParseCommands(out.String())
	if len(cmds) != github.MaxShownErrors {
		t.Errorf("the runner would run %d commands, want the %d error annotations:\n%s", len(cmds), github.MaxShownErrors, out.String())
	}
	for _, c := range cmds {
		if c.Name != "error" || c.Legacy {
			t.Errorf("the runner would run %s (legacy %v) from line %q", c.Name, c.Legacy, c.Line)
		}
	}
	// Every hostile name is still in the log, escaped (nothing is silently dropped).
	if got := strings.Count(out.String(), "%0A::set-output name=verdict::pass"); got == 0 {
		t.Errorf("the overflow lines lost the names:\n%s", out.String())
	}
}

// With commands stopped, lines cvgate does not control (written straight to the stream, as a C
// library or a panic would) run nothing, while the runtime's own annotations still do, and the
// step ends with processing resumed.
func TestStopCommands(t *testing.T) {
	var out bytes.Buffer
	rt := github.NewRuntime(fakeEnv(map[string]string{"GITHUB_ACTIONS": "true"}), &out)
	if err := rt.StopCommands(); err != nil {
		t.Fatal(err)
	}
	out.WriteString("[W:onnxruntime] node x\n::set-output name=verdict::pass\n")
	if err := rt.Annotate(github.Annotation{Level: github.LevelError, Message: "real"}); err != nil {
		t.Fatal(err)
	}
	out.WriteString("a ##[add-mask]secret\n")
	if err := rt.ResumeCommands(); err != nil {
		t.Fatal(err)
	}
	var ran []string
	tokens := map[string]bool{}
	for _, c := range githubtest.ParseCommands(out.String()) {
		if c.Name == "stop-commands" {
			if tokens[c.Data] || len(c.Data) != 32 {
				t.Errorf("stop token %q reused or too short", c.Data)
			}
			tokens[c.Data] = true
			continue
		}
		ran = append(ran, c.Name+":"+c.Data)
	}
	if strings.Join(ran, ",") != "error:real" {
		t.Errorf("the runner would run %v, want only error:real\n%s", ran, out.String())
	}
	if !strings.HasSuffix(out.String(), "::\n") || strings.Count(out.String(), "::stop-commands::") != 2 {
		t.Errorf("want stop, resume+error+stop, resume:\n%s", out.String())
	}
	// Outside Actions there is no runner to tell.
	var local bytes.Buffer
	if err := github.NewRuntime(fakeEnv(nil), &local).StopCommands(); err != nil || local.Len() != 0 {
		t.Errorf("StopCommands outside Actions wrote %q (%v)", local.String(), err)
	}
}
