package annot

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/cvgate/cvgate/internal/detect/box"
)

type cocoResult struct {
	ImageID    int64     `json:"image_id"`
	CategoryID int64     `json:"category_id"`
	BBox       []float64 `json:"bbox"`
	Score      *float64  `json:"score"`
}

// ReadCOCOResults reads a COCO results file (a JSON list of {image_id, category_id, bbox, score},
// as detectors' evaluation scripts write) against the Set it answers, and returns the detections
// per image in the Set's image order, each image's in file order. Unknown image or category ids
// are errors: pycocotools refuses the former and silently drops the latter, which would hide a
// category-id mapping bug.
func ReadCOCOResults(file string, set *Set, lim Limits) ([][]box.Detection, error) {
	lim = lim.withDefaults()
	fail := func(err error) ([][]box.Detection, error) {
		return nil, fmt.Errorf("read COCO results %q: %w", file, err)
	}
	data, err := readCapped(file, lim.MaxJSONBytes, lim.Within)
	if err != nil {
		return fail(err)
	}
	var rs []cocoResult
	if err := json.Unmarshal(data, &rs); err != nil {
		return fail(explainJSON(data, err))
	}
	imgIndex := make(map[int64]int, len(set.Images))
	for i, im := range set.Images {
		imgIndex[im.ID] = i
	}
	classOf := make(map[int64]int, len(set.CategoryIDs))
	for i, id := range set.CategoryIDs {
		classOf[id] = i
	}
	if set.CategoryIDs == nil {
		// A Set from YOLO or VOC: category ids are the class indices.
		for i := range set.Classes {
			classOf[int64(i)] = i
		}
	}
	out := make([][]box.Detection, len(set.Images))
	var probs problems
	for i, r := range rs {
		where := fmt.Sprintf("result #%d (image_id %d)", i+1, r.ImageID)
		ii, ok := imgIndex[r.ImageID]
		if !ok {
			probs.add("%s: image_id is not in the ground truth: the results belong to another dataset", where)
			continue
		}
		class, ok := classOf[r.CategoryID]
		if !ok {
			probs.add("%s: category_id %d is not a ground-truth category: map class indices back to category ids", where, r.CategoryID)
			continue
		}
		if len(r.BBox) != 4 {
			probs.add("%s: bbox has %d numbers, want 4 ([x, y, width, height])", where, len(r.BBox))
			continue
		}
		if r.Score == nil || math.IsNaN(*r.Score) || math.IsInf(*r.Score, 0) {
			probs.add("%s: score is missing or not finite", where)
			continue
		}
		if r.BBox[2] < 0 || r.BBox[3] < 0 {
			probs.add("%s: bbox %v has a negative width or height", where, r.BBox)
			continue
		}
		if len(out[ii]) >= lim.MaxObjectsPerImage {
			probs.add("%s: more than %d detections for one image", where, lim.MaxObjectsPerImage)
			continue
		}
		out[ii] = append(out[ii], box.Detection{
			Box: box.FromXYWH(r.BBox[0], r.BBox[1], r.BBox[2], r.BBox[3]), Class: class, Score: *r.Score,
		})
	}
	if err := probs.err(); err != nil {
		return fail(err)
	}
	return out, nil
}
