package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// sampleRecord is a run record shaped like cvgate's.
func sampleRecord(t testing.TB, run int) Record {
	t.Helper()
	r, err := NewRecord(map[string]any{
		"run":     run,
		"verdict": "pass",
		"tool":    map[string]string{"version": "0.1.0", "ort": "1.29.0"},
		"models":  map[string]string{"candidate": strings.Repeat("ab", 32), "baseline": strings.Repeat("cd", 32)},
		"dataset": strings.Repeat("ef", 32),
		"config":  map[string]any{"fail_on": "fail", "max_drop": 0.01, "seed": 1},
		"results": []map[string]any{{"id": "perf.metrics", "status": "pass", "accuracy": 0.9875}},
		"ci":      map[string]string{"sha": "0123abc", "run_id": "42"},
		"time":    "2025-01-02T03:04:05Z",
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// writeLog appends n sample records to a new log and returns its path and lines.
func writeLog(t *testing.T, n int) (string, [][]byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	for i := 1; i <= n; i++ {
		if _, err := Append(path, sampleRecord(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, bytes.SplitAfter(data, []byte("\n"))[:n]
}

// TestLogFormat checks the first two lines byte for byte against hashes computed outside Go:
//
//	Z=0000000000000000000000000000000000000000000000000000000000000000
//	printf '{"prev":"%s","record":{"run":1,"verdict":"pass"},"seq":1}' $Z | sha256sum             # H1
//	printf '{"hash":"%s","prev":"%s","record":{"run":1,"verdict":"pass"},"seq":1}' $H1 $Z | sha256sum # L1
//	printf '{"prev":"%s","record":{"run":2,"verdict":"fail"},"seq":2}' $L1 | sha256sum            # H2
func TestLogFormat(t *testing.T) {
	const (
		h1 = "db771c1fec093e1faf7bb8576eec560a0c03a0594e7e41824838b741afef609e"
		l1 = "38051ac5b66b30f07e2bff9ba1ff57ad1639a26d2d0b99fe0eb751bbbb312597"
		h2 = "a3e25ee871d54273b7b48ba24b842ce07086cb3acdf93ccbaa88c9e6e097d004"
	)
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	r1, _ := NewRecord(map[string]any{"verdict": "pass", "run": 1})
	r2, _ := NewRecord(map[string]any{"verdict": "fail", "run": 2})
	e1, err := Append(path, r1)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := Append(path, r2)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"seq":1,"prev":"` + GenesisPrev + `","record":{"run":1,"verdict":"pass"},"hash":"` + h1 + `"}` + "\n" +
		`{"seq":2,"prev":"` + l1 + `","record":{"run":2,"verdict":"fail"},"hash":"` + h2 + `"}` + "\n"
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("log\n%s\nwant\n%s", got, want)
	}
	if e1.Seq != 1 || e1.Hash != h1 || e1.LineHash != l1 || e2.Seq != 2 || e2.Prev != l1 || e2.Hash != h2 {
		t.Errorf("entries %+v %+v", e1, e2)
	}
	if v, err := Verify(path); v.Entries != 2 || err != nil {
		t.Errorf("Verify = %d, %v; want 2, nil", v.Entries, err)
	}
}

func TestVerifyIntact(t *testing.T) {
	path, _ := writeLog(t, 5)
	v, err := Verify(path)
	n := v.Entries
	if n != 5 || err != nil {
		t.Errorf("Verify = %d, %v; want 5, nil", n, err)
	}
}

func TestVerifyEmptyAndMissing(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if v, err := Verify(empty); v.Entries != 0 || err != nil {
		t.Errorf("empty log: %d, %v", v.Entries, err)
	}
	if _, err := Verify(filepath.Join(dir, "missing.jsonl")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing log: %v, want fs.ErrNotExist", err)
	}
}

func TestVerifyTampering(t *testing.T) {
	// Lines are 0-based in the edit functions, 1-based in the wanted errors.
	tests := []struct {
		name     string
		edit     func(t *testing.T, lines [][]byte) [][]byte
		wantLine int
		want     Problem
	}{
		{"edit a record value", func(t *testing.T, l [][]byte) [][]byte {
			l[2] = replaceOnce(t, l[2], `"accuracy":0.9875`, `"accuracy":0.9975`)
			return l
		}, 3, ProblemHashMismatch},
		{"edit a hash", func(t *testing.T, l [][]byte) [][]byte {
			i := bytes.LastIndex(l[2], []byte(`"hash":"`)) + len(`"hash":"`)
			l[2][i] ^= 1 // '0'<->'1', 'a'<->'`'... keep it hex:
			if c := l[2][i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				l[2][i] = '0'
			}
			return l
		}, 3, ProblemHashMismatch},
		{"edit a record and recompute its hash", func(t *testing.T, l [][]byte) [][]byte {
			l[2] = rehash(t, replaceOnce(t, l[2], `"verdict":"pass"`, `"verdict":"fail"`))
			return l
		}, 4, ProblemBrokenChain},
		{"delete line 1", func(t *testing.T, l [][]byte) [][]byte { return l[1:] }, 1, ProblemSeqGap},
		{"delete line 2", func(t *testing.T, l [][]byte) [][]byte {
			return append(l[:1:1], l[2:]...)
		}, 2, ProblemSeqGap},
		{"delete line 2 and renumber", func(t *testing.T, l [][]byte) [][]byte {
			l = append(l[:1:1], l[2:]...)
			for i := 1; i < len(l); i++ {
				l[i] = rehash(t, replaceOnce(t, l[i], fmt.Sprintf(`{"seq":%d,`, i+2), fmt.Sprintf(`{"seq":%d,`, i+1)))
			}
			return l
		}, 2, ProblemBrokenChain},
		{"swap lines 2 and 3", func(t *testing.T, l [][]byte) [][]byte {
			l[1], l[2] = l[2], l[1]
			return l
		}, 2, ProblemSeqGap},
		{"duplicate line 2", func(t *testing.T, l [][]byte) [][]byte {
			return append(l[:2:2], append([][]byte{l[1]}, l[2:]...)...)
		}, 3, ProblemSeqGap},
		{"duplicate the last line", func(t *testing.T, l [][]byte) [][]byte { return append(l, l[4]) }, 6, ProblemSeqGap},
		{"insert a forged line 3", func(t *testing.T, l [][]byte) [][]byte {
			// A well-formed entry with seq 3 chained onto line 2 passes itself; the original
			// line 3 behind it then repeats seq 3.
			forged := rehash(t, replaceOnce(t, l[2], `"verdict":"pass"`, `"verdict":"fail"`))
			return append(l[:2:2], append([][]byte{forged}, l[2:]...)...)
		}, 4, ProblemSeqGap},
		{"append garbage", func(t *testing.T, l [][]byte) [][]byte { return append(l, []byte("hello\n")) }, 6, ProblemMalformed},
		{"insert a blank line", func(t *testing.T, l [][]byte) [][]byte {
			return append(l[:2:2], append([][]byte{[]byte("\n")}, l[2:]...)...)
		}, 3, ProblemMalformed},
		{"truncate the last line", func(t *testing.T, l [][]byte) [][]byte {
			l[4] = l[4][:len(l[4])/2]
			return l
		}, 5, ProblemTruncated},
		{"drop the final newline", func(t *testing.T, l [][]byte) [][]byte {
			l[4] = l[4][:len(l[4])-1]
			return l
		}, 5, ProblemTruncated},
		{"add a field", func(t *testing.T, l [][]byte) [][]byte {
			l[1] = replaceOnce(t, l[1], `{"seq":2,`, `{"note":"x","seq":2,`)
			return l
		}, 2, ProblemMalformed},
		{"duplicate a key", func(t *testing.T, l [][]byte) [][]byte {
			l[1] = replaceOnce(t, l[1], `{"seq":2,`, `{"seq":2,"seq":2,`)
			return l
		}, 2, ProblemMalformed},
		{"upper-case hash", func(t *testing.T, l [][]byte) [][]byte {
			i := bytes.Index(l[1], []byte(`"hash":"`))
			l[1] = append(l[1][:i:i], bytes.ToUpper(l[1][i:])...)
			return l
		}, 2, ProblemMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, lines := writeLog(t, 5)
			tampered := bytes.Join(tt.edit(t, lines), nil)
			if err := os.WriteFile(path, tampered, 0o644); err != nil {
				t.Fatal(err)
			}
			v, err := Verify(path)
			n := v.Entries
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("Verify = %d, %v; want a *LineError", n, err)
			}
			if le.Line != tt.wantLine || le.Problem != tt.want {
				t.Errorf("got %v; want line %d: %s", err, tt.wantLine, tt.want)
			}
			if n != tt.wantLine-1 {
				t.Errorf("Verify counted %d good entries, want %d", n, tt.wantLine-1)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), fmt.Sprintf("line %d: ", tt.wantLine)) {
				t.Errorf("error %q does not name the log and the line", err)
			}

			// Append must refuse the broken log and leave it as it was.
			_, err = Append(path, sampleRecord(t, 99))
			if !errors.As(err, &le) || le.Line != tt.wantLine {
				t.Errorf("Append on a broken log: %v", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, tampered) {
				t.Error("Append changed a broken log")
			}
		})
	}
}

// TestVerifyAcceptsReformatting: the hash covers the entry's content, not its spelling, so a line
// re-serialized with other spacing and key order still verifies.
func TestVerifyAcceptsReformatting(t *testing.T) {
	path, lines := writeLog(t, 3)
	l := string(lines[1])
	hashAt := strings.Index(l, `,"hash":`)
	reformatted := `{ "hash" : ` + strings.TrimSuffix(l[hashAt+len(`,"hash":`):], "}\n") + ` ,` + strings.TrimPrefix(l[:hashAt], "{") + " }\r\n"
	lines[1] = []byte(reformatted)
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, err := Verify(path); v.Entries != 3 || err != nil {
		t.Errorf("Verify = %d, %v; want 3, nil (line 2 is %q)", v.Entries, err, reformatted)
	}
}

func TestAppendZeroRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if _, err := Append(path, Record{}); err == nil {
		t.Error("appended an empty record")
	}
}

func TestAppendConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	const writers, each = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := Append(path, sampleRecord(t, w*100+i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if v, err := Verify(path); v.Entries != writers*each || err != nil {
		t.Errorf("Verify = %d, %v; want %d, nil", v.Entries, err, writers*each)
	}
}

func replaceOnce(t *testing.T, line []byte, old, new string) []byte {
	t.Helper()
	if bytes.Count(line, []byte(old)) != 1 {
		t.Fatalf("%q occurs %d times in %s", old, bytes.Count(line, []byte(old)), line)
	}
	return bytes.Replace(line, []byte(old), []byte(new), 1)
}

// rehash recomputes a line's own hash after an edit, as a forger would.
func rehash(t *testing.T, line []byte) []byte {
	t.Helper()
	_, members, err := canonicalize(line, nil)
	if err != nil {
		t.Fatal(err)
	}
	var seq int64
	fmt.Sscan(string(members[3].value), &seq)
	prev := strings.Trim(string(members[1].value), `"`)
	old := strings.Trim(string(members[0].value), `"`)
	return bytes.Replace(line, []byte(old), []byte(entryHash(seq, prev, members[2].value)), 1)
}

func BenchmarkVerify1000(b *testing.B) {
	path := filepath.Join(b.TempDir(), "audit.jsonl")
	var buf []byte
	prev := GenesisPrev
	for i := 1; i <= 1000; i++ {
		rec := sampleRecord(b, i).canonicalBytes()
		h := entryHash(int64(i), prev, rec)
		buf = fmt.Appendf(buf, `{"seq":%d,"prev":"%s","record":%s,"hash":"%s"}`+"\n", i, prev, rec, h)
		prev = lineHash(h, prev, rec, int64(i))
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if v, err := Verify(path); v.Entries != 1000 || err != nil {
			b.Fatal(v.Entries, err)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	path := filepath.Join(b.TempDir(), "audit.jsonl")
	rec := sampleRecord(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Append(path, rec); err != nil {
			b.Fatal(err)
		}
	}
}
