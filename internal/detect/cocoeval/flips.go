package cocoeval

import (
	"fmt"

	"github.com/cvgate/cvgate/internal/detect/box"
)

// Flips are the detection analogue of a classifier's negative flips, between a baseline A and a
// candidate B on the same image, each at its own operating point.
type Flips struct {
	// Lost are objects A found and B misses; Gained the reverse.
	Lost, Gained []int
	// NewFalsePositives are B's false positives that no false positive of A of the same class
	// overlaps at the operating IoU: mistakes B makes and A did not.
	NewFalsePositives []int
	// Regressed is true when A got the image right (nothing missed, no false positive) and B
	// does not.
	Regressed bool
}

// Compare lists the flips on image i between evaluations a (baseline) and b (candidate) of the
// same images and ground truth, with detections counted from scoreA and scoreB on.
func Compare(a, b *Eval, i int, scoreA, scoreB float64) (Flips, error) {
	if a.nImages != b.nImages {
		return Flips{}, fmt.Errorf("compare evaluations of %d and %d images: they must cover the same images", a.nImages, b.nImages)
	}
	ma, err := a.Matches(i, scoreA)
	if err != nil {
		return Flips{}, err
	}
	mb, err := b.Matches(i, scoreB)
	if err != nil {
		return Flips{}, err
	}
	if len(a.ops[i].gt) != len(b.ops[i].gt) {
		return Flips{}, fmt.Errorf("compare image %d: the evaluations have %d and %d objects: they must share the ground truth", i, len(a.ops[i].gt), len(b.ops[i].gt))
	}
	var f Flips
	foundA, foundB := found(ma, len(a.ops[i].gt)), found(mb, len(b.ops[i].gt))
	for g := range foundA {
		switch {
		case foundA[g] && !foundB[g]:
			f.Lost = append(f.Lost, g)
		case !foundA[g] && foundB[g]:
			f.Gained = append(f.Gained, g)
		}
	}
	da, db := a.ops[i].dets, b.ops[i].dets
	iou := b.p.OperatingIoU
	for _, j := range mb.FalsePositives {
		old := false
		for _, k := range ma.FalsePositives {
			if da[k].Class == db[j].Class && box.IoU(da[k].Box, db[j].Box) >= iou {
				old = true
				break
			}
		}
		if !old {
			f.NewFalsePositives = append(f.NewFalsePositives, j)
		}
	}
	rightA := len(ma.Missed) == 0 && len(ma.FalsePositives) == 0
	rightB := len(mb.Missed) == 0 && len(mb.FalsePositives) == 0
	f.Regressed = rightA && !rightB
	return f, nil
}

func found(m ImageMatch, n int) []bool {
	out := make([]bool, n)
	for _, p := range m.Matched {
		out[p.GT] = true
	}
	return out
}
