package checks

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/report"
)

// Check IDs. They are stable: they appear in config, reports and JSON.
const (
	IDModelLoad      = "model.load"
	IDModelSignature = "model.signature"
	IDModelNumerics  = "model.numerics"
)

// ModelLoad reports what ONNX Runtime loaded: format versions, size, load time, and that external
// data stays inside the repository.
type ModelLoad struct{}

// ID implements Check.
func (ModelLoad) ID() string { return IDModelLoad }

// Common implements Toggled.
func (ModelLoad) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.ModelLoad.Common, true
}

// Title implements Check.
func (ModelLoad) Title() string { return "Model loads in ONNX Runtime" }

// Run implements Check.
func (ModelLoad) Run(ctx context.Context, env *Env) (*report.Result, error) {
	s := env.Candidate
	cfg := env.Config.Thresholds.ModelLoad
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{}}
	sizeMB := float64(s.Model.SizeBytes) / (1 << 20)
	res.Metrics["size_mb"] = round(sizeMB)
	res.Metrics["load_seconds"] = round(s.Model.LoadDuration.Seconds())
	var facts []string
	var problems []string
	if p := s.Proto; p != nil {
		res.Metrics["ir_version"] = float64(p.IRVersion)
		for _, o := range p.OpsetImports {
			if o.Domain == "" || o.Domain == "ai.onnx" {
				res.Metrics["opset"] = float64(o.Version)
			}
		}
		facts = append(facts, fmt.Sprintf("IR %d, opset %s", p.IRVersion, opsetText(res.Metrics)))
		root := s.RepoRoot
		if root == "" {
			root = filepath.Dir(s.Model.Path)
		}
		if err := p.CheckExternalData(s.Model.Path, root); err != nil {
			problems = append(problems, err.Error())
		}
		if len(p.ExternalData) > 0 {
			facts = append(facts, count(len(p.ExternalData), "external data file", "external data files"))
		}
	}
	facts = append(facts, fmt.Sprintf("%.2f MB", sizeMB), fmt.Sprintf("loaded in %.2fs", s.Model.LoadDuration.Seconds()))
	if cfg.MaxSizeMB > 0 {
		res.Threshold = fmt.Sprintf("size <= %g MB", cfg.MaxSizeMB)
		if sizeMB > cfg.MaxSizeMB {
			problems = append(problems, fmt.Sprintf("the model is %.2f MB, over max_size_mb %g", sizeMB, cfg.MaxSizeMB))
		}
	}
	if b := env.Baseline; b != nil {
		res.BaselineMetrics = map[string]float64{
			"size_mb":      round(float64(b.Model.SizeBytes) / (1 << 20)),
			"load_seconds": round(b.Model.LoadDuration.Seconds()),
		}
		d := float64(s.Model.SizeBytes-b.Model.SizeBytes) / float64(max(b.Model.SizeBytes, 1))
		res.VsBaseline = fmt.Sprintf("size %+.1f%%", 100*d)
	}
	res.Summary = strings.Join(facts, ", ")
	if len(problems) > 0 {
		res.Status = report.StatusFail
		res.Summary = problems[0]
		res.Details = append(res.Details, report.Section{Text: strings.Join(problems, "\n\n")})
	}
	return res, nil
}

func opsetText(m map[string]float64) string {
	if v, ok := m["opset"]; ok {
		return fmt.Sprint(int64(v))
	}
	return "unknown"
}

// ModelSignature lists the model's inputs and outputs and, with a baseline, flags breaking
// interface changes: a renamed or removed input, a changed element type, rank or fixed dimension,
// or a changed number of classes.
type ModelSignature struct{}

// ID implements Check.
func (ModelSignature) ID() string { return IDModelSignature }

// Common implements Toggled.
func (ModelSignature) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.ModelSignature.Common, true
}

// Title implements Check.
func (ModelSignature) Title() string { return "Input/output signature" }

// Run implements Check.
func (ModelSignature) Run(ctx context.Context, env *Env) (*report.Result, error) {
	c := env.Candidate
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{
		"inputs":  float64(len(c.Model.Inputs)),
		"outputs": float64(len(c.Model.Outputs)),
	}}
	sig := tableOf("role", "name", "dtype", "shape")
	for _, t := range c.Model.Inputs {
		addRow(sig, "input", t.Name, t.ElemType, t.ShapeString())
	}
	for _, t := range c.Model.Outputs {
		addRow(sig, "output", t.Name, t.ElemType, t.ShapeString())
	}
	res.Summary = fmt.Sprintf("%s %s %s -> %s %s; fed as %s", c.Model.Input.Name, c.Model.Input.ElemType, c.Model.Input.ShapeString(),
		c.Model.Output.Name, c.Model.Output.ShapeString(), c.Spec.Describe())
	res.Details = append(res.Details, report.Section{Title: "Signature", Table: sig},
		report.Section{Title: "Preprocessing", Text: c.Spec.Describe() + ". Source: " + c.Spec.Source + "."})
	b := env.Baseline
	if b == nil {
		res.VsBaseline = ""
		return res, nil
	}
	sigCfg := env.Config.Thresholds.ModelSignature
	changes := signatureChanges(b.Model, c.Model, sigCfg.Renames)
	if b.Spec.Describe() != c.Spec.Describe() {
		changes = append(changes, change{breaking: true, what: fmt.Sprintf("preprocessing changed: %s -> %s", b.Spec.Describe(), c.Spec.Describe())})
	}
	changes = append(changes, classListChanges(b, c)...)
	breaking := 0
	diff := tableOf("change", "breaking")
	for _, ch := range changes {
		mark := "no"
		if ch.breaking {
			mark = "**yes**"
			breaking++
		}
		addRow(diff, ch.what, mark)
	}
	res.Metrics["breaking_changes"] = float64(breaking)
	res.Metrics["changes"] = float64(len(changes))
	res.Threshold = "no breaking change"
	if env.Config.Thresholds.ModelSignature.AllowBreaking {
		res.Threshold = "breaking changes allowed (warn)"
	}
	switch {
	case len(changes) == 0:
		res.VsBaseline = "unchanged"
	case breaking == 0:
		res.VsBaseline = count(len(changes), "compatible change", "compatible changes")
	default:
		res.VsBaseline = count(breaking, "breaking change", "breaking changes")
		res.Status = report.StatusFail
		if env.Config.Thresholds.ModelSignature.AllowBreaking {
			res.Status = report.StatusWarn
		}
		res.Summary = "breaking interface change: " + firstBreaking(changes)
		res.Details = append(res.Details, report.Section{Title: "To accept it", Text: acceptText(b.Model, c.Model, sigCfg.Renames)})
	}
	if len(changes) > 0 {
		res.Details = append(res.Details, report.Section{Title: "Changes vs baseline", Table: diff})
	}
	return res, nil
}

type change struct {
	breaking bool
	what     string
}

func firstBreaking(cs []change) string {
	for _, c := range cs {
		if c.breaking {
			return c.what
		}
	}
	return ""
}

// acceptText says how to accept a breaking change on purpose: a rename map for tensors that look
// renamed (one removed and one added of the same kind, element type and rank), or
// allow_breaking, which turns the failure into a warning.
func acceptText(old, cur *onnx.Model, renames map[string]string) string {
	var pairs []string
	for _, kind := range []struct{ a, b []onnx.TensorInfo }{{old.Inputs, cur.Inputs}, {old.Outputs, cur.Outputs}} {
		removed, added := onlyIn(kind.a, kind.b, renames), onlyIn(kind.b, kind.a, nil)
		if len(removed) == 1 && len(added) == 1 && removed[0].ElemType == added[0].ElemType && len(removed[0].Shape) == len(added[0].Shape) {
			pairs = append(pairs, fmt.Sprintf("%s: %s", yamlKey(removed[0].Name), yamlKey(added[0].Name)))
		}
	}
	text := "If the change is intended, set `thresholds.model.signature.allow_breaking: true` in .cvgate.yml: breaking changes then warn instead of failing."
	if len(pairs) > 0 {
		text = fmt.Sprintf("If a tensor was only renamed, declare it and the check compares it under its new name: `thresholds.model.signature.renames: {%s}`. ", strings.Join(pairs, ", ")) +
			"Or, for any intended breaking change, set `thresholds.model.signature.allow_breaking: true`: breaking changes then warn instead of failing."
	}
	return text
}

// onlyIn lists the tensors of a whose name (after renames) b lacks.
func onlyIn(a, b []onnx.TensorInfo, renames map[string]string) []onnx.TensorInfo {
	in := map[string]bool{}
	for _, t := range b {
		in[t.Name] = true
	}
	var out []onnx.TensorInfo
	for _, t := range a {
		name := t.Name
		if r, ok := renames[name]; ok {
			name = r
		}
		if !in[name] {
			out = append(out, t)
		}
	}
	return out
}

// yamlKey quotes a tensor name for a YAML flow mapping when it is not a plain word.
func yamlKey(s string) string {
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r == '/' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')) {
			return strconv.Quote(s)
		}
	}
	return s
}

// signatureChanges compares two models' interfaces. Relaxing a fixed dimension to a dynamic one
// is compatible; everything a caller depends on changing is breaking. renames maps the
// baseline's tensor names to the candidate's: a renamed tensor is compared under its new name,
// and the rename itself is a compatible change (the config says callers were updated).
func signatureChanges(old, cur *onnx.Model, renames map[string]string) []change {
	var out []change
	rename := func(n string) string {
		if r, ok := renames[n]; ok {
			return r
		}
		return n
	}
	diffSet := func(kind string, a, b []onnx.TensorInfo, used string) {
		am, bm := map[string]onnx.TensorInfo{}, map[string]onnx.TensorInfo{}
		for _, t := range a {
			if r := rename(t.Name); r != t.Name {
				out = append(out, change{what: fmt.Sprintf("%s %q renamed to %q (thresholds.model.signature.renames)", kind, t.Name, r)})
				t.Name = r
			}
			am[t.Name] = t
		}
		for _, t := range b {
			bm[t.Name] = t
		}
		var names []string
		for n := range am {
			names = append(names, n)
		}
		for n := range bm {
			if _, ok := am[n]; !ok {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			ot, inOld := am[n]
			nt, inNew := bm[n]
			switch {
			case inOld && !inNew:
				// Removing an input callers feed, or the output they read, breaks them.
				out = append(out, change{breaking: kind == "input" || n == used, what: fmt.Sprintf("%s %q removed", kind, n)})
			case !inOld && inNew:
				out = append(out, change{breaking: kind == "input", what: fmt.Sprintf("%s %q added", kind, n)})
			default:
				if ot.ElemType != nt.ElemType {
					out = append(out, change{breaking: true, what: fmt.Sprintf("%s %q element type %s -> %s", kind, n, ot.ElemType, nt.ElemType)})
				}
				if len(ot.Shape) != len(nt.Shape) {
					out = append(out, change{breaking: true, what: fmt.Sprintf("%s %q rank %d -> %d (%s -> %s)", kind, n, len(ot.Shape), len(nt.Shape), ot.ShapeString(), nt.ShapeString())})
					continue
				}
				for i := range ot.Shape {
					od, nd := ot.Shape[i], nt.Shape[i]
					switch {
					case od == nd:
					case nd < 0 && kind == "input":
						out = append(out, change{what: fmt.Sprintf("%s %q dimension %d relaxed to dynamic (%s -> %s)", kind, n, i, ot.ShapeString(), nt.ShapeString())})
					default:
						out = append(out, change{breaking: true, what: fmt.Sprintf("%s %q shape %s -> %s", kind, n, ot.ShapeString(), nt.ShapeString())})
					}
				}
			}
		}
	}
	diffSet("input", old.Inputs, cur.Inputs, rename(old.Input.Name))
	diffSet("output", old.Outputs, cur.Outputs, rename(old.Output.Name))
	if rename(old.Output.Name) != cur.Output.Name {
		out = append(out, change{breaking: true, what: fmt.Sprintf("class scores read from output %q, was %q", cur.Output.Name, old.Output.Name)})
	}
	return out
}

// ModelNumerics checks that outputs are finite, readable as probabilities or logits, and the same
// when the same input is run twice.
type ModelNumerics struct{}

// ID implements Check.
func (ModelNumerics) ID() string { return IDModelNumerics }

// Common implements Toggled.
func (ModelNumerics) Common(cfg *config.Config) (config.Common, bool) {
	return cfg.Thresholds.ModelNumerics.Common, true
}

// Title implements Check.
func (ModelNumerics) Title() string { return "Numerics: finite, stable outputs" }

// determinismSample is how many images are run a second time.
const determinismSample = 32

// Run implements Check.
func (ModelNumerics) Run(ctx context.Context, env *Env) (*report.Result, error) {
	if env.decoded() {
		return taskNumerics(ctx, env)
	}
	cfg := env.Config.Thresholds.ModelNumerics
	cand, _, err := env.Clean(ctx)
	if err != nil {
		return nil, err
	}
	s := env.Candidate
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{}}
	bad := 0
	var cases []failures.Case
	for r := 0; r < cand.Rows(); r++ {
		row := cand.Raw[r*cand.Classes : (r+1)*cand.Classes]
		if finiteRow(row) {
			continue
		}
		bad++
		it := env.Data.Items[cand.Indices[r]]
		if len(cases) < 64 {
			cases = append(cases, failures.Case{Image: s.Spec.View(it.Image), Path: it.Path, Label: env.className(it.Label),
				Predicted: "NaN", Confidence: math.NaN(), Perturbation: "clean", Severity: 1, Note: "output contains NaN or Inf"})
		}
	}
	share := float64(bad) / float64(max(cand.Rows(), 1))
	res.Metrics["nan_rows"] = float64(bad)
	res.Metrics["nan_share"] = round(share)

	// Determinism: the first images again, in a separate batch, must give the same raw outputs.
	n := min(determinismSample, cand.Rows())
	imgs := make([]*imaging.Image, n)
	for j := 0; j < n; j++ {
		imgs[j] = env.Data.Items[cand.Indices[j]].Image
	}
	raw, _, err := env.Forward(ctx, s, imgs)
	if err != nil {
		return nil, fmt.Errorf("repeat run: %w", err)
	}
	maxDiff := 0.0
	for i, v := range raw {
		a, b := float64(v), float64(cand.Raw[i])
		if math.IsNaN(a) && math.IsNaN(b) {
			continue
		}
		d := math.Abs(a - b)
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		maxDiff = math.Max(maxDiff, d)
	}
	res.Metrics["repeat_max_abs_diff"] = finite(maxDiff)

	kind := s.OutputKind()
	res.Metrics["outputs_are_probabilities"] = boolMetric(kind == onnx.Probabilities)
	res.Threshold = fmt.Sprintf("NaN/Inf share <= %s, repeat diff <= %g", pct(cfg.MaxNaNShare), cfg.Tolerance)
	var problems []string
	if share > cfg.MaxNaNShare {
		problems = append(problems, fmt.Sprintf("%d of %d images (%s) give NaN or Inf outputs", bad, cand.Rows(), pct(share)))
	}
	if maxDiff > cfg.Tolerance {
		problems = append(problems, fmt.Sprintf("the same %d images run twice differ by up to %.3g (tolerance %g): the model is not deterministic", n, maxDiff, cfg.Tolerance))
	}
	res.Summary = fmt.Sprintf("outputs finite on %d/%d images; %s; repeat diff %.2g", cand.Rows()-bad, cand.Rows(), kind.Describe(), maxDiff)
	if len(problems) > 0 {
		res.Status = report.StatusFail
		res.Summary = strings.Join(problems, "; ")
	}
	env.export(res, IDModelNumerics, cases, bad)
	return res, nil
}

func finiteRow(row []float32) bool {
	for _, v := range row {
		if v != v || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

func boolMetric(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
