package report

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// This file reads the few numbers a reviewer weighs out of the results the checks wrote: which
// checks decided the verdict, and what changed against the baseline. It formats what is already
// in the Report (metrics, summaries, model sizes) and decides nothing: the statuses come from the
// checks and the verdict from ApplyGate.
//
// The metric a target is judged on (accuracy, mAP@[.5:.95], mIoU, ...) is found in perf.baseline's
// metrics, which carry it under its own key K beside "baseline_K", with the difference either as
// "delta", "delta_ci_low", "delta_ci_high" (the task checks) or as "K_diff", "K_diff_low",
// "K_diff_high" (classification). Nothing here assumes the task.

// Check IDs the digest reads. They are the stable IDs of the check catalogue (checks/registry.go
// holds the same strings); report does not import checks.
const (
	idPerfBaseline      = "perf.baseline"
	idPerfMetrics       = "perf.metrics"
	idModelLatency      = "model.latency"
	idModelLoad         = "model.load"
	idRobustCorruptions = "robust.corruptions"
	idRobustAdversarial = "robust.adversarial"
)

// metricFormat is how a metric is named and written.
type metricFormat struct {
	name    string
	percent bool // a share shown as a percentage, differences in percentage points
}

// knownMetrics names the headline metrics the checks emit; any other key is shown as it is named,
// with three decimals.
var knownMetrics = map[string]metricFormat{
	"accuracy": {"accuracy", true},
	"macro_f1": {"macro F1", false},
	"map":      {"mAP@[.5:.95]", false},
	"miou":     {"mIoU", true},
}

// headlinePreference breaks the tie when a check reports several metrics against the baseline
// (classification reports accuracy and macro F1): the one listed first leads.
var headlinePreference = []string{"accuracy", "map", "miou", "macro_f1"}

func formatOf(key string) metricFormat {
	if f, ok := knownMetrics[key]; ok {
		return f
	}
	return metricFormat{name: strings.ReplaceAll(key, "_", " ")}
}

func (f metricFormat) value(v float64) string {
	if f.percent {
		return pctText(v)
	}
	return fmt.Sprintf("%.3f", v)
}

func (f metricFormat) delta(d float64) string {
	if f.percent {
		return signed(100*d, 1) + " pp"
	}
	return signed(d, 3)
}

// pctText writes a share as a percentage with one decimal ("99.2%"; never "99.16666666666667%").
func pctText(v float64) string {
	return trimNegZero(fmt.Sprintf("%.1f", 100*v)) + "%"
}

// signed writes d with an explicit sign and the given decimals, using a real minus sign; a value
// that rounds to zero is "±0" rather than "-0.0".
func signed(d float64, decimals int) string {
	s := fmt.Sprintf("%+.*f", decimals, d)
	if strings.Trim(s[1:], "0.") == "" {
		return "±" + s[1:]
	}
	if s[0] == '-' {
		return "−" + s[1:]
	}
	return s
}

func trimNegZero(s string) string {
	if strings.HasPrefix(s, "-") && strings.Trim(s[1:], "0.") == "" {
		return s[1:]
	}
	return s
}

// metricChange is one row of "what changed vs the baseline".
type metricChange struct {
	check    string // the check the numbers come from
	status   Status // that check's status
	label    string // e.g. "accuracy"
	base     string // the baseline's value ("" when unknown)
	cand     string // the candidate's value
	change   string // e.g. "−2.1 pp [−3.0, −1.2], p<0.001"
	headline string // the same change in a few words (e.g. "accuracy −2.1 pp (p<0.001)")
	short    string // for the verdict line, beside the check's name ("−2.1 pp (p<0.001)"); "": headline
}

func resultOf(t *Target, id string) *Result {
	for i := range t.Results {
		if t.Results[i].ID == id {
			return &t.Results[i]
		}
	}
	return nil
}

// ran reports whether a result has numbers to read (a skipped or crashed check has none).
func ran(r *Result) bool {
	return r != nil && r.Status != StatusSkip && r.Status != StatusError
}

func finiteNum(v float64, ok bool) bool { return ok && !math.IsNaN(v) && !math.IsInf(v, 0) }

// headlineKey is the key of the metric the target is judged on in res (see the file comment),
// or "" when res reports none.
func headlineKey(res *Result) string {
	var keys []string
	for k := range res.Metrics {
		if b, ok := res.Metrics["baseline_"+k]; ok && finiteNum(b, true) && !strings.HasPrefix(k, "baseline_") {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Strings(keys)
	for _, pref := range headlinePreference {
		for _, k := range keys {
			if k == pref {
				return k
			}
		}
	}
	return keys[0]
}

// scoreChange reads the headline metric's change from perf.baseline, or, without it, the two
// values perf.metrics measured.
func scoreChange(t *Target) (metricChange, bool) {
	if res := resultOf(t, idPerfBaseline); ran(res) {
		if k := headlineKey(res); k != "" {
			f := formatOf(k)
			m := res.Metrics
			cand, base := m[k], m["baseline_"+k]
			d, lo, hi := cand-base, math.NaN(), math.NaN()
			for _, names := range [][3]string{{"delta", "delta_ci_low", "delta_ci_high"}, {k + "_diff", k + "_diff_low", k + "_diff_high"}} {
				if v, ok := m[names[0]]; finiteNum(v, ok) {
					d = v
					lo, hi = valueOr(m, names[1]), valueOr(m, names[2])
					break
				}
			}
			c := metricChange{check: res.ID, status: res.Status, label: f.name, base: f.value(base), cand: f.value(cand), change: f.delta(d)}
			if !math.IsNaN(lo) && !math.IsNaN(hi) {
				c.change += " [" + strings.TrimSuffix(f.delta(lo), " pp") + ", " + strings.TrimSuffix(f.delta(hi), " pp") + "]"
			}
			c.short = f.delta(d)
			for _, pk := range []string{"mcnemar_p", "p_value"} {
				if p, ok := m[pk]; finiteNum(p, ok) {
					c.change += ", p" + pShort(p)
					c.short += " (p" + pShort(p) + ")"
					break
				}
			}
			c.headline = f.name + " " + c.short
			return c, true
		}
	}
	if res := resultOf(t, idPerfMetrics); ran(res) && res.BaselineMetrics != nil {
		for _, k := range headlinePreference {
			cand, ok1 := res.Metrics[k]
			base, ok2 := res.BaselineMetrics[k]
			if finiteNum(cand, ok1) && finiteNum(base, ok2) {
				f := formatOf(k)
				return metricChange{check: res.ID, status: res.Status, label: f.name, base: f.value(base), cand: f.value(cand),
					change: f.delta(cand - base), headline: f.name + " " + f.delta(cand-base)}, true
			}
		}
	}
	return metricChange{}, false
}

func valueOr(m map[string]float64, k string) float64 {
	if v, ok := m[k]; finiteNum(v, ok) {
		return v
	}
	return math.NaN()
}

// pShort writes a p-value after "p": "<0.001" or "=0.03".
func pShort(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return "=" + strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", p), "0"), ".")
}

// changes lists what changed against the baseline, in the order a reviewer weighs it: the
// headline metric with its interval, latency, size, robustness. Rows without numbers are left out.
func changes(t *Target) []metricChange {
	if t.Baseline == nil {
		return nil
	}
	var out []metricChange
	if c, ok := scoreChange(t); ok {
		out = append(out, c)
	}
	if res := resultOf(t, idModelLatency); ran(res) && res.BaselineMetrics != nil {
		m, bm := res.Metrics, res.BaselineMetrics
		if r, ok := m["latency_ratio"]; finiteNum(r, ok) {
			c := metricChange{check: res.ID, status: res.Status, label: "latency (p50)", change: ratioText(r), headline: "latency " + ratioText(r), short: "p50 " + ratioText(r)}
			if v, ok := m["p50_ms"]; finiteNum(v, ok) {
				c.cand = msText(v)
			}
			if v, ok := bm["p50_ms"]; finiteNum(v, ok) {
				c.base = msText(v)
			}
			lo, hi := valueOr(m, "latency_ratio_low"), valueOr(m, "latency_ratio_high")
			if !math.IsNaN(lo) && !math.IsNaN(hi) {
				c.change += fmt.Sprintf(" [%.2f, %.2f]", lo, hi)
			}
			out = append(out, c)
		}
	}
	if b := t.Baseline; b.SizeBytes > 0 && t.Model.SizeBytes > 0 {
		c := metricChange{check: idModelLoad, status: StatusPass, label: "size", base: sizeText(b.SizeBytes), cand: sizeText(t.Model.SizeBytes)}
		if res := resultOf(t, idModelLoad); res != nil {
			c.status = res.Status
		}
		c.change = signed(100*(float64(t.Model.SizeBytes)/float64(b.SizeBytes)-1), 0) + "%"
		c.headline = "size " + c.change
		out = append(out, c)
	}
	if res := resultOf(t, idRobustCorruptions); ran(res) {
		if c, ok := corruptionChange(res); ok {
			out = append(out, c)
		}
	}
	if res := resultOf(t, idRobustAdversarial); ran(res) && res.BaselineMetrics != nil {
		var keys []string
		for k := range res.Metrics {
			if strings.HasSuffix(k, "_robust_accuracy") {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			cand, ok1 := res.Metrics[k]
			base, ok2 := res.BaselineMetrics[k]
			if !finiteNum(cand, ok1) || !finiteNum(base, ok2) {
				continue
			}
			name := attackName(strings.TrimSuffix(k, "_robust_accuracy"))
			d := signed(100*(cand-base), 1) + " pp"
			out = append(out, metricChange{check: res.ID, status: res.Status, label: name + " robust accuracy",
				base: pctText(base), cand: pctText(cand), change: d, headline: name + " robust accuracy " + d})
		}
	}
	return out
}

// corruptionChange reads robust.corruptions: the mean relative drop under corruption of both
// models and the corruption error relative to the baseline (mCE).
func corruptionChange(res *Result) (metricChange, bool) {
	m, bm := res.Metrics, res.BaselineMetrics
	cand := math.NaN()
	for _, k := range []string{"mean_relative_drop", "relative_drop"} {
		if v, ok := m[k]; finiteNum(v, ok) {
			cand = v
			break
		}
	}
	if math.IsNaN(cand) {
		return metricChange{}, false
	}
	c := metricChange{check: res.ID, status: res.Status, label: "drop under corruption", cand: pctText(cand)}
	if bm != nil {
		if v, ok := bm["mean_relative_drop"]; finiteNum(v, ok) {
			c.base = pctText(v)
		} else if v, ok := bm["rpc"]; finiteNum(v, ok) {
			c.base = pctText(1 - v)
		}
	}
	if v, ok := m["mce"]; finiteNum(v, ok) {
		c.change = fmt.Sprintf("mCE %.2f", v)
		lo, hi := valueOr(m, "mce_lo"), valueOr(m, "mce_hi")
		if !math.IsNaN(lo) && !math.IsNaN(hi) {
			c.change += fmt.Sprintf(" [%.2f, %.2f]", lo, hi)
		}
		c.headline = fmt.Sprintf("mCE %.2f", v)
	} else {
		c.headline = "drop " + c.cand
	}
	if n, ok := m["images_per_cell"]; finiteNum(n, ok) {
		if avail, ok := m["images_available"]; finiteNum(avail, ok) && avail > n {
			// The sweep settled on a sample: say so, so that its clean accuracy is not read
			// against perf.metrics on every image.
			c.label += fmt.Sprintf(" (%d-image sample)", int(n))
		}
	}
	return c, true
}

func attackName(s string) string {
	switch s {
	case "square":
		return "Square"
	case "hopskipjump":
		return "HopSkipJump"
	}
	return s
}

// ratioText writes a ratio as "×1.23".
func ratioText(r float64) string { return fmt.Sprintf("×%.2f", r) }

// msText writes milliseconds with about three significant digits.
func msText(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	case v >= 1:
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.3f ms", v)
}

// sizeText writes a file size in KB, MB or GB (powers of 1024, as model.load reports MB).
func sizeText(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.0f KB", math.Max(1, float64(b)/(1<<10)))
}

// decider is one result that decided a verdict.
type decider struct {
	target *Target
	result *Result
}

// deciders are the results whose status is the verdict's (fail and error for a failing verdict),
// in report order: the checks that made the verdict what it is. A passing verdict has none.
func deciders(r *Report) []decider {
	if r.Gate.Verdict == StatusPass {
		return nil
	}
	var out []decider
	for ti := range r.Targets {
		t := &r.Targets[ti]
		for ri := range t.Results {
			res := &t.Results[ri]
			if verdictOf(StatusPass, res.Status) == r.Gate.Verdict {
				out = append(out, decider{t, res})
			}
		}
	}
	return out
}

// figure is a result's key number in a few words, for the headline: the change vs the baseline
// where the digest reads one, else the first clause of the summary.
func figure(t *Target, res *Result) string {
	for _, c := range changes(t) {
		if c.check == res.ID && c.headline != "" && c.check != idModelLoad {
			if c.short != "" {
				return c.short
			}
			return c.headline
		}
	}
	return shortText(res.Summary, 40, clauseSeps)
}

// clauseSeps end the first clause of a summary: secondary facts, further problems, a parenthesis.
var clauseSeps = []string{" · ", "; ", " (", ": "}

// shortText is the first clause of s (up to the first of seps), cut to max runes.
func shortText(s string, max int, seps []string) string {
	s = strings.TrimPrefix(s, "skipped: ")
	for _, sep := range seps {
		if i := strings.Index(s, sep); i > 0 {
			s = s[:i]
		}
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	cut := 0
	for i := range s {
		if cut == max-1 {
			head := s[:i]
			// End on a word when one ends in the last third, not inside a number or a name.
			if sp := strings.LastIndexByte(head, ' '); sp > len(head)*2/3 {
				head = head[:sp]
			}
			s = strings.TrimRight(head, " ,:;") + "…"
			break
		}
		cut++
	}
	return balanceBackticks(s)
}

// balanceBackticks closes a code span a cut left open, so that the rest of the line stays text.
func balanceBackticks(s string) string {
	if strings.Count(s, "`")%2 == 1 {
		return s + "`"
	}
	return s
}
