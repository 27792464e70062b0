package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cvgate/cvgate/checks"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/task"
	"github.com/cvgate/cvgate/internal/task/registry"
	"github.com/cvgate/cvgate/report"
)

// chooseTask decides the run's task (config, or inferred from the data's ground truth) before any
// model is opened: detectors and segmenters are opened with all their outputs.
func (s *session) chooseTask() error {
	in := task.Input{Data: s.app.path(s.cfg.Data), List: s.list}
	if s.ws != nil {
		in.Within = s.ws.Dir()
		if err := s.ws.CheckDir(in.Data); err != nil {
			if _, ferr := s.ws.Check(in.Data); ferr != nil {
				return fmt.Errorf("open data %q: %w", s.cfg.Data, err)
			}
		}
	}
	if s.cfg.Annotations != "" {
		in.Annotations = s.app.path(s.cfg.Annotations)
		if s.ws != nil {
			if err := s.ws.CheckDir(in.Annotations); err != nil {
				if _, ferr := s.ws.Check(in.Annotations); ferr != nil {
					return fmt.Errorf("open annotations %q: %w", s.cfg.Annotations, ferr)
				}
			}
		}
	}
	c, err := registry.Choose(&s.cfg.Config, in)
	if err != nil {
		return err
	}
	s.choice = c
	return nil
}

// decodedTask reports whether the run's task reads model outputs through a task decoder.
func (s *session) decodedTask() bool { return s.choice.Reader != nil }

// loadTaskData lists the images the ground truth describes, decodes them once (with their
// facts), completes each image's ground truth now that its size is known, and builds the task.
func (s *session) loadTaskData(ctx context.Context) (*dataset.Dataset, error) {
	listing, err := s.choice.Reader.List()
	if err != nil {
		return nil, err
	}
	dr, err := s.reader()
	if err != nil {
		return nil, err
	}
	dr.Adopt(listing)
	if err := s.joinAttributes(listing); err != nil {
		return nil, err
	}
	s.prog.Start("decode images", len(listing.Entries))
	ds, facts, err := s.loadAnalysed(ctx, listing, dataset.Options{
		MaxUnreadable: s.cfg.MaxUnreadable,
		Progress:      func(done, total int) { s.prog.Add(1) },
	}, false)
	s.prog.Done()
	if err != nil {
		return nil, err
	}
	var errs []error
	for i := range ds.Items {
		it := &ds.Items[i]
		t, err := s.choice.Reader.Resolve(it.Truth, it.Image.Width, it.Image.Height, it.Path)
		if err != nil {
			if len(errs) < 10 {
				errs = append(errs, err)
			}
			continue
		}
		it.Truth = t
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("ground truth of %q: %w", s.cfg.Data, errors.Join(errs...))
	}
	if s.task, err = s.choice.Open(&s.cfg.Config); err != nil {
		return nil, err
	}
	s.facts = facts
	return ds, nil
}

// bindTask reads a subject's outputs through the task: the decoder the outputs' convention needs.
func (s *session) bindTask(sub *checks.Subject) error {
	if s.task == nil {
		return nil
	}
	dec, err := s.task.Bind(sub.Model, sub.Spec)
	if err != nil {
		return fmt.Errorf("read the outputs of %s %q as %s: %w", sub.Role, sub.Name, s.task.Kind(), err)
	}
	if dec.BatchOne() {
		if sub.Model.FixedBatch && sub.Model.Batch != 1 {
			return fmt.Errorf("%s %q has a fixed batch of %d but outputs without a batch dimension: export it with batch 1 or a dynamic batch", sub.Role, sub.Name, sub.Model.Batch)
		}
		sub.Model.Batch = 1
	}
	sub.Decoder = dec
	sub.Info.Output = dec.Describe()
	return nil
}

// describeTask records the task and its ground truth in the report.
func (s *session) describeTask(d *report.Dataset) {
	d.Task = string(s.choice.Kind)
	d.TaskSource = s.choice.Source
	if s.choice.Reader == nil || s.task == nil {
		return
	}
	d.Annotations = s.choice.Reader.Describe()
	d.Classes = s.task.Classes()
	d.LabelSource = s.choice.Reader.ClassSource()
}

// objectCount counts the ground-truth objects of a detection data set, for the report.
func objectCount(ds *dataset.Dataset, k task.Kind) int {
	if k != task.Detection {
		return 0
	}
	n := 0
	for _, it := range ds.Items {
		if c, ok := it.Truth.(interface{ ObjectCount() int }); ok {
			n += c.ObjectCount()
		}
	}
	return n
}

// taskHint turns a classifier-reading failure on a model that looks like a detector or a
// segmenter into advice.
func taskHint(err error) error {
	if err == nil || !strings.Contains(err.Error(), "no output looks like class scores") {
		return err
	}
	return fmt.Errorf("%w; if this model is a detector or a segmentation model, set --task detection|segmentation and give its ground truth (--annotations)", err)
}

// joinAttributes gives the images of a detection or segmentation listing the attribute columns of
// a manifest.csv or manifest.jsonl in the data folder (or in the folder of the images), matched by
// image path, so that perf.segments slices by them as it does for classifiers. Images the manifest
// does not list get empty values.
func (s *session) joinAttributes(l *dataset.Listing) error {
	if len(l.Attributes) > 0 || len(l.Entries) == 0 {
		return nil
	}
	dirs := []string{l.Source}
	if d := filepath.Dir(l.Entries[0].File); d != l.Source {
		dirs = append(dirs, d)
	}
	for _, dir := range dirs {
		for _, name := range []string{"manifest.csv", "manifest.jsonl"} {
			p := filepath.Join(dir, name)
			if st, err := os.Lstat(p); err != nil || !st.Mode().IsRegular() {
				continue
			}
			r, err := s.reader()
			if err != nil {
				return err
			}
			m, err := r.List(p)
			if err != nil {
				return fmt.Errorf("read the attributes of the images: %w", err)
			}
			byFile := map[string][]string{}
			for _, e := range m.Entries {
				byFile[filepath.Clean(e.File)] = e.Attrs
			}
			l.Attributes = m.Attributes
			for i := range l.Entries {
				attrs := byFile[filepath.Clean(l.Entries[i].File)]
				if attrs == nil {
					attrs = make([]string, len(m.Attributes))
				}
				l.Entries[i].Attrs = attrs
			}
			return nil
		}
	}
	return nil
}
