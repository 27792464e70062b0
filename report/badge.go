package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
)

// DefaultBadgeLabel is the left half of every badge.
const DefaultBadgeLabel = "cvgate"

// BadgeJSON writes a shields.io endpoint badge (badge.json): served from any https host other than
// github.com (a branch through raw.githubusercontent.com, a gist), shields.io draws it.
type BadgeJSON struct {
	Label string // default DefaultBadgeLabel
}

// BadgeSVG writes a self-contained flat badge (badge.svg) with the same text and colour as
// BadgeJSON, for places that cannot reach shields.io.
type BadgeSVG struct {
	Label string // default DefaultBadgeLabel
}

var (
	_ Writer = BadgeJSON{}
	_ Writer = BadgeSVG{}
)

// badge is what both badge writers show.
type badge struct {
	label   string
	message string // e.g. "5/5 passed"
	color   string // shields.io colour name
	hex     string // the same colour for the SVG
}

// Badge colours: shields.io's named colours and the hex values it draws them with.
var badgeColors = map[Status][2]string{
	StatusPass: {"brightgreen", "#4c1"},
	StatusWarn: {"yellow", "#dfb317"},
	StatusFail: {"red", "#e05d44"},
}

// badgeOf reads the gate: the message counts the checks that passed among those that ran (skips
// are not counted), the colour is the verdict's.
func badgeOf(r *Report, label string) badge {
	// The label comes from config, which a pull request may change.
	label = cleanText(label, maxLabelRunes, true)
	if label == "" {
		label = DefaultBadgeLabel
	}
	g := r.Gate
	ran := g.Passed + g.Warned + g.Failed
	if ran == 0 {
		return badge{label: label, message: "no checks", color: "lightgrey", hex: "#9f9f9f"}
	}
	c, ok := badgeColors[g.Verdict]
	if !ok {
		c = badgeColors[StatusFail]
	}
	return badge{label: label, message: fmt.Sprintf("%d/%d passed", g.Passed, ran), color: c[0], hex: c[1]}
}

// Write implements Writer.
func (b BadgeJSON) Write(w io.Writer, r *Report) error {
	bd := badgeOf(r, b.Label)
	out, err := json.Marshal(struct {
		SchemaVersion int    `json:"schemaVersion"`
		Label         string `json:"label"`
		Message       string `json:"message"`
		Color         string `json:"color"`
	}{1, bd.label, bd.message, bd.color})
	if err != nil {
		return fmt.Errorf("encode badge json: %w", err)
	}
	_, err = w.Write(append(out, '\n'))
	return err
}

// Badge geometry, in pixels, as the usual flat badges: 20 high, 5 of padding each side of a text.
const (
	badgeHeight  = 20
	badgePadding = 5
)

// Write implements Writer.
func (b BadgeSVG) Write(w io.Writer, r *Report) error {
	bd := badgeOf(r, b.Label)
	lt, mt := textWidth(bd.label), textWidth(bd.message)
	lw, mw := lt+2*badgePadding, mt+2*badgePadding
	total := lw + mw
	label, message, title := xmlText(bd.label), xmlText(bd.message), xmlText(bd.label+": "+bd.message)

	var buf bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&buf, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%d" role="img" aria-label="%s">`+"\n", num(total), badgeHeight, title)
	p("<title>%s</title>\n", title)
	p(`<linearGradient id="s" x2="0" y2="100%%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>` + "\n")
	p(`<clipPath id="r"><rect width="%s" height="%d" rx="3" fill="#fff"/></clipPath>`+"\n", num(total), badgeHeight)
	p(`<g clip-path="url(#r)"><rect width="%s" height="%d" fill="#555"/><rect x="%s" width="%s" height="%d" fill="%s"/><rect width="%s" height="%d" fill="url(#s)"/></g>`+"\n",
		num(lw), badgeHeight, num(lw), num(mw), badgeHeight, bd.hex, num(total), badgeHeight)
	p(`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">` + "\n")
	// textLength pins each text to the width the boxes were sized for, whatever font the viewer
	// has; the darker copy one pixel lower is the usual shadow.
	for _, t := range []struct {
		x, width float64
		text     string
	}{{lw / 2, lt, label}, {lw + mw/2, mt, message}} {
		p(`<text x="%s" y="15" fill="#010101" fill-opacity=".3" textLength="%s">%s</text>`+"\n", num(t.x), num(t.width), t.text)
		p(`<text x="%s" y="14" textLength="%s">%s</text>`+"\n", num(t.x), num(t.width), t.text)
	}
	p("</g>\n</svg>\n")
	_, err := w.Write(buf.Bytes())
	return err
}

// textWidth estimates the width of s in 11 px Verdana, the badge font, from per-character advance
// widths grouped by shape (measured widths of Verdana at 11 px, rounded to 0.5 px). An estimate is
// enough: textLength makes the rendered text fit the box exactly.
func textWidth(s string) float64 {
	w := 0.0
	for _, r := range s {
		w += runeWidth(r)
	}
	return w
}

func runeWidth(r rune) float64 {
	switch {
	case r == ' ':
		return 3.5
	case r == 'i' || r == 'l' || r == 'j' || r == '.' || r == ',' || r == ':' || r == ';' || r == '|' || r == '!' || r == '\'':
		return 3.5
	case r == 'f' || r == 't' || r == 'r' || r == 'I' || r == '(' || r == ')' || r == '[' || r == ']' || r == '/' || r == '-':
		return 4.5
	case r == 'm':
		return 10.5
	case r == 'w':
		return 9
	case r == 'M' || r == 'W' || r == '%' || r == '@':
		return 11
	case r >= '0' && r <= '9':
		return 7
	case r >= 'a' && r <= 'z':
		return 6.5
	case r >= 'A' && r <= 'Z':
		return 7.5
	case r < 0x80:
		return 7
	}
	// Wider scripts and symbols: err on the wide side so text never overflows its box.
	return 11
}

// num formats a coordinate with at most one decimal.
func num(x float64) string {
	s := fmt.Sprintf("%.1f", x)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		return s[:len(s)-2]
	}
	return s
}

func xmlText(s string) string {
	var buf bytes.Buffer
	_ = xml.EscapeText(&buf, []byte(s)) // writes to a buffer: cannot fail
	return buf.String()
}
