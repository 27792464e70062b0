package guard

import (
	"context"
	"path/filepath"

	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
)

// Learn observes the reference images through the probe and builds a guard for its model, with
// the guard's model section filled in from the probe.
func Learn(ctx context.Context, p *Probe, imgs []*imaging.Image, labels []int, opts BuildOptions) (*Guard, *Observations, error) {
	obs, err := p.Observe(ctx, imgs, labels)
	if err != nil {
		return nil, nil, err
	}
	if opts.FeaturesNote == "" {
		opts.FeaturesNote = p.Head.FeaturesNote
	}
	if obs.Features == nil && opts.FeaturesNote == "" {
		opts.FeaturesNote = "no feature tensor was found"
	}
	opts.LogitsAreProbabilities = !p.Head.Softmax && onnx.DetectKind(obs.Logits, obs.K) == onnx.Probabilities
	g, err := Build(obs, opts)
	if err != nil {
		return nil, nil, err
	}
	g.Model = Model{File: filepath.Base(p.Path), SHA256: p.SHA256, Input: p.InputName, Output: p.Head.Output,
		Logits: p.Head.Logits, Softmax: p.Head.Softmax, Layer: p.Head.Layer}
	if g.Mahalanobis != nil {
		g.Model.Features, g.Model.FeatureSource = p.Features, p.FeatureSource
	}
	return g, obs, nil
}
