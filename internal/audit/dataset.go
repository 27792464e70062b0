package audit

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FileEntry is one file of a dataset listing.
type FileEntry struct {
	Path   string `json:"path"`   // relative, slash-separated, clean
	Size   int64  `json:"size"`   // bytes
	SHA256 string `json:"sha256"` // lower-case hex of the file's bytes
	Label  string `json:"label"`  // class label ("" when unlabeled)
}

// DatasetDigest returns the SHA-256 (lower-case hex) of the canonical listing of entries: the
// canonical JSON array of the entries, each {"label","path","sha256","size"}, sorted by path
// (byte order).
// Input order does not matter; changing any file's bytes (its SHA256), size, label or path
// changes the digest. Paths must be clean relative slash paths, unique; hashes 64 lower-case hex.
func DatasetDigest(entries []FileEntry) (string, error) {
	listing, err := DatasetListing(entries)
	if err != nil {
		return "", err
	}
	return sha256Hex(listing), nil
}

// DatasetListing returns the canonical listing that DatasetDigest hashes, for storing or
// diffing.
func DatasetListing(entries []FileEntry) ([]byte, error) {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b FileEntry) int { return cmp.Compare(a.Path, b.Path) })
	for i, e := range sorted {
		if err := checkFileEntry(e); err != nil {
			return nil, fmt.Errorf("digest dataset listing: %w", err)
		}
		if i > 0 && sorted[i-1].Path == e.Path {
			return nil, fmt.Errorf("digest dataset listing: path %q listed twice", e.Path)
		}
	}
	out := make([]byte, 0, 2+len(sorted)*(len(`{"label":"","path":"","sha256":"","size":},`)+64+64))
	out = append(out, '[')
	for i, e := range sorted {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"label":`...)
		out = appendString(out, e.Label)
		out = append(out, `,"path":`...)
		out = appendString(out, e.Path)
		out = append(out, `,"sha256":"`...)
		out = append(out, e.SHA256...)
		out = append(out, `","size":`...)
		out = strconv.AppendInt(out, e.Size, 10)
		out = append(out, '}')
	}
	return append(out, ']'), nil
}

func checkFileEntry(e FileEntry) error {
	p := e.Path
	switch {
	case p == "" || p == ".":
		return fmt.Errorf("empty path")
	case strings.HasPrefix(p, "/") || strings.Contains(p, `\`):
		return fmt.Errorf("path %q is not a relative slash path", p)
	case path.Clean(p) != p:
		// Leading ../ segments are allowed: a manifest may list images beside its own folder,
		// and a path relative to the manifest is still the same on every machine.
		return fmt.Errorf("path %q is not clean", p)
	case !utf8.ValidString(p) || !utf8.ValidString(e.Label):
		return fmt.Errorf("path %q: path or label is not valid UTF-8", p)
	case e.Size < 0:
		return fmt.Errorf("path %q: negative size %d", p, e.Size)
	}
	if !isSHA256Hex(e.SHA256) {
		return fmt.Errorf("path %q: sha256 %q is not 64 lower-case hex digits", p, e.SHA256)
	}
	return nil
}
