package github_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cvgate/cvgate/internal/github"
)

func TestGitTopLevelAndHasCommit(t *testing.T) {
	g := newGitRepo(t)
	g.write("models/m.onnx", []byte("m"))
	head := g.commit("base")

	sub := filepath.Join(g.dir, "models")
	top, err := github.GitTopLevel(t.Context(), sub)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(g.dir)
	if got, _ := filepath.EvalSymlinks(top); got != want {
		t.Errorf("GitTopLevel(%q) = %q, want %q", sub, top, want)
	}
	outside := t.TempDir()
	if _, err := github.GitTopLevel(t.Context(), outside); err == nil {
		t.Errorf("GitTopLevel(%q) outside any repository: want an error", outside)
	}
	if err := os.WriteFile(filepath.Join(g.dir, "untracked"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		ref  string
		want bool
	}{
		{head, true},
		{"main", true},
		{"HEAD~0", true},
		// A 40-hex id the clone lacks, as after a shallow checkout: git's
		// "path does not exist" for it must not be mistaken for a new file.
		{"0123456789abcdef0123456789abcdef01234567", false},
		{"no-such-branch", false},
		{"--output=/tmp/x", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := github.GitHasCommit(t.Context(), g.dir, tt.ref); got != tt.want {
			t.Errorf("GitHasCommit(%q) = %v, want %v", tt.ref, got, tt.want)
		}
	}
	// A blob id is an object but not a commit.
	blob := g.git("rev-parse", "HEAD:models/m.onnx")
	if github.GitHasCommit(t.Context(), g.dir, blob) {
		t.Errorf("GitHasCommit(blob %s) = true, want false", blob)
	}
}
