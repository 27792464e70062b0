// Package cocoeval evaluates object detections the way pycocotools' COCOeval does for bounding
// boxes (iouType "bbox"), to 1e-4 on every number: the 12 summary statistics, per-class AP, crowd
// regions, area ranges, max-detection cut-offs and the 101-point interpolated precision. Beyond
// COCOeval it keeps per-image records, so that the summary over any multiset of images (a
// bootstrap resample, a slice) is recomputed without matching again, and it gives what a
// deployment needs: precision, recall and F1 at a score threshold, the confusion matrix with a
// background row and column, PR curves, and per-image matched / missed / false-positive lists.
package cocoeval

import (
	"fmt"
	"slices"
)

// eps is numpy's spacing(1), which pycocotools adds to precision denominators.
const eps = 2.220446049250313e-16

// maxThresholds bounds the IoU thresholds: match flags are bits of a uint32.
const maxThresholds = 32

// AreaRange is a COCO object-size range; an object belongs when Lo <= area <= Hi.
type AreaRange struct {
	Name   string
	Lo, Hi float64
}

// Areas are COCO's ranges in the order of its summary: all, small (< 32²), medium (32² to 96²),
// large (> 96²). The bounds are inclusive at both ends, as in pycocotools (an area of exactly
// 1024 is both small and medium).
var Areas = [areaCount]AreaRange{
	{"all", 0, 1e10}, {"small", 0, 32 * 32}, {"medium", 32 * 32, 96 * 96}, {"large", 96 * 96, 1e10},
}

const areaCount = 4

// Params configure an evaluation.
type Params struct {
	NumClasses int
	// IoUThresholds are the matching thresholds, ascending; COCO's are 0.50:0.05:0.95.
	IoUThresholds []float64
	// MaxDets are the per-image, per-class detection cut-offs, ascending; COCO's are 1, 10, 100.
	// The summary's AR@MaxDets[0], AR@MaxDets[1] and the other statistics at MaxDets[2] follow
	// COCOeval's positions, so exactly three are required.
	MaxDets []int
	// OperatingIoU is the threshold of the per-image match lists, precision/recall/F1 and
	// regression flips (a deployment's operating point); 0.5 unless set.
	OperatingIoU float64
}

// DefaultParams are COCOeval's defaults for numClasses classes.
func DefaultParams(numClasses int) Params {
	return Params{
		NumClasses:    numClasses,
		IoUThresholds: linspace(0.5, 0.95, 10),
		MaxDets:       []int{1, 10, 100},
		OperatingIoU:  0.5,
	}
}

// RecallThresholds are COCO's 101 recall points 0, 0.01, ..., 1.
func RecallThresholds() []float64 { return linspace(0, 1, 101) }

// linspace reproduces numpy.linspace(start, stop, n) bit for bit: start + i*step with step
// rounded once, and the last point set to stop. pycocotools compares IoUs and recalls against
// these values, so a threshold off by one ulp could flip a match.
func linspace(start, stop float64, n int) []float64 {
	out := make([]float64, n)
	step := (stop - start) / float64(n-1)
	for i := range out {
		out[i] = float64(i)*step + start
	}
	out[n-1] = stop
	return out
}

func (p Params) validate() error {
	if p.NumClasses <= 0 {
		return fmt.Errorf("evaluation needs at least one class, got %d", p.NumClasses)
	}
	if n := len(p.IoUThresholds); n == 0 || n > maxThresholds {
		return fmt.Errorf("evaluation needs 1 to %d IoU thresholds, got %d", maxThresholds, n)
	}
	if !slices.IsSorted(p.IoUThresholds) || p.IoUThresholds[0] <= 0 || p.IoUThresholds[len(p.IoUThresholds)-1] > 1 {
		return fmt.Errorf("IoU thresholds %v must ascend within (0, 1]", p.IoUThresholds)
	}
	if len(p.MaxDets) != 3 || !slices.IsSorted(p.MaxDets) || p.MaxDets[0] <= 0 {
		return fmt.Errorf("max detections %v must be three ascending positive cut-offs (COCO: 1, 10, 100)", p.MaxDets)
	}
	if p.OperatingIoU < 0 || p.OperatingIoU > 1 {
		return fmt.Errorf("operating IoU %v must lie in [0, 1]", p.OperatingIoU)
	}
	return nil
}

// thresholdIndex is the index of an IoU threshold equal to v, or -1 (pycocotools compares exactly).
func (p Params) thresholdIndex(v float64) int {
	for i, t := range p.IoUThresholds {
		if t == v {
			return i
		}
	}
	return -1
}
