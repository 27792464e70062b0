package stats

import (
	"math"
	"testing"
)

// TestStudentT compares with scipy.stats.t's CDF and mpmath's quantiles (testdata/student_t.json).
func TestStudentT(t *testing.T) {
	var cases []struct {
		Kind  string
		X, DF float64
		Want  float64
	}
	loadReference(t, "student_t.json", &cases)
	if len(cases) < 100 {
		t.Fatalf("%d reference cases", len(cases))
	}
	for _, c := range cases {
		switch c.Kind {
		case "cdf":
			// Relative precision in both tails: the lower tail directly, the upper through 1-p.
			assertNear(t, "StudentTCDF", StudentTCDF(c.X, c.DF), c.Want, 1e-12)
			if c.Want > 0 && c.Want < 1e-3 && !near(StudentTCDF(c.X, c.DF)/c.Want, 1, 1e-10) {
				t.Errorf("StudentTCDF(%g, %g) = %g, want %g to 10 digits", c.X, c.DF, StudentTCDF(c.X, c.DF), c.Want)
			}
		case "ppf":
			assertNear(t, "StudentTQuantile", StudentTQuantile(c.X, c.DF), c.Want, 1e-12)
		default:
			t.Fatalf("unknown case kind %q", c.Kind)
		}
	}
	// Two textbook values: the 97.5% quantile at 9 and at 19 degrees of freedom.
	assertNear(t, "t(0.975, 9)", StudentTQuantile(0.975, 9), 2.2621571628, 1e-10)
	assertNear(t, "t(0.975, 19)", StudentTQuantile(0.975, 19), 2.0930240544, 1e-10)
	for _, bad := range [][2]float64{{0.5, 0}, {-0.1, 3}, {1.1, 3}, {math.NaN(), 3}} {
		if q := StudentTQuantile(bad[0], bad[1]); !math.IsNaN(q) {
			t.Errorf("StudentTQuantile(%v, %v) = %v, want NaN", bad[0], bad[1], q)
		}
	}
	if q := StudentTQuantile(0, 4); !math.IsInf(q, -1) {
		t.Errorf("StudentTQuantile(0, 4) = %v", q)
	}
	if p := StudentTCDF(1, -1); !math.IsNaN(p) {
		t.Errorf("StudentTCDF with df -1 = %v", p)
	}
}
