package stats

import "math"

// NormalCDF returns P(Z <= x) for a standard normal Z. It is accurate in the lower tail down to
// the smallest float64 (it uses math.Erfc, not 1-Erf).
func NormalCDF(x float64) float64 {
	return 0.5 * math.Erfc(-x/math.Sqrt2)
}

// NormalQuantile returns the x with NormalCDF(x) = p, the inverse of the standard normal CDF. It
// returns -Inf for p = 0, +Inf for p = 1 and NaN outside [0,1]. The result has close to full
// float64 precision over the whole range: a starting point from math.Erfcinv (or, deep in the
// tail where that underflows, from the Mills-ratio asymptote) is polished with Halley steps on
// NormalCDF, which stays accurate in the tails.
func NormalQuantile(p float64) float64 {
	switch {
	case math.IsNaN(p) || p < 0 || p > 1:
		return math.NaN()
	case p == 0:
		return math.Inf(-1)
	case p == 1:
		return math.Inf(1)
	case p > 0.5:
		// 1-p is exact for p >= 0.5, so symmetry loses nothing.
		return -NormalQuantile(1 - p)
	}
	var x float64
	if p > 1e-10 {
		x = -math.Sqrt2 * math.Erfcinv(2*p)
	} else {
		// From P(Z <= x) ~ phi(x)/|x|: x^2 ~ t - ln t - ln(2 pi) with t = -2 ln p.
		t := -2 * math.Log(p)
		x = -math.Sqrt(t - math.Log(t) - math.Log(2*math.Pi))
	}
	for range 4 {
		density := math.Exp(-x*x/2) / math.Sqrt(2*math.Pi)
		if density == 0 {
			break
		}
		u := (NormalCDF(x) - p) / density
		step := u / (1 + x*u/2)
		x -= step
		if math.Abs(step) <= 1e-15*math.Abs(x) {
			break
		}
	}
	return x
}

// twoSidedZ returns the normal quantile z with P(|Z| <= z) = level.
func twoSidedZ(level float64) float64 {
	return NormalQuantile(1 - (1-level)/2)
}

// ChiSquareSurvival returns P(X > x) for X chi-square distributed with df degrees of freedom
// (df > 0, need not be an integer). It returns 1 for x <= 0 and NaN for df <= 0 or NaN input.
func ChiSquareSurvival(x, df float64) float64 {
	if math.IsNaN(x) || math.IsNaN(df) || df <= 0 {
		return math.NaN()
	}
	if x <= 0 {
		return 1
	}
	return regularizedGammaQ(df/2, x/2)
}

// regularizedGammaQ returns Q(a, x) = Gamma(a, x)/Gamma(a), the upper regularised incomplete gamma
// function, for a > 0 and x >= 0. Below x = a+1 the power series for P converges fast (and Q is
// not tiny, so 1-P loses nothing that matters); above it the continued fraction for Q does.
func regularizedGammaQ(a, x float64) float64 {
	if x == 0 {
		return 1
	}
	lgammaA, _ := math.Lgamma(a)
	logPrefix := a*math.Log(x) - x - lgammaA // log(x^a e^-x / Gamma(a))
	if x < a+1 {
		// P(a,x) = prefix * sum_{n>=0} x^n / (a (a+1) ... (a+n)).
		term := 1 / a
		sum := term
		for n := 1; n < 10000; n++ {
			term *= x / (a + float64(n))
			sum += term
			if term < sum*1e-17 {
				break
			}
		}
		return clamp01(1 - math.Exp(logPrefix)*sum)
	}
	// Q(a,x) = prefix / (x+1-a- 1(1-a)/(x+3-a- 2(2-a)/(x+5-a- ...))), evaluated with the modified
	// Lentz method, which needs no explicit convergents.
	const tiny = 1e-300
	b := x + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 10000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		delta := d * c
		h *= delta
		if math.Abs(delta-1) < 1e-16 {
			break
		}
	}
	return clamp01(math.Exp(logPrefix) * h)
}

// KolmogorovSurvival returns P(K > lambda) for the Kolmogorov distribution, the limit law of
// sqrt(n) times the one-sample KS statistic. It returns 1 for lambda <= 0 and NaN for NaN.
func KolmogorovSurvival(lambda float64) float64 {
	switch {
	case math.IsNaN(lambda):
		return math.NaN()
	case lambda <= 0:
		return 1
	}
	if lambda < 1.18 {
		// The alternating series below converges slowly for small lambda; the Jacobi-theta form
		// P(K <= l) = sqrt(2 pi)/l * sum_{j>=1} exp(-(2j-1)^2 pi^2 / (8 l^2)) converges fast there.
		w := -math.Pi * math.Pi / (8 * lambda * lambda)
		sum := 0.0
		for j := 1; j <= 20; j++ {
			k := float64(2*j - 1)
			term := math.Exp(k * k * w)
			sum += term
			if term < 1e-17*sum {
				break
			}
		}
		return clamp01(1 - math.Sqrt(2*math.Pi)/lambda*sum)
	}
	// P(K > l) = 2 sum_{j>=1} (-1)^(j-1) exp(-2 j^2 l^2).
	sum := 0.0
	sign := 1.0
	for j := 1; j <= 100; j++ {
		jf := float64(j)
		term := math.Exp(-2 * jf * jf * lambda * lambda)
		sum += sign * term
		if term < 1e-17 {
			break
		}
		sign = -sign
	}
	return clamp01(2 * sum)
}

// logChoose returns ln C(n, k) for 0 <= k <= n.
func logChoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n) + 1)
	b, _ := math.Lgamma(float64(k) + 1)
	c, _ := math.Lgamma(float64(n-k) + 1)
	return a - b - c
}

// binomialLogPMF returns ln P(X = k) for X ~ Bin(n, p) with 0 < p < 1 and 0 <= k <= n.
func binomialLogPMF(k, n int, p float64) float64 {
	return logChoose(n, k) + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p)
}

// binomialPMF returns P(X = k) for X ~ Bin(n, p), including the degenerate p = 0 and p = 1.
func binomialPMF(k, n int, p float64) float64 {
	switch {
	case k < 0 || k > n:
		return 0
	case p == 0:
		return boolToFloat(k == 0)
	case p == 1:
		return boolToFloat(k == n)
	}
	return math.Exp(binomialLogPMF(k, n, p))
}

// binomialMode returns a most likely value of Bin(n, p): the pmf rises up to it and falls after.
func binomialMode(n int, p float64) int {
	return min(int(float64(n+1)*p), n)
}

// binomialCDF returns P(X <= k) for X ~ Bin(n, p), 0 <= p <= 1. It sums the pmf from k towards
// the far end of the short tail, so small tail probabilities keep their relative precision.
func binomialCDF(k, n int, p float64) float64 {
	switch {
	case k < 0:
		return 0
	case k >= n:
		return 1
	case p == 0:
		return 1
	case p == 1:
		return 0
	}
	if k <= binomialMode(n, p) {
		return binomialTailBelow(k, n, p)
	}
	return clamp01(1 - binomialTailAbove(k+1, n, p))
}

// binomialTailBelow returns P(X <= k), summing downwards from k; 0 < p < 1, 0 <= k <= n. Terms
// shrink at least geometrically below the mode, so the sum stops once they no longer matter.
func binomialTailBelow(k, n int, p float64) float64 {
	term := math.Exp(binomialLogPMF(k, n, p))
	odds := (1 - p) / p
	sum := term
	for i := k; i > 0; i-- {
		term *= float64(i) / float64(n-i+1) * odds
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return clamp01(sum)
}

// binomialTailAbove returns P(X >= k), summing upwards from k; 0 < p < 1, 0 <= k <= n.
func binomialTailAbove(k, n int, p float64) float64 {
	term := math.Exp(binomialLogPMF(k, n, p))
	odds := p / (1 - p)
	sum := term
	for i := k; i < n; i++ {
		term *= float64(n-i) / float64(i+1) * odds
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return clamp01(sum)
}

func clamp01(x float64) float64 {
	return max(0, min(1, x))
}

func boolToFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
