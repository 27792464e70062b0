package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/testutil/golden"
	"github.com/cvgate/cvgate/report"
)

func fixture(t testing.TB) *report.Report {
	t.Helper()
	r, err := report.ReadJSON("testdata/report.json")
	if err != nil {
		t.Fatal(err)
	}
	r.Normalize(nil)
	report.ApplyGate(r, report.FailOnFail)
	return r
}

func render(t *testing.T, w report.Writer, r *report.Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := w.Write(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriters(t *testing.T) {
	tests := []struct {
		name string
		ext  string
		w    report.Writer
	}{
		{"markdown_comment", ".md", report.Markdown{Marker: "<!-- cvgate:test -->"}},
		{"markdown_full", ".md", report.Markdown{AllDetails: true}},
		{"json", ".json", report.JSON{}},
		{"junit", ".xml", report.JUnit{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden.Assert(t, tt.ext, render(t, tt.w, fixture(t)))
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := fixture(t)
	first := render(t, report.JSON{}, r)
	var back report.Report
	if err := json.Unmarshal(first, &back); err != nil {
		t.Fatal(err)
	}
	if second := render(t, report.JSON{}, &back); !bytes.Equal(first, second) {
		t.Errorf("JSON does not round-trip:\n%s\n---\n%s", first, second)
	}
	if strings.Contains(string(first), "null") {
		t.Errorf("report.json contains null; writers must emit [] and {}")
	}
}

func TestMarkdownTrimsDetailsFirst(t *testing.T) {
	r := fixture(t)
	// Blow up the warn check's details so the comment goes over budget.
	var res *report.Result
	for i := range r.Targets[0].Results {
		if r.Targets[0].Results[i].ID == "perf.metrics" {
			res = &r.Targets[0].Results[i]
		}
	}
	big := strings.Repeat("x", 5000)
	res.Details = append(res.Details, report.Section{Text: big})
	full := render(t, report.Markdown{}, r)
	const budget = 4000
	if len(full) <= budget {
		t.Fatalf("fixture too small to test trimming: %d bytes", len(full))
	}
	got := string(render(t, report.Markdown{MaxBytes: budget, FullReport: "the cvgate-report artifact"}, r))
	if len(got) > budget {
		t.Errorf("trimmed markdown is %d bytes, over the %d budget", len(got), budget)
	}
	for _, want := range []string{"| `perf.baseline`", "| `robust.adversarial`", "<b>perf.baseline</b>", "the cvgate-report artifact", "left out"} {
		if !strings.Contains(got, want) {
			t.Errorf("trimmed markdown lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, big[:100]) {
		t.Errorf("the oversized warn details survived trimming")
	}
}

// manyTargets is the fixture's target repeated n times under long, distinct names, with every
// third one failing.
func manyTargets(t testing.TB, n, nameLen int) *report.Report {
	t.Helper()
	r := fixture(t)
	base := r.Targets[0]
	r.Targets = nil
	for i := range n {
		tg := base
		tg.Name = fmt.Sprintf("models/%04d-%s.onnx", i, strings.Repeat("x", nameLen))
		tg.Results = append([]report.Result(nil), base.Results...)
		if i%3 != 0 {
			for j := range tg.Results {
				if tg.Results[j].Status == report.StatusFail || tg.Results[j].Status == report.StatusError {
					tg.Results[j].Status = report.StatusPass
				}
			}
		}
		r.Targets = append(r.Targets, tg)
	}
	report.ApplyGate(r, report.FailOnFail)
	return r
}

// Under the comment budget the tables always stay when they fit (details go first), and when
// they cannot all fit a compact verdict table takes their place: failing models first, the rest
// counted, with a link to the full report. Rendering twice gives the same bytes.
func TestMarkdownBudget(t *testing.T) {
	const url = "https://github.com/o/r/actions/runs/42"
	tests := []struct {
		name             string
		targets, nameLen int
		budget           int
		wantTables       bool
		wantAllRows      bool
	}{
		{"25 targets: every section", 25, 20, 65536, true, true},
		{"400 long names: compact, every row", 400, 40, 65536, false, true},
		{"400 longer names: compact, failing first", 400, 200, 65536, false, false},
		{"small budget", 200, 20, 3000, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := manyTargets(t, tt.targets, tt.nameLen)
			m := report.Markdown{Marker: "<!-- cvgate:x -->", MaxBytes: tt.budget, FullReport: "the job summary and the cvgate-report artifact", FullReportURL: url}
			got := string(render(t, m, r))
			if again := string(render(t, m, r)); again != got {
				t.Error("two renders differ")
			}
			if len(got) > tt.budget {
				t.Fatalf("%d bytes, over the %d budget", len(got), tt.budget)
			}
			if !strings.HasPrefix(got, m.Marker+"\n## ") || !strings.Contains(got, "cvgate v0.0.0-test") {
				t.Errorf("lost the marker, the headline or the footer:\n%.300s", got)
			}
			tables := strings.Count(got, "| Check ")
			if tt.wantTables {
				if tables != tt.targets {
					t.Errorf("%d results tables, want %d", tables, tt.targets)
				}
				return
			}
			if tables != 0 || !strings.Contains(got, "### Models\n| | Model | Checks |") {
				t.Fatalf("want the compact table instead of %d results tables:\n%.1500s", tables, got)
			}
			if !strings.Contains(got, "verdict only") || !strings.Contains(got, "]("+url+")") {
				t.Errorf("no note linking the full report:\n%s", got[len(got)-600:])
			}
			rows := strings.Count(got, "| `models/")
			failing := 0
			for _, tg := range r.Targets {
				if tg.Verdict == report.StatusFail {
					failing++
					if rows < tt.targets && !strings.Contains(got, tg.Name[:12]) && !strings.Contains(got, "of them failing") {
						t.Errorf("failing %s neither shown nor counted", tg.Name[:12])
					}
				}
			}
			if tt.wantAllRows != (rows == tt.targets) {
				t.Errorf("%d of %d rows shown (want all: %v)", rows, tt.targets, tt.wantAllRows)
			}
			if rows < tt.targets {
				shownFailing := strings.Count(got, "| ❌ | `models/")
				if want := fmt.Sprintf("… %d more models, %d of them failing", tt.targets-rows, failing-shownFailing); !strings.Contains(got, want) {
					t.Errorf("no row %q", want)
				}
				if shownFailing < min(failing, rows) {
					t.Errorf("%d failing rows shown of %d rows: failing models come first", shownFailing, rows)
				}
			}
		})
	}
}

// BenchmarkMarkdownComment400 renders the PR comment of 400 long-named targets (issue #11: the
// old writer took ~31 s re-rendering, and cut the tables).
func BenchmarkMarkdownComment400(b *testing.B) {
	r := manyTargets(b, 400, 200)
	m := report.Markdown{Marker: "<!-- cvgate:x -->", MaxBytes: 65536, FullReport: "the job summary"}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := m.Write(&buf, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarkdownReport renders report.md of the fixture, every detail shown.
func BenchmarkMarkdownReport(b *testing.B) {
	r := fixture(b)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := (report.Markdown{AllDetails: true}).Write(&buf, r); err != nil {
			b.Fatal(err)
		}
	}
}

func TestGate(t *testing.T) {
	tests := []struct {
		name       string
		statuses   []report.Status
		policy     report.FailOn
		verdict    report.Status
		exitFailed bool
	}{
		{"all pass", []report.Status{"pass", "pass"}, report.FailOnFail, "pass", false},
		{"skip does not fail", []report.Status{"pass", "skip"}, report.FailOnWarn, "pass", false},
		{"only skips", []report.Status{"skip"}, report.FailOnFail, "pass", false},
		{"warn under fail-on fail", []report.Status{"pass", "warn"}, report.FailOnFail, "warn", false},
		{"warn under fail-on warn", []report.Status{"pass", "warn"}, report.FailOnWarn, "warn", true},
		{"fail", []report.Status{"fail", "warn"}, report.FailOnFail, "fail", true},
		{"error counts as failure", []report.Status{"pass", "error"}, report.FailOnFail, "fail", true},
		{"never", []report.Status{"fail", "error"}, report.FailOnNever, "fail", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &report.Report{Targets: []report.Target{{Name: "m"}}}
			for _, s := range tt.statuses {
				r.Targets[0].Results = append(r.Targets[0].Results, report.Result{ID: "x", Status: s})
			}
			report.ApplyGate(r, tt.policy)
			if r.Gate.Verdict != tt.verdict || r.Gate.ExitFailed != tt.exitFailed {
				t.Errorf("verdict %s exitFailed %v, want %s %v", r.Gate.Verdict, r.Gate.ExitFailed, tt.verdict, tt.exitFailed)
			}
			if r.Targets[0].Verdict != tt.verdict {
				t.Errorf("target verdict %s, want %s", r.Targets[0].Verdict, tt.verdict)
			}
		})
	}
}

func TestFailOnSet(t *testing.T) {
	var f report.FailOn
	if err := f.Set("warn"); err != nil || f != report.FailOnWarn {
		t.Errorf("Set(warn) = %v, %q", err, f)
	}
	err := f.Set("sometimes")
	if err == nil || !strings.Contains(err.Error(), "fail, warn, never") {
		t.Errorf("Set(sometimes) error %v should list the allowed values", err)
	}
}

func TestReadJSONErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, body, want string }{
		{"not json", "{", "decode report"},
		{"wrong schema", `{"schema_version": 99}`, "schema_version 99"},
		{"unknown field", `{"schema_version": 1, "kind": "check", "verdict_override": "pass"}`, "unknown field"},
		{"unknown kind", `{"schema_version": 1, "kind": "weird"}`, `kind "weird"`},
		{"unknown status", `{"schema_version": 1, "kind": "check", "targets": [{"name": "m", "results": [{"id": "x", "status": "PASS"}]}]}`, `targets[0].results[0].status "PASS"`},
		{"bad policy", `{"schema_version": 1, "kind": "check", "gate": {"fail_on": "sometimes"}}`, "fail-on"},
		{"ragged matrix", `{"schema_version": 1, "kind": "check", "targets": [{"name": "m", "results": [{"id": "x", "status": "pass", "details": [{"matrix": {"rows": ["a", "b"], "cols": ["a"], "values": [[1]]}}]}]}]}`, "1 rows of values for 2 row labels"},
		{"trailing data", `{"schema_version": 1, "kind": "check"} {}`, "more data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := dir + "/" + strings.ReplaceAll(tt.name, " ", "_") + ".json"
			if err := writeFileT(p, tt.body); err != nil {
				t.Fatal(err)
			}
			_, err := report.ReadJSON(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %v, want it to mention %q and the file", err, tt.want)
			}
		})
	}
	if _, err := report.ReadJSON(dir + "/missing.json"); err == nil {
		t.Error("missing file: no error")
	}
	// Not a regular file (an artifact could hold a directory, a FIFO, a device through a link).
	if _, err := report.ReadJSON(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: err = %v", err)
	}
	// Over the size limit: refused before reading (a sparse file costs no disk).
	big := dir + "/big.json"
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(report.MaxReportBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := report.ReadJSON(big); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("an oversized report: err = %v", err)
	}
}

func TestCacheLineGroupsThousands(t *testing.T) {
	for _, tc := range []struct {
		use  report.CacheUse
		want string
	}{
		{report.CacheUse{Candidate: report.RecordUse{Hits: 7050}}, "prediction cache: candidate 7,050 of 7,050 records read"},
		{report.CacheUse{Candidate: report.RecordUse{Hits: 1, Misses: 1234567}}, "prediction cache: candidate 1 of 1,234,568 records read (1,234,567 computed)"},
		{report.CacheUse{Candidate: report.RecordUse{Misses: 999}, Baseline: &report.RecordUse{Shared: 999}}, "prediction cache: candidate 0 of 999 records read (999 computed); baseline 0 of 999 records read (999 from the identical candidate)"},
	} {
		if got := tc.use.Line(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("Line() = %q, want it to start with %q", got, tc.want)
		}
	}
}
