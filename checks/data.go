package checks

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/internal/analysis"
	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dedup"
	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/internal/task"
	"github.com/cvgate/cvgate/report"
)

// Check IDs of the data family.
const (
	IDDataIntegrity = "data.integrity"
	IDDataLeakage   = "data.leakage"
)

// OutlierK is the Tukey fence multiplier of the property-outlier rule: Q1 - 3 IQR and Q3 + 3 IQR
// ("far out"). The usual 1.5 flags several percent of any skewed property (the brightness of
// digits) and would bury the images that are really odd.
const OutlierK = 3

// maxListed caps the rows of each details table; the metrics count everything.
const maxListed = 20

// DataIntegrity looks at the evaluation images themselves: files that could not be read, exact
// and near-duplicates (and duplicates labelled differently), class balance, classes the model has
// that the data lacks, and images whose properties are far outside the rest.
type DataIntegrity struct{}

// ID implements Check.
func (DataIntegrity) ID() string { return IDDataIntegrity }

// Title implements Check.
func (DataIntegrity) Title() string { return "Data integrity: duplicates, label conflicts, balance" }

// Common implements Toggled.
func (DataIntegrity) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.DataIntegrity.Common, true
}

// DataOnly implements DataOnly: the images are checked whether or not the model loads.
func (DataIntegrity) DataOnly() {}

// dupGroup is a set of images that are copies of one another (exactly or nearly).
type dupGroup struct {
	items    []int
	exact    bool // every member has the same pixels
	labels   []string
	conflict bool // members carry different labels
}

// Run implements Check.
func (DataIntegrity) Run(ctx context.Context, env *Env) (*report.Result, error) {
	facts := env.Facts
	if facts == nil || facts.Len() != len(env.Data.Items) {
		return nil, Skip("image properties and hashes were not computed for this data")
	}
	cfg := env.Config.Thresholds.DataIntegrity
	ds := env.Data
	n := len(ds.Items)
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{"images": float64(n)}}
	res.Threshold = fmt.Sprintf("duplicates <= %s, no label conflicts, classes >= %.2g x average, no unreadable files", pct(cfg.MaxDuplicateShare), cfg.MinClassShare)
	var problems, notes []string

	// Unreadable files were left out by the decoder (under max_unreadable); say which.
	if u := len(ds.Unreadable); u > 0 {
		problems = append(problems, count(u, "unreadable file", "unreadable files")+" left out")
		t := tableOf("file", "problem")
		for i, p := range ds.Unreadable {
			if i == maxListed {
				addRow(t, fmt.Sprintf("... and %d more", u-maxListed), "")
				break
			}
			addRow(t, p.Path, p.Reason)
		}
		res.Details = append(res.Details, report.Section{Title: "Unreadable files", Table: t})
	}
	res.Metrics["unreadable"] = float64(len(ds.Unreadable))

	// Duplicates.
	found := facts.Duplicates(analysis.NearOptions{Distance: cfg.NearDuplicateDistance, MinSimilarity: cfg.MinSimilarity})
	groups := duplicateGroups(env, found)
	redundant, exactRedundant, conflictGroups, conflictImages := 0, 0, 0, 0
	for _, g := range groups {
		redundant += len(g.items) - 1
		if g.exact {
			exactRedundant += len(g.items) - 1
		}
		if g.conflict {
			conflictGroups++
			conflictImages += len(g.items)
		}
	}
	share := float64(redundant) / float64(n)
	res.Metrics["exact_duplicate_groups"] = float64(len(found.Exact))
	res.Metrics["exact_duplicates"] = float64(exactRedundant)
	res.Metrics["near_duplicate_groups"] = float64(len(found.Near))
	res.Metrics["duplicates"] = float64(redundant)
	res.Metrics["duplicate_share"] = round(share)
	res.Metrics["label_conflict_groups"] = float64(conflictGroups)
	res.Metrics["near_duplicate_candidates"] = float64(found.Candidates)
	if redundant > 0 {
		msg := fmt.Sprintf("%s (%s) in %s, %d exact", count(redundant, "duplicate image", "duplicate images"), pct(share), count(len(groups), "group", "groups"), exactRedundant)
		if share > cfg.MaxDuplicateShare {
			problems = append(problems, msg+", over max_duplicate_share "+pct(cfg.MaxDuplicateShare))
		} else {
			notes = append(notes, msg)
		}
		res.Details = append(res.Details, duplicatesSection(env, groups))
	}
	if conflictGroups > 0 {
		problems = append(problems, fmt.Sprintf("%s with conflicting labels (%s)", count(conflictGroups, "duplicate group", "duplicate groups"), count(conflictImages, "image", "images")))
	}
	if found.Truncated {
		res.Details = append(res.Details, report.Section{Text: fmt.Sprintf("A batch of images had more than %d look-alike candidate pairs, so the search was capped (%d candidate pairs in all): some near-duplicates may be missing.",
			analysis.DefaultMaxCandidates, found.Candidates)})
	}

	// Class balance and labels.
	if ds.Classes != nil {
		sec, msgs := balance(env, cfg.MinClassShare, res.Metrics)
		problems = append(problems, msgs...)
		res.Details = append(res.Details, sec)
	}

	// Ground truth of detection and segmentation: boxes, masks.
	// Without a candidate (the model did not load) the ground truth is audited all the same.
	if a, ok := env.Task.(task.Auditor); ok && (env.Candidate == nil || env.decoded()) {
		truths, sizes := env.truthsOf(allItems(len(ds.Items)))
		paths := make([]string, len(ds.Items))
		for i := range ds.Items {
			paths[i] = ds.Items[i].Path
		}
		au := a.Audit(truths, sizes, paths)
		problems = append(problems, au.Problems...)
		notes = append(notes, au.Notes...)
		res.Details = append(res.Details, au.Sections...)
		for k, v := range au.Metrics {
			res.Metrics[k] = v
		}
	}

	// Property outliers and the summary of every property.
	var outliers []outlier
	if facts.Props != nil {
		var sec report.Section
		sec, outliers = propertySummary(facts)
		res.Details = append(res.Details, sec)
		if len(outliers) > 0 {
			notes = append(notes, count(len(outliers), "image", "images")+" with a far-out property")
			res.Details = append(res.Details, outlierSection(env, facts, outliers))
		}
	}
	res.Metrics["outliers"] = float64(len(outliers))

	if len(problems) > 0 {
		res.Status = report.StatusWarn
		res.Summary = strings.Join(problems, "; ")
	} else {
		res.Summary = fmt.Sprintf("%d images: no unreadable files, duplicates within limits, classes balanced", n)
		if len(notes) > 0 {
			res.Summary = fmt.Sprintf("%d images: %s", n, strings.Join(notes, "; "))
		}
	}
	env.export(res, IDDataIntegrity, integrityCases(env, groups, outliers), conflictImages+redundant+len(outliers))
	return res, nil
}

// duplicateGroups merges exact groups and near-duplicate groups into one list, conflicts first,
// then the biggest.
func duplicateGroups(env *Env, found analysis.Groups) []dupGroup {
	n := len(env.Data.Items)
	uf := dedup.NewUnionFind(n)
	for _, g := range found.Exact {
		for _, i := range g[1:] {
			uf.Union(g[0], i)
		}
	}
	for _, m := range found.Pairs {
		uf.Union(m.A, m.B)
	}
	var out []dupGroup
	for _, items := range uf.Groups(2) {
		g := dupGroup{items: items, exact: true}
		seen := map[string]bool{}
		for _, i := range items {
			if env.Facts.Pixels[i] != env.Facts.Pixels[items[0]] {
				g.exact = false
			}
			if l := labelName(env, i); l != "" && !seen[l] {
				seen[l] = true
				g.labels = append(g.labels, l)
			}
		}
		sort.Strings(g.labels)
		g.conflict = len(g.labels) > 1
		out = append(out, g)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].conflict != out[b].conflict {
			return out[a].conflict
		}
		return len(out[a].items) > len(out[b].items)
	})
	return out
}

// labelName is the label of item i as the data names it, "" when unlabelled.
func labelName(env *Env, i int) string {
	it := env.Data.Items[i]
	if it.Label >= 0 {
		return env.className(it.Label)
	}
	return it.LabelName
}

func duplicatesSection(env *Env, groups []dupGroup) report.Section {
	t := tableOf("group", "images", "kind", "labels", "files")
	for gi, g := range groups {
		if gi == maxListed {
			addRow(t, "...", strconv.Itoa(len(groups)-maxListed)+" more groups", "", "", "")
			break
		}
		kind := "near"
		if g.exact {
			kind = "exact"
		}
		labels := strings.Join(g.labels, ", ")
		if g.conflict {
			labels = "**conflict:** " + labels
		}
		var paths []string
		for k, i := range g.items {
			if k == 4 {
				paths = append(paths, fmt.Sprintf("+%d", len(g.items)-4))
				break
			}
			paths = append(paths, "`"+env.Data.Items[i].Path+"`")
		}
		addRow(t, strconv.Itoa(gi+1), strconv.Itoa(len(g.items)), kind, labels, strings.Join(paths, " "))
	}
	return report.Section{Title: "Duplicate groups (exact: same pixels; near: perceptual hash and thumbnail agree)", Table: t}
}

// balance reports images per class, the classes the data lacks and the rare ones.
func balance(env *Env, minShare float64, m map[string]float64) (report.Section, []string) {
	counts := env.Data.PerClass()
	labelled, unlabelled := 0, 0
	for _, it := range env.Data.Items {
		if it.Label >= 0 {
			labelled++
		} else {
			unlabelled++
		}
	}
	avg := float64(labelled) / float64(len(counts))
	var missing, rare []string
	minRatio := math.Inf(1)
	t := tableOf("class", "images", "share", "vs average")
	for c, k := range counts {
		ratio := float64(k) / avg
		minRatio = min(minRatio, ratio)
		note := fmt.Sprintf("%.2fx", ratio)
		switch {
		case k == 0:
			missing = append(missing, env.className(c))
			note = "**missing**"
		case ratio < minShare:
			rare = append(rare, fmt.Sprintf("%s (%d)", env.className(c), k))
			note += " **rare**"
		}
		addRow(t, env.className(c), strconv.Itoa(k), pct(float64(k)/float64(max(labelled, 1))), note)
	}
	m["classes"] = float64(len(counts))
	m["classes_missing"] = float64(len(missing))
	m["classes_rare"] = float64(len(rare))
	m["min_class_ratio"] = finite(minRatio)
	m["unlabelled"] = float64(unlabelled)
	var msgs []string
	if len(missing) > 0 {
		msgs = append(msgs, fmt.Sprintf("%d of the model's %d classes have no image (%s): their recall is untested", len(missing), len(counts), preview(missing, 8)))
	}
	if len(rare) > 0 {
		msgs = append(msgs, fmt.Sprintf("%d class(es) under %.2g x the average class size: %s", len(rare), minShare, preview(rare, 8)))
	}
	if unlabelled > 0 {
		msgs = append(msgs, count(unlabelled, "image", "images")+" without a label")
	}
	// Labels the model does not know never reach this check: loading the data stops with an
	// error naming the first one, since accuracy against them would be meaningless.
	return report.Section{Title: fmt.Sprintf("Class balance (%d labelled images, %d classes)", labelled, len(counts)), Table: t}, msgs
}

func preview(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(", ... (%d more)", len(names)-n)
}

// outlier is an image with at least one property outside the Tukey fences.
type outlier struct {
	item     int
	property int
	value    float64
	lo, hi   float64 // the fences
	severity float64 // distance beyond the fence in IQRs
}

// propertySummary describes each property's distribution and finds the far-out images. A property
// whose IQR is 0 (more than half the images share one value, such as the size of every MNIST
// digit) has no outliers by this rule: every other value would be one.
func propertySummary(f *analysis.Facts) (report.Section, []outlier) {
	t := tableOf("property", "min", "5%", "median", "95%", "max", "far out")
	worst := map[int]outlier{}
	for k, name := range f.Names {
		col := f.Column(k)
		q, err := stats.Quantiles(col, 0, 0.05, 0.25, 0.5, 0.75, 0.95, 1)
		if err != nil {
			continue
		}
		iqr := q[4] - q[2]
		far := "n/a (IQR 0)"
		if iqr > 0 {
			lo, hi := q[2]-OutlierK*iqr, q[4]+OutlierK*iqr
			count := 0
			for i, v := range col {
				if v >= lo && v <= hi {
					continue
				}
				count++
				sev := math.Max(lo-v, v-hi) / iqr
				if o, ok := worst[i]; !ok || sev > o.severity {
					worst[i] = outlier{item: i, property: k, value: v, lo: lo, hi: hi, severity: sev}
				}
			}
			far = strconv.Itoa(count)
		}
		addRow(t, name, num(q[0]), num(q[1]), num(q[3]), num(q[5]), num(q[6]), far)
	}
	out := make([]outlier, 0, len(worst))
	for _, o := range worst {
		out = append(out, o)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].severity != out[b].severity {
			return out[a].severity > out[b].severity
		}
		return out[a].item < out[b].item
	})
	return report.Section{Title: fmt.Sprintf("Image properties (far out: beyond Q1 - %d IQR or Q3 + %d IQR)", OutlierK, OutlierK), Table: t}, out
}

func outlierSection(env *Env, f *analysis.Facts, outliers []outlier) report.Section {
	t := tableOf("image", "label", "property", "value", "usual range")
	for k, o := range outliers {
		if k == maxListed {
			addRow(t, fmt.Sprintf("... and %d more", len(outliers)-maxListed), "", "", "", "")
			break
		}
		addRow(t, "`"+env.Data.Items[o.item].Path+"`", labelName(env, o.item), f.Names[o.property], num(o.value), num(o.lo)+" to "+num(o.hi))
	}
	return report.Section{Title: "Far-out images (the most extreme property of each)", Table: t}
}

// num formats a property value with 4 significant digits.
func num(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

// integrityCases exports duplicates with conflicting labels first, then far-out images, then other
// duplicates (one copy per group: the others look the same).
func integrityCases(env *Env, groups []dupGroup, outliers []outlier) []failures.Case {
	var cases []failures.Case
	for _, g := range groups {
		if !g.conflict {
			continue
		}
		for _, i := range g.items {
			it := env.Data.Items[i]
			cases = append(cases, failures.Case{Image: it.Image, Path: it.Path, Label: labelName(env, i), Severity: 3,
				Perturbation: "duplicate", Note: "duplicate group labelled " + strings.Join(g.labels, ", ")})
		}
	}
	for _, o := range outliers {
		it := env.Data.Items[o.item]
		cases = append(cases, failures.Case{Image: it.Image, Path: it.Path, Label: labelName(env, o.item), Severity: 2 + math.Min(o.severity, 1000)/1000,
			Perturbation: "outlier", Note: fmt.Sprintf("%s %s outside %s..%s", env.Facts.Names[o.property], num(o.value), num(o.lo), num(o.hi))})
	}
	for _, g := range groups {
		if g.conflict {
			continue
		}
		i := g.items[1]
		it := env.Data.Items[i]
		cases = append(cases, failures.Case{Image: it.Image, Path: it.Path, Label: labelName(env, i), Severity: 1,
			Perturbation: "duplicate", Note: "copy of " + env.Data.Items[g.items[0]].Path})
	}
	return cases
}

// DataLeakage looks for evaluation images that are also in the training set (exact copies, or
// near-duplicates: re-encoded, resized, slightly brightened): accuracy on them measures memory,
// not generalisation.
type DataLeakage struct{}

// ID implements Check.
func (DataLeakage) ID() string { return IDDataLeakage }

// Title implements Check.
func (DataLeakage) Title() string { return "Train/eval leakage (near-duplicates)" }

// Common implements Toggled.
func (DataLeakage) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.DataLeakage.Common, true
}

// DataOnly implements DataOnly.
func (DataLeakage) DataOnly() {}

// Run implements Check.
func (DataLeakage) Run(ctx context.Context, env *Env) (*report.Result, error) {
	cfg := env.Config.Thresholds.DataLeakage
	if env.Train == nil || env.TrainFacts == nil {
		return nil, Skip("no training set: set thresholds.data.leakage.train to the training images (folder or manifest)")
	}
	if env.Facts == nil || env.Facts.Len() != len(env.Data.Items) {
		return nil, Skip("image hashes were not computed for this data")
	}
	matches, search := env.Facts.Leaks(env.TrainFacts, analysis.NearOptions{Distance: cfg.Distance, MinSimilarity: cfg.MinSimilarity})
	n := len(env.Data.Items)
	share := float64(len(matches)) / float64(n)
	exact, conflicts := 0, 0
	t := tableOf("eval image", "train image", "match", "eval label", "train label")
	var cases []failures.Case
	for k, m := range matches {
		it, tr := env.Data.Items[m.A], env.Train.Items[m.B]
		kind := fmt.Sprintf("near (hash %d bits, similarity %.3f)", m.Distance, m.Similarity)
		if m.Exact {
			exact++
			kind = "exact (same pixels)"
		}
		el, tl := labelName(env, m.A), tr.LabelName
		if el != "" && tl != "" && el != tl {
			conflicts++
			tl = "**" + tl + "**"
		}
		if k < maxListed {
			addRow(t, "`"+it.Path+"`", "`"+tr.Path+"`", kind, el, tl)
		}
		cases = append(cases, failures.Case{Image: it.Image, Path: it.Path, Label: el, Severity: m.Similarity,
			Perturbation: "leak", Note: "also in train: " + tr.Path})
	}
	if len(matches) > maxListed {
		addRow(t, fmt.Sprintf("... and %d more", len(matches)-maxListed), "", "", "", "")
	}
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{
		"eval_images":  float64(n),
		"train_images": float64(len(env.Train.Items)),
		"leaked":       float64(len(matches)),
		"leaked_share": round(share),
		"exact":        float64(exact),
		"near":         float64(len(matches) - exact),
		"candidates":   float64(search.Candidates),
	}}
	res.Threshold = "leaked share <= " + pct(cfg.MaxShare)
	res.Summary = fmt.Sprintf("no evaluation image found among %d training images", len(env.Train.Items))
	if len(matches) > 0 {
		res.Summary = fmt.Sprintf("%d of %d evaluation images (%s) are in the training set (%d exact, %d near)", len(matches), n, pct(share), exact, len(matches)-exact)
		if conflicts > 0 {
			res.Summary += fmt.Sprintf(", %d labelled differently there", conflicts)
		}
		res.Status = report.StatusWarn
		if share > cfg.MaxShare {
			res.Status = report.StatusFail
			res.Summary += ", over max_share " + pct(cfg.MaxShare)
		}
		res.Details = append(res.Details, report.Section{Title: "Evaluation images found in the training set", Table: t})
	}
	if search.Truncated {
		res.Details = append(res.Details, report.Section{Text: fmt.Sprintf("A batch of evaluation images had more than %d look-alike candidate pairs among the training images, so the search was capped (%d candidate pairs in all): the count may be low.",
			analysis.DefaultMaxCandidates, search.Candidates)})
	}
	env.export(res, IDDataLeakage, cases, len(matches))
	return res, nil
}
