package guard

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/preprocess"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
)

const python = "/usr/bin/python3"

func havePythonONNX() bool { return exec.Command(python, "-c", "import onnx").Run() == nil }

// checkModel runs onnx.checker.check_model with full shape inference (Debian's python3-onnx).
func checkModel(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command(python, "-c", `import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)`, path).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker rejects %s: %v\n%s", path, err, out)
	}
}

// checkerOpset is the newest opset the installed onnx package knows.
func checkerOpset(t *testing.T) int {
	out, err := exec.Command(python, "-c", "import onnx.defs; print(onnx.defs.onnx_opset_version())").Output()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range out {
		if c >= '0' && c <= '9' {
			n = 10*n + int(c-'0')
		}
	}
	return n
}

// pngImages decodes the committed MNIST test PNGs from disk.
func pngImages(t testing.TB) ([]*imaging.Image, []int) {
	t.Helper()
	l, err := dataset.List(filepath.Join(ortlib.RepoRoot(t), "testdata", "images", "mnist"))
	if err != nil {
		t.Fatal(err)
	}
	classes, err := dataset.FolderClasses(l.FolderClasses, 10)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := dataset.Load(context.Background(), l, dataset.Options{Classes: classes})
	if err != nil {
		t.Fatal(err)
	}
	imgs := make([]*imaging.Image, len(ds.Items))
	labels := make([]int, len(ds.Items))
	for i, it := range ds.Items {
		imgs[i], labels[i] = it.Image, it.Label
	}
	return imgs, labels
}

// runAll runs a model file in ONNX Runtime directly (the binding reads bool outputs, which
// cvgate's own session wrapper does not need to) and returns every output by name as float64.
func runAll(t *testing.T, path string, spec preprocess.Spec, input string, imgs []*imaging.Image) map[string][]float64 {
	t.Helper()
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	_ = ins
	var names []string
	for _, o := range outs {
		names = append(names, o.Name)
	}
	s, err := ort.NewDynamicAdvancedSession(path, []string{input}, names, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	res := map[string][]float64{}
	var sc preprocess.Scratch
	per := spec.SampleSize()
	batch := 64
	if spec.Dims != nil && len(outs) > 0 && len(outs[0].Dimensions) > 0 && outs[0].Dimensions[0] == 1 {
		batch = 1
	}
	for start := 0; start < len(imgs); start += batch {
		n := min(batch, len(imgs)-start)
		shape := ort.NewShape(append([]int64{int64(n)}, spec.Dims...)...)
		var in ort.Value
		if spec.DType == onnx.Uint8 {
			buf := make([]uint8, n*per)
			for j := range n {
				spec.ApplyUint8(imgs[start+j], buf[j*per:(j+1)*per], &sc)
			}
			in, err = ort.NewTensor(shape, buf)
		} else {
			buf := make([]float32, n*per)
			for j := range n {
				spec.Apply(imgs[start+j], buf[j*per:(j+1)*per], &sc)
			}
			in, err = ort.NewTensor(shape, buf)
		}
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]ort.Value, len(names))
		if err := s.Run([]ort.Value{in}, vals); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			switch x := v.(type) {
			case *ort.Tensor[float32]:
				for _, f := range x.GetData() {
					res[names[i]] = append(res[names[i]], float64(f))
				}
			case *ort.Tensor[bool]:
				for _, b := range x.GetData() {
					res[names[i]] = append(res[names[i]], map[bool]float64{true: 1, false: 0}[b])
				}
			default:
				t.Fatalf("output %s has type %T", names[i], v)
			}
			v.Destroy()
		}
		in.Destroy()
	}
	return res
}

// TestGuardedModel: for models of every input kind and opset, the guarded model passes
// onnx.checker, loads in ONNX Runtime, returns the original outputs bit for bit on real images,
// and its cvgate_ood_score and cvgate_reject agree with guard.json on clean and abnormal inputs.
func TestGuardedModel(t *testing.T) {
	ctx := context.Background()
	ref, labels := idxSet(t, mnistDir(t), "train", 2000)
	clean, _ := pngImages(t)
	tests := []struct {
		model string
		opset int // convert to this opset first (0: as committed)
	}{
		{"mnist_cnn.onnx", 0},
		{"mnist_nhwc_uint8.onnx", 0},         // uint8 NHWC input, softmax output
		{"mnist_fixed_b1_nonsquare.onnx", 0}, // IR 3, opset 7, fixed batch 1, 32x24
		{"mnist_weak.onnx", 0},               // logistic regression: features are the pixels
		{"mnist_cnn.onnx", 18},               // reductions take their axes as inputs (its operators are the same at 18)
	}
	for _, tc := range tests {
		name := tc.model
		if tc.opset > 0 {
			name += "@opset" + itoa(tc.opset)
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			modelPath := ortlib.Model(t, tc.model)
			if tc.opset > 0 {
				if !havePythonONNX() {
					t.Skip("no python3-onnx to convert the opset")
				}
				modelPath = filepath.Join(dir, "converted.onnx")
				out, err := exec.Command(python, "-c", `import sys, onnx
m = onnx.load(sys.argv[1])
m.opset_import[0].version = int(sys.argv[3])
onnx.checker.check_model(m, full_check=True)
onnx.save(m, sys.argv[2])`, ortlib.Model(t, tc.model), modelPath, itoa(tc.opset)).CombinedOutput()
				if err != nil {
					t.Fatalf("convert: %v\n%s", err, out)
				}
			}
			rt := ortlib.Runtime(t)
			m, err := onnx.Open(rt, modelPath, onnx.Options{Threads: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := preprocess.Resolve(config.Defaults().Preprocess, m.Input)
			m.Close()
			if err != nil {
				t.Fatal(err)
			}
			opts := ProbeOptions{Threads: 1, Input: m.Input.Name, Output: m.Output.Name}
			p, err := NewProbe(rt, modelPath, spec, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			g, _, err := Learn(ctx, p, ref, labels, BuildOptions{Seed: 3, TargetFRR: 0.05})
			if err != nil {
				t.Fatal(err)
			}
			if err := g.WriteFolder(dir, p); err != nil {
				t.Fatal(err)
			}
			guarded := filepath.Join(dir, GuardedModelName)
			switch {
			case !havePythonONNX():
			case tc.opset > checkerOpset(t):
				// The checker validates against the schemas it knows; ONNX Runtime loading the
				// model below is then the check.
				t.Logf("onnx.checker knows opsets up to %d: not checking opset %d", checkerOpset(t), tc.opset)
			default:
				checkModel(t, guarded)
			}
			_, abnormal := abnormalInputs(t, 28, 28, 1, 8)
			imgs := append(append([]*imaging.Image{}, clean...), abnormal...)
			want := runAll(t, modelPath, spec, m.Input.Name, imgs)
			got := runAll(t, guarded, spec, m.Input.Name, imgs)
			for name, w := range want {
				gv := got[name]
				if len(gv) != len(w) {
					t.Fatalf("output %s: %d values, original %d", name, len(gv), len(w))
				}
				for i := range w {
					if math.Float32bits(float32(gv[i])) != math.Float32bits(float32(w[i])) {
						t.Fatalf("output %s differs from the original at %d: %v vs %v", name, i, gv[i], w[i])
					}
				}
			}
			obs, err := p.Observe(ctx, imgs, nil)
			if err != nil {
				t.Fatal(err)
			}
			scores, rejects := got[OutputScore], got[OutputReject]
			if len(scores) != len(imgs) || len(rejects) != len(imgs) {
				t.Fatalf("%d scores and %d rejects for %d images", len(scores), len(rejects), len(imgs))
			}
			caught := 0
			for i, v := range g.JudgeAll(obs) {
				if d := math.Abs(scores[i]-v.Score) / math.Max(1, math.Abs(v.Score)); d > 1e-4 {
					t.Errorf("image %d: graph score %.6g, guard.json %.6g", i, scores[i], v.Score)
				}
				// The graph checks the tensor statistics and the score; guard.json also checks the
				// decoded image's properties, so it may reject more, never less.
				tensorLevel := v.Score > g.Threshold.Value || !g.InputChecks.TensorMean.Contains(obs.Mean[i]) || !g.InputChecks.TensorVariance.Contains(obs.Var[i])
				if (rejects[i] == 1) != tensorLevel && math.Abs(v.Score-g.Threshold.Value) > 1e-4*math.Max(1, math.Abs(v.Score)) {
					t.Errorf("image %d: graph rejects %v, guard.json's tensor-level decision %v (score %.6g, threshold %.6g)", i, rejects[i] == 1, tensorLevel, v.Score, g.Threshold.Value)
				}
				if i >= len(clean) && rejects[i] == 1 {
					caught++
				}
			}
			if caught != len(abnormal) {
				for i, v := range g.JudgeAll(obs)[len(clean):] {
					t.Logf("abnormal %d: score %.4g, mean %.4g var %.4g, graph reject %v, reasons %v", i, v.Score, obs.Mean[len(clean)+i], obs.Var[len(clean)+i], rejects[len(clean)+i], v.Reasons)
				}
				t.Errorf("the graph rejects %d of %d blank, constant and noise inputs", caught, len(abnormal))
			}
			c, err := g.Verify(ctx, rt, guarded, p, opts, clean[:64])
			if err != nil {
				t.Fatal(err)
			}
			if !c.OutputsIdentical || len(c.Differences) > 0 {
				t.Errorf("verify: %+v", c)
			}
			if st, err := os.Stat(guarded); err == nil {
				orig, _ := os.Stat(modelPath)
				t.Logf("%s: score %s, %d -> %d bytes, graph/json score difference %.2g", name, g.Score, orig.Size(), st.Size(), c.MaxScoreDiff)
			}
		})
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
