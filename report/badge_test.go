package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/testutil/golden"
	"github.com/cvgate/cvgate/report"
)

func TestBadgeGolden(t *testing.T) {
	r := fixture(t)
	t.Run("svg", func(t *testing.T) { golden.Assert(t, ".svg", render(t, report.BadgeSVG{}, r)) })
	t.Run("json", func(t *testing.T) { golden.Assert(t, ".json", render(t, report.BadgeJSON{}, r)) })
}

// gateReport builds a report whose gate has the given counts.
func gateReport(verdict report.Status, passed, warned, failed, skipped int) *report.Report {
	return &report.Report{Gate: report.Gate{Verdict: verdict, Passed: passed, Warned: warned, Failed: failed, Skipped: skipped}}
}

type shield struct {
	SchemaVersion int    `json:"schemaVersion"`
	Label         string `json:"label"`
	Message       string `json:"message"`
	Color         string `json:"color"`
}

func TestBadgeMessageAndColour(t *testing.T) {
	tests := []struct {
		name    string
		r       *report.Report
		label   string
		message string
		color   string
		fill    string
	}{
		{"all passed", gateReport(report.StatusPass, 5, 0, 0, 2), "cvgate", "5/5 passed", "brightgreen", "#4c1"},
		{"a warning", gateReport(report.StatusWarn, 4, 1, 0, 0), "cvgate", "4/5 passed", "yellow", "#dfb317"},
		{"a failure", gateReport(report.StatusFail, 3, 1, 2, 0), "cvgate", "3/6 passed", "red", "#e05d44"},
		{"only skips", gateReport(report.StatusPass, 0, 0, 0, 4), "cvgate", "no checks", "lightgrey", "#9f9f9f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got shield
			if err := json.Unmarshal(render(t, report.BadgeJSON{}, tt.r), &got); err != nil {
				t.Fatal(err)
			}
			want := shield{SchemaVersion: 1, Label: tt.label, Message: tt.message, Color: tt.color}
			if got != want {
				t.Errorf("badge.json = %+v, want %+v", got, want)
			}
			svg := string(render(t, report.BadgeSVG{}, tt.r))
			if !strings.Contains(svg, `fill="`+tt.fill+`"`) || !strings.Contains(svg, ">"+tt.message+"</text>") {
				t.Errorf("badge.svg lacks fill %s or message %q:\n%s", tt.fill, tt.message, svg)
			}
		})
	}
}

// svgDoc is the part of the SVG the checks below read.
type svgDoc struct {
	XMLName xml.Name `xml:"svg"`
	Width   float64  `xml:"width,attr"`
	Title   string   `xml:"title"`
	Rects   []struct {
		X     float64 `xml:"x,attr"`
		Width float64 `xml:"width,attr"`
	} `xml:"g>rect"`
	Texts []struct {
		X          float64 `xml:"x,attr"`
		TextLength float64 `xml:"textLength,attr"`
		Value      string  `xml:",chardata"`
	} `xml:"g>text"`
}

func parseSVG(t *testing.T, data []byte) svgDoc {
	t.Helper()
	// Every token must parse: a badge is served as image/svg+xml, and browsers refuse bad XML.
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("badge.svg is not well-formed XML: %v\n%s", err, data)
		}
	}
	var doc svgDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestBadgeSVGGeometry(t *testing.T) {
	short := parseSVG(t, render(t, report.BadgeSVG{}, gateReport(report.StatusPass, 1, 0, 0, 0)))
	long := parseSVG(t, render(t, report.BadgeSVG{}, gateReport(report.StatusFail, 120, 0, 1000, 0)))
	if long.Width <= short.Width {
		t.Errorf("a longer message must make a wider badge: %g <= %g", long.Width, short.Width)
	}
	for name, doc := range map[string]svgDoc{"short": short, "long": long} {
		if len(doc.Rects) < 2 || len(doc.Texts) != 4 {
			t.Fatalf("%s: want 2 boxes and 4 texts, got %d and %d", name, len(doc.Rects), len(doc.Texts))
		}
		labelBox, msgBox := doc.Rects[0], doc.Rects[1]
		if labelBox.Width+msgBox.Width != doc.Width || msgBox.X != labelBox.Width {
			t.Errorf("%s: boxes %+v %+v do not tile the badge width %g", name, labelBox, msgBox, doc.Width)
		}
		// Each text is centred in its box and leaves padding on both sides.
		for i, box := range []struct{ x, w float64 }{{0, labelBox.Width}, {msgBox.X, msgBox.Width}} {
			txt := doc.Texts[2*i+1]
			if txt.X != box.x+box.w/2 {
				t.Errorf("%s: text %q at x=%g, not centred in [%g, %g]", name, txt.Value, txt.X, box.x, box.x+box.w)
			}
			if txt.TextLength <= 0 || txt.TextLength >= box.w {
				t.Errorf("%s: text %q is %g wide in a %g box", name, txt.Value, txt.TextLength, box.w)
			}
		}
	}
	// Digits are wider than "i" in Verdana: the estimate must see it.
	if a, b := textLen(t, "1/1 passed"), textLen(t, "1/1 iiiiii"); a <= b {
		t.Errorf("width estimate: %q (%g) should be wider than %q (%g)", "1/1 passed", a, "1/1 iiiiii", b)
	}
}

// textLen is the estimated width of a label through the SVG writer.
func textLen(t *testing.T, label string) float64 {
	t.Helper()
	doc := parseSVG(t, render(t, report.BadgeSVG{Label: label}, gateReport(report.StatusPass, 1, 0, 0, 0)))
	return doc.Texts[0].TextLength
}

func TestBadgeEscapes(t *testing.T) {
	label := `<models & "friends">`
	data := render(t, report.BadgeSVG{Label: label}, gateReport(report.StatusPass, 2, 0, 0, 0))
	doc := parseSVG(t, data)
	if doc.Texts[1].Value != label || doc.Title != label+": 2/2 passed" {
		t.Errorf("label does not survive escaping: text %q, title %q", doc.Texts[1].Value, doc.Title)
	}
	var got shield
	if err := json.Unmarshal(render(t, report.BadgeJSON{Label: label}, gateReport(report.StatusPass, 2, 0, 0, 0)), &got); err != nil || got.Label != label {
		t.Errorf("badge.json label = %q (%v), want %q", got.Label, err, label)
	}
}
