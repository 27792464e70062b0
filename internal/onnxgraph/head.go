package onnxgraph

import (
	"fmt"
	"strings"
)

// Head is where a classifier's class scores come from: the logits (the class scores before any
// softmax), and the penultimate activations (the input of the final linear layer that computes
// them), found by walking back from the class-score output.
type Head struct {
	// Output is the class-score output the walk started from.
	Output string
	// Logits is the tensor of unnormalized class scores: Output itself, or the input of the
	// softmax that produces it.
	Logits string
	// Softmax says that Output is a softmax (or log-softmax) of Logits.
	Softmax bool
	// Features is the input of the final Gemm or MatMul layer; empty when none was found, and
	// then FeaturesNote says why.
	Features     string
	FeaturesNote string
	// Layer describes the final layer, e.g. "Gemm /fc2/Gemm (transB=1)".
	Layer string
	// PreActivation is the input of the elementwise activation that produces Features, when that
	// activation is applied to the output of a linear layer (Features = Relu(Gemm(...))): the
	// values before the activation zeroed or squashed them. Empty otherwise.
	PreActivation string
	// Activation is that activation's operator, e.g. "Relu".
	Activation string
}

// activations are the elementwise activations PreActivation steps back through.
var activations = map[string]bool{"Relu": true, "LeakyRelu": true, "Elu": true, "Selu": true, "Sigmoid": true, "Tanh": true,
	"HardSigmoid": true, "HardSwish": true, "Softplus": true, "Gelu": true, "PRelu": true, "Clip": true, "Mish": true}

// linear are the operators whose output PreActivation accepts as the input of an activation.
var linear = map[string]bool{"Gemm": true, "MatMul": true, "Add": true, "BatchNormalization": true}

// preActivation fills PreActivation when Features is an activation of a linear layer's output.
func (g *Graph) preActivation(h *Head) {
	i := g.Producer(h.Features)
	if i < 0 || !activations[g.Nodes[i].OpType] || len(g.Nodes[i].Inputs) == 0 {
		return
	}
	in := g.Nodes[i].Inputs[0]
	if j := g.Producer(in); j >= 0 && linear[g.Nodes[j].OpType] {
		h.PreActivation, h.Activation = in, g.Nodes[i].OpType
	}
}

// passThrough are operators that reshape or relabel class scores without changing what they
// say: the walk from the output goes through them to the layer that computes the scores.
var passThrough = map[string]bool{"Identity": true, "Flatten": true, "Reshape": true, "Squeeze": true, "Cast": true, "Dropout": true}

// FindHead walks back from the class-score output to the logits and the final linear layer.
func (g *Graph) FindHead(output string) (Head, error) {
	h := Head{Output: output, Logits: output}
	if _, ok := g.Output(output); !ok {
		return h, fmt.Errorf("the model has no output %q", output)
	}
	cur := output
	for steps := 0; steps < len(g.Nodes)+1; steps++ {
		i := g.Producer(cur)
		if i < 0 {
			h.FeaturesNote = fmt.Sprintf("the class scores %q are a graph input or a constant, not computed by a layer", cur)
			return h, nil
		}
		n := g.Nodes[i]
		if n.Domain != "" && n.Domain != "ai.onnx" {
			h.FeaturesNote = fmt.Sprintf("the class scores come from %s, an operator of domain %q", describe(n), n.Domain)
			return h, nil
		}
		switch {
		case n.OpType == "Softmax" || n.OpType == "LogSoftmax":
			if h.Softmax {
				h.FeaturesNote = "the class scores pass through two softmax layers"
				return h, nil
			}
			h.Softmax = true
			h.Logits = n.Inputs[0]
			cur = n.Inputs[0]
		case passThrough[n.OpType] && len(n.Inputs) > 0:
			cur = n.Inputs[0]
		case n.OpType == "Gemm":
			if n.Attrs["transA"].Int != 0 {
				h.FeaturesNote = fmt.Sprintf("the final layer %s multiplies a transposed input (transA=1)", describe(n))
				return h, nil
			}
			h.Features, h.Layer = n.Inputs[0], describe(n)
			if n.Attrs["transB"].Int != 0 {
				h.Layer += " (transB=1)"
			}
			g.preActivation(&h)
			return h, nil
		case n.OpType == "MatMul":
			h.Features, h.Layer = n.Inputs[0], describe(n)
			g.preActivation(&h)
			return h, nil
		case n.OpType == "Add" && len(n.Inputs) == 2:
			// A bias added to a MatMul: the matrix product is the layer.
			next := ""
			for k, in := range n.Inputs {
				if p := g.Producer(in); p >= 0 && g.Nodes[p].OpType == "MatMul" {
					if _, isConst := g.Initializers[n.Inputs[1-k]]; isConst || g.isConstant(n.Inputs[1-k]) {
						next = in
					}
				}
			}
			if next == "" {
				h.FeaturesNote = fmt.Sprintf("the class scores come from %s, which adds two computed values rather than a bias to a matrix product", describe(n))
				return h, nil
			}
			cur = next
		default:
			h.FeaturesNote = fmt.Sprintf("the class scores come from %s, not from a Gemm or MatMul layer", describe(n))
			return h, nil
		}
	}
	h.FeaturesNote = "the graph has a cycle"
	return h, nil
}

// isConstant reports whether name is the output of a Constant node.
func (g *Graph) isConstant(name string) bool {
	i := g.Producer(name)
	return i >= 0 && g.Nodes[i].OpType == "Constant"
}

// describe names a node for messages, quoted: names and operator types come from the model file.
func describe(n Node) string {
	if n.Name == "" {
		return fmt.Sprintf("%q (output %q)", n.OpType, strings.Join(n.Outputs, ", "))
	}
	return fmt.Sprintf("%q %q", n.OpType, n.Name)
}
