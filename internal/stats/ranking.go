package stats

import (
	"cmp"
	"fmt"
	"slices"
)

// AUC returns the area under the ROC curve of scores for separating positive from negative
// items: the probability that a random positive scores above a random negative, ties counting one
// half. It is computed as the Mann-Whitney U statistic, U / (nPos nNeg), with average ranks for
// tied scores, in O(n log n). 0.5 is chance, 1 perfect separation, below 0.5 inverted. Both classes
// must be present; scores must be finite.
func AUC(scores []float64, positive []bool) (float64, error) {
	if len(scores) != len(positive) {
		return 0, fmt.Errorf("auc over %d scores and %d labels: %w", len(scores), len(positive), ErrLengthMismatch)
	}
	if err := checkFinite("auc", scores); err != nil {
		return 0, err
	}
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	return aucSorted(scores, positive, order)
}

// aucSorted computes AUC given the item order by ascending score.
func aucSorted(scores []float64, positive []bool, order []int) (float64, error) {
	var nPos, nNeg int
	rankSumPos := 0.0 // sum of the (1-based, tie-averaged) ranks of positives
	for start := 0; start < len(order); {
		end := start + 1
		for end < len(order) && scores[order[end]] == scores[order[start]] {
			end++
		}
		// Items start..end-1 share ranks start+1..end, whose average is (start+1+end)/2.
		avg := float64(start+1+end) / 2
		for _, i := range order[start:end] {
			if positive[i] {
				nPos++
				rankSumPos += avg
			} else {
				nNeg++
			}
		}
		start = end
	}
	if nPos == 0 || nNeg == 0 {
		return 0, fmt.Errorf("auc with %d positives and %d negatives (need both): %w", nPos, nNeg, ErrEmpty)
	}
	u := rankSumPos - float64(nPos)*float64(nPos+1)/2
	return u / (float64(nPos) * float64(nNeg)), nil
}
