// Package segment holds the plain types that cvgate's semantic segmentation packages share: a
// label map (one class index per pixel) and the ignore index. The work is done in subpackages,
// each with one job:
//
//   - mask: finds and reads ground-truth masks (gray, 16-bit, palette, RGB colour, binary PNGs)
//     under pixel and byte budgets, and class names and colours from a file;
//   - decode: turns raw model output tensors into label maps at the label's resolution;
//   - metrics: confusion matrices, per-image records and set metrics (mIoU, Dice, boundary IoU,
//     ...) over multisets of images for the bootstrap, connected components;
//   - masktf: moves a label map with a geometric image transform, for invariance checks;
//   - datacheck: data problems of a mask set (sizes, classes outside the names, empty masks,
//     class pixel shares).
package segment

import "fmt"

// DefaultIgnore is the ignore index most toolkits and datasets use (VOC's object borders, the
// "void" of mmsegmentation's configs): pixels holding it are left out of every metric.
const DefaultIgnore = 255

// LabelMap is a class index per pixel, row-major: row y, column x is Pix[y*W+x]. Ground truth may
// hold the ignore index; predictions never do. uint16 holds 16-bit PNG masks (datasets with more
// than 255 classes) at a third of the memory of an int per pixel.
type LabelMap struct {
	W, H int
	Pix  []uint16
}

// NewLabelMap returns a zeroed w x h map. It panics on a non-positive size, a programming error:
// sizes from files are checked by the readers first.
func NewLabelMap(w, h int) LabelMap {
	if w <= 0 || h <= 0 {
		panic(fmt.Sprintf("segment.NewLabelMap: bad size %dx%d", w, h))
	}
	return LabelMap{W: w, H: h, Pix: make([]uint16, w*h)}
}

// Validate reports a map whose pixel slice does not match its size.
func (m LabelMap) Validate() error {
	if m.W <= 0 || m.H <= 0 {
		return fmt.Errorf("label map has no pixels (%dx%d)", m.W, m.H)
	}
	if len(m.Pix) != m.W*m.H {
		return fmt.Errorf("label map %dx%d holds %d pixels, want %d", m.W, m.H, len(m.Pix), m.W*m.H)
	}
	return nil
}

// At returns the class index at (x, y).
func (m LabelMap) At(x, y int) uint16 { return m.Pix[y*m.W+x] }

// Clone returns a deep copy.
func (m LabelMap) Clone() LabelMap {
	m.Pix = append([]uint16(nil), m.Pix...)
	return m
}

// Reshape makes m a w x h map, reusing its pixel memory when it is large enough; the pixels are
// not cleared. It lets hot loops (decoding every perturbed variant) run without allocating.
func (m *LabelMap) Reshape(w, h int) {
	if w <= 0 || h <= 0 {
		panic(fmt.Sprintf("segment.LabelMap.Reshape: bad size %dx%d", w, h))
	}
	m.W, m.H = w, h
	if cap(m.Pix) >= w*h {
		m.Pix = m.Pix[:w*h]
		return
	}
	m.Pix = make([]uint16, w*h)
}

// SizeString is "WxH", the form every message uses.
func (m LabelMap) SizeString() string { return fmt.Sprintf("%dx%d", m.W, m.H) }
