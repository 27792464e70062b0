package stats

import (
	"math"
	"testing"
)

// TestClopperPearsonInterval compares with beta quantiles solved in mpmath
// (testdata/clopper_pearson.json).
func TestClopperPearsonInterval(t *testing.T) {
	var cases []struct {
		K, N          int
		Level, Lo, Hi float64
	}
	loadReference(t, "clopper_pearson.json", &cases)
	if len(cases) == 0 {
		t.Fatal("no reference cases")
	}
	for _, c := range cases {
		iv, err := ClopperPearsonInterval(c.K, c.N, c.Level)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, "lo", iv.Lo, c.Lo, 1e-12)
		assertNear(t, "hi", iv.Hi, c.Hi, 1e-12)
	}
	// 0 of n: the upper end is 1 - (alpha/2)^(1/n) (about 3.7/n at 95%, two-sided).
	iv, _ := ClopperPearsonInterval(0, 300, 0.95)
	assertNear(t, "0 of 300", iv.Hi, 1-math.Pow(0.025, 1.0/300), 1e-12)
	_, err := ClopperPearsonInterval(0, 0, 0.95)
	assertErr(t, err, ErrEmpty, "0 trials")
	_, err = ClopperPearsonInterval(4, 3, 0.95)
	assertErr(t, err, ErrInvalidArgument, "4 successes")
	_, err = ClopperPearsonInterval(1, 3, 0)
	assertErr(t, err, ErrInvalidArgument, "level")
}
