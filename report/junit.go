package report

import (
	"encoding/xml"
	"fmt"
	"io"
)

// JUnit writes JUnit XML (junit.xml) for CI systems other than GitHub: one test suite per target,
// one test case per check. Warnings pass, with the summary in system-out, because JUnit has no
// warning state.
type JUnit struct{}

var _ Writer = JUnit{}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

// Write implements Writer.
func (JUnit) Write(w io.Writer, r *Report) error {
	// encoding/xml escapes markup; sanitized removes control characters (which XML 1.0 cannot
	// carry), direction overrides and unbounded strings from input.
	r = sanitized(r)
	out := junitSuites{Name: "cvgate", Time: seconds(r.Run.Counters.TotalSeconds)}
	for _, t := range r.Targets {
		s := junitSuite{Name: t.Name}
		var total float64
		for _, res := range t.Results {
			c := junitCase{Name: res.ID, Classname: "cvgate." + t.Name, Time: seconds(res.DurationSeconds)}
			total += res.DurationSeconds
			body := res.Summary
			if res.Threshold != "" {
				body += "\nthreshold: " + res.Threshold
			}
			if res.VsBaseline != "" {
				body += "\nvs baseline: " + res.VsBaseline
			}
			switch res.Status {
			case StatusFail:
				c.Failure = &junitMessage{Message: res.Summary, Type: "fail", Body: body}
				s.Failures++
			case StatusError:
				c.Error = &junitMessage{Message: res.Error, Type: "error", Body: body}
				s.Errors++
			case StatusSkip:
				c.Skipped = &junitMessage{Message: res.Error}
				s.Skipped++
			case StatusWarn:
				c.SystemOut = "WARN: " + body
			default:
				c.SystemOut = body
			}
			s.Cases = append(s.Cases, c)
			s.Tests++
		}
		s.Time = seconds(total)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Errors += s.Errors
		out.Skipped += s.Skipped
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit xml: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("encode junit xml: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }
