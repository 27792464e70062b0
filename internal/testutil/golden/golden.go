// Package golden compares test output with files under testdata/golden, named after the test.
// Run `go test ./... -update` to rewrite them; review the diff like code. CI never passes -update.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files instead of comparing")

// Path is the golden file of the running test with the given extension.
func Path(t testing.TB, ext string) string {
	t.Helper()
	name := strings.NewReplacer("/", "__", " ", "_").Replace(t.Name())
	return filepath.Join("testdata", "golden", name+ext)
}

// Assert compares got with the test's golden file (or rewrites it under -update).
func Assert(t testing.TB, ext string, got []byte) {
	t.Helper()
	path := Path(t, ext)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (create it with go test -update): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", path, diff)
	}
}
