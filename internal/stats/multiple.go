package stats

import (
	"fmt"
	"math"
	"slices"
)

// Holm returns Holm-Bonferroni adjusted p-values, in the order of p. With the m p-values sorted
// ascending, the i-th (1-based) becomes max over j <= i of min(1, (m-j+1) p(j)). Rejecting every
// hypothesis whose adjusted p-value is <= alpha controls the family-wise error rate (the chance of
// even one false alarm) at alpha under any dependence between the tests. Use it for gate
// decisions over several checks on the same model.
func Holm(p []float64) ([]float64, error) {
	order, err := pValueOrder(p)
	if err != nil {
		return nil, err
	}
	m := len(p)
	adj := make([]float64, m)
	running := 0.0
	for rank, i := range order {
		running = max(running, math.Min(1, float64(m-rank)*p[i]))
		adj[i] = running
	}
	return adj, nil
}

// BenjaminiHochberg returns Benjamini-Hochberg adjusted p-values (q-values), in the order of p.
// With the m p-values sorted ascending, the i-th (1-based) becomes min over j >= i of
// min(1, m p(j) / j). Rejecting those <= alpha controls the false discovery rate (the expected
// share of false alarms among alarms) at alpha for independent or positively dependent tests. Use
// it for screening many slices or features, where a few false leads are acceptable.
func BenjaminiHochberg(p []float64) ([]float64, error) {
	order, err := pValueOrder(p)
	if err != nil {
		return nil, err
	}
	m := len(p)
	adj := make([]float64, m)
	running := 1.0
	for rank := m - 1; rank >= 0; rank-- {
		i := order[rank]
		running = min(running, float64(m)*p[i]/float64(rank+1))
		adj[i] = running
	}
	return adj, nil
}

// pValueOrder validates p-values and returns their indices sorted by ascending p (stable).
func pValueOrder(p []float64) ([]int, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("adjust p-values: %w", ErrEmpty)
	}
	for i, v := range p {
		if math.IsNaN(v) || v < 0 || v > 1 {
			return nil, fmt.Errorf("p-value %v at index %d outside [0,1]: %w", v, i, ErrInvalidArgument)
		}
	}
	order := make([]int, len(p))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	return order, nil
}
