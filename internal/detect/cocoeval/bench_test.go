package cocoeval

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cvgate/cvgate/internal/detect/annot"
)

// The benchmark input can travel to pycocotools and back (scripts/coco-bench does it in one run):
//
//	CVGATE_COCO_BENCH_OUT=dir  TestWriteBenchInput writes dir/gt.json and dir/results.json
//	CVGATE_COCO_BENCH_IN=dir   the benchmarks evaluate those files instead of the in-memory input
//	CVGATE_COCO_BENCH_EXPECT=f TestBenchMatchesPycocotools compares with pycocotools' stats in f

func benchImages(tb testing.TB) []Image {
	tb.Helper()
	dir := os.Getenv("CVGATE_COCO_BENCH_IN")
	if dir == "" {
		return synth(2024, benchSpec)
	}
	_, images := loadCOCOFiles(tb, filepath.Join(dir, "gt.json"), filepath.Join(dir, "results.json"))
	return images
}

func loadCOCOFiles(tb testing.TB, gt, res string) (*annot.Set, []Image) {
	tb.Helper()
	set, err := annot.ReadCOCO(gt, annot.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	dets, err := annot.ReadCOCOResults(res, set, annot.Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	images := make([]Image, len(set.Images))
	for i, im := range set.Images {
		images[i] = Image{GT: im.Objects, Dets: dets[i]}
	}
	return set, images
}

// BenchmarkEvaluate5000 is the target: evaluate + accumulate + summarize of 5,000 images
// x 100 detections over 80 classes (pycocotools' evaluate/accumulate/summarize on the same input
// is what scripts/coco-bench times beside it).
func BenchmarkEvaluate5000(b *testing.B) {
	images := benchImages(b)
	b.ResetTimer()
	start := cpuTime()
	for b.Loop() {
		e, err := Evaluate(images, DefaultParams(benchSpec.classes))
		if err != nil {
			b.Fatal(err)
		}
		_ = e.Summary()
	}
	// With two workers, CPU time per op exceeds wall time on an idle machine.
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkResample is the cost of one bootstrap resample: the summary over 5,000 image indices
// drawn with replacement, from the records, without matching again.
func BenchmarkResample(b *testing.B) {
	e, err := Evaluate(benchImages(b), DefaultParams(benchSpec.classes))
	if err != nil {
		b.Fatal(err)
	}
	acc := e.NewAccumulator()
	rng := rand.New(rand.NewPCG(3, 4))
	idx := make([]int, e.NumImages())
	b.ResetTimer()
	start := cpuTime()
	for b.Loop() {
		for i := range idx {
			idx[i] = rng.IntN(len(idx))
		}
		if _, err := acc.Summary(idx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

func TestWriteBenchInput(t *testing.T) {
	dir := os.Getenv("CVGATE_COCO_BENCH_OUT")
	if dir == "" {
		t.Skip("set CVGATE_COCO_BENCH_OUT to write the benchmark input as COCO files (scripts/coco-bench)")
	}
	images := synth(2024, benchSpec)
	type img struct {
		ID       int    `json:"id"`
		FileName string `json:"file_name"`
		Width    int    `json:"width"`
		Height   int    `json:"height"`
	}
	type ann struct {
		ID       int        `json:"id"`
		ImageID  int        `json:"image_id"`
		Category int        `json:"category_id"`
		BBox     [4]float64 `json:"bbox"`
		Area     float64    `json:"area"`
		Crowd    int        `json:"iscrowd"`
	}
	type res struct {
		ImageID  int        `json:"image_id"`
		Category int        `json:"category_id"`
		BBox     [4]float64 `json:"bbox"`
		Score    float64    `json:"score"`
	}
	type cat struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	var gt struct {
		Images      []img `json:"images"`
		Annotations []ann `json:"annotations"`
		Categories  []cat `json:"categories"`
	}
	var results []res
	for k := range benchSpec.classes {
		gt.Categories = append(gt.Categories, cat{k + 1, fmt.Sprintf("class_%02d", k+1)})
	}
	for i, im := range images {
		gt.Images = append(gt.Images, img{ID: i + 1, FileName: fmt.Sprintf("%06d.jpg", i+1), Width: int(benchSpec.w), Height: int(benchSpec.h)})
		for _, o := range im.GT {
			crowd := 0
			if o.Crowd {
				crowd = 1
			}
			gt.Annotations = append(gt.Annotations, ann{len(gt.Annotations) + 1, i + 1, o.Class + 1,
				[4]float64{o.X1, o.Y1, o.W(), o.H()}, o.Area, crowd})
		}
		for _, d := range im.Dets {
			results = append(results, res{i + 1, d.Class + 1, [4]float64{d.X1, d.Y1, d.W(), d.H()}, d.Score})
		}
	}
	for name, v := range map[string]any{"gt.json": gt, "results.json": results} {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBenchMatchesPycocotools(t *testing.T) {
	file, dir := os.Getenv("CVGATE_COCO_BENCH_EXPECT"), os.Getenv("CVGATE_COCO_BENCH_IN")
	if file == "" || dir == "" {
		t.Skip("set CVGATE_COCO_BENCH_IN and CVGATE_COCO_BENCH_EXPECT (scripts/coco-bench)")
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Stats map[string]float64 `json:"stats"`
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	e, err := Evaluate(benchImages(t), DefaultParams(benchSpec.classes))
	if err != nil {
		t.Fatal(err)
	}
	s := e.Summary()
	for i, n := range StatNames {
		if math.Abs(s.Stats[i]-want.Stats[n]) > tolerance {
			t.Errorf("%s = %.6f, pycocotools %.6f", n, s.Stats[i], want.Stats[n])
		}
	}
	t.Logf("stats %v agree with pycocotools to %g", s.Stats, tolerance)
}
