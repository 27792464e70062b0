package checks

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

// TestPredictMemoizesAndSharesPasses: every variant is computed once, for candidate and baseline
// together, and every transformed image is produced once however many models see it.
func TestPredictMemoizesAndSharesPasses(t *testing.T) {
	env := testEnv(t, "mnist_cnn.onnx", "mnist_weak.onnx", "mnist", nil)
	ctx := context.Background()
	n := len(env.Data.Items)
	stats := env.Candidate.Model.Stats()

	cand, base, err := env.Clean(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cand.Rows() != n || base.Rows() != n || cand.Classes != 10 {
		t.Fatalf("rows %d/%d classes %d, want %d", cand.Rows(), base.Rows(), cand.Classes, n)
	}
	after := stats.Samples()
	if after != int64(2*n) {
		t.Errorf("clean pass ran %d samples, want %d (both models once)", after, 2*n)
	}
	if _, _, err := env.Clean(ctx); err != nil || stats.Samples() != after {
		t.Errorf("second Clean ran the models again (%d samples)", stats.Samples()-after)
	}

	var calls atomic.Int64
	v := Variant{Key: "invert", Indices: []int{0, 1, 2, 3, 4}, Transform: func(i int, img *imaging.Image) *imaging.Image {
		calls.Add(1)
		out := img.Clone()
		for k := range out.Pix {
			out.Pix[k] = 255 - out.Pix[k]
		}
		return out
	}}
	// Concurrent callers of the same variant share one pass.
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := env.Predict(ctx, v); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if calls.Load() != 5 {
		t.Errorf("transform ran %d times, want once per image (5)", calls.Load())
	}
	if got := stats.Samples() - after; got != 10 {
		t.Errorf("variant ran %d samples, want 10 (5 images x 2 models)", got)
	}
	inv, _, _ := env.Predict(ctx, v)
	if inv.Indices[3] != 3 || inv.Rows() != 5 {
		t.Errorf("variant rows %v", inv.Indices)
	}
	if acc := cand.Accuracy(env.Data); acc < 0.95 {
		t.Errorf("clean accuracy %g", acc)
	}
}

// TestForwardMatchesMemo: the unmemoized path gives the same probabilities as the clean pass.
func TestForwardMatchesMemo(t *testing.T) {
	env := testEnv(t, "mnist_nhwc_uint8.onnx", "", "mnist", nil)
	ctx := context.Background()
	cand, _, err := env.Clean(ctx)
	if err != nil {
		t.Fatal(err)
	}
	imgs := []*imaging.Image{env.Data.Items[7].Image, env.Data.Items[8].Image}
	_, probs, err := env.Forward(ctx, env.Candidate, imgs)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		want := cand.Probs[7*10+i]
		if d := probs[i] - want; d > 1e-5 || d < -1e-5 {
			t.Fatalf("prob %d: %g vs memo %g", i, probs[i], want)
		}
	}
	if env.Candidate.OutputKind() != "probabilities" {
		t.Errorf("output kind %q, want probabilities (the model applies softmax)", env.Candidate.OutputKind())
	}
}
