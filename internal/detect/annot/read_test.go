package annot

import (
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/cvgate/cvgate/internal/detect/box"
	"github.com/cvgate/cvgate/internal/testutil/golden"
)

// TestReadFixtures reads the same scene written in the three formats (testdata/coco, yolo, voc)
// through auto-detection, compares each Set with its golden, and checks that the formats agree:
// same images, sizes, classes and boxes (YOLO's six-decimal normalized numbers to 1e-3 px, VOC's
// 1-based pixels converted exactly).
func TestReadFixtures(t *testing.T) {
	sets := map[Format]*Set{}
	for _, f := range []Format{COCO, YOLO, VOC} {
		t.Run(string(f), func(t *testing.T) {
			root := filepath.Join("testdata", string(f))
			found, err := Sniff(root, listImages(t, root))
			if err != nil {
				t.Fatal(err)
			}
			if found.Format != f {
				t.Fatalf("sniffed %s (%s), want %s", found.Format, found.Why, f)
			}
			set, err := Read(root, "", options(t, root))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := json.MarshalIndent(set, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, ".json", append(raw, '\n'))
			sets[f] = set
		})
	}
	coco, yolo, voc := sets[COCO], sets[YOLO], sets[VOC]
	if coco == nil || yolo == nil || voc == nil {
		t.Fatal("a reader failed")
	}
	for _, s := range []*Set{yolo, voc} {
		if len(s.Classes) != 3 || s.Classes[0] != coco.Classes[0] || s.Classes[2] != coco.Classes[2] {
			t.Errorf("%s classes %v, COCO %v", s.Format, s.Classes, coco.Classes)
		}
		if len(s.Images) != len(coco.Images) {
			t.Fatalf("%s has %d images, COCO %d", s.Format, len(s.Images), len(coco.Images))
		}
		for i, im := range s.Images {
			ci := coco.Images[i]
			if filepath.Base(im.File) != filepath.Base(ci.File) || im.Width != ci.Width || im.Height != ci.Height || len(im.Objects) != len(ci.Objects) {
				t.Fatalf("%s image %d = %s %dx%d with %d objects, COCO %s %dx%d with %d", s.Format, i, im.File, im.Width, im.Height, len(im.Objects), ci.File, ci.Width, ci.Height, len(ci.Objects))
			}
			for j, o := range im.Objects {
				c := ci.Objects[j]
				if o.Class != c.Class || !boxNear(o.Box, c.Box, 1e-3) {
					t.Errorf("%s %s object %d = %d %+v, COCO %d %+v", s.Format, im.File, j, o.Class, o.Box, c.Class, c.Box)
				}
			}
		}
	}
	// What only one format can say.
	if b := coco.Images[1].Objects[1]; !b.Crowd || b.Area != 225 {
		t.Errorf("COCO bird = %+v, want a crowd with area 225", b)
	}
	if a := coco.Images[0].Objects[0]; a.Area != 700 {
		t.Errorf("COCO cat area %v, want the file's 700 (not the box's 884)", a.Area)
	}
	if b := voc.Images[1].Objects[1]; !b.Difficult || b.Area != 225 {
		t.Errorf("VOC bird = %+v, want difficult with the box area 225", b)
	}
	if coco.Images[0].ID != 3 || coco.Images[2].ID != 9 {
		t.Errorf("COCO images are not in id order: %d, %d", coco.Images[0].ID, coco.Images[2].ID)
	}
	if len(yolo.Notes) != 1 {
		t.Errorf("YOLO notes %v, want one about the image without a label file", yolo.Notes)
	}
}

func boxNear(a, b box.Box, tol float64) bool {
	return math.Abs(a.X1-b.X1) <= tol && math.Abs(a.Y1-b.Y1) <= tol && math.Abs(a.X2-b.X2) <= tol && math.Abs(a.Y2-b.Y2) <= tol
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    Format
		wantErr string
	}{
		{"coco in annotations/", map[string]string{"annotations/instances_val2017.json": "{}", "val2017/a.png": "4x4"}, COCO, ""},
		{"roboflow coco", map[string]string{"_annotations.coco.json": "{}", "a.png": "4x4"}, COCO, ""},
		{"yolo beside", map[string]string{"a.png": "4x4", "a.txt": "0 0.5 0.5 0.1 0.1\n"}, YOLO, ""},
		{"yolo parallel labels", map[string]string{"images/val/a.png": "4x4", "labels/val/a.txt": ""}, YOLO, ""},
		{"voc", map[string]string{"JPEGImages/a.png": "4x4", "Annotations/a.xml": "<annotation/>"}, VOC, ""},
		{"two formats", map[string]string{"a.png": "4x4", "a.txt": "", "a.xml": "<annotation/>"}, "", "several formats"},
		{"two coco files", map[string]string{"instances_train.json": "{}", "instances_val.json": "{}"}, "", "several COCO files"},
		{"nothing", map[string]string{"cat/a.png": "4x4"}, "", "no detection annotations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeFiles(t, tt.files)
			f, err := Sniff(root, listImages(t, root))
			if tt.wantErr != "" {
				if err == nil || !contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if tt.name == "nothing" && !errors.Is(err, ErrNoAnnotations) {
					t.Errorf("err = %v, want ErrNoAnnotations", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Format != tt.want || f.Why == "" {
				t.Errorf("found %+v, want %s", f, tt.want)
			}
		})
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub))
}
