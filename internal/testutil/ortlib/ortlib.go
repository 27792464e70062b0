// Package ortlib gives tests the ONNX Runtime: they run real models, so a missing library fails
// them with the command that installs it, rather than skipping silently.
package ortlib

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/cvgate/cvgate/internal/onnx"
)

// Runtime loads the ONNX Runtime library for a test, or fails the test.
func Runtime(t testing.TB) *onnx.Runtime {
	t.Helper()
	lib, err := onnx.Locate("", os.Getenv, "")
	if err != nil {
		t.Fatalf("%v (tests run real models: run scripts/setup-ort, or use scripts/test)", err)
	}
	rt, err := onnx.Init(lib)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// RepoRoot is the repository root, found from this file's location.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the repository")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Model is the path of a fixture model in testdata/models.
func Model(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "testdata", "models", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture model %s: %v (regenerate with /usr/bin/python3 testdata/make_fixtures.py)", name, err)
	}
	return p
}
