package guard

import (
	"context"
	"os"
	"testing"
)

// TestScoreChoice is the measurement behind the default score (docs/guard.md): for every MNIST
// classifier among the fixtures, a guard built from 10,000 training images, scored on the 10,000
// test images against the 10,000 Fashion-MNIST test images. The combined score must be at least as
// good as the better single score less 0.01 AUROC everywhere, and reach 0.99; the feature the
// Mahalanobis score reads is compared too (the final layer's input after its ReLU, or before).
func TestScoreChoice(t *testing.T) {
	if os.Getenv("CVGATE_SLOW") == "" {
		t.Skip("set CVGATE_SLOW=1: builds and scores 30,000 images per model")
	}
	ctx := context.Background()
	ref, labels := idxSet(t, mnistDir(t), "train", 10000)
	test, _ := idxSet(t, mnistDir(t), "t10k", 0)
	ood := fashion(t, 0)
	for _, tc := range []struct{ model, features string }{
		{"mnist_cnn.onnx", ""}, {"mnist_cnn.onnx", "/Relu_2_output_0"}, {"mnist_noiseaug.onnx", ""}, {"mnist_mlp_flat.onnx", ""},
		{"mnist_mlp_flat.onnx", "/Relu_output_0"}, {"mnist_weak.onnx", ""}, {"mnist_fixed_b1_nonsquare.onnx", ""},
	} {
		p, _ := openProbeWith(t, tc.model, tc.features)
		g, _, err := Learn(ctx, p, ref, labels, BuildOptions{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		to, err := p.Observe(ctx, test, nil)
		if err != nil {
			t.Fatal(err)
		}
		fo, err := p.Observe(ctx, ood, nil)
		if err != nil {
			t.Fatal(err)
		}
		clean, bad := g.JudgeAll(to), g.JudgeAll(fo)
		auc := map[string]float64{}
		for _, s := range g.Separations(clean, bad) {
			auc[s.Score] = s.AUROC
		}
		t.Logf("%-30s features %-22s energy %.4f  mahalanobis %.4f  combined %.4f  guard %.4f  test FRR %.4f  Fashion caught %.4f",
			tc.model, g.Model.Features, auc["energy"], auc["mahalanobis"], auc["combined"], auc["guard"], RejectedShare(clean), RejectedShare(bad))
		if tc.features != "" {
			continue // the post-activation rows are for comparison only
		}
		if best := max(auc["energy"], auc["mahalanobis"]); auc["combined"] < best-0.01 || auc["combined"] < 0.99 {
			t.Errorf("%s: combined AUROC %.4f, energy %.4f, mahalanobis %.4f", tc.model, auc["combined"], auc["energy"], auc["mahalanobis"])
		}
	}
}
