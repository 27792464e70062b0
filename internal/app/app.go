// Package app is cvgate's command line: it parses subcommands, wires config, data, models, checks,
// report writers and GitHub together, and maps outcomes to exit codes. main.go only builds an App
// from the process (arguments, environment, standard streams) and calls Run.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/confine"
	"github.com/cvgate/cvgate/internal/github/wfcmd"
	"github.com/cvgate/cvgate/internal/onnx"
)

// Exit codes.
const (
	ExitPass       = 0 // the gate passed
	ExitGateFailed = 1 // the gate failed (a check failed under the fail-on policy)
	ExitCannotRun  = 2 // cvgate could not run: bad config, missing model, unreadable data, no runtime
)

// App is one invocation of cvgate. Everything it reads from or writes to the process is a field,
// so that tests run it in-process.
type App struct {
	Args   []string          // without the program name
	Env    map[string]string // the process environment
	Stdout io.Writer
	Stderr io.Writer
	// StderrTerminal selects a progress bar instead of log lines; StdoutTerminal a results table
	// instead of the markdown report.
	StderrTerminal, StdoutTerminal bool
	// Now is the clock (injected so that reports can be reproduced).
	Now func() time.Time
	// Version and Commit identify the build.
	Version, Commit string
	// Executable is the path of the running binary (to find a bundled runtime library).
	Executable string
	// HTTPClient reaches the GitHub API; nil uses a default client with timeouts.
	HTTPClient *http.Client
	// Dir is the working directory relative paths are resolved against ("" for the process's).
	// It is also the workspace that every input path is confined to.
	Dir string

	// allowOutside is --allow-outside-workspace (or CVGATE_ALLOW_OUTSIDE_WORKSPACE=1): read data,
	// labels, config and models anywhere, for local use.
	allowOutside bool
	ws           *confine.Root
}

// allowOutsideEnv opts out of workspace confinement like --allow-outside-workspace, for the
// action (whose settings come from the environment) and scripts.
const allowOutsideEnv = "CVGATE_ALLOW_OUTSIDE_WORKSPACE"

// workspace is the folder every input path must resolve into (Dir, or the process's directory),
// or nil when confinement is switched off. It is opened once per run.
func (a *App) workspace() (*confine.Root, error) {
	if a.allowOutside || a.getenv(allowOutsideEnv) == "1" || a.getenv(allowOutsideEnv) == "true" {
		return nil, nil
	}
	if a.ws != nil && a.ws.Dir() == mustAbs(a.path(".")) {
		return a.ws, nil
	}
	a.closeWorkspace()
	ws, err := confine.Open(a.path("."))
	if err != nil {
		return nil, err
	}
	a.ws = ws
	return ws, nil
}

func (a *App) closeWorkspace() {
	if a.ws != nil {
		a.ws.Close()
		a.ws = nil
	}
}

func mustAbs(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(a *App, ctx context.Context, args []string) int
}

func (a *App) commands() []command {
	return []command{
		{"check", "evaluate models on labelled images and gate on the results", (*App).runCheck},
		{"drift", "compare current images with reference images (properties, labels, predictions)", (*App).runDrift},
		{"merge", "run the check on the union of sharded runs' records (cvgate check --shard I/N)", (*App).runMerge},
		{"compare", "rank several models on the same images, with paired statistics", (*App).runCompare},
		{"guard", "build an input guard into the model (guard build) and screen images with it (guard screen)", (*App).runGuard},
		{"config", "print the effective configuration (defaults, file, flags merged)", (*App).runConfig},
		{"action", "run as the GitHub container action (reads INPUT_* and the event; the image's entrypoint)", (*App).runAction},
		{"publish", "post a saved report.json as the sticky PR comment, summary and outputs (never runs a model)", (*App).runPublish},
		{"audit", "append a run's audit.json to a hash-chained log, or verify the log", (*App).runAudit},
		{"version", "print the version of cvgate and of ONNX Runtime", (*App).runVersion},
	}
}

// Run executes the command line and returns the exit code.
func (a *App) Run(ctx context.Context) int {
	if a.Now == nil {
		a.Now = time.Now
	}
	if a.Env == nil {
		a.Env = map[string]string{}
	}
	defer a.closeWorkspace()
	// Logs (anything that is not a terminal: a CI runner reads its workflow commands from them)
	// pass through wfcmd.Writers, so that no line printed from input can run a command. A terminal
	// keeps its progress bar and table as they are.
	if !a.StderrTerminal || !a.StdoutTerminal {
		out, errw := a.Stdout, a.Stderr
		if !a.StdoutTerminal && out != nil {
			w := wfcmd.NewWriter(out)
			a.Stdout = w
			defer w.Flush()
		}
		if !a.StderrTerminal && errw != nil {
			w := wfcmd.NewWriter(errw)
			a.Stderr = w
			defer w.Flush()
		}
	}
	if len(a.Args) == 0 {
		a.usage(a.Stderr)
		return ExitCannotRun
	}
	name, rest := a.Args[0], a.Args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		a.usage(a.Stdout)
		return ExitPass
	case "--version", "-version":
		return a.runVersion(ctx, nil)
	}
	for _, c := range a.commands() {
		if c.name == name {
			return c.run(a, ctx, rest)
		}
	}
	var names []string
	for _, c := range a.commands() {
		names = append(names, c.name)
	}
	// A short usage, then the error as the last line, where a reader of a CI log looks.
	fmt.Fprintf(a.Stderr, "Usage: cvgate <command> [flags], commands: %s (cvgate help describes them)\n", strings.Join(names, ", "))
	msg := fmt.Sprintf("cvgate: unknown command %q", name)
	if strings.HasPrefix(name, "-") {
		msg = fmt.Sprintf("cvgate: %q before the command: put flags after it (cvgate check --data DIR ...)", name)
	} else if s := config.Suggest(name, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	fmt.Fprintln(a.Stderr, msg)
	return ExitCannotRun
}

func (a *App) usage(w io.Writer) {
	fmt.Fprintf(w, `cvgate %s checks computer-vision models (ONNX classifiers, detectors and segmenters)
before they ship.

Usage:
  cvgate <command> [flags] [arguments]

Commands:
`, a.Version)
	for _, c := range a.commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "cvgate <command> --help" for its flags; flags may come before or after the arguments.

Exit codes: 0 the gate passed, 1 the gate failed, 2 cvgate could not run.

Quick start:
  scripts/setup-ort                                  # install the ONNX Runtime library once
  cvgate check model.onnx --data images/             # class-per-folder images
  cvgate check model.onnx --data images/ --baseline old.onnx --size 224x224 --preset imagenet
  cvgate config                                      # every setting and threshold, resolved
`)
}

func (a *App) getenv(k string) string { return a.Env[k] }

func (a *App) logf(format string, args ...any) {
	fmt.Fprintln(a.Stderr, "cvgate: "+wfcmd.Sprintf(format, args...))
}

// fail prints an error the user can act on and returns the "could not run" exit code.
func (a *App) fail(err error) int {
	var ve *config.ValidationError
	var me *onnx.MissingLibraryError
	switch {
	case errors.As(err, &ve):
		fmt.Fprintf(a.Stderr, "cvgate: %v\n", ve)
	case errors.As(err, &me):
		fmt.Fprintf(a.Stderr, "cvgate: %v\n", me)
	default:
		fmt.Fprintf(a.Stderr, "cvgate: %v\n", err)
	}
	return ExitCannotRun
}

func (a *App) runVersion(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: cvgate version\n\nPrints the version of cvgate, the pinned ONNX Runtime version, and the library this\nmachine would load (or how to install it). Takes no flags.\n")
	}
	rest, code, ok := a.parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(a.Stderr, "cvgate version: unexpected argument %q (it takes none)\n", rest[0])
		return ExitCannotRun
	}
	fmt.Fprintf(a.Stdout, "cvgate %s", a.Version)
	if a.Commit != "" {
		fmt.Fprintf(a.Stdout, " (%s)", a.Commit)
	}
	fmt.Fprintf(a.Stdout, "\nONNX Runtime: pinned %s", onnx.PinnedVersion)
	if lib, err := onnx.Locate("", a.getenv, a.Executable); err == nil {
		if rt, err := onnx.Init(lib); err == nil {
			fmt.Fprintf(a.Stdout, ", loaded %s from %s", rt.Version, lib)
		} else {
			fmt.Fprintf(a.Stdout, ", %s cannot be loaded: %v", lib, err)
		}
	} else {
		fmt.Fprintf(a.Stdout, ", not installed (run %s)", onnx.SetupCommand)
	}
	fmt.Fprintln(a.Stdout)
	return ExitPass
}
