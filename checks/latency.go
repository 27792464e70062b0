package checks

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
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

// ModelLatency measures load time, batch-1 latency (p50/p95/p99), throughput at the configured
// batch and the memory a fresh session takes, for the candidate and the baseline in the same
// process with their runs interleaved, so that machine noise (other jobs, frequency scaling, a
// noisy CI neighbour) hits both alike and cancels in their ratio.
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
	Repeats int // timed batch-1 runs per model
	Batch   int // throughput batch for models with a dynamic batch dimension; 0: the models' automatic batch
	// Budget bounds the batch-1 phase: with slow models the repeats are cut to fit it (at least
	// minRepeats). Zero means no bound.
	Budget time.Duration
}

// LatencyProfile is one model's measurements. Latencies are in milliseconds.
type LatencyProfile struct {
	Name string
	// Samples are the batch-1 latencies in round order: Samples[i] of two profiles measured
	// together come from the same round, which is what makes their ratios paired.
	Samples          []float64
	P50, P95, P99    float64
	Mean             float64
	FixedBatch       int // the model's fixed batch dimension; 0 when dynamic
	Batch            int // the throughput batch
	Throughput       float64
	LoadSeconds      float64
	LoadMeasured     bool  // LoadSeconds comes from a fresh reopen (else from the first open)
	MemoryBytes      int64 // resident memory growth; -1 when not measured
	ThroughputRounds int
}

const (
	warmupRuns      = 3
	minRepeats      = 5
	throughputRuns  = 3
	defaultBudget   = time.Minute
	latencyRatioSeq = 7 // seed offset of the ratio bootstrap, apart from other checks' streams
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

// MeasureLatency times the subjects on real images from ds, interleaved: in every round each
// model runs once, the order rotating from round to round so that no model always goes first.
// It then measures throughput (also interleaved) and, where Subject.Reopen is set, load time and
// memory on a fresh session of each model.
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
	if o.Budget == 0 {
		o.Budget = defaultBudget
	}
	// One throughput batch for every dynamic-batch model, so that they are compared alike: the
	// configured one, else the first such model's automatic batch.
	dynBatch := o.Batch
	for _, s := range subjects {
		if dynBatch <= 0 && !s.Model.FixedBatch {
			dynBatch = s.Model.Batch
		}
	}
	profiles := make([]*LatencyProfile, len(subjects))
	one := make([]feeder, len(subjects))
	many := make([]feeder, len(subjects))
	for k, s := range subjects {
		p := &LatencyProfile{Name: s.Name, MemoryBytes: -1, LoadSeconds: s.Model.LoadDuration.Seconds()}
		if s.Model.FixedBatch {
			p.FixedBatch = s.Model.Batch
			p.Batch = s.Model.Batch
		} else {
			p.Batch = max(dynBatch, 1)
		}
		profiles[k] = p
		one[k] = newFeeder(s, sampleImages(ds, 1))
		many[k] = newFeeder(s, sampleImages(ds, p.Batch))
	}

	// Warm-up: first runs allocate ONNX Runtime's buffers and fill caches.
	warmStart := time.Now()
	for i := 0; i < warmupRuns; i++ {
		for k, s := range subjects {
			if err := one[k](ctx, s.Model); err != nil {
				return nil, fmt.Errorf("warm up %q: %w", s.Name, err)
			}
		}
	}
	repeats := max(o.Repeats, minRepeats)
	if perRound := time.Since(warmStart) / warmupRuns; perRound > 0 {
		if fit := int(o.Budget / perRound); fit < repeats {
			repeats = max(fit, minRepeats)
		}
	}
	for round := 0; round < repeats; round++ {
		for j := range subjects {
			k := (round + j) % len(subjects)
			start := time.Now()
			if err := one[k](ctx, subjects[k].Model); err != nil {
				return nil, fmt.Errorf("time %q: %w", subjects[k].Name, err)
			}
			profiles[k].Samples = append(profiles[k].Samples, float64(time.Since(start))/float64(time.Millisecond))
		}
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

// LatencyRatio is the typical batch-1 latency of a over b: the median of the per-round ratios
// (geometric, so that a/b and b/a are reciprocal), with a percentile bootstrap interval over the
// rounds. Both profiles must come from the same MeasureLatency call.
func LatencyRatio(a, b *LatencyProfile, seed uint64) (stats.Interval, error) {
	n := min(len(a.Samples), len(b.Samples))
	if n == 0 {
		return stats.Interval{}, fmt.Errorf("latency ratio: no paired rounds")
	}
	logs := make([]float64, n)
	for i := range logs {
		logs[i] = math.Log(math.Max(a.Samples[i], 1e-9) / math.Max(b.Samples[i], 1e-9))
	}
	buf := make([]float64, n)
	median := func(idx []int) float64 {
		for j, i := range idx {
			buf[j] = logs[i]
		}
		slices.Sort(buf)
		if n%2 == 1 {
			return buf[n/2]
		}
		return (buf[n/2-1] + buf[n/2]) / 2
	}
	iv, err := stats.BootstrapIndices(n, median, stats.BootstrapOptions{Seed: seed})
	if err != nil {
		return stats.Interval{}, err
	}
	return stats.Interval{Estimate: math.Exp(iv.Estimate), Lo: math.Exp(iv.Lo), Hi: math.Exp(iv.Hi), Level: iv.Level}, nil
}

// Run implements Check.
func (ModelLatency) Run(ctx context.Context, env *Env) (*report.Result, error) {
	if len(env.Data.Items) == 0 {
		return nil, Skip("no image to feed")
	}
	cfg := env.Config.Thresholds.ModelLatency
	subjects := env.Subjects()
	profiles, err := MeasureLatency(ctx, env.Data, subjects, LatencyOptions{Repeats: cfg.Repeats, Batch: env.Config.Runtime.BatchSize})
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
		if ratio, err = LatencyRatio(c, b, env.Config.Seed+latencyRatioSeq); err != nil {
			return nil, err
		}
		res.BaselineMetrics = latencyMetrics(b, env.Baseline)
		res.Metrics["latency_ratio"] = round(ratio.Estimate)
		res.Metrics["latency_ratio_low"] = round(ratio.Lo)
		res.Metrics["latency_ratio_high"] = round(ratio.Hi)
		res.Metrics["throughput_ratio"] = round(c.Throughput / b.Throughput)
		sizeRatio := float64(env.Candidate.Model.SizeBytes) / float64(max(env.Baseline.Model.SizeBytes, 1))
		res.Metrics["size_ratio"] = round(sizeRatio)
		res.VsBaseline = fmt.Sprintf("latency ×%.2f [%.2f, %.2f] %s, size %+.0f%%", ratio.Estimate, ratio.Lo, ratio.Hi, arrow(ratio.Estimate-1, false), 100*(sizeRatio-1))
		// Warn only on a slowdown that is both over the limit and real: the whole interval above 1.
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
	row(fmt.Sprintf("throughput, batch %d", profiles[0].Batch), func(p *LatencyProfile) float64 { return p.Throughput },
		func(v float64) string { return thousands(int(math.Round(v))) + " img/s" }, true)
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
	s := fmt.Sprintf("%d timed runs of one real, preprocessed image per model after %d warm-up runs", len(c.Samples), warmupRuns)
	if len(profiles) > 1 {
		s += ", candidate and baseline alternating (the order swaps every round) in the same process, so that machine noise hits both; the ratio is the median of the per-round ratios with a percentile bootstrap interval over rounds"
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
