package checks

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/preprocess"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/report"
)

// IDModelLatency is the ID of the latency check.
const IDModelLatency = "model.latency"

// ModelLatency measures load time, batch-1 latency (p50/p95/p99), throughput at one batch size
// and the memory a fresh session takes, for the candidate and the baseline in the same process
// with their runs interleaved, so that machine noise (other jobs, frequency scaling, a noisy CI
// neighbour) hits both alike and cancels in their ratio. See MeasureLatency and LatencyRatio for
// why the comparison holds on a loaded shared runner.
type ModelLatency struct{}

// ID implements Check.
func (ModelLatency) ID() string { return IDModelLatency }

// Common implements Toggled.
func (ModelLatency) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.ModelLatency.Common, true
}

// Title implements Check.
func (ModelLatency) Title() string { return "Latency, throughput and memory" }

// LatencyOptions configure MeasureLatency.
type LatencyOptions struct {
	// Repeats is the number of batch-1 rounds; in each, every model runs twice (ABBA).
	Repeats int
	Batch   int // throughput batch for models with a dynamic batch dimension; 0: the models' automatic batch
	// Threads is the intra-op thread count of the sessions the batch-1 rounds run on: 1 (the
	// check's default) gives each model a fresh single-threaded session, all run from one locked
	// OS thread; 0 times the subjects' own sessions.
	Threads int
	// Budget bounds the batch-1 phase: with slow models the rounds are cut to fit it (at least
	// minRepeats). Zero means defaultBudget.
	Budget time.Duration
}

// LatencyProfile is one model's measurements. Latencies are in milliseconds.
type LatencyProfile struct {
	Name string
	// Samples are all batch-1 latencies, two per round, in the order they ran.
	Samples []float64
	// Rounds is, per round, the sum of the model's two batch-1 runs. Rounds[i] of profiles
	// measured together come from the same round, which is what makes their ratios paired.
	Rounds        []float64
	P50, P95, P99 float64
	Mean          float64
	// Threads is the intra-op thread count of the batch-1 sessions; 0: all cores.
	Threads          int
	FixedBatch       int // the model's fixed batch dimension; 0 when dynamic
	Batch            int // the throughput batch
	Throughput       float64
	LoadSeconds      float64
	LoadMeasured     bool  // LoadSeconds comes from a fresh reopen (else from the first open)
	MemoryBytes      int64 // resident memory growth; -1 when not measured
	ThroughputRounds int
}

const (
	warmupRounds   = 3
	minRepeats     = 10
	throughputRuns = 3
	defaultBudget  = time.Minute
	// latencyLevel is the level of the ratio's interval.
	latencyLevel = 0.95
)

// feeder runs a fixed, preprocessed batch of real images through a model.
type feeder func(ctx context.Context, m *onnx.Model) error

func newFeeder(s *Subject, imgs []*imaging.Image) feeder {
	var sc preprocess.Scratch
	per := s.Spec.SampleSize()
	n := len(imgs)
	if s.Spec.DType == onnx.Uint8 {
		buf := make([]uint8, n*per)
		for j, img := range imgs {
			s.Spec.ApplyUint8(img, buf[j*per:(j+1)*per], &sc)
		}
		return func(ctx context.Context, m *onnx.Model) error {
			_, _, err := onnx.Run(ctx, m, buf, n, s.Spec.Dims)
			return err
		}
	}
	buf := make([]float32, n*per)
	for j, img := range imgs {
		s.Spec.Apply(img, buf[j*per:(j+1)*per], &sc)
	}
	return func(ctx context.Context, m *onnx.Model) error {
		_, _, err := onnx.Run(ctx, m, buf, n, s.Spec.Dims)
		return err
	}
}

// sampleImages returns n images of the data set, cycling when it has fewer.
func sampleImages(ds *dataset.Dataset, n int) []*imaging.Image {
	out := make([]*imaging.Image, n)
	for i := range out {
		out[i] = ds.Items[i%len(ds.Items)].Image
	}
	return out
}

// MeasureLatency times the subjects on real images from ds, interleaved, then measures
// throughput (also interleaved) and, where Subject.Reopen is set, load time and memory on a fresh
// session of each model.
//
// Batch-1 latency is measured in rounds. In each round every model runs twice, in the order
// A B ... B A (ABBA for two models): each model's two runs sit symmetrically in the round, so a
// load that rises or falls steadily through the round costs every model the same, and each model
// runs once right after the other (a cold cache) and once after itself. A round's sum of the two
// runs is the model's value for that round; LatencyRatio compares the models round by round.
// With Threads 1 every model gets a fresh single-threaded session and all runs happen on one OS
// thread locked for the purpose: with a thread pool per session, on a loaded machine the pools of
// two sessions of the same file land on differently loaded cores and stay there, and the ratio
// measured the scheduler (identical models at x1.3 in some runs on a loaded 2-core machine; with
// one thread, within 1.5%).
//
// Throughput runs on the subjects' own sessions at one batch for all: the configured batch, else
// the first dynamic model's automatic batch; when a model's batch is fixed, the dynamic ones run
// at that batch too, so that the row compares like with like.
//
// Memory is the growth of the process's resident set from just before a fresh session is created
// to just after it ran one throughput batch (Linux; -1 elsewhere). It approximates what the model
// adds when loaded and run: ONNX Runtime keeps its arena after the run, so the peak is still
// resident, but the allocator may reuse memory freed earlier without growing, which can hide part
// of it. The sessions are opened one after the other and kept open until all are measured, so
// that one model's freed memory is not reused by the next.
func MeasureLatency(ctx context.Context, ds *dataset.Dataset, subjects []*Subject, o LatencyOptions) ([]*LatencyProfile, error) {
	if len(ds.Items) == 0 {
		return nil, fmt.Errorf("measure latency: no image to feed")
	}
	if len(subjects) == 0 {
		return nil, fmt.Errorf("measure latency: no model")
	}
	if o.Budget == 0 {
		o.Budget = defaultBudget
	}
	batch := throughputBatch(subjects, o.Batch)
	profiles := make([]*LatencyProfile, len(subjects))
	one := make([]feeder, len(subjects))
	many := make([]feeder, len(subjects))
	for k, s := range subjects {
		p := &LatencyProfile{Name: s.Name, MemoryBytes: -1, LoadSeconds: s.Model.LoadDuration.Seconds(), Threads: o.Threads}
		if s.Model.FixedBatch {
			p.FixedBatch = s.Model.Batch
		}
		p.Batch = s.Model.Batch
		if !s.Model.FixedBatch {
			p.Batch = batch
		}
		profiles[k] = p
		one[k] = newFeeder(s, sampleImages(ds, 1))
		many[k] = newFeeder(s, sampleImages(ds, p.Batch))
	}
	if err := timeRounds(ctx, subjects, profiles, one, o); err != nil {
		return nil, err
	}
	for _, p := range profiles {
		q, err := stats.Quantiles(p.Samples, 0.5, 0.95, 0.99)
		if err != nil {
			return nil, err
		}
		p.P50, p.P95, p.P99 = q[0], q[1], q[2]
		p.Mean, _ = stats.Mean(p.Samples)
	}

	// Throughput at the batch size, interleaved as well (one warm-up batch each first).
	times := make([][]float64, len(subjects))
	for round := -1; round < throughputRuns; round++ {
		for j := range subjects {
			k := (max(round, 0) + j) % len(subjects)
			start := time.Now()
			if err := many[k](ctx, subjects[k].Model); err != nil {
				return nil, fmt.Errorf("time %q at batch %d: %w", subjects[k].Name, profiles[k].Batch, err)
			}
			if round >= 0 {
				times[k] = append(times[k], time.Since(start).Seconds())
			}
		}
	}
	for k, p := range profiles {
		med, err := stats.Median(times[k])
		if err != nil {
			return nil, err
		}
		p.Throughput = float64(p.Batch) / med
		p.ThroughputRounds = len(times[k])
	}

	if err := measureLoads(ctx, subjects, profiles, many); err != nil {
		return nil, err
	}
	return profiles, nil
}

// throughputBatch is the batch every dynamic-batch subject is timed at: the one fixed batch among
// the subjects when there is one, else the configured batch, else the first dynamic model's
// automatic batch.
func throughputBatch(subjects []*Subject, configured int) int {
	fixed := 0
	for _, s := range subjects {
		if s.Model.FixedBatch {
			if fixed != 0 && fixed != s.Model.Batch {
				fixed = -1 // two different fixed batches: nothing makes them alike
			} else if fixed == 0 {
				fixed = s.Model.Batch
			}
		}
	}
	if fixed > 0 {
		return fixed
	}
	if configured > 0 {
		return configured
	}
	for _, s := range subjects {
		if !s.Model.FixedBatch {
			return max(s.Model.Batch, 1)
		}
	}
	return 1
}

// timeRounds runs the batch-1 rounds (see MeasureLatency).
func timeRounds(ctx context.Context, subjects []*Subject, profiles []*LatencyProfile, one []feeder, o LatencyOptions) error {
	models := make([]*onnx.Model, len(subjects))
	for k, s := range subjects {
		models[k] = s.Model
		if o.Threads <= 0 {
			continue
		}
		m, err := s.Model.WithThreads(o.Threads)
		if err != nil {
			return fmt.Errorf("open %q for batch-1 timing: %w", s.Name, err)
		}
		defer m.Close()
		models[k] = m
	}
	// Single-threaded sessions run on the calling thread: keep every run on the same one.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	// The order of a round: every model, then every model again in reverse.
	order := make([]int, 0, 2*len(subjects))
	for k := range subjects {
		order = append(order, k)
	}
	for k := len(subjects) - 1; k >= 0; k-- {
		order = append(order, k)
	}
	sums := make([]float64, len(subjects))
	round := func(keep bool) error {
		clear(sums)
		for _, k := range order {
			start := time.Now()
			if err := one[k](ctx, models[k]); err != nil {
				return fmt.Errorf("time %q: %w", subjects[k].Name, err)
			}
			ms := float64(time.Since(start)) / float64(time.Millisecond)
			sums[k] += ms
			if keep {
				profiles[k].Samples = append(profiles[k].Samples, ms)
			}
		}
		if keep {
			for k, p := range profiles {
				p.Rounds = append(p.Rounds, sums[k])
			}
		}
		return nil
	}
	// Warm-up: first runs allocate ONNX Runtime's buffers and fill caches.
	warmStart := time.Now()
	for range warmupRounds {
		if err := round(false); err != nil {
			return fmt.Errorf("warm up: %w", err)
		}
	}
	repeats := max(o.Repeats, minRepeats)
	if perRound := time.Since(warmStart) / warmupRounds; perRound > 0 {
		if fit := int(o.Budget / perRound); fit < repeats {
			repeats = max(fit, minRepeats)
		}
	}
	for range repeats {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("time batch-1 rounds: %w", err)
		}
		if err := round(true); err != nil {
			return err
		}
	}
	return nil
}

// measureLoads opens a fresh session of each subject that can be reopened, timing the load and
// recording the resident memory it adds (see MeasureLatency).
func measureLoads(ctx context.Context, subjects []*Subject, profiles []*LatencyProfile, many []feeder) error {
	var opened []*onnx.Model
	defer func() {
		for _, m := range opened {
			m.Close()
		}
	}()
	for k, s := range subjects {
		if s.Reopen == nil {
			continue
		}
		// Collect Go garbage first so that a collection in the middle does not shrink the count.
		runtime.GC()
		before := residentBytes()
		start := time.Now()
		m, err := s.Reopen()
		if err != nil {
			return fmt.Errorf("reopen %q: %w", s.Name, err)
		}
		load := time.Since(start)
		opened = append(opened, m)
		afterLoad := residentBytes()
		if err := many[k](ctx, m); err != nil {
			return fmt.Errorf("run reopened %q: %w", s.Name, err)
		}
		afterRun := residentBytes()
		profiles[k].LoadSeconds = load.Seconds()
		profiles[k].LoadMeasured = true
		if before >= 0 && afterLoad >= 0 && afterRun >= 0 {
			profiles[k].MemoryBytes = max(max(afterLoad, afterRun)-before, 0)
		}
	}
	return nil
}

// residentBytes is the process's current resident set size (Linux), or -1.
func residentBytes() int64 {
	if runtime.GOOS != "linux" {
		return -1
	}
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return -1
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize())
}

// LatencyRatio is the typical batch-1 latency of a over b: the median over rounds of the ratio
// of the two models' round sums (geometric, so that a/b and b/a are reciprocal), with a 95%
// batch-median interval over the rounds (stats.BatchMedianInterval). Both profiles must come from
// the same MeasureLatency call.
//
// Rounds are not independent on a loaded machine: a burst of load slows several consecutive
// rounds, in each of them one model more than the other. A bootstrap that resamples rounds one by
// one (this check's method before) treats those rounds as separate evidence, and its intervals
// excluded 1 for a model against itself in about a fifth of runs on a loaded 2-core machine.
// Batches of consecutive rounds absorb such bursts: the batch medians are close to independent,
// and their spread gives an honest width (TestLatencyUnderLoad measures both).
func LatencyRatio(a, b *LatencyProfile) (stats.Interval, error) {
	n := min(len(a.Rounds), len(b.Rounds))
	if n < 4 {
		return stats.Interval{}, fmt.Errorf("latency ratio: %d paired rounds, need at least 4", n)
	}
	logs := make([]float64, n)
	for i := range logs {
		logs[i] = math.Log(math.Max(a.Rounds[i], 1e-9) / math.Max(b.Rounds[i], 1e-9))
	}
	iv, err := stats.BatchMedianInterval(logs, ratioBatches(n), latencyLevel)
	if err != nil {
		return stats.Interval{}, fmt.Errorf("latency ratio: %w", err)
	}
	return stats.Interval{Estimate: math.Exp(iv.Estimate), Lo: math.Exp(iv.Lo), Hi: math.Exp(iv.Hi), Level: iv.Level}, nil
}

// ratioBatches is the number of batches of LatencyRatio's interval: about ten rounds a batch,
// between 5 batches (few rounds; the t quantile widens the interval accordingly) and 20.
func ratioBatches(rounds int) int {
	return min(max(rounds/10, 5), 20, rounds/2)
}

// Run implements Check.
func (ModelLatency) Run(ctx context.Context, env *Env) (*report.Result, error) {
	if len(env.Data.Items) == 0 {
		return nil, Skip("no image to feed")
	}
	cfg := env.Config.Thresholds.ModelLatency
	subjects := env.Subjects()
	profiles, err := MeasureLatency(ctx, env.Data, subjects, LatencyOptions{Repeats: cfg.Repeats, Batch: env.Config.Runtime.BatchSize, Threads: cfg.Threads})
	if err != nil {
		return nil, err
	}
	c := profiles[0]
	res := &report.Result{Status: report.StatusPass, Metrics: latencyMetrics(c, env.Candidate)}
	res.Summary = latencySummary(c)
	var thresholds, warnings []string
	if cfg.MaxP95Ms > 0 {
		thresholds = append(thresholds, fmt.Sprintf("p95 <= %g ms", cfg.MaxP95Ms))
		if c.P95 > cfg.MaxP95Ms {
			warnings = append(warnings, fmt.Sprintf("batch-1 p95 latency %s is over max_p95_ms %g", ms(c.P95), cfg.MaxP95Ms))
		}
	}
	var ratio stats.Interval
	if len(profiles) > 1 {
		b := profiles[1]
		thresholds = append(thresholds, fmt.Sprintf("slowdown <= +%.0f%%", 100*cfg.MaxSlowdown))
		if ratio, err = LatencyRatio(c, b); err != nil {
			return nil, err
		}
		res.BaselineMetrics = latencyMetrics(b, env.Baseline)
		res.Metrics["latency_ratio"] = round(ratio.Estimate)
		res.Metrics["latency_ratio_low"] = round(ratio.Lo)
		res.Metrics["latency_ratio_high"] = round(ratio.Hi)
		// Throughputs at different batches are not comparable: no ratio then.
		if c.Batch == b.Batch {
			res.Metrics["throughput_ratio"] = round(c.Throughput / b.Throughput)
		}
		sizeRatio := float64(env.Candidate.Model.SizeBytes) / float64(max(env.Baseline.Model.SizeBytes, 1))
		res.Metrics["size_ratio"] = round(sizeRatio)
		res.VsBaseline = fmt.Sprintf("latency ×%.2f [%.2f, %.2f] %s, size %+.0f%%", ratio.Estimate, ratio.Lo, ratio.Hi, arrow(ratio.Estimate-1, false), 100*(sizeRatio-1))
		// Warn only on a slowdown that is both over the limit and real: the whole interval above 1.
		// The slowdown must be large (the estimate over max_slowdown) and real (the interval above
		// 1): a small real slowdown is not worth a warning, a large one within noise is not real.
		if ratio.Estimate > 1+cfg.MaxSlowdown && ratio.Lo > 1 {
			warnings = append(warnings, fmt.Sprintf("batch-1 latency is ×%.2f the baseline's (95%% CI %.2f to %.2f), over max_slowdown +%.0f%%",
				ratio.Estimate, ratio.Lo, ratio.Hi, 100*cfg.MaxSlowdown))
		}
	}
	res.Threshold = joinNonEmpty(", ", thresholds...)
	if res.Threshold == "" {
		res.Threshold = "none set (report only)"
	}
	if len(warnings) > 0 {
		res.Status = report.StatusWarn
		res.Summary = strings.Join(warnings, "; ")
	}
	res.Details = append(res.Details, latencyTable(profiles, ratio, env), report.Section{Title: "Method", Text: latencyMethod(c, profiles)})
	return res, nil
}

func latencyMetrics(p *LatencyProfile, s *Subject) map[string]float64 {
	m := map[string]float64{
		"p50_ms":           round(p.P50),
		"p95_ms":           round(p.P95),
		"p99_ms":           round(p.P99),
		"mean_ms":          round(p.Mean),
		"repeats":          float64(len(p.Samples)),
		"throughput_ips":   round(p.Throughput),
		"throughput_batch": float64(p.Batch),
		"load_seconds":     round(p.LoadSeconds),
		"size_mb":          round(float64(s.Model.SizeBytes) / (1 << 20)),
	}
	if p.MemoryBytes >= 0 {
		m["memory_mb"] = round(float64(p.MemoryBytes) / (1 << 20))
	}
	return m
}

func latencySummary(p *LatencyProfile) string {
	parts := []string{fmt.Sprintf("p50 %s, p95 %s, p99 %s at batch 1", ms(p.P50), ms(p.P95), ms(p.P99))}
	if p.FixedBatch > 1 {
		parts[0] = fmt.Sprintf("p50 %s, p95 %s, p99 %s per call (fixed batch %d)", ms(p.P50), ms(p.P95), ms(p.P99), p.FixedBatch)
	}
	parts = append(parts, fmt.Sprintf("%s img/s at batch %d", thousands(int(math.Round(p.Throughput))), p.Batch),
		fmt.Sprintf("load %.2f s", p.LoadSeconds))
	if p.MemoryBytes >= 0 {
		parts = append(parts, fmt.Sprintf("+%.1f MB resident", float64(p.MemoryBytes)/(1<<20)))
	}
	return strings.Join(parts, " · ")
}

func latencyTable(profiles []*LatencyProfile, ratio stats.Interval, env *Env) report.Section {
	cols := []string{"metric", "candidate"}
	if len(profiles) > 1 {
		cols = append(cols, "baseline", "candidate / baseline")
	}
	t := tableOf(cols...)
	row := func(name string, f func(p *LatencyProfile) float64, format func(float64) string, withRatio bool) {
		cells := []string{name, format(f(profiles[0]))}
		if len(profiles) > 1 {
			r := ""
			if withRatio && f(profiles[1]) > 0 {
				r = fmt.Sprintf("×%.2f", f(profiles[0])/f(profiles[1]))
			}
			cells = append(cells, format(f(profiles[1])), r)
		}
		addRow(t, cells...)
	}
	row("p50 latency, batch 1", func(p *LatencyProfile) float64 { return p.P50 }, ms, false)
	if len(profiles) > 1 {
		t.Rows[len(t.Rows)-1][3] = fmt.Sprintf("×%.2f [%.2f, %.2f] (paired)", ratio.Estimate, ratio.Lo, ratio.Hi)
	}
	row("p95 latency, batch 1", func(p *LatencyProfile) float64 { return p.P95 }, ms, true)
	row("p99 latency, batch 1", func(p *LatencyProfile) float64 { return p.P99 }, ms, true)
	sameBatch := true
	for _, p := range profiles {
		sameBatch = sameBatch && p.Batch == profiles[0].Batch
	}
	if sameBatch {
		row(fmt.Sprintf("throughput, batch %d", profiles[0].Batch), func(p *LatencyProfile) float64 { return p.Throughput },
			func(v float64) string { return thousands(int(math.Round(v))) + " img/s" }, true)
	} else {
		// Fixed batches that differ: show each at its own batch, without a ratio.
		cells := []string{"throughput (fixed batches differ: not compared)"}
		for _, p := range profiles {
			cells = append(cells, fmt.Sprintf("%s img/s at batch %d", thousands(int(math.Round(p.Throughput))), p.Batch))
		}
		addRow(t, append(cells, "")...)
	}
	row("load time", func(p *LatencyProfile) float64 { return p.LoadSeconds }, func(v float64) string { return fmt.Sprintf("%.3f s", v) }, true)
	if profiles[0].MemoryBytes >= 0 {
		row("resident memory added", func(p *LatencyProfile) float64 { return float64(p.MemoryBytes) / (1 << 20) },
			func(v float64) string { return fmt.Sprintf("%.1f MB", v) }, true)
	}
	sizes := []*Subject{env.Candidate}
	if env.Baseline != nil {
		sizes = append(sizes, env.Baseline)
	}
	cells := []string{"file size"}
	for _, s := range sizes {
		cells = append(cells, fmt.Sprintf("%.2f MB", float64(s.Model.SizeBytes)/(1<<20)))
	}
	if len(sizes) > 1 {
		cells = append(cells, fmt.Sprintf("×%.2f", float64(sizes[0].Model.SizeBytes)/float64(max(sizes[1].Model.SizeBytes, 1))))
	}
	addRow(t, cells...)
	return report.Section{Title: "Measurements", Table: t}
}

func latencyMethod(c *LatencyProfile, profiles []*LatencyProfile) string {
	threads := "on the models' own sessions"
	if c.Threads > 0 {
		threads = fmt.Sprintf("on fresh sessions with %d intra-op thread(s), all from one OS thread", c.Threads)
	}
	s := fmt.Sprintf("%d rounds of batch-1 runs of one real, preprocessed image after %d warm-up rounds, %s", len(c.Rounds), warmupRounds, threads)
	if len(profiles) > 1 {
		s += fmt.Sprintf("; in each round the candidate and the baseline run twice, in the order candidate, baseline, baseline, candidate, so that load rising or falling through the round hits both alike. The ratio is the median over rounds of the ratio of the two models' round times, with a %.0f%% interval from %d batches of consecutive rounds (batch medians, Student's t), which stays honest when bursts of load span several rounds; the check warns only when the ratio exceeds 1 + max_slowdown and the whole interval lies above 1",
			100*latencyLevel, ratioBatches(len(c.Rounds)))
	}
	s += fmt.Sprintf(". Throughput: median of %d runs of a batch of %d images.", c.ThroughputRounds, c.Batch)
	if c.LoadMeasured {
		s += " Load time and memory: a fresh session of each model is opened (the file is then in the page cache for both) and runs one batch; memory is the growth of the process's resident set across that, an approximation (the allocator may reuse memory freed earlier)."
	} else {
		s += " Load time is that of the first open; memory was not measured."
	}
	return s
}

// ms formats milliseconds with precision suited to their size.
func ms(v float64) string {
	switch {
	case v < 1:
		return fmt.Sprintf("%.3f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}
