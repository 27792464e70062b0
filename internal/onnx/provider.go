package onnx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
)

// The execution providers cvgate asks ONNX Runtime for (Options.Provider).
const (
	ProviderCPU  = "cpu"
	ProviderCUDA = "cuda"
	// ProviderAuto tries CUDA and runs on the CPU, with a note, when CUDA cannot be had.
	ProviderAuto = "auto"
)

// CUDASetupCommand installs the CUDA provider libraries beside the pinned core library.
const CUDASetupCommand = "scripts/setup-ort --cuda"

// CUDAProviderFiles are the libraries ONNX Runtime loads, from the folder of the core library it
// was loaded from, to create its CUDA execution provider. The shared one is loaded first.
var cudaProviderFiles = []string{"libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"}

// ONNX Runtime's names of the providers in its profiles.
const (
	ortCPU  = "CPUExecutionProvider"
	ortCUDA = "CUDAExecutionProvider"
)

// maxProfileBytes bounds the profile of the one pass ProfilePlacement reads: one event per node,
// a few hundred bytes each, so 64 MiB is a graph of about 200,000 nodes.
const maxProfileBytes = 64 << 20

// maxCPUOps bounds the op types a Placement lists.
const maxCPUOps = 20

// ProviderError says that the execution provider a run required could not be had. It is a setup
// problem of the machine (libraries, driver, device), never a property of the model.
type ProviderError struct {
	Requested string
	Reason    string
}

func (e *ProviderError) Error() string {
	return fmt.Sprintf("execution provider %s was required but not obtained: %s", e.Requested, e.Reason)
}

// Placement is what a session asked ONNX Runtime for and what it got.
type Placement struct {
	Requested string // cpu, cuda or auto
	Obtained  string // cpu or cuda
	// Nodes counts the graph's nodes (after ONNX Runtime's optimisations) per ONNX Runtime
	// provider name over one profiled forward pass; nil when not measured.
	Nodes map[string]int
	// CPUOps are the distinct op types (sorted, at most maxCPUOps) that ran on the CPU in a
	// session that obtained CUDA.
	CPUOps []string
	// Note says what the user should know: a fallback to the CPU, nodes left on the CPU, or why
	// the placement was not measured.
	Note string
}

// missingCUDAFiles returns an error naming the first CUDA provider library that is not beside the
// core library at libPath. ONNX Runtime would only say "Failed to load shared library".
func missingCUDAFiles(libPath string) error {
	dir := filepath.Dir(libPath)
	for _, name := range cudaProviderFiles {
		p := filepath.Join(dir, name)
		if err := isFile(p); err != nil {
			return fmt.Errorf("%s is missing (%v): install the CUDA provider of ONNX Runtime %s beside %s with %s, or run the CUDA image (docs/gpu.md)",
				p, errors.Unwrap(err), PinnedVersion, filepath.Base(libPath), CUDASetupCommand)
		}
	}
	return nil
}

// cudaLoadReason explains why ONNX Runtime could not load its CUDA provider library, which it only
// reports as "Failed to load shared library": the loader's own message for that library (a CUDA,
// cuBLAS or driver library that is not on the library path), found by loading it the same way.
func cudaLoadReason(libPath string) string {
	lib := filepath.Join(filepath.Dir(libPath), "libonnxruntime_providers_cuda.so")
	msg := dlopenError(lib)
	const fix = "the CUDA 13 runtime, cuBLAS and cuDNN 9 libraries must be on LD_LIBRARY_PATH and an NVIDIA driver supporting CUDA 13 installed (docs/gpu.md)"
	if msg == "" || !strings.Contains(msg, "cannot open shared object file") {
		// It loads on its own (its remaining symbols come from the shared provider library), so
		// the loader is not what failed.
		return fmt.Sprintf("ONNX Runtime could not load %s; %s", lib, fix)
	}
	return fmt.Sprintf("ONNX Runtime could not load %s: %s; %s", lib, clip(msg, 300), fix)
}

// Placement returns what the session asked for and obtained.
func (m *Model) Placement() Placement {
	p := m.placement
	if p.Nodes != nil {
		p.Nodes = make(map[string]int, len(m.placement.Nodes))
		for k, v := range m.placement.Nodes {
			p.Nodes[k] = v
		}
	}
	p.CPUOps = append([]string(nil), m.placement.CPUOps...)
	return p
}

// ResolvePlacement measures where ONNX Runtime put the nodes of a session that obtained CUDA,
// with one profiled forward pass of zeros shaped dims (one sample without its batch dimension):
// ONNX Runtime assigns a node the CUDA provider has no kernel for to the CPU without saying so.
// When no node ran on CUDA the session did not get CUDA at all: an error when CUDA was required,
// a note with auto. A CPU session needs no measurement. A profile that cannot be read leaves the
// placement unmeasured, with a note.
func (m *Model) ResolvePlacement(ctx context.Context, dims []int64) error {
	if m.placement.Obtained != ProviderCUDA {
		return nil
	}
	nodes, cpuOps, err := ProfilePlacement(ctx, m, dims)
	if err != nil {
		m.placement.Note = "node placement not measured: " + err.Error()
		return nil
	}
	p, err := placed(m.placement, filepath.Base(m.file), nodes, cpuOps)
	if err != nil {
		return err
	}
	m.placement = p
	return nil
}

// placed applies a measured node placement to a session that obtained CUDA.
func placed(p Placement, model string, nodes map[string]int, cpuOps []string) (Placement, error) {
	p.Nodes = nodes
	total := 0
	for _, n := range nodes {
		total += n
	}
	onCUDA := nodes[ortCUDA]
	switch {
	case total == 0:
		p.Note = "node placement not measured: the profiled pass ran no nodes"
	case onCUDA == 0:
		reason := fmt.Sprintf("ONNX Runtime created the CUDA provider but ran all %d nodes of %q on the CPU (op types: %s)",
			total, model, strings.Join(cpuOps, ", "))
		if p.Requested == ProviderCUDA {
			return p, &ProviderError{Requested: ProviderCUDA, Reason: reason}
		}
		p.Obtained = ProviderCPU
		p.Note = "execution provider auto ran on the CPU: " + reason
	case onCUDA < total:
		p.CPUOps = cpuOps
		p.Note = fmt.Sprintf("%d of %d nodes ran on the CPU (op types: %s): ONNX Runtime keeps shape computations and ops without a CUDA kernel there",
			total-onCUDA, total, strings.Join(cpuOps, ", "))
	}
	return p, nil
}

// ProfilePlacement runs one forward pass of zeros shaped dims in a new session of m's model with
// m's execution provider and ONNX Runtime's profiler on, and counts the nodes each provider ran.
// It also returns the distinct op types that ran on the CPU. The profile names nodes as the model
// does, unescaped: a node name with a quote makes it invalid JSON, which is an error here, never
// a guess.
func ProfilePlacement(ctx context.Context, m *Model, dims []int64) (map[string]int, []string, error) {
	dir, err := os.MkdirTemp("", "cvgate-profile-")
	if err != nil {
		return nil, nil, fmt.Errorf("create profile folder: %w", err)
	}
	defer os.RemoveAll(dir)
	opts := m.opts
	opts.Provider = m.placement.Obtained
	so, err := newSessionOptions(opts, false)
	if err != nil {
		return nil, nil, err
	}
	defer so.Destroy()
	if err := so.EnableProfiling(filepath.Join(dir, "placement")); err != nil {
		return nil, nil, fmt.Errorf("enable profiling: %w", err)
	}
	names := make([]string, len(m.fetch))
	for i, o := range m.fetch {
		names[i] = o.Name
	}
	session, err := ort.NewDynamicAdvancedSession(m.file, []string{m.Input.Name}, names, so)
	if err != nil {
		return nil, nil, fmt.Errorf("open a profiled session: %s", oneLine(err))
	}
	batch := int64(1)
	if m.FixedBatch {
		batch = int64(m.Batch)
	}
	shape := append([]int64{batch}, dims...)
	runErr := profileRun(ctx, m, session, shape)
	// ONNX Runtime writes the profile when the session is destroyed.
	if err := session.Destroy(); err != nil && runErr == nil {
		runErr = fmt.Errorf("close the profiled session: %w", err)
	}
	if runErr != nil {
		return nil, nil, runErr
	}
	files, err := filepath.Glob(filepath.Join(dir, "placement*.json"))
	if err != nil || len(files) != 1 {
		return nil, nil, fmt.Errorf("ONNX Runtime wrote %d profiles, want 1", len(files))
	}
	f, err := os.Open(files[0])
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return parseProfile(f, maxProfileBytes)
}

func profileRun(ctx context.Context, m *Model, session *ort.DynamicAdvancedSession, shape []int64) error {
	n := int64(1)
	for _, d := range shape {
		if d <= 0 {
			return fmt.Errorf("input shape %v has a dynamic dimension", shape)
		}
		n *= d
	}
	if err := checkElements(m.Input.Name, fmt.Sprint(shape), m.Input.DType, shape, m.Budget); err != nil {
		return err
	}
	var in ort.Value
	var err error
	switch m.Input.DType {
	case Uint8:
		in, err = ort.NewTensor(ort.NewShape(shape...), make([]uint8, n))
	default:
		in, err = ort.NewTensor(ort.NewShape(shape...), make([]float32, n))
	}
	if err != nil {
		return fmt.Errorf("create input tensor %v: %w", shape, err)
	}
	defer in.Destroy()
	out := make([]ort.Value, len(m.fetch))
	defer func() {
		for _, o := range out {
			if o != nil {
				o.Destroy()
			}
		}
	}()
	err = runUnder(ctx, m.PassTimeout, func(ro *ort.RunOptions) error {
		return session.RunWithOptions([]ort.Value{in}, out, ro)
	})
	if err != nil {
		return fmt.Errorf("profiled pass: %s", oneLine(err))
	}
	return nil
}

// profileEvent is the part of an ONNX Runtime profile event cvgate reads.
type profileEvent struct {
	Cat  string `json:"cat"`
	Args struct {
		OpName   string `json:"op_name"`
		Provider string `json:"provider"`
	} `json:"args"`
}

// parseProfile counts the node events of an ONNX Runtime profile (a JSON array of trace events)
// per provider, and lists the op types of those that ran on the CPU.
// At most limit bytes are read.
func parseProfile(r io.Reader, limit int64) (map[string]int, []string, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read the profile: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, nil, fmt.Errorf("the profile is over %d bytes", limit)
	}
	var events []profileEvent
	if err := json.Unmarshal(data, &events); err != nil {
		return nil, nil, fmt.Errorf("ONNX Runtime's profile is not valid JSON (it writes node names unescaped; a name with a quote breaks it): %v", err)
	}
	nodes := map[string]int{}
	ops := map[string]bool{}
	for _, e := range events {
		if e.Cat != "Node" {
			continue
		}
		p := e.Args.Provider
		if !safeName(p) {
			p = "unknown"
		}
		nodes[p]++
		if p == ortCPU {
			op := e.Args.OpName
			if !safeName(op) {
				op = "?"
			}
			ops[op] = true
		}
	}
	var list []string
	for op := range ops {
		list = append(list, op)
	}
	sort.Strings(list)
	if len(list) > maxCPUOps {
		list = append(list[:maxCPUOps], fmt.Sprintf("and %d more", len(ops)-maxCPUOps))
	}
	return nodes, list, nil
}

// safeName accepts the provider and op type names ONNX Runtime and ONNX use (letters, digits,
// '_' and '.'), so that nothing a model chose reaches a report unchecked.
func safeName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
