package checks

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/report"
)

// pct formats a share as a percentage with one decimal; a share that rounds to zero is "0.0%",
// never "-0.0%".
func pct(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return noNegZero(fmt.Sprintf("%.1f", 100*x)) + "%"
}

// pp formats a difference of shares in percentage points, with its sign; one that rounds to zero
// is "±0.0 pp", neither "+0.0" nor "-0.0".
func pp(d float64) string {
	if math.IsNaN(d) {
		return "n/a"
	}
	s := fmt.Sprintf("%+.1f", 100*d)
	if noNegZero(s[1:]) == "0.0" {
		return "±0.0 pp"
	}
	return s + " pp"
}

// noNegZero drops the sign of a number that printed as zero ("-0.0" is "0.0").
func noNegZero(s string) string {
	if strings.HasPrefix(s, "-") && strings.Trim(s[1:], "0.") == "" {
		return s[1:]
	}
	return s
}

// count writes a number with its noun in the right form: "1 flip", "3 flips".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// arrow marks the direction of a change: up is better when higherIsBetter.
func arrow(d float64, higherIsBetter bool) string {
	switch {
	case math.Abs(d) < 1e-12:
		return "="
	case (d > 0) == higherIsBetter:
		return "▲"
	}
	return "▼"
}

// f3 formats a number with three decimals.
func f3(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", x)
}

// round keeps metrics stable in JSON and goldens: 6 significant decimals are plenty for shares.
func round(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	return math.Round(x*1e6) / 1e6
}

// finite replaces NaN and Inf by -1 so that a metrics map stays JSON-encodable; the summary says
// what happened instead.
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return -1
	}
	return round(x)
}

// className is the class name of an output index, or "NaN" for an unusable prediction.
func (e *Env) className(i int) string {
	if i < 0 {
		return "NaN"
	}
	if e.Data.Classes != nil && i < len(e.Data.Classes.Names) {
		return e.Data.Classes.Names[i]
	}
	return fmt.Sprint(i)
}

// labelled returns a skip error when the data has no labels.
func (e *Env) labelled() error {
	if e.Data.Classes == nil {
		return Skip("the data has no labels")
	}
	for _, it := range e.Data.Items {
		if it.Label < 0 {
			// Class names may come from a labels file while the images themselves are unlabelled.
			return Skip("%s has unlabelled images (e.g. %s): label them with class folders or a manifest", e.Data.Source, it.Path)
		}
	}
	return nil
}

// export writes failure cases and records where they went; an export problem is noted in the
// result rather than failing the check.
func (e *Env) export(res *report.Result, check string, cases []failures.Case, total int) {
	if e.Export == nil || len(cases) == 0 {
		return
	}
	f, err := e.Export.Export(check, cases, total)
	if err != nil {
		res.Details = append(res.Details, report.Section{Text: "Failure cases could not be exported: " + err.Error()})
		return
	}
	res.Failures = f
}

// tableOf builds a report table.
func tableOf(columns ...string) *report.Table { return &report.Table{Columns: columns} }

func addRow(t *report.Table, cells ...string) { t.Rows = append(t.Rows, cells) }

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// sortCases orders failure cases most severe first, ties by path, deterministically.
func sortCases(cs []failures.Case) {
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Severity != cs[j].Severity {
			return cs[i].Severity > cs[j].Severity
		}
		if cs[i].Path != cs[j].Path {
			return cs[i].Path < cs[j].Path
		}
		return cs[i].Perturbation < cs[j].Perturbation
	})
}
