package onnxproto

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Protocol buffer wire types (the low three bits of a field tag).
type wireType uint8

const (
	wireVarint     wireType = 0
	wireFixed64    wireType = 1
	wireBytes      wireType = 2
	wireStartGroup wireType = 3
	wireEndGroup   wireType = 4
	wireFixed32    wireType = 5
)

func (w wireType) String() string {
	switch w {
	case wireVarint:
		return "varint"
	case wireFixed64:
		return "fixed64"
	case wireBytes:
		return "length-delimited"
	case wireStartGroup:
		return "start-group"
	case wireEndGroup:
		return "end-group"
	case wireFixed32:
		return "fixed32"
	}
	return fmt.Sprintf("wire type %d", uint8(w))
}

const (
	// maxFieldNumber is the largest field number protobuf allows (2^29-1).
	maxFieldNumber = 1<<29 - 1
	// maxVarintLen is the longest encoding of a 64-bit varint.
	maxVarintLen = 10
	// maxDepth bounds message nesting (subgraphs inside attributes inside nodes ...). Real models
	// nest a handful of levels; the bound keeps hostile files from exhausting the stack.
	maxDepth = 100
	// maxStringLen bounds every string the reader keeps (names, doc strings, metadata), so that
	// memory stays bounded whatever the file claims.
	maxStringLen = 16 << 20
	// bufferSize is the read buffer. Skips longer than what is buffered plus seekThreshold are
	// done with Seek instead of reading through the bytes.
	bufferSize    = 32 << 10
	seekThreshold = 64 << 10
)

// FormatError reports bytes that are not a well-formed ONNX ModelProto. Offset is the byte offset
// (from the start of the model) of the field or value at fault.
type FormatError struct {
	Offset int64
	Reason string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("not an ONNX ModelProto: %s (byte offset %d)", e.Reason, e.Offset)
}

// decoder reads protobuf wire format from a stream, tracking the absolute offset so that every
// error can say where it happened. Messages are parsed in place against an end offset: nothing is
// buffered beyond the current field, so tensor payloads are skipped without being held.
type decoder struct {
	src    io.Reader
	seeker io.Seeker // nil when src cannot seek; skips then read through
	r      *bufio.Reader
	off    int64 // offset of the next unread byte
	size   int64 // total size of the model
	depth  int
}

func newDecoder(src io.Reader, size int64) *decoder {
	d := &decoder{src: src, r: bufio.NewReaderSize(src, bufferSize), size: size}
	if s, ok := src.(io.Seeker); ok {
		d.seeker = s
	}
	return d
}

func (d *decoder) errorf(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// ioError turns a failed read at offset off into an error: a short file is a format problem
// (the model claims more bytes than exist), anything else is passed through.
func (d *decoder) ioError(off int64, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return d.errorf(off, "unexpected end of file")
	}
	return fmt.Errorf("read at byte offset %d: %w", off, err)
}

// varint reads one base-128 varint that must end before end.
func (d *decoder) varint(end int64) (uint64, error) {
	start := d.off
	var v uint64
	for i := 0; i < maxVarintLen; i++ {
		if d.off >= end {
			return 0, d.errorf(start, "varint runs past the end of its message")
		}
		b, err := d.r.ReadByte()
		if err != nil {
			return 0, d.ioError(d.off, err)
		}
		d.off++
		if i == maxVarintLen-1 && b > 1 {
			break // the tenth byte may only carry the 64th bit
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, d.errorf(start, "varint overflows 64 bits")
}

// tag reads a field tag and validates the field number and wire type.
func (d *decoder) tag(end int64) (field int32, wt wireType, err error) {
	start := d.off
	v, err := d.varint(end)
	if err != nil {
		return 0, 0, err
	}
	num, wt := v>>3, wireType(v&7)
	if num == 0 || num > maxFieldNumber {
		return 0, 0, d.errorf(start, "invalid field number %d", num)
	}
	if wt > wireFixed32 {
		return 0, 0, d.errorf(start, "field %d has invalid wire type %d", num, uint8(wt))
	}
	return int32(num), wt, nil
}

// length reads the length prefix of a length-delimited field and checks that the payload fits
// inside the enclosing message; that check is what catches truncated files early. The field is
// named by name, or by number when name is empty (unknown fields).
func (d *decoder) length(end int64, field int32, name string) (int64, error) {
	start := d.off
	n, err := d.varint(end)
	if err != nil {
		return 0, err
	}
	if left := end - d.off; n > uint64(left) {
		if name == "" {
			name = strconv.Itoa(int(field))
		}
		if end == d.size {
			return 0, d.errorf(start, "field %s claims %d bytes but only %d remain in the file (truncated?)", name, n, left)
		}
		return 0, d.errorf(start, "field %s claims %d bytes but only %d remain in its enclosing message", name, n, left)
	}
	return int64(n), nil
}

// skip advances n bytes, which the caller has already checked against the message end.
func (d *decoder) skip(n int64) error {
	start := d.off
	buffered := int64(d.r.Buffered())
	if d.seeker != nil && n > buffered+seekThreshold {
		if _, err := d.r.Discard(int(buffered)); err != nil {
			return d.ioError(start, err)
		}
		// The underlying reader now sits exactly at d.off+buffered; jump over the rest.
		if _, err := d.seeker.Seek(n-buffered, io.SeekCurrent); err != nil {
			return fmt.Errorf("seek past byte offset %d: %w", start, err)
		}
		d.r.Reset(d.src)
		d.off += n
		return nil
	}
	for left := n; left > 0; {
		chunk := min(left, 1<<30)
		if _, err := d.r.Discard(int(chunk)); err != nil {
			return d.ioError(start, err)
		}
		left -= chunk
	}
	d.off += n
	return nil
}

// expect checks that a known field arrived with the wire type its schema gives it.
func (d *decoder) expect(start int64, name string, got, want wireType) error {
	if got != want {
		return d.errorf(start, "field %s has wire type %s, want %s", name, got, want)
	}
	return nil
}

// int64Field reads a varint-encoded int64/int32/enum field (two's complement for negatives).
func (d *decoder) int64Field(start, end int64, name string, wt wireType) (int64, error) {
	if err := d.expect(start, name, wt, wireVarint); err != nil {
		return 0, err
	}
	v, err := d.varint(end)
	return int64(v), err
}

// stringField reads a length-delimited string field of at most maxStringLen bytes.
func (d *decoder) stringField(start, end int64, name string, wt wireType) (string, error) {
	if err := d.expect(start, name, wt, wireBytes); err != nil {
		return "", err
	}
	n, err := d.length(end, 0, name)
	if err != nil {
		return "", err
	}
	if n > maxStringLen {
		return "", d.errorf(start, "field %s holds %d bytes, over the %d-byte limit for strings", name, n, maxStringLen)
	}
	if n <= int64(d.r.Buffered()) || n <= bufferSize {
		// Peek serves it from the buffer (filling it if needed): one allocation, for the string.
		b, err := d.r.Peek(int(n))
		if err != nil {
			return "", d.ioError(d.off, err)
		}
		s := string(b)
		_, _ = d.r.Discard(int(n)) // cannot fail: the bytes were just peeked
		d.off += n
		return s, nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		return "", d.ioError(d.off, err)
	}
	d.off += n
	return string(b), nil
}

// enter reads the length of an embedded message field and returns where it ends.
func (d *decoder) enter(start, end int64, name string, wt wireType) (int64, error) {
	if err := d.expect(start, name, wt, wireBytes); err != nil {
		return 0, err
	}
	if d.depth >= maxDepth {
		return 0, d.errorf(start, "messages nested deeper than %d levels", maxDepth)
	}
	n, err := d.length(end, 0, name)
	if err != nil {
		return 0, err
	}
	d.depth++
	return d.off + n, nil
}

// leave closes an embedded message opened by enter.
func (d *decoder) leave() { d.depth-- }

// fields calls fn for each field of the message that ends at end. fn must consume the field's
// value (reading or skipping it); start is the offset of the field's tag.
func (d *decoder) fields(end int64, fn func(field int32, wt wireType, start int64) error) error {
	for d.off < end {
		start := d.off
		field, wt, err := d.tag(end)
		if err != nil {
			return err
		}
		if err := fn(field, wt, start); err != nil {
			return err
		}
	}
	return nil
}

// skipField skips the value of a field this reader does not need, whatever its wire type.
func (d *decoder) skipField(field int32, wt wireType, start, end int64) error {
	switch wt {
	case wireVarint:
		_, err := d.varint(end)
		return err
	case wireFixed64, wireFixed32:
		n := int64(8)
		if wt == wireFixed32 {
			n = 4
		}
		if end-d.off < n {
			return d.errorf(start, "%s field %d runs past the end of its message", wt, field)
		}
		return d.skip(n)
	case wireBytes:
		n, err := d.length(end, field, "")
		if err != nil {
			return err
		}
		return d.skip(n)
	case wireStartGroup:
		return d.skipGroup(field, start, end)
	case wireEndGroup:
		return d.errorf(start, "end-group tag for field %d without a matching start", field)
	}
	return d.errorf(start, "field %d has invalid wire type %d", field, uint8(wt))
}

// skipGroup skips a (deprecated, but legal) group up to its matching end-group tag.
func (d *decoder) skipGroup(field int32, start, end int64) error {
	if d.depth >= maxDepth {
		return d.errorf(start, "groups nested deeper than %d levels", maxDepth)
	}
	d.depth++
	defer d.leave()
	for d.off < end {
		at := d.off
		f, wt, err := d.tag(end)
		if err != nil {
			return err
		}
		if wt == wireEndGroup {
			if f != field {
				return d.errorf(at, "end-group tag for field %d closes a group opened by field %d", f, field)
			}
			return nil
		}
		if err := d.skipField(f, wt, at, end); err != nil {
			return err
		}
	}
	return d.errorf(start, "group for field %d is not closed before the end of its message", field)
}
