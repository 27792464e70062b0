package checks

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/onnxproto"
	"github.com/cvgate/cvgate/internal/preprocess"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
	"github.com/cvgate/cvgate/report"
)

// testEnv builds an Env over real fixture models and images, as the app does. baseline may be "".
// data is a folder under testdata/images (e.g. "mnist"). cfg may be nil (defaults).
func testEnv(t testing.TB, candidate, baseline, data string, cfg *config.Config) *Env {
	t.Helper()
	if cfg == nil {
		c := config.Defaults()
		cfg = &c
	}
	rt := ortlib.Runtime(t)
	stats := &onnx.Stats{}
	listing, err := dataset.List(filepath.Join(ortlib.RepoRoot(t), "testdata", "images", data))
	if err != nil {
		t.Fatal(err)
	}
	var classes *dataset.Classes
	if listing.FolderClasses != nil {
		if classes, err = dataset.FolderClasses(listing.FolderClasses, 10); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := dataset.Load(context.Background(), listing, dataset.Options{Classes: classes, MaxUnreadable: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Config: cfg, Data: ds, Out: t.TempDir()}
	env.Export = &failures.Exporter{Root: env.Out, MaxPerCheck: 8, Columns: 4}
	env.Candidate = testSubject(t, rt, stats, "candidate", candidate, cfg)
	if baseline != "" {
		env.Baseline = testSubject(t, rt, stats, "baseline", baseline, cfg)
	}
	return env
}

func testSubject(t testing.TB, rt *onnx.Runtime, stats *onnx.Stats, role, name string, cfg *config.Config) *Subject {
	t.Helper()
	path := name
	if !filepath.IsAbs(name) {
		path = ortlib.Model(t, name)
	}
	m, err := onnx.Open(rt, path, onnx.Options{BatchSize: cfg.Runtime.BatchSize, Threads: cfg.Runtime.Threads}, stats)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	spec, err := preprocess.Resolve(cfg.Preprocess, m.Input)
	if err != nil {
		t.Fatal(err)
	}
	proto, err := onnxproto.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return &Subject{Role: role, Name: name, Model: m, Spec: spec, Proto: proto, Info: &report.Model{Path: name}}
}
