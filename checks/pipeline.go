package checks

import (
	"context"
	"fmt"
	"sync"

	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/preprocess"
	"github.com/cvgate/cvgate/internal/task"
)

// batchJob is a list of dataset images to predict, each optionally transformed first.
type batchJob struct {
	indices   []int
	transform func(int, *imaging.Image) *imaging.Image
	// record describes the transform to per-image records (Variant.Record); "" is not cached.
	record string
}

// batchSink receives one subject's outputs for n images of a job, starting at position start.
type batchSink func(job, start, n, subject int, out batchOut) error

// batchOut is one subject's answer to one batch: raw class-score rows for classifiers, decoded
// predictions for the other tasks (their subjects have a Decoder).
type batchOut struct {
	raw   []float32 // n rows of width values
	width int
	preds []task.Prediction // n predictions
}

// pipelineFor runs jobs through the given subjects (sink's subject indexes them). Worker goroutines prepare the batches of all jobs in
// order (transform, then preprocessing for every model; a tensor shared by models with the same
// preprocessing is made once) while a single loop feeds ONNX Runtime one batch after another, so
// inference never waits for preprocessing and a sweep of many small jobs never idles at a job
// boundary. Running jobs concurrently instead would make sessions fight for the same cores. At most
// workers+2 batches are held at once; nothing is kept but what sink copies.
func (e *Env) pipelineFor(ctx context.Context, subjects []*Subject, jobs []batchJob, workers int, sink batchSink) error {
	// Chunks of up to 32 images, fewer when the models' input buffers of every chunk in flight
	// (workers+3 of them, per model) would exceed the memory budget; never below a model's fixed
	// batch.
	size := 32
	for _, s := range subjects {
		elem := int64(4)
		if s.Spec.DType == onnx.Uint8 {
			elem = 1
		}
		size = min(size, s.Model.Budget.Samples(int64(s.Spec.SampleSize())*elem, (max(workers, 1)+3)*len(subjects), 32))
	}
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
			var out batchOut
			var err error
			if s.Decoder != nil {
				out.preds, err = e.decodeBatch(ctx, s, jobs[p.job].indices[p.start:p.start+p.n], c.f32[si], c.u8[si])
			} else {
				if c.u8[si] != nil {
					out.raw, out.width, err = onnx.Run(ctx, s.Model, c.u8[si], c.n, s.Spec.Dims)
				} else {
					out.raw, out.width, err = onnx.Run(ctx, s.Model, c.f32[si], c.n, s.Spec.Dims)
				}
				if err == nil {
					err = e.checkWidth(s, out.width)
				}
			}
			if err != nil {
				return err
			}
			if err := sink(p.job, p.start, p.n, si, out); err != nil {
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

// decodeBatch runs a prepared batch of dataset items through a subject whose task decodes its
// outputs, and returns one prediction per item. Each image's geometry (its size before
// preprocessing) lets the decoder map boxes and maps back to the image.
func (e *Env) decodeBatch(ctx context.Context, s *Subject, items []int, f32 []float32, u8 []uint8) ([]task.Prediction, error) {
	geoms := make([]preprocess.Geometry, len(items))
	for j, i := range items {
		img := e.Data.Items[i].Image
		geoms[j] = s.Spec.Geometry(img.Width, img.Height)
	}
	return e.decodeTensor(ctx, s, geoms, f32, u8)
}

// decodeTensor runs a ready input tensor (one sample per geometry) and decodes the outputs.
func (e *Env) decodeTensor(ctx context.Context, s *Subject, geoms []preprocess.Geometry, f32 []float32, u8 []uint8) ([]task.Prediction, error) {
	preds := make([]task.Prediction, 0, len(geoms))
	collect := func(start, count int, outs []onnx.Tensor) error {
		got, err := s.Decoder.Decode(outs, count, geoms[start:start+count])
		if err != nil {
			return fmt.Errorf("read the outputs of %q: %w", s.Name, err)
		}
		if len(got) != count {
			return fmt.Errorf("read the outputs of %q: %d predictions for %d images", s.Name, len(got), count)
		}
		preds = append(preds, got...)
		return nil
	}
	var err error
	if u8 != nil {
		err = onnx.RunBatches(ctx, s.Model, u8, len(geoms), s.Spec.Dims, collect)
	} else {
		err = onnx.RunBatches(ctx, s.Model, f32, len(geoms), s.Spec.Dims, collect)
	}
	return preds, err
}
