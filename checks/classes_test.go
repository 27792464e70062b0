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
	// The failure says how to accept it: the rename it looks like, or allow_breaking.
	var accept string
	for _, d := range res.Details {
		if d.Title == "To accept it" {
			accept = d.Text
		}
	}
	if !strings.Contains(accept, "`thresholds.model.signature.renames: {input: images}`") || !strings.Contains(accept, "allow_breaking: true") {
		t.Errorf("no way to accept the change given: %q", accept)
	}
	env.Config.Thresholds.ModelSignature.AllowBreaking = true
	res, err = ModelSignature{}.Run(context.Background(), env)
	if err != nil || res.Status != report.StatusWarn {
		t.Errorf("allow_breaking: %v %v", res.Status, err)
	}
}

// TestSignatureRenames: a tensor renamed in thresholds.model.signature.renames is compared under
// its new name, so a pure rename is a compatible change; what else changed still counts.
func TestSignatureRenames(t *testing.T) {
	in := func(name string, shape ...int64) onnx.TensorInfo {
		return onnx.TensorInfo{Name: name, ElemType: "float", Shape: shape}
	}
	model := func(input, output onnx.TensorInfo) *onnx.Model {
		return &onnx.Model{Inputs: []onnx.TensorInfo{input}, Outputs: []onnx.TensorInfo{output}, Input: input, Output: output}
	}
	base := model(in("input", -1, 1, 28, 28), in("logits", -1, 10))
	tests := []struct {
		name     string
		cur      *onnx.Model
		renames  map[string]string
		breaking int
		want     string
	}{
		{"renamed, not declared", model(in("pixels", -1, 1, 28, 28), in("logits", -1, 10)), nil, 2, `input "input" removed`},
		{"renamed and declared", model(in("pixels", -1, 1, 28, 28), in("logits", -1, 10)), map[string]string{"input": "pixels"}, 0, `input "input" renamed to "pixels"`},
		{"output renamed and declared", model(in("input", -1, 1, 28, 28), in("scores", -1, 10)), map[string]string{"logits": "scores"}, 0, `output "logits" renamed to "scores"`},
		{"renamed and resized", model(in("pixels", -1, 1, 32, 32), in("logits", -1, 10)), map[string]string{"input": "pixels"}, 2, `input "pixels" shape [?,1,28,28] -> [?,1,32,32]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := signatureChanges(base, tt.cur, tt.renames)
			breaking := 0
			var all []string
			for _, c := range cs {
				all = append(all, c.what)
				if c.breaking {
					breaking++
				}
			}
			if breaking != tt.breaking || !strings.Contains(strings.Join(all, "; "), tt.want) {
				t.Errorf("changes %q (%d breaking), want %d breaking and %q", all, breaking, tt.breaking, tt.want)
			}
		})
	}
}
