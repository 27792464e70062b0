// Command cvgate checks computer-vision models (ONNX image classifiers) before they ship: it runs
// production-readiness, robustness and regression checks on labelled images, writes reports, and
// gates a pull request or a release on the result. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/cvgate/cvgate/internal/app"
)

// version and commit are set at build time: -ldflags "-X main.version=v1.2.3 -X main.commit=abc".
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	exe, _ := os.Executable()
	a := &app.App{
		Args:           os.Args[1:],
		Env:            env,
		Stdout:         os.Stdout,
		Stderr:         os.Stderr,
		StderrTerminal: term.IsTerminal(int(os.Stderr.Fd())),
		Version:        version,
		Commit:         commit,
		Executable:     exe,
	}
	code := a.Run(ctx)
	stop()
	os.Exit(code)
}
