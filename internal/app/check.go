package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/report"
)

// checkFlags are the flags of `cvgate check` beyond the config options.
type checkFlags struct {
	configFile string
	quiet      bool
	settings   []config.Setting
}

func (a *App) checkFlagSet(name string, f *checkFlags, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	config.FlagSet(fs, &f.settings)
	fs.StringVar(&f.configFile, "config", "", "config file (default .cvgate.yml when present)")
	fs.BoolVar(&f.quiet, "quiet", false, "do not print the markdown report on stdout")
	fs.BoolVar(&a.allowOutside, "allow-outside-workspace", false,
		"read data, labels, config and models outside the working directory (for local use; "+allowOutsideEnv+"=1 does the same)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: cvgate %s [flags] [MODEL.onnx ...]\n\n%s\n\nFlags:\n", name, summary)
		printFlags(fs)
		fmt.Fprintf(fs.Output(), "\nThresholds and preprocessing are set in the config file (README.md, \"Configuration\").\n")
		fmt.Fprintf(fs.Output(), "Exit codes: 0 the gate passed, 1 the gate failed, 2 cvgate could not run.\n")
	}
	return fs
}

// printFlags lists flags GNU-style (--name VALUE), which is how they are documented.
func printFlags(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg := " VALUE"
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			arg = ""
		}
		fmt.Fprintf(fs.Output(), "  --%-26s %s\n", f.Name+arg, f.Usage)
	})
}

// parseCheck parses flags (positional arguments are models) and loads the configuration. extra
// adds a command's own flags (cvgate compare's objective).
func (a *App) parseCheck(name, summary string, args []string, extra ...func(*flag.FlagSet)) (*config.Loaded, *checkFlags, int) {
	f := &checkFlags{}
	fs := a.checkFlagSet(name, f, summary)
	for _, add := range extra {
		add(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, ExitPass
		}
		return nil, nil, ExitCannotRun
	}
	opts := config.Options()
	for _, m := range fs.Args() {
		if strings.HasPrefix(m, "-") {
			fmt.Fprintf(a.Stderr, "cvgate: flag %q after the model paths: put flags first\n", m)
			return nil, nil, ExitCannotRun
		}
		f.settings = append(f.settings, config.Setting{Option: &opts[0], Value: m, Source: "--model"})
	}
	ws, err := a.workspace()
	if err != nil {
		return nil, nil, a.fail(err)
	}
	loaded, err := config.Load(config.Sources{File: f.configFile, FileRequired: f.configFile != "", Dir: a.Dir, Flags: f.settings, Workspace: ws})
	if err != nil {
		return nil, nil, a.fail(err)
	}
	return loaded, f, -1
}

func (a *App) runCheck(ctx context.Context, args []string) int {
	loaded, f, code := a.parseCheck("check", "Evaluate ONNX image classifiers on labelled images: load, numerics, accuracy,\nregression against a baseline, robustness and data checks; write reports to --out.", args)
	if code >= 0 {
		return code
	}
	r, err := a.evaluate(ctx, loaded)
	return a.finish(r, err, loaded, f.quiet)
}

// finish writes a run's outputs and turns its gate into the exit code. An interrupted run (signal
// or runtime.timeout) still writes its partial report, then exits as "could not run".
func (a *App) finish(r *report.Report, err error, loaded *config.Loaded, quiet bool) int {
	var interrupted *InterruptedError
	if errors.As(err, &interrupted) && r != nil {
		if werr := a.writeOutputs(r, loaded, !quiet); werr != nil {
			a.logf("write the partial report: %v", werr)
		} else {
			a.logf("partial report: %s", filepath.Join(loaded.Out, "report.json"))
		}
		return a.fail(err)
	}
	if err != nil {
		return a.fail(err)
	}
	if err := a.writeOutputs(r, loaded, !quiet); err != nil {
		return a.fail(err)
	}
	a.logf("%s (report: %s)", r.Gate.Headline(), filepath.Join(loaded.Out, "report.json"))
	if r.Gate.ExitFailed {
		return ExitGateFailed
	}
	return ExitPass
}

func (a *App) runConfig(ctx context.Context, args []string) int {
	loaded, _, code := a.parseCheck("config", "Print the effective configuration: built-in defaults, the config file, the profile,\ninputs and flags merged, as YAML.", args)
	if code >= 0 {
		return code
	}
	out, err := loaded.Config.YAML()
	if err != nil {
		return a.fail(err)
	}
	if loaded.File != "" {
		fmt.Fprintf(a.Stdout, "# from %s (sha256 %s) and defaults\n", loaded.File, loaded.SHA256)
	} else {
		fmt.Fprintln(a.Stdout, "# no config file: defaults, inputs and flags")
	}
	a.Stdout.Write(out)
	return ExitPass
}

// path resolves a user path against the App's directory.
func (a *App) path(p string) string {
	if p == "" || filepath.IsAbs(p) || a.Dir == "" {
		return p
	}
	return filepath.Join(a.Dir, p)
}

// peakRSS reads the process's peak resident memory (Linux), or 0.
func peakRSS() int64 {
	if runtime.GOOS != "linux" {
		return 0
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), "%d", &kb)
			return kb * 1024
		}
	}
	return 0
}
