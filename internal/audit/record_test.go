package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
)

// TestHashStable pins the hash of a record to a value computed outside Go: the canonical bytes
// below were written by hand and hashed with
//
//	printf '%s' '<canonical bytes>' | sha256sum
func TestHashStable(t *testing.T) {
	const canonical = `{"accuracy":0.9875,"images":10000,"models":{"candidate":"ab12"},"note":"<ok> & \"quoted\"\n","passed":true,"tool":"cvgate","version":"0.1.0"}`
	const sha256sum = "dee3eb74a77dd0a8b72bc2ceb5cf42624ca91880c07442009504f6e8d7b63ccb"

	sum := sha256.Sum256([]byte(canonical))
	if hex.EncodeToString(sum[:]) != sha256sum {
		t.Fatal("the hand-written canonical bytes do not match the pinned sha256sum")
	}
	inputs := map[string]any{
		"Go map": map[string]any{
			"version": "0.1.0", "tool": "cvgate", "passed": true, "note": "<ok> & \"quoted\"\n",
			"models": map[string]string{"candidate": "ab12"}, "images": 10000, "accuracy": 0.9875,
		},
		"raw JSON, other order and spacing": json.RawMessage(`{ "tool": "cvgate", "version": "0.1.0",
			"images": 1.0e4, "accuracy": 98.75e-2, "passed": true,
			"models": { "candidate": "ab12" }, "note": "\u003cok> \u0026 \"quoted\"\u000a" }`),
	}
	for name, v := range inputs {
		r, err := NewRecord(v)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Bytes()) != canonical {
			t.Errorf("%s: canonical\n%s\nwant\n%s", name, r.Bytes(), canonical)
		}
		if got := Hash(r); got != sha256sum {
			t.Errorf("%s: Hash %s, want %s", name, got, sha256sum)
		}
	}
}

func TestHashChangesWithContent(t *testing.T) {
	a, _ := NewRecord(map[string]any{"verdict": "pass", "accuracy": 0.98})
	b, _ := NewRecord(map[string]any{"verdict": "pass", "accuracy": 0.97})
	if Hash(a) == Hash(b) {
		t.Error("different records hash alike")
	}
}

func TestRecordJSON(t *testing.T) {
	r, err := NewRecord(map[string]int{"b": 1, "a": 2})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(struct {
		Record Record `json:"record"`
	}{r})
	if err != nil {
		t.Fatal(err)
	}
	if string(doc) != `{"record":{"a":2,"b":1}}` {
		t.Errorf("embedded record: %s", doc)
	}
	var back struct {
		Record Record `json:"record"`
	}
	if err := json.Unmarshal([]byte(`{"record": { "b" : 1, "a" : 2 }}`), &back); err != nil {
		t.Fatal(err)
	}
	if Hash(back.Record) != Hash(r) {
		t.Errorf("unmarshaled record %s hashes differently from %s", back.Record.Bytes(), r.Bytes())
	}
	var zero Record
	if string(zero.Bytes()) != "null" || !zero.IsZero() {
		t.Errorf("zero record is %s", zero.Bytes())
	}
}
