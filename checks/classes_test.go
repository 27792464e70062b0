package checks

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/onnxproto"
	"github.com/cvgate/cvgate/report"
)

func TestParseLabelList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`["cat", "dog"]`, []string{"cat", "dog"}},
		{`{"1": "dog", "0": "cat"}`, []string{"cat", "dog"}},
		{`{0: 'person', 1: 'bicycle', 2: "traffic light"}`, []string{"person", "bicycle", "traffic light"}},
		{"cat\ndog\n", []string{"cat", "dog"}},
		{"cat, dog,bird", []string{"cat", "dog", "bird"}},
		{"", nil},
		{`{"0": "cat", "2": "dog"}`, nil}, // a gap in the indices: not a class list
		{`{"a": "cat"}`, nil},
		{`[1, 2]`, nil},
	}
	for _, tc := range tests {
		if got := parseLabelList(tc.in); !cmp.Equal(got, tc.want) {
			t.Errorf("parseLabelList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func labelled(classes int64, meta ...string) *Subject {
	s := &Subject{Model: &onnx.Model{Output: onnx.TensorInfo{Name: "logits", Shape: []int64{-1, classes}}}, Proto: &onnxproto.Model{}}
	for i := 0; i+1 < len(meta); i += 2 {
		s.Proto.Metadata = append(s.Proto.Metadata, onnxproto.MetadataEntry{Key: meta[i], Value: meta[i+1]})
	}
	return s
}

func TestClassListChanges(t *testing.T) {
	tests := []struct {
		name         string
		old, cur     *Subject
		wantBreaking int
		wantText     string
	}{
		{name: "same", old: labelled(3, "labels", "a,b,c"), cur: labelled(3, "Labels", `["a","b","c"]`)},
		{name: "no metadata", old: labelled(3), cur: labelled(3)},
		{name: "count", old: labelled(3), cur: labelled(4), wantBreaking: 1, wantText: "class count 3 -> 4"},
		{name: "reordered", old: labelled(3, "names", "a,b,c"), cur: labelled(3, "names", "b,a,c"), wantBreaking: 1, wantText: `"a" 0 -> 1`},
		{name: "renamed", old: labelled(3, "classes", "a,b,c"), cur: labelled(3, "classes", "a,b,x"), wantBreaking: 2, wantText: `classes added: "x" at 2`},
		{name: "labels added", old: labelled(3), cur: labelled(3, "labels", "a,b,c"), wantText: "class names added"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			changes := classListChanges(tc.old, tc.cur)
			breaking := 0
			var texts []string
			for _, c := range changes {
				if c.breaking {
					breaking++
				}
				texts = append(texts, c.what)
			}
			if breaking != tc.wantBreaking {
				t.Errorf("%d breaking changes %q, want %d", breaking, texts, tc.wantBreaking)
			}
			if all := strings.Join(texts, "; "); !strings.Contains(all, tc.wantText) || (tc.wantText == "" && all != "") {
				t.Errorf("changes %q, want %q", all, tc.wantText)
			}
		})
	}
}

// TestSignatureChangeIsBreaking: a model whose input became [N,1,32,32] must fail model.signature
// against the [N,1,28,28] baseline, and pass with allow_breaking as a warning.
func TestSignatureChangeIsBreaking(t *testing.T) {
	env := testEnv(t, "mnist_sig_changed.onnx", "mnist_cnn.onnx", "mnist", nil)
	res, err := ModelSignature{}.Run(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != report.StatusFail || res.Metrics["breaking_changes"] < 1 || !strings.Contains(res.Summary, "breaking") {
		t.Fatalf("status %s, %v: %s", res.Status, res.Metrics, res.Summary)
	}
	// The input was renamed and resized: the diff lists the old input removed and the new added.
	var changes []string
	for _, d := range res.Details {
		if d.Title == "Changes vs baseline" {
			for _, row := range d.Table.Rows {
				changes = append(changes, row[0])
			}
		}
	}
	all := strings.Join(changes, "; ")
	if !strings.Contains(all, `input "input" removed`) || !strings.Contains(all, `input "images" added`) {
		t.Errorf("changes %q should name the removed and the added input", all)
	}
	env.Config.Thresholds.ModelSignature.AllowBreaking = true
	res, err = ModelSignature{}.Run(context.Background(), env)
	if err != nil || res.Status != report.StatusWarn {
		t.Errorf("allow_breaking: %v %v", res.Status, err)
	}
}
