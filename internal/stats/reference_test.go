package stats

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// loadReference decodes the cases of a reference file written by testdata/make_reference.py.
func loadReference(t *testing.T, name string, cases any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read reference %q: %v (regenerate with /usr/bin/python3 internal/stats/testdata/make_reference.py)", name, err)
	}
	var file struct {
		Cases json.RawMessage `json:"cases"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatalf("decode reference %q: %v", name, err)
	}
	if err := json.Unmarshal(file.Cases, cases); err != nil {
		t.Fatalf("decode reference %q cases: %v", name, err)
	}
}
