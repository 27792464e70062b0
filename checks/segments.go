package checks

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/report"
)

// IDPerfSegments is the ID of the weak-slice check.
const IDPerfSegments = "perf.segments"

// Slice search limits.
const (
	// maxAttributeValues skips manifest columns with more distinct values than this: an ID or a
	// timestamp column makes one slice per image, and none reaches the minimum size.
	maxAttributeValues = 50
	// pairSeeds is how many of the weakest single-feature slices are crossed with every other
	// feature: crossing all pairs would cost features^2 x bins^2 slices for little more insight.
	pairSeeds = 5
)

// PerfSegments finds the slices of the data the model is weak on: images sharing a manifest
// attribute value (camera, site, background) or a quantile bin of an image property (the darkest
// quarter, the blurriest quarter), then pairs of those for the weakest slices. Each slice gets
// its accuracy with a Wilson 95% interval; a slice is flagged when its accuracy is below
// min_ratio x the overall accuracy and its interval lies entirely below the overall accuracy, so
// that a small slice does not warn on noise.
type PerfSegments struct{}

// ID implements Check.
func (PerfSegments) ID() string { return IDPerfSegments }

// Title implements Check.
func (PerfSegments) Title() string { return "Weakest slices (attributes and image properties)" }

// Common implements Toggled.
func (PerfSegments) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.PerfSegments.Common, true
}

// feature partitions the images: values[r] is the group of row r (-1: none), names name groups.
type feature struct {
	name   string
	values []int
	groups []string
}

// segment is a slice of the data: the rows sharing one or two feature values.
type segment struct {
	name     string
	features []int
	rows     []int
	correct  int
	acc      stats.Interval
	base     float64 // baseline accuracy on the same rows; NaN without a baseline
	flagged  bool
}

// Run implements Check.
func (PerfSegments) Run(ctx context.Context, env *Env) (*report.Result, error) {
	if env.decoded() {
		return taskSegments(ctx, env)
	}
	if err := env.labelled(); err != nil {
		return nil, err
	}
	cfg := env.Config.Thresholds.PerfSegments
	cand, base, err := env.Clean(ctx)
	if err != nil {
		return nil, err
	}
	feats, notes, err := segmentFeatures(env, cand.Indices, cfg)
	if err != nil {
		return nil, err
	}
	if len(feats) == 0 {
		return nil, Skip("nothing to slice on: the data has no attributes and no image property varies")
	}
	correct := cand.Correct(env.Data)
	var baseCorrect []bool
	if base != nil {
		baseCorrect = base.Correct(env.Data)
	}
	overall := cand.Accuracy(env.Data)
	limit := cfg.MinRatio * overall

	singles := singleSegments(feats, correct, baseCorrect, cfg.MinSize)
	if len(singles) == 0 {
		return nil, Skip("no slice has min_size %d images", cfg.MinSize)
	}
	for _, s := range singles {
		s.flagged = s.acc.Estimate < limit && s.acc.Hi < overall
	}
	pairs := pairSegments(feats, singles, correct, baseCorrect, cfg.MinSize)
	for _, s := range pairs {
		s.flagged = s.acc.Estimate < limit && s.acc.Hi < overall
	}

	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{
		"accuracy":    round(overall),
		"slices":      float64(len(singles) + len(pairs)),
		"features":    float64(len(feats)),
		"min_size":    float64(cfg.MinSize),
		"pair_slices": float64(len(pairs)),
	}}
	res.Threshold = fmt.Sprintf("slice accuracy >= %.2g x overall (%s), slices of %d+ images", cfg.MinRatio, pct(limit), cfg.MinSize)
	weakest := singles[0]
	res.Metrics["weakest_accuracy"] = round(weakest.acc.Estimate)
	if overall > 0 {
		res.Metrics["weakest_ratio"] = round(weakest.acc.Estimate / overall)
	}
	res.Metrics["weakest_size"] = float64(len(weakest.rows))
	flagged := 0
	var flaggedNames []string
	for _, s := range append(append([]*segment{}, singles...), pairs...) {
		if s.flagged {
			flagged++
			if len(flaggedNames) < 3 {
				flaggedNames = append(flaggedNames, fmt.Sprintf("%s %s (n=%d)", s.name, pct(s.acc.Estimate), len(s.rows)))
			}
		}
	}
	res.Metrics["flagged"] = float64(flagged)
	res.Summary = fmt.Sprintf("weakest slice %s: %s [%s, %s] on %d images vs %s overall", weakest.name, pct(weakest.acc.Estimate),
		pct(weakest.acc.Lo), pct(weakest.acc.Hi), len(weakest.rows), pct(overall))
	if flagged > 0 {
		res.Status = report.StatusWarn
		if cfg.Fail {
			res.Status = report.StatusFail
		}
		res.Summary = fmt.Sprintf("%s below %.2g x overall accuracy %s: %s", count(flagged, "slice", "slices"), cfg.MinRatio, pct(overall), strings.Join(flaggedNames, "; "))
	}
	if base != nil {
		res.BaselineMetrics = map[string]float64{"weakest_accuracy": finite(weakest.base)}
		d := weakest.acc.Estimate - weakest.base
		res.VsBaseline = fmt.Sprintf("%s: %s %s (baseline %s)", weakest.name, pp(d), arrow(d, true), pct(weakest.base))
	}
	res.Details = append(res.Details, segmentSection("Weakest slices (one feature)", singles, cfg.MaxReport, base != nil))
	if len(pairs) > 0 {
		res.Details = append(res.Details, segmentSection("Weakest slices (two features, from the weakest single slices)", pairs, cfg.MaxReport, base != nil))
	}
	if len(notes) > 0 {
		res.Details = append(res.Details, report.Section{Text: strings.Join(notes, " ")})
	}

	// The misclassified images of the weakest slice, most confident first.
	var cases []failures.Case
	wrong := 0
	for _, r := range weakest.rows {
		if correct[r] {
			continue
		}
		wrong++
		it := env.Data.Items[cand.Indices[r]]
		conf := float64(cand.Conf[r])
		if math.IsNaN(conf) {
			conf = 0
		}
		cases = append(cases, failures.Case{Image: env.Candidate.Spec.View(it.Image), Path: it.Path, Label: env.className(it.Label),
			Predicted: env.className(int(cand.Top1[r])), Confidence: conf, Perturbation: weakest.name, Severity: conf})
	}
	env.export(res, IDPerfSegments, cases, wrong)
	return res, nil
}

// segmentFeatures builds the features to slice on: the manifest attributes and the quantile bins
// of the image properties, as configured. rows maps prediction rows to dataset items.
func segmentFeatures(env *Env, rows []int, cfg config.PerfSegments) ([]feature, []string, error) {
	var feats []feature
	var notes []string
	attrs := env.Data.Attributes
	if len(cfg.Attributes) > 0 {
		for _, a := range cfg.Attributes {
			if !slices.Contains(attrs, a) {
				return nil, nil, fmt.Errorf("thresholds.perf.segments.attributes names %q, which the data does not have (attributes: %s)", a, orNone(attrs))
			}
		}
		attrs = cfg.Attributes
	}
	for _, a := range attrs {
		col := slices.Index(env.Data.Attributes, a)
		f := feature{name: a, values: make([]int, len(rows))}
		index := map[string]int{}
		for r, i := range rows {
			v := ""
			if attrsOf := env.Data.Items[i].Attrs; col < len(attrsOf) {
				v = attrsOf[col]
			}
			if v == "" {
				v = "(empty)"
			}
			g, ok := index[v]
			if !ok {
				g = len(f.groups)
				index[v] = g
				f.groups = append(f.groups, a+"="+v)
			}
			f.values[r] = g
		}
		if len(f.groups) > maxAttributeValues {
			notes = append(notes, fmt.Sprintf("Attribute %q was not sliced: it has %d distinct values (more than %d).", a, len(f.groups), maxAttributeValues))
			continue
		}
		if len(f.groups) > 1 {
			feats = append(feats, f)
		}
	}

	facts := env.Facts
	if facts == nil || facts.Props == nil {
		return feats, append(notes, "Image properties were not computed: only attributes were sliced."), nil
	}
	props := facts.Names
	if len(cfg.Properties) > 0 {
		for _, p := range cfg.Properties {
			if facts.Index(p) < 0 {
				return nil, nil, fmt.Errorf("thresholds.perf.segments.properties names %q, which is not an image property (properties: %s)", p, strings.Join(facts.Names, ", "))
			}
		}
		props = cfg.Properties
	}
	for _, p := range props {
		k := facts.Index(p)
		col := make([]float64, len(rows))
		for r, i := range rows {
			col[r] = facts.Props[i][k]
		}
		if f, ok := binFeature(p, col, cfg.Bins); ok {
			feats = append(feats, f)
		}
	}
	return feats, notes, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// binFeature cuts a property at its quantiles 1/bins, ..., (bins-1)/bins into right-closed bins.
// Tied quantiles merge bins, so a property with few distinct values gets fewer bins; a constant
// one gets none (ok false).
func binFeature(name string, col []float64, bins int) (feature, bool) {
	qs := make([]float64, bins-1)
	for j := range qs {
		qs[j] = float64(j+1) / float64(bins)
	}
	q, err := stats.Quantiles(col, qs...)
	if err != nil {
		return feature{}, false
	}
	sorted := slices.Clone(col)
	slices.Sort(sorted)
	var edges []float64
	for _, e := range q {
		lower := math.Inf(-1)
		if len(edges) > 0 {
			lower = edges[len(edges)-1]
		}
		// Keep e only if the bin (lower, e] holds a value and something lies above it: a
		// quantile interpolated between tied values would open an empty bin.
		first, _ := slices.BinarySearch(sorted, math.Nextafter(lower, math.Inf(1)))
		if e > lower && first < len(sorted) && sorted[first] <= e && e < sorted[len(sorted)-1] {
			edges = append(edges, e)
		}
	}
	if len(edges) == 0 {
		return feature{}, false
	}
	f := feature{name: name, values: make([]int, len(col))}
	for r, v := range col {
		f.values[r] = sort.SearchFloat64s(edges, v) // first edge >= v: v's bin is (edges[i-1], edges[i]]
	}
	for b := 0; b <= len(edges); b++ {
		switch {
		case b == 0:
			f.groups = append(f.groups, fmt.Sprintf("%s <= %s", name, num(edges[0])))
		case b == len(edges):
			f.groups = append(f.groups, fmt.Sprintf("%s > %s", name, num(edges[b-1])))
		default:
			f.groups = append(f.groups, fmt.Sprintf("%s in (%s, %s]", name, num(edges[b-1]), num(edges[b])))
		}
	}
	return f, true
}

// newSegment measures a slice; nil when it is smaller than minSize.
func newSegment(name string, features []int, rows []int, correct, baseCorrect []bool, minSize int) *segment {
	if len(rows) < minSize || len(rows) == 0 {
		return nil
	}
	s := &segment{name: name, features: features, rows: rows, base: math.NaN()}
	for _, r := range rows {
		if correct[r] {
			s.correct++
		}
	}
	s.acc, _ = stats.WilsonInterval(s.correct, len(rows), stats.DefaultLevel)
	if baseCorrect != nil {
		n := 0
		for _, r := range rows {
			if baseCorrect[r] {
				n++
			}
		}
		s.base = float64(n) / float64(len(rows))
	}
	return s
}

// singleSegments measures every value of every feature, weakest first.
func singleSegments(feats []feature, correct, baseCorrect []bool, minSize int) []*segment {
	var out []*segment
	for fi, f := range feats {
		members := make([][]int, len(f.groups))
		for r, g := range f.values {
			if g >= 0 {
				members[g] = append(members[g], r)
			}
		}
		for g, rows := range members {
			if s := newSegment(f.groups[g], []int{fi}, rows, correct, baseCorrect, minSize); s != nil {
				out = append(out, s)
			}
		}
	}
	sortSegments(out)
	return out
}

// pairSegments crosses each of the weakest single slices with every value of every other feature.
// A pair that holds the same images as a single slice or an earlier pair says nothing new (every
// silver background is also in the brightest quarter) and is left out.
func pairSegments(feats []feature, singles []*segment, correct, baseCorrect []bool, minSize int) []*segment {
	var out []*segment
	seen := map[string]bool{}
	sameRows := map[string]bool{}
	for _, s := range singles {
		sameRows[rowsKey(s.rows)] = true
	}
	for _, seed := range singles[:min(pairSeeds, len(singles))] {
		fa := seed.features[0]
		for fb, f := range feats {
			if fb == fa {
				continue
			}
			members := make([][]int, len(f.groups))
			for _, r := range seed.rows {
				if g := f.values[r]; g >= 0 {
					members[g] = append(members[g], r)
				}
			}
			for g, rows := range members {
				key := seed.name + " & " + f.groups[g]
				if fb < fa {
					key = f.groups[g] + " & " + seed.name
				}
				if seen[key] {
					continue
				}
				seen[key] = true
				if len(rows) < minSize || sameRows[rowsKey(rows)] {
					continue
				}
				sameRows[rowsKey(rows)] = true
				if s := newSegment(key, []int{min(fa, fb), max(fa, fb)}, rows, correct, baseCorrect, minSize); s != nil {
					out = append(out, s)
				}
			}
		}
	}
	sortSegments(out)
	return out
}

// rowsKey identifies a set of rows (ascending, as slices collect them).
func rowsKey(rows []int) string {
	b := make([]byte, 0, 4*len(rows))
	for _, r := range rows {
		b = append(b, byte(r>>24), byte(r>>16), byte(r>>8), byte(r))
	}
	return string(b)
}

// sortSegments orders slices weakest first: by accuracy, then the larger (more certain) first,
// then by name.
func sortSegments(s []*segment) {
	sort.SliceStable(s, func(a, b int) bool {
		if s[a].acc.Estimate != s[b].acc.Estimate {
			return s[a].acc.Estimate < s[b].acc.Estimate
		}
		if len(s[a].rows) != len(s[b].rows) {
			return len(s[a].rows) > len(s[b].rows)
		}
		return s[a].name < s[b].name
	})
}

func segmentSection(title string, segs []*segment, maxRows int, withBase bool) report.Section {
	cols := []string{"slice", "images", "accuracy", "95% interval", "flag"}
	if withBase {
		cols = append(cols, "baseline")
	}
	t := tableOf(cols...)
	for i, s := range segs {
		if i == maxRows {
			break
		}
		flag := ""
		if s.flagged {
			flag = "**weak**"
		}
		row := []string{s.name, strconv.Itoa(len(s.rows)), pct(s.acc.Estimate), pct(s.acc.Lo) + " to " + pct(s.acc.Hi), flag}
		if withBase {
			row = append(row, pct(s.base))
		}
		addRow(t, row...)
	}
	return report.Section{Title: fmt.Sprintf("%s: %d of %d", title, min(maxRows, len(segs)), len(segs)), Table: t}
}
