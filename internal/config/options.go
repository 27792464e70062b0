package config

import (
	"flag"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Option is one top-level setting that can come from the config file, an action input or a flag.
// Each option is declared once, here; flags, help text and the action.yml consistency test are
// derived from this table.
type Option struct {
	Key     string   // YAML key path in .cvgate.yml
	Flag    string   // command-line flag name, without dashes ("" if none)
	Input   string   // GitHub Action input name ("" if none)
	Default string   // as shown in help; the real default lives in Defaults()
	Usage   string   // one line
	Allowed []string // allowed values, for enums
	List    bool     // repeatable / comma-separated
	set     func(c *Config, v string) error
}

// presetNames are the preprocessing presets (internal/preprocess defines what each sets).
var presetNames = []string{"imagenet", "inception", "unit", "raw", "yolo"}

// Setting is one value given for an option by a flag or an input.
type Setting struct {
	Option *Option
	Value  string
	Source string // e.g. "--model" or "input models"
}

// Options returns the option table in help order.
func Options() []Option {
	return []Option{
		{Key: "models", Flag: "model", Input: "models", List: true,
			Usage: "ONNX model to check (repeat the flag or separate with commas; globs allowed)",
			set:   func(c *Config, v string) error { c.Models = append(c.Models, splitList(v)...); return nil }},
		{Key: "data", Flag: "data", Input: "data",
			Usage: "labelled images: a class-per-folder directory, or a CSV/JSONL manifest (path,label,...)",
			set:   func(c *Config, v string) error { c.Data = v; return nil }},
		{Key: "labels", Flag: "labels", Input: "labels",
			Usage: "class names file, one per line in model output order (default: folder names)",
			set:   func(c *Config, v string) error { c.Labels = v; return nil }},
		{Key: "task", Flag: "task", Input: "task", Allowed: []string{"classification", "detection", "segmentation"},
			Usage: "what the model does (default: inferred from the data: annotation files mean detection, mask folders segmentation)",
			set:   func(c *Config, v string) error { c.Task = v; return nil }},
		{Key: "annotations", Flag: "annotations", Input: "annotations",
			Usage: "ground truth of detection or segmentation: COCO JSON, YOLO labels folder, VOC Annotations folder or masks folder (default: found in --data)",
			set:   func(c *Config, v string) error { c.Annotations = v; return nil }},
		{Key: "baseline", Flag: "baseline", Input: "baseline",
			Usage: "model to compare with: PATH, git:REF, release:TAG|latest:ASSET, or none",
			set:   func(c *Config, v string) error { c.Baseline = v; return nil }},
		{Key: "out", Flag: "out", Input: "out", Default: "cvgate-out",
			Usage: "output folder for reports, badges and failure cases",
			set:   func(c *Config, v string) error { c.Out = v; return nil }},
		{Key: "fail_on", Flag: "fail-on", Input: "fail-on", Default: "fail",
			Allowed: []string{"fail", "warn", "never"},
			Usage:   "least severe check status that fails the gate (exit code 1)",
			set:     func(c *Config, v string) error { return c.FailOn.Set(v) }},
		{Key: "profile", Flag: "profile", Input: "profile",
			Usage: "profile to apply: quick (default), full, release, or one defined under profiles:",
			set:   func(c *Config, v string) error { c.Profile = v; return nil }},
		{Key: "checks", Flag: "checks", Input: "checks", List: true,
			Usage: "checks to run, by ID or prefix (e.g. perf.metrics,robust.*); default: all enabled",
			set:   func(c *Config, v string) error { c.Checks = append(c.Checks, splitList(v)...); return nil }},
		{Key: "skip", Flag: "skip", Input: "skip", List: true,
			Usage: "checks to leave out, by ID or prefix",
			set:   func(c *Config, v string) error { c.Skip = append(c.Skip, splitList(v)...); return nil }},
		{Key: "seed", Flag: "seed", Input: "seed", Default: "1",
			Usage: "seed of every random perturbation and resample (same seed, same report)",
			set: func(c *Config, v string) error {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return fmt.Errorf("not a non-negative integer: %q", v)
				}
				c.Seed = n
				return nil
			}},
		// Common preprocessing, so that a first run needs no config file. The rest (resize, fit,
		// center_crop, scale, layout, input/output names) is in the file's preprocess: section.
		{Key: "preprocess.size", Flag: "size",
			Usage: "model input size WxH (e.g. 224x224; one number for a square) when the model's height/width are dynamic and the images differ in size",
			set: func(c *Config, v string) error {
				w, h, err := parseSize(v)
				c.Preprocess.Size = []int{w, h}
				return err
			}},
		{Key: "preprocess.preset", Flag: "preset", Allowed: presetNames,
			Usage: "preprocessing preset: size, crop, scale and mean/std of a known recipe",
			set: func(c *Config, v string) error {
				if !slices.Contains(presetNames, v) {
					return fmt.Errorf("allowed values are %s", strings.Join(presetNames, ", "))
				}
				c.Preprocess.Preset = v
				return nil
			}},
		{Key: "preprocess.mean", Flag: "mean",
			Usage: "per-channel mean subtracted after scaling, 1 or 3 comma-separated values (e.g. 0.485,0.456,0.406)",
			set:   func(c *Config, v string) error { return setFloats(&c.Preprocess.Mean, v) }},
		{Key: "preprocess.std", Flag: "std",
			Usage: "per-channel standard deviation divided by after the mean, 1 or 3 values (e.g. 0.229,0.224,0.225)",
			set:   func(c *Config, v string) error { return setFloats(&c.Preprocess.Std, v) }},
		{Key: "preprocess.color", Flag: "color", Allowed: []string{"gray", "rgb", "bgr"},
			Usage: "channel order the model expects (default: from its channel count)",
			set: func(c *Config, v string) error {
				if v != "gray" && v != "rgb" && v != "bgr" {
					return fmt.Errorf("allowed values are gray, rgb, bgr")
				}
				c.Preprocess.Color = v
				return nil
			}},
		{Key: "runtime.threads", Flag: "threads", Input: "threads", Default: "0",
			Usage: "ONNX Runtime intra-op threads (0: all cores)",
			set:   func(c *Config, v string) error { return setInt(&c.Runtime.Threads, v) }},
		{Key: "runtime.batch_size", Flag: "batch-size", Input: "batch-size", Default: "0",
			Usage: "images per forward pass when the model accepts a dynamic batch (0: automatic, up to 64, fewer for large inputs)",
			set:   func(c *Config, v string) error { return setInt(&c.Runtime.BatchSize, v) }},
		{Key: "runtime.execution_provider", Flag: "execution-provider", Input: "execution-provider", Default: "cpu",
			Allowed: []string{"cpu", "cuda", "auto"},
			Usage:   "ONNX Runtime execution provider: cpu; cuda (fails the run when CUDA cannot be had); auto (CUDA when available, else the CPU with a note)",
			set: func(c *Config, v string) error {
				if v != string(ProviderCPU) && v != string(ProviderCUDA) && v != string(ProviderAuto) {
					return fmt.Errorf("allowed values are cpu, cuda, auto")
				}
				c.Runtime.ExecutionProvider = Provider(v)
				return nil
			}},
		{Key: "runtime.ort_lib", Flag: "ort-lib",
			Usage: "path to libonnxruntime.so (default: $ORT_LIB, then the setup location, then system paths)",
			set:   func(c *Config, v string) error { c.Runtime.ORTLib = v; return nil }},
		{Key: "runtime.cache", Flag: "cache", Input: "cache",
			Usage: "prediction cache folder, or off (default: .cvgate-cache in the workspace for the action; $RUNNER_TOOL_CACHE/cvgate/predictions for the CLI on a runner, else ~/.cache/cvgate/predictions)",
			set:   func(c *Config, v string) error { c.Runtime.Cache = v; return nil }},
		{Key: "runtime.shard", Flag: "shard", Input: "shard",
			Usage: "I/N: compute shard I of N (0-based) of the per-image records into --out, for cvgate merge; no gate, no comment",
			set:   func(c *Config, v string) error { c.Runtime.Shard = v; return nil }},
		{Key: "runtime.shard_count", Flag: "shard-count",
			Usage: "N: like --shard, with the shard index from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)",
			set:   func(c *Config, v string) error { return setInt(&c.Runtime.ShardCount, v) }},
		{Key: "publish.comment", Input: "comment", Default: "update", Allowed: []string{"update", "new", "off"},
			Usage: "PR comment behaviour: update one sticky comment, post a new one each run, or none",
			set:   func(c *Config, v string) error { c.Publish.Comment = v; return nil }},
		{Key: "publish.comment_id", Input: "comment-id",
			Usage: "keeps the comments of several cvgate steps apart",
			set:   func(c *Config, v string) error { c.Publish.CommentID = v; return nil }},
		// The action's command and drift inputs. `cvgate drift` has its own --reference and
		// --current flags (they mean nothing to check), which set the same keys.
		{Key: "command", Input: "command", Default: "check", Allowed: []string{"check", "drift"},
			Usage: "what the action runs: check (gate models) or drift (compare current images with a reference, open an issue on drift)",
			set: func(c *Config, v string) error {
				if v != "check" && v != "drift" {
					return fmt.Errorf("allowed values are check, drift")
				}
				c.Command = v
				return nil
			}},
		{Key: "thresholds.drift.reference", Input: "reference",
			Usage: "drift: the reference images (folder or manifest) the current images are compared with",
			set:   func(c *Config, v string) error { c.Thresholds.Drift.Reference = v; return nil }},
		{Key: "thresholds.drift.current", Input: "current",
			Usage: "drift: the current images (folder or manifest), e.g. a sample of recent production inputs",
			set:   func(c *Config, v string) error { c.Thresholds.Drift.Current = v; return nil }},
	}
}

func setInt(dst *int, v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("not an integer: %q", v)
	}
	*dst = n
	return nil
}

// parseSize reads "WxH" (or "W" for a square) as positive pixel counts.
func parseSize(v string) (w, h int, err error) {
	ws, hs, found := strings.Cut(strings.ToLower(strings.TrimSpace(v)), "x")
	if !found {
		hs = ws
	}
	w, err1 := strconv.Atoi(strings.TrimSpace(ws))
	h, err2 := strconv.Atoi(strings.TrimSpace(hs))
	if err1 != nil || err2 != nil || w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("%q is not a size: want WIDTHxHEIGHT in pixels, e.g. 224x224", v)
	}
	return w, h, nil
}

// setFloats reads comma-separated numbers.
func setFloats(dst *[]float64, v string) error {
	var out []float64
	for _, f := range splitList(v) {
		x, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%q is not a number (want comma-separated values, e.g. 0.485,0.456,0.406)", f)
		}
		out = append(out, x)
	}
	if len(out) == 0 {
		return fmt.Errorf("no values: want 1 or 3 comma-separated numbers")
	}
	*dst = out
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// FlagSet registers every option that has a flag on fs; each use of a flag is recorded in
// settings, in command-line order, and applied by Load after the config file.
func FlagSet(fs *flag.FlagSet, settings *[]Setting) {
	opts := Options()
	for i := range opts {
		o := &opts[i]
		if o.Flag == "" {
			continue
		}
		usage := o.Usage
		if len(o.Allowed) > 0 {
			usage += " (" + strings.Join(o.Allowed, "|") + ")"
		}
		if o.Default != "" {
			usage += " (default " + o.Default + ")"
		}
		fs.Func(o.Flag, usage, func(v string) error {
			// Enums are checked at once, so that the flag package reports the bad flag.
			if err := o.set(&Config{}, v); err != nil {
				return err
			}
			*settings = append(*settings, Setting{Option: o, Value: v, Source: "--" + o.Flag})
			return nil
		})
	}
}

// InputSettings turns GitHub Action inputs (by input name) into settings. Empty inputs are
// unset: the runner passes every declared input, empty when the workflow did not set it.
func InputSettings(inputs map[string]string) []Setting {
	var out []Setting
	opts := Options()
	for i := range opts {
		o := &opts[i]
		if o.Input == "" {
			continue
		}
		if v := strings.TrimSpace(inputs[o.Input]); v != "" {
			out = append(out, Setting{Option: o, Value: v, Source: "input " + o.Input})
		}
	}
	return out
}

// apply applies settings in order. A list option given by a source replaces the list from earlier
// sources, but repeated flags accumulate.
func apply(c *Config, settings []Setting) error {
	var errs []error
	cleared := map[string]bool{}
	for _, s := range settings {
		if s.Option.List && !cleared[s.Option.Key+"|"+sourceKind(s.Source)] {
			cleared[s.Option.Key+"|"+sourceKind(s.Source)] = true
			clearList(c, s.Option.Key)
		}
		if err := s.Option.set(c, s.Value); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", s.Option.Key, s.Source, err))
		}
	}
	return joinErrors(errs)
}

func sourceKind(source string) string {
	if strings.HasPrefix(source, "--") {
		return "flag"
	}
	return "input"
}

func clearList(c *Config, key string) {
	switch key {
	case "models":
		c.Models = nil
	case "checks":
		c.Checks = nil
	case "skip":
		c.Skip = nil
	}
}
