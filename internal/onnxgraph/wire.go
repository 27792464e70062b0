package onnxgraph

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Protocol buffer wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireGroup   = 3
	wireEndGrp  = 4
	wireFixed32 = 5
)

// maxDepth bounds message nesting while skipping groups, so that a hostile file cannot exhaust the
// stack.
const maxDepth = 100

// span is one field of a message as it lies in the buffer: its number and wire type, where its
// tag starts, and (for length-delimited fields) where its payload starts and ends.
type span struct {
	field      int
	wt         int
	start, end int // the whole field, tag included
	val        int // first byte after the tag (and after the length, for wireBytes)
	num        uint64
}

// payload is a length-delimited field's bytes.
func (s span) payload(b []byte) []byte { return b[s.val:s.end] }

// fields splits the message b into its fields, in order. base is b's offset in the model, for
// error messages.
func fields(b []byte, base int) ([]span, error) {
	var out []span
	for off := 0; off < len(b); {
		s, err := next(b, off, base)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		off = s.end
	}
	return out, nil
}

func next(b []byte, off, base int) (span, error) {
	start := off
	tag, n := binary.Uvarint(b[off:])
	if n <= 0 {
		return span{}, formatErr(base+off, "bad field tag")
	}
	off += n
	s := span{field: int(tag >> 3), wt: int(tag & 7), start: start}
	if s.field == 0 || tag>>3 > 1<<29-1 {
		return span{}, formatErr(base+start, fmt.Sprintf("invalid field number %d", tag>>3))
	}
	switch s.wt {
	case wireVarint:
		v, n := binary.Uvarint(b[off:])
		if n <= 0 {
			return span{}, formatErr(base+off, "bad varint")
		}
		s.val, s.num, s.end = off, v, off+n
	case wireFixed64, wireFixed32:
		size := 8
		if s.wt == wireFixed32 {
			size = 4
		}
		if len(b)-off < size {
			return span{}, formatErr(base+off, "fixed-width value runs past its message")
		}
		s.val, s.end = off, off+size
		if size == 4 {
			s.num = uint64(binary.LittleEndian.Uint32(b[off:]))
		} else {
			s.num = binary.LittleEndian.Uint64(b[off:])
		}
	case wireBytes:
		l, n := binary.Uvarint(b[off:])
		if n <= 0 {
			return span{}, formatErr(base+off, "bad length")
		}
		off += n
		if l > uint64(len(b)-off) {
			return span{}, formatErr(base+off, fmt.Sprintf("field %d claims %d bytes but only %d remain in its message", s.field, l, len(b)-off))
		}
		s.val, s.end = off, off+int(l)
	case wireGroup:
		end, err := skipGroup(b, off, base, s.field, 1)
		if err != nil {
			return span{}, err
		}
		s.val, s.end = off, end
	default:
		return span{}, formatErr(base+start, fmt.Sprintf("field %d has wire type %d", s.field, s.wt))
	}
	return s, nil
}

// skipGroup returns the offset after the end-group tag that closes field's group.
func skipGroup(b []byte, off, base, field, depth int) (int, error) {
	if depth > maxDepth {
		return 0, formatErr(base+off, "groups nested too deep")
	}
	for off < len(b) {
		tag, n := binary.Uvarint(b[off:])
		if n <= 0 {
			return 0, formatErr(base+off, "bad field tag")
		}
		if tag&7 == wireEndGrp {
			if int(tag>>3) != field {
				return 0, formatErr(base+off, "mismatched end-group tag")
			}
			return off + n, nil
		}
		s, err := next(b, off, base)
		if err != nil {
			return 0, err
		}
		off = s.end
	}
	return 0, formatErr(base+off, "group is not closed")
}

// FormatError is a model file this package cannot parse.
type FormatError struct {
	Offset int
	Reason string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("not an ONNX ModelProto: %s (byte offset %d)", e.Reason, e.Offset)
}

func formatErr(off int, reason string) error { return &FormatError{Offset: off, Reason: reason} }

// ints reads a repeated int64 field occurrence, packed or not.
func ints(b []byte, s span) ([]int64, error) {
	switch s.wt {
	case wireVarint:
		return []int64{int64(s.num)}, nil
	case wireBytes:
		p := s.payload(b)
		var out []int64
		for len(p) > 0 {
			v, n := binary.Uvarint(p)
			if n <= 0 {
				return nil, formatErr(s.val, "bad packed varint")
			}
			out = append(out, int64(v))
			p = p[n:]
		}
		return out, nil
	}
	return nil, formatErr(s.start, fmt.Sprintf("int field %d has wire type %d", s.field, s.wt))
}

// encoder appends protobuf wire format to a buffer. Repeated scalars are written unpacked, as
// proto2 (which onnx.proto is) writes them by default.
type encoder struct{ b []byte }

func (e *encoder) tag(field, wt int) { e.b = binary.AppendUvarint(e.b, uint64(field)<<3|uint64(wt)) }

func (e *encoder) varint(field int, v int64) {
	e.tag(field, wireVarint)
	e.b = binary.AppendUvarint(e.b, uint64(v))
}

func (e *encoder) bytes(field int, p []byte) {
	e.tag(field, wireBytes)
	e.b = binary.AppendUvarint(e.b, uint64(len(p)))
	e.b = append(e.b, p...)
}

func (e *encoder) str(field int, s string) { e.bytes(field, []byte(s)) }

func (e *encoder) float(field int, f float32) {
	e.tag(field, wireFixed32)
	e.b = binary.LittleEndian.AppendUint32(e.b, math.Float32bits(f))
}

// msg writes an embedded message built by fn.
func (e *encoder) msg(field int, fn func(*encoder)) {
	var sub encoder
	fn(&sub)
	e.bytes(field, sub.b)
}
