package onnx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// PassTimeoutError says that one forward pass ran past the model's own limit (Options.PassTimeout),
// as a model with a Loop of 10^15 iterations does. It wraps context.DeadlineExceeded.
type PassTimeoutError struct {
	Limit time.Duration
}

func (e *PassTimeoutError) Error() string {
	return fmt.Sprintf("a forward pass did not finish within runtime.pass_timeout (%s) and was stopped", e.Limit)
}

func (e *PassTimeoutError) Unwrap() error { return context.DeadlineExceeded }

// runUnder runs one ONNX Runtime call so that it stops when ctx is done or limit (if positive)
// has passed. ONNX Runtime never looks at a Go context: a running session only stops when its
// RunOptions' terminate flag is set, which it checks between kernels and inside control flow
// (Loop, If, Scan) at each iteration. A watcher sets that flag; the call then returns an error,
// which runUnder replaces by the reason it was stopped. Every forward pass goes through here, so
// a new Run path (several outputs, IO binding) gets the same deadline by calling it.
func runUnder(ctx context.Context, limit time.Duration, run func(*ort.RunOptions) error) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	var timedOut *PassTimeoutError
	if limit > 0 {
		timedOut = &PassTimeoutError{Limit: limit}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, limit, timedOut)
		defer cancel()
	}
	opts, err := ort.NewRunOptions()
	if err != nil {
		return fmt.Errorf("create run options: %w", err)
	}
	// The watcher may still be inside Terminate when run returns; the lock keeps Destroy from
	// freeing the options under it.
	var mu sync.Mutex
	destroyed := false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !destroyed {
			_ = opts.Terminate()
		}
	})
	runErr := run(opts)
	stop()
	mu.Lock()
	destroyed = true
	opts.Destroy()
	mu.Unlock()
	if ctx.Err() != nil {
		// Whatever ONNX Runtime said ("Exiting due to terminate flag"), the reason is ctx's.
		cause := context.Cause(ctx)
		if errors.As(cause, &timedOut) {
			return timedOut
		}
		return cause
	}
	return runErr
}
