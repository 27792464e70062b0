package checks

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/report"
)

func TestAdvLooks(t *testing.T) {
	tests := []struct {
		n    int
		want []int
	}{
		{1, []int{1}},
		{10, []int{10}},
		{11, []int{10, 11}},
		{30, []int{10, 20, 30}},
		{50, []int{10, 20, 35, 50}},
		{51, []int{10, 20, 35, 50, 51}},
		{200, []int{10, 20, 35, 50, 75, 112, 168, 200}},
	}
	for _, tt := range tests {
		if got := advLooks(tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("advLooks(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestAdvFitQueries(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name                string
		maxQueries, attacks int
		perQuery, budget    time.Duration
		want                int
	}{
		{"fits", 300, 1, ms, 60 * time.Second, 300},                         // 20 x 300 x 1 ms = 6 s
		{"not measured", 300, 1, 0, 60 * time.Second, 300},                  // no rate: as configured
		{"no budget", 300, 1, ms, 0, 300},                                   // budget 0: as configured
		{"cut to a multiple of 50", 300, 1, 12 * ms, 60 * time.Second, 250}, // fit 250
		{"two attacks halve it", 1000, 2, 6 * ms, 60 * time.Second, 250},    // fit 250
		{"cut to a multiple of 10", 300, 1, 40 * ms, 60 * time.Second, 70},  // fit 75
		{"floor", 300, 1, time.Second, 60 * time.Second, advMinQueries},     // fit 3
		{"floor never above max_queries", 5, 1, time.Second, time.Second, 5},
	}
	for _, tt := range tests {
		if got := advFitQueries(tt.maxQueries, tt.attacks, tt.perQuery, tt.budget); got != tt.want {
			t.Errorf("%s: advFitQueries(%d, %d, %v, %v) = %d, want %d", tt.name, tt.maxQueries, tt.attacks, tt.perQuery, tt.budget, got, tt.want)
		}
	}
}

// TestAdvJudge: a gate settles only when its exact interval clears the threshold.
func TestAdvJudge(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	level := 1 - advAlpha/4
	tests := []struct {
		name  string
		c     advCounts
		minRA *float64
		drop  *float64
		want  []gateState // in advJudge's order: min_robust_accuracy, then the drop
	}{
		{"no gate, no baseline", advCounts{n: 10, candRobust: 3}, nil, nil, nil},
		{"robust accuracy 0/10 is below 0.5", advCounts{n: 10}, f(0.5), nil, []gateState{gateBeyond}},
		// 0/10: the 98.75% upper bound is 0.36, so 0.3 is not yet excluded.
		{"robust accuracy 0/10 vs 0.3 is open", advCounts{n: 10}, f(0.3), nil, []gateState{gateOpen}},
		{"robust accuracy 50/50 is above 0.8", advCounts{n: 50, candRobust: 50}, f(0.8), nil, []gateState{gateWithin}},
		{"robust accuracy 8/10 vs 0.5 is open", advCounts{n: 10, candRobust: 8}, f(0.5), nil, []gateState{gateOpen}},
		{"no discordance in 35 is within a 0.2 drop", advCounts{n: 35, hasBase: true}, nil, f(0.2), []gateState{gateWithin}},
		{"no discordance in 20 is not yet within 0.2", advCounts{n: 20, hasBase: true}, nil, f(0.2), []gateState{gateOpen}},
		{"9 of 10 lost is beyond a 0.1 drop", advCounts{n: 10, baseOnly: 9, hasBase: true}, nil, f(0.1), []gateState{gateBeyond}},
		{"gains do not count as a drop", advCounts{n: 50, candOnly: 20, candRobust: 20, hasBase: true}, nil, f(0.05), []gateState{gateWithin}},
		// 8 of 10 lost: the score test's p is 0.015, over the look's 0.0125.
		{"8 of 10 lost is not yet beyond a 0.1 drop", advCounts{n: 10, baseOnly: 8, hasBase: true}, nil, f(0.1), []gateState{gateOpen}},
		{"report only: a clear loss is shown", advCounts{n: 20, baseOnly: 15, hasBase: true}, nil, nil, []gateState{gateBeyond}},
		{"report only: a clear gain is shown", advCounts{n: 20, candOnly: 15, candRobust: 15, hasBase: true}, nil, nil, []gateState{gateWithin}},
		{"report only: balanced discordance shows nothing", advCounts{n: 50, baseOnly: 5, candOnly: 5, hasBase: true}, nil, nil, []gateState{gateOpen}},
		{"both gates", advCounts{n: 50, candRobust: 45, hasBase: true}, f(0.5), f(0.15), []gateState{gateWithin, gateWithin}},
	}
	for _, tt := range tests {
		cfg := config.RobustAdversarial{MinRobustAccuracy: tt.minRA, MaxDrop: tt.drop}
		gates := advJudge(tt.c, cfg, level)
		var got []gateState
		for _, g := range gates {
			got = append(got, g.state)
			if !(g.interval.Lo <= g.interval.Estimate && g.interval.Estimate <= g.interval.Hi) {
				t.Errorf("%s: %s interval [%g, %g] does not hold its estimate %g", tt.name, g.name, g.interval.Lo, g.interval.Hi, g.interval.Estimate)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: states %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestAdvSettled(t *testing.T) {
	g := func(name string, s gateState) advGate { return advGate{name: name, state: s} }
	tests := []struct {
		name  string
		gates [][]advGate
		want  bool
	}{
		{"no gate", [][]advGate{nil}, false},
		{"all within", [][]advGate{{g("min_robust_accuracy", gateWithin)}, {g("max_drop", gateWithin)}}, true},
		{"one open", [][]advGate{{g("min_robust_accuracy", gateWithin)}, {g("max_drop", gateOpen)}}, false},
		{"one beyond decides", [][]advGate{{g("min_robust_accuracy", gateOpen)}, {g("max_drop", gateBeyond)}}, true},
		{"report-only difference shown", [][]advGate{{g("difference", gateWithin)}}, true},
		{"report-only difference open", [][]advGate{{g("difference", gateOpen)}}, false},
	}
	for _, tt := range tests {
		if got := advSettled(tt.gates); got != tt.want {
			t.Errorf("%s: advSettled = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestAdvSequentialErrorRate: simulated at a truth exactly on a threshold, where a settled verdict
// is wrong whichever side it lands on, the sequential rule (every look of 10, 20, 35, 50 images
// checked at the Bonferroni level) settles in fewer than alpha = 5% of runs, for each gate. It
// is the peeking that would inflate this: a 95% interval checked at 4 looks settles more often.
func TestAdvSequentialErrorRate(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	const runs = 4000
	looks := advLooks(50)
	level := 1 - advAlpha/float64(len(looks))
	tests := []struct {
		name string
		cfg  config.RobustAdversarial
		// draw is one image's outcome: candidate robust, baseline robust.
		draw func(r *rand.Rand) (bool, bool)
	}{
		{"robust accuracy at min_robust_accuracy 0.5", config.RobustAdversarial{MinRobustAccuracy: f(0.5)},
			func(r *rand.Rand) (bool, bool) { return r.Float64() < 0.5, false }},
		{"robust accuracy at min_robust_accuracy 0.2", config.RobustAdversarial{MinRobustAccuracy: f(0.2)},
			func(r *rand.Rand) (bool, bool) { return r.Float64() < 0.2, false }},
		// The drop is p01 - p10 = 0.25 - 0.15 = 0.1, with much discordance.
		{"drop at max_drop 0.1", config.RobustAdversarial{MaxDrop: f(0.1)},
			func(r *rand.Rand) (bool, bool) {
				u := r.Float64()
				return u >= 0.25 && u < 0.4, u < 0.25
			}},
		// Only losses, none of them offset: the score test's skewed case.
		{"drop at max_drop 0.1, losses only", config.RobustAdversarial{MaxDrop: f(0.1)},
			func(r *rand.Rand) (bool, bool) { return false, r.Float64() < 0.1 }},
		{"drop at max_drop 0.05, losses only", config.RobustAdversarial{MaxDrop: f(0.05)},
			func(r *rand.Rand) (bool, bool) { return false, r.Float64() < 0.05 }},
	}
	for _, tt := range tests {
		rng := rand.New(rand.NewPCG(1, 2))
		settled := 0
		for range runs {
			c := advCounts{hasBase: tt.cfg.MaxDrop != nil}
			for _, n := range looks {
				for c.n < n {
					rc, rb := tt.draw(rng)
					c.n++
					if rc {
						c.candRobust++
					}
					if rc && !rb {
						c.candOnly++
					}
					if rb && !rc {
						c.baseOnly++
					}
				}
				if advSettled([][]advGate{advJudge(c, tt.cfg, level)}) {
					settled++
					break
				}
			}
		}
		rate := float64(settled) / runs
		t.Logf("%s: settled (wrongly) in %d of %d runs (%.2f%%)", tt.name, settled, runs, 100*rate)
		if rate > advAlpha {
			t.Errorf("%s: settled in %.2f%% of runs at the threshold, want at most %.0f%%", tt.name, 100*rate, 100*advAlpha)
		}
	}
}

// advCheck runs robust.adversarial as the suite does.
func advCheck(t *testing.T, env *Env) *report.Result {
	t.Helper()
	res, err := RobustAdversarial{}.Run(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestAdversarialSequentialVerdicts: on real MNIST models, on clear cases the sequential check
// reaches the verdict the fixed design (budget_seconds 0: the whole sample in one look) does, on
// fewer images; the images it attacked are a prefix of the fixed design's, with the same
// outcomes.
func TestAdversarialSequentialVerdicts(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	tests := []struct {
		name                string
		candidate, baseline string
		set                 func(ra *config.RobustAdversarial)
		wantStatus          report.Status
	}{
		// Square at L-inf 0.3 breaks an undefended CNN on nearly every image: far below 0.9.
		{"robust accuracy clearly below the minimum", "mnist_cnn.onnx", "", func(ra *config.RobustAdversarial) {
			ra.MinRobustAccuracy = f(0.9)
		}, report.StatusWarn},
		// Seed twins are both broken on nearly every image: no drop, well within 0.25. (An exact
		// interval cannot show a drop of at most 0.2 on fewer than about 35 images even when
		// nothing differs: see TestAdvJudge.)
		{"seed-only change clearly within max_drop", "mnist_cnn_seed2.onnx", "mnist_cnn.onnx", func(ra *config.RobustAdversarial) {
			ra.MaxDrop = f(0.25)
		}, report.StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := func(budget float64) *report.Result {
				env := testEnv(t, tt.candidate, tt.baseline, "mnist", advConfig(func(ra *config.RobustAdversarial) {
					ra.Sample, ra.Epsilon, ra.PInit, ra.MaxQueries = 50, 0.3, 0.8, 200
					tt.set(ra)
					ra.BudgetSeconds = budget
				}))
				return advCheck(t, env)
			}
			fixed, seq := run(0), run(1e6)
			t.Logf("fixed: %s: %s", fixed.Status, fixed.Summary)
			t.Logf("sequential: %s: %s", seq.Status, seq.Summary)
			if fixed.Status != tt.wantStatus || seq.Status != tt.wantStatus {
				t.Fatalf("status fixed %s, sequential %s, want %s for both", fixed.Status, seq.Status, tt.wantStatus)
			}
			if seq.Metrics["settled"] != 1 {
				t.Errorf("the sequential check did not settle: %s", sectionText(seq, "Sample and budget"))
			}
			if n, full := seq.Metrics["sample"], fixed.Metrics["sample"]; n >= full {
				t.Errorf("the sequential check attacked %g images, the fixed one %g: it did not stop earlier", n, full)
			}
			for k, run := range seq.Attacks {
				fr := fixed.Attacks[k]
				for i, im := range run.Images {
					if fi := fr.Images[i]; fi.Path != im.Path || fi.Queries != im.Queries || fi.Success8bit != im.Success8bit {
						t.Errorf("%s %s image %d: sequential %s (%d queries, broken %v), fixed %s (%d, %v)", run.Attack, run.Model, i,
							im.Path, im.Queries, im.Success8bit, fi.Path, fi.Queries, fi.Success8bit)
					}
				}
			}
		})
	}
}

// TestAdversarialBudget: a budget too small for the configured queries cuts them and says so,
// and a verdict the budget left unsettled reads as such.
func TestAdversarialBudget(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	env := testEnv(t, "mnist_cnn_seed2.onnx", "mnist_cnn.onnx", "mnist", advConfig(func(ra *config.RobustAdversarial) {
		ra.Sample, ra.Epsilon, ra.PInit, ra.MaxQueries = 50, 0.3, 0.8, 300
		ra.MaxDrop = f(0.2)
		ra.BudgetSeconds = 1e-3
	}))
	res := advCheck(t, env)
	text := sectionText(res, "Sample and budget")
	t.Logf("%s: %s\n%s", res.Status, res.Summary, text)
	if res.Metrics["max_queries"] != advMinQueries {
		t.Errorf("max_queries %g, want the floor %d", res.Metrics["max_queries"], advMinQueries)
	}
	if res.Metrics["sample"] != 10 || res.Metrics["settled"] != 0 {
		t.Errorf("sample %g, settled %g: want the first look only, unsettled", res.Metrics["sample"], res.Metrics["settled"])
	}
	for _, want := range []string{"would not fit", "queries per image cut from max_queries 300 to 20", "40 of the 50 sampled images not attacked"} {
		if !strings.Contains(text, want) {
			t.Errorf("budget section lacks %q", want)
		}
	}
	if !strings.Contains(res.Summary, "not settled within budget_seconds") {
		t.Errorf("summary %q does not say the verdict is unsettled", res.Summary)
	}
}

// sectionText is the text of the result's section with that title.
func sectionText(res *report.Result, title string) string {
	for _, s := range res.Details {
		if s.Title == title {
			return s.Text
		}
	}
	return ""
}
