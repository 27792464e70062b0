package checks

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/onnxproto"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
	"github.com/cvgate/cvgate/report"
)

// meta builds metadata entries from key/value pairs; meta() is empty metadata, not absent.
func meta(kv ...string) []onnxproto.MetadataEntry {
	out := []onnxproto.MetadataEntry{}
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, onnxproto.MetadataEntry{Key: kv[i], Value: kv[i+1]})
	}
	return out
}

// metadataEnv is an Env whose candidate (and baseline, when given) carry only a file header:
// model.metadata needs no inference.
func metadataEnv(cand, base []onnxproto.MetadataEntry, required []string, patterns map[string]string) *Env {
	cfg := config.Defaults()
	cfg.Thresholds.ModelMetadata.Required = required
	cfg.Thresholds.ModelMetadata.Patterns = patterns
	env := &Env{Config: &cfg, Candidate: &Subject{Proto: &onnxproto.Model{ProducerName: "pytorch", ProducerVersion: "2.1", Metadata: cand}}}
	if base != nil {
		env.Baseline = &Subject{Proto: &onnxproto.Model{Metadata: base}}
	}
	return env
}

func TestModelMetadata(t *testing.T) {
	good := meta("version", "1.2.0", "license", "Apache-2.0", "description", "digits")
	tests := []struct {
		name     string
		entries  []onnxproto.MetadataEntry
		required []string
		patterns map[string]string
		status   report.Status
		summary  []string // substrings of the summary
		missing  float64
	}{
		{"nothing required, nothing there", nil, nil, nil, report.StatusPass, []string{"no metadata", "no keys required"}, 0},
		{"nothing required lists the keys", good, nil, nil, report.StatusPass, []string{"3 metadata keys", "version, license, description", "no keys required"}, 0},
		{"all required present", good, []string{"version", "license", "description"}, nil, report.StatusPass, []string{"3 required keys present", "version 1.2.0"}, 0},
		{"missing key", meta("version", "1.0"), []string{"version", "license"}, nil, report.StatusFail, []string{`required key "license" is missing`}, 1},
		{"two missing keys", nil, []string{"version", "license"}, nil, report.StatusFail, []string{`"version" is missing`, "and 1 more"}, 2},
		{"blank required value", meta("description", "  \t"), []string{"description"}, nil, report.StatusFail, []string{`"description" is empty`}, 0},
		{"version not a version", meta("version", "latest"), []string{"version"}, nil, report.StatusFail, []string{`"version" is "latest"`, "want a version"}, 0},
		{"semver with pre-release and build", meta("version", "v2.0.0-rc.1+g1234"), []string{"version"}, nil, report.StatusPass, nil, 0},
		{"version format only when required", meta("version", "latest"), nil, nil, report.StatusPass, nil, 0},
		{"pattern replaces built-in format", meta("version", "2024-05"), []string{"version"}, map[string]string{"version": `\d{4}-\d{2}`}, report.StatusPass, nil, 0},
		{"pattern matches the whole value", meta("version", "x2024-05y"), []string{"version"}, map[string]string{"version": `\d{4}-\d{2}`}, report.StatusFail, []string{"does not match the pattern"}, 0},
		{"pattern on an optional key present", meta("owner", "nobody"), nil, map[string]string{"owner": `team-[a-z]+`}, report.StatusFail, []string{`"owner" is "nobody"`}, 0},
		{"pattern on an optional key absent", nil, nil, map[string]string{"owner": `team-[a-z]+`}, report.StatusPass, nil, 0},
		{"license expression", meta("license", "GPL-2.0-or-later WITH Classpath-exception-2.0"), []string{"license"}, nil, report.StatusPass, nil, 0},
		{"license compound with parentheses", meta("license", "(MIT OR Apache-2.0) AND LicenseRef-acme"), []string{"license"}, nil, report.StatusPass, nil, 0},
		{"license prose", meta("license", "All rights reserved"), []string{"license"}, nil, report.StatusFail, []string{"SPDX"}, 0},
		{"duplicate key", meta("version", "1", "version", "2"), nil, nil, report.StatusFail, []string{`"version" appears 2 times`}, 0},
		{"empty key", meta("", "orphan"), nil, nil, report.StatusFail, []string{"empty key"}, 0},
		{"control character in an optional key warns", meta("notes", "a\x07b"), nil, nil, report.StatusWarn, []string{"control character U+0007"}, 0},
		{"control character in a required key fails", meta("description", "a\x1bb"), []string{"description"}, nil, report.StatusFail, []string{"control character"}, 0},
		{"invalid UTF-8", meta("description", "caf\xe9"), []string{"description"}, nil, report.StatusFail, []string{"not valid UTF-8"}, 0},
		{"newlines are fine", meta("description", "line one\nline two"), []string{"description"}, nil, report.StatusPass, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := metadataEnv(tt.entries, nil, tt.required, tt.patterns)
			res, err := ModelMetadata{}.Run(context.Background(), env)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.status {
				t.Errorf("status %s, want %s (summary %q)", res.Status, tt.status, res.Summary)
			}
			for _, want := range tt.summary {
				if !strings.Contains(res.Summary, want) {
					t.Errorf("summary %q lacks %q", res.Summary, want)
				}
			}
			if res.Metrics["missing"] != tt.missing {
				t.Errorf("missing %g, want %g", res.Metrics["missing"], tt.missing)
			}
			if res.Metrics["keys"] != float64(len(tt.entries)) {
				t.Errorf("keys %g, want %d", res.Metrics["keys"], len(tt.entries))
			}
			wantThreshold := "no keys required"
			if len(tt.required) > 0 {
				wantThreshold = "required present and well-formed: " + strings.Join(tt.required, ", ")
			}
			if res.Threshold != wantThreshold {
				t.Errorf("threshold %q, want %q", res.Threshold, wantThreshold)
			}
		})
	}
}

func TestModelMetadataTableListsMissingKeys(t *testing.T) {
	env := metadataEnv(meta("author", "me"), nil, []string{"version"}, nil)
	res, err := ModelMetadata{}.Run(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	rows := res.Details[0].Table.Rows
	if len(rows) != 2 || rows[0][0] != "`author`" || rows[1][0] != "`version`" || rows[1][3] != "missing" {
		t.Errorf("metadata table rows %q, want author then the missing version", rows)
	}
}

func TestModelMetadataVsBaseline(t *testing.T) {
	tests := []struct {
		name      string
		cand      []onnxproto.MetadataEntry
		base      []onnxproto.MetadataEntry
		want      string
		changed   float64
		changeRow []string
	}{
		{"version bumped", meta("version", "1.1", "license", "MIT"), meta("version", "1.0", "license", "MIT"), "version 1.0 → 1.1", 1, []string{"`version`", "1.0", "1.1"}},
		{"version kept", meta("version", "1.0", "author", "b"), meta("version", "1.0", "author", "a"), "version unchanged (1.0)", 1, []string{"`author`", "a", "b"}},
		{"key added", meta("license", "MIT", "author", "a"), meta("author", "a"), "1 key changed", 1, []string{"`license`", "(absent)", "MIT"}},
		{"keys removed", meta(), meta("license", "MIT", "author", "a"), "2 keys changed", 2, []string{"`author`", "a", "(absent)"}},
		// Against a baseline without metadata every key is new: that is not "N keys changed".
		{"baseline without metadata", meta("license", "MIT"), meta(), "the baseline has no metadata", 1, []string{"`license`", "(absent)", "MIT"}},
		{"identical", meta("license", "MIT"), meta("license", "MIT"), "unchanged", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ModelMetadata{}.Run(context.Background(), metadataEnv(tt.cand, tt.base, nil, nil))
			if err != nil {
				t.Fatal(err)
			}
			if res.VsBaseline != tt.want || res.Metrics["changed_vs_baseline"] != tt.changed {
				t.Errorf("vs baseline %q (%g changed), want %q (%g)", res.VsBaseline, res.Metrics["changed_vs_baseline"], tt.want, tt.changed)
			}
			if res.Status != report.StatusPass {
				t.Errorf("a metadata change gated the check: %s", res.Status)
			}
			var diff *report.Table
			for _, s := range res.Details {
				if s.Title == "Metadata changes vs baseline" {
					diff = s.Table
				}
			}
			switch {
			case tt.changeRow == nil && diff != nil:
				t.Errorf("unexpected change table %q", diff.Rows)
			case tt.changeRow != nil && (diff == nil || strings.Join(diff.Rows[0], "|") != strings.Join(tt.changeRow, "|")):
				t.Errorf("change table %v, want first row %q", diff, tt.changeRow)
			}
		})
	}
}

func TestModelMetadataSkipsWithoutHeader(t *testing.T) {
	cfg := config.Defaults()
	_, err := ModelMetadata{}.Run(context.Background(), &Env{Config: &cfg, Candidate: &Subject{}})
	if _, ok := err.(*SkipError); !ok {
		t.Errorf("err %v, want a skip", err)
	}
}

// TestModelMetadataFixtures reads real model headers: the candidate fixture carries version,
// license and description (testdata/make_fixtures.py); the weak baseline carries none.
func TestModelMetadataFixtures(t *testing.T) {
	root := ortlib.RepoRoot(t)
	read := func(name string) *onnxproto.Model {
		t.Helper()
		p, err := onnxproto.Read(filepath.Join(root, "testdata", "models", name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := config.Defaults()
	cfg.Thresholds.ModelMetadata.Required = []string{"version", "license", "description"}
	for _, tt := range []struct {
		model  string
		status report.Status
	}{{"mnist_cnn.onnx", report.StatusPass}, {"mnist_weak.onnx", report.StatusFail}} {
		env := &Env{Config: &cfg, Candidate: &Subject{Proto: read(tt.model)}}
		res, err := ModelMetadata{}.Run(context.Background(), env)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != tt.status {
			t.Errorf("%s: %s (%s), want %s", tt.model, res.Status, res.Summary, tt.status)
		}
	}
}
