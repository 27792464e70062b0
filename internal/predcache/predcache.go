// Package predcache stores per-image records (one model's output for one image under one variant,
// one attack's outcome on one image) in a folder, so that a rerun, a pull request whose baseline
// did not change, or the merge of sharded runs reads them instead of running the models again.
//
// Records live in pack files: a run appends the records it computes to one pack, written under a
// temporary name and renamed into place (its name is the SHA-256 of its content, never anything
// from input), so that concurrent runs never see half a pack. Each record carries its full key
// and a SHA-256 over key and payload; a pack ends with an index (checksummed too) that Open reads
// without reading the records. A record or index that does not verify (corrupt, truncated, from
// another format version, or filed under another key) is never returned: it is counted, and its
// pack deleted from the cache folder. Packs are evicted least recently used once the folder
// exceeds its size bound.
//
// A Store may also read packs from folders it never writes or evicts (the results of shards) and
// copy every record it serves or stores into an export folder (a shard's result).
package predcache

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// FormatVersion is the pack layout's version; it is part of every pack header and every key
// (KeyOf), so that packs of another layout are ignored.
const FormatVersion = 1

// Limits that keep a hostile or damaged cache from costing unbounded memory or time.
const (
	// MaxRecordBytes bounds one record's payload (uncompressed); bigger records are not stored.
	MaxRecordBytes = 32 << 20
	// maxIndexRecords bounds the records one pack may index.
	maxIndexRecords = 1 << 24
	// packFlushBytes is the size at which pending records are written out as a pack.
	packFlushBytes = 64 << 20
	// maxOpenPacks bounds the pack files held open for reading.
	maxOpenPacks = 128
	// tempMaxAge is the age past which a temporary file is taken as left by a crashed run.
	tempMaxAge = time.Hour
)

// DefaultMaxBytes is the default size bound of a cache folder.
const DefaultMaxBytes = 2 << 30

var (
	packMagic  = [8]byte{'C', 'V', 'G', 'P', 'A', 'C', 'K', FormatVersion}
	indexMagic = [8]byte{'C', 'V', 'G', 'I', 'N', 'D', 'X', FormatVersion}
)

const packExt = ".pack"

// Key identifies a record: the SHA-256 of everything that decides its content (see KeyOf).
type Key [sha256.Size]byte

// String is the key in hex.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// KeyOf hashes the parts of a record's description, each length-prefixed so that no two
// different part lists hash alike, after the format version.
func KeyOf(parts ...string) Key {
	h := sha256.New()
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], FormatVersion)
	h.Write(n[:])
	for _, p := range parts {
		binary.LittleEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var k Key
	h.Sum(k[:0])
	return k
}

// Options configure a Store.
type Options struct {
	// Dir is the cache folder, created when missing; empty: none.
	Dir string
	// MaxBytes bounds Dir's packs (0: DefaultMaxBytes).
	MaxBytes int64
	// ReadOnly are folders of packs that are read but never written, touched or evicted.
	ReadOnly []string
	// Export is a folder that receives, as packs, every record the Store serves or stores.
	Export string
	// Now is the clock of eviction (nil: time.Now).
	Now func() time.Time
}

// Stats count what a Store did.
type Stats struct {
	Hits, Stores int64
	// Rejected counts records and packs that failed verification and were ignored.
	Rejected int64
	// Evicted counts packs deleted to respect the size bound; EvictedBytes their size.
	Evicted      int64
	EvictedBytes int64
	// Exported counts the records copied into the export folder.
	Exported int64
	// Packs and Records are what Open indexed.
	Packs, Records int64
}

// Store is a folder of packs plus the records of this run not yet written. It is safe for
// concurrent use.
type Store struct {
	opts  Options
	mu    sync.Mutex
	packs []*pack
	index map[Key]loc
	// pending are records stored by this run and not yet written out.
	pending *writer
	export  *writer
	// exported avoids copying a record into the export twice.
	exported map[Key]bool
	open     int
	stats    Stats
	notes    []string
}

type pack struct {
	path     string
	readOnly bool
	size     int64
	f        *os.File
	used     bool // a record was served from it: its time is renewed on Close
	bad      bool // a record did not verify: it is deleted on Close
}

type loc struct {
	pack int // index in packs; -1: pending
	off  int64
}

// Open indexes the packs of the cache folder and of the read-only folders. A folder that cannot be
// created or read is an error; a pack that does not verify is counted, skipped and (in the cache
// folder) deleted.
func Open(opts Options) (*Store, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{opts: opts, index: map[Key]loc{}, exported: map[Key]bool{}}
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("create prediction cache %q: %w", opts.Dir, err)
		}
		if err := s.indexDir(opts.Dir, false); err != nil {
			return nil, err
		}
	}
	for _, d := range opts.ReadOnly {
		if err := s.indexDir(d, true); err != nil {
			return nil, err
		}
	}
	if opts.Dir != "" {
		s.pending = &writer{dir: opts.Dir}
	}
	if opts.Export != "" {
		if err := os.MkdirAll(opts.Export, 0o755); err != nil {
			return nil, fmt.Errorf("create record folder %q: %w", opts.Export, err)
		}
		s.export = &writer{dir: opts.Export}
	}
	return s, nil
}

// indexDir reads the index of every pack in dir, in name order (so that which copy of a record
// is served does not depend on the file system).
func (s *Store) indexDir(dir string, readOnly bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read prediction cache %q: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), packExt) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		p := &pack{path: filepath.Join(dir, name), readOnly: readOnly}
		keys, offs, size, err := readIndex(p.path)
		if err != nil {
			s.reject(p, err)
			if !readOnly {
				os.Remove(p.path)
			}
			continue
		}
		p.size = size
		s.packs = append(s.packs, p)
		s.stats.Packs++
		for j, k := range keys {
			if _, dup := s.index[k]; !dup {
				s.index[k] = loc{pack: len(s.packs) - 1, off: offs[j]}
				s.stats.Records++
			}
		}
	}
	return nil
}

func (s *Store) reject(p *pack, err error) {
	s.stats.Rejected++
	if len(s.notes) < 5 {
		s.notes = append(s.notes, fmt.Sprintf("%s: %v", filepath.Base(p.path), err))
	}
}

// Get returns the record stored under k. A record that does not verify is a miss.
func (s *Store) Get(k Key) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.index[k]
	if !ok {
		return nil, false
	}
	var v []byte
	var err error
	if l.pack < 0 {
		v, err = decodeRecord(s.pending.buf.Bytes()[l.off:], k)
	} else {
		p := s.packs[l.pack]
		v, err = s.readAt(p, l.off, k)
		if err != nil {
			p.bad = true
			s.reject(p, err)
		} else {
			p.used = true
		}
	}
	if err != nil {
		delete(s.index, k)
		return nil, false
	}
	s.stats.Hits++
	s.exportLocked(k, v)
	return v, true
}

// Put stores a record. Records over MaxRecordBytes are dropped: the cache is an optimisation.
func (s *Store) Put(k Key, v []byte) {
	if len(v) > MaxRecordBytes {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.index[k]; ok {
		s.exportLocked(k, v)
		return
	}
	s.stats.Stores++
	if s.pending != nil {
		off := s.pending.add(k, v)
		s.index[k] = loc{pack: -1, off: off}
		if s.pending.buf.Len() >= packFlushBytes {
			s.flushPendingLocked()
		}
	}
	s.exportLocked(k, v)
}

func (s *Store) exportLocked(k Key, v []byte) {
	if s.export == nil || s.exported[k] {
		return
	}
	s.exported[k] = true
	s.stats.Exported++
	s.export.add(k, v)
	if s.export.buf.Len() >= packFlushBytes {
		if _, err := s.export.flush(); err != nil {
			s.notes = append(s.notes, fmt.Sprintf("write records: %v", err))
		}
	}
}

// flushPendingLocked writes the pending records as a pack and points the index at it.
func (s *Store) flushPendingLocked() {
	w := s.pending
	keys := w.keys
	path, err := w.flush()
	if err != nil {
		s.notes = append(s.notes, fmt.Sprintf("write prediction cache: %v", err))
		for _, k := range keys {
			delete(s.index, k)
		}
		return
	}
	if path == "" {
		return
	}
	_, offs, size, err := readIndex(path)
	if err != nil {
		for _, k := range keys {
			delete(s.index, k)
		}
		return
	}
	s.packs = append(s.packs, &pack{path: path, size: size, used: true})
	for j, k := range keys {
		s.index[k] = loc{pack: len(s.packs) - 1, off: offs[j]}
	}
}

// Stats returns the counts so far.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Notes describe rejected packs and records and failed writes, for the report (at most a few).
func (s *Store) Notes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.notes...)
}

// Close writes the pending records and the export, renews the time of the packs records were
// served from, deletes the packs that failed verification and evicts the least recently used
// packs past the size bound.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.pending != nil {
		s.flushPendingLocked()
	}
	if s.export != nil {
		if _, err := s.export.flush(); err != nil {
			errs = append(errs, err)
		}
	}
	now := s.opts.Now()
	for _, p := range s.packs {
		if p.f != nil {
			p.f.Close()
			p.f = nil
		}
		switch {
		case p.readOnly:
		case p.bad:
			os.Remove(p.path)
		case p.used:
			os.Chtimes(p.path, now, now)
		}
	}
	s.open = 0
	if s.opts.Dir != "" {
		if err := s.evictLocked(now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// evictLocked deletes packs, oldest first, until the folder is within its bound, and temporary
// files left by crashed runs.
func (s *Store) evictLocked(now time.Time) error {
	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return fmt.Errorf("read prediction cache %q: %w", s.opts.Dir, err)
	}
	type file struct {
		path string
		size int64
		mod  time.Time
	}
	var packs []file
	var total int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		path := filepath.Join(s.opts.Dir, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), tempPrefix):
			if now.Sub(info.ModTime()) > tempMaxAge {
				os.Remove(path)
			}
		case strings.HasSuffix(e.Name(), packExt):
			packs = append(packs, file{path, info.Size(), info.ModTime()})
			total += info.Size()
		}
	}
	if total <= s.opts.MaxBytes {
		return nil
	}
	sort.Slice(packs, func(i, j int) bool {
		if !packs[i].mod.Equal(packs[j].mod) {
			return packs[i].mod.Before(packs[j].mod)
		}
		return packs[i].path < packs[j].path
	})
	for _, p := range packs {
		if total <= s.opts.MaxBytes {
			break
		}
		if err := os.Remove(p.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("evict %q: %w", p.path, err)
		}
		total -= p.size
		s.stats.Evicted++
		s.stats.EvictedBytes += p.size
	}
	return nil
}

// readAt reads and verifies the record at off of p.
func (s *Store) readAt(p *pack, off int64, k Key) ([]byte, error) {
	if p.f == nil {
		if s.open >= maxOpenPacks {
			for _, q := range s.packs {
				if q.f != nil {
					q.f.Close()
					q.f = nil
				}
			}
			s.open = 0
		}
		f, err := os.Open(p.path)
		if err != nil {
			return nil, fmt.Errorf("open pack: %w", err)
		}
		p.f = f
		s.open++
	}
	var head [recordHead]byte
	if _, err := p.f.ReadAt(head[:], off); err != nil {
		return nil, fmt.Errorf("read record header: %w", err)
	}
	n := int64(binary.LittleEndian.Uint32(head[37:41]))
	if n > MaxRecordBytes || off+recordHead+n+sha256.Size > p.size {
		return nil, errors.New("record length past the end of the pack")
	}
	buf := make([]byte, recordHead+n+sha256.Size)
	if _, err := p.f.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("read record: %w", err)
	}
	return decodeRecord(buf, k)
}

// Record layout: key (32) | encoding (1) | plain length (4) | stored length (4) | stored bytes |
// SHA-256 of everything before it (32).
const recordHead = sha256.Size + 1 + 4 + 4

const (
	encPlain   = 0
	encDeflate = 1
)

// encodeRecord appends k's record of v to dst, deflated when that saves a quarter or more.
func encodeRecord(dst []byte, k Key, v []byte) []byte {
	enc, stored := byte(encPlain), v
	if len(v) >= 256 {
		var b bytes.Buffer
		zw, _ := flate.NewWriter(&b, flate.BestSpeed)
		zw.Write(v)
		zw.Close()
		if b.Len() <= len(v)*3/4 {
			enc, stored = encDeflate, b.Bytes()
		}
	}
	start := len(dst)
	dst = append(dst, k[:]...)
	dst = append(dst, enc)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(v)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(stored)))
	dst = append(dst, stored...)
	sum := sha256.Sum256(dst[start:])
	return append(dst, sum[:]...)
}

// decodeRecord verifies a record (b may extend past it) and returns its plain payload.
func decodeRecord(b []byte, want Key) ([]byte, error) {
	if len(b) < recordHead+sha256.Size {
		return nil, errors.New("truncated record")
	}
	if !bytes.Equal(b[:sha256.Size], want[:]) {
		return nil, errors.New("record filed under another key")
	}
	enc := b[32]
	plain := int64(binary.LittleEndian.Uint32(b[33:37]))
	n := int64(binary.LittleEndian.Uint32(b[37:41]))
	if plain > MaxRecordBytes || n > MaxRecordBytes || int64(len(b)) < recordHead+n+sha256.Size {
		return nil, errors.New("record length out of bounds")
	}
	body := b[:recordHead+n]
	sum := sha256.Sum256(body)
	if !bytes.Equal(sum[:], b[recordHead+n:recordHead+n+sha256.Size]) {
		return nil, errors.New("record checksum mismatch")
	}
	stored := body[recordHead:]
	switch enc {
	case encPlain:
		if int64(len(stored)) != plain {
			return nil, errors.New("record length mismatch")
		}
		return bytes.Clone(stored), nil
	case encDeflate:
		out, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(stored)), plain+1))
		if err != nil {
			return nil, fmt.Errorf("inflate record: %w", err)
		}
		if int64(len(out)) != plain {
			return nil, errors.New("record length mismatch after inflating")
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown record encoding %d", enc)
}

// Pack layout: packMagic | records | index | SHA-256 of the index (32) | index offset (8) |
// indexMagic. The index is a count (4) and, per record, its key (32) and offset (8).
const packTail = sha256.Size + 8 + 8

// readIndex reads and verifies a pack's index.
func readIndex(path string) (keys []Key, offs []int64, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, 0, err
	}
	size = info.Size()
	if size < int64(len(packMagic))+4+packTail {
		return nil, nil, 0, errors.New("truncated pack")
	}
	var head [8]byte
	if _, err := f.ReadAt(head[:], 0); err != nil || head != packMagic {
		return nil, nil, 0, errors.New("not a pack of this format version")
	}
	var tail [packTail]byte
	if _, err := f.ReadAt(tail[:], size-packTail); err != nil {
		return nil, nil, 0, fmt.Errorf("read pack index: %w", err)
	}
	if [8]byte(tail[40:48]) != indexMagic {
		return nil, nil, 0, errors.New("pack index missing (truncated or of another format version)")
	}
	at := int64(binary.LittleEndian.Uint64(tail[32:40]))
	if at < int64(len(packMagic)) || at+4 > size-packTail {
		return nil, nil, 0, errors.New("pack index offset out of bounds")
	}
	idx := make([]byte, size-packTail-at)
	if _, err := f.ReadAt(idx, at); err != nil {
		return nil, nil, 0, fmt.Errorf("read pack index: %w", err)
	}
	if sum := sha256.Sum256(idx); !bytes.Equal(sum[:], tail[:32]) {
		return nil, nil, 0, errors.New("pack index checksum mismatch")
	}
	count := int64(binary.LittleEndian.Uint32(idx[:4]))
	if count > maxIndexRecords || int64(len(idx)) != 4+count*40 {
		return nil, nil, 0, errors.New("pack index length mismatch")
	}
	keys, offs = make([]Key, count), make([]int64, count)
	for j := range keys {
		e := idx[4+j*40:]
		copy(keys[j][:], e[:32])
		offs[j] = int64(binary.LittleEndian.Uint64(e[32:40]))
		if offs[j] < int64(len(packMagic)) || offs[j]+recordHead+sha256.Size > at {
			return nil, nil, 0, errors.New("pack index points outside the records")
		}
	}
	return keys, offs, size, nil
}

// writer collects records into one pack.
type writer struct {
	dir  string
	buf  bytes.Buffer
	keys []Key
	offs []int64
}

const tempPrefix = ".tmp-"

// add appends a record and returns its offset in the pack.
func (w *writer) add(k Key, v []byte) int64 {
	if w.buf.Len() == 0 {
		w.buf.Write(packMagic[:])
	}
	off := int64(w.buf.Len())
	w.buf.Write(encodeRecord(nil, k, v))
	w.keys = append(w.keys, k)
	w.offs = append(w.offs, off)
	return off
}

// flush writes the records as a pack named by its content's SHA-256 (temporary file, then
// rename) and starts a new one; "" when there was nothing to write.
func (w *writer) flush() (string, error) {
	if len(w.keys) == 0 {
		return "", nil
	}
	at := int64(w.buf.Len())
	idx := binary.LittleEndian.AppendUint32(nil, uint32(len(w.keys)))
	for j, k := range w.keys {
		idx = append(idx, k[:]...)
		idx = binary.LittleEndian.AppendUint64(idx, uint64(w.offs[j]))
	}
	w.buf.Write(idx)
	sum := sha256.Sum256(idx)
	w.buf.Write(sum[:])
	w.buf.Write(binary.LittleEndian.AppendUint64(nil, uint64(at)))
	w.buf.Write(indexMagic[:])
	data := w.buf.Bytes()
	name := sha256.Sum256(data)
	path := filepath.Join(w.dir, hex.EncodeToString(name[:])+packExt)
	w.buf.Reset()
	w.keys, w.offs = nil, nil
	tmp, err := os.CreateTemp(w.dir, tempPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("write pack in %q: %w", w.dir, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write pack in %q: %w", w.dir, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write pack in %q: %w", w.dir, err)
	}
	return path, nil
}
