// Package baseline finds the model a candidate is compared with: a file path, the same path at a
// git ref of the repository, or a GitHub release asset. A baseline that cannot be found is not an
// error of the run: the comparison checks are skipped and the report says why.
//
// Reading files at a ref and downloading release assets is internal/github's job; this package
// decides which of its sources to ask and turns every way of not finding a baseline into one
// *Unavailable with a reason a user can act on.
package baseline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cvgate/cvgate/internal/github"
)

// Spec is a parsed baseline setting.
type Spec struct {
	Kind  string // "none", "path", "git" or "release"
	Path  string // for "path": the file; for "git": the path at Ref when it differs from the candidate's (a rename)
	Ref   string // for "git"
	Tag   string // for "release": a tag or "latest"
	Asset string // for "release"
	Raw   string
}

// Parse reads "none", "", PATH, "git:REF" or "release:TAG|latest:ASSET".
func Parse(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || s == "none":
		return Spec{Kind: "none", Raw: s}, nil
	case strings.HasPrefix(s, "git:"):
		ref := strings.TrimPrefix(s, "git:")
		if ref == "" || strings.ContainsAny(ref, " \t\n") || strings.HasPrefix(ref, "-") {
			return Spec{}, fmt.Errorf("baseline %q: git:REF needs a branch, tag or commit (e.g. git:main)", s)
		}
		return Spec{Kind: "git", Ref: ref, Raw: s}, nil
	case strings.HasPrefix(s, "release:"):
		rs, err := github.ParseReleaseSpec(s)
		if err != nil {
			return Spec{}, fmt.Errorf("baseline %q: use release:TAG:ASSET or release:latest:ASSET", s)
		}
		return Spec{Kind: "release", Tag: rs.Tag, Asset: rs.Asset, Raw: s}, nil
	}
	return Spec{Kind: "path", Path: s, Raw: s}, nil
}

// Unavailable says the baseline could not be obtained; comparison checks are skipped with Reason.
type Unavailable struct{ Reason string }

func (e *Unavailable) Error() string { return e.Reason }

// Remote is what Resolve may use beyond the local disk. The zero value means local only.
type Remote struct {
	// Repo reads files at a ref and release assets through the GitHub API; nil outside GitHub.
	Repo *github.Repo
	// Root is the repository root candidate paths are relative to when they are not inside a git
	// checkout (a workspace without .git); "" when unknown.
	Root string
}

// Resolved is a baseline model file ready to open.
type Resolved struct {
	File   string // local file to open
	Source string // as shown in reports, e.g. "git:main:models/a.onnx"
	temp   bool
}

// Cleanup removes a temporary copy.
func (r *Resolved) Cleanup() {
	if r != nil && r.temp {
		os.Remove(r.File)
	}
}

// Resolve makes the baseline of candidate available as a local file (copies go to tmpDir). It
// returns (nil, nil) for "none" and an *Unavailable error when the baseline cannot be had: a model
// the pull request adds (absent at the base ref), a ref missing from a shallow clone, a Git LFS
// pointer without its object, a missing release asset, no GitHub access.
func Resolve(ctx context.Context, spec Spec, candidate, tmpDir string, remote Remote) (*Resolved, error) {
	switch spec.Kind {
	case "none":
		return nil, nil
	case "path":
		st, err := os.Stat(spec.Path)
		if err != nil {
			return nil, &Unavailable{Reason: fmt.Sprintf("baseline %q not found: %v", spec.Path, err)}
		}
		if st.IsDir() {
			return nil, &Unavailable{Reason: fmt.Sprintf("baseline %q is a directory, not a model file", spec.Path)}
		}
		return &Resolved{File: spec.Path, Source: spec.Path}, nil
	case "git":
		return resolveGit(ctx, spec, candidate, tmpDir, remote)
	case "release":
		return resolveRelease(ctx, spec, tmpDir, remote.Repo)
	}
	return nil, fmt.Errorf("baseline: unknown kind %q", spec.Kind)
}

// resolveGit reads the file at spec.Ref from the checkout's git objects when the checkout has the
// commit, and from the API otherwise. Asking only one source keeps the answer unambiguous: with
// the commit at hand, a missing path really means a new model.
func resolveGit(ctx context.Context, spec Spec, candidate, tmpDir string, remote Remote) (*Resolved, error) {
	top, rel, err := repoPath(ctx, candidate, remote.Root)
	if err != nil {
		return nil, err
	}
	if spec.Path != "" {
		rel = filepath.ToSlash(filepath.Clean(spec.Path))
	}
	source := fmt.Sprintf("git:%s:%s", spec.Ref, rel)

	src := github.FileSource{Repo: remote.Repo}
	if top != "" && github.GitHasCommit(ctx, top, spec.Ref) {
		src = github.FileSource{Dir: top}
	} else if remote.Repo == nil {
		where := "this checkout"
		if top == "" {
			where = "any git checkout (and there is no GitHub access to read it through the API)"
		}
		return nil, &Unavailable{Reason: fmt.Sprintf("baseline %s: commit %q is not in %s; fetch it (actions/checkout with fetch-depth: 0)", source, spec.Ref, where)}
	}
	dst := filepath.Join(tmpDir, "baseline-"+safeName(rel))
	if err := github.FetchFile(ctx, src, spec.Ref, rel, dst); err != nil {
		return nil, unavailableGit(source, spec.Ref, rel, src.Dir != "", err)
	}
	return &Resolved{File: dst, Source: source, temp: true}, nil
}

// unavailableGit explains why a file could not be read at a ref.
func unavailableGit(source, ref, rel string, fromCheckout bool, err error) error {
	var lfs *github.LFSPointerError
	var nf *github.NotFoundError
	var ge *github.GitError
	switch {
	case errors.As(err, &lfs):
		return &Unavailable{Reason: fmt.Sprintf("baseline %s: %v", source, lfs)}
	case errors.As(err, &nf), fromCheckout && errors.As(err, &ge):
		// The commit is known (checked above, or the API found the repository), so a failure to
		// read the path means the file is not there: a model added by this change.
		return &Unavailable{Reason: fmt.Sprintf("baseline %s: %s does not exist at %s (a new model has no baseline)", source, rel, ref)}
	}
	return &Unavailable{Reason: fmt.Sprintf("baseline %s: %v", source, err)}
}

// repoPath finds the git top level holding candidate and candidate's slash path inside it. Outside
// a checkout the path is taken relative to root, for the API; with no root either, there is no way
// to name the file at a ref.
func repoPath(ctx context.Context, candidate, root string) (top, rel string, err error) {
	abs, err := filepath.Abs(candidate)
	if err != nil {
		return "", "", fmt.Errorf("resolve %q: %w", candidate, err)
	}
	base := root
	if t, gitErr := github.GitTopLevel(ctx, filepath.Dir(abs)); gitErr == nil {
		top, base = t, t
	}
	if base == "" {
		return "", "", &Unavailable{Reason: fmt.Sprintf("baseline at a git ref: %q is not inside a git repository", candidate)}
	}
	rel, err = relInside(base, abs)
	if err != nil {
		return "", "", &Unavailable{Reason: fmt.Sprintf("baseline at a git ref: %q is outside the repository %q", candidate, base)}
	}
	return top, rel, nil
}

// relInside is target's slash path relative to base, refusing paths that leave base. Symlinks are
// resolved first: git reports the real top level (/private/tmp on macOS, for example).
func relInside(base, target string) (string, error) {
	if real, err := filepath.EvalSymlinks(base); err == nil {
		base = real
	}
	if real, err := filepath.EvalSymlinks(target); err == nil {
		target = real
	}
	rel, err := filepath.Rel(base, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%q is outside %q", target, base)
	}
	return filepath.ToSlash(rel), nil
}

// resolveRelease downloads the release asset into tmpDir.
func resolveRelease(ctx context.Context, spec Spec, tmpDir string, repo *github.Repo) (*Resolved, error) {
	if repo == nil {
		return nil, &Unavailable{Reason: fmt.Sprintf("baseline %s needs GitHub access (GITHUB_TOKEN and GITHUB_REPOSITORY)", spec.Raw)}
	}
	rs := github.ReleaseSpec{Tag: spec.Tag, Asset: spec.Asset}
	f, err := os.CreateTemp(tmpDir, "cvgate-baseline-*.onnx")
	if err != nil {
		return nil, fmt.Errorf("store baseline %s: %w", spec.Raw, err)
	}
	_, dlErr := repo.DownloadReleaseAsset(ctx, rs, f)
	closeErr := f.Close()
	if dlErr != nil {
		os.Remove(f.Name())
		return nil, &Unavailable{Reason: fmt.Sprintf("baseline %s: %v", spec.Raw, dlErr)}
	}
	if closeErr != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("store baseline %s: %w", spec.Raw, closeErr)
	}
	return &Resolved{File: f.Name(), Source: spec.Raw, temp: true}, nil
}

// safeName turns a repository path into one file name.
func safeName(rel string) string {
	return strings.NewReplacer("/", "_", "\\", "_", ":", "_").Replace(rel)
}
