package checks

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/onnxproto"
	"github.com/cvgate/cvgate/report"
)

// IDModelMetadata is the ID of the metadata check.
const IDModelMetadata = "model.metadata"

// ModelMetadata checks the model's ONNX metadata_props against the keys a team requires
// (thresholds.model.metadata.required) and the formats it sets (patterns). The rules:
//
//   - every required key is present, with a value that is not blank;
//   - no key appears twice and no key is empty (the ONNX checker rejects both);
//   - a key with a pattern matches it in full when present (the pattern is anchored at both ends);
//   - a required key without a pattern is checked against a built-in format when it has a
//     well-known name: "version" looks like a version (1, 1.2, v1.2.3, 1.2.3-rc.1+build), and
//     "license" is SPDX license-expression syntax (MIT, Apache-2.0, GPL-2.0-or-later WITH
//     Classpath-exception-2.0, LicenseRef-acme); a pattern replaces the built-in format;
//   - values are valid UTF-8 without control characters other than tab and newline.
//
// A broken rule on a required or patterned key, a duplicate or an empty key fails the check; a
// control character in another key only warns. With no required keys the check passes and lists
// the metadata present, so that a team sees what its models carry before requiring anything.
type ModelMetadata struct{}

// ID implements Check.
func (ModelMetadata) ID() string { return IDModelMetadata }

// Common implements Toggled.
func (ModelMetadata) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.ModelMetadata.Common, true
}

// Title implements Check.
func (ModelMetadata) Title() string { return "Model metadata" }

// builtinFormats are the formats of well-known keys, applied to required keys without a pattern.
var builtinFormats = map[string]metaFormat{
	"version": {
		re:   regexp.MustCompile(`^v?[0-9]+(\.[0-9]+)*(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`),
		want: "a version such as 1.2.3, v2 or 1.0.0-rc.1",
	},
	"license": {
		re:   regexp.MustCompile(`^\(*` + spdxID + `\)*(\s+(AND|OR|WITH)\s+\(*` + spdxID + `\)*)*$`),
		want: "an SPDX license expression such as MIT, Apache-2.0 or LicenseRef-acme",
	},
}

// spdxID is an SPDX license or exception identifier (idstring, optional "+"), maybe prefixed
// with DocumentRef-x: as in "DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2".
const spdxID = `(DocumentRef-[A-Za-z0-9.-]+:)?[A-Za-z0-9.-]+\+?`

type metaFormat struct {
	re   *regexp.Regexp
	want string
}

// metaFinding is one broken rule.
type metaFinding struct {
	key     string
	status  report.Status // fail or warn
	problem string
	missing bool // a required key is absent
}

// metaRule describes, for the details table, which rule applies to a key.
func metaRule(key string, required map[string]bool, patterns map[string]string) string {
	var rules []string
	if required[key] {
		rules = append(rules, "required")
	}
	if p, ok := patterns[key]; ok {
		rules = append(rules, fmt.Sprintf("matches `%s`", p))
	} else if f, ok := builtinFormats[key]; ok && required[key] {
		rules = append(rules, f.want)
	}
	return strings.Join(rules, "; ")
}

// inspectMetadata applies the rules to entries (in file order) and returns what is wrong, in
// a stable order: missing required keys first, then per key in file order.
func inspectMetadata(entries []onnxproto.MetadataEntry, required []string, patterns map[string]string) ([]metaFinding, error) {
	compiled := map[string]*regexp.Regexp{}
	for key, p := range patterns {
		re, err := regexp.Compile(`^(?:` + p + `)$`)
		if err != nil {
			return nil, fmt.Errorf("compile thresholds.model.metadata.patterns.%s %q: %w", key, p, err)
		}
		compiled[key] = re
	}
	isRequired := map[string]bool{}
	for _, k := range required {
		isRequired[k] = true
	}
	count := map[string]int{}
	for _, e := range entries {
		count[e.Key]++
	}
	var out []metaFinding
	for _, k := range required {
		if count[k] == 0 {
			out = append(out, metaFinding{key: k, status: report.StatusFail, problem: fmt.Sprintf("required key %q is missing", k), missing: true})
		}
	}
	reported := map[string]bool{}
	for _, e := range entries {
		k, v := e.Key, e.Value
		fail := func(format string, args ...any) {
			out = append(out, metaFinding{key: k, status: report.StatusFail, problem: fmt.Sprintf(format, args...)})
		}
		if k == "" {
			fail("a metadata entry has an empty key (value %q)", clip(v, 40))
			continue
		}
		if count[k] > 1 {
			if !reported[k] {
				fail("key %q appears %d times; ONNX requires unique keys", k, count[k])
				reported[k] = true
			}
			continue
		}
		checked := isRequired[k] || compiled[k] != nil
		if bad := badText(v); bad != "" {
			status := report.StatusWarn
			if checked {
				status = report.StatusFail
			}
			out = append(out, metaFinding{key: k, status: status, problem: fmt.Sprintf("%q: value %s", k, bad)})
			continue
		}
		if isRequired[k] && strings.TrimSpace(v) == "" {
			fail("required key %q is empty", k)
			continue
		}
		if re := compiled[k]; re != nil {
			if !re.MatchString(v) {
				fail("%q is %q, which does not match the pattern `%s`", k, clip(v, 60), patterns[k])
			}
			continue
		}
		if f, ok := builtinFormats[k]; ok && isRequired[k] && !f.re.MatchString(strings.TrimSpace(v)) {
			fail("%q is %q, want %s (or set thresholds.model.metadata.patterns.%s)", k, clip(v, 60), f.want, k)
		}
	}
	return out, nil
}

// badText says why a value is not well-formed text, or "".
func badText(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return fmt.Sprintf("contains the control character %U", r)
		}
	}
	return ""
}

// clip shortens s to n runes for messages and tables, and shows line breaks.
func clip(s string, n int) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", " ⏎ ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// subjectMetadata returns a subject's metadata_props in file order: from the file header when it
// was read, else what ONNX Runtime reported (sorted by key, duplicates already merged).
func subjectMetadata(s *Subject) ([]onnxproto.MetadataEntry, bool) {
	if s == nil {
		return nil, false
	}
	if s.Proto != nil {
		return s.Proto.Metadata, true
	}
	if s.Model == nil || s.Model.Metadata.Custom == nil {
		return nil, false
	}
	var out []onnxproto.MetadataEntry
	for k, v := range s.Model.Metadata.Custom {
		out = append(out, onnxproto.MetadataEntry{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, true
}

// Run implements Check.
func (ModelMetadata) Run(ctx context.Context, env *Env) (*report.Result, error) {
	cfg := env.Config.Thresholds.ModelMetadata
	entries, ok := subjectMetadata(env.Candidate)
	if !ok {
		return nil, Skip("the model's metadata could not be read")
	}
	findings, err := inspectMetadata(entries, cfg.Required, cfg.Patterns)
	if err != nil {
		return nil, err
	}
	required := map[string]bool{}
	for _, k := range cfg.Required {
		required[k] = true
	}
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{
		"keys":     float64(len(entries)),
		"required": float64(len(cfg.Required)),
	}}
	missing, malformed := 0, 0
	problemOf := map[string][]string{}
	var fails, warns []string
	for _, f := range findings {
		if f.missing {
			missing++
		} else {
			malformed++
		}
		problemOf[f.key] = append(problemOf[f.key], f.problem)
		if f.status == report.StatusFail {
			fails = append(fails, f.problem)
		} else {
			warns = append(warns, f.problem)
		}
	}
	res.Metrics["missing"] = float64(missing)
	res.Metrics["malformed"] = float64(malformed)

	if len(cfg.Required) > 0 {
		res.Threshold = "required present and well-formed: " + strings.Join(cfg.Required, ", ")
	} else {
		res.Threshold = "no keys required"
	}
	switch {
	case len(fails) > 0:
		res.Status = report.StatusFail
		res.Summary = moreThan(fails)
	case len(warns) > 0:
		res.Status = report.StatusWarn
		res.Summary = moreThan(warns)
	case len(cfg.Required) > 0:
		res.Summary = fmt.Sprintf("%s present and well-formed (%s); %s in all", count(len(cfg.Required), "required key", "required keys"), keyPreview(entries, cfg.Required), count(len(entries), "key", "keys"))
	case len(entries) == 0:
		res.Summary = "the model has no metadata; no keys required (set thresholds.model.metadata.required)"
	default:
		res.Summary = fmt.Sprintf("%s (%s); no keys required", count(len(entries), "metadata key", "metadata keys"), keyNames(entries))
	}

	table := tableOf("key", "value", "rule", "status")
	present := map[string]bool{}
	for _, e := range entries {
		present[e.Key] = true
		status := "ok"
		if p := problemOf[e.Key]; len(p) > 0 {
			status = strings.Join(p, "; ")
		}
		addRow(table, "`"+e.Key+"`", clip(e.Value, 120), metaRule(e.Key, required, cfg.Patterns), status)
	}
	for _, k := range cfg.Required {
		if !present[k] {
			addRow(table, "`"+k+"`", "(missing)", metaRule(k, required, cfg.Patterns), "missing")
		}
	}
	if len(table.Rows) > 0 {
		res.Details = append(res.Details, report.Section{Title: "Metadata (metadata_props)", Table: table})
	}
	if p := env.Candidate.Proto; p != nil {
		h := tableOf("field", "value")
		addRow(h, "producer", strings.TrimSpace(p.ProducerName+" "+p.ProducerVersion))
		addRow(h, "domain", p.Domain)
		addRow(h, "model_version", fmt.Sprint(p.ModelVersion))
		addRow(h, "doc_string", clip(p.DocString, 120))
		addRow(h, "graph", p.Graph.Name)
		res.Details = append(res.Details, report.Section{Title: "Model header", Table: h})
	}
	if len(cfg.Required) == 0 {
		res.Details = append(res.Details, report.Section{Text: "No metadata keys are required. A release usually requires some, e.g. `thresholds.model.metadata.required: [version, license, description]`."})
	}
	metadataVsBaseline(env, res, entries)
	return res, nil
}

// metadataVsBaseline lists keys added, removed or changed since the baseline. It informs and
// never gates: the rules above apply to the candidate alone.
func metadataVsBaseline(env *Env, res *report.Result, cand []onnxproto.MetadataEntry) {
	base, ok := subjectMetadata(env.Baseline)
	if !ok {
		return
	}
	bm, cm := map[string]string{}, map[string]string{}
	for _, e := range base {
		bm[e.Key] = e.Value
	}
	for _, e := range cand {
		cm[e.Key] = e.Value
	}
	keys := make([]string, 0, len(bm)+len(cm))
	for k := range bm {
		keys = append(keys, k)
	}
	for k := range cm {
		if _, ok := bm[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	diff := tableOf("key", "baseline", "candidate")
	for _, k := range keys {
		b, inBase := bm[k]
		c, inCand := cm[k]
		switch {
		case !inBase:
			addRow(diff, "`"+k+"`", "(absent)", clip(c, 60))
		case !inCand:
			addRow(diff, "`"+k+"`", clip(b, 60), "(absent)")
		case b != c:
			addRow(diff, "`"+k+"`", clip(b, 60), clip(c, 60))
		}
	}
	res.Metrics["changed_vs_baseline"] = float64(len(diff.Rows))
	bv, bok := bm["version"]
	cv, cok := cm["version"]
	switch {
	case bok && cok && bv != cv:
		res.VsBaseline = fmt.Sprintf("version %s → %s", clip(bv, 20), clip(cv, 20))
	case bok && cok:
		res.VsBaseline = fmt.Sprintf("version unchanged (%s)", clip(cv, 20))
	case len(diff.Rows) == 0:
		res.VsBaseline = "unchanged"
	case len(bm) == 0:
		// Every key is "new" against a baseline without metadata; that is not a change of keys.
		res.VsBaseline = "the baseline has no metadata"
	default:
		res.VsBaseline = count(len(diff.Rows), "key", "keys") + " changed"
	}
	if len(diff.Rows) > 0 {
		res.Details = append(res.Details, report.Section{Title: "Metadata changes vs baseline", Table: diff})
	}
}

// moreThan is the first problem, and how many more there are.
func moreThan(problems []string) string {
	if len(problems) == 1 {
		return problems[0]
	}
	return fmt.Sprintf("%s (and %d more)", problems[0], len(problems)-1)
}

func keyNames(entries []onnxproto.MetadataEntry) string {
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Key)
	}
	if len(names) > 6 {
		names = append(names[:6], "…")
	}
	return strings.Join(names, ", ")
}

// keyPreview shows the version when it is among the required keys, else the key names.
func keyPreview(entries []onnxproto.MetadataEntry, required []string) string {
	for _, k := range required {
		if k != "version" {
			continue
		}
		for _, e := range entries {
			if e.Key == "version" {
				return "version " + clip(e.Value, 20)
			}
		}
	}
	return strings.Join(required, ", ")
}
