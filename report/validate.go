package report

import (
	"errors"
	"fmt"
)

// Limits Validate enforces on a report read back from disk. They are far above what a cvgate
// run writes (a handful of targets, a few dozen checks) and keep a crafted report from making
// a writer do unbounded work.
const (
	MaxTargets        = 2000
	MaxResults        = 1000 // per target
	MaxSections       = 200  // per result
	MaxTableRows      = 100_000
	MaxTableColumns   = 100
	MaxMatrixLabels   = 10_000
	MaxChartPoints    = 10_000
	MaxComparisonRows = 2000
)

// Kinds lists the report kinds cvgate writes.
func Kinds() []string { return []string{"check", "compare", "drift"} }

// Validate checks what decoding cannot: known kind and statuses, a known fail-on policy, and
// sizes within the limits above. It names the first problems found (joined), each with where it
// is (targets[3].results[7].status).
func (r *Report) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		if len(errs) < 20 {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	known := false
	for _, k := range Kinds() {
		known = known || r.Kind == k
	}
	if !known {
		bad("kind %q: want one of check, compare, drift", r.Kind)
	}
	if r.Gate.FailOn != "" {
		var f FailOn
		if err := f.Set(string(r.Gate.FailOn)); err != nil {
			bad("gate.fail_on: %v", err)
		}
	}
	if len(r.Targets) > MaxTargets {
		bad("targets: %d, over the limit of %d", len(r.Targets), MaxTargets)
		return errors.Join(errs...)
	}
	for ti, t := range r.Targets {
		where := fmt.Sprintf("targets[%d]", ti)
		if t.Verdict != "" && !t.Verdict.Valid() {
			bad("%s.verdict %q: not a status", where, t.Verdict)
		}
		if len(t.Results) > MaxResults {
			bad("%s.results: %d, over the limit of %d", where, len(t.Results), MaxResults)
			continue
		}
		for ri, res := range t.Results {
			w := fmt.Sprintf("%s.results[%d]", where, ri)
			if !res.Status.Valid() {
				bad("%s.status %q: want one of pass, skip, warn, fail, error", w, res.Status)
			}
			if len(res.Details) > MaxSections {
				bad("%s.details: %d sections, over the limit of %d", w, len(res.Details), MaxSections)
				continue
			}
			for si, s := range res.Details {
				validSection(s, fmt.Sprintf("%s.details[%d]", w, si), bad)
			}
		}
	}
	if c := r.Comparison; c != nil && (len(c.Rows) > MaxComparisonRows || len(c.Pairs) > MaxComparisonRows) {
		bad("comparison: %d rows and %d pairs, over the limit of %d", len(c.Rows), len(c.Pairs), MaxComparisonRows)
	}
	return errors.Join(errs...)
}

func validSection(s Section, where string, bad func(string, ...any)) {
	if t := s.Table; t != nil {
		if len(t.Columns) > MaxTableColumns || len(t.Rows) > MaxTableRows {
			bad("%s.table: %d columns and %d rows, over the limits of %d and %d", where, len(t.Columns), len(t.Rows), MaxTableColumns, MaxTableRows)
		}
		for i, row := range t.Rows {
			if len(row) > MaxTableColumns {
				bad("%s.table.rows[%d]: %d cells, over the limit of %d", where, i, len(row), MaxTableColumns)
				break
			}
		}
	}
	if m := s.Matrix; m != nil {
		if len(m.Rows) > MaxMatrixLabels || len(m.Cols) > MaxMatrixLabels {
			bad("%s.matrix: %d x %d, over the limit of %d labels", where, len(m.Rows), len(m.Cols), MaxMatrixLabels)
		} else if len(m.Values) != len(m.Rows) {
			bad("%s.matrix: %d rows of values for %d row labels", where, len(m.Values), len(m.Rows))
		} else {
			for i, row := range m.Values {
				if len(row) != len(m.Cols) {
					bad("%s.matrix.values[%d]: %d values for %d columns", where, i, len(row), len(m.Cols))
					break
				}
			}
		}
	}
	if c := s.Chart; c != nil {
		n := len(c.X)
		for _, ser := range c.Series {
			n += len(ser.Values)
		}
		if n > MaxChartPoints {
			bad("%s.chart: %d points, over the limit of %d", where, n, MaxChartPoints)
		}
	}
	if len(s.Images) > MaxTableRows {
		bad("%s.images: %d, over the limit of %d", where, len(s.Images), MaxTableRows)
	}
}
