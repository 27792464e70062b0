package checks

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cvgate/cvgate/internal/attack"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/predcache"
)

// attackImages runs an attack on the sample's images through the per-image records: each image's
// outcome is looked up first (keyed by the attack and its complete settings, the seed, the
// attacked model as the attack queries it, how its outputs are read, and the image's pixel
// digest) and only the misses are attacked; their outcomes are stored. Each image draws from a
// stream named by its pixel digest (Env.attackStream), so that its outcome does not depend on the
// other images attacked with it. In a sharded run, images of other shards are placeholders
// (skipped, never stored). run attacks a subset with the given streams.
func (e *Env) attackImages(view *Subject, record string, sample []int, imgs []*imaging.Float, labels []int,
	run func(imgs []*imaging.Float, labels []int, streams []uint64) ([]attack.Outcome, error)) ([]attack.Outcome, error) {
	si := 0
	if view.Role == "baseline" {
		si = 1
	}
	memo := fmt.Sprintf("%s|%v", record, sample)
	if si == 1 && e.identical() {
		// The baseline is the candidate: its outcomes are the candidate's.
		if v, ok := e.attacks.Load(memo); ok {
			outs := v.([]attack.Outcome)
			e.counts[1].shared.Add(int64(len(outs)))
			return outs, nil
		}
	}
	outs := make([]attack.Outcome, len(sample))
	keys := make([]predcache.Key, len(sample))
	cached := make([]bool, len(sample))
	var todo []int // sample positions to attack
	sk := e.subjectKey(view)
	for k, i := range sample {
		if !e.inShard(i) {
			outs[k] = attack.Outcome{Skipped: true, Label: labels[k], AdvLabel: labels[k]}
			continue
		}
		if d := e.digest(i); sk != "" && d != "" {
			keys[k] = predcache.KeyOf("attack", sk, view.OutputKind().Describe(), record, d)
			cached[k] = true
			if e.Cache != nil {
				if b, ok := e.Cache.Get(keys[k]); ok {
					if o, err := readOutcome(b, imgs[k], labels[k]); err == nil {
						outs[k] = o
						e.counts[si].hits.Add(1)
						continue
					}
				}
			}
		}
		todo = append(todo, k)
	}
	if len(todo) == 0 {
		e.rememberAttack(si, memo, outs)
		return outs, nil
	}
	sub := make([]*imaging.Float, len(todo))
	subLabels := make([]int, len(todo))
	streams := make([]uint64, len(todo))
	for j, k := range todo {
		sub[j], subLabels[j], streams[j] = imgs[k], labels[k], e.attackStream(sample[k])
	}
	got, err := run(sub, subLabels, streams)
	if err != nil {
		return nil, err
	}
	if len(got) != len(todo) {
		return nil, fmt.Errorf("attack returned %d outcomes for %d images", len(got), len(todo))
	}
	for j, k := range todo {
		outs[k] = got[j]
		e.counts[si].computed.Add(1)
		if e.Cache != nil && cached[k] {
			e.Cache.Put(keys[k], appendOutcome(nil, got[j]))
		}
	}
	e.rememberAttack(si, memo, outs)
	return outs, nil
}

// rememberAttack keeps the candidate's outcomes for a baseline identical to it.
func (e *Env) rememberAttack(si int, memo string, outs []attack.Outcome) {
	if si == 0 && e.identical() {
		e.attacks.Store(memo, outs)
	}
}

// squareRecord and hsjRecord describe an attack's settings to per-image records: everything that
// decides an image's outcome (the batch size does not, by the attack package's design).
func squareRecord(c attack.SquareConfig) string {
	return fmt.Sprintf("%s|eps=%s|queries=%d|p_init=%s|seed=%d", AttackSquare, g64(c.Epsilon), c.MaxQueries, g64(c.PInit), c.Seed)
}

func hsjRecord(c attack.HSJConfig) string {
	return fmt.Sprintf("%s|eps=%s|queries=%d|iter=%d|evals=%d,%d|tries=%d|tol=%s|seed=%d", AttackHopSkipJump, g64(c.Epsilon), c.MaxQueries,
		c.MaxIter, c.InitEvals, c.MaxEvals, c.InitTries, g64(c.Tolerance), c.Seed)
}

// appendOutcome encodes an outcome exactly: counts, distances as float64 bits, the trace, and the
// adversarial image's float32 values.
func appendOutcome(b []byte, o attack.Outcome) []byte {
	var flags byte
	for bit, v := range []bool{o.Success, o.Skipped, o.RawSuccess, o.Adversarial != nil} {
		if v {
			flags |= 1 << bit
		}
	}
	u32 := func(v int) { b = binary.LittleEndian.AppendUint32(b, uint32(v)) }
	f64 := func(v float64) { b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v)) }
	b = append(b, 'a', flags)
	u32(o.Queries)
	u32(o.SuccessQueries)
	u32(o.FinalQueries)
	f64(o.Linf)
	f64(o.L2)
	f64(o.RawLinf)
	f64(o.RawL2)
	u32(o.Label)
	u32(o.AdvLabel)
	u32(len(o.Trace))
	for _, p := range o.Trace {
		u32(p.Queries)
		f64(p.L2)
		f64(p.Linf)
	}
	if a := o.Adversarial; a != nil {
		u32(a.Width)
		u32(a.Height)
		u32(a.Channels)
		for _, v := range a.Pix {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return b
}

var errOutcome = errors.New("malformed attack record")

// readOutcome decodes appendOutcome's bytes for an attack on clean (whose shape the adversarial
// image must have) with the given label; anything else is an error.
func readOutcome(b []byte, clean *imaging.Float, label int) (attack.Outcome, error) {
	var o attack.Outcome
	if len(b) < 2 || b[0] != 'a' {
		return o, errOutcome
	}
	flags := b[1]
	b = b[2:]
	bad := false
	u32 := func() int {
		if len(b) < 4 {
			bad = true
			return 0
		}
		v := binary.LittleEndian.Uint32(b)
		b = b[4:]
		return int(int32(v))
	}
	f64 := func() float64 {
		if len(b) < 8 {
			bad = true
			return 0
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(b))
		b = b[8:]
		return v
	}
	o.Success, o.Skipped, o.RawSuccess = flags&1 != 0, flags&2 != 0, flags&4 != 0
	o.Queries, o.SuccessQueries, o.FinalQueries = u32(), u32(), u32()
	o.Linf, o.L2, o.RawLinf, o.RawL2 = f64(), f64(), f64(), f64()
	o.Label, o.AdvLabel = u32(), u32()
	n := u32()
	if bad || n < 0 || n > len(b)/20 || o.Label != label || o.AdvLabel < 0 {
		return o, errOutcome
	}
	if n > 0 {
		o.Trace = make([]attack.Point, n)
	}
	for j := range o.Trace {
		o.Trace[j] = attack.Point{Queries: u32(), L2: f64(), Linf: f64()}
	}
	if flags&8 != 0 {
		w, h, c := u32(), u32(), u32()
		if bad || w != clean.Width || h != clean.Height || c != clean.Channels || len(b) != 4*len(clean.Pix) {
			return o, errOutcome
		}
		a := imaging.NewFloat(w, h, c)
		for j := range a.Pix {
			a.Pix[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
			if !(a.Pix[j] >= 0 && a.Pix[j] <= 1) {
				return o, errOutcome
			}
		}
		b = nil
		o.Adversarial = a
	}
	if bad || len(b) != 0 {
		return o, errOutcome
	}
	return o, nil
}
