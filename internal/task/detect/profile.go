package detect

import (
	"math"

	"github.com/cvgate/cvgate/internal/task"
)

// Profile implements task.Profiler: per image the number of objects (detections kept at the
// operating score), per object its class, its size relative to the image, its aspect ratio and its
// centre, so that drift compares sets of any resolution. Predictions also give their scores.
func (t *Task) Profile(xs []any, sizes [][2]int) task.Signals {
	s := task.Signals{Numeric: map[string][]float64{}, Categorical: map[string][]string{}}
	add := func(x1, y1, x2, y2 float64, class, w, h int) {
		bw, bh := x2-x1, y2-y1
		if bw <= 0 || bh <= 0 || w <= 0 || h <= 0 {
			return
		}
		s.Numeric["box size (share of the image, sqrt)"] = append(s.Numeric["box size (share of the image, sqrt)"], math.Sqrt(bw*bh/float64(w*h)))
		s.Numeric["box aspect (log2 w/h)"] = append(s.Numeric["box aspect (log2 w/h)"], math.Log2(bw/bh))
		s.Numeric["box centre x"] = append(s.Numeric["box centre x"], (x1+x2)/2/float64(w))
		s.Numeric["box centre y"] = append(s.Numeric["box centre y"], (y1+y2)/2/float64(h))
		s.Categorical["object class"] = append(s.Categorical["object class"], t.className(class))
	}
	for i, x := range xs {
		w, h := sizes[i][0], sizes[i][1]
		switch v := x.(type) {
		case Truth:
			s.Numeric["objects per image"] = append(s.Numeric["objects per image"], float64(len(v.Objects)))
			for _, o := range v.Objects {
				add(o.X1, o.Y1, o.X2, o.Y2, o.Class, w, h)
			}
		case Prediction:
			kept := t.kept(v.Detections)
			s.Numeric["detections per image"] = append(s.Numeric["detections per image"], float64(len(kept)))
			for _, d := range kept {
				add(d.X1, d.Y1, d.X2, d.Y2, d.Class, w, h)
				s.Numeric["detection score"] = append(s.Numeric["detection score"], d.Score)
			}
		}
	}
	return s
}
