package annot

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzYOLOLabel feeds arbitrary label files to the YOLO parser: it must return objects inside the
// image with finite boxes, or an error, and never panic. `go test` runs the seeds; fuzz longer with
// go test -fuzz FuzzYOLOLabel ./internal/detect/annot.
func FuzzYOLOLabel(f *testing.F) {
	for _, s := range []string{"0 0.5 0.5 0.2 0.2\n", "1 0.1 0.1 0.5 0.2 0.3 0.9\n", "2 0.5 0.5 0.1 0.1\n", "0 1e308 0 0 0", "0 NaN 0 0 0", "\n\n", "0 0.5"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "x.txt")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		objs, err := readYOLOFile(file, "x.txt", 40, 30, 2, "data.yaml", DefaultLimits())
		if err != nil {
			return
		}
		for _, o := range objs {
			if !o.Finite() || math.IsNaN(o.Area) || o.Class < 0 || o.Class > 1 {
				t.Fatalf("object %+v from %q", o, data)
			}
			// Normalized coordinates keep centres inside the image (boxes may overhang).
			if cx, cy := o.Centre(); cx < -1e-3 || cx > 40+1e-3 || cy < -1e-3 || cy > 30+1e-3 {
				t.Fatalf("centre (%v, %v) outside the image from %q", cx, cy, data)
			}
		}
	})
}

// FuzzCOCO feeds arbitrary instances files to the COCO reader: objects with finite boxes and
// non-negative sizes and areas, or an error, never a panic.
func FuzzCOCO(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "coco", "annotations", "instances_val.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(cocoOK))
	f.Add([]byte(`{"images":[],"categories":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "instances.json")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		set, err := ReadCOCO(file, Options{})
		if err != nil {
			return
		}
		for _, im := range set.Images {
			for _, o := range im.Objects {
				if !o.Finite() || o.W() < 0 || o.H() < 0 || o.Area < 0 || o.Class < 0 || o.Class >= len(set.Classes) {
					t.Fatalf("object %+v", o)
				}
			}
		}
	})
}
