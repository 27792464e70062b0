package dataset

import (
	"bytes"
	"image"
	"image/color"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the image decoder under small budgets. Whatever the bytes,
// decoding returns an error or an image that is valid and within the budgets; it never panics
// and never allocates for pixels the header did not pass (the budget keeps each case cheap, so a
// bomb shows up as a slow or failing case).
func FuzzDecode(f *testing.F) {
	f.Add(encodePNG(f, grayImage(4, 3, 1)))
	f.Add(encodePNG(f, rgbImage(5, 2, 2)))
	f.Add(encodeJPEG(f, photoImage(16, 8), 80))
	f.Add(encodeGIF(f, paletted(color.Palette{color.Black, color.White})))
	f.Add(encodeBMP(f, rgbImage(3, 3, 0)))
	f.Add(pngBomb(f, 100000, 100000))
	f.Add(gifBomb(65535, 65535))
	f.Add(bmpBomb(100000, 100000))
	f.Add(jpegBomb(f, 65535, 65535))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	f.Add([]byte("II*\x00\x08\x00\x00\x00"))
	lim := Limits{MaxPixels: 1 << 16, MaxAspect: 50}
	f.Fuzz(func(t *testing.T, raw []byte) {
		// The PNG fast path reads the same size the standard decoder would.
		if fast, _, err := pngHeader(raw); err == nil {
			if std, _, err := image.DecodeConfig(bytes.NewReader(raw)); err == nil && (std.Width != fast.Width || std.Height != fast.Height) {
				t.Fatalf("PNG header read as %dx%d, image.DecodeConfig says %dx%d", fast.Width, fast.Height, std.Width, std.Height)
			}
		}
		img, err := DecodeWithin(raw, lim)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error spans lines: %q", err)
			}
			return
		}
		if err := img.Validate(); err != nil {
			t.Fatalf("decoded an invalid image: %v", err)
		}
		w, h := int64(img.Width), int64(img.Height)
		if w*h > lim.MaxPixels || float64(max(w, h)) > lim.MaxAspect*float64(min(w, h)) {
			t.Fatalf("decoded %dx%d, beyond the budget", w, h)
		}
		// A GIF's first frame may be smaller than its screen, never larger.
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(raw)); err != nil || img.Width > cfg.Width || img.Height > cfg.Height {
			t.Fatalf("decoded %dx%d but the header says %dx%d (%v)", w, h, cfg.Width, cfg.Height, err)
		}
	})
}

// fuzzManifest parses arbitrary manifest bytes with a real Reader confined to a workspace that
// holds two images, one of them behind a symlink out of it. Whatever the bytes: no panic, no
// error message spanning lines (messages reach logs and PR comments), and every entry returned
// names a regular file inside the workspace, with a label when the manifest has a label column.
func fuzzManifest(f *testing.F, ext string, seeds ...string) {
	base := f.TempDir()
	ws := filepath.Join(base, "ws")
	pngFile(f, ws, "data/a.png", 1)
	pngFile(f, ws, "data/sub/b.png", 2)
	pngFile(f, base, "outside/secret.png", 3)
	symlink(f, "../../outside/secret.png", ws+"/data/leak.png")
	root := openRoot(f, ws)
	r := &Reader{Root: root}
	manifest := filepath.Join(ws, "data", "m"+ext)
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	parse := parseCSV
	if ext == ".jsonl" {
		parse = parseJSONL
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		l, err := parse(manifest, bytes.NewReader(raw), func(line int, p string) (Entry, error) {
			return r.manifestEntry(manifest, filepath.Dir(manifest), line, p)
		})
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error spans lines: %q", err)
			}
			return
		}
		for _, e := range l.Entries {
			if e.Path == "" {
				t.Fatal("entry with an empty path")
			}
			if _, err := root.Check(e.File); err != nil {
				t.Fatalf("entry %q (%s) is not a readable file inside the workspace: %v", e.Path, e.File, err)
			}
			if len(e.Attrs) != len(l.Attributes) {
				t.Fatalf("entry %q has %d attributes, the manifest %d", e.Path, len(e.Attrs), len(l.Attributes))
			}
		}
	})
}

func FuzzManifestCSV(f *testing.F) {
	fuzzManifest(f, ".csv",
		"path,label\na.png,cat\nsub/b.png,dog\n",
		"file,class,site\n\"a.png\",\"cat\",north\n",
		"path,label\nleak.png,cat\n",
		"path,label\n../../outside/secret.png,cat\n",
		"path,label\n/dev/zero,cat\n",
		"\ufeffpath,label,x\na.png,\"multi\nline\",1\n",
		"path\na.png\na.png\n",
	)
}

func FuzzManifestJSONL(f *testing.F) {
	fuzzManifest(f, ".jsonl",
		`{"path":"a.png","label":"cat"}`+"\n"+`{"path":"sub/b.png","label":3,"site":{"x":1}}`,
		`{"image":"leak.png","class":"cat"}`,
		`{"path":"/etc/passwd","label":"x"}`,
		`{"path":"sub/../../../outside/secret.png"}`,
		`{"path":1}`,
		"\n\n{}\n",
	)
}
