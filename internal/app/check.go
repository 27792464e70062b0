package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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

// gateExit is the exit-code rule of the commands that gate (check, drift, config's validation).
const gateExit = "Exit codes: 0 the gate passed, 1 the gate failed, 2 cvgate could not run."

func (a *App) checkFlagSet(name string, f *checkFlags, summary, exit string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	config.FlagSet(fs, &f.settings)
	fs.StringVar(&f.configFile, "config", "", "config file (default .cvgate.yml when present)")
	fs.BoolVar(&f.quiet, "quiet", false, "do not print the markdown report on stdout")
	fs.BoolVar(&a.allowOutside, "allow-outside-workspace", false,
		"read data, labels, config and models outside the working directory (for local use; "+allowOutsideEnv+"=1 does the same)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: cvgate %s [flags] [MODEL.onnx ...]\n\n%s\n\nFlags (before or after the models):\n", name, summary)
		printFlags(fs)
		fmt.Fprintf(fs.Output(), "\nThresholds are set in the config file (README.md, \"Configuration\"); cvgate config prints them all.\n")
		fmt.Fprintln(fs.Output(), exit)
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

// parseFlags parses args with fs, flags before, between or after the positional arguments (the
// flag package alone stops at the first positional one), and returns the positional arguments;
// everything after "--" is positional. --help prints the usage on stdout (exit 0). A bad flag gets
// a one-line usage and then the error, with the closest flag when it looks like a typo, so that
// the error is the last line (ok false: return code).
func (a *App) parseFlags(fs *flag.FlagSet, args []string) (positional []string, code int, ok bool) {
	usage := fs.Usage
	out := fs.Output()
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	defer func() { fs.SetOutput(out); fs.Usage = usage }()
	rest, tail := args, []string(nil)
	for i, arg := range args {
		if arg == "--" {
			rest, tail = args[:i], args[i+1:]
			break
		}
	}
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(a.Stdout)
				usage()
				return nil, ExitPass, false
			}
			fmt.Fprintf(a.Stderr, "Usage: cvgate %s [flags] (cvgate %s --help lists them)\n", fs.Name(), fs.Name())
			fmt.Fprintf(a.Stderr, "cvgate %s: %s\n", fs.Name(), flagError(fs, err))
			return nil, ExitCannotRun, false
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		positional = append(positional, rest[0])
		rest = rest[1:]
	}
	return append(positional, tail...), 0, true
}

// flagError rewords the flag package's errors GNU-style (--name) and suggests the closest flag
// for an unknown one.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	const undefined = "flag provided but not defined: -"
	if name, found := strings.CutPrefix(msg, undefined); found {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		msg = fmt.Sprintf("unknown flag --%s", name)
		if s := config.Suggest(name, names); s != "" {
			msg += fmt.Sprintf("; did you mean --%s?", s)
		}
		return msg
	}
	msg = strings.Replace(msg, "for flag -", "for flag --", 1)
	return strings.Replace(msg, "argument: -", "argument: --", 1)
}

// parseCheck parses flags (positional arguments are models) and loads the configuration. extra
// adds a command's own flags (cvgate compare's objective).
func (a *App) parseCheck(name, summary string, args []string, extra ...func(*flag.FlagSet)) (*config.Loaded, *checkFlags, int) {
	return a.parseCheckWith(name, summary, gateExit, args, extra...)
}

// parseCheckWith is parseCheck with the command's own exit-code rule in its help.
func (a *App) parseCheckWith(name, summary, exit string, args []string, extra ...func(*flag.FlagSet)) (*config.Loaded, *checkFlags, int) {
	f := &checkFlags{}
	fs := a.checkFlagSet(name, f, summary, exit)
	for _, add := range extra {
		add(fs)
	}
	models, code, ok := a.parseFlags(fs, args)
	if !ok {
		return nil, nil, code
	}
	opts := config.Options()
	for _, m := range models {
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
	loaded, f, code := a.parseCheck("check", "Evaluate ONNX models (classifiers, detectors, segmenters) on labelled images: load,\nnumerics, latency, accuracy or mAP/mIoU, regression against a baseline, robustness and data\nchecks; write reports to --out. The task is inferred from the data (--task to say it).", args)
	if code >= 0 {
		return code
	}
	r, err := a.evaluate(ctx, loaded)
	if err == nil && (loaded.Runtime.Shard != "" || loaded.Runtime.ShardCount > 0) {
		// A shard warms records for a merge: it has no verdict of its own to write or gate on.
		a.logf("shard written: %s and %s (cvgate merge reads them)", filepath.Join(loaded.Out, "shard.json"), filepath.Join(loaded.Out, recordsDir))
		return ExitPass
	}
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
	for _, t := range r.Targets {
		if t.Cache != nil {
			a.logInput("%s: %s", t.Name, t.Cache.Line())
		}
	}
	a.logf("%s (report: %s)", r.Gate.Headline(), filepath.Join(loaded.Out, "report.json"))
	if r.Gate.ExitFailed {
		return ExitGateFailed
	}
	return ExitPass
}

func (a *App) runConfig(ctx context.Context, args []string) int {
	loaded, _, code := a.parseCheckWith("config", "Print the effective configuration: built-in defaults, the config file, the profile,\ninputs and flags merged, as YAML, with every default resolved (a value decided by the model\nor the data says how). Nothing is run; a bad setting is an error, as for check.", "Exit codes: 0 the configuration is valid, 2 it is not (every problem is listed).", args)
	if code >= 0 {
		return code
	}
	out, err := loaded.Config.Effective()
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
