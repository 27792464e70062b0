package cocoeval

import "github.com/cvgate/cvgate/internal/detect/box"

// SuspectKind names a likely label error.
type SuspectKind string

const (
	// WrongClass: a confident detection sits on an object labelled with another class, and no
	// confident detection of the labelled class does.
	WrongClass SuspectKind = "wrong_class"
	// MissingLabel: a confident detection overlaps no annotated object at all.
	MissingLabel SuspectKind = "missing_label"
)

// Suspect is a detection that points at a likely annotation mistake.
type Suspect struct {
	Kind SuspectKind
	Det  int
	// GT is the object it sits on (-1 for MissingLabel), IoU their overlap.
	GT    int
	IoU   float64
	Score float64
}

// SuspectParams set what counts as confident and as overlapping.
type SuspectParams struct {
	// Score is the confidence from which a detection is trusted (e.g. 0.8).
	Score float64
	// IoU is the overlap that puts a detection on an object (e.g. 0.5).
	IoU float64
	// EmptyIoU is the overlap below which a detection is on no object at all (e.g. 0.1).
	EmptyIoU float64
}

// Suspects lists an image's likely label errors, in detection order.
func Suspects(im Image, p SuspectParams) []Suspect {
	var out []Suspect
	for j, d := range im.Dets {
		if d.Score < p.Score {
			continue
		}
		best, bestIoU, anyOverlap := -1, 0.0, false
		for g, o := range im.GT {
			v := box.IoU(d.Box, o.Box)
			if o.Crowd {
				v = box.CrowdIoU(d.Box, o.Box)
			}
			if v >= p.EmptyIoU && v > 0 {
				anyOverlap = true
			}
			if !o.Ignored() && v >= p.IoU && v > bestIoU {
				best, bestIoU = g, v
			}
		}
		switch {
		case !anyOverlap:
			out = append(out, Suspect{Kind: MissingLabel, Det: j, GT: -1, Score: d.Score})
		case best >= 0 && im.GT[best].Class != d.Class && !confirmed(im, best, p):
			out = append(out, Suspect{Kind: WrongClass, Det: j, GT: best, IoU: bestIoU, Score: d.Score})
		}
	}
	return out
}

// confirmed reports whether a confident detection of object g's own class covers it.
func confirmed(im Image, g int, p SuspectParams) bool {
	o := im.GT[g]
	for _, d := range im.Dets {
		if d.Class == o.Class && d.Score >= p.Score && box.IoU(d.Box, o.Box) >= p.IoU {
			return true
		}
	}
	return false
}
