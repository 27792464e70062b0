package dataset

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/confine"
)

// workspace is a checkout with a class-per-folder dataset, next to a folder outside it that holds
// an image cvgate must never read.
func workspace(t *testing.T) (ws, outside string) {
	t.Helper()
	base := t.TempDir()
	ws, outside = filepath.Join(base, "ws"), filepath.Join(base, "outside")
	pngFile(t, ws, "data/cats/a.png", 1)
	pngFile(t, ws, "data/dogs/b.png", 2)
	pngFile(t, outside, "secret.png", 3)
	return ws, outside
}

func symlink(t testing.TB, target, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func openRoot(t testing.TB, dir string) *confine.Root {
	t.Helper()
	r, err := confine.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestReaderConfines lists datasets that try to read outside the workspace or from special
// files; each is refused by List with a message naming the file, before any byte is read.
func TestReaderConfines(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, ws, outside string) string // returns the data source
		want  string
	}{
		{"symlinked image in a class folder", func(t *testing.T, ws, outside string) string {
			symlink(t, outside+"/secret.png", ws+"/data/cats/leak.png")
			return ws + "/data"
		}, "leak.png\" leads (through a symlink) outside the workspace"},
		{"relative symlink climbing out", func(t *testing.T, ws, outside string) string {
			symlink(t, "../../../outside/secret.png", ws+"/data/cats/leak.png")
			return ws + "/data"
		}, "leak.png\" leads (through a symlink) outside the workspace"},
		{"/dev/zero through a symlink", func(t *testing.T, ws, outside string) string {
			symlink(t, "/dev/zero", ws+"/data/cats/zero.png")
			return ws + "/data"
		}, "zero.png\" leads (through a symlink) outside the workspace"},
		{"FIFO in a class folder", func(t *testing.T, ws, outside string) string {
			if err := syscall.Mkfifo(ws+"/data/cats/pipe.png", 0o644); err != nil {
				t.Fatal(err)
			}
			return ws + "/data"
		}, "pipe.png\" is a FIFO (named pipe), not a regular file"},
		{"data folder outside", func(t *testing.T, ws, outside string) string { return outside }, "is outside the workspace"},
		{"data folder symlinked outside", func(t *testing.T, ws, outside string) string {
			symlink(t, outside, ws+"/linked")
			return ws + "/linked"
		}, "leads (through a symlink) outside the workspace"},
		{"manifest row absolute", func(t *testing.T, ws, outside string) string {
			return writeFile(t, ws, "data/m.csv", []byte("path,label\ncats/a.png,cats\n"+outside+"/secret.png,cats\n"))
		}, "line 3: image \"OUTSIDE/secret.png\": \"OUTSIDE/secret.png\" is outside the workspace"},
		{"manifest row climbing with ..", func(t *testing.T, ws, outside string) string {
			return writeFile(t, ws, "data/m.jsonl", []byte(`{"path":"cats/a.png","label":"cats"}`+"\n"+`{"path":"../../outside/secret.png","label":"cats"}`+"\n"))
		}, "line 2: image \"../../outside/secret.png\""},
		{"manifest row /dev/zero", func(t *testing.T, ws, outside string) string {
			return writeFile(t, ws, "data/m.csv", []byte("path,label\n/dev/zero,cats\n"))
		}, "\"/dev/zero\" is outside the workspace"},
		{"manifest row through a symlink", func(t *testing.T, ws, outside string) string {
			symlink(t, outside, ws+"/data/ext")
			return writeFile(t, ws, "data/m.csv", []byte("path,label\next/secret.png,cats\n"))
		}, "leads (through a symlink) outside"},
		{"manifest symlinked outside", func(t *testing.T, ws, outside string) string {
			writeFile(t, outside, "m.csv", []byte("path,label\nsecret.png,x\n"))
			symlink(t, outside+"/m.csv", ws+"/data/m.csv")
			return ws + "/data/m.csv"
		}, "leads (through a symlink) outside"},
		{"manifest that is a FIFO", func(t *testing.T, ws, outside string) string {
			if err := syscall.Mkfifo(ws+"/data/m.csv", 0o644); err != nil {
				t.Fatal(err)
			}
			return ws + "/data/m.csv"
		}, "is a FIFO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, outside := workspace(t)
			src := tt.setup(t, ws, outside)
			r := &Reader{Root: openRoot(t, ws)}
			done := make(chan struct{})
			var err error
			go func() { _, err = r.List(src); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("List blocked")
			}
			want := strings.ReplaceAll(tt.want, "OUTSIDE", outside)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want it to contain %q", err, want)
			}
		})
	}
}

// TestReaderUnconfined: with --allow-outside-workspace (a nil Root) files outside are read, but
// devices and FIFOs are still refused and byte limits still hold.
func TestReaderUnconfined(t *testing.T) {
	ws, outside := workspace(t)
	symlink(t, outside+"/secret.png", ws+"/data/cats/leak.png")
	r := &Reader{}
	l, err := r.List(ws + "/data")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Load(context.Background(), l, Options{})
	if err != nil || len(ds.Items) != 3 {
		t.Fatalf("unconfined: %v", err)
	}
	for _, tc := range []struct{ name, manifest, want string }{
		{"/dev/zero", "path,label\n/dev/zero,cats\n", "\"/dev/zero\" is a character device, not a regular file"},
		{"folder", "path,label\n" + outside + ",cats\n", "is a directory, not an image"},
	} {
		m := writeFile(t, ws, "data/"+strings.Trim(tc.name, "/")+".csv", []byte(tc.manifest))
		if _, err := r.List(m); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	symlink(t, "/dev/zero", ws+"/data/dogs/zero.png")
	if _, err := r.List(ws + "/data"); err == nil || !strings.Contains(err.Error(), "zero.png\" is a character device") {
		t.Errorf("/dev/zero through a symlink, unconfined: %v", err)
	}
}

// TestReaderInsideSymlinksAndPaths: what stays inside the workspace is read as before: symlinks
// between workspace folders, absolute manifest paths into the workspace, and .. that stays in.
func TestReaderInsideSymlinksAndPaths(t *testing.T) {
	ws, _ := workspace(t)
	pngFile(t, ws, "shared/c.png", 4)
	symlink(t, "../../shared/c.png", ws+"/data/cats/c.png")
	r := &Reader{Root: openRoot(t, ws)}
	l, err := r.List(ws + "/data")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Load(context.Background(), l, Options{})
	if err != nil || len(ds.Items) != 3 || len(ds.Unreadable) != 0 {
		t.Fatalf("inside symlink: %v (%d items, %v)", err, len(ds.Items), ds.Unreadable)
	}
	m := writeFile(t, ws, "data/m.csv", []byte("path,label\n"+ws+"/data/cats/a.png,cats\n../shared/c.png,dogs\n"))
	if l, err = r.List(m); err != nil {
		t.Fatal(err)
	}
	if l.Entries[0].Path != "cats/a.png" || l.Entries[1].Path != "../shared/c.png" {
		t.Errorf("shown paths %q, %q", l.Entries[0].Path, l.Entries[1].Path)
	}
	if _, err := Load(context.Background(), l, Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestReadLabelsConfined(t *testing.T) {
	ws, outside := workspace(t)
	writeFile(t, outside, "labels.txt", []byte("root:x:0:0\n"))
	symlink(t, outside+"/labels.txt", ws+"/labels.txt")
	symlink(t, "/dev/zero", ws+"/zero.txt")
	writeFile(t, ws, "big.txt", []byte(strings.Repeat("class\n", 100)))
	r := &Reader{Root: openRoot(t, ws), Limits: Limits{MaxFileBytes: 100}}
	for name, want := range map[string]string{
		ws + "/labels.txt": "leads (through a symlink) outside the workspace",
		ws + "/zero.txt":   "leads (through a symlink) outside the workspace",
		ws + "/big.txt":    "over the 100 bytes limit",
	} {
		if _, err := r.ReadLabels(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadLabels(%s) = %v, want %q", filepath.Base(name), err, want)
		}
	}
	if _, err := (&Reader{}).ReadLabels("/dev/zero"); err == nil || !strings.Contains(err.Error(), "character device") {
		t.Errorf("unconfined /dev/zero: %v", err)
	}
}
