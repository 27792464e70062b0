package annot

import (
	"github.com/cvgate/cvgate/internal/detect/box"
	"image"
	_ "image/png"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// listImages lists the PNG files under root as slash-separated relative paths, as the dataset
// lister hands them to the readers.
func listImages(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".png") {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// sizeOf reads image sizes from the files, decoding only their headers.
func sizeOf(root string) SizeFunc {
	return func(file string) (int, int, error) {
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(file)))
		if err != nil {
			return 0, 0, err
		}
		defer f.Close()
		c, _, err := image.DecodeConfig(f)
		return c.Width, c.Height, err
	}
}

func options(t *testing.T, root string) Options {
	return Options{Images: listImages(t, root), Size: sizeOf(root)}
}

// writeFiles creates files under a temporary root from a map of relative path to content; a
// ".png" entry whose content is "WxH" becomes a real PNG of that size.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte(content)
		if strings.HasSuffix(rel, ".png") {
			data = pngOf(t, content)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func boxOf(x1, y1, x2, y2 float64) box.Box { return box.Box{X1: x1, Y1: y1, X2: x2, Y2: y2} }
