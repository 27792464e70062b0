package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The log is JSON Lines, one entry per line, numbered from 1:
//
//	{"seq":N,"prev":"<64 hex>","record":{...},"hash":"<64 hex>"}
//
// hash is the SHA-256 of the canonical form of {"seq","prev","record"}, which (keys sorted) is
// exactly {"prev":"P","record":R,"seq":N}. prev is the SHA-256 of the canonical form of the whole
// previous entry, {"hash":"H","prev":"P","record":R,"seq":N}, and 64 zeros on line 1. Editing,
// removing, reordering, duplicating or inserting a line therefore breaks either its own hash, its
// seq, or the next line's prev.
//
// Two changes cannot be seen from the log alone: dropping entries from the end (what is left is
// a shorter, intact chain), and rewriting every hash from an edited line on. Both are caught
// against an anchor kept outside the log: the head, the LineHash of the last entry, written
// where the log's keeper cannot rewrite it (a job summary, a release asset, a git tag or note).
// VerifyHead checks that the anchored head is still an entry of the chain: a log cut below it,
// or rewritten before it, no longer holds it. Entries appended after the anchor are fine.

// GenesisPrev is the prev of the first entry.
const GenesisPrev = "0000000000000000000000000000000000000000000000000000000000000000"

// maxLineLen bounds one log line (one record), so that a corrupt log cannot exhaust memory.
const maxLineLen = 64 << 20

// Entry is one line of the log.
type Entry struct {
	Seq    int64
	Prev   string
	Record Record
	Hash   string
	// LineHash is the SHA-256 of the whole entry's canonical form: the next entry's Prev.
	LineHash string
}

// Problem names what is wrong with a log line.
type Problem string

// Problems Verify reports.
const (
	ProblemMalformed    Problem = "malformed entry"
	ProblemTruncated    Problem = "truncated entry"
	ProblemHashMismatch Problem = "hash mismatch"
	ProblemSeqGap       Problem = "seq gap"
	ProblemBrokenChain  Problem = "broken chain"
)

// LineError is the first bad line of a log.
type LineError struct {
	Line    int // 1-based
	Problem Problem
	Detail  string
}

func (e *LineError) Error() string {
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Problem, e.Detail)
}

// Verified is what Verify found in an intact log.
type Verified struct {
	Entries int
	// Head is the LineHash of the last entry (GenesisPrev for an empty log): the value to keep
	// outside the log and pass to VerifyHead later.
	Head string
	// AnchorSeq is the entry whose LineHash is the anchor VerifyHead was given (0 for Verify,
	// and for the empty log's anchor GenesisPrev).
	AnchorSeq int
}

// HeadError says that an anchored head is not an entry of the log: entries were dropped from
// the end (or the chain was rewritten) since the anchor was taken.
type HeadError struct {
	Head    string
	Entries int
	Last    string // the log's own head now
}

func (e *HeadError) Error() string {
	return fmt.Sprintf("the anchored head %s is not an entry of the log (%d entries, head %s): entries were dropped from its end, or it was rewritten, since the anchor was taken", e.Head, e.Entries, e.Last)
}

// Verify checks the whole log at logPath and returns how many entries it holds and its head. On
// the first bad line it returns the good entries before it and an error wrapping a *LineError.
// An empty file is a valid log with no entries; a missing file is an error (fs.ErrNotExist).
// Verify alone cannot see entries dropped from the end: see VerifyHead.
func Verify(logPath string) (Verified, error) { return VerifyHead(logPath, "") }

// VerifyHead is Verify, and also checks that head (a LineHash kept outside the log, e.g. the
// head printed by an earlier append) is one of the log's entries: it fails with a *HeadError
// when the log was cut below the anchor or rewritten before it. head "" checks no anchor.
func VerifyHead(logPath, head string) (Verified, error) {
	if head != "" && !isSHA256Hex(head) {
		return Verified{}, fmt.Errorf("verify audit log %q: head %q is not 64 lower-case hex digits", logPath, head)
	}
	f, err := os.Open(logPath)
	if err != nil {
		return Verified{}, fmt.Errorf("verify audit log %q: %w", logPath, err)
	}
	defer f.Close()
	if err := lockFile(f, false); err != nil {
		return Verified{}, fmt.Errorf("verify audit log %q: %w", logPath, err)
	}
	anchor := 0
	if head == GenesisPrev {
		anchor = -1 // the empty log's head: every log extends it
	}
	last, err := scanEntries(f, func(e Entry) {
		if anchor == 0 && head != "" && e.LineHash == head {
			anchor = int(e.Seq)
		}
	})
	v := Verified{Entries: int(last.Seq), Head: GenesisPrev}
	if last.Seq > 0 {
		v.Head = last.LineHash
	}
	if err != nil {
		return v, fmt.Errorf("verify audit log %q: %w", logPath, err)
	}
	if head != "" && anchor == 0 {
		return v, fmt.Errorf("verify audit log %q: %w", logPath, &HeadError{Head: head, Entries: v.Entries, Last: v.Head})
	}
	v.AnchorSeq = max(anchor, 0)
	return v, nil
}

// Append adds record to the log at logPath (created if missing) and returns the new entry. It
// verifies the whole log first and refuses to extend a broken one, naming the first bad line.
// The line goes out in one write on an O_APPEND descriptor under an exclusive lock, and is
// fsynced before Append returns.
func Append(logPath string, record Record) (Entry, error) {
	fail := func(err error) (Entry, error) {
		return Entry{}, fmt.Errorf("append to audit log %q: %w", logPath, err)
	}
	if record.IsZero() {
		return fail(errors.New("empty record"))
	}
	_, statErr := os.Stat(logPath)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(logPath, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fail(err)
	}
	entry, err := appendLocked(f, record)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil && created {
		err = syncDir(filepath.Dir(logPath))
	}
	if err != nil {
		return fail(err)
	}
	return entry, nil
}

func appendLocked(f *os.File, record Record) (Entry, error) {
	if err := lockFile(f, true); err != nil {
		return Entry{}, err
	}
	last, err := scan(f)
	if err != nil {
		return Entry{}, err
	}
	entry := Entry{Seq: last.Seq + 1, Prev: GenesisPrev, Record: record}
	if last.Seq > 0 {
		entry.Prev = last.LineHash
	}
	entry.Hash = entryHash(entry.Seq, entry.Prev, record.canonicalBytes())
	entry.LineHash = lineHash(entry.Hash, entry.Prev, record.canonicalBytes(), entry.Seq)

	line := make([]byte, 0, len(record.canonicalBytes())+200)
	line = append(line, `{"seq":`...)
	line = strconv.AppendInt(line, entry.Seq, 10)
	line = append(line, `,"prev":"`...)
	line = append(line, entry.Prev...)
	line = append(line, `","record":`...)
	line = append(line, record.canonicalBytes()...)
	line = append(line, `,"hash":"`...)
	line = append(line, entry.Hash...)
	line = append(line, "\"}\n"...)
	if _, err := f.Write(line); err != nil {
		return Entry{}, err
	}
	if err := f.Sync(); err != nil {
		return Entry{}, err
	}
	return entry, nil
}

// syncDir makes a newly created log's directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if closeErr := d.Close(); err == nil {
		err = closeErr
	}
	return err
}

// entryHash hashes the canonical form of {"seq","prev","record"}.
func entryHash(seq int64, prev string, record []byte) string {
	b := make([]byte, 0, len(record)+100)
	b = append(b, `{"prev":"`...)
	b = append(b, prev...)
	b = append(b, `","record":`...)
	b = append(b, record...)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, '}')
	return sha256Hex(b)
}

// lineHash hashes the canonical form of a whole entry.
func lineHash(hash, prev string, record []byte, seq int64) string {
	b := make([]byte, 0, len(record)+180)
	b = append(b, `{"hash":"`...)
	b = append(b, hash...)
	b = append(b, `","prev":"`...)
	b = append(b, prev...)
	b = append(b, `","record":`...)
	b = append(b, record...)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, '}')
	return sha256Hex(b)
}

// scan verifies the log from the start of f and returns its last good entry (Seq 0 when none)
// and, when a line is bad, a *LineError.
func scan(f io.ReadSeeker) (Entry, error) { return scanEntries(f, nil) }

// scanEntries is scan, calling each (when set) with every good entry in order.
func scanEntries(f io.ReadSeeker, each func(Entry)) (Entry, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Entry{}, err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineLen)
	sc.Split(splitLines)
	var last Entry
	for lineNo := 1; sc.Scan(); lineNo++ {
		entry, lineErr := parseEntry(sc.Bytes(), lineNo)
		if lineErr == nil {
			lineErr = chain(entry, last, lineNo)
		}
		if lineErr != nil {
			return last, lineErr
		}
		if each != nil {
			each(entry)
		}
		last = entry
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return last, &LineError{Line: int(last.Seq) + 1, Problem: ProblemMalformed, Detail: fmt.Sprintf("line longer than %d bytes", maxLineLen)}
		}
		return last, err
	}
	return last, nil
}

// splitLines is bufio.ScanLines keeping the newline, so that a cut-off last line shows.
func splitLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, data[:i+1], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// parseEntry checks one line on its own: well-formed, and its hash matches its content.
func parseEntry(line []byte, lineNo int) (Entry, *LineError) {
	bad := func(p Problem, format string, args ...any) (Entry, *LineError) {
		return Entry{}, &LineError{Line: lineNo, Problem: p, Detail: fmt.Sprintf(format, args...)}
	}
	if line[len(line)-1] != '\n' {
		return bad(ProblemTruncated, "no newline at the end of the file: the last write was cut short")
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return bad(ProblemMalformed, "empty line")
	}
	canonical, members, err := canonicalize(line, nil)
	if err != nil {
		return bad(ProblemMalformed, "%v", err)
	}
	if members == nil {
		return bad(ProblemMalformed, "not a JSON object")
	}
	// Canonical order is sorted: hash, prev, record, seq.
	keys := make([]string, len(members))
	for i, m := range members {
		keys[i] = m.key
	}
	if strings.Join(keys, ",") != "hash,prev,record,seq" {
		return bad(ProblemMalformed, "fields are %q, want seq, prev, record, hash", keys)
	}
	hash, okHash := hexString(members[0].value)
	prev, okPrev := hexString(members[1].value)
	if !okHash || !okPrev {
		return bad(ProblemMalformed, "hash and prev must be 64 lower-case hex digits")
	}
	record := members[2].value
	seq, err := strconv.ParseInt(string(members[3].value), 10, 64)
	if err != nil || seq < 1 {
		return bad(ProblemMalformed, "seq %s is not a positive integer", members[3].value)
	}
	if want := entryHash(seq, prev, record); hash != want {
		return bad(ProblemHashMismatch, "entry hash %s, content hashes to %s", hash, want)
	}
	return Entry{Seq: seq, Prev: prev, Record: Record{canonical: record}, Hash: hash, LineHash: sha256Hex(canonical)}, nil
}

// chain checks an entry against the one before it.
func chain(e, prev Entry, lineNo int) *LineError {
	if e.Seq != int64(lineNo) {
		detail := fmt.Sprintf("seq %d, want %d", e.Seq, lineNo)
		if e.Seq <= prev.Seq {
			detail += " (a repeated or reordered entry)"
		} else {
			detail += " (an entry is missing before it)"
		}
		return &LineError{Line: lineNo, Problem: ProblemSeqGap, Detail: detail}
	}
	want := GenesisPrev
	if lineNo > 1 {
		want = prev.LineHash
	}
	if e.Prev != want {
		return &LineError{Line: lineNo, Problem: ProblemBrokenChain, Detail: fmt.Sprintf("prev %s, but the previous entry hashes to %s", e.Prev, want)}
	}
	return nil
}

// hexString unquotes a canonical JSON string holding a SHA-256 in lower-case hex.
func hexString(v []byte) (string, bool) {
	if len(v) != 66 || v[0] != '"' || v[65] != '"' || !isSHA256Hex(v[1:65]) {
		return "", false
	}
	return string(v[1:65]), true
}

// isSHA256Hex reports whether s is 64 lower-case hex digits.
func isSHA256Hex[S string | []byte](s S) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
