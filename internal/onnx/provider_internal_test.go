package onnx

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseProfile(t *testing.T) {
	ev := func(cat, op, provider string) string {
		return fmt.Sprintf(`{"cat" : %q,"pid" :1,"tid" :1,"dur" :3,"ts" :9,"ph" : "X","name" :"n_kernel_time","args" : {"op_name" : %q,"provider" : %q}}`, cat, op, provider)
	}
	list := func(events ...string) string { return "[\n" + strings.Join(events, ",\n") + "\n]\n" }
	session := `{"cat" : "Session","pid" :1,"tid" :1,"dur" :7,"ts" :1,"ph" : "X","name" :"session_initialization","args" : {}}`
	var many []string
	for i := range 25 {
		many = append(many, ev("Node", fmt.Sprintf("Op%02d", i), "CPUExecutionProvider"))
	}
	manyOps := []string{}
	for i := range maxCPUOps {
		manyOps = append(manyOps, fmt.Sprintf("Op%02d", i))
	}
	manyOps = append(manyOps, "and 5 more")
	tests := []struct {
		name    string
		profile string
		limit   int64
		nodes   map[string]int
		cpuOps  []string
		wantErr string
	}{
		{"cpu only", list(session, ev("Node", "Conv", "CPUExecutionProvider"), ev("Node", "Relu", "CPUExecutionProvider"), ev("Node", "Conv", "CPUExecutionProvider")),
			1 << 20, map[string]int{"CPUExecutionProvider": 3}, []string{"Conv", "Relu"}, ""},
		{"cuda with shape ops on the cpu", list(session, ev("Node", "Conv", "CUDAExecutionProvider"), ev("Node", "MemcpyToHost", "CUDAExecutionProvider"),
			ev("Node", "Shape", "CPUExecutionProvider"), ev("Node", "Gather", "CPUExecutionProvider")),
			1 << 20, map[string]int{"CUDAExecutionProvider": 2, "CPUExecutionProvider": 2}, []string{"Gather", "Shape"}, ""},
		{"no nodes", list(session), 1 << 20, map[string]int{}, nil, ""},
		{"names a model chose are not repeated", list(ev("Node", "<img src=x>", "CPUExecutionProvider"), ev("Node", "Conv", "Evil|Provider")),
			1 << 20, map[string]int{"CPUExecutionProvider": 1, "unknown": 1}, []string{"?"}, ""},
		{"op list is bounded", list(many...), 1 << 20, map[string]int{"CPUExecutionProvider": 25}, manyOps, ""},
		// ONNX Runtime writes node names unescaped: a quote in one breaks the JSON.
		{"unescaped node name", `[{"cat" : "Node","name" :"a"b_kernel_time","args" : {"provider" : "CPUExecutionProvider"}}]`, 1 << 20, nil, nil, "not valid JSON"},
		{"over the limit", list(session, ev("Node", "Conv", "CPUExecutionProvider")), 64, nil, nil, "over 64 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, ops, err := parseProfile(strings.NewReader(tt.profile), tt.limit)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(nodes, tt.nodes) || !reflect.DeepEqual(ops, tt.cpuOps) {
				t.Errorf("nodes %v, cpu ops %v; want %v, %v", nodes, ops, tt.nodes, tt.cpuOps)
			}
		})
	}
}

func TestDlopenError(t *testing.T) {
	if msg := dlopenError("/nonexistent/libcvgate_nothing.so"); !strings.Contains(msg, "cannot open shared object file") {
		t.Errorf("missing library: %q", msg)
	}
	if msg := dlopenError("libc.so.6"); msg != "" {
		t.Errorf("libc.so.6 loads, got %q", msg)
	}
}

func TestPlaced(t *testing.T) {
	cuda := Placement{Requested: ProviderCUDA, Obtained: ProviderCUDA}
	auto := Placement{Requested: ProviderAuto, Obtained: ProviderCUDA}
	tests := []struct {
		name     string
		in       Placement
		nodes    map[string]int
		ops      []string
		obtained string
		note     string // a substring; "" wants no note
		wantErr  string
	}{
		{"all on cuda", cuda, map[string]int{ortCUDA: 10}, nil, ProviderCUDA, "", ""},
		{"shape ops on the cpu", cuda, map[string]int{ortCUDA: 10, ortCPU: 2}, []string{"Gather", "Shape"}, ProviderCUDA, "2 of 12 nodes ran on the CPU (op types: Gather, Shape)", ""},
		{"required, all on the cpu", cuda, map[string]int{ortCPU: 5}, []string{"QLinearConv"}, "", "", "cuda was required but not obtained: ONNX Runtime created the CUDA provider but ran all 5 nodes"},
		{"auto, all on the cpu", auto, map[string]int{ortCPU: 5}, []string{"QLinearConv"}, ProviderCPU, "execution provider auto ran on the CPU", ""},
		{"no nodes", cuda, map[string]int{}, nil, ProviderCUDA, "not measured", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := placed(tt.in, "m.onnx", tt.nodes, tt.ops)
			if tt.wantErr != "" {
				var pe *ProviderError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want a *ProviderError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Obtained != tt.obtained || (tt.note == "") != (p.Note == "") || !strings.Contains(p.Note, tt.note) {
				t.Errorf("placement %+v, want obtained %s and a note with %q", p, tt.obtained, tt.note)
			}
		})
	}
}
