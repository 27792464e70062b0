package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/cvgate/cvgate/internal/analysis"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/task"
)

// within is the workspace folder ground-truth files must resolve into ("" when confinement is
// lifted).
func (s *session) within() string {
	if s.ws == nil {
		return ""
	}
	return s.ws.Dir()
}

// loadTaskDriftSet loads one side of a detection or segmentation drift run: the reference with its
// ground truth (the task was chosen on it), the current set with its ground truth when it has
// some of the same task, else as plain images (a production sample); sampled to
// thresholds.drift.sample, decoded once with facts.
func (s *session) loadTaskDriftSet(ctx context.Context, side, path string, _ *dataset.Classes) (*dataset.Dataset, *analysis.Facts, []string, error) {
	var l *dataset.Listing
	var reader task.Reader
	var notes []string
	if side == "reference" {
		reader = s.choice.Reader
	} else {
		r, err := s.choice.Plugin.Find(task.Input{Data: s.app.path(path), Within: s.within(), List: s.list}, &s.cfg.Config)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s images: %w", side, err)
		}
		reader = r
	}
	if reader != nil {
		var err error
		if l, err = reader.List(); err != nil {
			return nil, nil, nil, fmt.Errorf("%s images: %w", side, err)
		}
		dr, err := s.reader()
		if err != nil {
			return nil, nil, nil, err
		}
		dr.Adopt(l)
	} else {
		var err error
		if l, err = s.list(path); err != nil {
			return nil, nil, nil, fmt.Errorf("%s images: %w", side, err)
		}
		notes = append(notes, fmt.Sprintf("%s: no %s ground truth, so drift.labels compares nothing for it", side, s.choice.Kind))
	}
	if n := s.cfg.Thresholds.Drift.Sample; n > 0 && len(l.Entries) > n {
		notes = append(notes, fmt.Sprintf("%s: %d of %d images sampled (thresholds.drift.sample %d, seed %d)", side, n, len(l.Entries), n, s.cfg.Seed))
		l.Entries = sampleEntries(l.Entries, n, s.cfg.Seed, side)
	}
	s.prog.Start("decode "+side+" images", len(l.Entries))
	ds, facts, err := s.loadAnalysed(ctx, l, dataset.Options{MaxUnreadable: s.cfg.MaxUnreadable, Progress: func(done, total int) { s.prog.Add(1) }}, false)
	s.prog.Done()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s images: %w", side, err)
	}
	if reader != nil {
		var errs []error
		for i := range ds.Items {
			it := &ds.Items[i]
			t, err := reader.Resolve(it.Truth, it.Image.Width, it.Image.Height, it.Path)
			if err != nil {
				if len(errs) < 10 {
					errs = append(errs, err)
				}
				continue
			}
			it.Truth = t
		}
		if len(errs) > 0 {
			return nil, nil, nil, fmt.Errorf("%s ground truth: %w", side, errors.Join(errs...))
		}
	} else {
		for i := range ds.Items {
			ds.Items[i].Truth = nil
		}
	}
	if side == "reference" && s.task == nil {
		if s.task, err = s.choice.Open(&s.cfg.Config); err != nil {
			return nil, nil, nil, err
		}
	}
	if len(ds.Unreadable) > 0 {
		notes = append(notes, fmt.Sprintf("%s: %d unreadable image(s) left out", side, len(ds.Unreadable)))
	}
	return ds, facts, notes, nil
}
