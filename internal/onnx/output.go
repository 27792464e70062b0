package onnx

import "math"

// OutputKind says how a model's class scores are to be read.
type OutputKind string

// The output kinds.
const (
	Logits        OutputKind = "logits"
	Probabilities OutputKind = "probabilities"
)

// Describe is the phrase the report uses for an output kind.
func (k OutputKind) Describe() string {
	if k == Probabilities {
		return "probabilities (used as given)"
	}
	return "logits (softmax applied)"
}

// DetectKind decides whether rows of width values are probabilities (every finite row lies in
// [0,1] and sums to 1) or logits. Rows with NaN or Inf are ignored; with no usable row the answer
// is logits, since softmax is the safe reading of unknown scores.
func DetectKind(rows []float32, width int) OutputKind {
	if width <= 0 {
		return Logits
	}
	usable := 0
	for r := 0; r+width <= len(rows); r += width {
		row := rows[r : r+width]
		sum, finite := 0.0, true
		for _, v := range row {
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				finite = false
				break
			}
			if f < -1e-6 || f > 1+1e-6 {
				return Logits
			}
			sum += f
		}
		if !finite {
			continue
		}
		if math.Abs(sum-1) > 1e-3 {
			return Logits
		}
		usable++
	}
	if usable == 0 {
		return Logits
	}
	return Probabilities
}

// ToProbabilities converts rows of scores to probabilities in place of a new slice: softmax for
// logits (numerically stable), a copy for probabilities. A row with NaN stays NaN, so that callers
// can see it.
func ToProbabilities(raw []float32, width int, kind OutputKind) []float32 {
	out := make([]float32, len(raw))
	ToProbabilitiesInto(out, raw, width, kind)
	return out
}

// ToProbabilitiesInto is ToProbabilities writing into out (len(raw) values), for callers that
// keep their buffers.
func ToProbabilitiesInto(out, raw []float32, width int, kind OutputKind) {
	out = out[:len(raw)]
	if kind == Probabilities {
		copy(out, raw)
		return
	}
	for r := 0; r+width <= len(raw); r += width {
		row := raw[r : r+width]
		mx := float32(math.Inf(-1))
		for _, v := range row {
			if v > mx {
				mx = v
			}
		}
		var sum float64
		for i, v := range row {
			e := math.Exp(float64(v - mx))
			out[r+i] = float32(e)
			sum += e
		}
		for i := range row {
			out[r+i] = float32(float64(out[r+i]) / sum)
		}
	}
}
