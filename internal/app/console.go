package app

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/olekukonko/tablewriter"

	"github.com/cvgate/cvgate/report"
)

// consoleWidth bounds a summary cell so that a row fits a terminal line.
const consoleWidth = 90

// writeConsole prints the results as a terminal table (one row per check: model, check, status,
// result), for a person at a terminal; pipes and CI logs get the markdown report instead.
func writeConsole(w io.Writer, r *report.Report) error {
	t := tablewriter.NewWriter(w)
	t.Header("model", "check", "status", "result")
	for _, tg := range r.Targets {
		for _, res := range tg.Results {
			if err := t.Append(consoleCell(tg.Name, 40), res.ID, strings.ToUpper(string(res.Status)), consoleCell(res.Summary, consoleWidth)); err != nil {
				return err
			}
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s\n", consoleCell(r.Gate.Headline(), 200))
	return err
}

// consoleCell makes text from input safe for a terminal (control characters, including escape
// sequences that could rewrite the screen, become spaces) and short.
func consoleCell(s string, width int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, s)
	if rs := []rune(s); len(rs) > width {
		s = string(rs[:width-1]) + "…"
	}
	return s
}
