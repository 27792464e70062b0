// Command cvgate checks computer-vision models (ONNX image classifiers, object detectors and segmentation models) before they ship: it runs
// production-readiness, robustness and regression checks on labelled images, writes reports, and
// gates a pull request or a release on the result. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/cvgate/cvgate/internal/app"
)

// version and commit are set at build time: -ldflags "-X main.version=v1.2.3 -X main.commit=abc".
var (
	version = "dev"
	commit  = ""
)

// shutdownGrace is how long a run may take to stop and write its partial report after SIGTERM
// or SIGINT. Every forward pass is terminated at once (see internal/onnx), so stopping takes well
// under a second; the grace only bounds a bug. A second signal ends the process at once.
const shutdownGrace = 20 * time.Second

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		name := "SIGINT"
		if sig == syscall.SIGTERM {
			name = "SIGTERM"
		}
		cancel(fmt.Errorf("received %s", name))
		select {
		case <-signals:
			fmt.Fprintf(os.Stderr, "cvgate: second signal after %s: exiting now, without a report\n", name)
		case <-time.After(shutdownGrace):
			fmt.Fprintf(os.Stderr, "cvgate: did not stop within %s of %s: exiting without a report\n", shutdownGrace, name)
		}
		os.Exit(app.ExitCannotRun)
	}()
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	if _, set := env["GOGC"]; !set {
		// Most of the heap is the decoded image store, alive for the whole run, so Go's default
		// (collect when the heap doubles) lets garbage grow to the size of the store: measured on
		// 1,000 images at 224 px (scripts/bench-pr), the clean pass peaked at 1.39 GB RSS with the
		// default and 1.19 GB at 50 (28 collections instead of 14; user CPU 21.0 s both, gctrace
		// reporting under 1% of CPU in GC).
		debug.SetGCPercent(50)
	}
	exe, _ := os.Executable()
	a := &app.App{
		Args:           os.Args[1:],
		Env:            env,
		Stdout:         os.Stdout,
		Stderr:         os.Stderr,
		StderrTerminal: term.IsTerminal(int(os.Stderr.Fd())),
		StdoutTerminal: term.IsTerminal(int(os.Stdout.Fd())),
		Version:        version,
		Commit:         commit,
		Executable:     exe,
	}
	code := a.Run(ctx)
	signal.Stop(signals)
	os.Exit(code)
}
