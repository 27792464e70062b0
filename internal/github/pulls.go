package github

import (
	"context"
	"fmt"
	"path"
	"strings"

	gogithub "github.com/google/go-github/v60/github"
)

// FileStatus is the pull request files API's status of a changed file.
type FileStatus string

const (
	FileAdded     FileStatus = "added"
	FileModified  FileStatus = "modified"
	FileRenamed   FileStatus = "renamed"
	FileRemoved   FileStatus = "removed"
	FileCopied    FileStatus = "copied"
	FileChanged   FileStatus = "changed" // mode change only
	FileUnchanged FileStatus = "unchanged"
)

// ChangedFile is one file of a pull request.
type ChangedFile struct {
	Path         string
	Status       FileStatus
	PreviousPath string // set for renames: where the baseline lives on the base branch
	SHA          string // blob sha of the new version
}

// PullFiles lists the files pull request number changes, 100 per page, all
// pages. GitHub returns at most MaxPullRequestFiles (3000) files; capped is true
// when the list reached that size and may be incomplete, in which case callers
// should fall back to GitChangedFiles.
func (r *Repo) PullFiles(ctx context.Context, number int) (files []ChangedFile, capped bool, err error) {
	opts := &gogithub.ListOptions{PerPage: MaxPerPage}
	for range maxPages {
		page, resp, err := r.c.gh.PullRequests.ListFiles(ctx, r.owner, r.name, number, opts)
		if err != nil {
			return nil, false, r.c.classify(err, fmt.Sprintf("pull request #%d in %s", number, r.FullName()))
		}
		for _, f := range page {
			files = append(files, ChangedFile{
				Path:         f.GetFilename(),
				Status:       FileStatus(f.GetStatus()),
				PreviousPath: f.GetPreviousFilename(),
				SHA:          f.GetSHA(),
			})
		}
		if resp.NextPage == 0 {
			return files, len(files) >= MaxPullRequestFiles, nil
		}
		opts.Page = resp.NextPage
	}
	return nil, false, fmt.Errorf("list files of pull request #%d: more than %d pages", number, maxPages)
}

// SelectFiles keeps the files that still exist after the change (drops removed
// ones) and whose path matches one of patterns, in input order. Patterns use
// path.Match syntax per segment, plus "**" for any number of directories; a
// pattern without "/" matches the base name anywhere ("*.onnx").
func SelectFiles(files []ChangedFile, patterns []string) ([]ChangedFile, error) {
	for _, p := range patterns {
		if _, err := MatchPath(p, ""); err != nil {
			return nil, err
		}
	}
	var out []ChangedFile
	for _, f := range files {
		if f.Status == FileRemoved {
			continue
		}
		for _, p := range patterns {
			if ok, _ := MatchPath(p, f.Path); ok {
				out = append(out, f)
				break
			}
		}
	}
	return out, nil
}

// MatchPath reports whether slash-separated name matches pattern (see
// SelectFiles for the syntax).
func MatchPath(pattern, name string) (bool, error) {
	if pattern == "" {
		return false, fmt.Errorf("match path pattern %q: empty pattern", pattern)
	}
	psegs := strings.Split(pattern, "/")
	for _, s := range psegs {
		if s == "**" {
			continue
		}
		if _, err := path.Match(s, ""); err != nil {
			return false, fmt.Errorf("match path pattern %q: %w", pattern, err)
		}
	}
	if name == "" {
		return false, nil
	}
	if !strings.Contains(pattern, "/") {
		return path.Match(pattern, path.Base(name))
	}
	return matchSegments(psegs, strings.Split(name, "/")), nil
}

func matchSegments(pattern, name []string) bool {
	for len(pattern) > 0 {
		if pattern[0] == "**" {
			rest := pattern[1:]
			for i := 0; i <= len(name); i++ {
				if matchSegments(rest, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pattern[0], name[0]); !ok {
			return false
		}
		pattern, name = pattern[1:], name[1:]
	}
	return len(name) == 0
}

// GitChangedFiles lists the files added, modified or renamed between the merge
// base of base and head, and head (git diff base...head), from the git checkout
// in dir: the fallback when the API is unavailable or capped. The checkout must
// hold both commits (actions/checkout fetch-depth: 0, or a fetch of the base).
func GitChangedFiles(ctx context.Context, dir, base, head string) ([]string, error) {
	if err := checkRef("base revision", base); err != nil {
		return nil, err
	}
	if err := checkRef("head revision", head); err != nil {
		return nil, err
	}
	out, err := runGit(ctx, dir, "diff", "--name-only", "-z", "--diff-filter=AMR", base+"..."+head, "--")
	if err != nil {
		return nil, err
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}
