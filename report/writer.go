package report

import (
	"fmt"
	"io"
	"strings"
)

// Writer renders a Report to w. Writers only format: every number and verdict is already in r.
type Writer interface {
	Write(w io.Writer, r *Report) error
}

// Format names an output format.
type Format string

// The output formats.
const (
	FormatMarkdown  Format = "markdown"
	FormatJSON      Format = "json"
	FormatJUnit     Format = "junit"
	FormatHTML      Format = "html"
	FormatBadgeJSON Format = "badge-json"
	FormatBadgeSVG  Format = "badge-svg"
)

// Formats lists every format with its default file name in the output folder.
func Formats() []FormatFile {
	return []FormatFile{
		{FormatJSON, "report.json"},
		{FormatMarkdown, "report.md"},
		{FormatJUnit, "junit.xml"},
		{FormatHTML, "report.html"},
		{FormatBadgeJSON, "badge.json"},
		{FormatBadgeSVG, "badge.svg"},
	}
}

// FormatFile pairs a format with its default file name.
type FormatFile struct {
	Format Format
	File   string
}

// ParseFormat validates a format name.
func ParseFormat(s string) (Format, error) {
	var names []string
	for _, f := range Formats() {
		if string(f.Format) == s {
			return f.Format, nil
		}
		names = append(names, string(f.Format))
	}
	return "", fmt.Errorf("unknown output format %q: allowed values are %s", s, strings.Join(names, ", "))
}

// StatusIcon is the emoji shown beside a status in markdown.
func StatusIcon(s Status) string {
	switch s {
	case StatusPass:
		return "✅"
	case StatusWarn:
		return "⚠️"
	case StatusFail:
		return "❌"
	case StatusError:
		return "💥"
	case StatusSkip:
		return "⏭️"
	}
	return "❔"
}
