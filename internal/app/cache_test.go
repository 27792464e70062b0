package app

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/report"
)

// timing matches durations in report text ("1.1 s", "0.02s", "0.051 ms").
var timing = regexp.MustCompile(`\d+(\.\d+)? ?(ms|s)\b`)

// comparable is a report as JSON without what differs between runs by nature (timings, and the
// model.latency check, which is all timings) and without where its records came from (the cache
// counts, each check's forward passes, and the merge's note saying so).
func comparable(t *testing.T, r *report.Report) string {
	t.Helper()
	r.Run.Counters = report.Counters{}
	r.Run.StartedAt = ""
	r.Run.CI = nil
	var notes []string
	for _, n := range r.Run.Notes {
		if !strings.HasPrefix(n, "merged ") {
			notes = append(notes, n)
		}
	}
	r.Run.Notes = notes
	r.Inputs.Dataset.DecodeSeconds = 0
	if r.Inputs.Train != nil {
		r.Inputs.Train.DecodeSeconds = 0
	}
	for ti := range r.Targets {
		tg := &r.Targets[ti]
		tg.Cache = nil
		var kept []report.Result
		for _, res := range tg.Results {
			if res.ID == "model.latency" {
				continue
			}
			// How much inference a check did is what the cache changes, by design.
			res.DurationSeconds, res.ForwardPasses, res.ORTSeconds = 0, 0, 0
			delete(res.Metrics, "load_seconds")
			delete(res.BaselineMetrics, "load_seconds")
			kept = append(kept, res)
		}
		tg.Results = kept
	}
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return timing.ReplaceAllString(string(b), "T")
}

// demoRun runs the repository's demo configuration with extra flags, from the repository root.
func demoRun(t *testing.T, h *harness, args ...string) {
	t.Helper()
	code, _, stderr := h.run(append([]string{"check", "--config", ".cvgate.yml", "--quiet"}, args...)...)
	if code != ExitPass {
		t.Fatalf("%v: exit %d\n%s", args, code, stderr)
	}
}

func readReport(t *testing.T, dir string) *report.Report {
	t.Helper()
	r, err := report.ReadJSON(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d:\n  %s\n  %s", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("%d lines vs %d", len(la), len(lb))
}

// A warm rerun of the demo reads every per-image record from the cache and writes the same report
// as the cold run, but for timings and the cache counts.
func TestWarmCacheReportEqualsCold(t *testing.T) {
	h := newHarness(t)
	h.dir = h.root
	tmp := t.TempDir()
	cache := filepath.Join(tmp, "cache")
	var reports [2]*report.Report
	for i := range reports {
		out := filepath.Join(tmp, fmt.Sprint("out", i))
		demoRun(t, h, "--cache", cache, "--out", out)
		reports[i] = readReport(t, out)
	}
	cold, warm := reports[0], reports[1]
	cc, wc := cold.Targets[0].Cache, warm.Targets[0].Cache
	if cc == nil || wc == nil || wc.Baseline == nil {
		t.Fatalf("cache counts missing: cold %+v warm %+v", cc, wc)
	}
	if cc.Candidate.Hits != 0 || cc.Candidate.Misses == 0 || wc.Candidate.Misses != 0 || wc.Baseline.Misses != 0 ||
		wc.Candidate.Hits != cc.Candidate.Misses || wc.Baseline.Hits != cc.Baseline.Misses {
		t.Errorf("cold %+v %+v, warm %+v %+v: want every cold record read back", cc.Candidate, *cc.Baseline, wc.Candidate, *wc.Baseline)
	}
	if w, c := warm.Run.Counters.ForwardPasses, cold.Run.Counters.ForwardPasses; w*10 > c {
		t.Errorf("warm run made %d forward passes, cold %d: want under a tenth", w, c)
	}
	if a, b := comparable(t, cold), comparable(t, warm); a != b {
		t.Errorf("warm report differs from the cold one: %s", firstDiff(a, b))
	}
	md, err := os.ReadFile(filepath.Join(tmp, "out1", "report.md"))
	if err != nil || !strings.Contains(string(md), "prediction cache: candidate") {
		t.Errorf("report.md lacks the cache line (%v)", err)
	}
}

// A damaged cache is never trusted: its packs are dropped with a note and the run recomputes.
func TestDamagedCacheIsIgnored(t *testing.T) {
	h := newHarness(t)
	h.dir = h.root
	tmp := t.TempDir()
	cache := filepath.Join(tmp, "cache")
	checks := "perf.baseline,robust.invariance"
	demoRun(t, h, "--cache", cache, "--out", filepath.Join(tmp, "a"), "--checks", checks)
	packs, _ := filepath.Glob(filepath.Join(cache, "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("%d packs", len(packs))
	}
	b, _ := os.ReadFile(packs[0])
	b[len(b)/2] ^= 0xff
	os.WriteFile(packs[0], b, 0o600)
	demoRun(t, h, "--cache", cache, "--out", filepath.Join(tmp, "b"), "--checks", checks)
	a, d := readReport(t, filepath.Join(tmp, "a")), readReport(t, filepath.Join(tmp, "b"))
	found := false
	for _, n := range d.Run.Notes {
		found = found || strings.Contains(n, "corrupt, truncated or foreign")
	}
	if c := d.Targets[0].Cache; !found || c.Candidate.Misses+c.Baseline.Misses == 0 {
		t.Errorf("damaged record not reported or recomputed: notes %q, cache %+v %+v", d.Run.Notes, c.Candidate, *c.Baseline)
	}
	d.Run.Notes = nil
	if x, y := comparable(t, a), comparable(t, d); x != y {
		t.Errorf("report after a damaged cache differs: %s", firstDiff(x, y))
	}
}

// Shards merge to the single-machine report: every statistic is recomputed from the union of the
// shards' per-image records, and the merge runs (nearly) no model.
func TestShardsMergeToTheSingleMachineReport(t *testing.T) {
	h := newHarness(t)
	h.dir = h.root
	tmp := t.TempDir()
	checks := "perf.baseline,robust.corruptions,robust.adversarial,robust.invariance"
	single := filepath.Join(tmp, "single")
	demoRun(t, h, "--cache", "off", "--out", single, "--checks", checks)
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			want := readReport(t, single)
			var dirs []string
			for i := range n {
				d := filepath.Join(tmp, fmt.Sprintf("n%d-shard-%d", n, i))
				demoRun(t, h, "--cache", "off", "--out", d, "--checks", checks, "--shard", fmt.Sprintf("%d/%d", i, n))
				if _, err := os.Stat(filepath.Join(d, "report.json")); err == nil {
					t.Errorf("shard %d wrote a report", i)
				}
				dirs = append(dirs, d)
			}
			out := filepath.Join(tmp, fmt.Sprint("merged", n))
			code, _, stderr := h.run(append([]string{"merge", "--config", ".cvgate.yml", "--quiet", "--cache", "off", "--out", out, "--checks", checks}, dirs...)...)
			if code != ExitPass {
				t.Fatalf("merge: exit %d\n%s", code, stderr)
			}
			got := readReport(t, out)
			c := got.Targets[0].Cache
			if c == nil || c.Candidate.Misses != 0 || c.Baseline == nil || c.Baseline.Misses != 0 {
				t.Errorf("merge computed records: %+v", c)
			}
			if g, w := got.Run.Counters.ForwardPasses, want.Run.Counters.ForwardPasses; g*20 > w {
				t.Errorf("merge made %d forward passes, the single run %d: want under a twentieth", g, w)
			}
			if a, b := comparable(t, want), comparable(t, got); a != b {
				t.Errorf("merged report differs from the single-machine one: %s", firstDiff(a, b))
			}
			// A missing shard is an error naming it.
			code, _, stderr = h.run(append([]string{"merge", "--config", ".cvgate.yml", "--quiet", "--cache", "off", "--out", out, "--checks", checks}, dirs[1:]...)...)
			if code != ExitCannotRun || !strings.Contains(stderr, "shard(s) 0 of") {
				t.Errorf("merge without shard 0: exit %d, %q", code, stderr)
			}
		})
	}
	// A shard of another configuration is refused.
	other := filepath.Join(tmp, "other")
	demoRun(t, h, "--cache", "off", "--out", other, "--checks", "perf.baseline", "--shard", "0/1")
	code, _, stderr := h.run("merge", "--config", ".cvgate.yml", "--quiet", "--cache", "off", "--out", filepath.Join(tmp, "x"), "--checks", checks, other)
	if code != ExitCannotRun || !strings.Contains(stderr, "another configuration") {
		t.Errorf("merge of a foreign shard: exit %d, %q", code, stderr)
	}
}

// Detectors and segmenters store decoded predictions (boxes, label maps) as records: a warm rerun
// must read them all back and report the same as the cold run, the decoder's description and the
// warnings drawn from decoded outputs included.
func TestWarmCacheTasks(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"detection", []string{"--model", "det/det_yolov8.onnx", "--baseline", "det/det_weak_yolov8.onnx",
			"--data", "det/images", "--annotations", "det/instances_val.json"}},
		{"segmentation", []string{"--model", "seg/seg_unet_weak.onnx", "--baseline", "seg/seg_unet.onnx",
			"--data", "", "--labels", "seg/labels.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tmp := t.TempDir()
			cache := filepath.Join(tmp, "cache")
			args := append([]string(nil), tc.args...)
			for i := 1; i < len(args); i += 2 {
				if args[i] != "" {
					args[i] = h.testdata(args[i])
					continue
				}
				// Segmentation data: images beside their masks folder, as TestSegmentation has it.
				args[i] = filepath.Join(h.dir, "seg")
				for _, d := range []string{"images", "masks"} {
					copyTree(t, h.testdata("seg/"+d), filepath.Join(args[i], d))
				}
			}
			var reports [2]*report.Report
			for i := range reports {
				out := filepath.Join(tmp, fmt.Sprint("out", i))
				code, _, stderr := h.run(append([]string{"check", "--quiet", "--cache", cache, "--out", out,
					"--checks", "model.numerics,perf.metrics,perf.baseline,robust.invariance,robust.abnormal"}, args...)...)
				if code != ExitPass && code != ExitGateFailed {
					t.Fatalf("run %d: exit %d\n%s", i, code, stderr)
				}
				reports[i] = readReport(t, out)
			}
			cold, warm := reports[0], reports[1]
			wc := warm.Targets[0].Cache
			// One miss per model: the decoder settles its convention on one image predicted anew.
			if wc == nil || wc.Candidate.Hits == 0 || wc.Candidate.Misses != 1 || wc.Baseline == nil || wc.Baseline.Misses != 1 {
				t.Errorf("warm cache counts %+v: want every record but one read back", wc)
			}
			if a, b := comparable(t, cold), comparable(t, warm); a != b {
				t.Errorf("warm report differs from the cold one: %s", firstDiff(a, b))
			}
		})
	}
}
