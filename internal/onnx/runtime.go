// Package onnx runs ONNX models with ONNX Runtime (through github.com/yalue/onnxruntime_go): it
// finds and loads the runtime library, opens sessions, reads model signatures, and runs batches.
//
// It knows nothing about images or checks: it takes flat tensors and returns flat outputs.
package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// PinnedVersion is the ONNX Runtime version cvgate is built and tested against; scripts/setup-ort
// and the Dockerfile install exactly this version.
const PinnedVersion = "1.29.0"

// SetupCommand is what a user runs to install the pinned runtime library.
const SetupCommand = "scripts/setup-ort"

// MissingLibraryError says that no ONNX Runtime library was found, where cvgate looked, and how
// to install one.
type MissingLibraryError struct {
	Tried []string
}

func (e *MissingLibraryError) Error() string {
	return fmt.Sprintf("ONNX Runtime library not found (looked in %s): run %s, or pass --ort-lib PATH / set ORT_LIB",
		strings.Join(e.Tried, ", "), SetupCommand)
}

// Locate finds the ONNX Runtime shared library. The order: the explicit path (--ort-lib or
// runtime.ort_lib), $ORT_LIB, the setup location ($CVGATE_HOME or ~/.cache/cvgate), the folder of
// the cvgate executable, then standard system paths. getenv is injected so that nothing here
// reads the process environment directly.
func Locate(explicit string, getenv func(string) string, executable string) (string, error) {
	if explicit != "" {
		if err := isFile(explicit); err != nil {
			return "", fmt.Errorf("open ONNX Runtime library %q (from --ort-lib): %w", explicit, err)
		}
		return explicit, nil
	}
	if env := getenv("ORT_LIB"); env != "" {
		if err := isFile(env); err != nil {
			return "", fmt.Errorf("open ONNX Runtime library %q (from ORT_LIB): %w", env, err)
		}
		return env, nil
	}
	var candidates []string
	home := getenv("CVGATE_HOME")
	if home == "" && getenv("HOME") != "" {
		home = filepath.Join(getenv("HOME"), ".cache", "cvgate")
	}
	if home != "" {
		candidates = append(candidates, filepath.Join(home, "onnxruntime", PinnedVersion, "libonnxruntime.so.1"))
	}
	if executable != "" {
		dir := filepath.Dir(executable)
		candidates = append(candidates, filepath.Join(dir, "libonnxruntime.so.1"), filepath.Join(dir, "libonnxruntime.so"))
	}
	for _, dir := range []string{"/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/opt/onnxruntime/lib"} {
		candidates = append(candidates, filepath.Join(dir, "libonnxruntime.so.1"), filepath.Join(dir, "libonnxruntime.so"))
	}
	for _, c := range candidates {
		if isFile(c) == nil {
			return c, nil
		}
	}
	return "", &MissingLibraryError{Tried: append([]string{"--ort-lib", "$ORT_LIB"}, candidates...)}
}

func isFile(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return errors.New("is a directory")
	}
	return nil
}

// Runtime is the loaded ONNX Runtime library. onnxruntime_go keeps one environment per process,
// so the environment is created once and shared; Runtime values are handles to it.
type Runtime struct {
	LibPath string
	Version string
}

var (
	envMu   sync.Mutex
	envPath string
)

// Init loads the library at libPath and creates the runtime environment, once per process. A
// second Init with the same path returns the same runtime; a different path is an error, because
// a process cannot hold two runtime libraries.
func Init(libPath string) (*Runtime, error) {
	envMu.Lock()
	defer envMu.Unlock()
	if ort.IsInitialized() {
		if envPath != libPath {
			return nil, fmt.Errorf("load ONNX Runtime %q: this process already loaded %q", libPath, envPath)
		}
		return &Runtime{LibPath: libPath, Version: ort.GetVersion()}, nil
	}
	ort.SetSharedLibraryPath(libPath)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return nil, fmt.Errorf("load ONNX Runtime %q: %w (reinstall it with %s)", libPath, err, SetupCommand)
	}
	envPath = libPath
	return &Runtime{LibPath: libPath, Version: ort.GetVersion()}, nil
}
