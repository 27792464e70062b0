// Package checks holds cvgate's checks, the shared evaluation environment (Env) and the suite
// runner. Checks compute results; they never print, write reports or talk to GitHub.
package checks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/report"
)

// Check is one named test of a model.
type Check interface {
	ID() string
	Title() string
	// Run returns the check's result. Returning a *SkipError marks the check skipped; any other
	// error marks it errored. Run must honour ctx.
	Run(ctx context.Context, env *Env) (*report.Result, error)
}

// SkipError says a check does not apply (e.g. no baseline), and why.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return e.Reason }

// Skip returns a SkipError.
func Skip(format string, args ...any) error {
	return &SkipError{Reason: fmt.Sprintf(format, args...)}
}

// Progress is told how the suite advances. Implementations print a bar or log lines.
type Progress interface {
	// Start begins a named phase of roughly total units of work (0 if unknown).
	Start(name string, total int)
	// Add records units done in the current phase.
	Add(n int)
	// Done ends the current phase.
	Done()
}

// Run runs the checks in order, each under its own timeout and recover, so that one check's
// failure, error or panic never stops the others.
func Run(ctx context.Context, env *Env, list []Check, timeout time.Duration) []report.Result {
	out := make([]report.Result, 0, len(list))
	for _, c := range list {
		out = append(out, runOne(ctx, env, c, timeout))
	}
	return out
}

func runOne(ctx context.Context, env *Env, c Check, timeout time.Duration) (res report.Result) {
	start := time.Now()
	passes0, ort0 := env.ortCounters()
	if env.Progress != nil {
		env.Progress.Start(c.ID(), 0)
		defer env.Progress.Done()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			res = report.Result{ID: c.ID(), Title: c.Title(), Status: report.StatusError,
				Summary: "the check crashed (a cvgate bug: please report it)",
				Error:   fmt.Sprintf("panic: %v\n%s", p, firstFrames(debug.Stack(), 12))}
		}
		res.DurationSeconds = time.Since(start).Seconds()
		passes, ort := env.ortCounters()
		res.ForwardPasses, res.ORTSeconds = passes-passes0, math.Round((ort-ort0).Seconds()*1e3)/1e3
	}()
	r, err := c.Run(ctx, env)
	var skip *SkipError
	switch {
	case errors.As(err, &skip):
		return report.Result{ID: c.ID(), Title: c.Title(), Status: report.StatusSkip, Summary: "skipped: " + skip.Reason, Error: skip.Reason}
	case err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return report.Result{ID: c.ID(), Title: c.Title(), Status: report.StatusError,
			Summary: fmt.Sprintf("timed out after %s", timeout), Error: fmt.Sprintf("%s did not finish within runtime.check_timeout (%s): %v", c.ID(), timeout, err)}
	case err != nil:
		return report.Result{ID: c.ID(), Title: c.Title(), Status: report.StatusError, Summary: "could not run: " + firstLine(err.Error()), Error: err.Error()}
	case r == nil:
		return report.Result{ID: c.ID(), Title: c.Title(), Status: report.StatusError, Summary: "returned no result (a cvgate bug)"}
	}
	r.ID, r.Title = c.ID(), c.Title()
	if !r.Status.Valid() {
		r.Status = report.StatusError
		r.Error = "invalid status"
	}
	sanitize(r)
	return *r
}

// ortCounters sums the forward passes and the time inside ONNX Runtime of the subjects' sessions
// (sessions may share one counter), for a check's share of them.
func (e *Env) ortCounters() (passes int64, ort time.Duration) {
	var seen []*onnx.Stats
	for _, s := range e.Subjects() {
		if s == nil || s.Model == nil {
			continue
		}
		st := s.Model.Stats()
		if st == nil || slices.Contains(seen, st) {
			continue
		}
		seen = append(seen, st)
		passes += st.Samples()
		ort += st.Duration()
	}
	return passes, ort
}

// sanitize keeps a result encodable and honest: a metric that is not a finite number (a 0/0 on
// degenerate data, say) is left out rather than written as a made-up value, and the details say
// so; charts and matrices cannot have holes, so their non-finite cells become 0, also noted.
func sanitize(r *report.Result) {
	var dropped []string
	for _, m := range []map[string]float64{r.Metrics, r.BaselineMetrics} {
		for k, v := range m {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				dropped = append(dropped, fmt.Sprintf("%s (%v)", k, v))
				delete(m, k)
			}
		}
	}
	zeroed := 0
	fix := func(vs []float64) {
		for i, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				vs[i] = 0
				zeroed++
			}
		}
	}
	for _, d := range r.Details {
		if d.Chart != nil {
			for _, s := range d.Chart.Series {
				fix(s.Values)
			}
		}
		if d.Matrix != nil {
			for _, row := range d.Matrix.Values {
				fix(row)
			}
		}
	}
	if len(dropped) == 0 && zeroed == 0 {
		return
	}
	sort.Strings(dropped)
	note := "Some numbers were undefined on this data and are not reported"
	if len(dropped) > 0 {
		note += ": " + strings.Join(dropped, ", ")
	}
	if zeroed > 0 {
		note += fmt.Sprintf(" (%d chart or matrix cells shown as 0)", zeroed)
	}
	r.Details = append(r.Details, report.Section{Text: note + "."})
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func firstFrames(stack []byte, lines int) string {
	parts := strings.SplitN(string(stack), "\n", lines+1)
	if len(parts) > lines {
		parts = parts[:lines]
	}
	return strings.Join(parts, "\n")
}

// Select returns the checks to run: those named by include (IDs or prefixes such as "perf.*" or
// "perf"), or all when include is empty, minus those named by exclude. Unknown names are an error
// listing the valid IDs.
func Select(all []Check, include, exclude []string) ([]Check, error) {
	var unknown []string
	for _, pat := range append(append([]string{}, include...), exclude...) {
		found := false
		for _, c := range all {
			if matches(pat, c.ID()) {
				found = true
				break
			}
		}
		if !found {
			unknown = append(unknown, pat)
		}
	}
	if len(unknown) > 0 {
		var ids []string
		for _, c := range all {
			ids = append(ids, c.ID())
		}
		return nil, fmt.Errorf("unknown check(s) %s; checks are: %s", strings.Join(unknown, ", "), strings.Join(ids, ", "))
	}
	var out []Check
	for _, c := range all {
		in := len(include) == 0
		for _, pat := range include {
			in = in || matches(pat, c.ID())
		}
		for _, pat := range exclude {
			if matches(pat, c.ID()) {
				in = false
			}
		}
		if in {
			out = append(out, c)
		}
	}
	return out, nil
}

func matches(pattern, id string) bool {
	pattern = strings.TrimSuffix(strings.TrimSuffix(pattern, "*"), ".")
	return id == pattern || strings.HasPrefix(id, pattern+".")
}
