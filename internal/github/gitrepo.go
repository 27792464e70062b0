package github

import (
	"context"
	"path/filepath"
	"strings"
)

// GitTopLevel returns the root of the git working tree that contains dir. A
// directory outside any repository is a *GitError.
func GitTopLevel(ctx context.Context, dir string) (string, error) {
	out, err := runGit(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", err
	}
	return filepath.FromSlash(strings.TrimSpace(string(out))), nil
}

// GitHasCommit reports whether ref names a commit present in the checkout in
// dir. It is asked before reading a file at ref because git answers a missing
// 40-hex commit (a shallow checkout without the base) with "path does not
// exist", which would read as a model that is new.
func GitHasCommit(ctx context.Context, dir, ref string) bool {
	if checkRef("ref", ref) != nil {
		return false
	}
	_, err := runGit(ctx, dir, "cat-file", "-e", ref+"^{commit}")
	return err == nil
}
