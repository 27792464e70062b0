// Package audit keeps cvgate's tamper-evident audit trail: canonical JSON and its hash, an
// append-only hash-chained log of run records (JSON Lines), and a digest of a dataset listing.
//
// The package knows nothing about what a record holds; the caller builds it (tool and ONNX
// Runtime versions, model and dataset hashes, the effective config and its hash, results,
// verdict, git and CI identifiers, time) and this package only fixes its bytes and chains them.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
)

// Record is one audit record: any JSON value, held in canonical form so that its hash is fixed
// the moment it is made. The zero Record is JSON null.
type Record struct {
	canonical []byte
}

// NewRecord builds a record from v: a json.RawMessage, or any value encoding/json can encode.
func NewRecord(v any) (Record, error) {
	b, err := Canonical(v)
	if err != nil {
		return Record{}, err
	}
	return Record{canonical: b}, nil
}

// Bytes returns a copy of the record's canonical JSON.
func (r Record) Bytes() []byte { return slices.Clone(r.canonicalBytes()) }

func (r Record) canonicalBytes() []byte {
	if r.canonical == nil {
		return []byte("null")
	}
	return r.canonical
}

// IsZero reports whether r is the zero Record.
func (r Record) IsZero() bool { return r.canonical == nil }

// MarshalJSON writes the canonical form, so a Record can sit inside a larger JSON document.
func (r Record) MarshalJSON() ([]byte, error) { return r.canonicalBytes(), nil }

// UnmarshalJSON canonicalizes data.
func (r *Record) UnmarshalJSON(data []byte) error {
	b, err := Canonical(json.RawMessage(data))
	if err != nil {
		return err
	}
	r.canonical = b
	return nil
}

// Hash is the lower-case hex SHA-256 of the record's canonical form.
func Hash(r Record) string { return sha256Hex(r.canonicalBytes()) }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
