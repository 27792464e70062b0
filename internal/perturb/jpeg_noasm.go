//go:build !amd64 || purego

package perturb

// Off amd64 (or with the purego tag) jpeg_compression has only its scalar path.

const jpegVectorEnabled = false

func jpegPlaneVector([]uint8, int, int, *jpegQuant) bool { return false }

func jpegDecodeRowVector(_, _, _, _, _, _ []uint8) { panic("unreachable: no vector path") }

// jpegVecTable has no content without the vector path.
type jpegVecTable struct{}

func (*jpegVecTable) fill(*jpegQuant) {}

func jpegEncodeRowsVector(_, _, _, _, _ []uint8, _, _ int) { panic("unreachable: no vector path") }
