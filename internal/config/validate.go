package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cvgate/cvgate/internal/perturb"
)

// Ceilings of the runtime limits.
const (
	maxRunTimeout    = 24 * time.Hour
	maxPixelsCeiling = 1_000_000_000
)

// Validate reports every problem in c at once, each naming its key path.
func (c *Config) Validate() error {
	v := &validator{}
	v.check(c.Version == Version, "version", "must be %d", Version)
	v.check(c.Out != "", "out", "must not be empty")
	v.share("max_unreadable", c.MaxUnreadable)
	v.oneOf("publish.comment", c.Publish.Comment, "update", "new", "off")
	v.oneOf("command", c.Command, "", "check", "drift")

	v.oneOf("task", c.Task, "", "classification", "detection", "segmentation")
	det := c.Detection
	v.oneOf("detection.output", det.Output, "auto", "yolov5", "yolov8", "yolov8-transposed", "boxes-scores-labels", "padded6", "padded7", "flat7", "ssd")
	v.oneOf("detection.box_encoding", det.BoxEncoding, "auto", "xyxy", "xywh", "cxcywh", "yxyx")
	v.oneOf("detection.box_units", det.BoxUnits, "auto", "pixels", "normalized")
	v.oneOf("detection.background_class", det.BackgroundClass, "auto", "first", "none")
	v.check(det.LabelOffset >= 0 && det.LabelOffset <= 1000, "detection.label_offset", "must be between 0 and 1000, got %d", det.LabelOffset)
	v.check(det.NMSIoU > 0 && det.NMSIoU <= 1, "detection.nms_iou", "must be in (0, 1], got %g", det.NMSIoU)
	v.share("detection.score_threshold", det.ScoreThreshold)
	v.share("detection.operating_score", det.OperatingScore)
	v.check(det.MaxDetections >= 1 && det.MaxDetections <= 10000, "detection.max_detections", "must be between 1 and 10000, got %d", det.MaxDetections)
	sg := c.Segmentation
	v.check(sg.IgnoreIndex >= 0 && sg.IgnoreIndex <= 65535, "segmentation.ignore_index", "must be between 0 and 65535, got %d", sg.IgnoreIndex)
	v.oneOf("segmentation.output_kind", sg.OutputKind, "auto", "scores", "indices", "binary")
	v.oneOf("segmentation.output_layout", sg.OutputLayout, "auto", "nchw", "nhwc", "nhw")
	v.oneOf("segmentation.activation", sg.Activation, "auto", "logits", "probabilities")
	v.check(!(det.CategoryIDs && len(det.LabelIDs) > 0), "detection.label_ids", "set either label_ids or category_ids, not both")
	v.check(sg.Threshold > 0 && sg.Threshold < 1, "segmentation.threshold", "must be in (0, 1), got %g", sg.Threshold)
	for i, cc := range sg.Colors {
		ok := len(cc.RGB) == 3
		for _, x := range cc.RGB {
			ok = ok && x >= 0 && x <= 255
		}
		v.check(ok, fmt.Sprintf("segmentation.colors[%d].rgb", i), "must be three values 0..255, got %v", cc.RGB)
		v.check(cc.Name != "", fmt.Sprintf("segmentation.colors[%d].name", i), "must not be empty")
	}

	r := c.Runtime
	v.check(r.Threads >= 0, "runtime.threads", "must be 0 (all cores) or more, got %d", r.Threads)
	v.check(r.BatchSize >= 0 && r.BatchSize <= 4096, "runtime.batch_size", "must be between 0 (automatic) and 4096, got %d", r.BatchSize)
	v.oneOf("runtime.execution_provider", string(r.ExecutionProvider), "cpu", "cuda", "auto")
	v.check(r.CheckTimeout > 0, "runtime.check_timeout", "must be positive, got %s", r.CheckTimeout)
	// The limits below bound what input can cost. The config file may come from a fork, so each
	// has a hard ceiling too: raising a limit can never make a run unbounded.
	v.check(r.Timeout > 0 && r.Timeout <= maxRunTimeout, "runtime.timeout", "must be positive and at most %s, got %s", maxRunTimeout, r.Timeout)
	v.check(r.PassTimeout > 0 && r.PassTimeout <= maxRunTimeout, "runtime.pass_timeout", "must be positive and at most %s, got %s", maxRunTimeout, r.PassTimeout)
	v.check(r.MaxPixels >= 1 && r.MaxPixels <= maxPixelsCeiling, "runtime.max_pixels", "must be between 1 and %d, got %d", int64(maxPixelsCeiling), r.MaxPixels)
	v.check(r.MaxAspect >= 1 && r.MaxAspect <= 1e6, "runtime.max_aspect", "must be between 1 and 1000000, got %g", r.MaxAspect)
	v.check(r.MaxFileMB >= 1 && r.MaxFileMB <= 16384, "runtime.max_file_mb", "must be between 1 and 16384, got %d", r.MaxFileMB)
	v.check(r.MemoryMB >= 64 && r.MemoryMB <= 1<<18, "runtime.memory_mb", "must be between 64 and 262144, got %d", r.MemoryMB)
	v.check(r.CacheMaxMB >= 1 && r.CacheMaxMB <= 1<<22, "runtime.cache_max_mb", "must be between 1 and 4194304, got %d", r.CacheMaxMB)
	if r.Shard != "" {
		_, _, err := ParseShard(r.Shard)
		v.check(err == nil, "runtime.shard", "%v", err)
		v.check(r.ShardCount == 0, "runtime.shard", "give either runtime.shard I/N or runtime.shard_count N (with JOB_COMPLETION_INDEX), not both")
	}
	v.check(r.ShardCount >= 0 && r.ShardCount <= 4096, "runtime.shard_count", "must be between 0 and 4096, got %d", r.ShardCount)

	p := c.Preprocess
	v.oneOf("preprocess.preset", p.Preset, append([]string{""}, presetNames...)...)
	if len(p.Size) > 0 {
		v.check(len(p.Size) == 2 && p.Size[0] > 0 && p.Size[1] > 0 && p.Size[0] <= 8192 && p.Size[1] <= 8192,
			"preprocess.size", "must be [width, height] with positive values, got %v", p.Size)
	}
	v.oneOf("preprocess.resize", p.Resize, "", "bilinear", "nearest", "area")
	v.oneOf("preprocess.fit", p.Fit, "", "stretch", "crop", "letterbox")
	v.check(p.CenterCrop == 0 || (p.CenterCrop > 0 && p.CenterCrop <= 1), "preprocess.center_crop", "must be a fraction in (0, 1], got %g", p.CenterCrop)
	v.oneOf("preprocess.color", p.Color, "", "gray", "rgb", "bgr")
	if p.Scale != nil {
		v.check(*p.Scale > 0, "preprocess.scale", "must be positive, got %g", *p.Scale)
	}
	v.check(len(p.Mean) == 0 || len(p.Mean) == 1 || len(p.Mean) == 3, "preprocess.mean", "must have 1 or 3 values, got %d", len(p.Mean))
	v.check(len(p.Std) == 0 || len(p.Std) == 1 || len(p.Std) == 3, "preprocess.std", "must have 1 or 3 values, got %d", len(p.Std))
	for _, s := range p.Std {
		v.check(s > 0, "preprocess.std", "values must be positive, got %g", s)
	}
	v.oneOf("preprocess.layout", p.Layout, "", "auto", "nchw", "nhwc", "nhw", "flat")
	v.oneOf("preprocess.outputs", p.Outputs, "", "auto", "logits", "probabilities")

	t := c.Thresholds
	v.check(t.ModelLoad.MaxSizeMB >= 0, "thresholds.model.load.max_size_mb", "must not be negative")
	for from, to := range t.ModelSignature.Renames {
		v.check(from != "" && to != "", "thresholds.model.signature.renames", "names must not be empty, got %q: %q", from, to)
	}
	v.check(t.ModelNumerics.Tolerance >= 0, "thresholds.model.numerics.tolerance", "must not be negative")
	v.share("thresholds.model.numerics.max_nan_share", t.ModelNumerics.MaxNaNShare)
	for key, pattern := range t.ModelMetadata.Patterns {
		if _, err := regexp.Compile(pattern); err != nil {
			v.add("thresholds.model.metadata.patterns."+key, "not a valid regular expression: %v", err)
		}
	}
	v.check(t.ModelLatency.Repeats >= 10 && t.ModelLatency.Repeats <= 100000, "thresholds.model.latency.repeats", "must be between 10 and 100000, got %d", t.ModelLatency.Repeats)
	v.check(t.ModelLatency.Threads >= 0 && t.ModelLatency.Threads <= 1024, "thresholds.model.latency.threads", "must be between 0 (runtime.threads) and 1024, got %d", t.ModelLatency.Threads)
	v.check(t.ModelLatency.MaxSlowdown > 0, "thresholds.model.latency.max_slowdown", "must be positive, got %g", t.ModelLatency.MaxSlowdown)
	v.check(t.ModelLatency.MaxP95Ms >= 0, "thresholds.model.latency.max_p95_ms", "must not be negative")

	pm := t.PerfMetrics
	v.optShare("thresholds.perf.metrics.min_accuracy", pm.MinAccuracy)
	v.optShare("thresholds.perf.metrics.min_score", pm.MinScore)
	v.optShare("thresholds.perf.metrics.min_macro_f1", pm.MinMacroF1)
	v.optShare("thresholds.perf.metrics.max_ece", pm.MaxECE)
	v.check(pm.TopK >= 1, "thresholds.perf.metrics.top_k", "must be at least 1, got %d", pm.TopK)
	v.check(pm.Bootstrap >= 100 && pm.Bootstrap <= 100000, "thresholds.perf.metrics.bootstrap", "must be between 100 and 100000, got %d", pm.Bootstrap)
	v.check(pm.CalibrationBins >= 2 && pm.CalibrationBins <= 100, "thresholds.perf.metrics.calibration_bins", "must be between 2 and 100, got %d", pm.CalibrationBins)

	pb := t.PerfBaseline
	v.share("thresholds.perf.baseline.max_drop", pb.MaxDrop)
	v.check(pb.Alpha > 0 && pb.Alpha < 0.5, "thresholds.perf.baseline.alpha", "must be in (0, 0.5), got %g", pb.Alpha)
	v.optShare("thresholds.perf.baseline.max_negative_flip_rate", pb.MaxNegativeFlipRate)
	v.optShare("thresholds.perf.baseline.class_max_drop", pb.ClassMaxDrop)
	v.check(pb.Bootstrap >= 100 && pb.Bootstrap <= 100000, "thresholds.perf.baseline.bootstrap", "must be between 100 and 100000, got %d", pb.Bootstrap)

	ps := t.PerfSegments
	v.check(ps.MinRatio > 0 && ps.MinRatio <= 1, "thresholds.perf.segments.min_ratio", "must be in (0, 1], got %g", ps.MinRatio)
	v.check(ps.MinSize >= 1, "thresholds.perf.segments.min_size", "must be at least 1, got %d", ps.MinSize)
	v.check(ps.Bins >= 2 && ps.Bins <= 20, "thresholds.perf.segments.bins", "must be between 2 and 20, got %d", ps.Bins)
	v.check(ps.MaxReport >= 1, "thresholds.perf.segments.max_reported", "must be at least 1, got %d", ps.MaxReport)

	v.check(t.PerfTrivial.MinGain >= 0 && t.PerfTrivial.MinGain <= 1, "thresholds.perf.trivial.min_gain", "must be in [0, 1], got %g", t.PerfTrivial.MinGain)

	rc := t.RobustCorruptions
	for _, s := range rc.Severities {
		v.check(s >= 1 && s <= 5, "thresholds.robust.corruptions.severities", "severities are 1 to 5, got %d", s)
	}
	v.check(len(rc.Severities) > 0, "thresholds.robust.corruptions.severities", "must list at least one severity")
	v.check(rc.Sample >= 0, "thresholds.robust.corruptions.sample", "must be 0 (all images) or more")
	v.share("thresholds.robust.corruptions.max_mean_drop", rc.MaxMeanDrop)
	v.check(rc.MaxMCE > 0, "thresholds.robust.corruptions.max_mce", "must be positive, got %g", rc.MaxMCE)
	v.check(rc.BudgetSeconds >= 0, "thresholds.robust.corruptions.budget_seconds", "must be 0 (no budget) or more, got %g", rc.BudgetSeconds)
	for _, name := range rc.Corruptions {
		v.check(perturb.Group(name) != "", "thresholds.robust.corruptions.corruptions", "unknown corruption %q (valid: %s)", name, strings.Join(perturb.Names(), ", "))
	}

	ri := t.RobustInvariance
	v.share("thresholds.robust.invariance.min_consistency", ri.MinConsistency)
	v.check(ri.Sample >= 0, "thresholds.robust.invariance.sample", "must be 0 (all images) or more")
	for _, spec := range ri.Transforms {
		if _, err := perturb.ParseTransform(spec); err != nil {
			v.add("thresholds.robust.invariance.transforms", "%v", err)
		}
	}

	ra := t.RobustAdversarial
	v.validateAttacks("thresholds.robust.adversarial.attacks", ra.Attacks)
	v.check(ra.Sample >= 1, "thresholds.robust.adversarial.sample", "must be at least 1, got %d", ra.Sample)
	v.check(ra.Epsilon >= 0 && ra.Epsilon <= 1, "thresholds.robust.adversarial.epsilon", "is an L-inf budget on 0..1 pixels and must be in [0, 1], got %g", ra.Epsilon)
	v.check(ra.EpsilonL2 >= 0, "thresholds.robust.adversarial.epsilon_l2", "is an L2 budget on 0..1 pixels and must be 0 or more (.inf for no budget), got %g", ra.EpsilonL2)
	v.check(ra.PInit > 0 && ra.PInit <= 1, "thresholds.robust.adversarial.p_init", "is the share of the image Square's first squares cover and must be in (0, 1], got %g", ra.PInit)
	v.check(ra.MaxQueries >= 1, "thresholds.robust.adversarial.max_queries", "must be at least 1, got %d", ra.MaxQueries)
	v.check(ra.BudgetSeconds >= 0, "thresholds.robust.adversarial.budget_seconds", "must be 0 (no budget) or more, got %g", ra.BudgetSeconds)
	v.optShare("thresholds.robust.adversarial.min_robust_accuracy", ra.MinRobustAccuracy)
	v.optShare("thresholds.robust.adversarial.max_drop", ra.MaxDrop)

	ab := t.RobustAbnormal
	v.check(ab.Confidence > 0 && ab.Confidence < 1, "thresholds.robust.abnormal.confidence", "must be in (0, 1), got %g", ab.Confidence)
	v.share("thresholds.robust.abnormal.max_share", ab.MaxShare)
	v.share("thresholds.robust.abnormal.fail_share", ab.FailShare)
	v.check(ab.Samples >= 1, "thresholds.robust.abnormal.samples", "must be at least 1, got %d", ab.Samples)

	rg := t.RobustGuard
	v.check(rg.TargetFRR > 0 && rg.TargetFRR < 0.5, "thresholds.robust.guard.target_frr", "must be in (0, 0.5), got %g", rg.TargetFRR)
	v.check(rg.CalibrationShare > 0 && rg.CalibrationShare < 1, "thresholds.robust.guard.calibration_share", "must be in (0, 1), got %g", rg.CalibrationShare)
	v.oneOf("thresholds.robust.guard.score", rg.Score, "auto", "energy", "mahalanobis", "combined")
	v.share("thresholds.robust.guard.min_abnormal_catch", rg.MinAbnormalCatch)
	v.share("thresholds.robust.guard.min_auroc", rg.MinAUROC)
	v.check(rg.Reference == "" || rg.Guard == "", "thresholds.robust.guard.guard", "set reference (build the guard on the fly) or guard (use a built one), not both")

	di := t.DataIntegrity
	v.check(di.NearDuplicateDistance >= 0 && di.NearDuplicateDistance <= 16, "thresholds.data.integrity.near_duplicate_distance", "must be between 0 and 16 bits, got %d", di.NearDuplicateDistance)
	v.check(di.MinSimilarity > 0 && di.MinSimilarity <= 1, "thresholds.data.integrity.min_similarity", "must be in (0, 1], got %g", di.MinSimilarity)
	v.share("thresholds.data.integrity.max_duplicate_share", di.MaxDuplicateShare)
	v.share("thresholds.data.integrity.min_class_share", di.MinClassShare)

	dl := t.DataLeakage
	v.share("thresholds.data.leakage.max_share", dl.MaxShare)
	v.check(dl.Distance >= 0 && dl.Distance <= 16, "thresholds.data.leakage.distance", "must be between 0 and 16 bits, got %d", dl.Distance)
	v.check(dl.MinSimilarity > 0 && dl.MinSimilarity <= 1, "thresholds.data.leakage.min_similarity", "must be in (0, 1], got %g", dl.MinSimilarity)

	d := t.Drift
	v.check(d.KSPValue > 0 && d.KSPValue < 0.5, "thresholds.drift.ks_p_value", "must be in (0, 0.5), got %g", d.KSPValue)
	v.share("thresholds.drift.min_effect", d.MinEffect)
	v.check(d.MaxPSI > 0, "thresholds.drift.max_psi", "must be positive, got %g", d.MaxPSI)
	v.share("thresholds.drift.max_cramers_v", d.MaxCramersV)
	v.share("thresholds.drift.max_domain_score", d.MaxDomainScore)
	v.share("thresholds.drift.fail_domain_score", d.FailDomainScore)
	v.check(d.Sample >= 0, "thresholds.drift.sample", "must be 0 (all images) or more")

	v.check(t.Failures.MaxPerCheck >= 0 && t.Failures.MaxPerCheck <= 1000, "thresholds.failures.max_per_check", "must be between 0 and 1000, got %d", t.Failures.MaxPerCheck)
	v.check(t.Failures.SheetColumns >= 1 && t.Failures.SheetColumns <= 64, "thresholds.failures.sheet_columns", "must be between 1 and 64, got %d", t.Failures.SheetColumns)

	if len(v.problems) > 0 {
		return newValidationError(v.problems)
	}
	return nil
}

type validator struct{ problems []string }

func (v *validator) add(key, format string, args ...any) {
	v.problems = append(v.problems, key+": "+fmt.Sprintf(format, args...))
}

func (v *validator) check(ok bool, key, format string, args ...any) {
	if !ok {
		v.add(key, format, args...)
	}
}

func (v *validator) share(key string, x float64) {
	v.check(x >= 0 && x <= 1, key, "must be a share between 0 and 1, got %g", x)
}

func (v *validator) optShare(key string, x *float64) {
	if x != nil {
		v.share(key, *x)
	}
}

func (v *validator) oneOf(key, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		var shown []string
		for _, a := range allowed {
			if a != "" {
				shown = append(shown, a)
			}
		}
		v.add(key, "%q is not allowed; use one of %v", value, shown)
	}
}

// ParseShard reads "I/N" (0 <= I < N <= 4096).
func ParseShard(s string) (index, count int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		index, err = strconv.Atoi(strings.TrimSpace(a))
		if err == nil {
			count, err = strconv.Atoi(strings.TrimSpace(b))
		}
	}
	if !ok || err != nil || count < 1 || count > 4096 || index < 0 || index >= count {
		return 0, 0, fmt.Errorf("want I/N with 0 <= I < N <= 4096 (e.g. 0/4), got %q", s)
	}
	return index, count, nil
}
