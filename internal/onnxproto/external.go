package onnxproto

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ExternalDataError is one problem with one external-data reference of a model.
type ExternalDataError struct {
	Tensor   string // the tensor that refers to the file
	Location string // the location as written in the model
	Problem  string // what is wrong, e.g. "absolute path"
}

func (e *ExternalDataError) Error() string {
	return fmt.Sprintf("external data %q of tensor %q: %s", e.Location, e.Tensor, e.Problem)
}

// CheckExternalData reads the model at modelPath and checks that every external-data file it
// refers to is a regular file inside repoRoot. See Model.CheckExternalData.
func CheckExternalData(modelPath, repoRoot string) error {
	m, err := Read(modelPath)
	if err != nil {
		return err
	}
	return m.CheckExternalData(modelPath, repoRoot)
}

// CheckExternalData checks m's external-data references, as found in the file modelPath, against
// repoRoot: each location must be relative, must stay inside repoRoot both as written and after
// resolving symlinks (a checked-in symlink could otherwise point anywhere on the CI machine), must
// name an existing regular file, and the tensor's byte range must lie within that file. All
// problems are reported, joined, each as an *ExternalDataError naming the location.
func (m *Model) CheckExternalData(modelPath, repoRoot string) error {
	if len(m.ExternalData) == 0 {
		return nil
	}
	fail := func(err error) error {
		return fmt.Errorf("check external data of model %q: %w", modelPath, err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		return fail(err)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return fail(fmt.Errorf("resolve repository root %q: %w", repoRoot, err))
	}
	model, err := filepath.Abs(modelPath)
	if err != nil {
		return fail(err)
	}
	modelDir := filepath.Dir(model)

	var problems []error
	sizes := make(map[string]int64) // per location: file size, or -1 once reported bad
	for _, ref := range m.ExternalData {
		problem := func(format string, args ...any) {
			problems = append(problems, &ExternalDataError{Tensor: ref.Tensor, Location: ref.Location, Problem: fmt.Sprintf(format, args...)})
		}
		size, seen := sizes[ref.Location]
		if !seen {
			var reason string
			size, reason = externalFileSize(ref.Location, modelDir, root, realRoot)
			if reason != "" {
				problem("%s", reason)
				size = -1
			}
			sizes[ref.Location] = size
		}
		if size < 0 {
			continue
		}
		switch {
		case ref.Length < 0 && ref.Offset > size:
			problem("offset %d is past the end of the %d-byte file", ref.Offset, size)
		case ref.Length >= 0 && (ref.Offset > size || ref.Length > size-ref.Offset):
			problem("%d bytes at offset %d run past the end of the %d-byte file", ref.Length, ref.Offset, size)
		}
	}
	if len(problems) > 0 {
		return fail(errors.Join(problems...))
	}
	return nil
}

// externalFileSize resolves one location and returns the file's size, or why it is refused.
func externalFileSize(location, modelDir, root, realRoot string) (int64, string) {
	if location == "" {
		return 0, "no location"
	}
	// Reject absolute forms of either OS: the model may be loaded on a machine unlike this one.
	if filepath.IsAbs(location) || strings.HasPrefix(location, "/") || strings.HasPrefix(location, `\`) ||
		(len(location) >= 2 && location[1] == ':') {
		return 0, "absolute path"
	}
	target := filepath.Join(modelDir, filepath.FromSlash(location))
	if !within(root, target) {
		return 0, fmt.Sprintf("escapes the repository (resolves to %s)", target)
	}
	resolved, err := filepath.EvalSymlinks(target)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Sprintf("missing file %s", target)
	}
	if err != nil {
		return 0, err.Error()
	}
	if !within(realRoot, resolved) {
		return 0, fmt.Sprintf("symlink escapes the repository (%s resolves to %s)", target, resolved)
	}
	info, err := os.Stat(resolved)
	if err != nil {
		return 0, err.Error()
	}
	if !info.Mode().IsRegular() {
		return 0, fmt.Sprintf("%s is not a regular file", target)
	}
	return info.Size(), ""
}

// within reports whether path lies inside (or is) dir; both are absolute and clean.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	if err != nil {
		return false
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
