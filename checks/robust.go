package checks

import (
	"context"
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/perturb"
	"github.com/cvgate/cvgate/internal/task"
	"github.com/cvgate/cvgate/report"
)

// Check IDs of the robustness family (robust.adversarial lives in its own file).
const (
	IDRobustCorruptions = "robust.corruptions"
	IDRobustInvariance  = "robust.invariance"
	IDRobustAbnormal    = "robust.abnormal"
)

// sampleOrder returns the images (only the labelled ones when labelledOnly is set) in a seeded
// order whose every prefix is a proportionally stratified sample by label, unlabelled images
// forming a stratum of their own: image k of a stratum of m images (in shuffled order) gets the
// key (k+u)/m, u a random phase per stratum, and the images are sorted by key. A prefix of n
// images then holds n*m/N images of each stratum, give or take one, so sampling more images
// only ever adds to what a smaller sample saw, and a sequential check can grow its sample
// without redrawing it.
func sampleOrder(labels []int, labelledOnly bool, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, 0x726f627573745f31)) // "robust_1"
	groups := map[int][]int{}
	var keys []int
	for i, y := range labels {
		if y < 0 {
			if labelledOnly {
				continue
			}
			y = -1
		}
		if _, ok := groups[y]; !ok {
			keys = append(keys, y)
		}
		groups[y] = append(groups[y], i)
	}
	sort.Ints(keys) // map order must not reach the random stream
	type keyed struct {
		item  int
		label int
		key   float64
	}
	var all []keyed
	for _, y := range keys {
		g := groups[y]
		rng.Shuffle(len(g), func(a, b int) { g[a], g[b] = g[b], g[a] })
		phase := rng.Float64()
		for k, item := range g {
			all = append(all, keyed{item: item, label: y, key: (float64(k) + phase) / float64(len(g))})
		}
	}
	sort.Slice(all, func(a, b int) bool {
		if all[a].key != all[b].key {
			return all[a].key < all[b].key
		}
		return all[a].label < all[b].label
	})
	out := make([]int, len(all))
	for i, k := range all {
		out[i] = k.item
	}
	return out
}

// itemLabels lists the label of every dataset item (-1 when unlabelled).
func (e *Env) itemLabels() []int {
	out := make([]int, len(e.Data.Items))
	for i, it := range e.Data.Items {
		out[i] = it.Label
		if e.Data.Classes == nil {
			out[i] = -1
		}
	}
	return out
}

// imageSeed derives the seed of one image's random draws from the run's seed and the image's
// index (splitmix64 finalizer). It deliberately leaves out the severity, so that the five
// severities of an image share their draws and damage grows with severity instead of being
// redrawn; perturb gives every corruption its own stream, so the name is not needed either.
func imageSeed(seed uint64, item int) uint64 {
	return mix64(seed ^ mix64(uint64(item)+0x9e3779b97f4a7c15))
}

func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// corruptor hands out perturb.Corruptors to the transform goroutines of Env.run: a Corruptor is
// not safe for concurrent use, and keeping them pooled keeps their kernels and tables warm.
type corruptor struct {
	// seedOf is each item's seed (Env.itemSeed).
	seedOf  func(seed uint64, item int) uint64
	pool    sync.Pool
	errOnce sync.Once
	err     error
}

func newCorruptor(e *Env) *corruptor {
	return &corruptor{seedOf: e.itemSeed, pool: sync.Pool{New: func() any { return perturb.NewCorruptor() }}}
}

// transform returns the Variant transform for one corruption and severity.
func (c *corruptor) transform(name string, severity int, seed uint64) func(int, *imaging.Image) *imaging.Image {
	return func(i int, img *imaging.Image) *imaging.Image {
		out, err := c.apply(img, name, severity, c.seedOf(seed, i))
		if err != nil {
			c.errOnce.Do(func() { c.err = err })
			return nil
		}
		return out
	}
}

func (c *corruptor) apply(img *imaging.Image, name string, severity int, seed uint64) (*imaging.Image, error) {
	k := c.pool.Get().(*perturb.Corruptor)
	defer c.pool.Put(k)
	dst := &imaging.Image{}
	if err := k.Apply(dst, img, name, severity, seed); err != nil {
		return nil, err
	}
	return dst, nil
}

// pendingCase is a failure case whose image is built only if the case is exported: perturbed
// images are streamed through the models, never stored, and rebuilding one is deterministic.
type pendingCase struct {
	c     failures.Case
	build func() *imaging.Image // the image as the model saw it, before preprocessing
}

// keepWorst orders pending cases as the exporter will (most severe first, ties by path, then
// perturbation) and keeps the n worst. Checks call it while collecting, to bound memory.
func keepWorst(ps []pendingCase, n int) []pendingCase {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i].c, ps[j].c
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Perturbation < b.Perturbation
	})
	if len(ps) > n {
		ps = ps[:n]
	}
	return ps
}

// exportPending builds the images of the cases the exporter will keep and exports them.
func (e *Env) exportPending(res *report.Result, check string, ps []pendingCase, total int) {
	limit := e.exportLimit()
	if limit == 0 || len(ps) == 0 {
		return
	}
	var cases []failures.Case
	for _, p := range keepWorst(ps, limit) {
		img := p.build()
		if img == nil {
			continue
		}
		c := p.c
		c.Image = e.Candidate.Spec.View(img)
		cases = append(cases, c)
	}
	e.export(res, check, cases, total)
}

// streamJob is one variant of a multi-variant stream: images and the transform they go through.
type streamJob struct {
	indices   []int
	transform func(int, *imaging.Image) *imaging.Image
	// record describes the transform to per-image records (Variant.Record).
	record string
	// top and conf receive, per model, the top-1 class and its probability of every image.
	top  [][]int32
	conf [][]float32
	// preds receive, per model, the decoded prediction of every image (tasks other than
	// classification).
	preds [][]task.Prediction
}

// stream runs several variants through every model as one pipeline (see Env.predictJobs and Env.pipelineFor), keeping
// only each image's top-1 class and confidence. Outputs are read as the clean pass decided (logits
// or probabilities), so the clean pass must have run. Nothing is memoized.
func (e *Env) stream(ctx context.Context, jobs []*streamJob, workers int) error {
	subjects := e.Subjects()
	batches := make([]batchJob, len(jobs))
	for ji, j := range jobs {
		batches[ji] = batchJob{indices: j.indices, transform: j.transform, record: j.record}
		j.top = make([][]int32, len(subjects))
		j.conf = make([][]float32, len(subjects))
		for si := range subjects {
			j.top[si] = make([]int32, len(j.indices))
			j.conf[si] = make([]float32, len(j.indices))
		}
	}
	return e.predictJobs(ctx, batches, workers, func(job, start, _, si int, out batchOut) error {
		if out.preds != nil {
			if jobs[job].preds == nil {
				jobs[job].preds = make([][]task.Prediction, len(subjects))
			}
			if jobs[job].preds[si] == nil {
				jobs[job].preds[si] = make([]task.Prediction, len(jobs[job].indices))
			}
			copy(jobs[job].preds[si][start:], out.preds)
			return nil
		}
		raw, width := out.raw, out.width
		top, conf := argmax(onnx.ToProbabilities(raw, width, subjects[si].OutputKind()), width)
		copy(jobs[job].top[si][start:], top)
		copy(jobs[job].conf[si][start:], conf)
		return nil
	})
}
