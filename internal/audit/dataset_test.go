package audit

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func sampleFiles() []FileEntry {
	return []FileEntry{
		{Path: "digits/b.png", Size: 98, SHA256: strings.Repeat("2", 64), Label: "7"},
		{Path: "digits/a.png", Size: 120, SHA256: strings.Repeat("1", 64), Label: "3"},
	}
}

// TestDatasetDigestStable pins the digest to a value computed outside Go:
//
//	printf '%s' '<listing below>' | sha256sum
func TestDatasetDigestStable(t *testing.T) {
	const listing = `[{"label":"3","path":"digits/a.png","sha256":"1111111111111111111111111111111111111111111111111111111111111111","size":120},` +
		`{"label":"7","path":"digits/b.png","sha256":"2222222222222222222222222222222222222222222222222222222222222222","size":98}]`
	const sha256sum = "2c9063c9b2a450adddfb5d6111f852697ff133624eb9f8e8bb739370a2b50373"
	got, err := DatasetListing(sampleFiles())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != listing {
		t.Errorf("listing\n%s\nwant\n%s", got, listing)
	}
	digest, err := DatasetDigest(sampleFiles())
	if err != nil || digest != sha256sum {
		t.Errorf("digest %s (%v), want %s", digest, err, sha256sum)
	}
	// The listing is canonical JSON: canonicalizing it changes nothing.
	if c, err := Canonical(json.RawMessage(listing)); err != nil || string(c) != listing {
		t.Errorf("listing is not canonical: %s (%v)", c, err)
	}
}

func TestDatasetDigestChanges(t *testing.T) {
	base, err := DatasetDigest(sampleFiles())
	if err != nil {
		t.Fatal(err)
	}
	reversed := sampleFiles()
	reversed[0], reversed[1] = reversed[1], reversed[0]
	if d, _ := DatasetDigest(reversed); d != base {
		t.Error("input order changed the digest")
	}
	edits := map[string]func(f []FileEntry) []FileEntry{
		"image bytes": func(f []FileEntry) []FileEntry { f[0].SHA256 = strings.Repeat("3", 64); return f },
		"size":        func(f []FileEntry) []FileEntry { f[0].Size++; return f },
		"label":       func(f []FileEntry) []FileEntry { f[0].Label = "1"; return f },
		"path":        func(f []FileEntry) []FileEntry { f[0].Path = "digits/c.png"; return f },
		"file list": func(f []FileEntry) []FileEntry {
			return append(f, FileEntry{Path: "x.png", SHA256: strings.Repeat("4", 64)})
		},
	}
	for name, edit := range edits {
		files := edit(sampleFiles())
		if d, err := DatasetDigest(files); err != nil || d == base {
			t.Errorf("changing the %s kept the digest (%v)", name, err)
		}
	}
}

func TestDatasetDigestRejects(t *testing.T) {
	sha := strings.Repeat("a", 64)
	tests := []struct {
		name    string
		files   []FileEntry
		wantErr string
	}{
		{"duplicate path", []FileEntry{{Path: "a.png", SHA256: sha}, {Path: "a.png", SHA256: sha}}, "listed twice"},
		{"absolute path", []FileEntry{{Path: "/a.png", SHA256: sha}}, "not a relative slash path"},
		{"backslash", []FileEntry{{Path: `d\a.png`, SHA256: sha}}, "not a relative slash path"},
		{"dot-dot inside", []FileEntry{{Path: "a/../b.png", SHA256: sha}}, "not clean"},
		{"unclean", []FileEntry{{Path: "d//a.png", SHA256: sha}}, "not clean"},
		{"empty path", []FileEntry{{SHA256: sha}}, "empty path"},
		{"short hash", []FileEntry{{Path: "a.png", SHA256: "abc"}}, "not 64 lower-case hex"},
		{"upper-case hash", []FileEntry{{Path: "a.png", SHA256: strings.ToUpper(sha)}}, "not 64 lower-case hex"},
		{"negative size", []FileEntry{{Path: "a.png", SHA256: sha, Size: -1}}, "negative size"},
		{"invalid UTF-8 label", []FileEntry{{Path: "a.png", SHA256: sha, Label: "\xff"}}, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DatasetDigest(tt.files)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func BenchmarkDatasetDigest10k(b *testing.B) {
	files := make([]FileEntry, 10000)
	for i := range files {
		files[i] = FileEntry{Path: fmt.Sprintf("class_%d/img%05d.png", i%10, i), Size: int64(i), SHA256: strings.Repeat("ab", 32), Label: "x"}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DatasetDigest(files); err != nil {
			b.Fatal(err)
		}
	}
}
