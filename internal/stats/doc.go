// Package stats is cvgate's statistics toolbox: confidence intervals, exact tests, drift distances,
// calibration and classification metrics, and a small domain classifier. Checks use it to turn
// per-image outcomes into verdicts that are honest (they account for sampling noise) and not flaky
// (the same inputs always give the same numbers).
//
// Conventions shared by the whole package:
//
//   - Determinism. Everything random takes an explicit uint64 seed and draws from a PCG generator
//     (math/rand/v2); there is no global or time-based randomness. Seed 0 is an ordinary seed.
//   - Errors, not panics. Functions over samples validate their inputs and return an error that
//     wraps one of ErrEmpty, ErrLengthMismatch or ErrInvalidArgument, so callers can branch with
//     errors.Is. Inputs are never modified; functions that need sorted data sort a copy.
//   - Special functions (NormalCDF, NormalQuantile, ChiSquareSurvival, ...) follow package math:
//     they return NaN outside their domain instead of an error, because they are building blocks,
//     not entry points for user data.
//   - Results of functions over samples never hold NaN (empty bins and 0/0 ratios are reported as
//     0 and documented as such), so they can go straight into JSON reports and comparisons.
//   - Correctness vectors are []bool (true = the model was right on that image); labels are class
//     indices in [0, numClasses); probability rows are [][]float32 as models emit them (a flat
//     batch output can be sliced into rows without copying).
//
// Every function documents what it returns, the assumptions under which the result is valid, and
// how degenerate inputs (all-equal samples, empty bins, zero denominators) are handled.
package stats

import "errors"

// Sentinel errors wrapped by every input-validation failure in this package.
var (
	// ErrEmpty means a sample (or a required part of it, such as one class) has no observations.
	ErrEmpty = errors.New("empty sample")
	// ErrLengthMismatch means slices that must be parallel have different lengths.
	ErrLengthMismatch = errors.New("length mismatch")
	// ErrInvalidArgument means a value is outside its documented domain (NaN, a probability
	// outside [0,1], a negative count, a label outside [0, numClasses), ...).
	ErrInvalidArgument = errors.New("invalid argument")
)
