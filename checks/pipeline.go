package checks

import (
	"context"
	"fmt"
	"sync"

	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/preprocess"
)

// batchJob is a list of dataset images to predict, each optionally transformed first.
type batchJob struct {
	indices   []int
	transform func(int, *imaging.Image) *imaging.Image
}

// batchSink receives one subject's raw outputs for n images of a job, starting at position start.
type batchSink func(job, start, n, subject int, raw []float32, width int) error

// pipeline runs jobs through every subject. Worker goroutines prepare the batches of all jobs in
// order (transform, then preprocessing for every model; a tensor shared by models with the same
// preprocessing is made once) while a single loop feeds ONNX Runtime one batch after another, so
// inference never waits for preprocessing and a sweep of many small jobs never idles at a job
// boundary. Running jobs concurrently instead would make sessions fight for the same cores. At most
// workers+2 batches are held at once; nothing is kept but what sink copies.
func (e *Env) pipeline(ctx context.Context, jobs []batchJob, workers int, sink batchSink) error {
	subjects := e.Subjects()
	size := 32
	for _, s := range subjects {
		size = max(size, s.Model.Batch)
	}
	type task struct{ job, start, n int }
	var tasks []task
	for ji, j := range jobs {
		for start := 0; start < len(j.indices); start += size {
			tasks = append(tasks, task{ji, start, min(size, len(j.indices)-start)})
		}
	}
	type prepared struct {
		task
		c chunk
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan task)
	ready := make(chan prepared, 2)
	var wg sync.WaitGroup
	for w := 0; w < max(workers, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scratch := make([]preprocess.Scratch, len(subjects))
			for t := range work {
				j := jobs[t.job]
				c := e.prepare(j.indices, t.start, t.n, j.transform, subjects, scratch)
				select {
				case ready <- prepared{t, c}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(work)
		for _, t := range tasks {
			select {
			case work <- t:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(ready) }()

	received := 0
	for p := range ready {
		c := p.c
		if c.err != nil {
			return c.err
		}
		for si, s := range subjects {
			var raw []float32
			var width int
			var err error
			if c.u8[si] != nil {
				raw, width, err = onnx.Run(ctx, s.Model, c.u8[si], c.n, s.Spec.Dims)
			} else {
				raw, width, err = onnx.Run(ctx, s.Model, c.f32[si], c.n, s.Spec.Dims)
			}
			if err != nil {
				return err
			}
			if err := e.checkWidth(s, width); err != nil {
				return err
			}
			if err := sink(p.job, p.start, p.n, si, raw, width); err != nil {
				return err
			}
		}
		e.release(c)
		received++
		if e.Progress != nil {
			e.Progress.Add(c.n * len(subjects))
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if received != len(tasks) {
		return fmt.Errorf("prediction pipeline stopped after %d of %d batches", received, len(tasks))
	}
	return nil
}
