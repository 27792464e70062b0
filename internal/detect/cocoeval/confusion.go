package cocoeval

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/cvgate/cvgate/internal/detect/box"
)

// Confusion counts detections against ground truth regardless of class: Counts[true][predicted]
// over K classes plus a background index K. Row K holds detections that found no object (false
// positives by predicted class); column K holds objects that no detection found (misses by true
// class); off-diagonal cells inside K x K are boxes found with the wrong class.
type Confusion struct {
	K      int
	Counts [][]int
}

// NewConfusion returns an empty matrix for k classes.
func NewConfusion(k int) *Confusion {
	c := &Confusion{K: k, Counts: make([][]int, k+1)}
	for i := range c.Counts {
		c.Counts[i] = make([]int, k+1)
	}
	return c
}

// Add counts one image: detections scoring at least scoreThr are paired with objects one to one,
// highest IoU first (ties: higher score, then lower indices), pairs below iouThr never. Crowd and
// difficult objects are not counted, and detections on them are not false positives.
func (c *Confusion) Add(im Image, iouThr, scoreThr float64) error {
	type pair struct {
		g, d  int
		iou   float64
		score float64
	}
	var pairs []pair
	var dets []int
	for j, d := range im.Dets {
		if d.Score < scoreThr {
			continue
		}
		if d.Class < 0 || d.Class >= c.K {
			return fmt.Errorf("confusion matrix: detection %d has class %d outside 0..%d", j, d.Class, c.K-1)
		}
		dets = append(dets, j)
	}
	for g, o := range im.GT {
		if o.Class < 0 || o.Class >= c.K {
			return fmt.Errorf("confusion matrix: object %d has class %d outside 0..%d", g, o.Class, c.K-1)
		}
		if o.Ignored() {
			continue
		}
		for _, j := range dets {
			if v := box.IoU(o.Box, im.Dets[j].Box); v >= iouThr && v > 0 {
				pairs = append(pairs, pair{g, j, v, im.Dets[j].Score})
			}
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		return cmp.Or(cmp.Compare(b.iou, a.iou), cmp.Compare(b.score, a.score), cmp.Compare(a.d, b.d), cmp.Compare(a.g, b.g))
	})
	usedG, usedD := make([]bool, len(im.GT)), make([]bool, len(im.Dets))
	for _, p := range pairs {
		if usedG[p.g] || usedD[p.d] {
			continue
		}
		usedG[p.g], usedD[p.d] = true, true
		c.Counts[im.GT[p.g].Class][im.Dets[p.d].Class]++
	}
	for g, o := range im.GT {
		if !o.Ignored() && !usedG[g] {
			c.Counts[o.Class][c.K]++
		}
	}
	for _, j := range dets {
		if usedD[j] || onIgnored(im, im.Dets[j].Box, iouThr) {
			continue
		}
		c.Counts[c.K][im.Dets[j].Class]++
	}
	return nil
}

// onIgnored reports whether a detection lies on a crowd or difficult object (crowds by COCO's
// overlap over the detection's area).
func onIgnored(im Image, b box.Box, iouThr float64) bool {
	for _, o := range im.GT {
		if !o.Ignored() {
			continue
		}
		v := box.IoU(b, o.Box)
		if o.Crowd {
			v = box.CrowdIoU(b, o.Box)
		}
		if v >= iouThr && v > 0 {
			return true
		}
	}
	return false
}
