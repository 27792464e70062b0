package confine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Out is an output folder. Every write and removal stays inside it and never goes through a
// symlink: the folder may sit in a checkout whose contents a fork chose, and a committed
// cvgate-out/failures -> /home symlink must not turn "clear the stale cases" into deleting
// files elsewhere, nor a planted report.json.tmp symlink turn a write into one outside.
type Out struct {
	dir  string
	root *os.Root
}

// OpenOut creates the output folder dir when needed and opens it. dir itself must not be a
// symlink. Within a workspace (ws not nil) dir must lie inside it and is created through it, so
// that no symlinked parent leads elsewhere either.
func OpenOut(dir string, ws *Root) (*Out, error) {
	fail := func(err error) (*Out, error) { return nil, fmt.Errorf("open output folder %q: %w", dir, err) }
	var r *os.Root
	if ws != nil {
		rel, err := ws.Rel(dir)
		if err != nil {
			return fail(err)
		}
		if err := noSymlinks(ws.root, rel, ws.dir); err != nil {
			return fail(err)
		}
		if err := ws.root.MkdirAll(rel, 0o755); err != nil {
			if escapes(err) {
				return fail(&OutsideError{Path: dir, Root: ws.dir, Why: "leads (through a symlink) outside"})
			}
			return fail(err)
		}
		if r, err = ws.root.OpenRoot(rel); err != nil {
			return fail(err)
		}
	} else {
		if st, err := os.Lstat(dir); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return fail(errors.New("it is a symlink; cvgate writes only into a real folder"))
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fail(err)
		}
		var err error
		if r, err = os.OpenRoot(dir); err != nil {
			return fail(err)
		}
	}
	return &Out{dir: dir, root: r}, nil
}

// Close releases the folder.
func (o *Out) Close() error { return o.root.Close() }

// Dir is the folder as given to OpenOut.
func (o *Out) Dir() string { return o.dir }

// noSymlinks refuses a relative path any existing component of which is a symlink: within
// the output folder, cvgate never follows one. base names r in messages.
func noSymlinks(r *os.Root, rel, base string) error {
	rel = filepath.Clean(rel)
	if rel == "." {
		return nil
	}
	if !filepath.IsLocal(rel) {
		return fmt.Errorf("%q is not a path inside %q", rel, base)
	}
	parts := strings.Split(rel, string(filepath.Separator))
	for i := range parts {
		p := filepath.Join(parts[:i+1]...)
		st, err := r.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // nothing below a missing component exists yet
		}
		if err != nil {
			return err
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%q is a symlink; cvgate does not write or delete through symlinks", filepath.Join(base, p))
		}
	}
	return nil
}

func (o *Out) check(rel string) error {
	return noSymlinks(o.root, rel, o.dir)
}

// MkdirAll creates a folder (and its parents) inside the output folder.
func (o *Out) MkdirAll(rel string) error {
	if err := o.check(rel); err != nil {
		return fmt.Errorf("create %q: %w", filepath.Join(o.dir, rel), err)
	}
	if err := o.root.MkdirAll(rel, 0o755); err != nil {
		return fmt.Errorf("create %q: %w", filepath.Join(o.dir, rel), err)
	}
	return nil
}

// RemoveAll deletes rel and everything below it. A symlink inside is removed itself, never
// what it points to; a symlink on the way to rel is refused.
func (o *Out) RemoveAll(rel string) error {
	if err := o.check(filepath.Dir(rel)); err != nil {
		return fmt.Errorf("clear %q: %w", filepath.Join(o.dir, rel), err)
	}
	if err := o.root.RemoveAll(rel); err != nil {
		return fmt.Errorf("clear %q: %w", filepath.Join(o.dir, rel), err)
	}
	return nil
}

// Create creates rel for writing, replacing what was there: a symlink or a file of that name is
// removed first, and the new file is opened with O_EXCL|O_NOFOLLOW so that nothing planted in
// between is followed.
func (o *Out) Create(rel string) (*os.File, error) {
	fail := func(err error) (*os.File, error) {
		return nil, fmt.Errorf("create %q: %w", filepath.Join(o.dir, rel), err)
	}
	if err := o.check(filepath.Dir(rel)); err != nil {
		return fail(err)
	}
	if err := o.root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	f, err := o.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o644)
	if err != nil {
		return fail(err)
	}
	return f, nil
}

// WriteFile writes data to rel whole or not at all: into a temporary file first, renamed over
// rel, so that a crash never leaves half a report for a later step to publish.
func (o *Out) WriteFile(rel string, data []byte) error {
	tmp := rel + ".tmp"
	f, err := o.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %q: %w", filepath.Join(o.dir, rel), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %q: %w", filepath.Join(o.dir, rel), err)
	}
	// rename(2) replaces a symlink at rel; it never writes through it.
	if err := o.root.Rename(tmp, rel); err != nil {
		return fmt.Errorf("write %q: %w", filepath.Join(o.dir, rel), err)
	}
	return nil
}
