package github_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/github"
)

// gitRepo is a throwaway repository for the git fallbacks.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	g := &gitRepo{t: t, dir: t.TempDir()}
	g.git("init", "-q", "-b", "main")
	return g
}

func (g *gitRepo) git(args ...string) string {
	g.t.Helper()
	base := []string{"-c", "user.name=cvgate test", "-c", "user.email=test@invalid", "-c", "commit.gpgsign=false"}
	cmd := exec.Command("git", append(base, args...)...)
	cmd.Dir = g.dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		g.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (g *gitRepo) write(path string, data []byte) {
	g.t.Helper()
	full := filepath.Join(g.dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		g.t.Fatal(err)
	}
	if err := os.WriteFile(full, data, 0o644); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gitRepo) commit(msg string) string {
	g.t.Helper()
	g.git("add", "-A")
	g.git("commit", "-q", "-m", msg)
	return g.git("rev-parse", "HEAD")
}

// lfsPointer writes a pointer in the LFS spec's format for data.
func lfsPointer(data []byte) (pointer []byte, oid string) {
	sum := sha256.Sum256(data)
	oid = hex.EncodeToString(sum[:])
	return fmt.Appendf(nil, "version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", oid, len(data)), oid
}

func TestGitChangedFiles(t *testing.T) {
	g := newGitRepo(t)
	g.write("models/keep.onnx", []byte("a"))
	g.write("models/old name.onnx", bytes.Repeat([]byte("rename me "), 50))
	g.write("models/gone.onnx", []byte("c"))
	g.write("README.md", []byte("r"))
	base := g.commit("base")
	g.git("checkout", "-q", "-b", "feature")
	g.write("models/keep.onnx", []byte("a2"))
	g.write("models/new.onnx", []byte("n"))
	g.git("mv", "models/old name.onnx", "models/new name.onnx")
	g.git("rm", "-q", "models/gone.onnx")
	head := g.commit("change")

	got, err := github.GitChangedFiles(t.Context(), g.dir, base, head)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	// Deleted files are left out (--diff-filter=AMR); the rename shows its new
	// name, spaces intact.
	want := []string{"models/keep.onnx", "models/new name.onnx", "models/new.onnx"}
	if !slices.Equal(got, want) {
		t.Errorf("GitChangedFiles = %q, want %q", got, want)
	}

	_, err = github.GitChangedFiles(t.Context(), g.dir, "no-such-ref", head)
	var ge *github.GitError
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), "git diff --name-only") || !strings.Contains(err.Error(), "no-such-ref") {
		t.Errorf("bad ref err = %v, want a GitError naming the command and git's complaint", err)
	}
	if _, err := github.GitChangedFiles(t.Context(), g.dir, "--output=/tmp/x", head); err == nil {
		t.Error("a revision that looks like an option must be refused")
	}
}

func TestGitFile(t *testing.T) {
	g := newGitRepo(t)
	small := []byte("small model bytes")
	large := bytes.Repeat([]byte{0, 1, 2, 3, 250}, 10_000) // binary, over the pointer size
	lfsContent := []byte("the real LFS-stored model")
	pointer, oid := lfsPointer(lfsContent)
	missing, _ := lfsPointer([]byte("never fetched"))
	g.write("models/small.onnx", small)
	g.write("models/large.onnx", large)
	g.write("models/lfs.onnx", pointer)
	g.write("models/missing.onnx", missing)
	base := g.commit("base")
	g.write("models/small.onnx", []byte("changed on the branch"))
	g.commit("head")
	// The checkout's LFS store holds one of the two objects.
	store := filepath.Join(g.dir, ".git", "lfs", "objects", oid[:2], oid[2:4])
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store, oid), lfsContent, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, ref, path string
		want            []byte
		wantErr         string
		wantLFS         bool
	}{
		{name: "small file at base", ref: base, path: "models/small.onnx", want: small},
		{name: "branch name", ref: "main", path: "./models/small.onnx", want: []byte("changed on the branch")},
		{name: "large binary", ref: base, path: "models/large.onnx", want: large},
		{name: "LFS object in the local store", ref: base, path: "models/lfs.onnx", want: lfsContent},
		{name: "LFS pointer without object", ref: base, path: "models/missing.onnx", wantLFS: true, wantErr: "lfs: true"},
		{name: "missing path", ref: base, path: "models/none.onnx", wantErr: "git cat-file"},
		{name: "missing ref (shallow clone)", ref: "0123456789abcdef0123456789abcdef01234567", path: "models/small.onnx", wantErr: "git cat-file"},
		{name: "escaping path", ref: base, path: "../etc/passwd", wantErr: "inside the repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := github.GitFile(t.Context(), g.dir, tt.ref, tt.path, &buf)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				var le *github.LFSPointerError
				if errors.As(err, &le) != tt.wantLFS {
					t.Errorf("LFSPointerError = %v, want %v", errors.As(err, &le), tt.wantLFS)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), tt.want) {
				t.Errorf("content = %d bytes, want %d", buf.Len(), len(tt.want))
			}
		})
	}
}

func TestParseLFSPointer(t *testing.T) {
	pointer, oid := lfsPointer([]byte("x"))
	p, ok := github.ParseLFSPointer(pointer)
	if !ok || p.OID != oid || p.Size != 1 {
		t.Errorf("ParseLFSPointer = %+v, %v; want oid %s size 1", p, ok, oid)
	}
	for _, notPointer := range [][]byte{
		[]byte("ONNX model bytes"),
		append(append([]byte{}, pointer...), bytes.Repeat([]byte("x"), 1024)...), // too big to be a pointer
		[]byte("version https://git-lfs.github.com/spec/v1"),                     // no newline: not the spec's line
	} {
		if _, ok := github.ParseLFSPointer(notPointer); ok {
			t.Errorf("ParseLFSPointer(%.40q) = true, want false", notPointer)
		}
	}
}
