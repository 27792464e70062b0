package onnxproto

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckExternalData lays out the generated fixtures in a temporary repository:
//
//	tmp/repo/        the repository root
//	tmp/outside.bin  a file next to, not inside, the repository
func TestCheckExternalData(t *testing.T) {
	tests := []struct {
		name  string
		model string // fixture to copy
		at    string // where it goes, relative to tmp
		setup func(t *testing.T, tmp string)
		// wantErr is empty for a clean model, else a substring of the error; wantLoc is the
		// location the *ExternalDataError must name.
		wantErr, wantLoc string
	}{
		{
			name: "data next to the model", model: "ext_inside.onnx", at: "repo/models/m.onnx",
			setup: func(t *testing.T, tmp string) { copyFixture(t, "ext_inside.bin", tmp, "repo/models/ext_inside.bin") },
		},
		{
			name: "symlink to a file inside the repository", model: "ext_inside.onnx", at: "repo/models/m.onnx",
			setup: func(t *testing.T, tmp string) {
				copyFixture(t, "ext_inside.bin", tmp, "repo/weights/w.bin")
				symlink(t, filepath.Join(tmp, "repo/weights/w.bin"), filepath.Join(tmp, "repo/models/ext_inside.bin"))
			},
		},
		{
			name: "symlink out of the repository", model: "ext_inside.onnx", at: "repo/models/m.onnx",
			setup: func(t *testing.T, tmp string) {
				copyFixture(t, "ext_inside.bin", tmp, "elsewhere/w.bin")
				symlink(t, filepath.Join(tmp, "elsewhere/w.bin"), filepath.Join(tmp, "repo/models/ext_inside.bin"))
			},
			wantErr: "symlink escapes the repository", wantLoc: "ext_inside.bin",
		},
		{
			name: "folder symlink out of the repository", model: "ext_inside.onnx", at: "repo/models/m.onnx",
			setup: func(t *testing.T, tmp string) {
				copyFixture(t, "ext_inside.bin", tmp, "elsewhere/ext_inside.bin")
				if err := os.Remove(filepath.Join(tmp, "repo/models/m.onnx")); err != nil {
					t.Fatal(err)
				}
				if err := os.Remove(filepath.Join(tmp, "repo/models")); err != nil {
					t.Fatal(err)
				}
				symlink(t, filepath.Join(tmp, "elsewhere"), filepath.Join(tmp, "repo/models"))
				copyFixture(t, "ext_inside.onnx", tmp, "repo/models/m.onnx")
			},
			wantErr: "symlink escapes the repository", wantLoc: "ext_inside.bin",
		},
		{
			name: "dot-dot that stays inside", model: "ext_dotdot.onnx", at: "repo/models/m.onnx",
			setup: func(t *testing.T, tmp string) { writeFile(t, filepath.Join(tmp, "repo/outside.bin"), 48) },
		},
		{
			name: "dot-dot out of the repository", model: "ext_dotdot.onnx", at: "repo/m.onnx",
			setup:   func(t *testing.T, tmp string) { writeFile(t, filepath.Join(tmp, "outside.bin"), 48) },
			wantErr: "escapes the repository", wantLoc: "../outside.bin",
		},
		{
			name: "absolute path", model: "ext_absolute.onnx", at: "repo/m.onnx",
			wantErr: "absolute path", wantLoc: "/etc/cvgate-weights.bin",
		},
		{
			name: "missing file", model: "ext_missing.onnx", at: "repo/m.onnx",
			wantErr: "missing file", wantLoc: "missing.bin",
		},
		{
			name: "data file too short", model: "ext_inside.onnx", at: "repo/m.onnx",
			setup:   func(t *testing.T, tmp string) { writeFile(t, filepath.Join(tmp, "repo/ext_inside.bin"), 50) },
			wantErr: "run past the end of the 50-byte file", wantLoc: "ext_inside.bin",
		},
		{
			name: "location is a folder", model: "ext_inside.onnx", at: "repo/m.onnx",
			setup: func(t *testing.T, tmp string) {
				if err := os.Mkdir(filepath.Join(tmp, "repo/ext_inside.bin"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "not a regular file", wantLoc: "ext_inside.bin",
		},
		{
			name: "model with no external data", model: "opset13_meta.onnx", at: "repo/m.onnx",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			copyFixture(t, tt.model, tmp, tt.at)
			if tt.setup != nil {
				tt.setup(t, tmp)
			}
			modelPath := filepath.Join(tmp, tt.at)
			err := CheckExternalData(modelPath, filepath.Join(tmp, "repo"))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), modelPath) {
				t.Errorf("error %q does not contain %q and the model path", err, tt.wantErr)
			}
			var ed *ExternalDataError
			if !errors.As(err, &ed) {
				t.Fatalf("error %q holds no *ExternalDataError", err)
			}
			if ed.Location != tt.wantLoc {
				t.Errorf("error names location %q, want %q", ed.Location, tt.wantLoc)
			}
		})
	}
}

// TestCheckExternalDataReportsEveryTensor: ext_inside.onnx has two external tensors in one file;
// a file too short for both must name both.
func TestCheckExternalDataReportsEveryTensor(t *testing.T) {
	tmp := t.TempDir()
	copyFixture(t, "ext_inside.onnx", tmp, "m.onnx")
	writeFile(t, filepath.Join(tmp, "ext_inside.bin"), 10)
	err := CheckExternalData(filepath.Join(tmp, "m.onnx"), tmp)
	if err == nil {
		t.Fatal("no error")
	}
	for _, tensor := range []string{`tensor "W"`, `tensor "bias"`} {
		if !strings.Contains(err.Error(), tensor) {
			t.Errorf("error %q does not name %s", err, tensor)
		}
	}
}

func copyFixture(t *testing.T, name, tmp, rel string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(tmp, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, size int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
}
