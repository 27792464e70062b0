package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// JSON writes the report as indented JSON (report.json).
type JSON struct{}

var _ Writer = JSON{}

// Write implements Writer.
func (JSON) Write(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode report json: %w", err)
	}
	return nil
}

// ReadJSON loads a report.json written by JSON, e.g. for `cvgate publish`.
func ReadJSON(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open report %q: %w", path, err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decode report %q: %w", path, err)
	}
	if r.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("decode report %q: schema_version %d, this cvgate reads %d", path, r.SchemaVersion, SchemaVersion)
	}
	return &r, nil
}
