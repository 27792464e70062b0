package guard

import (
	"context"
	"strings"
	"testing"
)

// TestFitCombinedDegenerate: the combined score standardizes the energy and the log distance on
// the fit images; a score that does not vary beyond float32 resolution (a model whose logits are
// nearly constant, as an untrained MobileNetV2's are) must make the combined score unavailable
// instead of turning float32 rounding into the guard's score.
func TestFitCombinedDegenerate(t *testing.T) {
	p, _ := openProbe(t, "mnist_cnn.onnx")
	ref, labels := idxSet(t, mnistDir(t), "train", 600)
	g, obs, err := Learn(context.Background(), p, ref, labels, BuildOptions{TargetFRR: 0.05, Seed: 3, Score: ScoreMahalanobis})
	if err != nil {
		t.Fatal(err)
	}
	if g.Energy == nil || g.Mahalanobis == nil {
		t.Fatalf("want both scores learned, energy %v mahalanobis %v", g.Energy != nil, g.Mahalanobis != nil)
	}
	withLogits := func(f func(i, k int) float32) *Observations {
		o := *obs
		o.Logits = make([]float32, len(obs.Logits))
		for i := range o.N {
			for k := range o.K {
				o.Logits[i*o.K+k] = f(i, k)
			}
		}
		return &o
	}
	for _, tc := range []struct {
		name    string
		obs     *Observations
		wantErr string
	}{
		{"real logits", obs, ""},
		{"constant logits", withLogits(func(_, k int) float32 { return 0.1 * float32(k) }), "energy barely varies"},
		{"logits varying in the 8th digit", withLogits(func(i, k int) float32 { return 3 + float32(i%2)*3e-7 + float32(k) }), "energy barely varies"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := fitCombined(g, tc.obs)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr == "" && !(c.EnergySD > 0 && c.LogMahalanobisSD > 0):
				t.Fatalf("combined %+v", c)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
