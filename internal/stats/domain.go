package stats

import (
	"fmt"
	"math"
)

// Domain-classifier defaults, used when DomainOptions leaves a field zero.
const (
	DefaultDomainFolds = 5
	// DefaultDomainL2 is the ridge penalty on the mean log-loss over standardised features. It is
	// small enough not to blunt real shifts and large enough that perfectly separable samples
	// (the most drifted case) still give finite weights and a converged fit.
	DefaultDomainL2 = 1e-2
)

// DomainOptions configures DomainClassifier.
type DomainOptions struct {
	// Folds is k of the stratified k-fold cross-validation, >= 2; 0 means DefaultDomainFolds.
	Folds int
	// Seed selects the fold assignment.
	Seed uint64
	// L2 is the ridge penalty (see DefaultDomainL2), > 0; 0 means the default. A zero penalty
	// cannot be asked for: on separable samples the weights would diverge.
	L2 float64
	// Quadratic adds the square of every standardised feature. A linear classifier sees only
	// shifts of the mean; with squares it also sees changes of spread (images that became more
	// or less varied in brightness, say) and one-sided tails, which are common in image drift. It
	// keeps the fit convex, deterministic and free of tuning knobs, which is why it was chosen
	// over a tree ensemble; it does not model interactions between features.
	Quadratic bool
}

// DomainResult is the outcome of a domain-classifier drift test.
type DomainResult struct {
	// AUC is the mean over folds of the held-out ROC AUC of telling current rows from reference
	// rows. 0.5 means the samples are indistinguishable to the classifier.
	AUC float64
	// FoldAUC are the per-fold held-out AUCs, in fold order; their spread shows how noisy AUC is.
	FoldAUC []float64
	// Score = max(0, 2 AUC - 1) in [0,1]: 0 no detectable drift, 1 the samples are fully
	// separable. Cross-validated AUC on identical distributions scatters around (and slightly
	// below) 0.5, so small positive scores are noise; threshold well above 1/sqrt(min(n_ref, n_cur)).
	Score float64
}

// DomainClassifier measures multivariate drift: it trains an L2-regularised logistic regression
// to tell rows of cur (label 1) from rows of ref (label 0) and reports its stratified k-fold
// cross-validated AUC. Rows are feature vectors (image properties, embeddings) of one common
// dimension, finite values. Each class needs at least Folds rows.
//
// Features are standardised with the mean and standard deviation of the training folds only, so
// no information leaks from the held-out fold; constant features are ignored. The fit is Newton's
// method (iteratively reweighted least squares) with a backtracking line search on the penalised
// mean log-loss, started from zero: it converges in a handful of iterations and has no random
// element, so results depend only on the inputs and Seed (which assigns rows to folds, per class).
// Cost per fold is O(iterations x n d^2) for d features (2d with Quadratic), fine for tens of
// features and tens of thousands of rows.
func DomainClassifier(ref, cur [][]float64, opts DomainOptions) (DomainResult, error) {
	if opts.Folds == 0 {
		opts.Folds = DefaultDomainFolds
	}
	if opts.L2 == 0 {
		opts.L2 = DefaultDomainL2
	}
	if opts.Folds < 2 {
		return DomainResult{}, fmt.Errorf("domain classifier with %d folds (need 2 or more): %w", opts.Folds, ErrInvalidArgument)
	}
	if math.IsNaN(opts.L2) || opts.L2 < 0 || math.IsInf(opts.L2, 0) {
		return DomainResult{}, fmt.Errorf("domain classifier with L2 penalty %v: %w", opts.L2, ErrInvalidArgument)
	}
	dim, err := checkFeatureRows(ref, cur, opts.Folds)
	if err != nil {
		return DomainResult{}, err
	}
	rows := make([][]float64, 0, len(ref)+len(cur))
	rows = append(append(rows, ref...), cur...)
	isCur := make([]bool, len(rows))
	for i := len(ref); i < len(rows); i++ {
		isCur[i] = true
	}
	fold := stratifiedFolds(len(ref), len(cur), opts.Folds, opts.Seed)

	res := DomainResult{FoldAUC: make([]float64, opts.Folds)}
	var train, test []int
	for f := range opts.Folds {
		train, test = train[:0], test[:0]
		for i, fi := range fold {
			if fi == f {
				test = append(test, i)
			} else {
				train = append(train, i)
			}
		}
		d := newDesign(rows, train, dim, opts.Quadratic)
		x := d.matrix(rows, train)
		y := make([]float64, len(train))
		for j, i := range train {
			y[j] = boolToFloat(isCur[i])
		}
		w := fitLogistic(x, y, d.cols(), opts.L2)
		scores := make([]float64, len(test))
		labels := make([]bool, len(test))
		xt := d.matrix(rows, test)
		for j, i := range test {
			scores[j] = dot(xt[j*d.cols():(j+1)*d.cols()], w)
			labels[j] = isCur[i]
		}
		auc, err := AUC(scores, labels)
		if err != nil {
			return DomainResult{}, fmt.Errorf("domain classifier fold %d: %w", f, err)
		}
		res.FoldAUC[f] = auc
		res.AUC += auc / float64(opts.Folds)
	}
	res.Score = max(0, 2*res.AUC-1)
	return res, nil
}

func checkFeatureRows(ref, cur [][]float64, folds int) (int, error) {
	if len(ref) < folds || len(cur) < folds {
		return 0, fmt.Errorf("domain classifier on %d reference and %d current rows (need %d of each): %w",
			len(ref), len(cur), folds, ErrEmpty)
	}
	dim := len(ref[0])
	if dim == 0 {
		return 0, fmt.Errorf("domain classifier: rows have no features: %w", ErrInvalidArgument)
	}
	for _, set := range []struct {
		name string
		rows [][]float64
	}{{"reference", ref}, {"current", cur}} {
		for i, row := range set.rows {
			if len(row) != dim {
				return 0, fmt.Errorf("domain classifier: %s row %d has %d features, want %d: %w", set.name, i, len(row), dim, ErrLengthMismatch)
			}
			for k, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return 0, fmt.Errorf("domain classifier: %s row %d feature %d is %v: %w", set.name, i, k, v, ErrInvalidArgument)
				}
			}
		}
	}
	return dim, nil
}

// stratifiedFolds assigns each of the nRef reference rows and then the nCur current rows to one of
// k folds: each class is shuffled with the seed and dealt round-robin, so every fold holds
// floor or ceil of 1/k of each class.
func stratifiedFolds(nRef, nCur, k int, seed uint64) []int {
	r := newRand(seed)
	fold := make([]int, nRef+nCur)
	for pos, i := range r.Perm(nRef) {
		fold[i] = pos % k
	}
	for pos, i := range r.Perm(nCur) {
		fold[nRef+i] = pos % k
	}
	return fold
}

// design turns feature rows into standardised design rows [1, features...]: the raw features are
// centred and scaled with training statistics, optionally extended with their squares, and the
// extended features are standardised again with training statistics.
type design struct {
	quadratic         bool
	dim               int       // raw features
	rawMean, rawInv   []float64 // raw standardisation (inv = 1/sd, 0 for constant features)
	featMean, featInv []float64
}

func newDesign(rows [][]float64, train []int, dim int, quadratic bool) *design {
	d := &design{quadratic: quadratic, dim: dim}
	d.rawMean, d.rawInv = columnStats(len(train), dim, func(j int, dst []float64) { copy(dst, rows[train[j]]) })
	width := d.width()
	d.featMean, d.featInv = columnStats(len(train), width, func(j int, dst []float64) { d.expand(dst, rows[train[j]]) })
	return d
}

func (d *design) width() int {
	if d.quadratic {
		return 2 * d.dim
	}
	return d.dim
}

// cols is the number of design columns, intercept included.
func (d *design) cols() int { return d.width() + 1 }

func (d *design) expand(dst, row []float64) {
	for k, v := range row {
		z := (v - d.rawMean[k]) * d.rawInv[k]
		dst[k] = z
		if d.quadratic {
			dst[d.dim+k] = z * z
		}
	}
}

// matrix returns the row-major design matrix of the selected rows.
func (d *design) matrix(rows [][]float64, idx []int) []float64 {
	c := d.cols()
	x := make([]float64, len(idx)*c)
	for j, i := range idx {
		out := x[j*c : (j+1)*c]
		out[0] = 1
		d.expand(out[1:], rows[i])
		for k := range d.width() {
			out[k+1] = (out[k+1] - d.featMean[k]) * d.featInv[k]
		}
	}
	return x
}

// columnStats returns per-column means and inverse standard deviations (population, 0 for a
// constant column) of n rows produced by fill.
func columnStats(n, width int, fill func(j int, dst []float64)) (mean, inv []float64) {
	mean = make([]float64, width)
	inv = make([]float64, width)
	sq := make([]float64, width)
	buf := make([]float64, width)
	for j := range n {
		fill(j, buf)
		for k, v := range buf {
			mean[k] += v
		}
	}
	for k := range mean {
		mean[k] /= float64(n)
	}
	for j := range n {
		fill(j, buf)
		for k, v := range buf {
			dv := v - mean[k]
			sq[k] += dv * dv
		}
	}
	for k := range inv {
		sd := math.Sqrt(sq[k] / float64(n))
		if sd > 1e-12*math.Max(1, math.Abs(mean[k])) {
			inv[k] = 1 / sd
		}
	}
	return mean, inv
}

// fitLogistic minimises mean_i [softplus(x_i.w) - y_i x_i.w] + l2/2 |w[1:]|^2 over w, where x is
// row-major with cols columns, column 0 the unpenalised intercept, by damped Newton steps.
func fitLogistic(x, y []float64, cols int, l2 float64) []float64 {
	n := len(y)
	w := make([]float64, cols)
	trial := make([]float64, cols)
	grad := make([]float64, cols)
	step := make([]float64, cols)
	hess := make([]float64, cols*cols)
	objective := func(w []float64) float64 {
		loss := 0.0
		for i := range n {
			eta := dot(x[i*cols:(i+1)*cols], w)
			loss += softplus(eta) - y[i]*eta
		}
		pen := 0.0
		for _, v := range w[1:] {
			pen += v * v
		}
		return loss/float64(n) + l2/2*pen
	}
	current := objective(w)
	for range 100 {
		clear(grad)
		clear(hess)
		for i := range n {
			xi := x[i*cols : (i+1)*cols]
			p := sigmoid(dot(xi, w))
			r, s := p-y[i], p*(1-p)
			for a, va := range xi {
				grad[a] += r * va
				sva := s * va
				row := hess[a*cols:]
				for b := a; b < cols; b++ {
					row[b] += sva * xi[b]
				}
			}
		}
		inv := 1 / float64(n)
		for a := range cols {
			grad[a] *= inv
			for b := a; b < cols; b++ {
				hess[a*cols+b] *= inv
				hess[b*cols+a] = hess[a*cols+b]
			}
			if a > 0 {
				grad[a] += l2 * w[a]
				hess[a*cols+a] += l2
			}
		}
		hess[0] += 1e-12 // keeps the intercept pivot positive when every p is 0 or 1 in float64
		solveCholesky(hess, grad, step, cols)
		decrement := dot(grad, step) // squared Newton decrement: the predicted decrease times 2
		if !(decrement > 1e-20) {
			break
		}
		t := 1.0
		for range 60 {
			for a := range w {
				trial[a] = w[a] - t*step[a]
			}
			if f := objective(trial); f <= current-1e-4*t*decrement {
				copy(w, trial)
				current = f
				break
			}
			t /= 2
		}
		if t*t*decrement < 1e-20 || decrement < 1e-16 {
			break
		}
	}
	return w
}

// solveCholesky solves A z = b for symmetric positive definite A (n x n, row-major; overwritten by
// its Cholesky factor) into z. A pivot that rounding made non-positive is replaced by a tiny
// positive one, so the solve never fails; the line search absorbs the resulting inexact step.
func solveCholesky(a, b, z []float64, n int) {
	for j := range n {
		s := a[j*n+j]
		for k := range j {
			s -= a[j*n+k] * a[j*n+k]
		}
		if !(s > 1e-300) {
			s = 1e-300
		}
		d := math.Sqrt(s)
		a[j*n+j] = d
		for i := j + 1; i < n; i++ {
			v := a[i*n+j]
			for k := range j {
				v -= a[i*n+k] * a[j*n+k]
			}
			a[i*n+j] = v / d
		}
	}
	// Forward (L y = b), then backward (L^T z = y), reading only the lower triangle.
	for i := range n {
		v := b[i]
		for k := range i {
			v -= a[i*n+k] * z[k]
		}
		z[i] = v / a[i*n+i]
	}
	for i := n - 1; i >= 0; i-- {
		v := z[i]
		for k := i + 1; k < n; k++ {
			v -= a[k*n+i] * z[k]
		}
		z[i] = v / a[i*n+i]
	}
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// softplus returns ln(1 + e^x) without overflow.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
