package github

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	gogithub "github.com/google/go-github/v60/github"
)

// lfsPointerPrefix starts every Git LFS pointer file (the spec's version line).
const lfsPointerPrefix = "version https://git-lfs.github.com/spec/v1\n"

// maxLFSPointerSize: the LFS spec says pointer files "must be less than 1024
// bytes"; anything bigger is real content.
const maxLFSPointerSize = 1024

// LFSPointer is a parsed Git LFS pointer file.
type LFSPointer struct {
	OID  string // hex sha256 of the real content
	Size int64  // size of the real content
}

// ParseLFSPointer reports whether data is a Git LFS pointer rather than the file
// it stands for. Use it on working-tree files too: a checkout without LFS leaves
// pointers where the models should be.
func ParseLFSPointer(data []byte) (LFSPointer, bool) {
	if len(data) >= maxLFSPointerSize || !bytes.HasPrefix(data, []byte(lfsPointerPrefix)) {
		return LFSPointer{}, false
	}
	var p LFSPointer
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, _ := strings.Cut(sc.Text(), " ")
		switch key {
		case "oid":
			p.OID = strings.TrimPrefix(val, "sha256:")
		case "size":
			p.Size, _ = strconv.ParseInt(val, 10, 64)
		}
	}
	return p, true
}

// LFSPointerError says a file is stored in Git LFS and only its pointer was
// available.
type LFSPointerError struct {
	Path, Ref string
	Pointer   LFSPointer
}

func (e *LFSPointerError) Error() string {
	at := ""
	if e.Ref != "" {
		at = " at " + e.Ref
	}
	return fmt.Sprintf("%s%s is a Git LFS pointer (oid %s, %d bytes), not the file: "+
		"check out with LFS (actions/checkout with `lfs: true`; for a baseline also `git lfs fetch origin %s`) "+
		"or use a release asset as the baseline", e.Path, at, e.Pointer.OID, e.Pointer.Size, refOrBase(e.Ref))
}

func refOrBase(ref string) string {
	if ref == "" {
		return "<base ref>"
	}
	return ref
}

// cleanRepoPath turns a user-given path into the slash path git and the API
// expect, refusing ones that leave the repository.
func cleanRepoPath(p string) (string, error) {
	c := path.Clean(strings.ReplaceAll(p, "\\", "/"))
	if p == "" || c == "." || path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("check repository path %q: must be relative and inside the repository", p)
	}
	return c, nil
}

// GitFile writes the content of path at ref, read from the git objects of the
// checkout in dir (no network). A Git LFS pointer is resolved from the local LFS
// store (.git/lfs/objects) when the object is there; otherwise the result is a
// *LFSPointerError. A ref missing from a shallow checkout is a *GitError.
func GitFile(ctx context.Context, dir, ref, p string, w io.Writer) error {
	if err := checkRef("ref", ref); err != nil {
		return err
	}
	clean, err := cleanRepoPath(p)
	if err != nil {
		return err
	}
	object := ref + ":" + clean
	sizeOut, err := runGit(ctx, dir, "cat-file", "-s", object)
	if err != nil {
		return err
	}
	size, err := strconv.ParseInt(strings.TrimSpace(string(sizeOut)), 10, 64)
	if err != nil {
		return fmt.Errorf("parse size of %q from git: %w", object, err)
	}
	if size >= maxLFSPointerSize {
		return streamGit(ctx, dir, w, "cat-file", "blob", object)
	}
	data, err := runGit(ctx, dir, "cat-file", "blob", object)
	if err != nil {
		return err
	}
	if ptr, ok := ParseLFSPointer(data); ok {
		return copyLocalLFSObject(ctx, dir, clean, ref, ptr, w)
	}
	_, err = w.Write(data)
	return err
}

// copyLocalLFSObject copies an LFS object from the checkout's LFS store after
// checking its sha256, or reports the pointer.
func copyLocalLFSObject(ctx context.Context, dir, p, ref string, ptr LFSPointer, w io.Writer) error {
	pointerErr := &LFSPointerError{Path: p, Ref: ref, Pointer: ptr}
	if len(ptr.OID) != 64 {
		return pointerErr
	}
	if _, err := hex.DecodeString(ptr.OID); err != nil {
		return pointerErr
	}
	gitDir, err := runGit(ctx, dir, "rev-parse", "--path-format=absolute", "--git-common-dir")
	if err != nil {
		return pointerErr
	}
	obj := filepath.Join(strings.TrimSpace(string(gitDir)), "lfs", "objects", ptr.OID[:2], ptr.OID[2:4], ptr.OID)
	data, err := os.ReadFile(obj)
	if err != nil {
		return pointerErr
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != ptr.OID || int64(len(data)) != ptr.Size {
		return fmt.Errorf("read LFS object %q for %s: content does not match its pointer", obj, p)
	}
	_, err = w.Write(data)
	return err
}

// FileContent returns the content of path at ref through the contents API,
// switching to the git blobs API for files over 1 MB (the contents API leaves
// their content empty). An LFS pointer gives *LFSPointerError; a missing file
// *NotFoundError.
func (r *Repo) FileContent(ctx context.Context, ref, p string) ([]byte, error) {
	clean, err := cleanRepoPath(p)
	if err != nil {
		return nil, err
	}
	resource := fmt.Sprintf("file %q at %q in %s", clean, ref, r.FullName())
	opts := &gogithub.RepositoryContentGetOptions{Ref: ref}
	fc, dir, _, err := r.c.gh.Repositories.GetContents(ctx, r.owner, r.name, clean, opts)
	if err != nil {
		return nil, r.c.classify(err, resource)
	}
	if fc == nil || dir != nil {
		return nil, fmt.Errorf("read %s: it is a directory", resource)
	}
	if t := fc.GetType(); t != "file" {
		return nil, fmt.Errorf("read %s: it is a %s, not a file", resource, t)
	}
	var data []byte
	if fc.GetEncoding() == "none" || ((fc.Content == nil || *fc.Content == "") && fc.GetSize() > 0) {
		blob, _, err := r.c.gh.Git.GetBlob(ctx, r.owner, r.name, fc.GetSHA())
		if err != nil {
			return nil, r.c.classify(err, fmt.Sprintf("blob %s of %s", fc.GetSHA(), resource))
		}
		if enc := blob.GetEncoding(); enc != "base64" {
			return nil, fmt.Errorf("read blob %s of %s: unexpected encoding %q", fc.GetSHA(), resource, enc)
		}
		if data, err = base64.StdEncoding.DecodeString(blob.GetContent()); err != nil {
			return nil, fmt.Errorf("decode blob %s of %s: %w", fc.GetSHA(), resource, err)
		}
	} else {
		s, err := fc.GetContent()
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", resource, err)
		}
		data = []byte(s)
	}
	if size := int64(fc.GetSize()); size > 0 && int64(len(data)) != size {
		return nil, fmt.Errorf("read %s: got %d bytes, GitHub says %d", resource, len(data), size)
	}
	if ptr, ok := ParseLFSPointer(data); ok {
		return nil, &LFSPointerError{Path: clean, Ref: ref, Pointer: ptr}
	}
	return data, nil
}

// FileSource says where FetchFile may look: the git checkout in Dir, then the
// API through Repo. Either may be empty/nil.
type FileSource struct {
	Dir  string
	Repo *Repo
}

// FetchFile saves path at ref to dst (written to a temporary file beside dst and
// renamed, so dst is never half-written): from the checkout's git objects when
// possible (no network, any size), else from the API. A Git LFS pointer stops
// the search: the API would only return the same pointer.
func FetchFile(ctx context.Context, src FileSource, ref, p, dst string) error {
	if src.Dir == "" && src.Repo == nil {
		return fmt.Errorf("fetch %q at %q: no checkout and no API client", p, ref)
	}
	var gitErr error
	if src.Dir != "" {
		gitErr = writeAtomic(dst, func(w io.Writer) error { return GitFile(ctx, src.Dir, ref, p, w) })
		if gitErr == nil {
			return nil
		}
		var lfs *LFSPointerError
		if errors.As(gitErr, &lfs) || src.Repo == nil {
			return fmt.Errorf("fetch %q at %q: %w", p, ref, gitErr)
		}
	}
	apiErr := writeAtomic(dst, func(w io.Writer) error {
		data, err := src.Repo.FileContent(ctx, ref, p)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
	if apiErr == nil {
		return nil
	}
	if gitErr != nil {
		return fmt.Errorf("fetch %q at %q: %w", p, ref, errors.Join(gitErr, apiErr))
	}
	return fmt.Errorf("fetch %q at %q: %w", p, ref, apiErr)
}

// writeAtomic runs fill on a temporary file in dst's directory and renames it to
// dst on success.
func writeAtomic(dst string, fill func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return fmt.Errorf("create temporary file for %q: %w", dst, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = fill(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("write %q: %w", f.Name(), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %q: %w", f.Name(), err)
	}
	if err = os.Rename(f.Name(), dst); err != nil {
		return fmt.Errorf("rename %q to %q: %w", f.Name(), dst, err)
	}
	return nil
}
