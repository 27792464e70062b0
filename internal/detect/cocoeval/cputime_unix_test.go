//go:build unix

package cocoeval

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used. Benchmarks report it per operation beside the
// wall time: on a shared machine wall time includes waiting for a core, CPU time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
