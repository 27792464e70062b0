// Package progress reports how a long run advances on stderr: a redrawn bar when stderr is a
// terminal, plain log lines (at most one every few seconds per phase) otherwise, so CI logs stay
// readable.
//
// Phase names and logged values may come from input (a check id from a crafted config, a file
// name), and on GitHub Actions stderr is read for workflow commands: the reporter writes through
// a wfcmd.Writer and passes every name and argument through wfcmd.Text.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/cvgate/cvgate/internal/github/wfcmd"
)

// Reporter implements checks.Progress.
type Reporter struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	now      func() time.Time
	every    time.Duration

	name      string
	total     int
	done      int
	started   time.Time
	lastPrint time.Time
	stop      chan struct{} // ends the current phase's heartbeat
}

// heartbeat is how often a log checks whether a phase has been silent for the reporting
// interval: a check that reports no progress of its own (an attack, a sweep) still gets a line
// every few seconds.
const heartbeat = time.Second

// New returns a reporter writing to w; terminal selects the redrawn bar. now may be nil.
func New(w io.Writer, terminal bool, now func() time.Time) *Reporter {
	if now == nil {
		now = time.Now
	}
	return &Reporter{w: wfcmd.NewWriter(w), terminal: terminal, now: now, every: 5 * time.Second}
}

// Start begins a phase.
func (r *Reporter) Start(name string, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.name, r.total, r.done = wfcmd.Text(name), total, 0
	r.started, r.lastPrint = r.now(), r.now()
	if r.terminal {
		r.draw()
		return
	}
	r.stopHeartbeat()
	stop := make(chan struct{})
	r.stop = stop
	go func() {
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r.Tick()
			}
		}
	}()
}

// Tick prints a line for the current phase when nothing was printed for the reporting interval
// (logs only). The heartbeat calls it every second.
func (r *Reporter) Tick() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.terminal || r.name == "" {
		return
	}
	now := r.now()
	if now.Sub(r.lastPrint) < r.every {
		return
	}
	r.lastPrint = now
	elapsed := now.Sub(r.started).Seconds()
	switch {
	case r.total > 0:
		fmt.Fprintf(r.w, "cvgate: %s %d/%d (%.0f s)\n", r.name, min(r.done, r.total), r.total, elapsed)
	case r.done > 0:
		fmt.Fprintf(r.w, "cvgate: %s %d done (%.0f s)\n", r.name, r.done, elapsed)
	default:
		fmt.Fprintf(r.w, "cvgate: %s running (%.0f s)\n", r.name, elapsed)
	}
}

func (r *Reporter) stopHeartbeat() {
	if r.stop != nil {
		close(r.stop)
		r.stop = nil
	}
}

// SetTotal changes the current phase's expected work.
func (r *Reporter) SetTotal(total int) {
	r.mu.Lock()
	r.total = total
	r.mu.Unlock()
}

// Add records progress.
func (r *Reporter) Add(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done += n
	now := r.now()
	if r.terminal {
		if now.Sub(r.lastPrint) >= 100*time.Millisecond {
			r.lastPrint = now
			r.draw()
		}
		return
	}
	if now.Sub(r.lastPrint) >= r.every {
		r.lastPrint = now
		if r.total > 0 {
			fmt.Fprintf(r.w, "cvgate: %s %d/%d\n", r.name, min(r.done, r.total), r.total)
		} else {
			fmt.Fprintf(r.w, "cvgate: %s %d images predicted\n", r.name, r.done)
		}
	}
}

// Done ends the phase.
func (r *Reporter) Done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopHeartbeat()
	elapsed := r.now().Sub(r.started).Seconds()
	defer func() { r.name = "" }()
	if r.terminal {
		fmt.Fprintf(r.w, "\r\033[K✓ %s (%.1fs)\n", r.name, elapsed)
		return
	}
	// In logs, only phases long enough to wonder about get a line.
	if elapsed >= 1 {
		fmt.Fprintf(r.w, "cvgate: %s done in %.1fs\n", r.name, elapsed)
	}
}

func (r *Reporter) draw() {
	const width = 30
	if r.total > 0 {
		frac := min(float64(r.done)/float64(r.total), 1)
		full := int(frac * width)
		fmt.Fprintf(r.w, "\r\033[K%-28s [%s%s] %3.0f%%", r.name, strings.Repeat("█", full), strings.Repeat("░", width-full), 100*frac)
		return
	}
	spin := `|/-\`[r.done/64%4]
	fmt.Fprintf(r.w, "\r\033[K%-28s %c %d images predicted", r.name, spin, r.done)
}

// Log prints a line, clearing a bar first.
func (r *Reporter) Log(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.terminal {
		fmt.Fprint(r.w, "\r\033[K")
	}
	fmt.Fprintln(r.w, "cvgate: "+wfcmd.Sprintf(format, args...))
}
