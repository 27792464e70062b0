package app

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cvgate/cvgate/internal/testutil/ortlib"
)

// actionFile is the part of action.yml the tests read.
type actionFile struct {
	Inputs map[string]struct {
		Description string `yaml:"description"`
		Default     string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
	} `yaml:"outputs"`
	Runs struct {
		Using string `yaml:"using"`
		Image string `yaml:"image"`
	} `yaml:"runs"`
}

func actionYAML(t *testing.T) actionFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(ortlib.RepoRoot(t), "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return a
}

// actionYAMLInputs lists action.yml's inputs, sorted.
func actionYAMLInputs(t *testing.T) []string {
	t.Helper()
	var names []string
	for name := range actionYAML(t).Inputs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func TestActionYAMLShape(t *testing.T) {
	a := actionYAML(t)
	if a.Runs.Using != "docker" || a.Runs.Image != "Dockerfile" {
		t.Errorf("runs = %+v, want a container action built from the Dockerfile", a.Runs)
	}
	for name, in := range a.Inputs {
		if in.Description == "" {
			t.Errorf("input %q has no description", name)
		}
		// A default would override the config file, which inputs are applied after.
		if in.Default != "" && name != inputToken {
			t.Errorf("input %q has default %q: leave it empty so .cvgate.yml can decide", name, in.Default)
		}
	}
	if got := a.Inputs[inputToken].Default; got != "${{ github.token }}" {
		t.Errorf("github-token default %q, want ${{ github.token }}", got)
	}
}

// The Dockerfile's ONNX Runtime pin must equal scripts/setup-ort's, the one place it is written.
func TestDockerfilePinsSetupORT(t *testing.T) {
	root := ortlib.RepoRoot(t)
	script, err := os.ReadFile(filepath.Join(root, "scripts", "setup-ort"))
	if err != nil {
		t.Fatal(err)
	}
	docker, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ORT_VERSION", "ORT_SHA256"} {
		want := regexp.MustCompile(`(?m)^` + name + `=(\S+)$`).FindSubmatch(script)
		got := regexp.MustCompile(`(?m)^ARG ` + name + `=(\S+)$`).FindSubmatch(docker)
		if want == nil || got == nil {
			t.Fatalf("%s: scripts/setup-ort has %q, the Dockerfile's ARG default %q", name, want, got)
		}
		if string(got[1]) != string(want[1]) {
			t.Errorf("Dockerfile ARG %s=%s, scripts/setup-ort says %s", name, got[1], want[1])
		}
	}
	text := string(docker)
	for _, rule := range []struct{ bad, why string }{
		{"\nUSER ", "container actions must run as root"},
		{"\nWORKDIR ", "the runner sets the working directory to the workspace"},
		{"# syntax=", "BuildKit would fetch a frontend image"},
	} {
		if strings.Contains(text, rule.bad) {
			t.Errorf("Dockerfile contains %q: %s", strings.TrimSpace(rule.bad), rule.why)
		}
	}
	if !strings.Contains(text, `ENTRYPOINT ["/usr/local/bin/cvgate", "action"]`) {
		t.Errorf("Dockerfile entrypoint is not cvgate action")
	}
}
