package checks

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/preprocess"
	"github.com/cvgate/cvgate/report"
)

func TestSampleOrderIsAStratifiedPermutation(t *testing.T) {
	// Three classes of 50, 30 and 20 images, interleaved, plus 7 unlabelled items.
	var labels []int
	for i := 0; i < 107; i++ {
		switch {
		case i%15 == 14 && i < 105:
			labels = append(labels, -1)
		case i%10 < 5:
			labels = append(labels, 0)
		case i%10 < 8:
			labels = append(labels, 1)
		default:
			labels = append(labels, 2)
		}
	}
	size := map[int]int{}
	for _, y := range labels {
		if y >= 0 {
			size[y]++
		}
	}
	total := size[0] + size[1] + size[2]

	order := sampleOrder(labels, true, 7)
	if len(order) != total {
		t.Fatalf("order has %d items, want the %d labelled ones", len(order), total)
	}
	seen := map[int]bool{}
	for _, i := range order {
		if labels[i] < 0 || seen[i] {
			t.Fatalf("item %d is unlabelled or repeated", i)
		}
		seen[i] = true
	}
	// Every prefix holds each class in proportion, give or take 2 (one for the class's own
	// spacing, one for the others' phases).
	for n := 1; n <= total; n++ {
		got := map[int]int{}
		for _, i := range order[:n] {
			got[labels[i]]++
		}
		for y, m := range size {
			want := float64(n) * float64(m) / float64(total)
			if math.Abs(float64(got[y])-want) > 2 {
				t.Fatalf("prefix %d holds %d of class %d, want about %.1f", n, got[y], y, want)
			}
		}
	}
	if again := sampleOrder(labels, true, 7); !slices.Equal(again, order) {
		t.Error("same seed, different order")
	}
	if other := sampleOrder(labels, true, 8); slices.Equal(other, order) {
		t.Error("a different seed gave the same order")
	}
	if all := sampleOrder(labels, false, 7); len(all) != len(labels) {
		t.Errorf("unlabelled order has %d items, want all %d", len(all), len(labels))
	}
}

func TestImageSeedDependsOnImageAndRunSeed(t *testing.T) {
	seen := map[uint64]bool{}
	for seed := uint64(0); seed < 4; seed++ {
		for i := 0; i < 1000; i++ {
			s := imageSeed(seed, i)
			if seen[s] {
				t.Fatalf("seed %d, image %d: repeated derived seed", seed, i)
			}
			seen[s] = true
			if imageSeed(seed, i) != s {
				t.Fatal("not deterministic")
			}
		}
	}
}

func TestCorruptTransformIsDeterministicPerImage(t *testing.T) {
	img := imaging.New(32, 32, 3)
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	c := newCorruptor(&Env{})
	tr := c.transform("gaussian_noise", 3, 1)
	a, b, other := tr(5, img), tr(5, img), tr(6, img)
	if a == nil || b == nil || other == nil {
		t.Fatal("transform returned nothing")
	}
	if !slices.Equal(a.Pix, b.Pix) {
		t.Error("same image index, different noise")
	}
	if slices.Equal(a.Pix, other.Pix) {
		t.Error("different image indices drew the same noise")
	}
	if bad := c.transform("no_such_corruption", 3, 1)(0, img); bad != nil || c.err == nil {
		t.Errorf("unknown corruption: got an image (%v) or no recorded error (%v)", bad != nil, c.err)
	}
}

func TestCorruptionGrid(t *testing.T) {
	tests := []struct {
		name      string
		cfg       config.RobustCorruptions
		wantNames []string
		wantSevs  []int
		wantErr   string
	}{
		{name: "all by default", cfg: config.RobustCorruptions{Severities: []int{5, 1, 3, 3}}, wantSevs: []int{1, 3, 5}},
		{name: "subset in canonical order", cfg: config.RobustCorruptions{Corruptions: []string{"fog", "gaussian_noise"}, Severities: []int{2}},
			wantNames: []string{"gaussian_noise", "fog"}, wantSevs: []int{2}},
		{name: "unknown corruption", cfg: config.RobustCorruptions{Corruptions: []string{"rain"}, Severities: []int{1}}, wantErr: `unknown corruption "rain"`},
		{name: "bad severity", cfg: config.RobustCorruptions{Severities: []int{6}}, wantErr: "outside 1..5"},
		{name: "no severity", cfg: config.RobustCorruptions{}, wantErr: "no severity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names, sevs, err := corruptionGrid(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantNames == nil && len(names) != 19 {
				t.Errorf("%d corruptions, want all 19", len(names))
			}
			if tt.wantNames != nil && !slices.Equal(names, tt.wantNames) {
				t.Errorf("names %v, want %v", names, tt.wantNames)
			}
			if !slices.Equal(sevs, tt.wantSevs) {
				t.Errorf("severities %v, want %v", sevs, tt.wantSevs)
			}
		})
	}
}

func TestPlannedLooks(t *testing.T) {
	tests := []struct{ n1, nMax, want int }{
		{50, 1000, 6}, // 50 100 200 400 800 1000
		{50, 50, 1},
		{50, 100, 2},
		{32, 500, 5}, // 32 64 128 256 500
		{50, 30, 1},
	}
	for _, tt := range tests {
		if got := plannedLooks(tt.n1, tt.nMax); got != tt.want {
			t.Errorf("plannedLooks(%d, %d) = %d, want %d", tt.n1, tt.nMax, got, tt.want)
		}
	}
}

func TestFitFirstLook(t *testing.T) {
	sevs := []int{1, 3, 5}
	tests := []struct {
		name     string
		sec      float64 // seconds per image through one cell
		budget   float64
		wantN    int
		wantSevs []int
		wantOver bool
	}{
		{name: "cheap model keeps everything", sec: 0.001, budget: 180, wantN: 50, wantSevs: sevs},
		{name: "fewer images", sec: 180.0 / (57 * 40), budget: 180, wantN: 40, wantSevs: sevs},
		{name: "middle severity only", sec: 180.0 / (19 * 40), budget: 180, wantN: 40, wantSevs: []int{3}},
		{name: "over budget runs the floor", sec: 1, budget: 180, wantN: minCellImages, wantSevs: []int{3}, wantOver: true},
		{name: "unmeasurably fast", sec: 0, budget: 180, wantN: 50, wantSevs: sevs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fitFirstLook(50, sevs, 19, tt.sec, tt.budget)
			if got.n != tt.wantN || !slices.Equal(got.severities, tt.wantSevs) || got.overBudget != tt.wantOver {
				t.Errorf("got %d images, severities %v, over %v; want %d, %v, %v", got.n, got.severities, got.overBudget, tt.wantN, tt.wantSevs, tt.wantOver)
			}
			if !tt.wantOver && tt.sec*float64(got.n*len(got.severities)*19) > tt.budget*1.0001 {
				t.Errorf("the fitted look costs more than the budget")
			}
		})
	}
	if got := fitFirstLook(50, []int{1, 2, 3, 4, 5}, 19, 1, 180); !slices.Equal(got.severities, []int{3}) {
		t.Errorf("five severities fall back to %v, want the middle one", got.severities)
	}
}

// syntheticSweep builds a sweep over made-up outcomes: n images of class 0, all right when
// clean; in every cell the candidate errs on wrongCand of every 100 images and the baseline on
// wrongBase of every 100 (spread differently per cell).
func syntheticSweep(t *testing.T, n, wrongCand, wrongBase int, withBase bool) *corruptionSweep {
	t.Helper()
	cfg := config.Defaults().Thresholds.RobustCorruptions
	items := make([]dataset.Item, n)
	order := make([]int, n)
	for i := range items {
		items[i].Label = 0
		order[i] = i
	}
	env := &Env{Config: &config.Config{}, Data: &dataset.Dataset{Items: items}}
	sw := &corruptionSweep{env: env, cfg: cfg, names: []string{"gaussian_noise", "fog"}, sevs: []int{1, 3}, configured: []int{1, 3},
		order: order, nMax: n, n: n, plannedLooks: 1, subjects: 1, labels: make([]int, n), corr: newCorruptor(&Env{})}
	if withBase {
		sw.subjects = 2
	}
	sw.buildCells()
	for si := 0; si < sw.subjects; si++ {
		sw.clean[si] = make([]int32, n)
		wrong := wrongCand
		if si == 1 {
			wrong = wrongBase
		}
		for k, c := range sw.cells {
			c.top[si] = make([]int32, n)
			c.conf[si] = make([]float32, n)
			for r := 0; r < n; r++ {
				if (r*37+k*11)%100 < wrong {
					c.top[si][r] = 1
				}
				c.conf[si][r] = 0.9
			}
		}
	}
	return sw
}

func TestAnalyseLookSettlesOnlyWhenTheIntervalDecides(t *testing.T) {
	tests := []struct {
		name                 string
		n, wrongC, wrongB    int
		withBase             bool
		wantSettled          bool
		wantStatus           report.Status
		wantSummaryFragments []string
	}{
		{name: "small drop on many images", n: 400, wrongC: 5, wantSettled: true, wantStatus: report.StatusPass},
		{name: "large drop", n: 400, wrongC: 30, wantSettled: true, wantStatus: report.StatusFail, wantSummaryFragments: []string{"exceeds 15.0%"}},
		// An estimate over the limit that is not probably beyond it (its one-sided 80% bound is
		// under 15%) passes with a note; issue #16: a warning must not fire on sampling noise.
		{name: "close call on few images", n: 40, wrongC: 18, wantSettled: false, wantStatus: report.StatusPass, wantSummaryFragments: []string{"not settled"}},
		{name: "probably beyond on few images", n: 40, wrongC: 21, wantSettled: false, wantStatus: report.StatusWarn, wantSummaryFragments: []string{"does not settle it"}},
		{name: "more robust than the baseline", n: 400, wrongC: 5, wrongB: 20, withBase: true, wantSettled: true, wantStatus: report.StatusPass},
		{name: "less robust than the baseline", n: 400, wrongC: 10, wrongB: 5, withBase: true, wantSettled: true, wantStatus: report.StatusFail, wantSummaryFragments: []string{"mCE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sw := syntheticSweep(t, tt.n, tt.wrongC, tt.wrongB, tt.withBase)
			lk := sw.analyseLook()
			if lk.settled != tt.wantSettled {
				t.Errorf("settled = %v (drop %.3f [%.3f, %.3f], mCE %.3f [%.3f, %.3f]), want %v",
					lk.settled, lk.drop.Estimate, lk.drop.Lo, lk.drop.Hi, lk.mce.Estimate, lk.mce.Lo, lk.mce.Hi, tt.wantSettled)
			}
			if want := float64(tt.wrongC) / 100; math.Abs(lk.drop.Estimate-want) > 0.02 {
				t.Errorf("drop %.3f, want about %.2f", lk.drop.Estimate, want)
			}
			if !(lk.drop.Lo <= lk.drop.Estimate && lk.drop.Estimate <= lk.drop.Hi) {
				t.Errorf("interval [%.3f, %.3f] does not hold its estimate %.3f", lk.drop.Lo, lk.drop.Hi, lk.drop.Estimate)
			}
			if tt.withBase {
				if want := float64(tt.wrongC) / float64(tt.wrongB); math.Abs(lk.mce.Estimate-want) > 0.15*want {
					t.Errorf("mCE %.3f, want about %.2f", lk.mce.Estimate, want)
				}
			}
			sw.looks = append(sw.looks, lk)
			sw.stopped = "test"
			res, err := sw.result()
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.wantStatus {
				t.Errorf("status %s, want %s: %s", res.Status, tt.wantStatus, res.Summary)
			}
			for _, f := range tt.wantSummaryFragments {
				if !strings.Contains(res.Summary, f) {
					t.Errorf("summary %q lacks %q", res.Summary, f)
				}
			}
		})
	}
}

func TestRecommendationNamesTheLargestDrops(t *testing.T) {
	sw := &corruptionSweep{names: []string{"gaussian_noise", "fog", "contrast", "snow"}, sevs: []int{1, 5}}
	tl := &corruptionTally{}
	tl.cleanAcc[0] = 0.9
	// Per corruption: accuracies at severity 1 and 5.
	acc := [][2]float64{{0.85, 0.6}, {0.9, 0.89}, {0.7, 0.2}, {0.8, 0.75}}
	for _, a := range acc {
		tl.acc[0] = append(tl.acc[0], a[0], a[1])
		tl.corrDrop[0] = append(tl.corrDrop[0], 0.9-(a[0]+a[1])/2)
	}
	got := sw.recommendation(tl)
	want := "Training with contrast, gaussian_noise and snow augmentation would address the largest drops (-70, -30, -15 pp at severity 5)."
	if got != want {
		t.Errorf("recommendation\n got %q\nwant %q", got, want)
	}
	tl.corrDrop[0] = []float64{0.01, 0, 0.005, -0.01}
	if got := sw.recommendation(tl); !strings.Contains(got, "no augmentation is called for") {
		t.Errorf("no large drop, got %q", got)
	}
}

func TestWrongRangeSpec(t *testing.T) {
	unit := preprocess.Spec{Scale: 1.0 / 255, DType: onnx.Float32}
	if w, desc := wrongRangeSpec(unit); math.Abs(w.Scale-1) > 1e-12 || !strings.Contains(desc, "0..255 fed") {
		t.Errorf("unit-range model: scale %g (%s), want 1", w.Scale, desc)
	}
	raw := preprocess.Spec{Scale: 1, DType: onnx.Float32}
	if w, desc := wrongRangeSpec(raw); math.Abs(w.Scale-1.0/255) > 1e-12 || !strings.Contains(desc, "0..1 fed") {
		t.Errorf("0..255 model: scale %g (%s), want 1/255", w.Scale, desc)
	}
}

// simulateSchedule replays run()'s budget decisions (fitFirstLook, then nextLook) for a model
// whose passes take secPerPass, with a verdict that never settles: the worst case.
func simulateSchedule(secPerPass float64, subjects, corruptions int, sevs []int, nMax int, budget float64) (n int, kept []int, spent float64) {
	perImageCell := secPerPass * float64(subjects)
	n1 := min(firstLook, nMax)
	spent = perImageCell * float64(n1) // the probe: the first cell
	fit := fitFirstLook(n1, sevs, corruptions, perImageCell, budget)
	n, kept = fit.n, fit.severities
	cells := corruptions * len(kept)
	spent += perImageCell * float64(n*cells-min(n, n1)) // the probe's cell is always kept
	for n < nMax {
		next, cost, fits := nextLook(n, nMax, cells, perImageCell, budget-spent)
		if !fits {
			break
		}
		n, spent = next, spent+cost
	}
	return n, kept, spent
}

// TestDefaultProfileScheduleOnARunner: the reference is a MobileNetV2-class model on a
// 2-core runner, 95,000 passes in about 17 minutes, so 93 passes/s. With a baseline every image
// costs two passes. Unsettled, the default profile must stay inside its 180 s budget and still
// reach 100 images per cell (a 99% interval of the mean drop about +-2.5 pp wide on the demo);
// the full sweep of 1,000 images at five severities is the 17 minutes the issue quotes, twice
// with a baseline.
func TestDefaultProfileScheduleOnARunner(t *testing.T) {
	d := config.Defaults().Thresholds.RobustCorruptions
	const passesPerSecond = 93.0
	n, kept, spent := simulateSchedule(1/passesPerSecond, 2, 19, d.Severities, d.Sample, d.BudgetSeconds)
	t.Logf("default profile, unsettled: %d images per cell at severities %v, %.0f s of sweep", n, kept, spent)
	if spent > d.BudgetSeconds {
		t.Errorf("the sweep takes %.0f s, over the %g s budget", spent, d.BudgetSeconds)
	}
	if n < 100 || len(kept) != len(d.Severities) {
		t.Errorf("only %d images per cell at severities %v", n, kept)
	}
	// Other work of the default run on the same model: the clean pass over 1,000 images,
	// invariance (6 transforms x 200 images) and abnormal inputs (about 170 per model).
	other := float64(2*1000+2*6*200+2*170) / passesPerSecond
	if total := spent + other; total > 300 {
		t.Errorf("default robustness work takes %.0f s, over the 5-minute PR budget", total)
	} else {
		t.Logf("with the clean pass, invariance and abnormal inputs: %.0f s", total)
	}
	// A model ten times heavier loses severities before it loses the budget.
	n, kept, spent = simulateSchedule(10/passesPerSecond, 2, 19, d.Severities, d.Sample, d.BudgetSeconds)
	t.Logf("10x heavier model: %d images per cell at severities %v, %.0f s", n, kept, spent)
	if spent > d.BudgetSeconds*1.2 || n < minCellImages {
		t.Errorf("heavy model: %d images, %.0f s", n, spent)
	}
	full := 19 * 5 * 1000 / passesPerSecond / 60
	if full < 15 || full > 19 {
		t.Errorf("the full sweep of 1,000 images is %.1f min per model, want the issue's ~17", full)
	}
}
