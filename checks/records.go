package checks

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/cvgate/cvgate/internal/predcache"
	"github.com/cvgate/cvgate/internal/task"
)

// recordFormat is part of every per-image record's key. Bump it whenever the implementation of
// anything a record depends on could change its content: a corruption or transform, an attack,
// preprocessing, a task's decoder or its record encoding. Old records then simply stop matching.
const recordFormat = "cvgate-records/2"

// Shard selects the images a sharded run computes records for: those whose pixel digest hashes
// to Index modulo Count. A sharded run is a cache-warming run: every check that produces
// per-image records runs to its maximum sample (nothing stops early on a settled verdict or a
// time budget), perturbed variants and attacks run only on the shard's images, and the images of
// other shards get placeholders (their clean prediction; a skipped attack) that are never stored.
type Shard struct {
	Index, Count int
}

// Of is the shard of an image with the given pixel digest.
func (s Shard) Of(digest [32]byte) int {
	return int(binary.LittleEndian.Uint64(digest[:8]) % uint64(s.Count))
}

// RecordCounts are what a target's per-image records came from, per subject.
type RecordCounts struct {
	// Hits were read from the cache; Computed ran through the model (and were stored when a
	// cache is set); Shared were copied from the candidate, whose model bytes and preprocessing
	// the baseline shares.
	Hits, Computed, Shared int64
}

type recordCounters struct{ hits, computed, shared atomic.Int64 }

// RecordCounts returns, per subject (candidate first), where its per-image records came from.
func (e *Env) RecordCounts() []RecordCounts {
	out := make([]RecordCounts, len(e.Subjects()))
	for si := range out {
		c := &e.counts[si]
		out[si] = RecordCounts{Hits: c.hits.Load(), Computed: c.computed.Load(), Shared: c.shared.Load()}
	}
	return out
}

// Exhaustive reports whether checks must run to their maximum sample rather than stop early on a
// settled verdict or a time budget: a shard must produce every record the full run could read.
func (e *Env) Exhaustive() bool { return e.Shard != nil }

// inShard reports whether a sharded run computes records for item i (always, unsharded).
func (e *Env) inShard(i int) bool {
	if e.Shard == nil || e.Facts == nil || i >= len(e.Facts.Pixels) {
		return true
	}
	return e.Shard.Of(e.Facts.Pixels[i]) == e.Shard.Index
}

// digest is item i's pixel digest in hex, "" when the decoding pass did not compute it.
func (e *Env) digest(i int) string {
	if e.Facts == nil || i < 0 || i >= len(e.Facts.Pixels) {
		return ""
	}
	return hex.EncodeToString(e.Facts.Pixels[i][:])
}

// itemSeed derives the seed of item i's random draws (corruptions) from the run's seed and the
// image's pixel digest, so that an image is perturbed alike whichever images surround it: a
// record cached for it stays valid when a pull request adds images, and a shard perturbs it as
// the full run does. Without digests it falls back on the item's index.
func (e *Env) itemSeed(seed uint64, i int) uint64 {
	if e.Facts == nil || i < 0 || i >= len(e.Facts.Pixels) {
		return imageSeed(seed, i)
	}
	return mix64(seed ^ mix64(binary.LittleEndian.Uint64(e.Facts.Pixels[i][:8])+0x9e3779b97f4a7c15))
}

// attackStream is item i's random stream in an attack (see attack.SquareConfig.Streams).
func (e *Env) attackStream(i int) uint64 {
	if e.Facts == nil || i < 0 || i >= len(e.Facts.Pixels) {
		return uint64(i)
	}
	return binary.LittleEndian.Uint64(e.Facts.Pixels[i][:8])
}

// subjectKey describes everything about a subject that decides its outputs on a given input
// image: the caller's CacheID (model bytes with external data, runtime, execution provider), the
// tensors fed and read, the preprocessing exactly as applied, and for decoded tasks the task and
// its decoder settings. "" when the subject cannot be cached (no CacheID).
func (e *Env) subjectKey(s *Subject) string {
	s.keyOnce.Do(func() {
		if s.CacheID == "" || s.Model == nil {
			return
		}
		sp := s.Spec
		var b strings.Builder
		fmt.Fprintf(&b, "%s|model=%s|in=%s|out=%s|outputs=", recordFormat, s.CacheID, s.Model.Input.Name, s.Model.Output.Name)
		for _, o := range s.Model.Outputs {
			b.WriteString(o.Name + ",")
		}
		fmt.Fprintf(&b, "|spec=%dx%dx%d,%s,%s,%s,%s,crop=%s,letterbox=%t,pad=%s,scale=%s,mean=%s,std=%s,convert=%t,dims=%v",
			sp.Width, sp.Height, sp.Channels, sp.Order, sp.Layout, sp.DType, string(sp.Filter), g64(sp.CropFraction), sp.Letterbox,
			g64(sp.PadValue), g64(sp.Scale), g64s(sp.Mean[:]), g64s(sp.Std[:]), sp.ConvertColor, sp.Dims)
		if s.Decoder != nil && e.Task != nil {
			var cfg any
			switch e.Task.Kind() {
			case task.Detection:
				cfg = e.Config.Detection
			case task.Segmentation:
				cfg = e.Config.Segmentation
			}
			j, err := json.Marshal(struct {
				Kind    task.Kind
				Config  any
				Classes []string
			}{e.Task.Kind(), cfg, e.Task.Classes()})
			if err != nil {
				return // not describable: not cached
			}
			b.WriteString("|task=")
			b.Write(j)
		}
		s.key = b.String()
	})
	return s.key
}

func g64(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func g64s(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = g64(x)
	}
	return strings.Join(parts, ",")
}

// predKey is the key of subject s's prediction of item i under a variant's record description;
// ok is false when the record cannot be cached.
func (e *Env) predKey(s *Subject, record string, i int) (predcache.Key, bool) {
	sk, d := e.subjectKey(s), e.digest(i)
	if sk == "" || d == "" || record == "" {
		return predcache.Key{}, false
	}
	return predcache.KeyOf("prediction", sk, record, d), true
}

// identical reports whether the baseline has the candidate's model bytes and preprocessing, so
// that its outputs are the candidate's: it is then never run on its own.
func (e *Env) identical() bool {
	if e.Baseline == nil {
		return false
	}
	k := e.subjectKey(e.Candidate)
	return k != "" && k == e.subjectKey(e.Baseline)
}

// encodePrediction is a record's payload: the raw output row of a classifier (float32 bits, so
// that the rest of the run is bit for bit what it would have been), or a decoded task prediction.
func (e *Env) encodePrediction(s *Subject, out batchOut, k int) ([]byte, bool) {
	if s.Decoder != nil {
		c, ok := e.Task.(task.Codec)
		if !ok {
			return nil, false
		}
		b, err := c.AppendPrediction([]byte{'t'}, out.preds[k])
		return b, err == nil
	}
	row := out.raw[k*out.width : (k+1)*out.width]
	b := make([]byte, 1, 1+4*len(row))
	b[0] = 'f'
	for _, v := range row {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b, true
}

// decodePrediction reads a record's payload back into a one-image batchOut.
func (e *Env) decodePrediction(s *Subject, b []byte) (batchOut, bool) {
	if len(b) < 1 {
		return batchOut{}, false
	}
	if s.Decoder != nil {
		c, ok := e.Task.(task.Codec)
		if !ok || b[0] != 't' {
			return batchOut{}, false
		}
		p, err := c.ReadPrediction(b[1:])
		if err != nil {
			return batchOut{}, false
		}
		return batchOut{preds: []task.Prediction{p}}, true
	}
	if b[0] != 'f' || (len(b)-1)%4 != 0 || len(b) == 1 {
		return batchOut{}, false
	}
	row := make([]float32, (len(b)-1)/4)
	for j := range row {
		row[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[1+4*j:]))
	}
	return batchOut{raw: row, width: len(row)}, true
}

// cleanOut is subject si's clean prediction of item i as a one-image batchOut: the placeholder a
// shard gives the images of other shards. The clean pass must have run over every image.
func (e *Env) cleanOut(si, i int) (batchOut, error) {
	e.memoMu.Lock()
	ent := e.memo[CleanKey]
	e.memoMu.Unlock()
	if ent == nil {
		return batchOut{}, fmt.Errorf("no clean pass to stand in for image %d", i)
	}
	<-ent.done
	p := ent.cand
	if si == 1 {
		p = ent.base
	}
	if ent.err != nil || p == nil || i >= p.Rows() {
		return batchOut{}, fmt.Errorf("no clean prediction to stand in for image %d", i)
	}
	if p.Task != nil {
		return batchOut{preds: p.Task[i : i+1]}, nil
	}
	return batchOut{raw: p.Raw[i*p.Classes : (i+1)*p.Classes], width: p.Classes}, nil
}

// predictJobs is pipeline behind the per-image records: each (subject, image) of a job whose
// record description is set is looked up first, and only the misses run through the models, in
// as few pipelines as there are patterns of which subjects missed (the common pull request, a new
// candidate against an unchanged baseline, runs the candidate alone). A baseline identical to
// the candidate is never run: it is handed the candidate's outputs. In a sharded run, images of
// other shards get their clean prediction instead (a placeholder, never stored). sink receives
// one image at a time.
func (e *Env) predictJobs(ctx context.Context, jobs []batchJob, workers int, sink batchSink) error {
	subjects := e.Subjects()
	same := e.identical()
	// widths keeps hits consistent with what the model returns: a record of another width is a
	// miss.
	widths := make([]int, len(subjects))
	deliver := func(job, pos, si int, out batchOut) error {
		if err := sink(job, pos, 1, si, out); err != nil {
			return err
		}
		if si == 0 && same {
			e.counts[1].shared.Add(1)
			return sink(job, pos, 1, 1, out)
		}
		return nil
	}
	// misses[pattern] lists, per job, the positions whose subjects in the pattern's bits missed.
	patterns := 1 << len(subjects)
	misses := make([][][]int, patterns)
	for p := range misses {
		misses[p] = make([][]int, len(jobs))
	}
	// A decoder that settles a convention on the first batch it sees (segmentation output
	// layout and activation, detection box units) must see one, or a run served wholly from the
	// cache would describe the model differently: its first image of the run is predicted
	// whatever the cache holds.
	unsettled := make([]bool, len(subjects))
	for si, s := range subjects {
		if r, ok := s.Decoder.(interface{ Resolved() bool }); ok && !r.Resolved() {
			unsettled[si] = true
		}
	}
	hits := 0
	for ji, j := range jobs {
		for pos, i := range j.indices {
			if j.record != CleanKey && j.record != "" && !e.inShard(i) {
				for si := range subjects {
					out, err := e.cleanOut(si, i)
					if err != nil {
						return err
					}
					if err := sink(ji, pos, 1, si, out); err != nil {
						return err
					}
				}
				hits++
				continue
			}
			pattern := 0
			for si, s := range subjects {
				if si == 1 && same {
					continue
				}
				if unsettled[si] {
					unsettled[si] = false
					pattern |= 1 << si
					continue
				}
				if e.Cache != nil {
					if k, ok := e.predKey(s, j.record, i); ok {
						if b, ok := e.Cache.Get(k); ok {
							if out, ok := e.decodePrediction(s, b); ok && (out.preds != nil || widths[si] == 0 || widths[si] == out.width) {
								widths[si] = max(widths[si], out.width)
								if out.preds == nil {
									if err := e.checkWidth(s, out.width); err != nil {
										return err
									}
								}
								e.counts[si].hits.Add(1)
								if err := deliver(ji, pos, si, out); err != nil {
									return err
								}
								hits++
								continue
							}
						}
					}
				}
				pattern |= 1 << si
			}
			if pattern != 0 {
				misses[pattern][ji] = append(misses[pattern][ji], pos)
			}
		}
	}
	if e.Progress != nil && hits > 0 {
		e.Progress.Add(hits)
	}
	for pattern := 1; pattern < patterns; pattern++ {
		var run []*Subject
		var runSI []int
		for si, s := range subjects {
			if pattern&(1<<si) != 0 {
				run, runSI = append(run, s), append(runSI, si)
			}
		}
		var sub []batchJob
		var origin []int // sub job -> job
		for ji, pos := range misses[pattern] {
			if len(pos) == 0 {
				continue
			}
			idx := make([]int, len(pos))
			for k, p := range pos {
				idx[k] = jobs[ji].indices[p]
			}
			sub = append(sub, batchJob{indices: idx, transform: jobs[ji].transform, record: jobs[ji].record})
			origin = append(origin, ji)
		}
		if len(sub) == 0 {
			continue
		}
		err := e.pipelineFor(ctx, run, sub, workers, func(job, start, n, rsi int, out batchOut) error {
			ji, si := origin[job], runSI[rsi]
			s := subjects[si]
			for k := 0; k < n; k++ {
				var one batchOut
				if out.preds != nil {
					one = batchOut{preds: out.preds[k : k+1]}
				} else {
					one = batchOut{raw: out.raw[k*out.width : (k+1)*out.width], width: out.width}
					widths[si] = out.width
				}
				pos := misses[pattern][ji][start+k]
				e.counts[si].computed.Add(1)
				if e.Cache != nil {
					if key, ok := e.predKey(s, jobs[ji].record, jobs[ji].indices[pos]); ok {
						if b, ok := e.encodePrediction(s, out, k); ok {
							e.Cache.Put(key, b)
						}
					}
				}
				if err := deliver(ji, pos, si, one); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// transformRecord names an invariance transform in per-image records (it takes no seed).
func transformRecord(check, transform string) string { return check + "|" + transform }

// corruptionRecord names a corruption at a severity in per-image records; the image's own seed
// derives from seed and its pixel digest (Env.itemSeed).
func corruptionRecord(name string, severity int, seed uint64) string {
	return fmt.Sprintf("corruption|%s|%d|seed%d", name, severity, seed)
}

// RecordProducers keeps the checks whose work is per-image records beyond the clean pass (every
// run makes that one): what a shard runs.
func RecordProducers(selected []Check) []Check {
	var out []Check
	for _, c := range selected {
		switch c.ID() {
		case IDRobustCorruptions, IDRobustInvariance, IDRobustAdversarial:
			out = append(out, c)
		}
	}
	return out
}
