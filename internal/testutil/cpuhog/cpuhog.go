// Package cpuhog puts a bursty CPU load beside a test, like a neighbour job on a shared CI runner,
// in a separate process so that it competes with the test for cores and not for the Go
// scheduler's processors. The hog is bounded in time twice: it stops by itself after its
// duration, and the test's cleanup kills it when the test ends first.
//
// A package that uses it declares the helper test the hog process runs:
//
//	func TestCPUHogHelper(t *testing.T) { cpuhog.Helper(t) }
//
// and calls cpuhog.Start(t, duration, seed) where the load should begin.
package cpuhog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// envVar carries "SECONDS,SEED" to the helper process.
const envVar = "CVGATE_CPU_HOG"

// maxDuration bounds any hog, whatever a caller asks for.
const maxDuration = time.Hour

// Workers is the number of goroutines that burn CPU, one per core of the 2-core runners cvgate is
// sized for.
const Workers = 2

// Start runs the test binary's TestCPUHogHelper as a hog for at most d and returns its process id.
func Start(t testing.TB, d time.Duration, seed uint64) int {
	t.Helper()
	if d <= 0 || d > maxDuration {
		t.Fatalf("cpu hog for %v: want a duration in (0, %v]", d, maxDuration)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+10*time.Second)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCPUHogHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%g,%d", envVar, d.Seconds(), seed))
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start the cpu hog: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		cancel()
	})
	// Let it start burning before the measurement begins.
	time.Sleep(200 * time.Millisecond)
	return cmd.Process.Pid
}

// Helper is the body of TestCPUHogHelper: outside a hog process it skips; inside, Workers
// goroutines burn CPU in bursts of 2 to 60 ms with pauses of 2 to 60 ms (seeded), until the
// duration is over.
func Helper(t *testing.T) {
	spec := os.Getenv(envVar)
	if spec == "" {
		t.Skip("helper process of cpuhog.Start")
	}
	secs, seed, ok := strings.Cut(spec, ",")
	d, err1 := strconv.ParseFloat(secs, 64)
	s, err2 := strconv.ParseUint(seed, 10, 64)
	if !ok || err1 != nil || err2 != nil || d <= 0 || d > maxDuration.Seconds() {
		t.Fatalf("%s=%q: want SECONDS,SEED with 0 < SECONDS <= %v", envVar, spec, maxDuration.Seconds())
	}
	Burn(time.Duration(d*float64(time.Second)), s)
}

// Burn runs the bursty load in this process for d.
func Burn(d time.Duration, seed uint64) {
	end := time.Now().Add(min(d, maxDuration))
	done := make(chan float64)
	for w := range Workers {
		go func() {
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			x := 1.0
			for time.Now().Before(end) {
				stop := time.Now().Add(time.Duration(2+r.IntN(59)) * time.Millisecond)
				for time.Now().Before(stop) {
					for i := range 1000 {
						x = x*1.0000001 + float64(i&1)
					}
				}
				time.Sleep(time.Duration(2+r.IntN(59)) * time.Millisecond)
			}
			done <- x
		}()
	}
	for range Workers {
		<-done
	}
}
