package detect

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/detect/box"
	"github.com/cvgate/cvgate/internal/perturb"
	"github.com/cvgate/cvgate/internal/task"
)

func testTask() *Task {
	d := config.Defaults().Detection
	return New([]string{"cat", "dog"}, d)
}

func TestMove(t *testing.T) {
	tk := testTask()
	truth := Truth{Objects: []box.Object{{Box: box.Box{X1: 10, Y1: 20, X2: 30, Y2: 40}, Class: 1, Area: 400}}}
	tests := []struct {
		spec string
		want []box.Box // nil: the object leaves the image
	}{
		{"hflip", []box.Box{{X1: 70, Y1: 20, X2: 90, Y2: 40}}},
		{"vflip", []box.Box{{X1: 10, Y1: 20, X2: 30, Y2: 40}}}, // symmetric about y = 30
		{"shift:0.1,0", []box.Box{{X1: 20, Y1: 20, X2: 40, Y2: 40}}},
		{"shift:-0.25,0", nil}, // 25 px left: only 5 of 20 px stay inside
		{"scale:1.5", []box.Box{{X1: 0, Y1: 15, X2: 20, Y2: 45}}}, // about (50,30): x 10 -> -10, clipped; 2/3 stays
		{"scale:2", nil}, // x -30..10: a quarter stays
		{"brightness:0.2", []box.Box{{X1: 10, Y1: 20, X2: 30, Y2: 40}}},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			tr, err := perturb.ParseTransform(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			got := tk.Move(truth, tr, 100, 60).(Truth)
			if len(got.Objects) != len(tc.want) {
				t.Fatalf("%d objects after %s, want %d: %+v", len(got.Objects), tc.spec, len(tc.want), got.Objects)
			}
			for i, w := range tc.want {
				g := got.Objects[i].Box
				if math.Abs(g.X1-w.X1)+math.Abs(g.X2-w.X2)+math.Abs(g.Y1-w.Y1)+math.Abs(g.Y2-w.Y2) > 1e-9 {
					t.Errorf("box %v, want %v", g, w)
				}
			}
		})
	}
	// A rotation keeps the box's centre and encloses the rotated box.
	tr, _ := perturb.ParseTransform("rotate:90")
	got := tk.Move(Truth{Objects: []box.Object{{Box: box.Box{X1: 40, Y1: 25, X2: 60, Y2: 35}, Area: 200}}}, tr, 100, 60).(Truth)
	if len(got.Objects) != 1 || math.Abs(got.Objects[0].W()-10) > 1e-9 || math.Abs(got.Objects[0].H()-20) > 1e-9 {
		t.Errorf("a 20x10 box rotated by 90 degrees about the centre should be 10x20, got %+v", got.Objects)
	}
}

func TestAgreementAndPhantoms(t *testing.T) {
	tk := testTask()
	a := Prediction{Detections: []box.Detection{{Box: box.Box{X1: 0, Y1: 0, X2: 10, Y2: 10}, Class: 0, Score: 0.9},
		{Box: box.Box{X1: 20, Y1: 20, X2: 30, Y2: 30}, Class: 1, Score: 0.8}, {Box: box.Box{X1: 50, Y1: 50, X2: 60, Y2: 60}, Class: 1, Score: 0.1}}}
	if g := tk.Agreement(a, a); g != 1 {
		t.Errorf("a prediction agrees with itself: %v", g)
	}
	b := Prediction{Detections: []box.Detection{{Box: box.Box{X1: 0, Y1: 0, X2: 10, Y2: 10}, Class: 1, Score: 0.9}}}
	// Clean keeps 2 boxes at the operating score 0.25; b's one box has the wrong class: F1 0.
	if g := tk.Agreement(a, b); g != 0 {
		t.Errorf("agreement %v, want 0", g)
	}
	if g := tk.Agreement(Prediction{}, Prediction{}); g != 1 {
		t.Errorf("two empty predictions agree: %v", g)
	}
	n, flagged := tk.Phantoms(a, 0.5)
	if n != 2 || !flagged {
		t.Errorf("phantoms %v %v, want 2 true", n, flagged)
	}
	if _, flagged := tk.Phantoms(Prediction{}, 0.5); flagged {
		t.Error("no detection is no phantom")
	}
}

func writePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	img.SetGray(1, 1, color.Gray{Y: 200})
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestFindCOCO(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "images", "a.png"), 40, 30)
	writePNG(t, filepath.Join(dir, "images", "b.png"), 40, 30)
	coco := `{"images":[{"id":1,"file_name":"a.png","width":40,"height":30},{"id":2,"file_name":"b.png","width":40,"height":20}],
	"annotations":[{"id":7,"image_id":1,"category_id":3,"bbox":[1,2,10,5],"area":50,"iscrowd":0}],
	"categories":[{"id":3,"name":"cat"},{"id":9,"name":"dog"}]}`
	if err := os.WriteFile(filepath.Join(dir, "instances_val.json"), []byte(coco), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.Data = dir
	r, err := Plugin{}.Find(task.Input{Data: dir}, &cfg)
	if err != nil || r == nil {
		t.Fatalf("Find: %v, %v", r, err)
	}
	if got := strings.Join(r.Classes(), ","); got != "cat,dog" {
		t.Errorf("classes %q", got)
	}
	l, err := r.List()
	if err != nil || len(l.Entries) != 2 {
		t.Fatalf("List: %v entries, %v", l, err)
	}
	tr, err := r.Resolve(l.Entries[0].Truth, 40, 30, l.Entries[0].Path)
	if err != nil || len(tr.(Truth).Objects) != 1 || tr.(Truth).Objects[0].Class != 0 {
		t.Errorf("Resolve a.png: %+v, %v", tr, err)
	}
	// b.png is 40x30 on disk but 40x20 in the annotations.
	if _, err := r.Resolve(l.Entries[1].Truth, 40, 30, l.Entries[1].Path); err == nil || !strings.Contains(err.Error(), "40x20") {
		t.Errorf("a size mismatch must be an error naming both sizes, got %v", err)
	}
	// A folder without annotations is not a detection set.
	empty := t.TempDir()
	writePNG(t, filepath.Join(empty, "x.png"), 8, 8)
	if r, err := (Plugin{}).Find(task.Input{Data: empty}, &cfg); r != nil || err != nil {
		t.Errorf("no annotations: %v, %v", r, err)
	}
}
