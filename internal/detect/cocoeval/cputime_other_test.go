//go:build !unix

package cocoeval

import "time"

// cpuTime is unavailable here; benchmarks then report a CPU time of zero.
func cpuTime() time.Duration { return 0 }
