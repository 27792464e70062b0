package segment

import (
	"github.com/cvgate/cvgate/internal/task"
)

// Profile implements task.Profiler: per image the share of foreground (non-background) pixels
// and the share of each class, and per image the classes it holds, so that drift sees a change
// in how much of each class the images show.
func (t *Task) Profile(xs []any, _ [][2]int) task.Signals {
	s := task.Signals{Numeric: map[string][]float64{}, Categorical: map[string][]string{}}
	ign := t.ignore
	for _, x := range xs {
		m := mapOf(x)
		if len(m.Pix) == 0 {
			continue
		}
		counts := make([]int, len(t.classes))
		valid := 0
		for _, v := range m.Pix {
			if ign >= 0 && int(v) == ign {
				continue
			}
			if int(v) < len(counts) {
				counts[v]++
			}
			valid++
		}
		if valid == 0 {
			continue
		}
		s.Numeric["foreground share"] = append(s.Numeric["foreground share"], float64(valid-counts[0])/float64(valid))
		for k, n := range counts {
			if n > 0 {
				s.Categorical["classes present"] = append(s.Categorical["classes present"], t.className(k))
			}
		}
	}
	return s
}
