package app

import "github.com/cvgate/cvgate/internal/onnx"

// reopener returns a function that opens a fresh session of a model file with the run's options,
// for model.latency to time a load and measure the memory a session takes. The file must outlive
// the session (a baseline's resolved copy stays in the run's temporary folder until the end).
func (s *session) reopener(file string) func() (*onnx.Model, error) {
	if file == "" {
		return nil
	}
	return func() (*onnx.Model, error) {
		return onnx.Open(s.rt, file, s.modelOptions(), nil)
	}
}
