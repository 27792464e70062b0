package annot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckWithin: files inside the folder pass, relative or absolute; a symbolic link that
// leads out, and a FIFO, are refused.
func TestCheckWithin(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	in := filepath.Join(dir, "a.json")
	out := filepath.Join(outside, "secret.json")
	for _, f := range []string{in, out} {
		if err := os.WriteFile(f, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(out, link); err != nil {
		t.Fatal(err)
	}
	if err := checkWithin(in, dir); err != nil {
		t.Errorf("a file inside: %v", err)
	}
	wd, _ := os.Getwd()
	t.Cleanup(func() { _ = os.Chdir(wd) })
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	if err := checkWithin("a.json", dir); err != nil {
		t.Errorf("a relative path inside: %v", err)
	}
	if err := checkWithin(link, dir); err == nil || !strings.Contains(err.Error(), "leads outside") {
		t.Errorf("a symlink out must be refused, got %v", err)
	}
	if err := checkWithin(dir, ""); err == nil {
		t.Error("a folder is not a regular file")
	}
}
