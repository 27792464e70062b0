package confine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outTree is a workspace whose committed output folder holds symlinks to a folder outside, as a
// fork can arrange: failures -> outside, report.json.tmp -> outside/victim.txt.
func outTree(t *testing.T) (ws, outside string) {
	t.Helper()
	base := t.TempDir()
	ws, outside = filepath.Join(base, "ws"), filepath.Join(base, "outside")
	for _, d := range []string{ws + "/cvgate-out", outside + "/perf.metrics"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, outside+"/victim.txt", "keep me")
	write(t, outside+"/perf.metrics/case.png", "keep me too")
	link(t, outside, ws+"/cvgate-out/failures")
	link(t, outside+"/victim.txt", ws+"/cvgate-out/report.json.tmp")
	link(t, outside+"/victim.txt", ws+"/cvgate-out/report.md")
	return ws, outside
}

func mustRead(t *testing.T, p, want string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil || string(b) != want {
		t.Errorf("%s = %q, %v; want %q (a file outside the output folder changed)", p, b, err, want)
	}
}

func TestOutNeverFollowsSymlinks(t *testing.T) {
	for _, confined := range []bool{true, false} {
		name := "unconfined"
		if confined {
			name = "confined"
		}
		t.Run(name, func(t *testing.T) {
			ws, outside := outTree(t)
			var root *Root
			if confined {
				var err error
				if root, err = Open(ws); err != nil {
					t.Fatal(err)
				}
				defer root.Close()
			}
			out, err := OpenOut(ws+"/cvgate-out", root)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			// Cleaning a check's failure folder through the symlinked failures/ is refused.
			if err := out.RemoveAll("failures/perf.metrics"); err == nil || !strings.Contains(err.Error(), "is a symlink") {
				t.Errorf("RemoveAll through a symlinked parent: %v", err)
			}
			if err := out.MkdirAll("failures/perf.metrics"); err == nil {
				t.Error("MkdirAll through a symlinked parent succeeded")
			}
			if _, err := out.Create("failures/perf.metrics/index.csv"); err == nil {
				t.Error("Create through a symlinked parent succeeded")
			}
			// Writing over planted symlinks replaces the links, never their target.
			if err := out.WriteFile("report.json", []byte("{}")); err != nil {
				t.Fatal(err)
			}
			if err := out.WriteFile("report.md", []byte("# r")); err != nil {
				t.Fatal(err)
			}
			for f, want := range map[string]string{"report.json": "{}", "report.md": "# r"} {
				st, err := os.Lstat(filepath.Join(ws, "cvgate-out", f))
				if err != nil || !st.Mode().IsRegular() {
					t.Errorf("%s: %v %v, want a regular file", f, st.Mode(), err)
				}
				mustRead(t, filepath.Join(ws, "cvgate-out", f), want)
			}
			// Removing the symlinked folder itself removes the link, not the folder it names.
			if err := out.RemoveAll("failures"); err != nil {
				t.Fatal(err)
			}
			mustRead(t, outside+"/victim.txt", "keep me")
			mustRead(t, outside+"/perf.metrics/case.png", "keep me too")
			if err := out.MkdirAll("failures/perf.metrics"); err != nil {
				t.Fatalf("MkdirAll once the link is gone: %v", err)
			}
			f, err := out.Create("failures/perf.metrics/index.csv")
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if _, err := os.Stat(outside + "/perf.metrics/index.csv"); err == nil {
				t.Error("index.csv was written outside")
			}
		})
	}
}

func TestOpenOutRefusesSymlinkedFolders(t *testing.T) {
	base := t.TempDir()
	ws, outside := filepath.Join(base, "ws"), filepath.Join(base, "outside")
	for _, d := range []string{ws + "/real", outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link(t, outside, ws+"/out")         // the output folder itself
	link(t, outside, ws+"/parent")      // a parent of it
	link(t, "real", ws+"/inside-alias") // a symlink that stays inside: still not written through
	root, err := Open(ws)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	tests := []struct {
		name string
		ws   *Root
		dir  string
		want string
	}{
		{"symlinked folder", root, ws + "/out", "is a symlink"},
		{"symlinked parent", root, ws + "/parent/cvgate-out", "is a symlink"},
		{"symlink inside the workspace", root, ws + "/inside-alias/o", "is a symlink"},
		{"outside the workspace", root, outside + "/o", "is outside the workspace"},
		{"unconfined symlinked folder", nil, ws + "/out", "is a symlink"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := OpenOut(tt.dir, tt.ws)
			if err == nil {
				out.Close()
				t.Fatalf("OpenOut(%s) succeeded", tt.dir)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 0 {
		t.Errorf("something was created outside: %v", entries)
	}
	out, err := OpenOut(ws+"/new/cvgate-out", root)
	if err != nil {
		t.Fatal(err)
	}
	out.Close()
	if st, err := os.Stat(ws + "/new/cvgate-out"); err != nil || !st.IsDir() {
		t.Errorf("output folder not created: %v", err)
	}
}
