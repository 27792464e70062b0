//go:build !amd64 || purego

package perturb

// Off amd64 (or with the purego tag) filter.go's loops are plain Go.

const filterVectorEnabled = false

func add4Vector(_, _, _, _, _ []float32, _, _, _, _ float32) int { return 0 }

func symSetVector(_, _, _, _, _, _ []float32, _, _, _ float32) int { return 0 }

func symAddVector(_, _, _, _, _ []float32, _, _ float32) int { return 0 }

func boxYVector(_, _, _, _, _ []float32, _, _ float32) int { return 0 }
