package guard

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/dataset"
)

// TestSaveLoad: a written guard reads back to the same verdicts, and a guard.json someone edited
// into nonsense is refused with the fields at fault.
func TestSaveLoad(t *testing.T) {
	p, _ := openProbe(t, "mnist_cnn.onnx")
	ref, labels := idxSet(t, mnistDir(t), "train", 1000)
	g, obs, err := Learn(context.Background(), p, ref, labels, BuildOptions{TargetFRR: 0.05, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := g.WriteFolder(dir, p); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, got := g.JudgeAll(obs), back.JudgeAll(obs)
	for i := range want {
		if want[i].Reject != got[i].Reject || math.Float64bits(want[i].Score) != math.Float64bits(got[i].Score) {
			t.Fatalf("image %d: %+v after a round trip, %+v before", i, got[i], want[i])
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		edit    func(m map[string]any)
		wantErr string
	}{
		{"unknown field", func(m map[string]any) { m["surprise"] = 1 }, "unknown field"},
		{"schema", func(m map[string]any) { m["schema_version"] = 99 }, "schema_version 99"},
		{"score", func(m map[string]any) { m["score"] = "magic" }, `score "magic"`},
		{"sha", func(m map[string]any) { m["model"].(map[string]any)["sha256"] = "abc" }, "model.sha256"},
		{"matrix", func(m map[string]any) {
			m["mahalanobis"].(map[string]any)["whitening"].(map[string]any)["data"] = "AAAA"
		}, "holds 3 bytes"},
		{"huge matrix", func(m map[string]any) { m["mahalanobis"].(map[string]any)["dim"] = 1 << 20 }, "out of range"},
		{"bounds", func(m map[string]any) {
			m["input_checks"].(map[string]any)["tensor_mean"].(map[string]any)["lo"] = 5
		}, "bounds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			tc.edit(m)
			b, _ := json.Marshal(m)
			path := filepath.Join(t.TempDir(), FileName)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// TestInputsOnly: without a model the guard still rejects blank, constant and noise frames by
// their properties, and calibrates its false-reject rate the same way.
func TestInputsOnly(t *testing.T) {
	ref, _ := idxSet(t, mnistDir(t), "train", 1000)
	p, _ := openProbe(t, "mnist_cnn.onnx")
	obs, err := ObserveInputs(context.Background(), ref, p.Spec)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(obs, BuildOptions{TargetFRR: 0.05, Seed: 1, InputsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if g.Score != ScoreNone || g.Energy != nil || g.Mahalanobis != nil {
		t.Fatalf("guard %s with energy %v, mahalanobis %v", g.Score, g.Energy != nil, g.Mahalanobis != nil)
	}
	names, imgs := abnormalInputs(t, 28, 28, 1, 10)
	ao, err := ObserveInputs(context.Background(), imgs, p.Spec)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range g.JudgeAll(ao) {
		if !v.Reject || !v.InputRejected {
			t.Errorf("%s passed the input checks", names[i])
		}
	}
	if _, err := g.Additions(p.Graph); err == nil {
		t.Error("a guarded model from input checks alone: no error")
	}
}

func TestOverlap(t *testing.T) {
	ref, _ := idxSet(t, mnistDir(t), "t10k", 20)
	a, b := &dataset.Dataset{}, &dataset.Dataset{}
	for i, img := range ref {
		a.Items = append(a.Items, dataset.Item{Entry: dataset.Entry{Path: "ref/" + itoa(i)}, Image: img})
	}
	// b holds a copy of ref[7] under another name, and an image of its own.
	other, _ := idxSet(t, mnistDir(t), "train", 1)
	b.Items = append(b.Items, dataset.Item{Entry: dataset.Entry{Path: "ood/x.png"}, Image: ref[7].Clone()},
		dataset.Item{Entry: dataset.Entry{Path: "ood/y.png"}, Image: other[0]})
	err := CheckOverlap(a, b)
	oe, ok := err.(*OverlapError)
	if !ok || len(oe.Pairs) != 1 || oe.Pairs[0] != [2]string{"ref/7", "ood/x.png"} {
		t.Fatalf("overlap: %v", err)
	}
	if err := CheckOverlap(a, &dataset.Dataset{Items: b.Items[1:]}); err != nil {
		t.Errorf("disjoint sets: %v", err)
	}
}
