package metrics

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cvgate/cvgate/internal/segment"
)

// ScoreAll scores truth[i] against pred[i] for every i on workers goroutines (at least one), each
// with its own Scorer and confusion matrix, merged at the end. It returns the records in image
// order and the summed confusion matrix (nil above MaxConfusionClasses classes); the first
// failing image's error names its index.
func ScoreAll(truth, pred []segment.LabelMap, o Options, workers int) ([]Record, *Confusion, error) {
	if len(truth) != len(pred) {
		return nil, nil, fmt.Errorf("score segmentation: %d ground-truth maps, %d predictions", len(truth), len(pred))
	}
	if _, err := NewScorer(o); err != nil {
		return nil, nil, err
	}
	workers = max(1, min(workers, len(truth)))
	recs := make([]Record, len(truth))
	errs := make([]error, len(truth))
	cms := make([]*Confusion, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	withCM := o.Classes <= MaxConfusionClasses
	for w := range workers {
		if withCM {
			cms[w], _ = NewConfusion(o.Classes)
		}
		wg.Add(1)
		go func(cm *Confusion) {
			defer wg.Done()
			s, _ := NewScorer(o)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(truth) {
					return
				}
				recs[i], errs[i] = s.Score(truth[i], pred[i], cm)
			}
		}(cms[w])
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, nil, fmt.Errorf("score image %d: %w", i, err)
		}
	}
	if !withCM {
		return recs, nil, nil
	}
	total := cms[0]
	for _, cm := range cms[1:] {
		total.Add(cm)
	}
	return recs, total, nil
}
