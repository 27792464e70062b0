package github

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/sethvargo/go-githubactions"

	"github.com/cvgate/cvgate/internal/github/wfcmd"
)

// Runtime is the GitHub Actions side of a run: inputs, masks, outputs, step
// summary, annotations, event. It reads the environment only through the getenv
// it is given and writes workflow commands only to the writer it is given, so
// main owns os and tests pass fakes. Every command is built by wfcmd.Command
// (data and properties escaped) and, when the writer is a wfcmd.Writer, written
// through its WriteCommand, the one door for commands on a filtered stream. Not
// safe for concurrent use.
type Runtime struct {
	action *githubactions.Action
	getenv func(string) string
	out    io.Writer

	warned      map[string]bool
	annotations map[AnnotationLevel]*levelState
	outputBytes int
	// stopToken, when set, is the token of the runner's "::stop-commands::" in force: no line
	// of the step's output runs a command until "::<token>::" (see StopCommands).
	stopToken string
	newToken  func() (string, error)
}

// NewRuntime wraps go-githubactions with getenv (os.Getenv in main) and stdout,
// where workflow commands go.
func NewRuntime(getenv func(string) string, stdout io.Writer) *Runtime {
	return &Runtime{
		action:      githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(stdout)),
		getenv:      getenv,
		out:         stdout,
		warned:      map[string]bool{},
		annotations: map[AnnotationLevel]*levelState{},
		newToken:    randomToken,
	}
}

// randomToken is a stop-commands token: 128 bits from crypto/rand in hex, so no input can
// guess it, and never a registered command name.
func randomToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make stop-commands token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// StopCommands switches the runner's command processing off for the rest of the step
// ("::stop-commands::<token>"), so that output cvgate does not control (a C library logging a
// node name of the model, a panic message quoting a path) cannot run a workflow command. The
// runtime's own commands still work: each is written between a resume ("::<token>::") and a
// fresh stop. The state is the runner's, per step and shared by stdout and stderr; call
// ResumeCommands before the step ends so that the step's last lines read normally. Outside
// Actions it does nothing.
func (r *Runtime) StopCommands() error {
	if !r.InActions() || r.stopToken != "" {
		return nil
	}
	return r.stop()
}

func (r *Runtime) stop() error {
	token, err := r.newToken()
	if err != nil {
		return err
	}
	if err := r.writeLine(wfcmd.Command("stop-commands", nil, token)); err != nil {
		return err
	}
	r.stopToken = token
	return nil
}

// ResumeCommands ends StopCommands.
func (r *Runtime) ResumeCommands() error {
	if r.stopToken == "" {
		return nil
	}
	token := r.stopToken
	r.stopToken = ""
	return r.writeLine("::" + token + "::")
}

// InActions reports whether this is a GitHub Actions run (GITHUB_ACTIONS=true).
func (r *Runtime) InActions() bool { return r.getenv("GITHUB_ACTIONS") == "true" }

// Input returns action input name, read from INPUT_<NAME> (upper-cased, spaces
// as underscores, hyphens kept, as the runner sets them), trimmed.
func (r *Runtime) Input(name string) string { return r.action.GetInput(name) }

// Mask asks the runner to hide secret in all later log output. Each line of a
// multi-line secret is masked on its own, since the runner matches per line.
func (r *Runtime) Mask(secret string) error {
	for _, line := range strings.Split(strings.ReplaceAll(secret, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if err := r.command("add-mask", nil, line); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runtime) command(name string, props map[string]string, data string) error {
	line := wfcmd.Command(name, props, data)
	stopped := r.stopToken != ""
	if stopped {
		if err := r.ResumeCommands(); err != nil {
			return fmt.Errorf("write workflow command %q: %w", name, err)
		}
	}
	if err := r.writeLine(line); err != nil {
		return fmt.Errorf("write workflow command %q: %w", name, err)
	}
	if stopped {
		// A fresh token each time: one printed in the log is never good again.
		if err := r.stop(); err != nil {
			return fmt.Errorf("write workflow command %q: %w", name, err)
		}
	}
	return nil
}

// writeLine writes one command line: through the stream's command door when stdout is a
// wfcmd.Writer (which neutralizes every other line), else as it is.
func (r *Runtime) writeLine(line string) error {
	if cw, ok := r.out.(wfcmd.CommandWriter); ok {
		return cw.WriteCommand(line)
	}
	_, err := io.WriteString(r.out, line+"\n")
	return err
}

// SetOutput appends output name=value to the GITHUB_OUTPUT file in the
// multi-line form, with a delimiter derived from the value and checked not to
// occur in it, so any value (newlines, "EOF" lines) is safe. Outputs over
// MaxJobOutputsBytes in total are refused. Outside Actions (no GITHUB_OUTPUT) it
// does nothing.
func (r *Runtime) SetOutput(name, value string) error {
	if name == "" || strings.ContainsAny(name, "\r\n") || strings.Contains(name, "<<") || strings.Contains(name, "=") {
		return fmt.Errorf("set output %q: invalid name", name)
	}
	file := r.getenv("GITHUB_OUTPUT")
	if file == "" {
		return nil
	}
	size := len(name) + len(value)
	if r.outputBytes+size > MaxJobOutputsBytes {
		return fmt.Errorf("set output %q: %d bytes would bring this job's outputs over GitHub's %d-byte limit; write it to a file instead",
			name, size, MaxJobOutputsBytes)
	}
	delim := delimiterFor(value)
	entry := name + "<<" + delim + "\n" + value + "\n" + delim + "\n"
	if err := appendFile(file, entry); err != nil {
		return fmt.Errorf("set output %q: %w", name, err)
	}
	r.outputBytes += size
	return nil
}

// delimiterFor returns a heredoc delimiter that does not occur in value. It is
// derived from the value's hash, so outputs are deterministic.
func delimiterFor(value string) string {
	sum := sha256.Sum256([]byte(value))
	d := "ghadelimiter_" + hex.EncodeToString(sum[:8])
	for strings.Contains(value, d) {
		d += "_"
	}
	return d
}

func appendFile(name, data string) (err error) {
	f, err := os.OpenFile(name, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open %q: %w", name, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %q: %w", name, cerr)
		}
	}()
	if _, err := f.WriteString(data); err != nil {
		return fmt.Errorf("write %q: %w", name, err)
	}
	return nil
}

// summaryNote ends a step summary cut to fit MaxStepSummaryBytes.
const summaryNote = "\n\n> **Note:** this summary was cut to fit GitHub's 1 MiB step summary limit; %d bytes were dropped. See the full report file.\n"

// AppendSummary appends markdown to the step summary (GITHUB_STEP_SUMMARY).
// GitHub drops a step summary over MaxStepSummaryBytes entirely, so what would
// exceed it, counting what the step already wrote, is cut at a line boundary
// and a note says so; truncated reports it. Size budgets belong to the caller
// (report writers trim details first); this is the last line of defence.
// Outside Actions it does nothing.
func (r *Runtime) AppendSummary(markdown string) (truncated bool, err error) {
	file := r.getenv("GITHUB_STEP_SUMMARY")
	if file == "" {
		return false, nil
	}
	var used int64
	if st, err := os.Stat(file); err == nil {
		used = st.Size()
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("append step summary %q: %w", file, err)
	}
	room := MaxStepSummaryBytes - int(used)
	if len(markdown) > room {
		markdown, truncated = cutSummary(markdown, room), true
	}
	if markdown == "" {
		return truncated, nil
	}
	if err := appendFile(file, markdown); err != nil {
		return truncated, fmt.Errorf("append step summary: %w", err)
	}
	return truncated, nil
}

// cutSummary fits markdown plus the note into room bytes, cutting at the last
// newline (or at least on a UTF-8 boundary) before the limit.
func cutSummary(markdown string, room int) string {
	// The note's %d grows by at most 7 digits (up to 1 MiB).
	budget := room - len(summaryNote) - 8
	if budget <= 0 {
		return ""
	}
	keep := markdown[:budget]
	if i := strings.LastIndexByte(keep, '\n'); i > 0 {
		keep = keep[:i+1]
	}
	for len(keep) > 0 && !utf8.ValidString(keep) {
		keep = keep[:len(keep)-1]
	}
	return keep + fmt.Sprintf(summaryNote, len(markdown)-len(keep))
}

// AnnotationLevel is the kind of annotation.
type AnnotationLevel string

const (
	LevelError   AnnotationLevel = "error"
	LevelWarning AnnotationLevel = "warning"
	LevelNotice  AnnotationLevel = "notice"
)

// Annotation is one workflow-command annotation. With File set and Line 0, the
// annotation is placed on line 1 so GitHub shows it on the file.
type Annotation struct {
	Level   AnnotationLevel
	File    string // repository-relative path
	Line    int
	Title   string
	Message string
}

// levelState tracks one level against GitHub's shown-per-step cap.
type levelState struct {
	count int
	held  *Annotation // the last slot, kept until Flush knows whether it is needed for the summary line
}

func shownCap(l AnnotationLevel) int {
	switch l {
	case LevelError:
		return MaxShownErrors
	case LevelWarning:
		return MaxShownWarnings
	}
	return 0 // notices: no documented cap
}

// Annotate emits an annotation. GitHub shows only the first 10 errors and 10
// warnings of a step, so the 10th slot is kept back: at Flush it is emitted if
// it was the last one, or replaced by one annotation counting the ones not
// shown. Those are still written to the log as plain lines, so nothing is lost.
func (r *Runtime) Annotate(a Annotation) error {
	if a.Level == "" {
		a.Level = LevelWarning
	}
	limit := shownCap(a.Level)
	if limit == 0 {
		return r.emit(a)
	}
	st := r.annotations[a.Level]
	if st == nil {
		st = &levelState{}
		r.annotations[a.Level] = st
	}
	st.count++
	switch {
	case st.count < limit:
		return r.emit(a)
	case st.count == limit:
		st.held = &a
		return nil
	case st.count == limit+1:
		if err := r.logPlain(*st.held); err != nil {
			return err
		}
		st.held = nil
	}
	return r.logPlain(a)
}

// Flush writes the annotation held in each level's last shown slot, or the line
// saying how many were not shown. Call it once before the step ends.
func (r *Runtime) Flush() error {
	for _, level := range []AnnotationLevel{LevelError, LevelWarning} {
		st := r.annotations[level]
		limit := shownCap(level)
		if st == nil || st.count < limit {
			continue
		}
		a := Annotation{Level: level, Title: "cvgate", Message: fmt.Sprintf(
			"%d more %s annotations are not shown (GitHub shows %d per step); they are in this step's log",
			st.count-(limit-1), level, limit)}
		if st.held != nil {
			a = *st.held
		}
		// Reset so a second Flush does not repeat the line.
		st.count, st.held = 0, nil
		if err := r.emit(a); err != nil {
			return err
		}
	}
	return nil
}

// WarnOnce emits a warning the first time key is seen, so a condition met by
// every target (read-only token, missing LFS) is reported once.
func (r *Runtime) WarnOnce(key, message string) error {
	if r.warned[key] {
		return nil
	}
	r.warned[key] = true
	return r.Annotate(Annotation{Level: LevelWarning, Message: message})
}

func (r *Runtime) emit(a Annotation) error {
	props := map[string]string{}
	if a.File != "" {
		props["file"] = a.File
		line := a.Line
		if line <= 0 {
			line = 1
		}
		props["line"] = fmt.Sprint(line)
	}
	if a.Title != "" {
		props["title"] = a.Title
	}
	return r.command(string(a.Level), props, a.Message)
}

// logPlain writes an annotation as an ordinary log line (no "::" command), for
// the ones over the shown cap. File, title and message come from input (model
// paths, check summaries, a report artifact), so each goes through wfcmd.Text:
// one line, and nothing in it can start a command.
func (r *Runtime) logPlain(a Annotation) error {
	var b strings.Builder
	b.WriteString(string(a.Level))
	b.WriteString(": ")
	if a.File != "" {
		b.WriteString(wfcmd.Text(a.File))
		b.WriteString(": ")
	}
	if a.Title != "" {
		b.WriteString(wfcmd.Text(a.Title))
		b.WriteString(": ")
	}
	b.WriteString(wfcmd.Text(a.Message))
	b.WriteByte('\n')
	if _, err := io.WriteString(r.out, b.String()); err != nil {
		return fmt.Errorf("write log line: %w", err)
	}
	return nil
}
