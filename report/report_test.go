package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/testutil/golden"
	"github.com/cvgate/cvgate/report"
)

func fixture(t *testing.T) *report.Report {
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

func TestMarkdownHardCut(t *testing.T) {
	r := fixture(t)
	for i := 0; i < 200; i++ {
		r.Targets = append(r.Targets, r.Targets[0])
	}
	got := render(t, report.Markdown{MaxBytes: 3000, FullReport: "report.json"}, r)
	if len(got) > 3000 {
		t.Errorf("markdown is %d bytes, over 3000", len(got))
	}
	if !strings.Contains(string(got), "was cut") {
		t.Errorf("no note saying the report was cut")
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
}
