package app

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The detection fixtures (testdata/det, made by testdata/make_detection.py) export one trained
// detector in five output conventions; testdata/det/MODELS.md gives its COCO AP as the fixture
// script's own numpy re-implementation of pycocotools computes it (checked there against
// pycocotools itself) under the decoding rule the in-graph NMS uses: best class per anchor,
// score > 0.05, class-aware NMS at IoU 0.5.
const (
	detAP   = 0.6194 // AP@[.5:.95] of det_yolov8 and its twins, MODELS.md
	detAP50 = 0.8521
	segMIoU = 0.7207 // seg_unet on testdata/seg/masks, testdata/seg/MODELS.md (numpy)
)

// fixtureRule is the decoding rule of the fixtures' reference numbers.
const fixtureRule = "version: 1\ndetection: {nms_iou: 0.5, score_threshold: 0.05}\n"

func writeConfig(t *testing.T, h *harness, name, body string) string {
	t.Helper()
	p := filepath.Join(h.dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDetectionConventions: every output convention of the same detector decodes to the same
// detections, so cvgate's COCO evaluation gives the reference AP for each (the task is inferred
// from the COCO file; letterbox is the detectors' default fit).
func TestDetectionConventions(t *testing.T) {
	h := newHarness(t)
	base := fixtureRule
	tests := []struct {
		model, extra, wantConvention string
	}{
		{"det_yolov8.onnx", "", "yolov8"},
		{"det_yolov5.onnx", "", "yolov5"},
		{"det_nms_padded.onnx", "", "padded6"},
		{"det_torchvision_style.onnx", "detection: {nms_iou: 0.5, score_threshold: 0.05, label_offset: 1}\n", "boxes-scores-labels"},
		{"det_ssd_style.onnx", "", "ssd"},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			body := base
			if tc.extra != "" {
				body = "version: 1\n" + tc.extra
			}
			cfg := writeConfig(t, h, "det.yml", body)
			out := "out-" + tc.model
			code, _, stderr := h.run("check", "--quiet", "--config", cfg, "--model", h.testdata("det/"+tc.model), "--data", h.testdata("det/images"), "--annotations", h.testdata("det/instances_val.json"),
				"--checks", "perf.metrics", "--out", out)
			if code != ExitPass {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			r := h.report(out)
			if got := r.Inputs.Dataset.Task; got != "detection" {
				t.Errorf("task %q, want detection inferred (source %q)", got, r.Inputs.Dataset.TaskSource)
			}
			if !strings.HasPrefix(r.Targets[0].Model.Output, tc.wantConvention) {
				t.Errorf("convention %q, want %s", r.Targets[0].Model.Output, tc.wantConvention)
			}
			m := result(t, r, 0, "perf.metrics").Metrics
			if math.Abs(m["map"]-detAP) > 6e-4 || math.Abs(m["ap50"]-detAP50) > 6e-4 {
				t.Errorf("mAP %.4f AP50 %.4f, want %.4f and %.4f (MODELS.md)", m["map"], m["ap50"], detAP, detAP50)
			}
		})
	}
}

// TestDetectionAnnotationFormats: the same images annotated as COCO, YOLO and VOC (the VOC copy
// marks tiny digits difficult, which evaluation ignores) are all read, and COCO and YOLO, which
// hold the same boxes, score the same subset equally.
func TestDetectionAnnotationFormats(t *testing.T) {
	h := newHarness(t)
	cfg := writeConfig(t, h, "det.yml", fixtureRule)
	score := func(data string) (float64, string) {
		t.Helper()
		out := "out-" + filepath.Base(data)
		code, _, stderr := h.run("check", "--quiet", "--config", cfg, "--model", h.testdata("det/det_yolov8.onnx"), "--data", data,
			"--checks", "perf.metrics,data.integrity", "--out", out)
		if code != ExitPass {
			t.Fatalf("%s: exit %d: %s", data, code, stderr)
		}
		r := h.report(out)
		return result(t, r, 0, "perf.metrics").Metrics["map"], r.Inputs.Dataset.Annotations
	}
	yolo, ya := score(h.testdata("det/yolo"))
	voc, va := score(h.testdata("det/voc"))
	if !strings.Contains(ya, "YOLO") || !strings.Contains(va, "VOC") {
		t.Errorf("formats reported as %q and %q", ya, va)
	}
	if !(yolo > 0.3 && voc >= yolo-1e-9) {
		t.Errorf("YOLO mAP %.4f, VOC mAP %.4f: VOC ignores difficult objects, so it cannot score lower", yolo, voc)
	}
}

// TestDetectionGate: a real regression (the weak checkpoint) fails perf.baseline; the seed-only
// twin does not.
func TestDetectionGate(t *testing.T) {
	h := newHarness(t)
	cfg := writeConfig(t, h, "det.yml", fixtureRule)
	run := func(cand, base string) (int, string) {
		out := "out-" + cand
		code, _, stderr := h.run("check", "--quiet", "--config", cfg, "--model", h.testdata("det/"+cand), "--baseline", h.testdata("det/"+base),
			"--data", h.testdata("det/images"), "--annotations", h.testdata("det/instances_val.json"), "--checks", "perf.baseline", "--out", out)
		if code == ExitCannotRun {
			t.Fatalf("exit 2: %s", stderr)
		}
		return code, string(result(t, h.report(out), 0, "perf.baseline").Status)
	}
	if code, st := run("det_weak_yolov8.onnx", "det_yolov8.onnx"); code != ExitGateFailed || st != "fail" {
		t.Errorf("weak checkpoint against the candidate: exit %d, perf.baseline %s; want a failing gate", code, st)
	}
	if code, st := run("det_yolov8_seed2.onnx", "det_yolov8.onnx"); code != ExitPass || st != "pass" {
		t.Errorf("seed-only twin: exit %d, perf.baseline %s; want pass", code, st)
	}
}

// TestSegmentation: mIoU equals the fixtures' independent numpy computation, the task is
// inferred from the masks folder, and the weak checkpoint fails the gate.
func TestSegmentation(t *testing.T) {
	h := newHarness(t)
	data := filepath.Join(h.dir, "seg")
	for _, d := range []string{"images", "masks"} {
		copyTree(t, h.testdata("seg/"+d), filepath.Join(data, d))
	}
	out := "out-seg"
	code, _, stderr := h.run("check", "--quiet", "--model", h.testdata("seg/seg_unet_weak.onnx"), "--baseline", h.testdata("seg/seg_unet.onnx"),
		"--data", data, "--labels", h.testdata("seg/labels.txt"), "--checks", "perf.metrics,perf.baseline,data.integrity", "--out", out)
	if code != ExitGateFailed {
		t.Fatalf("weak segmenter against the candidate: exit %d, want 1: %s", code, stderr)
	}
	r := h.report(out)
	if r.Inputs.Dataset.Task != "segmentation" {
		t.Errorf("task %q (%s)", r.Inputs.Dataset.Task, r.Inputs.Dataset.TaskSource)
	}
	pm := result(t, r, 0, "perf.metrics")
	if got := pm.BaselineMetrics["miou"]; math.Abs(got-segMIoU) > 6e-5 {
		t.Errorf("baseline (seg_unet) mIoU %.5f, want %.4f (numpy, MODELS.md)", got, segMIoU)
	}
	if st := result(t, r, 0, "perf.baseline").Status; st != "fail" {
		t.Errorf("perf.baseline %s, want fail for a 40 pp drop", st)
	}
}

// TestTaskMismatch: a detector run as a classifier, and a classifier's data run as detection,
// end with an error that says what to do.
func TestTaskMismatch(t *testing.T) {
	h := newHarness(t)
	code, _, stderr := h.run("check", "--quiet", "--task", "classification", "--model", h.testdata("det/det_yolov8.onnx"),
		"--data", h.testdata("images/mnist"), "--out", "o1")
	if code == ExitPass || !strings.Contains(stderr+readAll(t, filepath.Join(h.dir, "o1", "report.md")), "--task detection") {
		t.Errorf("a detector as a classifier: exit %d, want advice to set --task detection: %s", code, stderr)
	}
	code, _, stderr = h.run("check", "--quiet", "--task", "detection", "--model", h.testdata("models/mnist_cnn.onnx"),
		"--data", h.testdata("images/mnist"), "--out", "o2")
	if code != ExitCannotRun || !strings.Contains(stderr, "needs ground truth") {
		t.Errorf("detection without annotations: exit %d: %s", code, stderr)
	}
	code, _, stderr = h.run("check", "--quiet", "--model", h.testdata("models/mnist_rgb_color.onnx"), "--data", h.testdata("det/images"),
		"--annotations", h.testdata("det/instances_val.json"), "--out", "o3")
	if code != ExitCannotRun || !strings.Contains(stderr, "output") || !strings.Contains(stderr, "detection:") {
		t.Errorf("a classifier on detection data: exit %d, want the outputs listed and the keys to declare: %s", code, stderr)
	}
}

func readAll(t *testing.T, p string) string {
	t.Helper()
	b, _ := os.ReadFile(p)
	return string(b)
}

// TestDetectionDrift: two sets with the same ground truth in two formats do not drift; the
// model's detections on another kind of image do.
func TestDetectionDrift(t *testing.T) {
	h := newHarness(t)
	code, _, stderr := h.run("drift", "--quiet", "--reference", h.testdata("det/yolo"), "--current", h.testdata("det/voc"),
		"--model", h.testdata("det/det_yolov8.onnx"), "--out", "d1")
	if code != ExitPass {
		t.Fatalf("same images, YOLO vs VOC: exit %d: %s", code, stderr)
	}
	r := h.report("d1")
	if st := result(t, r, 0, "drift.labels").Status; st != "pass" {
		t.Errorf("drift.labels %s on the same boxes", st)
	}
	code, _, _ = h.run("drift", "--quiet", "--reference", h.testdata("det/yolo"), "--current", h.testdata("images/mnist_color"),
		"--model", h.testdata("det/det_yolov8.onnx"), "--out", "d2")
	if code != ExitGateFailed {
		t.Errorf("detector on MNIST crops against its own scenes: exit %d, want drift", code)
	}
	if st := result(t, h.report("d2"), 0, "drift.predictions").Status; st != "fail" {
		t.Errorf("drift.predictions %s, want fail", st)
	}
}

// TestCompareDetectors: compare ranks detectors by COCO mAP and tells a real gap from a tie.
func TestCompareDetectors(t *testing.T) {
	h := newHarness(t)
	cfg := writeConfig(t, h, "det.yml", fixtureRule)
	code, _, stderr := h.run("compare", "--quiet", "--config", cfg, "--model", h.testdata("det/det_weak_yolov8.onnx"), "--model", h.testdata("det/det_yolov8.onnx"),
		"--data", h.testdata("det/images"), "--annotations", h.testdata("det/instances_val.json"), "--checks", "perf.metrics", "--out", "cmp")
	if code == ExitCannotRun {
		t.Fatalf("exit 2: %s", stderr)
	}
	c := h.report("cmp").Comparison
	if c == nil || c.Metric != "map" || !strings.HasSuffix(c.Best, "det_yolov8.onnx") {
		t.Fatalf("comparison %+v: want det_yolov8 best by mAP", c)
	}
	if len(c.Pairs) != 1 || !c.Pairs[0].Significant || c.Pairs[0].Diff < 0.2 {
		t.Errorf("pairs %+v: want a significant gap of about 0.33 mAP", c.Pairs)
	}
}

// A torchvision-style detector counts the background as label 0: without label_offset its
// highest labels name no class. perf.metrics says so, with the count of dropped detections on
// the clean pass, and the count is the same when every prediction comes from the cache.
func TestDetectionDroppedLabelsWarn(t *testing.T) {
	h := newHarness(t)
	cfg := writeConfig(t, h, "det.yml", "version: 1\ndetection: {nms_iou: 0.5, score_threshold: 0.05}\n")
	cache := filepath.Join(h.dir, "cache")
	var summaries [2]string
	for i := range summaries {
		out := fmt.Sprint("out-dropped", i)
		code, _, stderr := h.run("check", "--quiet", "--config", cfg, "--cache", cache, "--model", h.testdata("det/det_torchvision_style.onnx"),
			"--data", h.testdata("det/images"), "--annotations", h.testdata("det/instances_val.json"), "--checks", "perf.metrics", "--out", out)
		if code != ExitPass {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		res := result(t, h.report(out), 0, "perf.metrics")
		if res.Status != "warn" || !strings.Contains(res.Summary, "label_offset: 1") {
			t.Fatalf("run %d: perf.metrics %s %q, want a warning naming label_offset", i, res.Status, res.Summary)
		}
		summaries[i] = res.Summary
	}
	if summaries[0] != summaries[1] {
		t.Errorf("cold %q, warm %q: want the same count", summaries[0], summaries[1])
	}
}
