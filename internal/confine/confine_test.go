package confine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tree builds a workspace and a folder outside it, with the links and special files an attacker
// can commit (symlinks) or a runner may hold (FIFOs, devices).
func tree(t *testing.T) (ws, outside string) {
	t.Helper()
	base := t.TempDir()
	ws, outside = filepath.Join(base, "ws"), filepath.Join(base, "outside")
	for _, d := range []string{ws + "/data/cats", outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, ws+"/data/cats/a.png", "inside")
	write(t, outside+"/secret.png", "secret")
	link(t, "../../../outside/secret.png", ws+"/data/cats/escape.png")
	link(t, outside+"/secret.png", ws+"/data/cats/absolute.png")
	link(t, "a.png", ws+"/data/cats/alias.png")
	link(t, "/dev/zero", ws+"/data/cats/zero.png")
	link(t, "../../outside", ws+"/data/dirlink")
	if err := syscall.Mkfifo(ws+"/data/cats/fifo.png", 0o644); err != nil {
		t.Fatal(err)
	}
	return ws, outside
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func TestRootReadFile(t *testing.T) {
	ws, outside := tree(t)
	root, err := Open(ws)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var outsideErr *OutsideError
	var notRegular *NotRegularError
	var tooLarge *TooLargeError
	tests := []struct {
		name    string
		root    *Root
		path    string
		limit   int64
		want    string
		wantErr any // a pointer to the error type expected, or nil
		msg     string
	}{
		{"inside", root, ws + "/data/cats/a.png", 100, "inside", nil, ""},
		{"relative to the process", root, relTo(t, ws+"/data/cats/a.png"), 100, "inside", nil, ""},
		{"symlink inside", root, ws + "/data/cats/alias.png", 100, "inside", nil, ""},
		{"outside", root, outside + "/secret.png", 100, "", &outsideErr, "is outside the workspace"},
		{"climbs with ..", root, ws + "/data/../../outside/secret.png", 100, "", &outsideErr, "is outside"},
		{"relative symlink out", root, ws + "/data/cats/escape.png", 100, "", &outsideErr, "through a symlink"},
		{"absolute symlink", root, ws + "/data/cats/absolute.png", 100, "", &outsideErr, "through a symlink"},
		{"/dev/zero through a symlink", root, ws + "/data/cats/zero.png", 100, "", &outsideErr, "through a symlink"},
		{"folder symlink out", root, ws + "/data/dirlink/secret.png", 100, "", &outsideErr, "through a symlink"},
		{"FIFO", root, ws + "/data/cats/fifo.png", 100, "", &notRegular, "a FIFO"},
		{"folder", root, ws + "/data/cats", 100, "", &notRegular, "a folder"},
		{"too large", root, ws + "/data/cats/a.png", 3, "", &tooLarge, "over the 3 bytes limit"},
		{"unconfined outside", nil, outside + "/secret.png", 100, "secret", nil, ""},
		{"unconfined /dev/zero", nil, "/dev/zero", 100, "", &notRegular, "a character device"},
		{"unconfined /dev/zero through a symlink", nil, ws + "/data/cats/zero.png", 100, "", &notRegular, "a character device"},
		{"unconfined FIFO", nil, ws + "/data/cats/fifo.png", 100, "", &notRegular, "a FIFO"},
		// /proc files say they are empty and then produce bytes: the limit holds while reading.
		{"file larger than it says", nil, "/proc/self/status", 10, "", &tooLarge, "holds more than 10 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			var got []byte
			var err error
			go func() { got, err = tt.root.ReadFile(tt.path, tt.limit); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("ReadFile blocked (a FIFO must be refused, not opened for a writer)")
			}
			if tt.wantErr == nil {
				if err != nil || string(got) != tt.want {
					t.Fatalf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("read %q, want an error", got)
			}
			switch target := tt.wantErr.(type) {
			case **OutsideError:
				if !errors.As(err, target) {
					t.Errorf("error %T %v, want an OutsideError", err, err)
				}
			case **NotRegularError:
				if !errors.As(err, target) {
					t.Errorf("error %T %v, want a NotRegularError", err, err)
				}
			case **TooLargeError:
				if !errors.As(err, target) {
					t.Errorf("error %T %v, want a TooLargeError", err, err)
				}
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q lacks %q", err, tt.msg)
			}
		})
	}
}

func relTo(t *testing.T, p string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	r, err := filepath.Rel(wd, p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRootCheckDirAndStat(t *testing.T) {
	ws, outside := tree(t)
	root, err := Open(ws)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := root.CheckDir(ws + "/data"); err != nil {
		t.Errorf("data folder: %v", err)
	}
	var oe *OutsideError
	for _, p := range []string{ws + "/data/dirlink", outside, ws + "/.."} {
		if err := root.CheckDir(p); !errors.As(err, &oe) {
			t.Errorf("CheckDir(%s) = %v, want an OutsideError", p, err)
		}
	}
	if err := root.CheckDir(ws + "/data/cats/a.png"); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("CheckDir on a file: %v", err)
	}
	if st, err := root.Stat(ws + "/data/cats/alias.png"); err != nil || !st.Mode().IsRegular() {
		t.Errorf("Stat through an inside symlink: %v", err)
	}
	if _, err := root.Stat(ws + "/data/cats/escape.png"); !errors.As(err, &oe) {
		t.Errorf("Stat through an escaping symlink: %v", err)
	}
	if n, err := root.Check(ws + "/data/cats/a.png"); err != nil || n != 6 {
		t.Errorf("Check = %d, %v", n, err)
	}
}

// TestWorkspaceThroughSymlink: a workspace reached through a symlinked path still contains the
// files named through its real path, and the other way round.
func TestWorkspaceThroughSymlink(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	if err := os.MkdirAll(real, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, real+"/f.txt", "x")
	link(t, "real", base+"/alias")
	root, err := Open(base + "/alias")
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, p := range []string{base + "/alias/f.txt", real + "/f.txt"} {
		if b, err := root.ReadFile(p, 10); err != nil || string(b) != "x" {
			t.Errorf("ReadFile(%s) = %q, %v", p, b, err)
		}
	}
}
