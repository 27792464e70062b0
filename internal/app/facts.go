package app

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/cvgate/cvgate/checks"
	"github.com/cvgate/cvgate/internal/analysis"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/report"
)

// loadAnalysed decodes a listing once and computes every image's facts (properties, hashes,
// thumbnail) in the same pass, while the pixels are in cache. With hashOnly the pixels are dropped
// as soon as they are hashed (a training set searched for leaks): memory then holds one image
// per core, not the set.
func (s *session) loadAnalysed(ctx context.Context, l *dataset.Listing, opts dataset.Options, hashOnly bool) (*dataset.Dataset, *analysis.Facts, error) {
	facts := analysis.New(len(l.Entries), analysis.Options{Properties: !hashOnly})
	opts.Decoded = facts.Hook()
	opts.DropPixels = hashOnly
	ds, err := dataset.Load(ctx, l, opts)
	if err != nil {
		return nil, nil, err
	}
	kept, err := facts.Compact(l, ds)
	if err != nil {
		return nil, nil, err
	}
	return ds, kept, nil
}

// loadTrain decodes the training set of data.leakage, once, when that check runs and a training
// set is configured. Its labels are kept as names and not mapped to the model's classes: a
// training set may use other names, and leakage needs none.
func (s *session) loadTrain(ctx context.Context, selected []checks.Check) error {
	train := s.cfg.Thresholds.DataLeakage.Train
	if train == "" || !slices.ContainsFunc(selected, func(c checks.Check) bool { return c.ID() == checks.IDDataLeakage }) {
		return nil
	}
	l, err := s.list(train)
	if err != nil {
		return fmt.Errorf("thresholds.data.leakage.train: %w", err)
	}
	s.prog.Start("hash training images", len(l.Entries))
	ds, facts, err := s.loadAnalysed(ctx, l, dataset.Options{MaxUnreadable: s.cfg.MaxUnreadable, Progress: func(done, total int) { s.prog.Add(1) }}, true)
	s.prog.Done()
	if err != nil {
		return fmt.Errorf("thresholds.data.leakage.train: %w", err)
	}
	s.train, s.trainFacts = ds, facts
	return nil
}

// describeAnalysis adds the per-image properties to the report's dataset and describes the
// training set.
func (s *session) describeAnalysis(r *report.Report, ds *dataset.Dataset) error {
	if r.Inputs.Dataset != nil && s.facts != nil {
		r.Inputs.Dataset.Properties = propertyTable(ds, s.facts)
	}
	if s.train != nil {
		d, err := describeSet(s.cfg.Thresholds.DataLeakage.Train, s.train, nil)
		if err != nil {
			return err
		}
		r.Inputs.Train = d
	}
	return nil
}

// describeSet is a report's description of a decoded set; labels are named as the data names
// them.
func describeSet(path string, ds *dataset.Dataset, facts *analysis.Facts) (*report.Dataset, error) {
	digest, err := ds.Digest()
	if err != nil {
		return nil, err
	}
	d := &report.Dataset{Path: path, SHA256: digest, Images: len(ds.Items), Attributes: ds.Attributes,
		DecodeSeconds: round3(ds.Decode.Seconds()), Classes: []string{}, PerClass: []int{}, Unreadable: []report.Problem{}}
	if d.Attributes == nil {
		d.Attributes = []string{}
	}
	counts := map[string]int{}
	for _, it := range ds.Items {
		name := it.LabelName
		if it.Label >= 0 && ds.Classes != nil {
			name = ds.Classes.Names[it.Label]
		}
		if name == "" {
			continue
		}
		if _, ok := counts[name]; !ok {
			d.Classes = append(d.Classes, name)
		}
		counts[name]++
	}
	slices.Sort(d.Classes)
	for _, c := range d.Classes {
		d.PerClass = append(d.PerClass, counts[c])
	}
	d.LabelSource = "labels as the data names them"
	if len(d.Classes) == 0 {
		d.LabelSource = "none (unlabelled)"
	}
	for _, p := range ds.Unreadable {
		d.Unreadable = append(d.Unreadable, report.Problem{Path: p.Path, Reason: p.Reason})
	}
	if facts != nil {
		d.Properties = propertyTable(ds, facts)
	}
	return d, nil
}

// propertyTable lists every image's properties, rounded to 4 significant digits so that
// report.json stays compact, with a summary per property.
func propertyTable(ds *dataset.Dataset, f *analysis.Facts) *report.ImageProperties {
	if f.Props == nil {
		return nil
	}
	t := &report.ImageProperties{Names: f.Names, Summary: []report.PropertySummary{}, Images: make([]report.ImageRow, len(ds.Items))}
	for i, it := range ds.Items {
		row := make([]float64, len(f.Names))
		for k, v := range f.Props[i] {
			row[k] = sig4(v)
		}
		t.Images[i] = report.ImageRow{Path: it.Path, Values: row}
	}
	for k, name := range f.Names {
		col := f.Column(k)
		q, err := stats.Quantiles(col, 0, 0.05, 0.5, 0.95, 1)
		if err != nil {
			continue
		}
		m, _ := stats.Mean(col)
		t.Summary = append(t.Summary, report.PropertySummary{Name: name, Min: sig4(q[0]), P05: sig4(q[1]), Median: sig4(q[2]), Mean: sig4(m), P95: sig4(q[3]), Max: sig4(q[4])})
	}
	return t
}

// sig4 rounds to 4 significant digits (exactly as strconv prints them, so JSON shows no noise).
func sig4(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	v, err := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 4, 64), 64)
	if err != nil {
		return x
	}
	return v
}
