package cpuhog

import (
	"syscall"
	"testing"
	"time"
)

func TestCPUHogHelper(t *testing.T) { Helper(t) }

// TestBurnStopsByItself: the load ends after its duration, and it does burn CPU meanwhile.
func TestBurnStopsByItself(t *testing.T) {
	start := time.Now()
	Burn(150*time.Millisecond, 1)
	if took := time.Since(start); took < 150*time.Millisecond || took > 2*time.Second {
		t.Errorf("a 150 ms hog ran %v", took)
	}
}

// TestStartIsKilledAtCleanup: a long hog started by a subtest is gone when the subtest ends.
func TestStartIsKilledAtCleanup(t *testing.T) {
	pid := 0
	t.Run("hog", func(t *testing.T) {
		pid = Start(t, time.Minute, 2)
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("hog %d not running: %v", pid, err)
		}
	})
	// Killed and reaped: the process id no longer exists.
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("hog %d after cleanup: %v, want ESRCH", pid, err)
	}
}
