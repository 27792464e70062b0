package stats

import "math"

// StudentTCDF returns P(T <= t) for T Student-t distributed with df > 0 degrees of freedom (df need
// not be an integer). It returns NaN for df <= 0 or NaN input. The lower tail is computed directly
// from the regularized incomplete beta function, so it keeps its relative precision far out; the
// upper tail follows by symmetry.
func StudentTCDF(t, df float64) float64 {
	switch {
	case math.IsNaN(t) || math.IsNaN(df) || df <= 0:
		return math.NaN()
	case math.IsInf(t, -1):
		return 0
	case math.IsInf(t, 1):
		return 1
	case t > 0:
		return 1 - StudentTCDF(-t, df)
	}
	// P(T <= t) = I_x(df/2, 1/2) / 2 with x = df / (df + t^2), for t <= 0.
	x := df / (df + t*t)
	return regularizedBeta(x, df/2, 0.5) / 2
}

// StudentTQuantile returns the t with StudentTCDF(t, df) = p: -Inf for p = 0, +Inf for p = 1, NaN
// outside [0,1] or for df <= 0. It brackets the root and bisects it to float64 resolution, then
// polishes it with Newton steps; it is meant for interval endpoints, not for inner loops.
func StudentTQuantile(p, df float64) float64 {
	switch {
	case math.IsNaN(p) || math.IsNaN(df) || p < 0 || p > 1 || df <= 0:
		return math.NaN()
	case p == 0:
		return math.Inf(-1)
	case p == 1:
		return math.Inf(1)
	case p == 0.5:
		return 0
	case p > 0.5:
		return -StudentTQuantile(1-p, df)
	}
	// p < 0.5: the root is negative. Widen the bracket until it holds the root; the t tails are
	// polynomial, so doubling reaches any representable quantile in a few hundred steps.
	lo, hi := -1.0, 0.0
	for StudentTCDF(lo, df) > p {
		hi = lo
		lo *= 2
		if math.IsInf(lo, 0) {
			return math.Inf(-1)
		}
	}
	for range 2000 {
		mid := lo + (hi-lo)/2
		if mid == lo || mid == hi {
			break
		}
		if StudentTCDF(mid, df) > p {
			hi = mid
		} else {
			lo = mid
		}
	}
	x := lo + (hi-lo)/2
	for range 3 {
		d := studentTDensity(x, df)
		if d == 0 {
			break
		}
		next := x - (StudentTCDF(x, df)-p)/d
		if math.IsNaN(next) || math.IsInf(next, 0) {
			break
		}
		x = next
	}
	return x
}

func studentTDensity(t, df float64) float64 {
	lg1, _ := math.Lgamma((df + 1) / 2)
	lg2, _ := math.Lgamma(df / 2)
	return math.Exp(lg1 - lg2 - 0.5*math.Log(df*math.Pi) - (df+1)/2*math.Log1p(t*t/df))
}

// regularizedBeta returns I_x(a, b), the regularized incomplete beta function, for 0 <= x <= 1 and
// a, b > 0. It evaluates the continued fraction of the function (modified Lentz method) on the side
// of the distribution where it converges fast, x < (a+1)/(a+b+2), and uses
// I_x(a,b) = 1 - I_{1-x}(b,a) on the other.
func regularizedBeta(x, a, b float64) float64 {
	switch {
	case math.IsNaN(x) || a <= 0 || b <= 0 || x < 0 || x > 1:
		return math.NaN()
	case x == 0:
		return 0
	case x == 1:
		return 1
	}
	if x > (a+1)/(a+b+2) {
		return 1 - regularizedBeta(1-x, b, a)
	}
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(a*math.Log(x) + b*math.Log1p(-x) - (la + lb - lab))
	return front * betaFraction(x, a, b) / a
}

// betaFraction evaluates 1/(1+ d1/(1+ d2/(1+ ...))), the continued fraction of I_x(a,b), with
// d(2m+1) = -(a+m)(a+b+m)x / ((a+2m)(a+2m+1)) and d(2m) = m(b-m)x / ((a+2m-1)(a+2m)).
func betaFraction(x, a, b float64) float64 {
	const tiny = 1e-300
	const eps = 1e-16
	c, d := 1.0, 1-(a+b)*x/(a+1)
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	f := d
	for m := 1; m <= 10000; m++ {
		mf := float64(m)
		for _, num := range [2]float64{
			mf * (b - mf) * x / ((a + 2*mf - 1) * (a + 2*mf)),
			-(a + mf) * (a + b + mf) * x / ((a + 2*mf) * (a + 2*mf + 1)),
		} {
			d = 1 + num*d
			if math.Abs(d) < tiny {
				d = tiny
			}
			c = 1 + num/c
			if math.Abs(c) < tiny {
				c = tiny
			}
			d = 1 / d
			f *= c * d
		}
		if math.Abs(c*d-1) < eps {
			break
		}
	}
	return f
}
