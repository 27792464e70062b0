package guard

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
)

// shrunkCovariance is a covariance estimate pulled toward a multiple of the identity.
type shrunkCovariance struct {
	p   int
	cov []float64 // p x p, row-major
	// shrinkage is the weight on the target m*I, in [0, 1]; m is the mean eigenvalue.
	shrinkage float64
	m         float64
}

// ledoitWolf estimates the covariance of n rows of p centred values (x, row-major) with the
// Ledoit-Wolf (2004) shrinkage toward m*I, m = trace(S)/p. The sample covariance S of p
// penultimate activations from a few thousand images is noisy and often singular (ReLU features
// are exactly zero on whole classes), and a Mahalanobis distance needs its inverse; shrinkage
// makes it well conditioned with the weight that minimizes the expected squared error, computed
// from the data alone. Ledoit-Wolf was chosen over OAS because its intensity does not assume
// Gaussian data, which rectified activations are not.
//
// With ||A||^2 = trace(A A^T)/p, the intensity is min(b2, d2)/d2 where d2 = ||S - m I||^2 and
// b2 = (1/n^2) sum_k ||x_k x_k^T - S||^2 = (sum_k |x_k|^4 - n ||S||_F^2) / (n^2 p): the second form
// needs no p x p matrix per row.
func ledoitWolf(x []float64, n, p int) (shrunkCovariance, error) {
	if n < 2 || p < 1 || len(x) != n*p {
		return shrunkCovariance{}, fmt.Errorf("covariance of %d values as %d rows of %d: need at least 2 rows", len(x), n, p)
	}
	s, sumQuartic := crossProducts(x, n, p)
	inv := 1 / float64(n)
	var frob, trace float64
	for i := range p {
		for j := i; j < p; j++ {
			v := s[i*p+j] * inv
			s[i*p+j], s[j*p+i] = v, v
			if i == j {
				frob += v * v
				trace += v
			} else {
				frob += 2 * v * v
			}
		}
	}
	m := trace / float64(p)
	d2 := (frob - float64(p)*m*m) / float64(p)
	b2 := (sumQuartic/float64(n) - frob) / (float64(n) * float64(p))
	shrink := 0.0
	if d2 > 0 {
		shrink = math.Min(math.Max(b2, 0), d2) / d2
	}
	for i := range p {
		for j := range p {
			v := (1 - shrink) * s[i*p+j]
			if i == j {
				v += shrink * m
			}
			s[i*p+j] = v
		}
	}
	if !(m > 0) {
		return shrunkCovariance{}, errors.New("the features do not vary at all over the reference images")
	}
	return shrunkCovariance{p: p, cov: s, shrinkage: shrink, m: m}, nil
}

// crossProducts returns the upper triangle of X^T X (p x p, row-major) and sum_k |x_k|^4, with
// the rows split over the cores (each worker sums its own matrix; they are added at the end).
func crossProducts(x []float64, n, p int) ([]float64, float64) {
	workers := max(1, min(runtime.NumCPU(), n/256))
	parts := make([][]float64, workers)
	quartic := make([]float64, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := make([]float64, p*p)
			for r := w; r < n; r += workers {
				row := x[r*p : (r+1)*p]
				var sq float64
				for i, xi := range row {
					sq += xi * xi
					if xi == 0 {
						continue // rectified features are often exactly zero: skip the row of products
					}
					out := s[i*p+i : (i+1)*p]
					for j, xj := range row[i:] {
						out[j] += xi * xj
					}
				}
				quartic[w] += sq * sq
			}
			parts[w] = s
		}()
	}
	wg.Wait()
	s, q := parts[0], quartic[0]
	for w := 1; w < workers; w++ {
		for i, v := range parts[w] {
			s[i] += v
		}
		q += quartic[w]
	}
	return s, q
}

// cholesky returns the lower-triangular L with L L^T = a (p x p, row-major).
func cholesky(a []float64, p int) ([]float64, error) {
	l := make([]float64, p*p)
	for i := range p {
		for j := 0; j <= i; j++ {
			sum := a[i*p+j]
			li, lj := l[i*p:i*p+j], l[j*p:j*p+j]
			for k := range li {
				sum -= li[k] * lj[k]
			}
			if i == j {
				if !(sum > 0) {
					return nil, fmt.Errorf("the covariance is not positive definite (pivot %d is %g)", i, sum)
				}
				l[i*p+i] = math.Sqrt(sum)
			} else {
				l[i*p+j] = sum / l[j*p+j]
			}
		}
	}
	return l, nil
}

// whitening returns W = L^-T for the Cholesky factor L of cov, so that for any z the squared
// Mahalanobis norm z^T cov^-1 z equals |z W|^2 (z a row vector): cov^-1 = L^-T L^-1 = W W^T.
func whitening(cov []float64, p int) ([]float64, error) {
	l, err := cholesky(cov, p)
	if err != nil {
		return nil, err
	}
	// inv = L^-1 by forward substitution, column by column; it is lower triangular.
	inv := make([]float64, p*p)
	for c := range p {
		inv[c*p+c] = 1 / l[c*p+c]
		for i := c + 1; i < p; i++ {
			var sum float64
			for k := c; k < i; k++ {
				sum -= l[i*p+k] * inv[k*p+c]
			}
			inv[i*p+c] = sum / l[i*p+i]
		}
	}
	w := make([]float64, p*p)
	for i := range p {
		for j := range p {
			w[i*p+j] = inv[j*p+i]
		}
	}
	return w, nil
}
