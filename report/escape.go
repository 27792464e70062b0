package report

import (
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Every string in a Report may come from input: file and folder names, labels, tensor names,
// ONNX metadata, config values, and in `cvgate publish` the whole report.json of an untrusted
// run. This file is the one place that makes such strings safe for the writers:
//
//   - cleanText, for every writer: valid UTF-8, no control characters, the characters that
//     reverse the direction text is shown in replaced by U+FFFD, and a length cap;
//   - the markdown contexts, built on it: inline text (HTML-escaped, markdown punctuation that
//     could make links, images, tables, headings or math escaped, @mentions and #123 references
//     broken by a zero-width joiner, autolinks broken), code spans and code blocks whose fences
//     the content cannot close, text inside an HTML block (<summary>), and mermaid labels.
//
// Check code writes a little markup of its own around values ("`path`", "**weak**"). Inline
// text keeps exactly that: a pair of backticks becomes a code span (its content escaped for
// code) and "**" stays. A value that contains backticks can only move text in or out of a code
// span, and both sides are escaped, so no split of the string can inject anything.

// Length caps, in runes, per kind of string. Over the cap a string is cut and ends with "…".
const (
	maxNameRunes  = 256  // target names, paths, check ids, tensor names
	maxCellRunes  = 400  // one table cell
	maxTextRunes  = 4000 // one paragraph of details
	maxBlockRunes = 8000 // an error message in a code block
	maxLabelRunes = 80   // a chart label
	maxAnyRunes   = 1 << 16
)

// zwj breaks what GitHub would otherwise link: "@team" pings, "#12" references, autolinks.
const zwj = "\u200d"

// cleanText makes s valid UTF-8 without control characters (a tab or line break becomes a
// space when oneLine, and line breaks are kept as "\n" otherwise), replaces bidirectional
// overrides and isolates by U+FFFD, and cuts it at max runes.
func cleanText(s string, max int, oneLine bool) string {
	if isPlain(s) && len(s) <= max {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if n == max {
			b.WriteString("…")
			break
		}
		switch {
		case r == '\r':
			if i < len(s) && s[i] == '\n' {
				continue // CRLF: the LF counts
			}
			r = '\n'
		}
		switch {
		case r == '\n' || r == 0x2028 || r == 0x2029 || r == 0x85:
			if oneLine {
				b.WriteByte(' ')
			} else {
				b.WriteByte('\n')
			}
		case r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			continue
		case isBidi(r):
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
		n++
	}
	return b.String()
}

// isPlain: printable ASCII only, the common case, so cleanText can return it as it is.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

func isBidi(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}

// mdContext is where in a markdown document a string is written.
type mdContext int

const (
	ctxCell mdContext = iota // a GFM table cell
	ctxPara                  // a paragraph (or a list item, a heading)
	ctxHTML                  // inside an HTML block, where markdown is not parsed (<summary>)
)

// mdCell renders s as one table cell.
func mdCell(s string) string {
	out := mdInline(cleanText(s, maxCellRunes, true), ctxCell)
	if out == "" {
		return " "
	}
	return out
}

// mdText renders s as inline text of one paragraph (line breaks become spaces).
func mdText(s string) string { return mdInline(cleanText(s, maxTextRunes, true), ctxPara) }

// mdTitle renders a short title (a section title, a chart's series name).
func mdTitle(s string) string { return mdInline(cleanText(s, maxNameRunes, true), ctxPara) }

// mdHTML renders s inside an HTML block: entities for markup, <code> for code spans.
func mdHTML(s string) string { return mdInline(cleanText(s, maxCellRunes, true), ctxHTML) }

// mdParagraphs renders multi-paragraph text: paragraphs stay apart (a blank line), lines within
// one are joined, and nothing can start a heading, a list, a quote or a code block.
func mdParagraphs(s string) string {
	s = cleanText(s, maxTextRunes, false)
	var out []string
	for _, p := range strings.Split(s, "\n\n") {
		p = strings.TrimSpace(strings.ReplaceAll(p, "\n", " "))
		if p == "" {
			continue
		}
		out = append(out, mdInline(p, ctxPara))
	}
	return strings.Join(out, "\n\n")
}

// mdCode renders s as one code span, with a fence longer than any run of backticks in it.
func mdCode(s string) string {
	s = cleanText(s, maxNameRunes, true)
	if s == "" {
		return "` `"
	}
	run, longest := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	s = breakLegacyCommand(s)
	fence := strings.Repeat("`", longest+1)
	if s[0] == '`' || s[len(s)-1] == '`' || s[0] == ' ' && s[len(s)-1] == ' ' {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdCodeBlock renders s as a fenced code block whose fence no line of s can close.
func mdCodeBlock(s string) string {
	s = cleanText(s, maxBlockRunes, false)
	run, longest := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	lines := strings.Split(strings.TrimRight(breakLegacyCommand(s), "\n"), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimLeftFunc(l, unicode.IsSpace), "::") {
			lines[i] = zwj + l
		}
	}
	return fence + "\n" + strings.Join(lines, "\n") + "\n" + fence
}

// breakLegacyCommand puts a zero-width joiner into every "##[" of code (where entities are not
// decoded), so that a report printed to a GitHub Actions log cannot carry the runner's legacy
// command form. The joiner is invisible where the code is shown.
func breakLegacyCommand(s string) string {
	if !strings.Contains(s, "##[") {
		return s
	}
	return strings.ReplaceAll(s, "##[", "##"+zwj+"[")
}

// mdInline renders clean one-line text in a context: pairs of backticks become code spans,
// "**" stays (bold), everything else is escaped text. Text between two pieces of markup is
// escaped as one run, and an empty code span (which shows nothing) does not end the run: the
// escaper must see "#" and "12" side by side across an empty span between them, as GitHub will.
func mdInline(s string, ctx mdContext) string {
	var b, text strings.Builder
	b.Grow(len(s) + len(s)/8)
	flush := func() {
		if text.Len() > 0 {
			writeText(&b, text.String(), ctx, b.Len() == 0)
			text.Reset()
		}
	}
	bold := strings.Count(s, "**")%2 == 0 // unpaired "**" is written as text in HTML
	open := false                         // an HTML <b> is open
	for len(s) > 0 {
		switch {
		case s[0] == '`':
			if end := strings.IndexByte(s[1:], '`'); end > 0 {
				flush()
				writeCode(&b, s[1:1+end], ctx)
				s = s[end+2:]
				continue
			} else if end == 0 {
				s = s[2:] // an empty span: nothing to show
				continue
			}
			flush()
			b.WriteString("&#96;")
			s = s[1:]
		case strings.HasPrefix(s, "**"):
			flush()
			switch {
			case ctx != ctxHTML:
				if b.Len() == 0 && ctx == ctxPara {
					b.WriteString("&#42;*") // "**" cannot start a list item, but a lone "*" could
				} else {
					b.WriteString("**")
				}
			case bold && !open:
				b.WriteString("<b>")
				open = true
			case bold && open:
				b.WriteString("</b>")
				open = false
			default:
				b.WriteString("&#42;&#42;")
			}
			s = s[2:]
		default:
			n := textRun(s)
			text.WriteString(s[:n])
			s = s[n:]
		}
	}
	flush()
	if open {
		b.WriteString("</b>")
	}
	return b.String()
}

// textRun is the length of the text before the next backtick or "**".
func textRun(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '`' || s[i] == '*' && i+1 < len(s) && s[i+1] == '*' {
			if i == 0 {
				return 1
			}
			return i
		}
	}
	return len(s)
}

func writeCode(b *strings.Builder, code string, ctx mdContext) {
	switch ctx {
	case ctxHTML:
		b.WriteString("<code>")
		writeEntities(b, code)
		b.WriteString("</code>")
	case ctxCell:
		// GFM splits a row at "|" before it parses code spans, and takes "\|" for a pipe.
		b.WriteByte('`')
		b.WriteString(strings.ReplaceAll(breakLegacyCommand(code), "|", `\|`))
		b.WriteByte('`')
	default:
		b.WriteByte('`')
		b.WriteString(breakLegacyCommand(code))
		b.WriteByte('`')
	}
}

// writeEntities HTML-escapes &, < and > (for <code> in an HTML block).
func writeEntities(b *strings.Builder, s string) {
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteRune(r)
		}
	}
}

// writeText escapes text for markdown (and for HTML: the entities work in both).
func writeText(b *strings.Builder, s string, ctx mdContext, atStart bool) {
	if atStart && ctx == ctxPara {
		// A paragraph must not become a heading, list, quote, rule or indented code.
		s = strings.TrimLeft(s, " ")
		if n := blockMarker(s); n > 0 {
			for _, c := range []byte(s[:n]) {
				b.WriteString("&#")
				b.WriteString(itoa(int(c)))
				b.WriteByte(';')
			}
			// The entity renders as the character itself, so "&#35;12" is still a reference
			// GitHub would link: break it as the loop below breaks "#12".
			if s[n-1] == '#' && n < len(s) && s[n] >= '0' && s[n] <= '9' {
				b.WriteString(zwj)
			}
			s = s[n:]
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			if ctx == ctxHTML {
				b.WriteString("&quot;")
			} else {
				b.WriteByte(c)
			}
		case '|':
			b.WriteString("&#124;")
		case '\\':
			b.WriteString("&#92;")
		case ']':
			// "](" and "][" make links and images; a bracket alone is text. (A reference
			// definition, "[x]: url", needs a line start: blockMarker covers it.)
			if i+1 < len(s) && (s[i+1] == '(' || s[i+1] == '[') {
				b.WriteString("&#93;")
			} else {
				b.WriteByte(c)
			}
		case '$':
			b.WriteString("&#36;") // GitHub renders $...$ as math
		case '`':
			b.WriteString("&#96;")
		case '@':
			b.WriteString("@" + zwj)
		case '#':
			if strings.HasPrefix(s[i:], "##[") {
				b.WriteString("&#35;") // the runner's legacy command form, were this printed to a log
				continue
			}
			b.WriteByte(c)
			if i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
				b.WriteString(zwj) // #123: a reference that would notify the issue
			}
		case ':':
			b.WriteByte(c)
			if strings.HasPrefix(s[i+1:], "//") {
				b.WriteString(zwj) // https://...: no autolink
			}
		case '-':
			b.WriteByte(c)
			if i >= 2 && (s[i-2] == 'G' || s[i-2] == 'g') && (s[i-1] == 'H' || s[i-1] == 'h') && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
				b.WriteString(zwj) // GH-123
			}
		case '.':
			if i >= 3 && strings.EqualFold(s[i-3:i], "www") {
				b.WriteString(zwj) // www.example.com: no autolink
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
}

// blockMarker is the length of a prefix of s that would open a markdown block: "#", ">", "-",
// "+", "*", "=", "_", "~", "|", ":" (a workflow command, were the text printed to a log), "["
// (a link reference definition), "!", or digits followed by "." or ")". 0 when there is none.
func blockMarker(s string) int {
	if s == "" {
		return 0
	}
	switch s[0] {
	case '#', '>', '-', '+', '*', '=', '_', '~', '|', ':', '[', '!':
		return 1
	}
	i := 0
	for i < len(s) && i < 10 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i < len(s) && (s[i] == '.' || s[i] == ')') {
		return i + 1
	}
	return 0
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return string(buf[i:])
}

// mermaidLabel makes s safe inside a quoted mermaid label: no quotes, backticks (which could end
// the code block), angle brackets (mermaid labels may carry HTML) or entity syntax.
func mermaidLabel(s string) string {
	s = cleanText(s, maxLabelRunes, true)
	return strings.NewReplacer(`"`, "'", "`", "'", "<", "‹", ">", "›", "#", "＃", ";", ",", "&", "+", `\`, "/", "{", "(", "}", ")").Replace(s)
}

// MarkdownText, MarkdownCode and MarkdownCodeBlock are the neutralizer for markdown that
// callers outside report write around a Report (a comment for a run that could not start, an
// issue body): inline text, one code span, one fenced block.
func MarkdownText(s string) string { return mdText(s) }

// MarkdownCode renders s as one code span that s cannot close.
func MarkdownCode(s string) string { return mdCode(s) }

// MarkdownCodeBlock renders s as a fenced code block that no line of s can close.
func MarkdownCodeBlock(s string) string { return mdCodeBlock(s) }

// sanitized returns a deep copy of r with cleanText applied to every string (map keys too), for
// the writers whose format escapes markup itself (HTML, JUnit XML, badges) but not control
// characters, direction overrides or length. It walks the types by reflection, so a field
// added to the Report later is covered without anyone remembering to.
func sanitized(r *Report) *Report {
	if r == nil {
		return nil
	}
	v := cleanValue(reflect.ValueOf(r).Elem())
	out := v.Interface().(Report)
	return &out
}

func cleanValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		c := reflect.New(v.Type()).Elem()
		c.SetString(cleanText(v.String(), maxAnyRunes, false))
		return c
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		for i := 0; i < v.NumField(); i++ {
			if c.Field(i).CanSet() {
				c.Field(i).Set(cleanValue(v.Field(i)))
			}
		}
		return c
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(cleanValue(v.Elem()))
		return c
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			c.Index(i).Set(cleanValue(v.Index(i)))
		}
		return c
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			c.SetMapIndex(cleanValue(it.Key()), cleanValue(it.Value()))
		}
		return c
	}
	return v
}
