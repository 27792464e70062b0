// Package confine keeps cvgate's file access where it belongs. In a public repository a pull
// request from a fork controls every file and folder name, every symlink and the config, so a
// path from input must never reach a file outside the workspace, a device, or a FIFO, and no
// single file may be read without a byte limit. Root does that for reads; Out does it for the
// output folder, where cvgate writes and deletes.
//
// Both build on os.Root, which resolves every path component with openat and refuses a
// symlink that leaves the root, so there is no window between checking a path and opening it.
package confine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// OutsideError says that a path leads outside the folder reads are confined to.
type OutsideError struct {
	Path string // as given
	Root string // the workspace
	// Why is "is outside", "escapes through a symlink" or similar.
	Why string
}

func (e *OutsideError) Error() string {
	return fmt.Sprintf("%q %s the workspace %q (pass --allow-outside-workspace to read it anyway, for local use)", e.Path, e.Why, e.Root)
}

// NotRegularError says that a path is a device, a FIFO, a socket or a folder where a file was
// expected: reading a FIFO blocks forever and /dev/zero never ends.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%q is %s, not a regular file", e.Path, describeMode(e.Mode))
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "not a regular file (mode " + m.String() + ")"
}

// TooLargeError says that a file exceeds the bytes cvgate reads of one file.
type TooLargeError struct {
	Path  string
	Limit int64
	Size  int64 // -1 when the size is unknown (the file kept growing while read)
}

func (e *TooLargeError) Error() string {
	if e.Size < 0 {
		return fmt.Sprintf("%q holds more than %s, the limit for one file (runtime.max_file_mb)", e.Path, mib(e.Limit))
	}
	return fmt.Sprintf("%q is %s, over the %s limit for one file (runtime.max_file_mb)", e.Path, mib(e.Size), mib(e.Limit))
}

func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// Root confines reads to one folder (the workspace) after resolving symlinks. A nil *Root
// confines nothing (--allow-outside-workspace) but still refuses devices and FIFOs and still
// caps bytes. Root is safe for concurrent use.
type Root struct {
	dir  string   // absolute, as given
	real string   // dir with symlinks resolved
	root *os.Root // the open folder
}

// Open opens dir as the confining root.
func Open(dir string) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open workspace %q: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("open workspace %q: %w", dir, err)
	}
	r, err := os.OpenRoot(real)
	if err != nil {
		return nil, fmt.Errorf("open workspace %q: %w", dir, err)
	}
	return &Root{dir: abs, real: real, root: r}, nil
}

// Close releases the folder.
func (r *Root) Close() error {
	if r == nil {
		return nil
	}
	return r.root.Close()
}

// Dir is the workspace folder ("" for a nil Root).
func (r *Root) Dir() string {
	if r == nil {
		return ""
	}
	return r.dir
}

// Rel turns path (absolute, or relative to the process's directory) into a path relative to
// the root, or returns an *OutsideError. It only looks at the name: symlinks are checked when
// the file is opened.
func (r *Root) Rel(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolve %q: %w", path, err)
	}
	for _, base := range []string{r.dir, r.real} {
		if rel, err := filepath.Rel(base, abs); err == nil && (rel == "." || filepath.IsLocal(rel)) {
			return rel, nil
		}
	}
	return "", &OutsideError{Path: path, Root: r.dir, Why: "is outside"}
}

// nonBlocking is added to every open for reading: opening a FIFO would otherwise block until a
// writer appears, before any check could look at what the file is.
const nonBlocking = syscall.O_NONBLOCK

// noFollow makes an open fail on a symlink in the last path component.
const noFollow = syscall.O_NOFOLLOW

// OpenFile opens a regular file for reading. Inside a Root, a path outside it or a symlink
// leading out is an *OutsideError; a device, FIFO, socket or folder is a *NotRegularError.
func (r *Root) OpenFile(path string) (*os.File, fs.FileInfo, error) {
	var f *os.File
	var err error
	if r == nil {
		f, err = os.OpenFile(path, os.O_RDONLY|nonBlocking, 0)
	} else {
		var rel string
		if rel, err = r.Rel(path); err != nil {
			return nil, nil, err
		}
		f, err = r.root.OpenFile(rel, os.O_RDONLY|nonBlocking, 0)
		if err != nil && escapes(err) {
			return nil, nil, &OutsideError{Path: path, Root: r.dir, Why: "leads (through a symlink) outside"}
		}
	}
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegularError{Path: path, Mode: st.Mode()}
	}
	return f, st, nil
}

// escapes reports whether an os.Root error says the path left the root. os.Root reports an
// escape as "path escapes from parent", and an absolute symlink target (which it refuses, since
// it could point anywhere) the same way.
func escapes(err error) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return strings.Contains(pe.Err.Error(), "escapes")
	}
	return false
}

// Check makes sure path is a regular file inside the root, for files that another library
// opens by name (ONNX Runtime opens the model itself), and returns its size.
func (r *Root) Check(path string) (int64, error) {
	f, st, err := r.OpenFile(path)
	if err != nil {
		return 0, err
	}
	f.Close()
	return st.Size(), nil
}

// CheckDir makes sure path is a folder inside the root.
func (r *Root) CheckDir(path string) error {
	var st fs.FileInfo
	var err error
	if r == nil {
		st, err = os.Stat(path)
	} else {
		var rel string
		if rel, err = r.Rel(path); err != nil {
			return err
		}
		st, err = r.root.Stat(rel)
		if err != nil && escapes(err) {
			return &OutsideError{Path: path, Root: r.dir, Why: "leads (through a symlink) outside"}
		}
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%q is not a folder", path)
	}
	return nil
}

// Stat describes path, following symlinks inside the root only.
func (r *Root) Stat(path string) (fs.FileInfo, error) {
	if r == nil {
		return os.Stat(path)
	}
	rel, err := r.Rel(path)
	if err != nil {
		return nil, err
	}
	st, err := r.root.Stat(rel)
	if err != nil && escapes(err) {
		return nil, &OutsideError{Path: path, Root: r.dir, Why: "leads (through a symlink) outside"}
	}
	return st, err
}

// ReadFile reads a whole regular file of at most limit bytes (limit <= 0: no limit, for
// trusted callers only). A larger file is a *TooLargeError; the size is checked before reading
// and again while reading, since a file may grow, and /proc files report size 0.
func (r *Root) ReadFile(path string, limit int64) ([]byte, error) {
	f, st, err := r.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, path, st.Size(), limit)
}

func readLimited(f io.Reader, path string, size, limit int64) ([]byte, error) {
	if limit > 0 && size > limit {
		return nil, &TooLargeError{Path: path, Limit: limit, Size: size}
	}
	var src io.Reader = f
	if limit > 0 {
		src = io.LimitReader(f, limit+1)
	}
	buf := make([]byte, 0, max(size, 0)+1) // +1: the final Read that sees EOF needs room
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if limit > 0 && int64(len(buf)) > limit {
		return nil, &TooLargeError{Path: path, Limit: limit, Size: -1}
	}
	return buf, nil
}
