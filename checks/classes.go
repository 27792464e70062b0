package checks

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/internal/onnx"
)

// labelKeys are the metadata_props keys that commonly carry a model's class names, in order of
// preference (exporters disagree: "labels" in many ONNX zoo models, "names" in Ultralytics,
// "classes" and "class_names" elsewhere). Keys match case-insensitively.
var labelKeys = []string{"labels", "class_names", "classes", "names"}

// modelLabels returns the class names a model carries in its metadata, and the key they came
// from; nil when it carries none or they cannot be read as a list.
func modelLabels(s *Subject) ([]string, string) {
	meta := map[string]string{}
	if s.Model != nil {
		for k, v := range s.Model.Metadata.Custom {
			meta[strings.ToLower(k)] = v
		}
	}
	if s.Proto != nil {
		for _, e := range s.Proto.Metadata {
			meta[strings.ToLower(e.Key)] = e.Value
		}
	}
	for _, k := range labelKeys {
		if v, ok := meta[k]; ok {
			if names := parseLabelList(v); len(names) > 0 {
				return names, k
			}
		}
	}
	return nil, ""
}

// pythonDictEntry matches one `0: 'person'` entry of a Python dict literal, as Ultralytics writes
// its "names" metadata.
var pythonDictEntry = regexp.MustCompile(`(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")`)

// parseLabelList reads a list of class names in the forms exporters use: a JSON array of strings,
// a JSON object or Python dict from output index to name, or names separated by newlines or
// commas. It returns nil for anything else.
func parseLabelList(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	var list []string
	if err := json.Unmarshal([]byte(v), &list); err == nil {
		return list
	}
	var byIndex map[string]string
	if err := json.Unmarshal([]byte(v), &byIndex); err == nil {
		return indexedNames(byIndex)
	}
	if strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}") {
		m := map[string]string{}
		for _, e := range pythonDictEntry.FindAllStringSubmatch(v, -1) {
			m[e[1]] = e[2] + e[3]
		}
		return indexedNames(m)
	}
	if strings.HasPrefix(v, "[") || strings.HasPrefix(v, "{") {
		return nil // a structure we do not know: better no labels than wrong ones
	}
	sep := ","
	if strings.Contains(v, "\n") {
		sep = "\n"
	}
	var out []string
	for _, p := range strings.Split(v, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// indexedNames orders names by their integer keys, which must be exactly 0..n-1.
func indexedNames(m map[string]string) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, len(m))
	for k, name := range m {
		i, err := strconv.Atoi(strings.TrimSpace(k))
		if err != nil || i < 0 || i >= len(m) || out[i] != "" {
			return nil
		}
		out[i] = name
	}
	return out
}

// classCount is the number of classes a model's output declares (its last dimension), or 0 when
// that dimension is dynamic.
func classCount(m *onnx.Model) int {
	if m == nil || len(m.Output.Shape) < 2 {
		return 0
	}
	if d := m.Output.Shape[len(m.Output.Shape)-1]; d > 0 {
		return int(d)
	}
	return 0
}

// classListChanges compares what the two models say about their classes: the number of outputs,
// and the class names when both carry them in metadata. Any change breaks callers that map
// output indices to names; a label list appearing or disappearing does not.
func classListChanges(old, cur *Subject) []change {
	var out []change
	oc, nc := classCount(old.Model), classCount(cur.Model)
	if oc > 0 && nc > 0 && oc != nc {
		out = append(out, change{breaking: true, what: fmt.Sprintf("class count %d -> %d", oc, nc)})
	}
	on, okey := modelLabels(old)
	nn, nkey := modelLabels(cur)
	switch {
	case on == nil && nn == nil:
	case on == nil:
		out = append(out, change{what: fmt.Sprintf("class names added to metadata (%q, %d names)", nkey, len(nn))})
	case nn == nil:
		out = append(out, change{what: fmt.Sprintf("class names removed from metadata (%q had %d)", okey, len(on))})
	default:
		out = append(out, labelChanges(on, nn)...)
	}
	return out
}

// labelChanges describes how a class list changed: classes added or removed, and classes that
// moved to another output index (a reorder silently swaps predictions).
func labelChanges(old, cur []string) []change {
	oldAt := map[string]int{}
	for i, n := range old {
		oldAt[n] = i
	}
	curAt := map[string]int{}
	for i, n := range cur {
		curAt[n] = i
	}
	var added, removed, moved []string
	for i, n := range cur {
		j, ok := oldAt[n]
		switch {
		case !ok:
			added = append(added, fmt.Sprintf("%q at %d", n, i))
		case j != i:
			moved = append(moved, fmt.Sprintf("%q %d -> %d", n, j, i))
		}
	}
	for i, n := range old {
		if _, ok := curAt[n]; !ok {
			removed = append(removed, fmt.Sprintf("%q at %d", n, i))
		}
	}
	var out []change
	if len(added) > 0 {
		out = append(out, change{breaking: true, what: "classes added: " + listPreview(added)})
	}
	if len(removed) > 0 {
		out = append(out, change{breaking: true, what: "classes removed: " + listPreview(removed)})
	}
	if len(moved) > 0 {
		out = append(out, change{breaking: true, what: fmt.Sprintf("%d class(es) moved to another output: %s", len(moved), listPreview(moved))})
	}
	return out
}

func listPreview(items []string) string {
	if len(items) > 5 {
		return strings.Join(items[:5], ", ") + fmt.Sprintf(" and %d more", len(items)-5)
	}
	return strings.Join(items, ", ")
}
