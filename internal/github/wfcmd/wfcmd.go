// Package wfcmd writes GitHub Actions workflow commands and keeps everything else cvgate prints
// from being taken for one.
//
// The runner reads a step's stdout and stderr line by line (a line ends at "\n", "\r" or
// "\r\n") and runs two kinds of commands:
//
//   - a line that, after leading white space, starts with "::" and names a known command
//     ("::set-output name=x::v", "::add-mask::v", "::error file=f::msg", "::stop-commands::t");
//   - the legacy form "##[name k=v;]data" anywhere in a line.
//
// So text that came from input (a file name, a label, a tensor name, a report artifact) must
// never start a line with "::" nor contain "##[", and must not bring its own line breaks.
// Text does that for a piece of free text; Command builds a command with its data and properties
// escaped the way the runner unescapes them; Writer is the last line of defence, applied to a
// whole stream: it neutralizes any line that would be a command, whoever wrote it.
package wfcmd

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxText caps one piece of free text in a log line, in runes: a path or label of a megabyte
// must not flood the log. The rest is replaced by a note of how much was left out.
const MaxText = 2000

// EscapeData escapes a command's data (the part after the second "::") as the runner's
// UnescapeData reverses it: "%" -> "%25", "\r" -> "%0D", "\n" -> "%0A".
func EscapeData(s string) string {
	if !strings.ContainsAny(s, "%\r\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			b.WriteString("%25")
		case '\r':
			b.WriteString("%0D")
		case '\n':
			b.WriteString("%0A")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// EscapeProperty escapes a command property's value as the runner's UnescapeProperty reverses
// it: EscapeData's three, plus ":" -> "%3A" and "," -> "%2C", which end a property.
func EscapeProperty(s string) string {
	s = EscapeData(s)
	if !strings.ContainsAny(s, ":,") {
		return s
	}
	return strings.NewReplacer(":", "%3A", ",", "%2C").Replace(s)
}

// Command formats one workflow command line (without the line break): ::name k=v,k=v::data.
// Property names are sorted, so the line is deterministic. name and the property names are
// cvgate's own identifiers and must be plain ([a-z-]); a caller bug otherwise panics in tests
// rather than writing a malformed command.
func Command(name string, props map[string]string, data string) string {
	mustName(name)
	var b strings.Builder
	b.WriteString("::")
	b.WriteString(name)
	if len(props) > 0 {
		keys := make([]string, 0, len(props))
		for k := range props {
			mustName(k)
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte(' ')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(EscapeProperty(cleanRunes(props[k])))
		}
	}
	b.WriteString("::")
	b.WriteString(EscapeData(cleanRunes(data)))
	return b.String()
}

func mustName(s string) {
	if s == "" {
		panic("wfcmd: empty command or property name")
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			panic(fmt.Sprintf("wfcmd: command or property name %q is not plain", s))
		}
	}
}

// Text makes s safe to print inside a log line: it escapes "%", line breaks, other control
// characters and the bidirectional-override characters (which reorder what a reader sees) as
// %XX of their UTF-8 bytes, escapes the first ":" when s would start a line with "::", and the
// first "#" of every "##[". Invalid UTF-8 becomes U+FFFD and text past MaxText runes is cut with
// a note. The escaping is reversible by percent-decoding, so nothing is hidden from a reader.
func Text(s string) string {
	if plainText(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	cut := 0
	if n := utf8.RuneCountInString(s); n > MaxText {
		i := 0
		for k := range s {
			if i == MaxText {
				cut = len(s) - k
				s = s[:k]
				break
			}
			i++
		}
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	lead := true // still in leading white space
	for i, r := range s {
		switch {
		case r == '%':
			b.WriteString("%25")
		case mustEscapeRune(r):
			writePercent(&b, r)
		case r == ':' && lead && strings.HasPrefix(s[i:], "::"):
			b.WriteString("%3A")
		case r == '#' && strings.HasPrefix(s[i:], "##["):
			b.WriteString("%23")
		default:
			b.WriteRune(r)
		}
		lead = lead && unicode.IsSpace(r) && !mustEscapeRune(r)
	}
	if cut > 0 {
		fmt.Fprintf(&b, "…(%d more bytes)", cut)
	}
	return b.String()
}

// plainText: short printable ASCII with nothing to escape (no "%", no "#", no ":" and no
// leading blank), the common case for paths and labels.
func plainText(s string) bool {
	if len(s) > MaxText || len(s) > 0 && s[0] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '%' || c == '#' || c == ':' {
			return false
		}
	}
	return true
}

// mustEscapeRune: line breaks and other controls (tab excepted), and the characters that change
// the direction text is shown in (Trojan Source, CVE-2021-42574).
func mustEscapeRune(r rune) bool {
	switch {
	case r == '\t':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators: line breaks to some viewers
		return true
	}
	return false
}

func writePercent(b *strings.Builder, r rune) {
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	for _, c := range buf[:n] {
		fmt.Fprintf(b, "%%%02X", c)
	}
}

// cleanRunes replaces invalid UTF-8, and drops NUL, so command fields are well-formed text.
func cleanRunes(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "")
}

// Sprintf formats like fmt.Sprintf with every string, error and fmt.Stringer argument passed
// through Text first: the format is cvgate's own, the arguments may come from input. Use it for
// any log line that carries a path, a name, a label or an error message.
func Sprintf(format string, args ...any) string {
	safe := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			safe[i] = Text(v)
		case error:
			safe[i] = Text(v.Error())
		case fmt.Stringer:
			safe[i] = Text(v.String())
		case []string:
			out := make([]string, len(v))
			for j, s := range v {
				out[j] = Text(s)
			}
			safe[i] = out
		default:
			safe[i] = a
		}
	}
	return fmt.Sprintf(format, safe...)
}
