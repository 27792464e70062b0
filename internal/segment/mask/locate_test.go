package mask

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tree writes empty files (and folders) under a fresh root.
func tree(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFind(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		image   string
		want    string
		wantErr string
	}{
		{name: "ade20k layout", files: []string{"images/training/ADE_1.jpg", "annotations/training/ADE_1.png"},
			image: "images/training/ADE_1.jpg", want: "annotations/training/ADE_1.png"},
		{name: "voc layout", files: []string{"JPEGImages/2007_000032.jpg", "SegmentationClass/2007_000032.png", "Annotations/2007_000032.xml"},
			image: "JPEGImages/2007_000032.jpg", want: "SegmentationClass/2007_000032.png"},
		{name: "images and masks", files: []string{"data/images/x.jpg", "data/masks/x.png"}, image: "data/images/x.jpg", want: "data/masks/x.png"},
		{name: "labels folder with tif", files: []string{"img/x.tif", "Labels/x.TIF"}, image: "img/x.tif", want: "Labels/x.TIF"},
		{name: "masks sub-folder", files: []string{"x.jpg", "masks/x.png"}, image: "x.jpg", want: "masks/x.png"},
		{name: "suffix beside", files: []string{"set/x.jpg", "set/x_mask.png", "set/y.jpg"}, image: "set/x.jpg", want: "set/x_mask.png"},
		{name: "png image with suffix mask", files: []string{"x.png", "x_label.png"}, image: "x.png", want: "x_label.png"},
		{name: "image folder deeper on the path", files: []string{"a/images/b/c/x.jpg", "a/gt/b/c/x.png"}, image: "a/images/b/c/x.jpg", want: "a/gt/b/c/x.png"},

		{name: "missing", files: []string{"images/x.jpg", "masks/y.png"}, image: "images/x.jpg",
			wantErr: `find mask for image "images/x.jpg": no mask: none of the naming rules found a file (e.g. masks/x.png, images/masks/x.png, images/x_mask.png`},
		{name: "ambiguous", files: []string{"images/x.jpg", "masks/x.png", "images/x_mask.png"}, image: "images/x.jpg",
			wantErr: "several files match the naming rules (images/x_mask.png, masks/x.png)"},
		{name: "image is not a mask of itself", files: []string{"x.png"}, image: "x.png", wantErr: "no mask"},
		{name: "escaping path", files: []string{"x.png"}, image: "../x.jpg", wantErr: "leaves the dataset folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewLocator(tree(t, tc.files...))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			got, err := l.Find(tc.image)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				if tc.name == "missing" && !errors.Is(err, ErrNoMask) {
					t.Errorf("missing mask error does not wrap ErrNoMask")
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Find = %q, %v, want %q", got, err, tc.want)
			}
		})
	}
}

func TestManifest(t *testing.T) {
	root := tree(t, "masks/a.png", "sub/dir/b.png")
	outside := filepath.Join(filepath.Dir(root), "outside.png")
	if err := os.WriteFile(outside, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(outside) })
	if err := os.Symlink(outside, filepath.Join(root, "link.png")); err != nil {
		t.Fatal(err)
	}
	l, err := NewLocator(root)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tests := []struct {
		value, want, wantErr string
	}{
		{value: "masks/a.png", want: "masks/a.png"},
		{value: " ./sub//dir/b.png ", want: "sub/dir/b.png"},
		{value: "masks/none.png", wantErr: "file not found"},
		{value: "../outside.png", wantErr: "leaves the manifest's folder"},
		{value: "/etc/passwd", wantErr: "leaves the manifest's folder"},
		{value: "link.png", wantErr: "link.png"}, // a symlink out of the folder
		{value: "masks", wantErr: "not a regular file"},
		{value: "", wantErr: "the mask column is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			got, err := l.Manifest(tc.value)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Manifest = %q, %v, want %q", got, err, tc.want)
			}
		})
	}
}

func TestLocatorRead(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "masks"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "masks", "x.png"), grayPNG(t, 2, 2, []uint8{0, 1, 1, 0}), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := NewLocator(root)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, _ := NewReader(Options{NumClasses: 2, Encoding: Index})
	rel, err := l.Find("x.jpg")
	if err != nil {
		t.Fatal(err)
	}
	m, err := l.Read(r, rel, 2, 2)
	if err != nil || m.Pix[1] != 1 {
		t.Fatalf("Read = %v, %v", m, err)
	}
	if _, err := l.Read(r, rel, 3, 2); err == nil || !strings.Contains(err.Error(), `"masks/x.png"`) {
		t.Fatalf("size error should name the mask: %v", err)
	}
}

func TestIsMask(t *testing.T) {
	for name, want := range map[string]bool{"masks": true, "SegmentationClass": true, "images": false} {
		if IsMaskDir(name) != want {
			t.Errorf("IsMaskDir(%q) != %v", name, want)
		}
	}
	for name, want := range map[string]bool{"x_mask.png": true, "x_gt.TIF": true, "x.png": false, "_mask.png": false, "x_mask.jpg": false} {
		if IsMaskFile(name) != want {
			t.Errorf("IsMaskFile(%q) != %v", name, want)
		}
	}
}
