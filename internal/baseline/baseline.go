// Package baseline finds the model a candidate is compared with: a file path, the same path at a
// git ref of the local repository, or a GitHub release asset. A baseline that cannot be found is
// not an error of the run: the comparison checks are skipped and the report says why.
package baseline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Spec is a parsed baseline setting.
type Spec struct {
	Kind  string // "none", "path", "git" or "release"
	Path  string // for "path"
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
		parts := strings.SplitN(strings.TrimPrefix(s, "release:"), ":", 2)
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return Spec{}, fmt.Errorf("baseline %q: use release:TAG:ASSET or release:latest:ASSET", s)
		}
		return Spec{Kind: "release", Tag: parts[0], Asset: parts[1], Raw: s}, nil
	}
	return Spec{Kind: "path", Path: s, Raw: s}, nil
}

// Unavailable says the baseline could not be obtained; comparison checks are skipped with Reason.
type Unavailable struct{ Reason string }

func (e *Unavailable) Error() string { return e.Reason }

// ReleaseFetcher downloads a release asset (implemented with the GitHub API by the caller).
type ReleaseFetcher interface {
	FetchReleaseAsset(ctx context.Context, tag, asset string) ([]byte, error)
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

// Resolve makes the baseline of candidate available as a local file. It returns (nil, nil) for
// "none" and an *Unavailable error when the baseline does not exist (for example a model added by
// the pull request, absent from the base ref).
func Resolve(ctx context.Context, spec Spec, candidate, tmpDir string, releases ReleaseFetcher) (*Resolved, error) {
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
		data, rel, err := gitShow(ctx, candidate, spec.Ref)
		if err != nil {
			return nil, err
		}
		return writeTemp(tmpDir, data, fmt.Sprintf("git:%s:%s", spec.Ref, rel))
	case "release":
		if releases == nil {
			return nil, &Unavailable{Reason: fmt.Sprintf("baseline %s needs GitHub access (GITHUB_TOKEN and GITHUB_REPOSITORY)", spec.Raw)}
		}
		data, err := releases.FetchReleaseAsset(ctx, spec.Tag, spec.Asset)
		if err != nil {
			return nil, &Unavailable{Reason: fmt.Sprintf("baseline %s: %v", spec.Raw, err)}
		}
		return writeTemp(tmpDir, data, spec.Raw)
	}
	return nil, fmt.Errorf("baseline: unknown kind %q", spec.Kind)
}

// LFSPointerPrefix starts every Git LFS pointer file.
const LFSPointerPrefix = "version https://git-lfs.github.com/spec/v1"

// gitShow reads the candidate's path at ref from the repository that contains it.
func gitShow(ctx context.Context, candidate, ref string) ([]byte, string, error) {
	abs, err := filepath.Abs(candidate)
	if err != nil {
		return nil, "", fmt.Errorf("resolve %q: %w", candidate, err)
	}
	dir := filepath.Dir(abs)
	top, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, "", &Unavailable{Reason: fmt.Sprintf("baseline git:%s: %q is not inside a git repository", ref, candidate)}
	}
	topDir := strings.TrimSpace(string(top))
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	if real, err := filepath.EvalSymlinks(topDir); err == nil {
		topDir = real
	}
	rel, err := filepath.Rel(topDir, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return nil, "", &Unavailable{Reason: fmt.Sprintf("baseline git:%s: %q is outside the repository %q", ref, candidate, topDir)}
	}
	rel = filepath.ToSlash(rel)
	if _, err := git(ctx, topDir, "rev-parse", "--verify", "--quiet", ref+"^{commit}"); err != nil {
		return nil, rel, &Unavailable{Reason: fmt.Sprintf("baseline git:%s: no such commit, branch or tag in %s (fetch it: actions/checkout with fetch-depth: 0)", ref, topDir)}
	}
	data, err := git(ctx, topDir, "show", ref+":"+rel)
	if err != nil {
		return nil, rel, &Unavailable{Reason: fmt.Sprintf("baseline git:%s: %s does not exist at %s (a new model has no baseline)", ref, rel, ref)}
	}
	if bytes.HasPrefix(data, []byte(LFSPointerPrefix)) {
		return nil, rel, &Unavailable{Reason: fmt.Sprintf("baseline git:%s: %s is a Git LFS pointer at %s; fetch LFS objects (actions/checkout with lfs: true, then git lfs fetch origin %s)", ref, rel, ref, ref)}
	}
	return data, rel, nil
}

func git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("run git: %w", err)
		}
		return nil, fmt.Errorf("git %s: %s", strings.Join(args, " "), strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func writeTemp(dir string, data []byte, source string) (*Resolved, error) {
	f, err := os.CreateTemp(dir, "cvgate-baseline-*.onnx")
	if err != nil {
		return nil, fmt.Errorf("store baseline %s: %w", source, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("store baseline %s: %w", source, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("store baseline %s: %w", source, err)
	}
	return &Resolved{File: f.Name(), Source: source, temp: true}, nil
}
