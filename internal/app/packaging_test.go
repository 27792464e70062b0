package app

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cvgate/cvgate/internal/onnx"
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

// The Dockerfile installs ONNX Runtime through scripts/setup-ort, the one place its pins are
// written, and builds both variants from the same stages.
func TestDockerfile(t *testing.T) {
	root := ortlib.RepoRoot(t)
	docker, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(docker)
	for _, rule := range []struct{ bad, why string }{
		{"\nUSER ", "container actions must run as root"},
		{"\nWORKDIR ", "the runner sets the working directory to the workspace"},
		{"# syntax=", "BuildKit would fetch a frontend image"},
		{"ORT_SHA256", "the pins live in scripts/setup-ort alone"},
		{"npm pack", "scripts/setup-ort fetches and verifies the libraries"},
	} {
		if strings.Contains(text, rule.bad) {
			t.Errorf("Dockerfile contains %q: %s", strings.TrimSpace(rule.bad), rule.why)
		}
	}
	for _, want := range []string{
		`ENTRYPOINT ["/usr/local/bin/cvgate", "action"]`,
		"COPY scripts/setup-ort /usr/local/bin/setup-ort",
		"ARG RUNTIME_BASE=debian:bookworm-slim\n",
		"FROM ${RUNTIME_BASE}\n",
		"cuda) flag=--cuda ;;",
		"COPY --from=ort /ort/ /usr/local/lib/",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^!scripts/setup-ort$`).Match(ignore) {
		t.Errorf(".dockerignore keeps scripts/setup-ort out of the build context")
	}
}

// scripts/setup-ort pins every library it installs by sha256.
func TestSetupORTPins(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(ortlib.RepoRoot(t), "scripts", "setup-ort"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ORT_SHA256", "ORT_CUDA_SHA256_providers_cuda", "ORT_CUDA_SHA256_providers_shared"} {
		if !regexp.MustCompile(`(?m)^` + name + `=[0-9a-f]{64}$`).Match(script) {
			t.Errorf("scripts/setup-ort has no sha256 pin %s", name)
		}
	}
	if !regexp.MustCompile(`(?m)^ORT_VERSION=` + regexp.QuoteMeta(onnx.PinnedVersion) + `$`).Match(script) {
		t.Errorf("scripts/setup-ort does not pin ONNX Runtime %s", onnx.PinnedVersion)
	}
}

// The release workflow tests the images it pushes and pins the release commit's action.yml to
// the pushed one; the development action.yml builds the Dockerfile.
func TestReleaseWorkflow(t *testing.T) {
	root := ortlib.RepoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, ".github", "workflows", "release.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Env  map[string]string `yaml:"env"`
		Jobs map[string]struct {
			Steps []struct {
				Name string `yaml:"name"`
				Run  string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatalf("release.yml: %v", err)
	}
	if !regexp.MustCompile(`^nvidia/cuda:13\.\d+\.\d+-cudnn-runtime-`).MatchString(wf.Env["CUDA_BASE"]) {
		t.Errorf("CUDA_BASE %q is not a CUDA 13 image with cuDNN", wf.Env["CUDA_BASE"])
	}
	var runs []string
	for _, j := range wf.Jobs {
		for _, st := range j.Steps {
			runs = append(runs, st.Run)
		}
	}
	all := strings.Join(runs, "\n")
	// In order: build, test, push, pin.
	order := []string{
		`docker build --platform linux/amd64 --pull -t "$IMAGE:$VERSION"`,
		`CVGATE_CONTAINER_IMAGE="$IMAGE:$VERSION" go test`,
		`--build-arg VARIANT=cuda --build-arg RUNTIME_BASE="$CUDA_BASE"`,
		`CVGATE_CONTAINER_IMAGE="$IMAGE:$VERSION-cuda" go test`,
		`docker push "$IMAGE:$tag"`,
		`docker pull "$IMAGE:$VERSION@$DIGEST"`,
		`scripts/pin-action-image "$IMAGE:$VERSION@$DIGEST"`,
		`git push origin "refs/tags/$VERSION"`,
	}
	at := 0
	for _, want := range order {
		i := strings.Index(all[at:], want)
		if i < 0 {
			t.Fatalf("release.yml lacks, or has out of order, %q", want)
		}
		at += i + len(want)
	}
	var a actionFile
	action, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(action, &a); err != nil {
		t.Fatal(err)
	}
	if a.Runs.Using != "docker" || a.Runs.Image != "Dockerfile" {
		t.Errorf("action.yml runs %s %s: the development action builds the Dockerfile (release commits alone are pinned)", a.Runs.Using, a.Runs.Image)
	}
}

func TestPinActionImage(t *testing.T) {
	root := ortlib.RepoRoot(t)
	action, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	digest := "@sha256:" + strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name  string
		image string
		input string // action.yml's text; "" is the real one
		ok    bool
	}{
		{"tag and digest", "ghcr.io/cvgate/cvgate:v1.2.3" + digest, "", true},
		{"tag", "ghcr.io/cvgate/cvgate:v1.2.3", "", true},
		{"registry port", "localhost:5000/team/cvgate:v1", "", true},
		{"no tag", "ghcr.io/cvgate/cvgate", "", false},
		{"upper case path", "ghcr.io/CVGate/cvgate:v1", "", false},
		{"command substitution", "ghcr.io/x/y:v1$(id)", "", false},
		{"space", "ghcr.io/x/y:v1 --privileged", "", false},
		{"newline", "ghcr.io/x/y:v1\n  using: node20", "", false},
		{"short digest", "ghcr.io/x/y:v1@sha256:abc", "", false},
		{"already pinned", "ghcr.io/x/y:v2", "runs:\n  using: docker\n  image: docker://ghcr.io/x/y:v1\n", false},
		{"two image lines", "ghcr.io/x/y:v2", "runs:\n  using: docker\n  image: Dockerfile\n  image: Dockerfile\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.input
			if in == "" {
				in = string(action)
			}
			file := filepath.Join(t.TempDir(), "action.yml")
			if err := os.WriteFile(file, []byte(in), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(filepath.Join(root, "scripts", "pin-action-image"), tt.image, file)
			out, err := cmd.CombinedOutput()
			got, rerr := os.ReadFile(file)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if !tt.ok {
				if err == nil || string(got) != in {
					t.Errorf("accepted (%v), or changed the file:\n%s", err, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var a actionFile
			if err := yaml.Unmarshal(got, &a); err != nil {
				t.Fatal(err)
			}
			if a.Runs.Image != "docker://"+tt.image || a.Runs.Using != "docker" {
				t.Errorf("runs %s %s", a.Runs.Using, a.Runs.Image)
			}
			if want := strings.Replace(in, "  image: Dockerfile\n", "  image: docker://"+tt.image+"\n", 1); string(got) != want {
				t.Errorf("more than the image line changed")
			}
		})
	}
}
