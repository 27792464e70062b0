package baseline_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/baseline"
	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/github/githubtest"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    baseline.Spec
		wantErr string
	}{
		{in: "", want: baseline.Spec{Kind: "none"}},
		{in: " none ", want: baseline.Spec{Kind: "none", Raw: "none"}},
		{in: "models/old.onnx", want: baseline.Spec{Kind: "path", Path: "models/old.onnx", Raw: "models/old.onnx"}},
		{in: "git:main", want: baseline.Spec{Kind: "git", Ref: "main", Raw: "git:main"}},
		{in: "git:", wantErr: "git:REF needs"},
		{in: "git:-x", wantErr: "git:REF needs"},
		{in: "git:a b", wantErr: "git:REF needs"},
		{in: "release:v1.2.0:model.onnx", want: baseline.Spec{Kind: "release", Tag: "v1.2.0", Asset: "model.onnx", Raw: "release:v1.2.0:model.onnx"}},
		// Git forbids ':' in tags, so the asset keeps its colons.
		{in: "release:latest:a:b.onnx", want: baseline.Spec{Kind: "release", Tag: "latest", Asset: "a:b.onnx", Raw: "release:latest:a:b.onnx"}},
		{in: "release:v1", wantErr: "release:TAG:ASSET"},
		{in: "release::x", wantErr: "release:TAG:ASSET"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := baseline.Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) err = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// repo is a throwaway git repository: models/m.onnx and models/old.onnx on the base commit; on
// head m.onnx changes, old.onnx is renamed to renamed.onnx and new.onnx is added.
type repo struct {
	dir, base, head string
}

var (
	baseBytes = []byte("base version of m")
	headBytes = []byte("head version of m")
	oldBytes  = []byte("the model before its rename")
)

func newRepo(t *testing.T) *repo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	r := &repo{dir: t.TempDir()}
	r.git(t, "init", "-q", "-b", "main")
	r.write(t, "models/m.onnx", baseBytes)
	r.write(t, "models/old.onnx", oldBytes)
	r.base = r.commit(t)
	r.write(t, "models/m.onnx", headBytes)
	r.write(t, "models/new.onnx", []byte("new"))
	r.git(t, "mv", "models/old.onnx", "models/renamed.onnx")
	r.head = r.commit(t)
	return r
}

func (r *repo) git(t *testing.T, args ...string) string {
	t.Helper()
	base := []string{"-c", "user.name=cvgate test", "-c", "user.email=test@invalid", "-c", "commit.gpgsign=false"}
	cmd := exec.Command("git", append(base, args...)...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *repo) write(t *testing.T, p string, data []byte) {
	t.Helper()
	full := filepath.Join(r.dir, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (r *repo) commit(t *testing.T) string {
	t.Helper()
	r.git(t, "add", "-A")
	r.git(t, "commit", "-q", "-m", "x")
	return r.git(t, "rev-parse", "HEAD")
}

func (r *repo) path(p string) string { return filepath.Join(r.dir, p) }

// apiRepo is a fake GitHub holding m.onnx at the commit "remote-base" and one release.
func apiRepo(t *testing.T) (*github.Repo, *githubtest.Server) {
	t.Helper()
	srv := githubtest.NewServer(t, "octo-org", "models")
	srv.SetContent("remote-base", "models/m.onnx", []byte("m from the API"))
	srv.AddRelease("v1.0.0", false, githubtest.Asset{Name: "model.onnx", Data: []byte("released model")})
	c, err := github.NewClient("", srv.URL, github.WithRetry(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return c.Repo("octo-org", "models"), srv
}

func TestResolve(t *testing.T) {
	r := newRepo(t)
	api, _ := apiRepo(t)
	missingCommit := "0123456789abcdef0123456789abcdef01234567"
	lfsRepo := newRepo(t)
	lfsRepo.write(t, "models/big.onnx", []byte(fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize 123456\n", strings.Repeat("ab", 32))))
	lfsBase := lfsRepo.commit(t)
	notGit := t.TempDir()
	if err := os.WriteFile(filepath.Join(notGit, "m.onnx"), headBytes, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		spec      string
		pathAtRef string // rename
		candidate string
		remote    baseline.Remote
		want      []byte
		source    string
		// unavailable, when set, is a substring of the reason the comparison is skipped.
		unavailable string
	}{
		{name: "git ref from the checkout", spec: "git:" + r.base, candidate: r.path("models/m.onnx"),
			want: baseBytes, source: "git:" + r.base + ":models/m.onnx"},
		{name: "branch name", spec: "git:main", candidate: r.path("models/m.onnx"), want: headBytes},
		{name: "checkout preferred over the API", spec: "git:" + r.base, candidate: r.path("models/m.onnx"),
			remote: baseline.Remote{Repo: api}, want: baseBytes},
		{name: "renamed model read at its old path", spec: "git:" + r.base, pathAtRef: "models/old.onnx",
			candidate: r.path("models/renamed.onnx"), want: oldBytes, source: "git:" + r.base + ":models/old.onnx"},
		{name: "new model", spec: "git:" + r.base, candidate: r.path("models/new.onnx"), unavailable: "a new model has no baseline"},
		{name: "commit missing, no API", spec: "git:" + missingCommit, candidate: r.path("models/m.onnx"),
			unavailable: "fetch-depth: 0"},
		{name: "commit missing, read through the API", spec: "git:remote-base", candidate: r.path("models/m.onnx"),
			remote: baseline.Remote{Repo: api}, want: []byte("m from the API")},
		{name: "commit missing, file absent in the API too", spec: "git:remote-base", candidate: r.path("models/new.onnx"),
			remote: baseline.Remote{Repo: api}, unavailable: "a new model has no baseline"},
		{name: "LFS pointer", spec: "git:" + lfsBase, candidate: lfsRepo.path("models/big.onnx"), unavailable: "Git LFS pointer"},
		{name: "not a git checkout, no API", spec: "git:main", candidate: filepath.Join(notGit, "m.onnx"), unavailable: "not inside a git repository"},
		{name: "not a git checkout, API with the workspace root", spec: "git:remote-base", candidate: filepath.Join(notGit, "m.onnx"),
			remote: baseline.Remote{Repo: api, Root: filepath.Dir(notGit)}, unavailable: "does not exist at remote-base"},
		{name: "path", spec: r.path("models/m.onnx"), candidate: r.path("models/new.onnx"), want: headBytes},
		{name: "missing path", spec: r.path("models/none.onnx"), candidate: r.path("models/m.onnx"), unavailable: "not found"},
		{name: "directory as path", spec: r.path("models"), candidate: r.path("models/m.onnx"), unavailable: "is a directory"},
		{name: "release asset", spec: "release:v1.0.0:model.onnx", candidate: r.path("models/m.onnx"),
			remote: baseline.Remote{Repo: api}, want: []byte("released model"), source: "release:v1.0.0:model.onnx"},
		{name: "latest release", spec: "release:latest:model.onnx", candidate: r.path("models/m.onnx"),
			remote: baseline.Remote{Repo: api}, want: []byte("released model")},
		{name: "missing asset", spec: "release:v1.0.0:other.onnx", candidate: r.path("models/m.onnx"),
			remote: baseline.Remote{Repo: api}, unavailable: `asset "other.onnx"`},
		{name: "missing release", spec: "release:v9:model.onnx", candidate: r.path("models/m.onnx"),
			remote: baseline.Remote{Repo: api}, unavailable: "not found"},
		{name: "release without GitHub access", spec: "release:v1.0.0:model.onnx", candidate: r.path("models/m.onnx"),
			unavailable: "needs GitHub access"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := baseline.Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if spec.Kind == "git" {
				spec.Path = tt.pathAtRef
			}
			tmp := t.TempDir()
			res, err := baseline.Resolve(t.Context(), spec, tt.candidate, tmp, tt.remote)
			if tt.unavailable != "" {
				var un *baseline.Unavailable
				if !errors.As(err, &un) || !strings.Contains(un.Reason, tt.unavailable) {
					t.Fatalf("err = %v, want *Unavailable containing %q", err, tt.unavailable)
				}
				if leftovers, _ := os.ReadDir(tmp); len(leftovers) > 0 {
					t.Errorf("temporary files left behind: %v", leftovers)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(res.File)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("baseline content %q, want %q", got, tt.want)
			}
			if tt.source != "" && res.Source != tt.source {
				t.Errorf("source %q, want %q", res.Source, tt.source)
			}
			res.Cleanup()
			if spec.Kind != "path" {
				if _, err := os.Stat(res.File); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("Cleanup left the temporary copy %s", res.File)
				}
			}
		})
	}
}

func TestResolveNone(t *testing.T) {
	res, err := baseline.Resolve(t.Context(), baseline.Spec{Kind: "none"}, "m.onnx", t.TempDir(), baseline.Remote{})
	if res != nil || err != nil {
		t.Errorf("Resolve(none) = %v, %v; want nil, nil", res, err)
	}
}
