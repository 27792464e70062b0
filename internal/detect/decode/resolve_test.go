package decode

import (
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	tv := []Output{{Name: "boxes", Shape: []int64{-1, 4}}, {Name: "scores", Shape: []int64{-1}}, {Name: "labels", Shape: []int64{-1}, Int: true}}
	tests := []struct {
		name    string
		outs    []Output
		cfg     Config
		want    Convention
		classes int
		wantErr string
	}{
		{"yolov8 head", []Output{{Name: "output0", Shape: []int64{1, 84, 8400}}}, Config{}, YOLOv8, 80, ""},
		{"yolov8 dynamic batch", []Output{{Name: "output0", Shape: []int64{-1, 6, 8400}}}, Config{}, YOLOv8, 2, ""},
		{"yolov5 needs a hint", []Output{{Name: "output0", Shape: []int64{1, 25200, 85}}}, Config{}, "", 0, "several conventions"},
		{"yolov5 by class count", []Output{{Name: "output0", Shape: []int64{1, 25200, 85}}}, Config{NumClasses: 80}, YOLOv5, 80, ""},
		{"yolov5 by anchor count", []Output{{Name: "output0", Shape: []int64{1, 25200, 85}}}, Config{InputWidth: 640, InputHeight: 640}, YOLOv5, 80, ""},
		{"yolov5 beside its raw maps", []Output{{Name: "output0", Shape: []int64{1, 25200, 85}}, {Name: "onnx::Sigmoid_1", Shape: []int64{1, 3, 80, 80, 85}}},
			Config{NumClasses: 80}, YOLOv5, 80, ""},
		{"yolov8 transposed", []Output{{Name: "output0", Shape: []int64{1, 8400, 84}}}, Config{InputWidth: 640, InputHeight: 640}, YOLOv8Transposed, 80, ""},
		{"yolov8 non-square input", []Output{{Name: "y", Shape: []int64{1, 2100, 9}}}, Config{InputWidth: 320, InputHeight: 320}, YOLOv8Transposed, 5, ""},
		{"end-to-end padded", []Output{{Name: "output0", Shape: []int64{1, 300, 6}}}, Config{InputWidth: 640, InputHeight: 640}, Padded6, 0, ""},
		{"padded by class count", []Output{{Name: "dets", Shape: []int64{1, 100, 6}}}, Config{NumClasses: 80}, Padded6, 0, ""},
		{"padded with batch index", []Output{{Name: "dets", Shape: []int64{-1, 100, 7}}}, Config{NumClasses: 80}, Padded7, 0, ""},
		{"flat with batch index", []Output{{Name: "output", Shape: []int64{-1, 7}}}, Config{}, Flat7, 0, ""},
		{"flat batch 1", []Output{{Name: "output", Shape: []int64{-1, 6}}}, Config{}, Padded6, 0, ""},
		{"torchvision", tv, Config{}, BoxesScoresLabels, 0, ""},
		{"torchvision by shapes", []Output{{Name: "3049", Shape: []int64{-1, 4}}, {Name: "3050", Shape: []int64{-1}, Int: true}, {Name: "3051", Shape: []int64{-1}}},
			Config{}, BoxesScoresLabels, 0, ""},
		{"tensorflow", []Output{{Name: "detection_boxes:0", Shape: []int64{1, 100, 4}}, {Name: "detection_classes:0", Shape: []int64{1, 100}},
			{Name: "detection_scores:0", Shape: []int64{1, 100}}, {Name: "num_detections:0", Shape: []int64{1}}},
			Config{InputWidth: 300, InputHeight: 300}, BoxesScoresLabels, 0, ""},
		{"tensorflow needs the input size", []Output{{Name: "detection_boxes", Shape: []int64{1, 100, 4}}, {Name: "detection_classes", Shape: []int64{1, 100}},
			{Name: "detection_scores", Shape: []int64{1, 100}}}, Config{}, "", 0, "normalized boxes need the model input size"},
		{"ssd with background", []Output{{Name: "boxes", Shape: []int64{1, 3000, 4}}, {Name: "scores", Shape: []int64{1, 3000, 81}}},
			Config{NumClasses: 80}, SSD, 80, ""},
		{"ssd without background", []Output{{Name: "bboxes", Shape: []int64{1, 3000, 4}}, {Name: "scores", Shape: []int64{1, 3000, 80}}},
			Config{NumClasses: 80}, SSD, 80, ""},
		{"ssd declared background", []Output{{Name: "bboxes", Shape: []int64{1, 3000, 4}}, {Name: "scores", Shape: []int64{1, 3000, 21}}},
			Config{Background: BackgroundFirst}, SSD, 20, ""},
		{"ssd ambiguous background", []Output{{Name: "bboxes", Shape: []int64{1, 3000, 4}}, {Name: "scores", Shape: []int64{1, 3000, 81}}},
			Config{}, "", 0, "background_class"},
		{"declared names", []Output{{Name: "a", Shape: []int64{-1, 4}}, {Name: "b", Shape: []int64{-1}}, {Name: "c", Shape: []int64{-1}}},
			Config{Convention: BoxesScoresLabels, Boxes: "a", Scores: "b", Labels: "c"}, BoxesScoresLabels, 0, ""},
		{"declared name missing", tv, Config{Convention: BoxesScoresLabels, Boxes: "bbox"}, "", 0, `no output is named "bbox"`},
		{"declared convention that does not fit", []Output{{Name: "output0", Shape: []int64{1, 25200, 85}}}, Config{Convention: YOLOv8, NumClasses: 80}, "", 0, "fits the declared convention yolov8"},
		{"class count contradicts the head", []Output{{Name: "output0", Shape: []int64{1, 84, 8400}}}, Config{NumClasses: 20}, "", 0, "no known detection convention"},
		{"feature maps only", []Output{{Name: "p3", Shape: []int64{1, 3, 80, 80, 85}}}, Config{}, "", 0, `"p3" [1,3,80,80,85] float`},
		{"unknown convention", tv, Config{Convention: "retina"}, "", 0, "unknown output convention"},
		{"no outputs", nil, Config{}, "", 0, "no outputs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Resolve(tt.outs, tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "unknown output convention") && !strings.Contains(err.Error(), "declare the convention") {
					t.Errorf("error does not say how to declare the convention: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Convention() != tt.want || d.Classes() != tt.classes {
				t.Errorf("resolved %s with %d classes, want %s with %d", d.Convention(), d.Classes(), tt.want, tt.classes)
			}
			if !strings.HasPrefix(d.Describe(), string(tt.want)) {
				t.Errorf("description %q does not name the convention", d.Describe())
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	d, err := Resolve([]Output{{Name: "output0", Shape: []int64{1, 84, 8400}}}, Config{ScoreThreshold: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	want := `yolov8 (output "output0", 80 classes), boxes cxcywh in input pixels, best class per box, class-aware NMS at IoU 0.7, scores above 0.25, at most 100 per image`
	if d.Describe() != want {
		t.Errorf("Describe = %q\nwant       %q", d.Describe(), want)
	}
	d, err = Resolve([]Output{{Name: "detection_boxes:0", Shape: []int64{1, 100, 4}}, {Name: "detection_classes:0", Shape: []int64{1, 100}},
		{Name: "detection_scores:0", Shape: []int64{1, 100}}, {Name: "num_detections:0", Shape: []int64{1}}}, Config{InputWidth: 300, InputHeight: 300})
	if err != nil {
		t.Fatal(err)
	}
	want = `boxes-scores-labels (outputs "detection_boxes:0", "detection_scores:0", "detection_classes:0", count "num_detections:0"), boxes yxyx in normalized coordinates, scores above 0, at most 100 per image`
	if d.Describe() != want {
		t.Errorf("Describe = %q\nwant       %q", d.Describe(), want)
	}
}
