package stats_test

import (
	"fmt"

	"github.com/cvgate/cvgate/internal/stats"
)

// A candidate and a baseline scored on the same images: 2 images only the candidate gets right,
// 8 only the baseline. Is the baseline really better?
func ExampleMcNemarExact() {
	candidate := []bool{true, true, false, false, false, false, false, false, false, false, true, true}
	baseline := []bool{false, false, true, true, true, true, true, true, true, true, true, true}
	t, err := stats.NewPairedTable(candidate, baseline)
	if err != nil {
		panic(err)
	}
	exact, _ := stats.McNemarExact(t.AOnly, t.BOnly)
	midP, _ := stats.McNemarMidP(t.AOnly, t.BOnly)
	fmt.Printf("b=%d c=%d exact p=%.4f mid-p=%.4f\n", t.AOnly, t.BOnly, exact, midP)
	// Output: b=2 c=8 exact p=0.1094 mid-p=0.0654
}

// Newcombe's (1998) first example: 81 successes in 263 trials.
func ExampleWilsonInterval() {
	iv, _ := stats.WilsonInterval(81, 263, 0.95)
	fmt.Printf("%.4f [%.4f, %.4f]\n", iv.Estimate, iv.Lo, iv.Hi)
	// Output: 0.3080 [0.2553, 0.3662]
}

// How many paired images does it take to detect a one-point accuracy drop when 10% of images
// are discordant, at alpha 0.05 with 80% power?
func ExampleMcNemarSampleSize() {
	n, _ := stats.McNemarSampleSize(0.10, 0.01, 0.05, 0.80)
	fmt.Println(n)
	// Output: 7847
}
