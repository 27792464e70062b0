package onnx

import (
	"errors"

	ort "github.com/yalue/onnxruntime_go"
)

// Current returns the runtime this process loaded with Init, so that code deep in a run that
// opens a session of its own (a guard's probe of a model) needs no library path.
func Current() (*Runtime, error) {
	envMu.Lock()
	defer envMu.Unlock()
	if !ort.IsInitialized() {
		return nil, errors.New("ONNX Runtime is not loaded in this process")
	}
	return &Runtime{LibPath: envPath, Version: ort.GetVersion()}, nil
}
