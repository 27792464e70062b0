package detect

import (
	"fmt"

	"github.com/cvgate/cvgate/internal/detect/annot"
	"github.com/cvgate/cvgate/internal/detect/annotstats"
	"github.com/cvgate/cvgate/internal/task"
	"github.com/cvgate/cvgate/report"
)

// maxFindings is how many suspicious objects the audit lists.
const maxFindings = 30

// Audit implements task.Auditor: boxes outside the image, without area, duplicated, of unknown
// classes or extreme shape, and the profile of the ground truth (objects per image, class shares,
// sizes).
func (t *Task) Audit(truths []task.Truth, sizes [][2]int, paths []string) task.Audit {
	images := make([]annot.Image, len(truths))
	for i, tr := range truths {
		images[i] = annot.Image{File: paths[i], Width: sizes[i][0], Height: sizes[i][1], Objects: objectsOf(tr)}
	}
	fs := annotstats.Check(images, len(t.classes), annotstats.DefaultParams())
	prof := annotstats.NewProfile(images, len(t.classes))
	a := task.Audit{Metrics: map[string]float64{"objects": float64(prof.Objects), "negative_images": float64(prof.Negatives),
		"crowd_regions": float64(prof.Crowd), "difficult_objects": float64(prof.Difficult), "annotation_findings": float64(len(fs))}}
	for _, kc := range annotstats.Counts(fs) {
		a.Metrics["boxes_"+string(kc.Kind)] = float64(kc.Count)
		if kc.Count > 0 {
			a.Problems = append(a.Problems, fmt.Sprintf("%d %s %s", kc.Count, plural(kc.Count, "box", "boxes"), describeKind(kc.Kind)))
		}
	}
	if len(fs) > 0 {
		tb := &report.Table{Columns: []string{"image", "object", "problem"}}
		for i, f := range fs {
			if i == maxFindings {
				tb.Rows = append(tb.Rows, []string{fmt.Sprintf("... and %d more", len(fs)-maxFindings), "", ""})
				break
			}
			obj := images[f.Image].Objects[f.Object]
			tb.Rows = append(tb.Rows, []string{paths[f.Image], fmt.Sprintf("%s #%d", t.className(obj.Class), f.Object+1), f.Detail})
		}
		a.Sections = append(a.Sections, report.Section{Title: "Suspicious boxes", Table: tb})
	}
	tb := &report.Table{Columns: []string{"class", "objects", "images with it", "small", "medium", "large"}}
	for k, name := range t.classes {
		if k >= len(prof.ClassObjects) {
			break
		}
		sz := prof.SizesByClass[k]
		tb.Rows = append(tb.Rows, []string{name, fmt.Sprint(prof.ClassObjects[k]), fmt.Sprint(prof.ClassImages[k]), fmt.Sprint(sz[0]), fmt.Sprint(sz[1]), fmt.Sprint(sz[2])})
	}
	a.Sections = append(a.Sections, report.Section{Title: fmt.Sprintf("Ground truth: %d objects in %d images (%d without objects); COCO sizes small < 32², medium < 96²",
		prof.Objects, prof.Images, prof.Negatives), Table: tb})
	for k, n := range prof.ClassObjects {
		if n == 0 && k < len(t.classes) {
			a.Notes = append(a.Notes, fmt.Sprintf("class %q has no object", t.classes[k]))
		}
	}
	return a
}

func describeKind(k annotstats.Kind) string {
	switch k {
	case annotstats.UnknownClass:
		return "of a class outside the names"
	case annotstats.ZeroArea:
		return "without area"
	case annotstats.OutsideImage:
		return "reaching outside the image"
	case annotstats.Duplicate:
		return "duplicated exactly"
	case annotstats.NearDuplicate:
		return "nearly duplicated (IoU > 0.95, same class)"
	case annotstats.ExtremeAspect:
		return "with an extreme aspect ratio (> 20:1)"
	}
	return string(k)
}
