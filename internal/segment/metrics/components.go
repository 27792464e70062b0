package metrics

import (
	"fmt"

	"github.com/cvgate/cvgate/internal/segment"
)

// Connectivity is the neighbourhood of connected components: 4 (edges) or 8 (edges and corners).
// 8 is the default of most labelling tools (scipy's label with a full structure, OpenCV's
// connectedComponents); thin diagonal structures stay one object under 8.
type Connectivity int

// The connectivities.
const (
	Four  Connectivity = 4
	Eight Connectivity = 8
)

// Component is one connected region of pixels of one class.
type Component struct {
	Class uint16
	Area  int64
	// Bounding box, inclusive minimum and exclusive maximum.
	X0, Y0, X1, Y1 int
}

// Components labels the connected regions of each class in m, ignore pixels excluded (ignore < 0
// for none). It returns the components in raster order of their first pixel and, in labels (reused
// when large enough), each pixel's component index, -1 for ignored pixels. It uses a two-pass
// union-find with path halving: O(pixels) time, one int32 per pixel.
func Components(m segment.LabelMap, ignore int, conn Connectivity, labels []int32) ([]Component, []int32, error) {
	if err := m.Validate(); err != nil {
		return nil, labels, fmt.Errorf("label components: %w", err)
	}
	if conn != Four && conn != Eight {
		return nil, labels, fmt.Errorf("label components: connectivity %d, want 4 or 8", conn)
	}
	w, h := m.W, m.H
	n := w * h
	if cap(labels) >= n {
		labels = labels[:n]
	} else {
		labels = make([]int32, n)
	}
	parent := make([]int32, 0, 64)
	find := func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	union := func(a, b int32) int32 {
		ra, rb := find(a), find(b)
		if ra == rb {
			return ra
		}
		if ra < rb {
			parent[rb] = ra
			return ra
		}
		parent[ra] = rb
		return rb
	}
	ign, hasIgn := uint16(max(ignore, 0)), ignore >= 0
	pix := m.Pix
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			v := pix[i]
			if hasIgn && v == ign {
				labels[i] = -1
				continue
			}
			lab := int32(-1)
			join := func(j int) {
				if pix[j] != v || labels[j] < 0 {
					return
				}
				if lab < 0 {
					lab = find(labels[j])
					return
				}
				lab = union(lab, labels[j])
			}
			if x > 0 {
				join(i - 1)
			}
			if y > 0 {
				join(i - w)
				if conn == Eight {
					if x > 0 {
						join(i - w - 1)
					}
					if x+1 < w {
						join(i - w + 1)
					}
				}
			}
			if lab < 0 {
				lab = int32(len(parent))
				parent = append(parent, lab)
			}
			labels[i] = lab
		}
	}
	// Second pass: final indices in raster order of first pixel.
	final := make([]int32, len(parent))
	for i := range final {
		final[i] = -1
	}
	var comps []Component
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			if labels[i] < 0 {
				continue
			}
			r := find(labels[i])
			f := final[r]
			if f < 0 {
				f = int32(len(comps))
				final[r] = f
				comps = append(comps, Component{Class: pix[i], X0: x, Y0: y, X1: x + 1, Y1: y + 1})
			}
			labels[i] = f
			c := &comps[f]
			c.Area++
			c.X0, c.X1 = min(c.X0, x), max(c.X1, x+1)
			c.Y1 = y + 1
		}
	}
	return comps, labels, nil
}

// ComponentHits counts, for each component of the truth (from Components), its pixels that the
// prediction labels with the component's class: hits/area is the object's recall, for per-class
// metrics by object size.
func ComponentHits(comps []Component, labels []int32, pred segment.LabelMap) ([]int64, error) {
	if len(labels) != len(pred.Pix) {
		return nil, fmt.Errorf("count component hits: %d labelled pixels, the prediction has %d", len(labels), len(pred.Pix))
	}
	hits := make([]int64, len(comps))
	for i, l := range labels {
		if l >= 0 && pred.Pix[i] == comps[l].Class {
			hits[l]++
		}
	}
	return hits, nil
}
