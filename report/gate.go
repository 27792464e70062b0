package report

import (
	"fmt"
	"strings"
)

// FailOn is the gate policy: the least severe status that fails the gate.
type FailOn string

// The gate policies.
const (
	FailOnFail  FailOn = "fail"  // fail and error fail the gate (the default)
	FailOnWarn  FailOn = "warn"  // warn, fail and error fail the gate (strict, e.g. releases)
	FailOnNever FailOn = "never" // report only; the exit code is 0 whenever cvgate ran
)

// FailOnValues lists the allowed policies.
func FailOnValues() []FailOn { return []FailOn{FailOnFail, FailOnWarn, FailOnNever} }

// Set implements flag.Value.
func (f *FailOn) Set(s string) error {
	for _, v := range FailOnValues() {
		if FailOn(s) == v {
			*f = v
			return nil
		}
	}
	return fmt.Errorf("invalid fail-on %q: allowed values are %s", s, joinFailOn())
}

// String implements flag.Value.
func (f *FailOn) String() string { return string(*f) }

// UnmarshalText lets YAML and JSON decoding validate the value.
func (f *FailOn) UnmarshalText(b []byte) error { return f.Set(string(b)) }

func joinFailOn() string {
	var s []string
	for _, v := range FailOnValues() {
		s = append(s, string(v))
	}
	return strings.Join(s, ", ")
}

// ApplyGate computes every target's verdict and the run's gate from the results, under the policy.
// It is the only place where a verdict is decided; writers read r.Gate.
func ApplyGate(r *Report, policy FailOn) {
	g := Gate{FailOn: policy, Verdict: StatusPass}
	for ti := range r.Targets {
		t := &r.Targets[ti]
		t.Verdict = StatusPass
		for _, res := range t.Results {
			switch res.Status {
			case StatusPass:
				g.Passed++
			case StatusWarn:
				g.Warned++
			case StatusFail:
				g.Failed++
			case StatusError:
				g.Failed++
				g.Errored++
			case StatusSkip:
				g.Skipped++
			}
			t.Verdict = verdictOf(t.Verdict, res.Status)
		}
		g.Verdict = verdictOf(g.Verdict, t.Verdict)
	}
	switch policy {
	case FailOnWarn:
		g.ExitFailed = g.Verdict.Severity() >= StatusWarn.Severity()
	case FailOnNever:
		g.ExitFailed = false
	default:
		g.ExitFailed = g.Verdict.Severity() >= StatusFail.Severity()
	}
	r.Gate = g
}

// verdictOf folds one status into a running verdict. Skips never change it: a skipped check is
// reported, and counted, but does not make a run pass or fail. A check that could not run (error)
// fails the verdict: a gate must never pass on a check it could not evaluate.
func verdictOf(current, s Status) Status {
	switch s {
	case StatusSkip:
		return current
	case StatusError:
		s = StatusFail
	}
	return Worst(current, s)
}

// Headline is the one-line verdict used by every writer, e.g. "FAIL: 5 passed, 1 warned, 2 failed".
func (g Gate) Headline() string {
	parts := []string{fmt.Sprintf("%d passed", g.Passed)}
	if g.Warned > 0 {
		parts = append(parts, fmt.Sprintf("%d warned", g.Warned))
	}
	if g.Failed > 0 {
		failed := fmt.Sprintf("%d failed", g.Failed)
		if g.Errored > 0 {
			failed += fmt.Sprintf(" (%d could not run)", g.Errored)
		}
		parts = append(parts, failed)
	}
	if g.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", g.Skipped))
	}
	return strings.ToUpper(string(g.Verdict)) + ": " + strings.Join(parts, ", ")
}
