package report

import "testing"

func TestProviderText(t *testing.T) {
	ep := func(req, got string, ops ...string) *ExecutionProvider {
		return &ExecutionProvider{Requested: req, Obtained: got, CPUOps: ops}
	}
	tests := []struct {
		name      string
		cand, bas *ExecutionProvider
		want      string
	}{
		{"cpu says nothing", ep("cpu", "cpu"), ep("cpu", "cpu"), ""},
		{"unrecorded says nothing", nil, nil, ""},
		{"cuda once for both", ep("cuda", "cuda"), ep("cuda", "cuda"), "on CUDA"},
		{"nodes on the cpu", ep("cuda", "cuda", "Gather", "Shape"), ep("cuda", "cuda"), "on CUDA, some nodes on the CPU (Gather, Shape); on CUDA"},
		{"auto fell back", ep("auto", "cpu"), ep("auto", "cpu"), "execution provider auto ran on the CPU (report.json says why)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Targets: []Target{{Model: Model{Path: "m.onnx", ExecutionProvider: tt.cand}, Baseline: &Model{Path: "b.onnx", ExecutionProvider: tt.bas}}}}
			if got := providerText(r); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
