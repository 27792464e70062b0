package audit

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Canonical returns the canonical JSON encoding of v: the form that Hash and the log hash.
//
// The rules follow RFC 8785 (JSON Canonicalization Scheme): no insignificant whitespace; object
// keys sorted by their UTF-16 code units; strings escaped minimally (only '"', '\\' and control
// characters, with \b \t \n \f \r or lower-case \u00xx) and otherwise written as UTF-8; numbers in
// ECMAScript's Number-to-String layout (1e+21, 0.000001, 1e-7, 4.5). One deliberate difference:
// numbers keep their exact decimal digits instead of being rounded to a float64, so that 64-bit
// integers (seeds, byte counts, nanosecond times) are never altered. For every number that
// encoding/json writes from a float64, the result equals RFC 8785's.
//
// Input that is ambiguous or not I-JSON is refused: duplicate object keys, invalid UTF-8, lone
// surrogate escapes. A json.RawMessage is canonicalized as is; any other value is first encoded
// with encoding/json.
func Canonical(v any) ([]byte, error) {
	var data []byte
	switch v := v.(type) {
	case json.RawMessage:
		data = v
	case Record:
		return slices.Clone(v.canonicalBytes()), nil
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("encode %T as JSON: %w", v, err)
		}
	}
	out, _, err := canonicalize(data, nil)
	return out, err
}

// maxNesting bounds arrays and objects inside each other, against stack exhaustion.
const maxNesting = 1000

// member is one key/value pair of an object, as canonical bytes.
type member struct {
	key   string
	value []byte
}

// canonicalize parses data as one JSON value and appends its canonical form to out. When the
// value is an object, its members are returned too (sorted), with values pointing into out.
func canonicalize(data, out []byte) ([]byte, []member, error) {
	c := canonicalizer{in: data, out: out}
	c.space()
	var members []member
	var err error
	if c.pos < len(c.in) && c.in[c.pos] == '{' {
		members, err = c.object(0)
	} else {
		err = c.value(0)
	}
	if err != nil {
		return nil, nil, err
	}
	c.space()
	if c.pos != len(c.in) {
		return nil, nil, c.errorf("unexpected data after the JSON value")
	}
	return c.out, members, nil
}

// SyntaxError is JSON that cannot be canonicalized; Offset is the byte offset in the input.
type SyntaxError struct {
	Offset int
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("canonicalize JSON: %s at byte offset %d", e.Reason, e.Offset)
}

type canonicalizer struct {
	in  []byte
	pos int
	out []byte
}

func (c *canonicalizer) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: c.pos, Reason: fmt.Sprintf(format, args...)}
}

func (c *canonicalizer) space() {
	for c.pos < len(c.in) {
		switch c.in[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

func (c *canonicalizer) value(depth int) error {
	if c.pos >= len(c.in) {
		return c.errorf("unexpected end of JSON")
	}
	switch b := c.in[c.pos]; {
	case b == '{':
		_, err := c.object(depth)
		return err
	case b == '[':
		return c.array(depth)
	case b == '"':
		s, err := c.string()
		if err != nil {
			return err
		}
		c.out = appendString(c.out, s)
		return nil
	case b == '-' || ('0' <= b && b <= '9'):
		return c.number()
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(c.in)-c.pos >= len(lit) && string(c.in[c.pos:c.pos+len(lit)]) == lit {
			c.pos += len(lit)
			c.out = append(c.out, lit...)
			return nil
		}
	}
	return c.errorf("invalid character %q looking for a JSON value", c.in[c.pos])
}

func (c *canonicalizer) array(depth int) error {
	if depth >= maxNesting {
		return c.errorf("arrays and objects nested deeper than %d", maxNesting)
	}
	c.pos++ // '['
	c.out = append(c.out, '[')
	c.space()
	if c.pos < len(c.in) && c.in[c.pos] == ']' {
		c.pos++
		c.out = append(c.out, ']')
		return nil
	}
	for {
		c.space()
		if err := c.value(depth + 1); err != nil {
			return err
		}
		c.space()
		if c.pos >= len(c.in) {
			return c.errorf("unexpected end of JSON inside an array")
		}
		switch c.in[c.pos] {
		case ',':
			c.pos++
			c.out = append(c.out, ',')
		case ']':
			c.pos++
			c.out = append(c.out, ']')
			return nil
		default:
			return c.errorf("invalid character %q after an array element", c.in[c.pos])
		}
	}
}

// object writes the members' values in input order, then rewrites them sorted by key.
func (c *canonicalizer) object(depth int) ([]member, error) {
	if depth >= maxNesting {
		return nil, c.errorf("arrays and objects nested deeper than %d", maxNesting)
	}
	c.pos++ // '{'
	start := len(c.out)
	type span struct {
		key       string
		from, to  int // the value's canonical bytes, in c.out
		keyOffset int
	}
	var spans []span
	c.space()
	if c.pos < len(c.in) && c.in[c.pos] == '}' {
		c.pos++
		c.out = append(c.out, "{}"...)
		return []member{}, nil
	}
	for {
		c.space()
		if c.pos >= len(c.in) || c.in[c.pos] != '"' {
			return nil, c.errorf("object key must be a string")
		}
		keyOffset := c.pos
		key, err := c.string()
		if err != nil {
			return nil, err
		}
		c.space()
		if c.pos >= len(c.in) || c.in[c.pos] != ':' {
			return nil, c.errorf("missing ':' after object key")
		}
		c.pos++
		c.space()
		from := len(c.out)
		if err := c.value(depth + 1); err != nil {
			return nil, err
		}
		spans = append(spans, span{key: key, from: from, to: len(c.out), keyOffset: keyOffset})
		c.space()
		if c.pos >= len(c.in) {
			return nil, c.errorf("unexpected end of JSON inside an object")
		}
		if c.in[c.pos] == ',' {
			c.pos++
			continue
		}
		if c.in[c.pos] != '}' {
			return nil, c.errorf("invalid character %q after an object value", c.in[c.pos])
		}
		c.pos++
		break
	}
	slices.SortStableFunc(spans, func(a, b span) int { return compareUTF16(a.key, b.key) })
	for i := 1; i < len(spans); i++ {
		if spans[i].key == spans[i-1].key {
			return nil, &SyntaxError{Offset: max(spans[i].keyOffset, spans[i-1].keyOffset), Reason: fmt.Sprintf("duplicate object key %q", spans[i].key)}
		}
	}
	values := slices.Clone(c.out[start:])
	c.out = append(c.out[:start], '{')
	members := make([]member, len(spans))
	for i, s := range spans {
		if i > 0 {
			c.out = append(c.out, ',')
		}
		c.out = appendString(c.out, s.key)
		c.out = append(c.out, ':')
		from := len(c.out)
		c.out = append(c.out, values[s.from-start:s.to-start]...)
		members[i] = member{key: s.key, value: c.out[from:len(c.out):len(c.out)]}
	}
	c.out = append(c.out, '}')
	return members, nil
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785 sorts keys. It differs from
// byte (UTF-8) order only where a rune above U+FFFF, which UTF-16 writes as a surrogate pair
// starting 0xD800-0xDBFF, meets a rune in U+E000-U+FFFF.
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			return cmp.Compare(utf16Order(ra), utf16Order(rb))
		}
		a, b = a[na:], b[nb:]
	}
	return cmp.Compare(len(a), len(b))
}

// utf16Order maps a rune to a key that sorts like its UTF-16 encoding: the first code unit, then
// the rune itself (within one high surrogate, the low surrogate orders like the rune).
func utf16Order(r rune) int64 {
	if r < 0x10000 {
		return int64(r) << 21
	}
	hi, _ := utf16.EncodeRune(r)
	return int64(hi)<<21 | int64(r)
}

// string parses a JSON string literal, resolving escapes.
func (c *canonicalizer) string() (string, error) {
	c.pos++ // opening quote
	// Fast path: most strings have no escapes and are ASCII; they cost one allocation.
	end := c.pos
	for end < len(c.in) && c.in[end] != '"' && c.in[end] != '\\' && c.in[end] >= 0x20 && c.in[end] < utf8.RuneSelf {
		end++
	}
	if end < len(c.in) && c.in[end] == '"' {
		s := string(c.in[c.pos:end])
		c.pos = end + 1
		return s, nil
	}
	var b strings.Builder
	for {
		runStart := c.pos
		for c.pos < len(c.in) && c.in[c.pos] != '"' && c.in[c.pos] != '\\' && c.in[c.pos] >= 0x20 && c.in[c.pos] < utf8.RuneSelf {
			c.pos++
		}
		b.Write(c.in[runStart:c.pos])
		if c.pos >= len(c.in) {
			return "", c.errorf("unterminated string")
		}
		switch ch := c.in[c.pos]; {
		case ch == '"':
			c.pos++
			return b.String(), nil
		case ch < 0x20:
			return "", c.errorf("control character %#02x inside a string", ch)
		case ch >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(c.in[c.pos:])
			if r == utf8.RuneError && size <= 1 {
				return "", c.errorf("invalid UTF-8 inside a string")
			}
			b.Write(c.in[c.pos : c.pos+size])
			c.pos += size
		default: // backslash
			r, err := c.escape()
			if err != nil {
				return "", err
			}
			b.WriteRune(r)
		}
	}
}

// escape parses one backslash escape, joining UTF-16 surrogate pairs.
func (c *canonicalizer) escape() (rune, error) {
	if c.pos+1 >= len(c.in) {
		return 0, c.errorf("unterminated escape")
	}
	c.pos += 2
	switch c.in[c.pos-1] {
	case '"':
		return '"', nil
	case '\\':
		return '\\', nil
	case '/':
		return '/', nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := c.hex4()
		if err != nil {
			return 0, err
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		if r < 0xdc00 && c.pos+1 < len(c.in) && c.in[c.pos] == '\\' && c.in[c.pos+1] == 'u' {
			c.pos += 2
			lo, err := c.hex4()
			if err != nil {
				return 0, err
			}
			if joined := utf16.DecodeRune(r, lo); joined != utf8.RuneError {
				return joined, nil
			}
		}
		return 0, c.errorf("lone UTF-16 surrogate \\u%04x", r)
	}
	c.pos--
	return 0, c.errorf("invalid escape character %q", c.in[c.pos])
}

func (c *canonicalizer) hex4() (rune, error) {
	if c.pos+4 > len(c.in) {
		return 0, c.errorf("short \\u escape")
	}
	v, err := strconv.ParseUint(string(c.in[c.pos:c.pos+4]), 16, 16)
	if err != nil {
		return 0, c.errorf("invalid \\u escape %q", c.in[c.pos:c.pos+4])
	}
	c.pos += 4
	return rune(v), nil
}

// maxExponentDigits bounds a number's exponent (|e| < 10^9), far beyond any real value, so that
// exponent arithmetic cannot overflow.
const maxExponentDigits = 9

// number validates a JSON number and writes it canonically: its exact decimal value laid out as
// ECMAScript's Number::toString lays out a double with the same digits.
func (c *canonicalizer) number() error {
	start := c.pos
	negative := c.in[c.pos] == '-'
	if negative {
		c.pos++
	}
	intStart := c.pos
	switch {
	case c.pos < len(c.in) && c.in[c.pos] == '0':
		c.pos++
	case c.pos < len(c.in) && '1' <= c.in[c.pos] && c.in[c.pos] <= '9':
		c.skipDigits()
	default:
		return c.errorf("invalid number")
	}
	intDigits := c.in[intStart:c.pos]
	var fracDigits []byte
	if c.pos < len(c.in) && c.in[c.pos] == '.' {
		c.pos++
		fracStart := c.pos
		if c.skipDigits() == 0 {
			return c.errorf("number has no digits after '.'")
		}
		fracDigits = c.in[fracStart:c.pos]
	}
	exp := int64(0)
	if c.pos < len(c.in) && (c.in[c.pos] == 'e' || c.in[c.pos] == 'E') {
		c.pos++
		expNegative := false
		if c.pos < len(c.in) && (c.in[c.pos] == '+' || c.in[c.pos] == '-') {
			expNegative = c.in[c.pos] == '-'
			c.pos++
		}
		expStart := c.pos
		if c.skipDigits() == 0 {
			return c.errorf("number has no exponent digits")
		}
		expDigits := strings.TrimLeft(string(c.in[expStart:c.pos]), "0")
		if len(expDigits) > maxExponentDigits {
			c.pos = start
			return c.errorf("number exponent out of range")
		}
		if expDigits != "" {
			exp, _ = strconv.ParseInt(expDigits, 10, 64) // at most 9 digits: cannot fail
		}
		if expNegative {
			exp = -exp
		}
	}
	c.out = appendNumber(c.out, negative, intDigits, fracDigits, exp)
	return nil
}

func (c *canonicalizer) skipDigits() int {
	start := c.pos
	for c.pos < len(c.in) && '0' <= c.in[c.pos] && c.in[c.pos] <= '9' {
		c.pos++
	}
	return c.pos - start
}

// appendNumber writes the value (-)intDigits.fracDigits × 10^exp canonically.
func appendNumber(out []byte, negative bool, intDigits, fracDigits []byte, exp int64) []byte {
	// The value is digits × 10^e with digits an integer without leading or trailing zeros.
	digits := make([]byte, 0, len(intDigits)+len(fracDigits))
	digits = append(append(digits, intDigits...), fracDigits...)
	e := exp - int64(len(fracDigits))
	i := 0
	for i < len(digits) && digits[i] == '0' {
		i++
	}
	digits = digits[i:]
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		e++
	}
	if len(digits) == 0 {
		return append(out, '0') // also for -0, as RFC 8785 requires
	}
	if negative {
		out = append(out, '-')
	}
	// ECMAScript's names: k digits, and the value is 0.digits × 10^n.
	k := int64(len(digits))
	n := k + e
	switch {
	case k <= n && n <= 21:
		out = append(out, digits...)
		for range n - k {
			out = append(out, '0')
		}
	case 0 < n && n <= 21:
		out = append(out, digits[:n]...)
		out = append(out, '.')
		out = append(out, digits[n:]...)
	case -6 < n && n <= 0:
		out = append(out, "0."...)
		for range -n {
			out = append(out, '0')
		}
		out = append(out, digits...)
	default:
		out = append(out, digits[0])
		if k > 1 {
			out = append(out, '.')
			out = append(out, digits[1:]...)
		}
		out = append(out, 'e')
		if n-1 >= 0 {
			out = append(out, '+')
		}
		out = strconv.AppendInt(out, n-1, 10)
	}
	return out
}

// appendString writes s as a canonical JSON string literal.
func appendString(out []byte, s string) []byte {
	const hex = "0123456789abcdef"
	out = append(out, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 0x20 && ch != '"' && ch != '\\' {
			continue
		}
		out = append(out, s[start:i]...)
		switch ch {
		case '"', '\\':
			out = append(out, '\\', ch)
		case '\b':
			out = append(out, '\\', 'b')
		case '\t':
			out = append(out, '\\', 't')
		case '\n':
			out = append(out, '\\', 'n')
		case '\f':
			out = append(out, '\\', 'f')
		case '\r':
			out = append(out, '\\', 'r')
		default:
			out = append(out, '\\', 'u', '0', '0', hex[ch>>4], hex[ch&0xf])
		}
		start = i + 1
	}
	out = append(out, s[start:]...)
	return append(out, '"')
}
