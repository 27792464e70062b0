package guard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
)

// Guarded returns the guarded model: the probe's original model with the guard's nodes appended.
func (g *Guard) Guarded(p *Probe) ([]byte, error) {
	add, err := g.Additions(p.Graph)
	if err != nil {
		return nil, fmt.Errorf("write the guard into %q: %w", p.Path, err)
	}
	b, err := p.Graph.Append(add)
	if err != nil {
		return nil, fmt.Errorf("write the guard into %q: %w", p.Path, err)
	}
	return b, nil
}

// WriteFolder writes guard.json and model.guarded.onnx into dir (created if needed) and records
// the guarded model's sha256 in the guard.
func (g *Guard) WriteFolder(dir string, p *Probe) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create guard folder %q: %w", dir, err)
	}
	b, err := g.Guarded(p)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, GuardedModelName)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write guarded model %q: %w", path, err)
	}
	sum := sha256.Sum256(b)
	g.Model.GuardedFile, g.Model.GuardedSHA256 = GuardedModelName, hex.EncodeToString(sum[:])
	return g.Save(filepath.Join(dir, FileName))
}

// Check is what Verify found on the guarded model in ONNX Runtime.
type Check struct {
	Images int `json:"images"`
	// OutputsIdentical says every original output equals the original model's bit for bit.
	OutputsIdentical bool `json:"outputs_identical"`
	// MaxScoreDiff is the largest relative difference between cvgate_ood_score and the score
	// cvgate computes from guard.json (float32 in the graph, float64 here).
	MaxScoreDiff float64 `json:"max_score_diff"`
	// Differences say what did not match, one line each.
	Differences []string `json:"differences,omitempty"`
}

// scoreTolerance is the relative difference allowed between the graph's float32 score and
// cvgate's float64 one; measured differences on the fixtures are below 1e-5.
const scoreTolerance = 1e-3

// Verify runs the guarded model at guardedPath in ONNX Runtime next to the original (orig) on
// imgs, and checks that its original outputs are bit-identical and its score agrees with the
// guard's. It reads the guarded model through a probe without cvgate_reject, whose boolean type
// the ONNX Runtime binding does not copy.
func (g *Guard) Verify(ctx context.Context, rt *onnx.Runtime, guardedPath string, orig *Probe, opts ProbeOptions, imgs []*imaging.Image) (Check, error) {
	c := Check{Images: len(imgs), OutputsIdentical: true}
	originals := map[string][]float32{}
	names := map[string]bool{}
	for _, o := range orig.Graph.Outputs {
		names[o.Name] = true
	}
	record := func(into map[string][]float32) onnx.BatchFunc {
		return func(start, count int, outs []onnx.Tensor) error {
			for _, t := range outs {
				if names[t.Name] || t.Name == OutputScore {
					per := t.Len() / max(int(firstDim(t.Shape)), 1)
					if t.IsFloat() {
						into[t.Name] = append(into[t.Name], t.F32[:count*per]...)
					} else {
						for _, v := range t.I64[:count*per] {
							into[t.Name] = append(into[t.Name], float32(v))
						}
					}
				}
			}
			return nil
		}
	}
	if _, err := orig.ObserveTensors(ctx, imgs, nil, record(originals)); err != nil {
		return c, err
	}
	opts.DropOutputs = []string{OutputReject}
	gp, err := NewProbe(rt, guardedPath, orig.Spec, opts)
	if err != nil {
		return c, err
	}
	defer gp.Close()
	guarded := map[string][]float32{}
	obs, err := gp.ObserveTensors(ctx, imgs, nil, record(guarded))
	if err != nil {
		return c, err
	}
	for name := range names {
		a, b := originals[name], guarded[name]
		same := len(a) == len(b)
		for i := 0; same && i < len(a); i++ {
			same = math.Float32bits(a[i]) == math.Float32bits(b[i])
		}
		if !same {
			c.OutputsIdentical = false
			c.Differences = append(c.Differences, fmt.Sprintf("output %q differs from the original model's", name))
		}
	}
	scores := guarded[OutputScore]
	if len(scores) != len(imgs) {
		return c, fmt.Errorf("the guarded model returned %d scores for %d images", len(scores), len(imgs))
	}
	for i, v := range g.JudgeAll(obs) {
		want, got := v.Score, float64(scores[i])
		if math.IsNaN(want) && math.IsNaN(got) {
			continue
		}
		diff := math.Abs(got-want) / math.Max(1, math.Abs(want))
		if math.IsNaN(diff) {
			diff = math.Inf(1)
		}
		c.MaxScoreDiff = math.Max(c.MaxScoreDiff, diff)
	}
	if c.MaxScoreDiff > scoreTolerance {
		c.Differences = append(c.Differences, fmt.Sprintf("cvgate_ood_score differs from guard.json's score by up to %.3g (relative)", c.MaxScoreDiff))
	}
	return c, nil
}

func firstDim(shape []int64) int64 {
	if len(shape) == 0 {
		return 1
	}
	return shape[0]
}
