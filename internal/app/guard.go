package app

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/guard"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/preprocess"
)

const guardUsage = `Usage:
  cvgate guard build --model M.onnx --data REF [--ood DIR] [--out guard/]
  cvgate guard screen --guard guard/ [--model M.onnx] [--out DIR] DIR|MANIFEST

build learns an input guard from reference images (training or validation images): input
checks, an out-of-distribution score from the model's own tensors and a threshold calibrated for
a target false-reject rate. It writes guard.json and model.guarded.onnx, the model with two more
outputs, cvgate_ood_score and cvgate_reject, computed inside the graph.

screen scores a batch of incoming images with a guard and lists every flagged one with its
reasons. Exit 0: at most --max-share flagged; 1: more; 2: could not run.
`

// runGuard is `cvgate guard build|screen`.
func (a *App) runGuard(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.Stderr, guardUsage)
		return ExitCannotRun
	}
	switch args[0] {
	case "build":
		return a.guardBuild(ctx, args[1:])
	case "screen":
		return a.guardScreen(ctx, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(a.Stdout, guardUsage)
		return ExitPass
	}
	fmt.Fprintf(a.Stderr, "cvgate guard: unknown subcommand %q\n\n%s", args[0], guardUsage)
	return ExitCannotRun
}

func (a *App) guardFlags(name, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet("guard "+name, flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags:\n", summary)
		printFlags(fs)
	}
	return fs
}

// parseFlags parses and reports whether to go on; code is the exit code when not.
func parseFlags(fs *flag.FlagSet, args []string) (ok bool, code int) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return false, ExitPass
		}
		return false, ExitCannotRun
	}
	return true, 0
}

func (a *App) guardBuild(ctx context.Context, args []string) int {
	var model, data, ood, out, configFile, labels, score string
	var target, share float64
	fs := a.guardFlags("build", "Usage: cvgate guard build --model M.onnx --data REF [--ood DIR] [--out guard/]")
	fs.StringVar(&model, "model", "", "the model to guard (an ONNX image classifier)")
	fs.StringVar(&data, "data", "", "reference images the model is ready for: a class-per-folder directory or a manifest")
	fs.StringVar(&ood, "ood", "", "optional images the guard should reject (another domain), to measure it on")
	fs.StringVar(&out, "out", "guard", "folder for guard.json and model.guarded.onnx")
	fs.StringVar(&labels, "labels", "", "class names, one per model output (when folder names are not the classes)")
	fs.StringVar(&configFile, "config", "", "config file for preprocessing and runtime (default .cvgate.yml when present)")
	fs.Float64Var(&target, "target-frr", 0, "false-reject rate to calibrate for (default thresholds.robust.guard.target_frr, 0.01)")
	fs.Float64Var(&share, "calibration-share", 0, "share of the reference images held out for calibration (default 0.3)")
	fs.StringVar(&score, "score", "", "auto, energy, mahalanobis or combined (default thresholds.robust.guard.score)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if model == "" || data == "" || fs.NArg() > 0 {
		fmt.Fprintf(a.Stderr, "cvgate guard build: --model and --data are required, and there are no positional arguments\n")
		return ExitCannotRun
	}
	loaded, err := config.Load(config.Sources{File: configFile, FileRequired: configFile != "", Dir: a.Dir})
	if err != nil {
		return a.fail(err)
	}
	cfg := loaded.Config
	gc := cfg.Thresholds.RobustGuard
	if target != 0 {
		gc.TargetFRR = target
	}
	if share != 0 {
		gc.CalibrationShare = share
	}
	if score != "" {
		gc.Score = score
	}
	if cfg.Task != "" && cfg.Task != "classification" {
		return a.fail(fmt.Errorf("cvgate guard build guards classifiers; for %s models robust.guard measures the input checks alone (set thresholds.robust.guard.reference), and a model-level score over decoded outputs is not supported yet", cfg.Task))
	}
	if err := a.buildGuard(ctx, &cfg, gc, model, data, ood, labels, out); err != nil {
		return a.fail(err)
	}
	return ExitPass
}

func (a *App) runtimeFor(cfg *config.Config) (*onnx.Runtime, error) {
	lib, err := onnx.Locate(cfg.Runtime.ORTLib, a.getenv, a.Executable)
	if err != nil {
		return nil, err
	}
	return onnx.Init(lib)
}

// specFor opens the model once to read its input and resolve the preprocessing.
func specFor(rt *onnx.Runtime, path string, pc config.Preprocess, rc config.Runtime) (preprocess.Spec, onnx.TensorInfo, onnx.TensorInfo, error) {
	m, err := onnx.Open(rt, path, onnx.Options{Threads: rc.Threads, Provider: string(rc.ExecutionProvider), Input: pc.Input, Output: pc.Output}, nil)
	if err != nil {
		return preprocess.Spec{}, onnx.TensorInfo{}, onnx.TensorInfo{}, err
	}
	defer m.Close()
	spec, err := preprocess.Resolve(pc, m.Input)
	if err != nil {
		return preprocess.Spec{}, onnx.TensorInfo{}, onnx.TensorInfo{}, fmt.Errorf("prepare %q: %w", path, err)
	}
	return spec, m.Input, m.Output, nil
}

func (a *App) buildGuard(ctx context.Context, cfg *config.Config, gc config.RobustGuard, model, data, ood, labels, out string) error {
	rt, err := a.runtimeFor(cfg)
	if err != nil {
		return err
	}
	modelPath := a.path(model)
	spec, in, output, err := specFor(rt, modelPath, cfg.Preprocess, cfg.Runtime)
	if err != nil {
		return err
	}
	opts := guard.ProbeOptions{Threads: cfg.Runtime.Threads, BatchSize: cfg.Runtime.BatchSize, Provider: string(cfg.Runtime.ExecutionProvider), Input: in.Name, Output: output.Name}
	probe, err := guard.NewProbe(rt, modelPath, spec, opts)
	if err != nil {
		return err
	}
	defer probe.Close()

	classes := 0
	if len(output.Shape) == 2 && output.Shape[1] > 0 {
		classes = int(output.Shape[1])
	}
	ref, err := a.loadImages(ctx, data, labels, classes, cfg.MaxUnreadable)
	if err != nil {
		return fmt.Errorf("reference images: %w", err)
	}
	var oodSet *dataset.Dataset
	if ood != "" {
		if oodSet, err = a.loadImages(ctx, ood, "", 0, cfg.MaxUnreadable); err != nil {
			return fmt.Errorf("out-of-distribution images: %w", err)
		}
		if err := guard.CheckOverlap(ref, oodSet); err != nil {
			return err
		}
	}
	imgs, refLabels := datasetImages(ref)
	g, obs, err := guard.Learn(ctx, probe, imgs, refLabels, guard.BuildOptions{TargetFRR: gc.TargetFRR, CalibrationShare: gc.CalibrationShare, Score: gc.Score, Seed: cfg.Seed})
	if err != nil {
		return fmt.Errorf("build the guard of %q from %q: %w", model, data, err)
	}
	g.Tool = "cvgate " + a.Version
	g.Preprocess = preprocessJSON(cfg.Preprocess)
	g.Preprocess.Described = spec.Describe()

	_, cal := guard.Split(obs.N, gc.CalibrationShare, cfg.Seed)
	if oodSet != nil {
		oi, _ := datasetImages(oodSet)
		oo, err := probe.Observe(ctx, oi, nil)
		if err != nil {
			return fmt.Errorf("out-of-distribution images: %w", err)
		}
		clean, bad := g.JudgeAll(obs.Subset(cal)), g.JudgeAll(oo)
		g.Evaluation = &guard.Evaluation{OOD: filepath.Base(ood), OODImages: oo.N, HeldOut: len(cal), OODCaught: guard.RejectedShare(bad), Separations: g.Separations(clean, bad)}
	}
	dir := a.path(out)
	if err := g.WriteFolder(dir, probe); err != nil {
		return err
	}
	// Prove the guarded model before anyone ships it: it loads, keeps every original output bit
	// for bit and computes the score guard.json computes.
	sample := make([]*imaging.Image, 0, 64)
	for _, i := range cal[:min(64, len(cal))] {
		sample = append(sample, imgs[i])
	}
	check, err := g.Verify(ctx, rt, filepath.Join(dir, guard.GuardedModelName), probe, opts, sample)
	if err != nil {
		return fmt.Errorf("check the guarded model in ONNX Runtime: %w", err)
	}
	if !check.OutputsIdentical || len(check.Differences) > 0 {
		return fmt.Errorf("the guarded model failed its check in ONNX Runtime: %s", strings.Join(check.Differences, "; "))
	}
	a.describeGuard(a.Stdout, g, dir, check)
	return nil
}

// describeGuard prints what was built. Names from the model or the data could hold terminal
// escapes: the model's file name is quoted, and no tensor or image name is printed.
func (a *App) describeGuard(w io.Writer, g *guard.Guard, dir string, c guard.Check) {
	th := g.Threshold
	fmt.Fprintf(w, "guard for %q (sha256 %s...) from %d reference images (%d fit, %d calibration)\n", g.Model.File, g.Model.SHA256[:12], g.Reference.Images, g.Reference.Fit, g.Reference.Calibration)
	fmt.Fprintf(w, "  score: %s", g.Score)
	if g.Mahalanobis != nil {
		fmt.Fprintf(w, " (Mahalanobis on %d features, %s, Ledoit-Wolf shrinkage %.3g)", g.Mahalanobis.Dim, g.Model.FeatureSource, g.Mahalanobis.Shrinkage)
	}
	fmt.Fprintf(w, "\n  threshold %.6g for a false-reject rate of %g: at most %.4f expected (split conformal), %.4f-%.4f for 95%% of calibration draws\n",
		th.Value, th.TargetFRR, th.ExpectedFRR, th.Interval[0], th.Interval[1])
	fmt.Fprintf(w, "  input checks: %d image properties, input tensor mean and variance\n", len(g.InputChecks.Properties))
	if e := g.Evaluation; e != nil {
		fmt.Fprintf(w, "  out-of-distribution set: %d images, %.1f%% caught\n", e.OODImages, 100*e.OODCaught)
		for _, s := range e.Separations {
			fmt.Fprintf(w, "    %-11s AUROC %.4f, FPR at 95%% TPR %.4f\n", s.Score, s.AUROC, s.FPRAt95TPR)
		}
	}
	for _, n := range g.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	fmt.Fprintf(w, "  guarded model checked in ONNX Runtime on %d images: original outputs bit-identical, score within %.2g of guard.json\n", c.Images, c.MaxScoreDiff)
	fmt.Fprintf(w, "wrote %s and %s\n", filepath.Join(dir, guard.FileName), filepath.Join(dir, guard.GuardedModelName))
}

// loadImages lists and decodes a set; with classes > 0, class folders or manifest labels become
// class indices when they name the model's classes (or labels names them).
func (a *App) loadImages(ctx context.Context, source, labels string, classes int, maxUnreadable float64) (*dataset.Dataset, error) {
	l, err := dataset.List(a.path(source))
	if err != nil {
		return nil, err
	}
	var cl *dataset.Classes
	switch {
	case labels != "":
		if cl, err = dataset.ReadLabelsFile(a.path(labels)); err != nil {
			return nil, err
		}
	case classes > 0 && l.FolderClasses != nil:
		// Folders that do not match the outputs leave the set unlabelled: the guard then takes
		// the model's predictions as the classes of its class means.
		if c, err := dataset.FolderClasses(l.FolderClasses, classes); err == nil {
			cl = c
		}
	}
	return dataset.Load(ctx, l, dataset.Options{Classes: cl, MaxUnreadable: maxUnreadable})
}

func datasetImages(ds *dataset.Dataset) ([]*imaging.Image, []int) {
	imgs := make([]*imaging.Image, len(ds.Items))
	var labels []int
	if ds.Classes != nil {
		labels = make([]int, len(ds.Items))
	}
	for i, it := range ds.Items {
		imgs[i] = it.Image
		if labels != nil {
			labels[i] = it.Label
		}
	}
	return imgs, labels
}

func preprocessJSON(p config.Preprocess) guard.Preprocess {
	return guard.Preprocess{Preset: p.Preset, Size: p.Size, Resize: p.Resize, Fit: p.Fit, PadValue: p.PadValue, CenterCrop: p.CenterCrop,
		Color: p.Color, Scale: p.Scale, Mean: p.Mean, Std: p.Std, Layout: p.Layout, Input: p.Input, Output: p.Output}
}

func preprocessConfig(p guard.Preprocess) config.Preprocess {
	c := config.Defaults().Preprocess
	c.Preset, c.Size, c.Resize, c.Fit, c.PadValue, c.CenterCrop = p.Preset, p.Size, p.Resize, p.Fit, p.PadValue, p.CenterCrop
	c.Color, c.Scale, c.Mean, c.Std, c.Input, c.Output = p.Color, p.Scale, p.Mean, p.Std, p.Input, p.Output
	if p.Layout != "" {
		c.Layout = p.Layout
	}
	return c
}

func (a *App) guardScreen(ctx context.Context, args []string) int {
	var guardPath, model, out string
	var maxShare float64
	fs := a.guardFlags("screen", "Usage: cvgate guard screen --guard guard/ [--model M.onnx] [--out DIR] DIR|MANIFEST")
	fs.StringVar(&guardPath, "guard", "", "a folder written by cvgate guard build, or its guard.json")
	fs.StringVar(&model, "model", "", "run this model (it must be the one the guard was built for) instead of the guard folder's model.guarded.onnx")
	fs.StringVar(&out, "out", "guard-screen", "folder for flagged.csv, summary.json and the contact sheet")
	fs.Float64Var(&maxShare, "max-share", 0.05, "exit 1 when more than this share of the images is flagged")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if guardPath == "" || fs.NArg() != 1 {
		fmt.Fprintf(a.Stderr, "cvgate guard screen: --guard and one folder or manifest of images are required\n")
		return ExitCannotRun
	}
	if !(maxShare >= 0 && maxShare <= 1) {
		fmt.Fprintf(a.Stderr, "cvgate guard screen: --max-share must be a share between 0 and 1, got %g\n", maxShare)
		return ExitCannotRun
	}
	flagged, err := a.screen(ctx, guardPath, model, out, fs.Arg(0), maxShare)
	if err != nil {
		return a.fail(err)
	}
	if flagged > maxShare {
		return ExitGateFailed
	}
	return ExitPass
}

// screenSummary is summary.json.
type screenSummary struct {
	Images     int            `json:"images"`
	Unreadable int            `json:"unreadable"`
	Flagged    int            `json:"flagged"`
	Share      float64        `json:"flagged_share"`
	MaxShare   float64        `json:"max_share"`
	Score      string         `json:"score"`
	Threshold  float64        `json:"threshold"`
	TargetFRR  float64        `json:"target_frr"`
	ByReason   map[string]int `json:"by_reason"`
	Model      string         `json:"model_sha256"`
}

func (a *App) screen(ctx context.Context, guardPath, model, out, images string, maxShare float64) (float64, error) {
	g, err := guard.Load(a.path(guardPath))
	if err != nil {
		return 0, err
	}
	dir := a.path(guardPath)
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		dir = filepath.Dir(dir)
	}
	var modelPath string
	var drop []string
	switch {
	case model != "":
		modelPath = a.path(model)
		_, sum, err := guard.ReadModel(modelPath)
		if err != nil {
			return 0, err
		}
		if sum != g.Model.SHA256 {
			return 0, fmt.Errorf("the guard %q was built for the model with sha256 %s, and %q has sha256 %s: build a guard for this model with cvgate guard build", guardPath, g.Model.SHA256[:12], model, sum[:12])
		}
	default:
		if g.Model.GuardedFile == "" || strings.ContainsAny(g.Model.GuardedFile, `/\`) {
			return 0, fmt.Errorf("the guard %q names no guarded model file in its folder: pass --model", guardPath)
		}
		modelPath = filepath.Join(dir, g.Model.GuardedFile)
		_, sum, err := guard.ReadModel(modelPath)
		if err != nil {
			return 0, err
		}
		if sum != g.Model.GuardedSHA256 {
			return 0, fmt.Errorf("%q has sha256 %s, not the %s guard.json was written with: the guarded model was changed after the guard was built", modelPath, sum[:12], short(g.Model.GuardedSHA256))
		}
		drop = []string{guard.OutputReject}
	}
	cfg := config.Defaults()
	rt, err := a.runtimeFor(&cfg)
	if err != nil {
		return 0, err
	}
	pc := preprocessConfig(g.Preprocess)
	pc.Input, pc.Output = g.Model.Input, g.Model.Output
	spec, _, _, err := specFor(rt, modelPath, pc, cfg.Runtime)
	if err != nil {
		return 0, err
	}
	probe, err := guard.NewProbe(rt, modelPath, spec, guard.ProbeOptions{Input: g.Model.Input, Output: g.Model.Output, DropOutputs: drop})
	if err != nil {
		return 0, err
	}
	defer probe.Close()
	if probe.Head.Logits != g.Model.Logits || (g.Mahalanobis != nil && probe.Features != g.Model.Features) {
		return 0, fmt.Errorf("the guard reads tensors this model does not compute as expected (logits %q, features %q): rebuild the guard", g.Model.Logits, g.Model.Features)
	}
	l, err := dataset.List(a.path(images))
	if err != nil {
		return 0, err
	}
	// Every file is screened: an unreadable one is flagged, not fatal.
	ds, err := dataset.Load(ctx, l, dataset.Options{MaxUnreadable: 1})
	if err != nil {
		return 0, err
	}
	var verdicts []guard.Verdict
	imgs, _ := datasetImages(ds)
	if len(imgs) > 0 {
		obs, err := probe.Observe(ctx, imgs, nil)
		if err != nil {
			return 0, err
		}
		verdicts = g.JudgeAll(obs)
	}
	outDir := a.path(out)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return 0, fmt.Errorf("create output folder %q: %w", outDir, err)
	}
	sum := screenSummary{Images: len(ds.Items) + len(ds.Unreadable), Unreadable: len(ds.Unreadable), MaxShare: maxShare, Score: g.Score,
		Threshold: g.Threshold.Value, TargetFRR: g.Threshold.TargetFRR, ByReason: map[string]int{}, Model: g.Model.SHA256}
	rows := [][]string{{"path", "reasons", "score", "energy", "mahalanobis", "combined"}}
	for _, p := range ds.Unreadable {
		rows = append(rows, []string{csvCell(p.Path), csvCell("unreadable: " + p.Reason), "", "", "", ""})
		sum.ByReason["unreadable"]++
	}
	var cases []failures.Case
	for i, v := range verdicts {
		if !v.Reject {
			continue
		}
		it := ds.Items[i]
		rows = append(rows, []string{csvCell(it.Path), csvCell(strings.Join(v.Reasons, "; ")), num(v.Score), num(v.Energy), num(v.Mahalanobis), num(v.Combined)})
		for _, r := range v.Reasons {
			sum.ByReason[reasonKind(r)]++
		}
		cases = append(cases, failures.Case{Image: spec.View(it.Image), Path: it.Path, Label: "-", Predicted: "flagged", Confidence: finiteOr(v.Score, 0),
			Perturbation: reasonKind(v.Reasons[0]), Severity: finiteOr(v.Score, math.MaxFloat64), Note: strings.Join(v.Reasons, "; ")})
	}
	sum.Flagged = len(rows) - 1
	if sum.Images > 0 {
		sum.Share = float64(sum.Flagged) / float64(sum.Images)
	}
	if err := writeCSV(filepath.Join(outDir, "flagged.csv"), rows); err != nil {
		return 0, err
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return 0, fmt.Errorf("encode summary: %w", err)
	}
	if err := os.WriteFile(filepath.Join(outDir, "summary.json"), append(b, '\n'), 0o644); err != nil {
		return 0, fmt.Errorf("write summary: %w", err)
	}
	sheet := ""
	if len(cases) > 0 {
		f, err := (&failures.Exporter{Root: outDir, MaxPerCheck: 64, Columns: 8}).Export("guard.screen", cases, len(cases))
		if err != nil {
			return 0, err
		}
		sheet = filepath.Join(outDir, filepath.FromSlash(f.ContactSheet))
	}
	fmt.Fprintf(a.Stdout, "screened %d images: %d flagged (%.1f%%, limit %.1f%%), %d unreadable\n", sum.Images, sum.Flagged, 100*sum.Share, 100*maxShare, sum.Unreadable)
	reasons := make([]string, 0, len(sum.ByReason))
	for r := range sum.ByReason {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(a.Stdout, "  %-16s %d\n", r, sum.ByReason[r])
	}
	fmt.Fprintf(a.Stdout, "wrote %s and %s", filepath.Join(outDir, "flagged.csv"), filepath.Join(outDir, "summary.json"))
	if sheet != "" {
		fmt.Fprintf(a.Stdout, " (contact sheet %s)", sheet)
	}
	fmt.Fprintln(a.Stdout)
	return sum.Share, nil
}

// reasonKind is the check a reason names: its first word (a property, "tensor_mean", or a score).
func reasonKind(reason string) string {
	if i := strings.IndexByte(reason, ' '); i > 0 {
		return reason[:i]
	}
	return reason
}

func num(x float64) string {
	if math.IsNaN(x) {
		return ""
	}
	return strconv.FormatFloat(x, 'g', 6, 64)
}

func finiteOr(x, alt float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return alt
	}
	return x
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// csvCell keeps a cell from input (a file name) from being read as a formula by a spreadsheet.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func writeCSV(path string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		f.Close()
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return nil
}
