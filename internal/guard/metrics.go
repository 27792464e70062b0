package guard

import (
	"math"
	"slices"

	"github.com/cvgate/cvgate/internal/stats"
)

// Separation measures how well one score tells out-of-distribution inputs from clean ones.
type Separation struct {
	Score string `json:"score"`
	// AUROC is the probability that a random out-of-distribution input scores above a random
	// clean one (ties count one half).
	AUROC float64 `json:"auroc"`
	// FPRAt95TPR is the share of clean inputs rejected at the threshold that catches 95% of the
	// out-of-distribution ones.
	FPRAt95TPR float64 `json:"fpr_at_95_tpr"`
}

// Separations computes AUROC and FPR at 95% TPR for each score the guard has, and for the guard
// as a whole ("guard": the thresholded score, with inputs the input checks reject ranked above
// every score). A score that is not a number ranks as the most out-of-distribution.
func (g *Guard) Separations(clean, ood []Verdict) []Separation {
	var out []Separation
	pick := []struct {
		name string
		get  func(Verdict) float64
		ok   bool
	}{
		{"guard", func(v Verdict) float64 {
			if v.InputRejected {
				return math.Inf(1)
			}
			return v.Score
		}, true},
		{ScoreEnergy, func(v Verdict) float64 { return v.Energy }, g.Energy != nil},
		{ScoreMahalanobis, func(v Verdict) float64 { return v.Mahalanobis }, g.Mahalanobis != nil},
		{ScoreCombined, func(v Verdict) float64 { return v.Combined }, g.Combined != nil},
	}
	for _, p := range pick {
		if !p.ok || len(clean) == 0 || len(ood) == 0 {
			continue
		}
		c, o := scoresOf(clean, p.get), scoresOf(ood, p.get)
		out = append(out, separation(p.name, c, o))
	}
	return out
}

func scoresOf(vs []Verdict, get func(Verdict) float64) []float64 {
	out := make([]float64, len(vs))
	for i, v := range vs {
		out[i] = finiteRank(get(v))
	}
	return out
}

// finiteRank maps NaN and +Inf to the largest float, so that ranking statistics can use them.
func finiteRank(x float64) float64 {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 1):
		return math.MaxFloat64
	case math.IsInf(x, -1):
		return -math.MaxFloat64
	}
	return x
}

func separation(name string, clean, ood []float64) Separation {
	scores := append(slices.Clone(clean), ood...)
	positive := make([]bool, len(scores))
	for i := len(clean); i < len(scores); i++ {
		positive[i] = true
	}
	s := Separation{Score: name, AUROC: math.NaN(), FPRAt95TPR: math.NaN()}
	if auc, err := stats.AUC(scores, positive); err == nil {
		s.AUROC = auc
	}
	s.FPRAt95TPR = fprAtTPR(clean, ood, 0.95)
	return s
}

// fprAtTPR is the share of clean scores at or above the highest threshold that still has at
// least tpr of the out-of-distribution scores at or above it.
func fprAtTPR(clean, ood []float64, tpr float64) float64 {
	o := slices.Clone(ood)
	slices.Sort(o)
	// Keep ceil(tpr*n) scores at or above the threshold: the threshold is the score at index
	// n - ceil(tpr*n) in ascending order.
	keep := int(math.Ceil(tpr*float64(len(o)) - 1e-9))
	t := o[len(o)-keep]
	fp := 0
	for _, c := range clean {
		if c >= t {
			fp++
		}
	}
	return float64(fp) / float64(len(clean))
}

// RejectedShare is the share of verdicts that reject.
func RejectedShare(vs []Verdict) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	k := 0
	for _, v := range vs {
		if v.Reject {
			k++
		}
	}
	return float64(k) / float64(len(vs))
}

// Rejected counts the verdicts that reject.
func Rejected(vs []Verdict) int {
	k := 0
	for _, v := range vs {
		if v.Reject {
			k++
		}
	}
	return k
}
