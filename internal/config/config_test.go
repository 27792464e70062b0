package config

import (
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cvgate/cvgate/report"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cvgate.yml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func flags(t *testing.T, args ...string) []Setting {
	t.Helper()
	var s []Setting
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	FlagSet(fs, &s)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoadValid(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		inputs map[string]string
		flags  []string
		check  func(t *testing.T, c *Loaded)
	}{
		{
			name: "defaults without a file",
			check: func(t *testing.T, c *Loaded) {
				if c.Out != "cvgate-out" || c.FailOn != report.FailOnFail || c.Thresholds.PerfBaseline.MaxDrop != 0.01 {
					t.Errorf("defaults not applied: %+v", c.Config)
				}
				if c.File != "" {
					t.Errorf("File = %q, want none", c.File)
				}
			},
		},
		{
			name: "file values override defaults, unset keys keep them",
			file: "version: 1\nmodels: [a.onnx]\nthresholds:\n  perf.metrics:\n    min_accuracy: 0.9\n",
			check: func(t *testing.T, c *Loaded) {
				if c.Thresholds.PerfMetrics.MinAccuracy == nil || *c.Thresholds.PerfMetrics.MinAccuracy != 0.9 {
					t.Errorf("min_accuracy not read")
				}
				if c.Thresholds.PerfMetrics.TopK != 5 {
					t.Errorf("top_k default lost: %d", c.Thresholds.PerfMetrics.TopK)
				}
				if len(c.SHA256) != 64 {
					t.Errorf("config hash %q", c.SHA256)
				}
			},
		},
		{
			name:   "inputs override the file, flags override inputs",
			file:   "version: 1\nmodels: [a.onnx]\nfail_on: warn\nout: from-file\n",
			inputs: map[string]string{"models": "b.onnx\nc.onnx", "out": "from-input", "fail-on": "never"},
			flags:  []string{"--out", "from-flag"},
			check: func(t *testing.T, c *Loaded) {
				if c.Out != "from-flag" {
					t.Errorf("out = %q, want from-flag", c.Out)
				}
				if c.FailOn != report.FailOnNever {
					t.Errorf("fail_on = %q, want never (input)", c.FailOn)
				}
				if strings.Join(c.Models, ",") != "b.onnx,c.onnx" {
					t.Errorf("models = %v, want the input's list to replace the file's", c.Models)
				}
			},
		},
		{
			name:  "repeated flags accumulate",
			file:  "version: 1\nmodels: [a.onnx]\n",
			flags: []string{"--model", "x.onnx", "--model", "y.onnx,z.onnx"},
			check: func(t *testing.T, c *Loaded) {
				if strings.Join(c.Models, ",") != "x.onnx,y.onnx,z.onnx" {
					t.Errorf("models = %v", c.Models)
				}
			},
		},
		{
			name:  "built-in profile full",
			flags: []string{"--profile", "full"},
			check: func(t *testing.T, c *Loaded) {
				if got := c.Thresholds.RobustCorruptions.Severities; len(got) != 5 {
					t.Errorf("full profile severities = %v", got)
				}
				if rc := c.Thresholds.RobustCorruptions; rc.Sample != 0 || rc.BudgetSeconds != 0 {
					t.Errorf("full profile corruption sample %d, budget %g s; want every image, no budget", rc.Sample, rc.BudgetSeconds)
				}
				if c.Profile != "full" {
					t.Errorf("profile = %q", c.Profile)
				}
			},
		},
		{
			name: "file profile over built-in release",
			file: "version: 1\nprofile: release\nprofiles:\n  release:\n    thresholds:\n      perf.baseline: {max_drop: 0.002}\n",
			check: func(t *testing.T, c *Loaded) {
				if c.FailOn != report.FailOnWarn {
					t.Errorf("built-in release profile not applied: fail_on %q", c.FailOn)
				}
				if c.Thresholds.PerfBaseline.MaxDrop != 0.002 {
					t.Errorf("file profile not applied: %g", c.Thresholds.PerfBaseline.MaxDrop)
				}
			},
		},
		{
			name: "durations and disabled checks",
			file: "version: 1\nruntime:\n  check_timeout: 90s\nthresholds:\n  robust.adversarial:\n    enabled: false\n",
			check: func(t *testing.T, c *Loaded) {
				if c.Runtime.CheckTimeout.Seconds() != 90 {
					t.Errorf("check_timeout = %s", c.Runtime.CheckTimeout)
				}
				if c.Thresholds.RobustAdversarial.IsEnabled(true) {
					t.Errorf("robust.adversarial should be disabled")
				}
			},
		},
		{
			name:  "adversarial budgets: p_init, unbounded L2, full profile keeps them",
			file:  "version: 1\nthresholds:\n  robust.adversarial:\n    epsilon: 0.1\n    epsilon_l2: .inf\n    p_init: 0.8\n",
			flags: []string{"--profile", "full"},
			check: func(t *testing.T, c *Loaded) {
				ra := c.Thresholds.RobustAdversarial
				if ra.PInit != 0.8 || ra.Epsilon != 0.1 || !math.IsInf(ra.EpsilonL2, 1) {
					t.Errorf("p_init %g, epsilon %g, epsilon_l2 %g; want 0.8, 0.1, +Inf", ra.PInit, ra.Epsilon, ra.EpsilonL2)
				}
				if ra.Sample != 200 || ra.MaxQueries != 1000 || strings.Join(ra.Attacks, ",") != "square,hopskipjump" {
					t.Errorf("full profile: sample %d, max_queries %d, attacks %v", ra.Sample, ra.MaxQueries, ra.Attacks)
				}
			},
		},
		{
			name: "adversarial defaults",
			check: func(t *testing.T, c *Loaded) {
				ra := c.Thresholds.RobustAdversarial
				if ra.PInit != 0.05 || ra.Epsilon != 8.0/255 || ra.Sample != 50 || ra.MaxQueries != 300 || strings.Join(ra.Attacks, ",") != "square" {
					t.Errorf("defaults %+v", ra)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := Sources{Inputs: InputSettings(tt.inputs), Flags: flags(t, tt.flags...), Dir: t.TempDir()}
			if tt.file != "" {
				src.File, src.FileRequired = writeConfig(t, tt.file), true
			}
			c, err := Load(src)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadInvalid(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		flags []string
		want  []string // every substring must appear
	}{
		{"missing version", "models: [a.onnx]\n", nil, []string{"version: missing"}},
		{"wrong version", "version: 2\n", nil, []string{"reads version 1", `"2"`}},
		{"unknown top-level key with suggestion", "version: 1\nmodel: a.onnx\n", nil, []string{"model: unknown key", `did you mean "models"?`, ":2:"}},
		{"unknown nested key with path", "version: 1\nthresholds:\n  perf.metrics:\n    min_acuracy: 0.9\n", nil,
			[]string{"thresholds.perf.metrics.min_acuracy: unknown key", `"min_accuracy"`}},
		{"unknown check id", "version: 1\nthresholds:\n  perf.metric: {}\n", nil, []string{"thresholds.perf.metric: unknown key", `"perf.metrics"`}},
		{"unknown key in a profile", "version: 1\nprofiles:\n  ci:\n    outt: x\n", nil, []string{"profiles.ci.outt: unknown key"}},
		{"threshold out of range", "version: 1\nthresholds:\n  perf.baseline:\n    max_drop: 1.5\n", nil, []string{"thresholds.perf.baseline.max_drop", "between 0 and 1"}},
		{"several problems at once", "version: 1\nruntime:\n  batch_size: -1\nthresholds:\n  robust.corruptions:\n    severities: [0, 6]\n", nil,
			[]string{"runtime.batch_size", "severities are 1 to 5, got 0", "got 6"}},
		{"bad enum in file", "version: 1\nfail_on: maybe\n", nil, []string{"fail-on", "fail, warn, never"}},
		{"wrong type", "version: 1\nseed: lots\n", nil, []string{"seed"}},
		{"not yaml", "version: 1\n  bad: [\n", nil, []string{"not valid YAML"}},
		{"empty file", "", nil, []string{"empty"}},
		{"unknown profile", "version: 1\n", []string{"--profile", "nightly"}, []string{`unknown profile "nightly"`, "quick, full, release"}},
		{"bad preprocess", "version: 1\npreprocess:\n  std: [0, 1, 1]\n  layout: chw\n", nil, []string{"preprocess.std", "preprocess.layout"}},
		{"bad adversarial budgets", "version: 1\nthresholds:\n  robust.adversarial:\n    p_init: 0\n    epsilon_l2: -1\n    epsilon: 2\n", nil,
			[]string{"thresholds.robust.adversarial.p_init", "thresholds.robust.adversarial.epsilon_l2", "thresholds.robust.adversarial.epsilon:"}},
		{"bad regex", "version: 1\nthresholds:\n  model.metadata:\n    patterns: {version: '('}\n", nil, []string{"patterns.version", "regular expression"}},
		// Everything at once, each where to fix it: an unknown key and an out-of-range value in
		// the same file, with their lines, the suggestion and the default.
		{"unknown key and bad value together", "version: 1\nthresholds:\n  perf.metrics:\n    min_acuracy: 0.9\n  perf.baseline:\n    max_drop: 1.5\n", nil,
			[]string{":4: thresholds.perf.metrics.min_acuracy: unknown key", `did you mean "min_accuracy"?`,
				":6: thresholds.perf.baseline.max_drop: must be a share between 0 and 1, got 1.5; the default is 0.01"}},
		{"bad value in a profile", "version: 1\nprofile: ci\nprofiles:\n  ci:\n    thresholds:\n      robust.corruptions: {severities: [0]}\n", nil,
			[]string{":6: thresholds.robust.corruptions.severities: severities are 1 to 5, got 0; the default is [1, 3, 5]"}},
		{"type error and bad value together", "version: 1\nseed: lots\nruntime:\n  batch_size: -1\n", nil,
			[]string{":2: seed:", "; write a whole number of 0 or more", ":4: runtime.batch_size: must be between 0 (automatic) and 4096, got -1; the default is 0"}},
		{"bad value from a flag", "version: 1\n", []string{"--batch-size", "99999"}, []string{"--batch-size: runtime.batch_size: must be between 0"}},
		{"bad size flag", "version: 1\n", []string{"--size", "224xabc"}, nil},
		{"bad robustness settings", "version: 1\nthresholds:\n  robust.corruptions:\n    corruptions: [gaussian_noise, fogg]\n    budget_seconds: -1\n  robust.invariance:\n    transforms: [hflip, tilt:3]\n", nil,
			[]string{`unknown corruption "fogg"`, "budget_seconds", "robust.invariance.transforms", `"tilt:3"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.file)
			if tt.want == nil {
				// Refused by the flag itself, before Load (as the flag package reports it).
				var s []Setting
				fs := flag.NewFlagSet("test", flag.ContinueOnError)
				fs.SetOutput(new(strings.Builder))
				FlagSet(fs, &s)
				if err := fs.Parse(tt.flags); err == nil || !strings.Contains(err.Error(), "e.g. 224x224") {
					t.Errorf("flags %v: error %v", tt.flags, err)
				}
				return
			}
			_, err := Load(Sources{File: path, FileRequired: true, Flags: flags(t, tt.flags...)})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("error %T is not a *ValidationError: %v", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestPreprocessFlags: the common preprocessing settings work as flags, without a config file.
func TestPreprocessFlags(t *testing.T) {
	tests := []struct {
		flags []string
		want  Preprocess
	}{
		{[]string{"--size", "224x160"}, Preprocess{Size: []int{224, 160}}},
		{[]string{"--size", "96"}, Preprocess{Size: []int{96, 96}}},
		{[]string{"--preset", "imagenet", "--color", "bgr"}, Preprocess{Preset: "imagenet", Color: "bgr"}},
		{[]string{"--mean", "0.485,0.456,0.406", "--std", "0.5"}, Preprocess{Mean: []float64{0.485, 0.456, 0.406}, Std: []float64{0.5}}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.flags, " "), func(t *testing.T) {
			c, err := Load(Sources{Dir: t.TempDir(), Flags: flags(t, tt.flags...)})
			if err != nil {
				t.Fatal(err)
			}
			got := c.Preprocess
			want := Defaults().Preprocess
			want.Size, want.Preset, want.Color, want.Mean, want.Std = tt.want.Size, tt.want.Preset, tt.want.Color, tt.want.Mean, tt.want.Std
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("preprocess (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range [][]string{{"--preset", "vgg"}, {"--color", "cmyk"}, {"--mean", "a,b"}, {"--size", "0x10"}} {
		var s []Setting
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(new(strings.Builder))
		FlagSet(fs, &s)
		if err := fs.Parse(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestMissingNamedFile(t *testing.T) {
	_, err := Load(Sources{File: filepath.Join(t.TempDir(), "nope.yml"), FileRequired: true})
	if err == nil || !strings.Contains(err.Error(), "nope.yml") {
		t.Errorf("error %v should name the missing file", err)
	}
}

func TestBadFlagValueIsRejectedAtParse(t *testing.T) {
	var s []Setting
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	FlagSet(fs, &s)
	err := fs.Parse([]string{"--fail-on", "sometimes"})
	if err == nil || !strings.Contains(err.Error(), "fail, warn, never") {
		t.Errorf("parse error %v should list allowed values", err)
	}
}

// TestOptionsTable keeps the option table coherent: unique names, and every option settable.
func TestOptionsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range Options() {
		for _, name := range []string{"key:" + o.Key, "flag:" + o.Flag, "input:" + o.Input} {
			if strings.HasSuffix(name, ":") {
				continue
			}
			if seen[name] {
				t.Errorf("duplicate %s", name)
			}
			seen[name] = true
		}
		if o.Flag == "" && o.Input == "" {
			t.Errorf("option %s has neither a flag nor an input", o.Key)
		}
		if o.Usage == "" {
			t.Errorf("option %s has no usage text", o.Key)
		}
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	c := Defaults()
	out, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, string(out))
	back, err := Load(Sources{File: path, FileRequired: true})
	if err != nil {
		t.Fatalf("the printed config does not load back: %v\n%s", err, out)
	}
	again, _ := back.Config.YAML()
	if string(again) != string(out) {
		t.Errorf("config YAML does not round-trip:\n%s\n---\n%s", out, again)
	}
}

// TestORTLibNotFromFile: a config file (which a fork's pull request controls) cannot choose the
// ONNX Runtime library cvgate loads; the flag still can.
func TestORTLibNotFromFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, ".cvgate.yml")
	if err := os.WriteFile(file, []byte("version: 1\nruntime:\n  ort_lib: ./evil.so\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(Sources{File: file, FileRequired: true})
	if err == nil || !strings.Contains(err.Error(), "runtime.ort_lib cannot be set in a config file") {
		t.Fatalf("want a refusal of runtime.ort_lib from the file, got %v", err)
	}
}
