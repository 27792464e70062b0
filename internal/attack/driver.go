package attack

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/cvgate/cvgate/internal/imaging"
)

// request is what one image's attack needs from the oracle before it can go on: n images. The
// driver, not the attack, owns the buffers they are written into, so memory stays bounded by the
// batch size however many samples an attack asks for (HopSkipJump asks for thousands).
type request struct {
	n int
	// fill writes query k (all of dst) into dst. It is called in k order.
	fill func(k int, dst *imaging.Float)
	// take receives query k as sent and the oracle's answer; sent is reused after take returns.
	// It is called in k order, after fill(k).
	take func(k int, sent *imaging.Float, probs []float32)
}

// tally counts one image's queries against its budget; the driver is the only writer of used, so
// Outcome.Queries is what the oracle really received.
type tally struct{ used, limit int }

func (t *tally) left() int { return t.limit - t.used }

// attack is one image's attack written as straight-line code: it yields a request, and when yield
// returns true the answers have been delivered through take. It returns when the image is done
// (yield returning false means the run was stopped; it must then return at once).
type attack = iter.Seq[request]

// errBudget reports an attack that asked for more than its budget: a bug in this package.
var errBudget = errors.New("attack asked for more queries than its budget")

type driver struct {
	oracle   Oracle
	maxBatch int
	imgs     []*imaging.Float
	labels   []int
	tallies  []tally
	pool     map[[3]int][]*imaging.Float
}

// attackAll checks the inputs, builds one attack per image (build fills its Outcome), drives them
// all and records the queries each image spent. name labels errors.
func attackAll(ctx context.Context, name string, o Oracle, imgs []*imaging.Float, labels []int, budget, maxBatch int,
	build func(i int, out *Outcome) attack) ([]Outcome, error) {
	if err := checkInputs(imgs, labels); err != nil {
		return nil, err
	}
	outs := make([]Outcome, len(imgs))
	attacks := make([]attack, len(imgs))
	for i := range imgs {
		attacks[i] = build(i, &outs[i])
	}
	used, err := runAttacks(ctx, o, imgs, labels, budget, maxBatch, attacks)
	if err != nil {
		return nil, fmt.Errorf("run %s attack: %w", name, err)
	}
	for i := range outs {
		outs[i].Queries = used[i]
	}
	return outs, nil
}

// runAttacks drives all attacks in rounds: every round, the pending requests of all unfinished
// attacks go to the oracle together in calls of at most maxBatch images, in image order, then each
// attack resumes. It returns the queries each image spent.
func runAttacks(ctx context.Context, o Oracle, imgs []*imaging.Float, labels []int, budget, maxBatch int,
	attacks []attack) ([]int, error) {
	d := &driver{oracle: o, maxBatch: maxBatch, imgs: imgs, labels: labels,
		tallies: make([]tally, len(imgs)), pool: map[[3]int][]*imaging.Float{}}
	type running struct {
		index   int
		next    func() (request, bool)
		pending request
	}
	var active []*running
	for i, a := range attacks {
		d.tallies[i].limit = budget
		next, stop := iter.Pull(a)
		defer stop()
		if r, ok := next(); ok {
			active = append(active, &running{index: i, next: next, pending: r})
		}
	}
	jobs := make([]job, 0, len(active))
	for len(active) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		jobs = jobs[:0]
		for _, r := range active {
			if r.pending.n <= 0 || r.pending.n > d.tallies[r.index].left() {
				return nil, fmt.Errorf("attack image %d: %w", r.index, errBudget)
			}
			jobs = append(jobs, job{index: r.index, req: r.pending})
		}
		if err := d.round(ctx, jobs); err != nil {
			return nil, err
		}
		kept := active[:0]
		for _, r := range active {
			if req, ok := r.next(); ok {
				r.pending = req
				kept = append(kept, r)
			}
		}
		active = kept
	}
	used := make([]int, len(imgs))
	for i, t := range d.tallies {
		used[i] = t.used
	}
	return used, nil
}

type job struct {
	index int
	req   request
}

// segment is the part [from,to) of one image's request that lands in the current batch at off.
type segment struct {
	index    int
	req      request
	from, to int
	off      int
}

// round sends all jobs' queries in batches of at most maxBatch images.
func (d *driver) round(ctx context.Context, jobs []job) error {
	var segs []segment
	size := 0
	for _, j := range jobs {
		for from := 0; from < j.req.n; {
			take := min(j.req.n-from, d.maxBatch-size)
			segs = append(segs, segment{index: j.index, req: j.req, from: from, to: from + take, off: size})
			from += take
			size += take
			if size == d.maxBatch {
				if err := d.send(ctx, segs, size); err != nil {
					return err
				}
				segs, size = segs[:0], 0
			}
		}
	}
	if size > 0 {
		return d.send(ctx, segs, size)
	}
	return nil
}

// send fills one batch, queries the oracle and hands the answers back.
func (d *driver) send(ctx context.Context, segs []segment, size int) error {
	batch := make([]*imaging.Float, size)
	used := map[[3]int]int{}
	values := 0
	for _, s := range segs {
		m := d.imgs[s.index]
		shape := [3]int{m.Width, m.Height, m.Channels}
		for k := s.from; k < s.to; k++ {
			free := d.pool[shape]
			n := used[shape]
			if n == len(free) {
				free = append(free, imaging.NewFloat(m.Width, m.Height, m.Channels))
				d.pool[shape] = free
			}
			batch[s.off+k-s.from] = free[n]
			used[shape] = n + 1
		}
		values += (s.to - s.from) * len(m.Pix)
	}
	parallel(segs, values, func(s segment) {
		for k := s.from; k < s.to; k++ {
			s.req.fill(k, batch[s.off+k-s.from])
		}
	})
	probs, err := d.oracle.Probs(ctx, batch)
	if err != nil {
		return fmt.Errorf("query oracle with %d images: %w", size, err)
	}
	if len(probs) != size {
		return fmt.Errorf("query oracle with %d images: got %d probability rows", size, len(probs))
	}
	for _, s := range segs {
		for k := s.from; k < s.to; k++ {
			if row := probs[s.off+k-s.from]; len(row) < 2 || d.labels[s.index] >= len(row) {
				return fmt.Errorf("query oracle for image %d: %d classes cannot hold label %d", s.index, len(row), d.labels[s.index])
			}
		}
		d.tallies[s.index].used += s.to - s.from
	}
	parallel(segs, values, func(s segment) {
		for k := s.from; k < s.to; k++ {
			i := s.off + k - s.from
			s.req.take(k, batch[i], probs[i])
		}
	})
	return nil
}

// parallelMinValues is the batch size, in pixel values, below which spreading fill and take over
// goroutines costs more than it saves (Square's one small candidate per image, for instance).
const parallelMinValues = 1 << 16

// parallel runs fn on every segment, concurrently across segments when the batch is big enough.
// Segments of one batch belong to distinct images, so their callbacks touch disjoint state.
func parallel(segs []segment, values int, fn func(segment)) {
	workers := min(runtime.GOMAXPROCS(0), len(segs))
	if workers < 2 || values < parallelMinValues {
		for _, s := range segs {
			fn(s)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(segs) {
					return
				}
				fn(segs[i])
			}
		})
	}
	wg.Wait()
}

// askOne sends one image and returns the oracle's answer; ok is false when the run was stopped.
func askOne(yield func(request) bool, img *imaging.Float) (probs []float32, ok bool) {
	r := request{
		n:    1,
		fill: func(_ int, dst *imaging.Float) { copy(dst.Pix, img.Pix) },
		take: func(_ int, _ *imaging.Float, p []float32) { probs = p },
	}
	ok = yield(r) // before reading probs: take sets it during the yield
	return probs, ok
}
