// Package idx reads image and label files in the IDX format used by MNIST and Fashion-MNIST,
// plain or gzip-compressed.
//
// An IDX file is a 4-byte magic number (two zero bytes, a data-type code, the number of
// dimensions), one big-endian uint32 per dimension, then the data in row-major order. Only unsigned
// bytes (type code 0x08) are supported, which is what every image-classification IDX file uses.
package idx

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cvgate/cvgate/internal/imaging"
)

const (
	typeUint8 = 0x08

	// maxImagePixels bounds one image's size as claimed by a header, so that a corrupt or hostile
	// file cannot make us allocate gigabytes before its data turns out to be missing.
	maxImagePixels = 1 << 24

	// allocChunk bounds how many slice entries are reserved up front from a header's count, for
	// the same reason; the slice grows normally past it.
	allocChunk = 1 << 16
)

// ErrFormat is wrapped by every error about a file's content (as opposed to an I/O error), so
// callers can tell a bad file from a missing one.
var ErrFormat = errors.New("invalid IDX data")

// ReadImages reads an IDX image file: 3 dimensions (count, rows, columns) give gray images; 4
// dimensions with a last dimension of 1 or 3 give gray or RGB images (channel last).
func ReadImages(path string) ([]*imaging.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read IDX images %q: %w", path, err)
	}
	defer f.Close()
	images, err := DecodeImages(f)
	if err != nil {
		return nil, fmt.Errorf("read IDX images %q: %w", path, err)
	}
	return images, nil
}

// ReadLabels reads an IDX label file: one dimension of unsigned bytes.
func ReadLabels(path string) ([]uint8, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read IDX labels %q: %w", path, err)
	}
	defer f.Close()
	labels, err := DecodeLabels(f)
	if err != nil {
		return nil, fmt.Errorf("read IDX labels %q: %w", path, err)
	}
	return labels, nil
}

// DecodeImages is ReadImages on a stream; gzip is detected from its magic bytes.
func DecodeImages(r io.Reader) ([]*imaging.Image, error) {
	br, closeFn, err := maybeGunzip(r)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	dims, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	channels := 1
	switch {
	case len(dims) == 3:
	case len(dims) == 4 && (dims[3] == 1 || dims[3] == 3):
		channels = int(dims[3])
	default:
		return nil, fmt.Errorf("%w: image file has dimensions %v, want [count rows cols] or [count rows cols 1|3]", ErrFormat, dims)
	}
	count, height, width := int(dims[0]), int(dims[1]), int(dims[2])
	if height == 0 || width == 0 {
		return nil, fmt.Errorf("%w: image size %dx%d is empty", ErrFormat, width, height)
	}
	if uint64(height)*uint64(width)*uint64(channels) > maxImagePixels {
		return nil, fmt.Errorf("%w: image size %dx%dx%d exceeds %d values", ErrFormat, width, height, channels, maxImagePixels)
	}
	images := make([]*imaging.Image, 0, min(count, allocChunk))
	for i := range count {
		m := imaging.New(width, height, channels)
		if _, err := io.ReadFull(br, m.Pix); err != nil {
			return nil, truncated(err, fmt.Sprintf("image %d of %d", i, count))
		}
		images = append(images, m)
	}
	if err := expectEOF(br); err != nil {
		return nil, err
	}
	return images, nil
}

// DecodeLabels is ReadLabels on a stream; gzip is detected from its magic bytes.
func DecodeLabels(r io.Reader) ([]uint8, error) {
	br, closeFn, err := maybeGunzip(r)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	dims, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	if len(dims) != 1 {
		return nil, fmt.Errorf("%w: label file has dimensions %v, want one", ErrFormat, dims)
	}
	count := int64(dims[0])
	// ReadAll grows with the data actually present, so a header that lies about the count
	// costs no more memory than the file holds.
	labels, err := io.ReadAll(io.LimitReader(br, count))
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	if int64(len(labels)) < count {
		return nil, fmt.Errorf("%w: truncated: %d of %d labels present", ErrFormat, len(labels), count)
	}
	if err := expectEOF(br); err != nil {
		return nil, err
	}
	return labels, nil
}

// maybeGunzip returns a buffered reader over the decompressed stream when r starts with the gzip
// magic bytes, or over r itself otherwise, and a function that releases the gzip reader.
func maybeGunzip(r io.Reader) (*bufio.Reader, func(), error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("read header: %w", err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: gzip header: %v", ErrFormat, err)
		}
		return bufio.NewReader(zr), func() { zr.Close() }, nil
	}
	return br, func() {}, nil
}

func readHeader(r io.Reader) ([]uint32, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, truncated(err, "magic number")
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("%w: magic number % x does not start with two zero bytes (not an IDX file)", ErrFormat, magic)
	}
	if magic[2] != typeUint8 {
		return nil, fmt.Errorf("%w: data type 0x%02x, only unsigned bytes (0x08) are supported", ErrFormat, magic[2])
	}
	ndims := int(magic[3])
	if ndims == 0 {
		return nil, fmt.Errorf("%w: zero dimensions", ErrFormat)
	}
	dims := make([]uint32, ndims)
	if err := binary.Read(r, binary.BigEndian, dims); err != nil {
		return nil, truncated(err, "dimension sizes")
	}
	return dims, nil
}

// truncated turns an early end of stream into a format error naming what was missing; other
// errors (I/O, gzip checksum) pass through with the same context.
func truncated(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated: file ends inside %s", ErrFormat, what)
	}
	return fmt.Errorf("read %s: %w", what, err)
}

// expectEOF rejects data after the last record: it means the header and the body disagree, and
// silently ignoring it would hide a mismatched images/labels pair.
func expectEOF(br *bufio.Reader) error {
	n, err := io.Copy(io.Discard, br)
	if err != nil {
		return fmt.Errorf("read past last record: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("%w: %d bytes after the last record", ErrFormat, n)
	}
	return nil
}
