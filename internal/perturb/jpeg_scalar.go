//go:build !(goexperiment.simd && amd64)

package perturb

// Without GOEXPERIMENT=simd (or off amd64) jpeg_compression has only its scalar path: the
// default build (see jpeg_simd.go for why the vector path is opt-in).

const jpegVectorEnabled = false

func jpegPlaneVector([]uint8, int, int, *jpegQuant) bool { return false }

func jpegDecodeRowVector(_, _, _, _, _, _ []uint8) { panic("unreachable: no vector path") }

// jpegVecTable has no content without the vector path.
type jpegVecTable struct{}

func (*jpegVecTable) fill(*jpegQuant) {}

func jpegEncodeRowsVector(_, _, _, _, _ []uint8, _, _ int) { panic("unreachable: no vector path") }
