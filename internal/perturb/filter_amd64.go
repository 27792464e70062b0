//go:build amd64 && !purego

package perturb

import "golang.org/x/sys/cpu"

// filterVectorEnabled reports whether filter.go's element-wise loops run on their AVX kernels
// (filter_amd64.s), which give the scalar loops' results bit for bit.
var filterVectorEnabled = cpu.X86.HasAVX

// vectorLen is how many of n elements a kernel takes (whole groups of eight), 0 without AVX.
func vectorLen(n int) int {
	if !filterVectorEnabled {
		return 0
	}
	return n &^ 7
}

//go:noescape
func add4AVX(d, a, b, c, e *float32, n int, wa, wb, wc, we float32)

//go:noescape
func symSetAVX(d, c, a1, b1, a2, b2 *float32, n int, w0, w1, w2 float32)

//go:noescape
func symAddAVX(d, a1, b1, a2, b2 *float32, n int, w1, w2 float32)

// add4Vector does add4 on the first len(d) rounded down to 8 elements and returns how many.
func add4Vector(d, a, b, cc, e []float32, wa, wb, wc, we float32) int {
	n := vectorLen(len(d))
	if n == 0 {
		return 0
	}
	_, _, _, _ = a[n-1], b[n-1], cc[n-1], e[n-1]
	add4AVX(&d[0], &a[0], &b[0], &cc[0], &e[0], n, wa, wb, wc, we)
	return n
}

// symSetVector sets d = w0*c + w1*(a1+b1) + w2*(a2+b2) on the first len(d) rounded down to 8
// elements and returns how many.
func symSetVector(d, c, a1, b1, a2, b2 []float32, w0, w1, w2 float32) int {
	n := vectorLen(len(d))
	if n == 0 {
		return 0
	}
	_, _, _, _, _ = c[n-1], a1[n-1], b1[n-1], a2[n-1], b2[n-1]
	symSetAVX(&d[0], &c[0], &a1[0], &b1[0], &a2[0], &b2[0], n, w0, w1, w2)
	return n
}

// symAddVector does d += w1*(a1+b1) + w2*(a2+b2) on the first len(d) rounded down to 8 elements
// and returns how many.
func symAddVector(d, a1, b1, a2, b2 []float32, w1, w2 float32) int {
	n := vectorLen(len(d))
	if n == 0 {
		return 0
	}
	_, _, _, _ = a1[n-1], b1[n-1], a2[n-1], b2[n-1]
	symAddAVX(&d[0], &a1[0], &b1[0], &a2[0], &b2[0], n, w1, w2)
	return n
}

//go:noescape
func boxYAVX(out, sum, lo, hi, first *float32, n int, alpha, inv float32)

// boxYVector does boxPassY's row step on the first len(out) rounded down to 8 elements and
// returns how many.
func boxYVector(out, sum, lo, hi, first []float32, alpha, inv float32) int {
	n := vectorLen(len(out))
	if n == 0 {
		return 0
	}
	_, _, _, _ = sum[n-1], lo[n-1], hi[n-1], first[n-1]
	boxYAVX(&out[0], &sum[0], &lo[0], &hi[0], &first[0], n, alpha, inv)
	return n
}
