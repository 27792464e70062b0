package config

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// unset says what an empty value of a key means: the value it resolves to (written in its place
// by Effective) or, when it depends on the model or the data, a comment saying how it is decided.
type unset struct {
	value   string // "" keeps the empty value and adds the comment
	comment string
}

// unsetMeanings are the keys whose empty value is decided later. Preprocessing's resolved values
// are internal/preprocess's defaults (TestEffectiveMatchesPreprocess there keeps them equal).
var unsetMeanings = map[string]unset{
	"models":                        {comment: "none given: --model or positional arguments (the action: the .onnx files the PR changes)"},
	"data":                          {comment: "none given: --data DIR|MANIFEST is required"},
	"labels":                        {comment: "class names from the folder names or the manifest's labels"},
	"baseline":                      {comment: "none (the action: the same file on the PR's base commit)"},
	"profile":                       {value: "quick"},
	"checks":                        {comment: "every enabled check"},
	"skip":                          {comment: "none"},
	"command":                       {value: "check"},
	"runtime.ort_lib":               {comment: "--ort-lib, then $ORT_LIB, the setup location, beside the binary, system paths"},
	"preprocess.preset":             {comment: "none"},
	"preprocess.size":               {comment: "the model's input size; when dynamic, the images' size if they all have one"},
	"preprocess.resize":             {value: "bilinear"},
	"preprocess.fit":                {value: "stretch"},
	"preprocess.pad_value":          {value: "114"},
	"preprocess.color":              {comment: "from the model's channel count: gray for 1, rgb for 3"},
	"preprocess.scale":              {comment: "1/255 for float32 inputs; uint8 inputs get raw bytes"},
	"preprocess.mean":               {comment: "none"},
	"preprocess.std":                {comment: "none"},
	"preprocess.input":              {comment: "the model's only input"},
	"preprocess.output":             {comment: "the model's only output"},
	"task":                          {comment: "inferred: annotation files mean detection, mask folders segmentation, else classification"},
	"annotations":                   {comment: "found in the data folder"},
	"detection.boxes_output":        {comment: "from the output names and shapes"},
	"detection.scores_output":       {comment: "from the output names and shapes"},
	"detection.labels_output":       {comment: "from the output names and shapes"},
	"segmentation.masks":            {comment: "found beside the images"},
	"segmentation.colors":           {comment: "none: masks hold class indices"},
	"thresholds.data.leakage.train": {comment: "none: data.leakage is skipped"},
	"thresholds.robust.corruptions.corruptions": {comment: "all 19"},
	"thresholds.perf.segments.attributes":       {comment: "every manifest column"},
	"thresholds.perf.segments.properties":       {comment: "every image property"},
	"thresholds.drift.reference":                {comment: "cvgate drift --reference"},
	"thresholds.drift.current":                  {comment: "cvgate drift --current"},
	"publish.comment_id":                        {value: "default"},
}

// Effective is the configuration as `cvgate config` prints it: the YAML of c with every default
// resolved. An empty value that stands for a default is replaced by it (resize: bilinear,
// enabled: true); one decided by the model or the data keeps its empty value with a comment
// saying how; an optional threshold left unset says so. The file it prints loads to the same
// configuration.
func (c Config) Effective() ([]byte, error) {
	var root yaml.Node
	if err := root.Encode(c); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	annotate(&root, "")
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return buf.Bytes(), enc.Close()
}

func annotate(n *yaml.Node, prefix string) {
	if n.Kind != yaml.MappingNode {
		for _, c := range n.Content {
			annotate(c, prefix)
		}
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := join(prefix, k.Value)
		if v.Kind == yaml.MappingNode {
			annotate(v, path)
			continue
		}
		if !isEmpty(v) {
			continue
		}
		m, known := unsetMeanings[path]
		switch {
		case known && m.value != "":
			*v = yaml.Node{Kind: yaml.ScalarNode, Value: m.value}
		case known:
			v.LineComment = m.comment
		case strings.HasSuffix(path, ".enabled"):
			*v = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"}
		case strings.HasPrefix(path, "thresholds.") && v.Tag == "!!null":
			v.LineComment = "not set: no limit"
		case strings.HasPrefix(path, "model_card."):
			v.LineComment = "not written: the model card marks where it is needed"
		case v.Kind == yaml.SequenceNode:
			v.LineComment = "none"
		default:
			v.LineComment = "not set"
		}
	}
}

func isEmpty(v *yaml.Node) bool {
	switch v.Kind {
	case yaml.ScalarNode:
		return v.Tag == "!!null" || (v.Tag == "!!str" && v.Value == "")
	case yaml.SequenceNode, yaml.MappingNode:
		return len(v.Content) == 0
	}
	return false
}

// UnsetMeaning is what an empty value of key resolves to in Effective ("" when it is decided by
// the model or the data), for the packages that own those defaults to test against.
func UnsetMeaning(key string) string { return unsetMeanings[key].value }
