package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// JSON writes the report as indented JSON (report.json). Arrays of plain values, and small objects
// made only of plain values, stay on one line: per-image rows and metric lists would otherwise
// take a line per number and make the file ten times longer for no reader's benefit.
type JSON struct{}

var _ Writer = JSON{}

// Write implements Writer.
func (JSON) Write(w io.Writer, r *Report) error {
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode report json: %w", err)
	}
	var out bytes.Buffer
	if err := writeIndented(&out, bytes.TrimSpace(compact.Bytes()), 0); err != nil {
		return fmt.Errorf("encode report json: %w", err)
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

// oneLineLimit is the longest object kept on one line.
const oneLineLimit = 160

// writeIndented re-indents compact JSON by two spaces per level, keeping flat values on one line.
func writeIndented(out *bytes.Buffer, raw []byte, depth int) error {
	switch raw[0] {
	case '{':
		keys, vals, err := objectFields(raw)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			out.WriteString("{}")
			return nil
		}
		if len(raw) <= oneLineLimit && allFlat(vals) {
			writeOneLine(out, raw)
			return nil
		}
		out.WriteString("{\n")
		for i := range keys {
			indent(out, depth+1)
			out.Write(keys[i])
			out.WriteString(": ")
			if err := writeIndented(out, vals[i], depth+1); err != nil {
				return err
			}
			if i < len(keys)-1 {
				out.WriteByte(',')
			}
			out.WriteByte('\n')
		}
		indent(out, depth)
		out.WriteByte('}')
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return err
		}
		if len(elems) == 0 {
			out.WriteString("[]")
			return nil
		}
		if allScalar(elems) {
			writeOneLine(out, raw)
			return nil
		}
		out.WriteString("[\n")
		for i, e := range elems {
			indent(out, depth+1)
			if err := writeIndented(out, e, depth+1); err != nil {
				return err
			}
			if i < len(elems)-1 {
				out.WriteByte(',')
			}
			out.WriteByte('\n')
		}
		indent(out, depth)
		out.WriteByte(']')
	default:
		out.Write(raw)
	}
	return nil
}

// objectFields splits a compact JSON object into its encoded keys and raw values, in order.
func objectFields(raw []byte) (keys [][]byte, vals []json.RawMessage, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key, err := json.Marshal(tok)
		if err != nil {
			return nil, nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys, vals = append(keys, key), append(vals, v)
	}
	return keys, vals, nil
}

func isScalar(v []byte) bool { return len(v) > 0 && v[0] != '{' && v[0] != '[' }

func allScalar(vs []json.RawMessage) bool {
	for _, v := range vs {
		if !isScalar(v) {
			return false
		}
	}
	return true
}

// allFlat: scalars, or arrays of scalars.
func allFlat(vs []json.RawMessage) bool {
	for _, v := range vs {
		if isScalar(v) {
			continue
		}
		if v[0] == '{' {
			return false
		}
		var elems []json.RawMessage
		if json.Unmarshal(v, &elems) != nil || !allScalar(elems) {
			return false
		}
	}
	return true
}

// writeOneLine writes compact JSON with a space after each comma and colon outside strings.
func writeOneLine(out *bytes.Buffer, raw []byte) {
	inString, escaped := false, false
	for _, c := range raw {
		out.WriteByte(c)
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ',' || c == ':'):
			out.WriteByte(' ')
		}
	}
}

func indent(out *bytes.Buffer, depth int) {
	for i := 0; i < depth; i++ {
		out.WriteString("  ")
	}
}

// MaxReportBytes bounds the report.json ReadJSON reads: a report of thousands of images is a
// few MB; an artifact from an untrusted run must not make the trusted job read without end.
const MaxReportBytes = 64 << 20

// ReadJSON loads a report.json written by JSON, e.g. for `cvgate publish`, whose report comes
// from another (possibly untrusted) run. It reads strictly: a regular file of at most
// MaxReportBytes holding exactly one JSON object of this schema version, with no unknown
// fields, then Validate. It does not trust the report's gate: callers re-derive it (ApplyGate).
func ReadJSON(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open report %q: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open report %q: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read report %q: not a regular file (%s)", path, st.Mode().Type())
	}
	if st.Size() > MaxReportBytes {
		return nil, fmt.Errorf("read report %q: %d bytes, over the %d-byte limit for a report", path, st.Size(), MaxReportBytes)
	}
	// The size can change under us (a file still being written): read one byte more than the
	// limit to notice.
	data, err := io.ReadAll(io.LimitReader(f, MaxReportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read report %q: %w", path, err)
	}
	if len(data) > MaxReportBytes {
		return nil, fmt.Errorf("read report %q: over the %d-byte limit for a report", path, MaxReportBytes)
	}
	var head struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&head); err != nil {
		return nil, fmt.Errorf("decode report %q: %w", path, err)
	}
	if head.SchemaVersion == nil || *head.SchemaVersion != SchemaVersion {
		v := "none"
		if head.SchemaVersion != nil {
			v = fmt.Sprint(*head.SchemaVersion)
		}
		return nil, fmt.Errorf("decode report %q: schema_version %s, this cvgate reads %d", path, v, SchemaVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decode report %q: %w", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("decode report %q: more data after the report object", path)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("validate report %q: %w", path, err)
	}
	return &r, nil
}
