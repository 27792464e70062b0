package checks

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/preprocess"
	"github.com/cvgate/cvgate/report"
)

// numericsSample is how many images model.numerics runs through a decoded model (twice): its raw
// outputs (anchors, score maps) are not kept by the clean pass, which stores decoded predictions.
const numericsSample = 64

// taskNumerics is model.numerics for decoded tasks: every float output of a sample of images
// must be finite, and the same images run again (in other batches) must give the same outputs.
func taskNumerics(ctx context.Context, env *Env) (*report.Result, error) {
	cfg := env.Config.Thresholds.ModelNumerics
	cand, _, err := env.Clean(ctx)
	if err != nil {
		return nil, err
	}
	s := env.Candidate
	n := min(numericsSample, cand.Rows())
	items := cand.Indices[:n]
	first, err := env.rawOutputs(ctx, s, items)
	if err != nil {
		return nil, err
	}
	// The second run in reverse order, so every image lands in another batch position.
	rev := make([]int, n)
	for k := range rev {
		rev[k] = items[n-1-k]
	}
	second, err := env.rawOutputs(ctx, s, rev)
	if err != nil {
		return nil, fmt.Errorf("repeat run: %w", err)
	}
	bad, maxDiff := 0, 0.0
	for k := 0; k < n; k++ {
		a, b := first[k], second[n-1-k]
		finite := true
		for o := range a {
			for i := 0; i < a[o].Len(); i++ {
				x := a[o].Float(i)
				if math.IsNaN(x) || math.IsInf(x, 0) {
					finite = false
				}
				if o < len(b) && i < b[o].Len() {
					y := b[o].Float(i)
					if d := math.Abs(x - y); !math.IsNaN(d) {
						maxDiff = math.Max(maxDiff, d)
					} else if !(math.IsNaN(x) && math.IsNaN(y)) {
						maxDiff = math.Inf(1)
					}
				}
			}
			if o < len(b) && a[o].Len() != b[o].Len() {
				maxDiff = math.Inf(1) // a different number of detections for the same image
			}
		}
		if !finite {
			bad++
		}
	}
	share := float64(bad) / float64(max(n, 1))
	res := &report.Result{Status: report.StatusPass, Metrics: map[string]float64{
		"nan_rows": float64(bad), "nan_share": round(share), "repeat_max_abs_diff": finite(maxDiff), "images": float64(n),
	}}
	res.Threshold = fmt.Sprintf("NaN/Inf share <= %s, repeat diff <= %g", pct(cfg.MaxNaNShare), cfg.Tolerance)
	var problems []string
	if share > cfg.MaxNaNShare {
		problems = append(problems, fmt.Sprintf("%d of %d images (%s) give NaN or Inf outputs", bad, n, pct(share)))
	}
	if maxDiff > cfg.Tolerance {
		problems = append(problems, fmt.Sprintf("the same %d images run twice differ by up to %.3g (tolerance %g): the model is not deterministic", n, maxDiff, cfg.Tolerance))
	}
	res.Summary = fmt.Sprintf("outputs finite on %d/%d sampled images; %s; repeat diff %.2g", n-bad, n, s.Decoder.Describe(), maxDiff)
	if len(problems) > 0 {
		res.Status = report.StatusFail
		res.Summary = strings.Join(problems, "; ")
	}
	return res, nil
}

// rawOutputs runs dataset items through a subject and returns each image's output tensors (a
// batch's tensors split by their first dimension when it is the batch; whole otherwise).
func (e *Env) rawOutputs(ctx context.Context, s *Subject, items []int) ([][]onnx.Tensor, error) {
	per := s.Spec.SampleSize()
	var sc preprocess.Scratch
	var f32 []float32
	var u8 []uint8
	if s.Spec.DType == onnx.Uint8 {
		u8 = make([]uint8, len(items)*per)
	} else {
		f32 = make([]float32, len(items)*per)
	}
	for j, i := range items {
		img := e.Data.Items[i].Image
		if u8 != nil {
			s.Spec.ApplyUint8(img, u8[j*per:(j+1)*per], &sc)
		} else {
			s.Spec.Apply(img, f32[j*per:(j+1)*per], &sc)
		}
	}
	out := make([][]onnx.Tensor, 0, len(items))
	collect := func(start, count int, outs []onnx.Tensor) error {
		for j := 0; j < count; j++ {
			img := make([]onnx.Tensor, len(outs))
			for o, t := range outs {
				if s.Decoder.BatchOne() {
					img[o] = t // no batch dimension: the whole output is this image's
				} else {
					img[o] = rowOf(t, j, count)
				}
			}
			out = append(out, img)
		}
		return nil
	}
	var err error
	if u8 != nil {
		err = onnx.RunBatches(ctx, s.Model, u8, len(items), s.Spec.Dims, collect)
	} else {
		err = onnx.RunBatches(ctx, s.Model, f32, len(items), s.Spec.Dims, collect)
	}
	return out, err
}

// rowOf returns sample j of a batch tensor whose first dimension is the batch (at least count
// rows); a tensor without a batch dimension (batch-1 models) is returned whole.
func rowOf(t onnx.Tensor, j, count int) onnx.Tensor {
	if len(t.Shape) == 0 || t.Shape[0] < int64(count) || t.Shape[0] == 0 {
		return t
	}
	per := t.Len() / int(t.Shape[0])
	r := onnx.Tensor{Name: t.Name, Shape: append([]int64{1}, t.Shape[1:]...)}
	if t.F32 != nil {
		r.F32 = t.F32[j*per : (j+1)*per]
	} else {
		r.I64 = t.I64[j*per : (j+1)*per]
	}
	return r
}
