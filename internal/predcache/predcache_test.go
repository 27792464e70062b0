package predcache

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func keys(n int) []Key {
	out := make([]Key, n)
	for i := range out {
		out[i] = KeyOf("test", fmt.Sprint(i))
	}
	return out
}

func value(i, n int) []byte {
	v := make([]byte, n)
	for j := range v {
		v[j] = byte(i*7 + j%3)
	}
	return v
}

func packsIn(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+packExt))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	for _, size := range []int{0, 40, 5000, 1 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			ks := keys(20)
			for i, k := range ks {
				s.Put(k, value(i, size))
			}
			// Pending records are served before they are written.
			if v, ok := s.Get(ks[3]); !ok || !bytes.Equal(v, value(3, size)) {
				t.Fatalf("pending record: ok %v", ok)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if n := len(packsIn(t, dir)); n != 1 {
				t.Fatalf("%d packs, want 1", n)
			}
			s, err = Open(Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i, k := range ks {
				v, ok := s.Get(k)
				if !ok || !bytes.Equal(v, value(i, size)) {
					t.Fatalf("record %d: ok %v, %d bytes", i, ok, len(v))
				}
			}
			if _, ok := s.Get(KeyOf("absent")); ok {
				t.Fatal("absent key found")
			}
			if st := s.Stats(); st.Hits != 20 || st.Rejected != 0 || st.Records != 20 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestKeyOfIsUnambiguous(t *testing.T) {
	if KeyOf("ab", "c") == KeyOf("a", "bc") || KeyOf("a") == KeyOf("a", "") {
		t.Fatal("different part lists hash alike")
	}
}

// A damaged pack is never trusted: the damaged record (or the whole pack, when its index is hit)
// is a miss, counted, and the pack is deleted from the cache folder.
func TestDamagedPacks(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string, data []byte)
		// all: every record is lost (the index is unreadable); else only record 0.
		all bool
	}{
		{"flipped payload byte", func(t *testing.T, p string, d []byte) {
			d[len(packMagic)+recordHead+5] ^= 1
			os.WriteFile(p, d, 0o644)
		}, false},
		{"flipped key byte", func(t *testing.T, p string, d []byte) {
			d[len(packMagic)] ^= 1
			os.WriteFile(p, d, 0o644)
		}, false},
		{"truncated", func(t *testing.T, p string, d []byte) { os.WriteFile(p, d[:len(d)-10], 0o644) }, true},
		{"other format version", func(t *testing.T, p string, d []byte) {
			d[7] = FormatVersion + 1
			os.WriteFile(p, d, 0o644)
		}, true},
		{"index checksum", func(t *testing.T, p string, d []byte) {
			d[len(d)-packTail-1] ^= 1
			os.WriteFile(p, d, 0o644)
		}, true},
		{"empty file", func(t *testing.T, p string, d []byte) { os.WriteFile(p, nil, 0o644) }, true},
		{"foreign record", func(t *testing.T, p string, d []byte) {
			// Record 1's bytes filed under record 0's offset: a valid record of another key.
			r := recordHead + 40 + 32
			copy(d[len(packMagic):], d[len(packMagic)+r:len(packMagic)+2*r])
			os.WriteFile(p, d, 0o644)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := Open(Options{Dir: dir})
			ks := keys(3)
			for i, k := range ks {
				s.Put(k, value(i, 40))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			p := packsIn(t, dir)[0]
			data, _ := os.ReadFile(p)
			tt.damage(t, p, data)
			s, err := Open(Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := s.Get(ks[0]); ok {
				t.Fatal("damaged record served")
			}
			v, ok := s.Get(ks[2])
			if ok == tt.all || ok && !bytes.Equal(v, value(2, 40)) {
				t.Fatalf("undamaged record: ok %v", ok)
			}
			if s.Stats().Rejected != 1 || len(s.Notes()) != 1 {
				t.Fatalf("rejected %d, notes %q", s.Stats().Rejected, s.Notes())
			}
			s.Close()
			if n := len(packsIn(t, dir)); n != 0 {
				t.Fatalf("damaged pack kept (%d packs)", n)
			}
		})
	}
}

func noise(i, n int) []byte {
	var out []byte
	for j := 0; len(out) < n; j++ {
		k := KeyOf("noise", fmt.Sprint(i, j))
		out = append(out, k[:]...)
	}
	return out[:n]
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ks := keys(3)
	seen := map[string]bool{}
	for i, k := range ks { // three packs of 10 KB, a minute apart
		s, _ := Open(Options{Dir: dir, Now: clock})
		s.Put(k, noise(i, 10000))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for _, p := range packsIn(t, dir) {
			if !seen[p] {
				seen[p] = true
				os.Chtimes(p, now, now)
			}
		}
		now = now.Add(time.Minute)
	}
	if n := len(packsIn(t, dir)); n != 3 {
		t.Fatalf("%d packs", n)
	}
	// Reading the oldest renews it; a bound of two packs then evicts the second oldest.
	s, _ := Open(Options{Dir: dir, Now: clock, MaxBytes: 25000})
	if _, ok := s.Get(ks[0]); !ok {
		t.Fatal("miss")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Evicted != 1 {
		t.Fatalf("evicted %d packs, want 1", st.Evicted)
	}
	s, _ = Open(Options{Dir: dir})
	defer s.Close()
	_, ok0 := s.Get(ks[0])
	_, ok1 := s.Get(ks[1])
	_, ok2 := s.Get(ks[2])
	if !ok0 || ok1 || !ok2 {
		t.Fatalf("kept: %v %v %v, want the used and the newest", ok0, ok1, ok2)
	}
}

func TestConcurrentRunsShareAFolder(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(Options{Dir: dir})
			if err != nil {
				t.Error(err)
				return
			}
			var inner sync.WaitGroup
			for g := range 4 {
				inner.Add(1)
				go func() {
					defer inner.Done()
					for i := range 50 {
						k := KeyOf("c", fmt.Sprint(r%2, g, i))
						s.Put(k, value(i, 100))
						if v, ok := s.Get(k); !ok || !bytes.Equal(v, value(i, 100)) {
							t.Error("lost a record")
						}
					}
				}()
			}
			inner.Wait()
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s, _ := Open(Options{Dir: dir})
	defer s.Close()
	for r := range 2 {
		for g := range 4 {
			for i := range 50 {
				if v, ok := s.Get(KeyOf("c", fmt.Sprint(r, g, i))); !ok || !bytes.Equal(v, value(i, 100)) {
					t.Fatalf("record %d %d %d: %v", r, g, i, ok)
				}
			}
		}
	}
	if st := s.Stats(); st.Rejected != 0 {
		t.Fatalf("rejected %d", st.Rejected)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			t.Fatalf("temporary file left: %s", e.Name())
		}
	}
}

// A shard exports every record it served or stored; a merge reads the export read-only.
func TestExportAndReadOnly(t *testing.T) {
	cache, export := t.TempDir(), t.TempDir()
	ks := keys(4)
	s, _ := Open(Options{Dir: cache})
	s.Put(ks[0], value(0, 50))
	s.Close()
	s, _ = Open(Options{Dir: cache, Export: export})
	if _, ok := s.Get(ks[0]); !ok { // served from the cache: exported too
		t.Fatal("miss")
	}
	s.Put(ks[1], value(1, 50))
	s.Close()
	s, _ = Open(Options{ReadOnly: []string{export}})
	for i, k := range ks[:2] {
		if v, ok := s.Get(k); !ok || !bytes.Equal(v, value(i, 50)) {
			t.Fatalf("exported record %d missing", i)
		}
	}
	s.Put(ks[2], value(2, 50)) // no folder to write: kept nowhere
	s.Close()
	if n := len(packsIn(t, export)); n != 1 {
		t.Fatalf("read-only folder changed: %d packs", n)
	}
}

// BenchmarkStoreBatch stores a batch of 1,000 classifier records (10 float32 scores each) and
// writes them out as one pack.
func BenchmarkStoreBatch(b *testing.B) {
	ks := keys(1000)
	b.ReportAllocs()
	for b.Loop() {
		s, _ := Open(Options{Dir: b.TempDir()})
		for i, k := range ks {
			s.Put(k, value(i, 40))
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ks)), "ns/record")
}

// BenchmarkLookupBatch reads back a batch of 1,000 classifier records from a pack, verifying each.
func BenchmarkLookupBatch(b *testing.B) {
	dir := b.TempDir()
	ks := keys(1000)
	s, _ := Open(Options{Dir: dir})
	for i, k := range ks {
		s.Put(k, value(i, 40))
	}
	s.Close()
	s, _ = Open(Options{Dir: dir})
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		for _, k := range ks {
			if _, ok := s.Get(k); !ok {
				b.Fatal("miss")
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ks)), "ns/record")
}
