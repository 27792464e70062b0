package stats

import (
	"testing"
)

// pairwiseAUC is the definition, O(n^2): the share of (positive, negative) pairs ordered
// correctly, ties counting one half.
func pairwiseAUC(scores []float64, positive []bool) float64 {
	wins, pairs := 0.0, 0.0
	for i, si := range scores {
		if !positive[i] {
			continue
		}
		for j, sj := range scores {
			if positive[j] {
				continue
			}
			pairs++
			switch {
			case si > sj:
				wins++
			case si == sj:
				wins += 0.5
			}
		}
	}
	return wins / pairs
}

func TestAUC(t *testing.T) {
	tests := []struct {
		name     string
		scores   []float64
		positive []bool
		want     float64
	}{
		// scikit-learn's roc_auc_score documentation example.
		{"sklearn example", []float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75},
		{"perfect", []float64{1, 2, 3, 4}, []bool{false, false, true, true}, 1},
		{"inverted", []float64{4, 3, 2, 1}, []bool{false, false, true, true}, 0},
		{"all tied", []float64{5, 5, 5}, []bool{true, false, false}, 0.5},
		// By hand, negatives 1, 2, 2, 0: positive 2 beats 1 and 0 and ties both 2s (2 + 2*0.5);
		// positive 3 beats all four. (3 + 4) / 8.
		{"ties", []float64{1, 2, 2, 3, 2, 0}, []bool{false, true, false, true, false, false}, 0.875},
	}
	for _, tt := range tests {
		got, err := AUC(tt.scores, tt.positive)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, tt.name, got, tt.want, 1e-15)
	}
	// Random scores on a coarse grid (many ties) against the pairwise definition.
	r := newRand(4)
	for range 50 {
		n := 2 + r.IntN(60)
		scores, positive := make([]float64, n), make([]bool, n)
		for i := range n {
			scores[i] = float64(r.IntN(7))
			positive[i] = r.IntN(3) == 0
		}
		positive[0], positive[1] = true, false
		got, err := AUC(scores, positive)
		if err != nil {
			t.Fatal(err)
		}
		assertNear(t, "random", got, pairwiseAUC(scores, positive), 1e-12)
	}
	_, err := AUC([]float64{1, 2}, []bool{true, true})
	assertErr(t, err, ErrEmpty, "0 negatives")
	_, err = AUC([]float64{1}, []bool{true, false})
	assertErr(t, err, ErrLengthMismatch, "")
}
