// Package dedup finds exact and near-duplicate images, within one set (data.integrity) and
// between two sets (data.leakage: eval images that also appear in the training set).
//
// Exact duplicates are images with the same PixelDigest: a SHA-256 of the decoded pixels and
// their shape, so the same picture saved as PNG and as a re-encoded PNG (other compression level,
// other metadata) still matches. FileDigest hashes the raw bytes instead, for provenance records.
//
// Near duplicates are images whose perceptual hashes (PHash) differ in at most a few bits. An
// Index answers such queries without comparing every pair: identical hashes are grouped first and
// the rest is searched by multi-index hashing, which is exact (no missed pairs). Results that can
// grow quadratically (a thousand blank images are half a million pairs) are capped by the caller,
// who is told the true total; Index.Groups returns duplicate groups in memory linear in the input.
package dedup

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/cvgate/cvgate/internal/imaging"
)

// Digest is a SHA-256 content hash.
type Digest [sha256.Size]byte

// pixelDigestDomain prefixes the hashed data so that a pixel digest can never equal the digest of
// some file's bytes, and so that a future change of layout can change the version.
const pixelDigestDomain = "cvgate/pixels/v1\x00"

// PixelDigest hashes the decoded image: width, height, channel count and the interleaved 8-bit
// pixels. Two images have the same digest exactly when they decode to the same pixels in the same
// shape, whatever their file format or metadata. A gray image and its RGB copy differ (their
// channel counts do); PHash treats them as identical.
func PixelDigest(img *imaging.Image) (Digest, error) {
	if err := checkShape(img); err != nil {
		return Digest{}, fmt.Errorf("digest pixels: %w", err)
	}
	h := sha256.New()
	var header [len(pixelDigestDomain) + 3*8]byte
	n := copy(header[:], pixelDigestDomain)
	binary.BigEndian.PutUint64(header[n:], uint64(img.Width))
	binary.BigEndian.PutUint64(header[n+8:], uint64(img.Height))
	binary.BigEndian.PutUint64(header[n+16:], uint64(img.Channels))
	h.Write(header[:])
	h.Write(img.Pix)
	var d Digest
	h.Sum(d[:0])
	return d, nil
}

// FileDigest hashes the raw bytes read from r, as `sha256sum` would.
func FileDigest(r io.Reader) (Digest, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return Digest{}, fmt.Errorf("digest file: %w", err)
	}
	var d Digest
	h.Sum(d[:0])
	return d, nil
}

// String returns the digest as 64 lowercase hex digits.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MarshalText encodes the digest as hex, so that it appears in JSON as a string.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses 64 hex digits.
func (d *Digest) UnmarshalText(text []byte) error {
	if hex.DecodedLen(len(text)) != len(d) {
		return fmt.Errorf("parse digest %q: want %d hex digits", text, 2*len(d))
	}
	if _, err := hex.Decode(d[:], text); err != nil {
		return fmt.Errorf("parse digest %q: %w", text, err)
	}
	return nil
}

// checkShape rejects images whose fields disagree, so that no bad input can index out of range.
func checkShape(img *imaging.Image) error { return img.Validate() }
