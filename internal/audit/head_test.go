package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Dropping entries from the end leaves an intact, shorter chain: Verify alone cannot see it
// (the limit of any hash chain), VerifyHead against the head kept outside the log does.
func TestVerifyHeadCatchesTailTruncation(t *testing.T) {
	path, lines := writeLog(t, 5)
	full, err := Verify(path)
	if err != nil || full.Entries != 5 {
		t.Fatalf("Verify = %+v, %v", full, err)
	}
	third, err := VerifyHead(path, "")
	if err != nil || third.Head != full.Head {
		t.Fatalf("VerifyHead without an anchor = %+v, %v", third, err)
	}
	headAt := func(n int) string {
		e, err := parseEntry(lines[n-1], n)
		if err != nil {
			t.Fatal(err)
		}
		return e.LineHash
	}
	tests := []struct {
		name      string
		keep      int    // lines kept
		head      string // the anchor
		wantErr   bool
		wantSeq   int
		wantAfter int
	}{
		{"intact, anchored at the end", 5, headAt(5), false, 5, 0},
		{"anchor older than the head: appends are fine", 5, headAt(3), false, 3, 2},
		{"two entries dropped from the end", 3, headAt(5), true, 0, 0},
		{"one entry dropped", 4, headAt(5), true, 0, 0},
		{"all entries dropped", 0, headAt(5), true, 0, 0},
		{"the empty log's anchor", 5, GenesisPrev, false, 0, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "audit.jsonl")
			if err := os.WriteFile(p, bytes.Join(lines[:tt.keep], nil), 0o644); err != nil {
				t.Fatal(err)
			}
			if v, err := Verify(p); err != nil || v.Entries != tt.keep {
				t.Fatalf("Verify = %+v, %v: a truncated chain is intact to Verify alone", v, err)
			}
			v, err := VerifyHead(p, tt.head)
			var he *HeadError
			if tt.wantErr {
				if !errors.As(err, &he) || he.Entries != tt.keep || !strings.Contains(err.Error(), "dropped") {
					t.Fatalf("VerifyHead = %+v, %v; want a *HeadError", v, err)
				}
				return
			}
			if err != nil || v.AnchorSeq != tt.wantSeq || v.Entries-v.AnchorSeq != tt.wantAfter {
				t.Errorf("VerifyHead = %+v, %v; want anchor at %d with %d after", v, err, tt.wantSeq, tt.wantAfter)
			}
		})
	}
	if _, err := VerifyHead(path, "not-a-hash"); err == nil || !strings.Contains(err.Error(), "hex") {
		t.Errorf("malformed anchor: %v", err)
	}
}

// Rewriting the whole chain after an edit (every hash recomputed) passes Verify but not the
// anchor taken before it.
func TestVerifyHeadCatchesRewrittenChain(t *testing.T) {
	path, _ := writeLog(t, 3)
	before, err := Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	// Rebuild the log with entry 2 changed, every hash recomputed by Append itself.
	rewritten := filepath.Join(t.TempDir(), "audit.jsonl")
	for i := range 3 {
		rec := sampleRecord(t, i+1)
		if i == 1 {
			rec = sampleRecord(t, 99)
		}
		if _, err := Append(rewritten, rec); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Verify(rewritten); err != nil {
		t.Fatalf("the rewritten chain should verify on its own: %v", err)
	}
	var he *HeadError
	if _, err := VerifyHead(rewritten, before.Head); !errors.As(err, &he) {
		t.Errorf("VerifyHead(old head) = %v, want a *HeadError", err)
	}
}

// FuzzVerify: the verifier never panics and never reads without bound on any bytes; what it
// accepts is a chain it could have written (each line re-parses and links to the one before,
// and appending extends it); a valid log whose bytes are changed either fails or keeps exactly
// the same entries (the same canonical content: JSON spacing does not count); and its head
// anchors it: a log cut at any line boundary fails VerifyHead with the full log's head.
func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	seed := filepath.Join(dir, "seed.jsonl")
	for i := 1; i <= 3; i++ {
		r, err := NewRecord(map[string]any{"run": i, "verdict": "pass"})
		if err != nil {
			f.Fatal(err)
		}
		if _, err := Append(seed, r); err != nil {
			f.Fatal(err)
		}
	}
	valid, err := os.ReadFile(seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid, uint16(0), byte(0))
	f.Add(valid, uint16(40), byte('1'))
	f.Add(valid[:len(valid)-1], uint16(0), byte(0))
	f.Add([]byte(`{"seq":1,"prev":"`+GenesisPrev+`","record":null,"hash":"x"}`+"\n"), uint16(3), byte('2'))
	f.Add([]byte("\n\n"), uint16(0), byte(0))
	f.Add([]byte(`{"seq":1e400}`+"\n"), uint16(0), byte(0))
	f.Fuzz(func(t *testing.T, data []byte, at uint16, b byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "log.jsonl")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		v, err := Verify(p)
		if err == nil {
			// Accepted: appending extends it and keeps it verifiable.
			r, _ := NewRecord(map[string]any{"fuzz": true})
			e, err := Append(p, r)
			if err != nil || e.Seq != int64(v.Entries)+1 || (v.Entries > 0 && e.Prev != v.Head) {
				t.Fatalf("Append to an accepted log = %+v, %v (verified %+v)", e, err, v)
			}
			if w, err := VerifyHead(p, v.Head); err != nil || w.Entries != v.Entries+1 {
				t.Fatalf("after Append: %+v, %v", w, err)
			}
		}

		// Mutate one byte of a valid log.
		if len(valid) == 0 {
			return
		}
		mutated := bytes.Clone(valid)
		mutated[int(at)%len(mutated)] = b
		mp := filepath.Join(dir, "mutated.jsonl")
		if err := os.WriteFile(mp, mutated, 0o644); err != nil {
			t.Fatal(err)
		}
		want := entriesOf(t, valid)
		if mv, err := Verify(mp); err == nil {
			got := entriesOf(t, mutated)
			if mv.Entries != len(want) || strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("a changed log verifies with different entries:\n%q\nwant\n%q", got, want)
			}
		}
		// Cut at every line boundary: the full head no longer anchors it.
		full, _ := Verify(seed)
		lines := bytes.SplitAfter(valid, []byte("\n"))
		k := int(at) % len(lines)
		cut := filepath.Join(dir, "cut.jsonl")
		if err := os.WriteFile(cut, bytes.Join(lines[:k], nil), 0o644); err != nil {
			t.Fatal(err)
		}
		if k < 3 {
			var he *HeadError
			if _, err := VerifyHead(cut, full.Head); !errors.As(err, &he) {
				t.Fatalf("log cut to %d lines: VerifyHead = %v, want a *HeadError", k, err)
			}
		}
	})
}

// entriesOf lists the canonical content of each entry of a log that verifies.
func entriesOf(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		e, err := parseEntry(line, i+1)
		if err != nil {
			t.Fatalf("line %d of an accepted log does not parse: %v", i+1, err)
		}
		out = append(out, e.LineHash)
	}
	return out
}
