package guard

import (
	"fmt"
	"math"

	"github.com/cvgate/cvgate/internal/onnxgraph"
	"github.com/cvgate/cvgate/internal/onnxproto"
)

// prefix names every value, node and initializer the guard adds, so that none collides with the
// model's own (Append refuses a collision anyway).
const prefix = "cvgate_guard/"

// minOpset is the oldest default-domain opset the guard's nodes are written for: the
// broadcasting comparison and arithmetic operators it uses exist from opset 7 on.
const minOpset = 7

// Additions returns the nodes, initializers and outputs that compute the guard inside the model
// graph g: cvgate_ood_score (float, per image) is the guard's score computed from the model's own
// tensors, and cvgate_reject (bool, per image) is true when the score is above the threshold or
// the input tensor's mean or variance is out of its bounds. Each comparison is written so that a
// NaN rejects (NaN compares false, so "accept" is what is tested). The nodes follow the opset the
// model imports: reductions take their axes as an attribute before opsets 13 (ReduceSum) and 18
// (the others), and as an input from then on.
func (gd *Guard) Additions(g *onnxgraph.Graph) (onnxgraph.Additions, error) {
	var a onnxgraph.Additions
	if gd.Score == ScoreNone {
		return a, fmt.Errorf("the guard has input checks only, no model score for the guarded model to compute")
	}
	if g.Opset < minOpset {
		return a, fmt.Errorf("the model imports opset %d; the guard's operators need opset %d or later", g.Opset, minOpset)
	}
	in, ok := g.Input(gd.Model.Input)
	if !ok {
		return a, fmt.Errorf("the model has no input %q", gd.Model.Input)
	}
	out, ok := g.Output(gd.Model.Output)
	if !ok {
		return a, fmt.Errorf("the model has no output %q", gd.Model.Output)
	}
	b := &builder{opset: g.Opset}

	// Input checks on the tensor the model is fed: its mean m and variance v over its P elements
	// must lie in their bounds. Both come from two reductions that read the input once each,
	// the mean and the sum of squares s: P v = s - P m^2. One Gemm maps [m, s, m^2] to the
	// offsets from the bounds' centres, [m - c_m, P v - P c_v], and with r the bounds'
	// half-widths the check is max(|m - c_m| / r_m, |P v - P c_v| / (P r_v)) < 1: a handful of
	// nodes on [N, 3] tensors rather than four comparisons and their conjunctions (every node
	// costs ONNX Runtime about a microsecond whatever its size, which a guard on a small model
	// pays for).
	x := in.Name
	switch in.ElemType {
	case onnxproto.Float:
	case onnxproto.Uint8:
		x = b.node("Cast", []string{x}, "input_float", ints("to", int64(onnxproto.Float)))
	default:
		return a, fmt.Errorf("input %q has element type %s; the guard reads float or uint8 inputs", in.Name, in.ElemType)
	}
	p, err := elements(in)
	if err != nil {
		return a, err
	}
	flat := b.node("Flatten", []string{x}, "input_flat", ints("axis", 1))
	mean := b.reduce("ReduceMean", flat, "input_mean", 1, true)
	ss := b.reduce("ReduceSumSquare", flat, "input_sum_sq", 1, true)
	mean2 := b.node("Mul", []string{mean, mean}, "input_mean_sq", nil)
	moments := b.node("Concat", []string{mean, ss, mean2}, "input_moments", ints("axis", 1))
	mb, vb := gd.InputChecks.TensorMean, gd.InputChecks.TensorVariance
	// Rows: m, s, m^2; columns: m - c_m, s - P m^2 - P c_v.
	mix := []float32{1, 0, 0, 1, 0, float32(-p)}
	centre := []float32{float32(-(mb.Lo + mb.Hi) / 2), float32(-p * (vb.Lo + vb.Hi) / 2)}
	offset := b.node("Gemm", []string{moments, b.init("input_mix", []int64{3, 2}, mix), b.init("input_centre", []int64{2}, centre)}, "input_offset", nil)
	invHalf := []float32{float32(2 / (mb.Hi - mb.Lo)), float32(2 / (p * (vb.Hi - vb.Lo)))}
	rel := b.node("Mul", []string{b.node("Abs", []string{offset}, "input_deviation", nil), b.init("input_inv_half_width", []int64{2}, invHalf)}, "input_relative", nil)
	q := b.reduce("ReduceMax", rel, "input_excess", 1, false)
	okInput := b.node("Less", []string{q, b.scalar("one", 1)}, "input_ok", nil)

	// The score. Its last node writes cvgate_ood_score itself.
	var lse, maha1p string
	if gd.Score == ScoreEnergy || gd.Score == ScoreCombined {
		if gd.Energy.Temperature != 1 {
			return a, fmt.Errorf("energy temperature %g: the graph computes temperature 1 only", gd.Energy.Temperature)
		}
		lse = b.reduce("ReduceLogSumExp", gd.Model.Logits, "logsumexp", 1, false)
	}
	if gd.Score == ScoreMahalanobis || gd.Score == ScoreCombined {
		if maha1p, err = b.mahalanobis(gd); err != nil {
			return a, err
		}
	}
	switch gd.Score {
	case ScoreEnergy:
		b.nodeNamed("Neg", []string{lse}, OutputScore)
	case ScoreMahalanobis:
		b.nodeNamed("Sub", []string{maha1p, b.scalar("one_more", 1)}, OutputScore)
	case ScoreCombined:
		// (-lse - em)/es + (log(1+m) - lm)/ls, each mean subtracted before its scale: folding
		// the means into one offset (lse*(-1/es) + ... + offset) cancels catastrophically in
		// float32 when a score barely varies over the reference images (a tiny sd makes both
		// the scaled term and the offset huge), as on a MobileNetV2 with untrained weights.
		c := gd.Combined
		centredEnergy := b.node("Add", []string{lse, b.scalar("energy_mean", float32(c.EnergyMean))}, "energy_centred", nil)
		e := b.node("Mul", []string{centredEnergy, b.scalar("energy_weight", float32(-1/c.EnergySD))}, "energy_term", nil)
		centredMaha := b.node("Sub", []string{b.node("Log", []string{maha1p}, "log_mahalanobis", nil), b.scalar("log_mahalanobis_mean", float32(c.LogMahalanobisMean))}, "log_mahalanobis_centred", nil)
		l := b.node("Mul", []string{centredMaha, b.scalar("mahalanobis_weight", float32(1/c.LogMahalanobisSD))}, "mahalanobis_term", nil)
		b.nodeNamed("Add", []string{e, l}, OutputScore)
	default:
		return a, fmt.Errorf("score %q has no graph form", gd.Score)
	}
	// score <= t, written as score < nextUp(t) because LessOrEqual needs opset 12; NaN rejects.
	t := float32(gd.Threshold.Value)
	okScore := b.node("Less", []string{OutputScore, b.scalar("threshold", math.Nextafter32(t, float32(math.Inf(1))))}, "score_ok", nil)
	b.nodeNamed("Not", []string{b.node("And", []string{okInput, okScore}, "accept", nil)}, OutputReject)

	batch := onnxgraph.Dim{Size: -1, Param: "batch"}
	if len(out.Dims) > 0 {
		batch = out.Dims[0]
	}
	b.add.Outputs = append(b.add.Outputs,
		onnxgraph.Value{Name: OutputScore, ElemType: onnxproto.Float, HasShape: true, Dims: []onnxgraph.Dim{batch}},
		onnxgraph.Value{Name: OutputReject, ElemType: onnxproto.Bool, HasShape: true, Dims: []onnxgraph.Dim{batch}})
	return b.add, nil
}

// mahalanobis appends the class-conditional distance plus one, 1 + min_k |y - m_k|^2 with y the
// whitened features, and returns its output. It is |y|^2 + min_k (|m_k|^2 + 1 - 2 y.m_k): one
// Gemm gives every class's term, with the +1 (which the combined score's log needs) folded into
// its constant.
func (b *builder) mahalanobis(gd *Guard) (string, error) {
	m := gd.Mahalanobis
	if err := m.prepare(); err != nil {
		return "", err
	}
	if gd.Model.Features == "" {
		return "", fmt.Errorf("the guard has no feature tensor for its Mahalanobis score")
	}
	d, k := m.Dim, m.Classes
	w := b.init("whitening", []int64{int64(d), int64(d)}, toFloat32(m.w))
	// Classes without a mean get +Inf, so that they never win the minimum.
	bt := make([]float32, d*k)
	cc := make([]float32, k)
	for c := range k {
		if m.ClassCounts[c] == 0 {
			cc[c] = float32(math.Inf(1))
			continue
		}
		for j := range d {
			bt[j*k+c] = float32(-2 * m.mw[c*d+j])
		}
		cc[c] = float32(m.mm[c] + 1)
	}
	y := b.node("MatMul", []string{gd.Model.Features, w}, "whitened", nil)
	cross := b.node("Gemm", []string{y, b.init("means_x2", []int64{int64(d), int64(k)}, bt), b.init("means_norm_1p", []int64{int64(k)}, cc)}, "cross", nil)
	nearest := b.reduce("ReduceMin", cross, "nearest", 1, false)
	yy := b.reduce("ReduceSumSquare", y, "whitened_norm", 1, false)
	return b.node("Add", []string{nearest, yy}, "mahalanobis_1p", nil), nil
}

// elements is the number of values per image of the input (its shape without the batch).
func elements(in onnxgraph.Value) (float64, error) {
	if !in.HasShape || len(in.Dims) < 2 {
		return 0, fmt.Errorf("input %q declares no shape: the guard's input check needs the number of values per image", in.Name)
	}
	p := 1.0
	for _, d := range in.Dims[1:] {
		if d.Size <= 0 {
			return 0, fmt.Errorf("input %q has a dynamic dimension besides the batch: the guard's input check needs the image size fixed in the model", in.Name)
		}
		p *= float64(d.Size)
	}
	return p, nil
}

func ints(name string, v int64) map[string]int64 { return map[string]int64{name: v} }

func toFloat32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// builder accumulates the guard's nodes and initializers.
type builder struct {
	opset int64
	add   onnxgraph.Additions
}

func (b *builder) nodeNamed(op string, inputs []string, output string) {
	b.add.Nodes = append(b.add.Nodes, onnxgraph.NewNode{OpType: op, Name: prefix + output, Inputs: inputs, Outputs: []string{output}})
}

// node appends one node with one output, prefix+name, and returns that output.
func (b *builder) node(op string, inputs []string, name string, attrs map[string]int64) string {
	out := prefix + name
	b.add.Nodes = append(b.add.Nodes, onnxgraph.NewNode{OpType: op, Name: out, Inputs: inputs, Outputs: []string{out}, Ints: attrs})
	return out
}

func (b *builder) init(name string, dims []int64, v []float32) string {
	full := prefix + name
	b.add.Initializers = append(b.add.Initializers, onnxgraph.Tensor{Name: full, Dims: dims, Float32: v})
	return full
}

func (b *builder) scalar(name string, v float32) string { return b.init(name, []int64{}, []float32{v}) }

// reduce appends a reduction over one axis, with the axes as an attribute or an input as the
// opset requires.
func (b *builder) reduce(op, in, name string, axis int64, keep bool) string {
	keepdims := int64(0)
	if keep {
		keepdims = 1
	}
	axesAsInput := b.opset >= 18 || (op == "ReduceSum" && b.opset >= 13)
	out := prefix + name
	n := onnxgraph.NewNode{OpType: op, Name: out, Inputs: []string{in}, Outputs: []string{out}, Ints: map[string]int64{"keepdims": keepdims}}
	if axesAsInput {
		axes := prefix + name + "_axes"
		b.add.Initializers = append(b.add.Initializers, onnxgraph.Tensor{Name: axes, Dims: []int64{1}, Int64: []int64{axis}})
		n.Inputs = append(n.Inputs, axes)
	} else {
		n.IntList = map[string][]int64{"axes": {axis}}
	}
	b.add.Nodes = append(b.add.Nodes, n)
	return out
}
