package report_test

import (
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/testutil/golden"
	"github.com/cvgate/cvgate/report"
)

var fixtureAudit = &report.AuditHashes{
	File:         "audit.json",
	RecordSHA256: "1111111111111111111111111111111111111111111111111111111111111111",
	ConfigSHA256: "2222222222222222222222222222222222222222222222222222222222222222",
}

func TestModelCard(t *testing.T) {
	tests := []struct {
		name string
		card report.ModelCard
	}{
		{"written", report.ModelCard{Audit: fixtureAudit, Card: report.Card{
			IntendedUse: "Reading handwritten digits on scanned forms. Not for identity documents.",
			Owners:      []string{"@vision-team", "Ada <ada@example.org>"},
			Limitations: "Trained on MNIST-style centred digits only.",
			License:     "Apache-2.0",
		}}},
		{"unwritten", report.ModelCard{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden.Assert(t, ".md", render(t, tt.card, richFixture(t)))
		})
	}
}

// TestModelCardMarksMissingWords: every part only a person can write is either their words or
// a marker, never filler; facts come from the report.
func TestModelCardMarksMissingWords(t *testing.T) {
	r := richFixture(t)
	delete(r.Targets[0].Model.Metadata, "license")
	empty := string(render(t, report.ModelCard{}, r))
	for _, key := range []string{"model_card.intended_use", "model_card.owners", "model_card.limitations", "model_card.license"} {
		if !strings.Contains(empty, report.NeedsInputMarker+" "+key+" -->") {
			t.Errorf("no needs-input marker for %s", key)
		}
	}
	card := report.Card{IntendedUse: "USE-TEXT", Owners: []string{"OWNER-A"}, Limitations: "LIMIT-TEXT", License: "LICENSE-X"}
	written := string(render(t, report.ModelCard{Card: card, Audit: fixtureAudit}, r))
	if strings.Contains(written, report.NeedsInputMarker) {
		t.Errorf("a marker is left although every part was written")
	}
	for _, want := range []string{"USE-TEXT", "OWNER-A", "LIMIT-TEXT", "LICENSE-X", fixtureAudit.RecordSHA256, fixtureAudit.ConfigSHA256,
		"| Accuracy ", "91.9%", "96.0%", "`cccc`", "`bbbb`", "`dddd`", "accuracy dropped 4.1 pp", "2 of 20 failure case(s)"} {
		if !strings.Contains(written, want) {
			t.Errorf("model card lacks %q", want)
		}
	}
	// The license falls back to the model's own metadata, and says so.
	r.Targets[0].Model.Metadata["license"] = "MIT"
	if got := string(render(t, report.ModelCard{}, r)); !strings.Contains(got, "MIT (from the model's metadata)") || strings.Contains(got, "cvgate:needs-input model_card.license") {
		t.Errorf("license not taken from the metadata")
	}
}

func TestModelCardSeveralTargets(t *testing.T) {
	r := richFixture(t)
	second := r.Targets[0]
	second.Name = "models/b.onnx"
	r.Targets = append(r.Targets, second)
	got := string(render(t, report.ModelCard{}, r))
	if strings.Count(got, "# Model card: ") != 2 || !strings.Contains(got, "# Model card: `models/b.onnx`") || !strings.Contains(got, "\n---\n") {
		t.Errorf("want one card per target, separated by a rule")
	}
}
