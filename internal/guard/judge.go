package guard

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Verdict is the guard's answer on one input.
type Verdict struct {
	Reject bool
	// InputRejected says an input check failed (before any score).
	InputRejected bool
	// Score is the thresholded score; Energy, Mahalanobis and Combined are every score (NaN
	// when not available).
	Score, Energy, Mahalanobis, Combined float64
	// Reasons say why the input is rejected, one per failed check.
	Reasons []string
}

// Judge applies the guard to image i of obs. y is scratch of the feature width (nil: allocate).
func (g *Guard) Judge(obs *Observations, i int) Verdict { return g.judge(obs, i, nil) }

func (g *Guard) judge(obs *Observations, i int, y []float64) Verdict {
	v := Verdict{Energy: math.NaN(), Mahalanobis: math.NaN(), Combined: math.NaN()}
	ic := &g.InputChecks
	if obs.Props != nil && len(obs.Props[i]) == len(ic.Properties) {
		for k, b := range ic.Properties {
			if x := obs.Props[i][k]; !b.Contains(x) {
				v.Reasons = append(v.Reasons, b.Describe(x))
			}
		}
	}
	for _, c := range []struct {
		b Bound
		x float64
	}{{ic.TensorMean, obs.Mean[i]}, {ic.TensorVariance, obs.Var[i]}} {
		if !c.b.Contains(c.x) {
			v.Reasons = append(v.Reasons, c.b.Describe(c.x))
		}
	}
	v.InputRejected = len(v.Reasons) > 0
	if g.Energy != nil {
		v.Energy = g.Energy.score(obs.logits(i))
	}
	if m := g.Mahalanobis; m != nil && obs.Features != nil && obs.D == m.Dim {
		if len(y) != m.Dim {
			y = make([]float64, m.Dim)
		}
		v.Mahalanobis = m.score(obs.features(i), y)
	}
	if g.Combined != nil {
		v.Combined = g.Combined.score(v.Energy, v.Mahalanobis)
	}
	switch g.Score {
	case ScoreEnergy:
		v.Score = v.Energy
	case ScoreMahalanobis:
		v.Score = v.Mahalanobis
	case ScoreNone:
		v.Score = 0
	default:
		v.Score = v.Combined
	}
	switch {
	case math.IsNaN(v.Score):
		v.Reasons = append(v.Reasons, g.Score+" score is not a number (the model's outputs are not finite)")
	case v.Score > g.Threshold.Value:
		v.Reasons = append(v.Reasons, fmt.Sprintf("%s score %.4g above threshold %.4g", g.Score, v.Score, g.Threshold.Value))
	}
	v.Reject = len(v.Reasons) > 0
	return v
}

// JudgeAll applies the guard to every image of obs, on every core.
func (g *Guard) JudgeAll(obs *Observations) []Verdict {
	out := make([]Verdict, obs.N)
	workers := max(1, min(runtime.NumCPU(), obs.N/64))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var y []float64
			if g.Mahalanobis != nil {
				y = make([]float64, g.Mahalanobis.Dim)
			}
			for i := w; i < obs.N; i += workers {
				out[i] = g.judge(obs, i, y)
			}
		}()
	}
	wg.Wait()
	return out
}
