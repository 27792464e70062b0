package app

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/report"
)

func TestWriteConsole(t *testing.T) {
	r := &report.Report{Targets: []report.Target{{Name: "models/a\x1b[2J.onnx", Results: []report.Result{
		{ID: "perf.metrics", Status: report.StatusFail, Summary: "accuracy 81.0% is below min_accuracy 90.0%\nsecond line"},
		{ID: "model.load", Status: report.StatusPass, Summary: strings.Repeat("x", 300)},
	}}}}
	var b bytes.Buffer
	if err := writeConsole(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"perf.metrics", "FAIL", "accuracy 81.0% is below", "model.load", "PASS"} {
		if !strings.Contains(out, want) {
			t.Errorf("console table lacks %q:\n%s", want, out)
		}
	}
	if strings.ContainsRune(out, '\x1b') {
		t.Errorf("an escape sequence from a file name reached the terminal:\n%q", out)
	}
	if strings.Contains(out, strings.Repeat("x", consoleWidth+1)) {
		t.Error("a long summary was not shortened")
	}
}
