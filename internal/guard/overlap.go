package guard

import (
	"fmt"

	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/dedup"
)

// Overlap returns the images of b whose pixels equal an image of a (whatever their files and
// formats), as pairs of paths.
func Overlap(a, b *dataset.Dataset) ([][2]string, error) {
	seen := make(map[dedup.Digest]string, len(a.Items))
	for _, it := range a.Items {
		if it.Image == nil {
			continue
		}
		d, err := dedup.PixelDigest(it.Image)
		if err != nil {
			return nil, fmt.Errorf("hash image %q: %w", it.Path, err)
		}
		seen[d] = it.Path
	}
	var out [][2]string
	for _, it := range b.Items {
		if it.Image == nil {
			continue
		}
		d, err := dedup.PixelDigest(it.Image)
		if err != nil {
			return nil, fmt.Errorf("hash image %q: %w", it.Path, err)
		}
		if p, ok := seen[d]; ok {
			out = append(out, [2]string{p, it.Path})
		}
	}
	return out, nil
}

// OverlapError is an out-of-distribution set that shares images with the reference set: a guard
// cannot be asked to reject what it was taught to accept.
type OverlapError struct {
	Pairs [][2]string
}

func (e *OverlapError) Error() string {
	p := e.Pairs[0]
	return fmt.Sprintf("the out-of-distribution set shares %d image(s) with the reference set (e.g. %q is %q pixel for pixel): remove them from one of the sets", len(e.Pairs), p[1], p[0])
}

// CheckOverlap returns an *OverlapError when the OOD set shares images with the reference set.
func CheckOverlap(ref, ood *dataset.Dataset) error {
	pairs, err := Overlap(ref, ood)
	if err != nil {
		return err
	}
	if len(pairs) > 0 {
		return &OverlapError{Pairs: pairs}
	}
	return nil
}
