package guard

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/perturb"
	"github.com/cvgate/cvgate/internal/stats"
)

// abnormalInputs are inputs no MNIST image looks like: blank, constant and noise frames.
func abnormalInputs(t testing.TB, w, h, c, noisy int) (names []string, imgs []*imaging.Image) {
	t.Helper()
	for _, name := range []string{perturb.AbnormalBlank, perturb.AbnormalWhite, perturb.AbnormalGray, perturb.AbnormalUniformNoise, perturb.AbnormalGaussianNoise} {
		count := 1
		if name == perturb.AbnormalUniformNoise || name == perturb.AbnormalGaussianNoise {
			count = noisy
		}
		for j := range count {
			img, err := perturb.Synthesize(name, w, h, c, uint64(j+1))
			if err != nil {
				t.Fatal(err)
			}
			names, imgs = append(names, name), append(imgs, img)
		}
	}
	return names, imgs
}

// TestMNISTGuard is the measured goal of the guard on MNIST: built from 10,000 training images
// with the candidate CNN, its false-reject rate on the 10,000 test images lies in the threshold's
// interval, it separates Fashion-MNIST at AUROC >= 0.99 with its default score, and it catches
// every blank, constant and noise input.
func TestMNISTGuard(t *testing.T) {
	if testing.Short() {
		t.Skip("observes 30,000 images")
	}
	p, _ := openProbe(t, "mnist_cnn.onnx")
	ctx := context.Background()
	ref, labels := idxSet(t, mnistDir(t), "train", 10000)
	start := time.Now()
	g, _, err := Learn(ctx, p, ref, labels, BuildOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("guard from 10,000 images in %v (observe + build): score %s on %s (%s), threshold %.4g", time.Since(start), g.Score, g.Model.Features, g.Model.FeatureSource, g.Threshold.Value)
	if g.Score != ScoreCombined {
		t.Errorf("default score %s, want combined", g.Score)
	}

	test, testLabels := idxSet(t, mnistDir(t), "t10k", 0)
	to, err := p.Observe(ctx, test, testLabels)
	if err != nil {
		t.Fatal(err)
	}
	clean := g.JudgeAll(to)
	k := Rejected(clean)
	frr := float64(k) / float64(len(clean))
	// The threshold's interval is over calibration draws; the test set adds its own binomial
	// noise, so widen the interval by 2.58 of its standard errors (99%).
	se := math.Sqrt(frr * (1 - frr) / float64(len(clean)))
	lo, hi := g.Threshold.Interval[0]-2.58*se, g.Threshold.Interval[1]+2.58*se
	w, _ := stats.WilsonInterval(k, len(clean), 0.95)
	t.Logf("false-reject rate on 10,000 test images: %.4f (Wilson 95%% [%.4f, %.4f]); threshold interval [%.4f, %.4f], target %g",
		frr, w.Lo, w.Hi, g.Threshold.Interval[0], g.Threshold.Interval[1], g.Threshold.TargetFRR)
	if frr < lo || frr > hi {
		t.Errorf("false-reject rate %.4f outside [%.4f, %.4f]", frr, lo, hi)
	}

	fo, err := p.Observe(ctx, fashion(t, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	ood := g.JudgeAll(fo)
	byScore := map[string]Separation{}
	for _, s := range g.Separations(clean, ood) {
		byScore[s.Score] = s
		t.Logf("Fashion-MNIST: %-11s AUROC %.4f, FPR at 95%% TPR %.4f", s.Score, s.AUROC, s.FPRAt95TPR)
	}
	t.Logf("Fashion-MNIST caught by the guard: %.4f", RejectedShare(ood))
	if a := byScore[g.Score].AUROC; a < 0.99 {
		t.Errorf("default score AUROC %.4f < 0.99", a)
	}
	if a := byScore["guard"].AUROC; a < 0.99 {
		t.Errorf("guard AUROC %.4f < 0.99", a)
	}

	names, imgs := abnormalInputs(t, 28, 28, 1, 50)
	ao, err := p.Observe(ctx, imgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range g.JudgeAll(ao) {
		if !v.Reject {
			t.Errorf("%s input %d passed the guard (score %.3g)", names[i], i, v.Score)
		}
	}
}

// TestBuildTooFew: a reference set too small for the target says how many images it needs.
func TestBuildTooFew(t *testing.T) {
	p, _ := openProbe(t, "mnist_cnn.onnx")
	ref, labels := idxSet(t, mnistDir(t), "t10k", 200)
	_, _, err := Learn(context.Background(), p, ref, labels, BuildOptions{TargetFRR: 0.01, Seed: 1})
	var few *TooFewError
	if !errors.As(err, &few) || few.Need != 99 || few.Have != 60 {
		t.Fatalf("200 images at 1%%: %v", err)
	}
	want := "use a reference set of at least 330 images"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
	// At 5% the same images suffice (19 calibration images needed, 60 held out).
	if _, _, err := Learn(context.Background(), p, ref, labels, BuildOptions{TargetFRR: 0.05, Seed: 1}); err != nil {
		t.Errorf("200 images at 5%%: %v", err)
	}
}
