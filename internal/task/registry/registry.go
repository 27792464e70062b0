// Package registry lists cvgate's tasks in one ordered place and decides which one a run is:
// the one the config names, or the one whose ground truth the data holds.
package registry

import (
	"fmt"
	"strings"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/task"
	"github.com/cvgate/cvgate/internal/task/detect"
	"github.com/cvgate/cvgate/internal/task/segment"
)

// Plugin is one task other than classification: how to find its ground truth and how to build
// it. Classification needs none: its labels are the dataset's class folders and manifests.
type Plugin interface {
	Kind() task.Kind
	// Find looks for this task's ground truth: in annotations when it is given, else in the data
	// folder. It returns nil and no error when there is none; an error means ground truth of this
	// task was found but cannot be read.
	Find(in task.Input, cfg *config.Config) (task.Reader, error)
	// Open builds the task for the ground truth's classes.
	Open(r task.Reader, cfg *config.Config) (task.Task, error)
	// Looks says what ground truth of this task looks like, for errors.
	Looks() string
}

// Plugins returns the tasks in the order their ground truth is looked for.
func Plugins() []Plugin {
	return []Plugin{detect.Plugin{}, segment.Plugin{}}
}

// Choice is the task of a run.
type Choice struct {
	Kind task.Kind
	// Source says where the choice came from: "config" or what it was inferred from.
	Source string
	// Reader reads the ground truth (nil for classification), Plugin builds the task.
	Reader task.Reader
	Plugin Plugin
}

// Choose decides the task: the configured one, or the first plugin whose ground truth the data
// holds; classification when none does.
func Choose(cfg *config.Config, in task.Input) (Choice, error) {
	annotations := in.Annotations
	want := task.Kind(cfg.Task)
	if want == task.Classification {
		if annotations != "" {
			return Choice{}, fmt.Errorf("annotations %q are given but task is classification: remove annotations, or set task to detection or segmentation", cfg.Annotations)
		}
		return Choice{Kind: task.Classification, Source: "config"}, nil
	}
	var looks []string
	for _, p := range Plugins() {
		if want != "" && p.Kind() != want {
			continue
		}
		looks = append(looks, p.Looks())
		r, err := p.Find(in, cfg)
		if err != nil {
			return Choice{}, err
		}
		if r == nil {
			continue
		}
		src := "config"
		if want == "" {
			src = "inferred from " + r.Describe()
		}
		return Choice{Kind: p.Kind(), Source: src, Reader: r, Plugin: p}, nil
	}
	switch {
	case want != "":
		where := fmt.Sprintf("in %q", cfg.Data)
		if annotations != "" {
			where = fmt.Sprintf("at %q", cfg.Annotations)
		}
		return Choice{}, fmt.Errorf("task %s needs ground truth, but none was found %s (looked for %s); pass --annotations PATH", want, where, strings.Join(looks, "; "))
	case annotations != "":
		return Choice{}, fmt.Errorf("read annotations %q: not a format cvgate reads (%s)", cfg.Annotations, strings.Join(looks, "; "))
	}
	return Choice{Kind: task.Classification, Source: "inferred: the data holds no detection annotations or segmentation masks"}, nil
}

// Open builds the chosen task; nil for classification.
func (c Choice) Open(cfg *config.Config) (task.Task, error) {
	if c.Plugin == nil || c.Reader == nil {
		return nil, nil
	}
	t, err := c.Plugin.Open(c.Reader, cfg)
	if err != nil {
		return nil, fmt.Errorf("prepare %s task: %w", c.Kind, err)
	}
	return t, nil
}
