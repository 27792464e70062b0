package dataset

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/image/tiff"

	"github.com/cvgate/cvgate/internal/imaging"
)

func TestDecodeFormats(t *testing.T) {
	// Expected values are derived from how each format stores pixels, not from Decode's output.
	nrgba := image.NewNRGBA(image.Rect(0, 0, 3, 1))
	copy(nrgba.Pix, []uint8{
		255, 255, 255, 128, // half-transparent white over black: 255*128/255 = 128
		255, 0, 0, 0, // fully transparent red: black
		0, 0, 255, 255, // opaque blue stays blue
	})
	gray16 := image.NewGray16(image.Rect(0, 0, 3, 1))
	copy(gray16.Pix, []uint8{0x12, 0x34, 0xFF, 0xFF, 0x00, 0xFF}) // big-endian samples
	rgb16 := image.NewNRGBA64(image.Rect(0, 0, 1, 1))
	copy(rgb16.Pix, []uint8{0xAB, 0xCD, 0x01, 0x80, 0x7F, 0xFF, 0xFF, 0xFF})
	grayPal := color.Palette{color.Gray{0}, color.Gray{100}, color.Gray{200}, color.Gray{255}}
	colourPal := color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 255, 0, 255}, color.RGBA{0, 0, 255, 255}, color.RGBA{128, 128, 128, 255}}
	uniform := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := 0; i < len(uniform.Pix); i += 4 {
		copy(uniform.Pix[i:], []uint8{200, 100, 50, 255})
	}
	var tiffBuf bytes.Buffer
	if err := tiff.Encode(&tiffBuf, rgbImage(3, 2, 0), nil); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		raw     []byte
		w, h, c int
		pix     []uint8 // nil: checked by fill instead
		fill    []uint8 // every pixel equals this (within tol)
		tol     int
	}{
		{name: "gray PNG", raw: encodePNG(t, grayImage(4, 3, 0)), w: 4, h: 3, c: 1, pix: grayImage(4, 3, 0).Pix},
		{name: "RGB PNG", raw: encodePNG(t, rgbImage(3, 2, 0)), w: 3, h: 2, c: 3, pix: rgbPix(rgbImage(3, 2, 0))},
		{name: "RGBA PNG composited over black", raw: encodePNG(t, nrgba), w: 3, h: 1, c: 3, pix: []uint8{128, 128, 128, 0, 0, 0, 0, 0, 255}, tol: 1},
		{name: "16-bit gray PNG keeps the high byte", raw: encodePNG(t, gray16), w: 3, h: 1, c: 1, pix: []uint8{0x12, 0xFF, 0x00}},
		{name: "16-bit RGB PNG keeps the high byte", raw: encodePNG(t, rgb16), w: 1, h: 1, c: 3, pix: []uint8{0xAB, 0x01, 0x7F}},
		{name: "GIF with a gray palette stays gray", raw: encodeGIF(t, paletted(grayPal)), w: 2, h: 2, c: 1, pix: []uint8{0, 100, 200, 255}},
		{name: "GIF with a colour palette is RGB", raw: encodeGIF(t, paletted(colourPal)), w: 2, h: 2, c: 3, pix: []uint8{255, 0, 0, 0, 255, 0, 0, 0, 255, 128, 128, 128}},
		// JPEG is lossy: a uniform colour survives quality 100 within a few levels.
		{name: "colour JPEG (YCbCr)", raw: encodeJPEG(t, uniform, 100), w: 16, h: 16, c: 3, fill: []uint8{200, 100, 50}, tol: 3},
		{name: "RGB BMP", raw: encodeBMP(t, rgbImage(3, 2, 9)), w: 3, h: 2, c: 3, pix: rgbPix(rgbImage(3, 2, 9))},
		{name: "gray BMP (8-bit palette)", raw: encodeBMP(t, grayImage(5, 2, 3)), w: 5, h: 2, c: 1, pix: grayImage(5, 2, 3).Pix},
		{name: "TIFF", raw: tiffBuf.Bytes(), w: 3, h: 2, c: 3, pix: rgbPix(rgbImage(3, 2, 0))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := Decode(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			checkImage(t, img, tt.w, tt.h, tt.c, tt.pix, tt.fill, tt.tol)
		})
	}

	t.Run("gray JPEG", func(t *testing.T) {
		g := image.NewGray(image.Rect(0, 0, 8, 8))
		for i := range g.Pix {
			g.Pix[i] = 77
		}
		img, err := Decode(encodeJPEG(t, g, 100))
		if err != nil {
			t.Fatal(err)
		}
		checkImage(t, img, 8, 8, 1, nil, []uint8{77}, 1)
	})
}

// rgbPix drops the alpha bytes of an opaque RGBA image.
func rgbPix(m *image.RGBA) []uint8 {
	var out []uint8
	for i := 0; i < len(m.Pix); i += 4 {
		out = append(out, m.Pix[i:i+3]...)
	}
	return out
}

func checkImage(t *testing.T, img *imaging.Image, w, h, c int, pix, fill []uint8, tol int) {
	t.Helper()
	if img.Width != w || img.Height != h || img.Channels != c {
		t.Fatalf("decoded %dx%dx%d, want %dx%dx%d", img.Width, img.Height, img.Channels, w, h, c)
	}
	if len(img.Pix) != w*h*c {
		t.Fatalf("len(Pix) = %d, want %d", len(img.Pix), w*h*c)
	}
	if pix == nil {
		for i := 0; i < w*h; i++ {
			pix = append(pix, fill...)
		}
	}
	for i, v := range img.Pix {
		if d := int(v) - int(pix[i]); d > tol || d < -tol {
			t.Fatalf("Pix[%d] (pixel %d, channel %d) = %d, want %d +- %d\ngot  %v\nwant %v", i, i/c, i%c, v, pix[i], tol, img.Pix, pix)
		}
	}
}

// TestDecodeWebP uses PIL to write a lossless WebP, since Go has no WebP encoder.
func TestDecodeWebP(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("no /usr/bin/python3 to write a WebP file")
	}
	out := filepath.Join(t.TempDir(), "x.webp")
	script := `
import sys
from PIL import Image, features
if not features.check("webp"):
    sys.exit(3)
im = Image.new("RGBA", (3, 2))
im.putdata([(255, 0, 0, 255), (0, 255, 0, 255), (0, 0, 255, 255),
            (10, 20, 30, 255), (255, 255, 255, 128), (200, 100, 50, 0)])
im.save(sys.argv[1], "WEBP", lossless=True, exact=True)
`
	if msg, err := exec.Command(python, "-c", script, out).CombinedOutput(); err != nil {
		t.Skipf("PIL cannot write WebP here: %v %s", err, msg)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	img, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	// Lossless WebP keeps the values; alpha is composited over black as for PNG.
	checkImage(t, img, 3, 2, 3, []uint8{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 128, 128, 128, 0, 0, 0}, nil, 1)
}

func TestDecodeErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 500)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	bigPNG := encodePNG(t, photoImage(64, 64))
	bigJPEG := encodeJPEG(t, photoImage(64, 64), 90)
	bigGIF := encodeGIF(t, paletted(color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}}))
	badCRC := append([]byte(nil), bigPNG...)
	badCRC[len(badCRC)-20] ^= 0xFF // inside the last IDAT chunk's data; IEND stays intact

	tests := []struct {
		name    string
		raw     []byte
		wantErr string
	}{
		{name: "empty", raw: nil, wantErr: "empty file"},
		{name: "random bytes", raw: random, wantErr: "not an image in a format cvgate reads (PNG, JPEG"},
		{name: "text", raw: []byte("hello, world\n"), wantErr: "not an image in a format"},
		{name: "PNG cut in half", raw: bigPNG[:len(bigPNG)/2], wantErr: "truncated"},
		{name: "PNG header only", raw: bigPNG[:40], wantErr: "truncated"},
		{name: "JPEG cut in half", raw: bigJPEG[:len(bigJPEG)/2], wantErr: "truncated"},
		{name: "GIF cut short", raw: bigGIF[:len(bigGIF)/2], wantErr: "truncated"},
		{name: "PNG with a bad checksum", raw: badCRC, wantErr: "corrupt png"},
		{name: "PNG signature then garbage", raw: append(bigPNG[:8:8], append(random[:100:100], bigPNG[len(bigPNG)-12:]...)...), wantErr: "corrupt png"},
		{name: "BMP without pixels", raw: emptyBMP(), wantErr: "bmp has no pixels (0x0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := Decode(tt.raw)
			if err == nil {
				t.Fatalf("Decode succeeded (%dx%d); want an error", img.Width, img.Height)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

// emptyBMP is a valid 24-bit BMP header for a 0x0 image, written from the format description.
func emptyBMP() []byte {
	var b bytes.Buffer
	b.WriteString("BM")
	for _, v := range []any{
		uint32(54), uint32(0), uint32(54), // file size, reserved, pixel data offset
		uint32(40), int32(0), int32(0), uint16(1), uint16(24), // BITMAPINFOHEADER: size, w, h, planes, bpp
		uint32(0), uint32(0), int32(0), int32(0), uint32(0), uint32(0),
	} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	return b.Bytes()
}

// dataset writes a class-per-folder dataset of small gray PNGs and returns its root: files[class]
// is the number of images of that class.
func writeDataset(t *testing.T, files map[string]int) string {
	t.Helper()
	root := t.TempDir()
	seed := uint8(0)
	for class, n := range files {
		for i := range n {
			pngFile(t, root, fmt.Sprintf("%s/%03d.png", class, i), seed)
			seed++
		}
	}
	return root
}

func mustList(t *testing.T, source string) *Listing {
	t.Helper()
	l, err := List(source)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLoad(t *testing.T) {
	root := writeDataset(t, map[string]int{"cat": 5, "dog": 3, "emu": 4})
	writeFile(t, root, "cat/rgb.png", encodePNG(t, rgbImage(6, 5, 0)))
	l := mustList(t, root)
	classes, err := FolderClasses(l.FolderClasses, 0)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	each := map[int]string{}
	var progress []int
	ds, err := Load(t.Context(), l, Options{
		Classes: classes,
		Workers: 3,
		Each: func(i int, it *Item) {
			mu.Lock()
			defer mu.Unlock()
			each[i] = it.Path
		},
		Progress: func(done, total int) {
			mu.Lock()
			defer mu.Unlock()
			if total != len(l.Entries) {
				t.Errorf("Progress total = %d, want %d", total, len(l.Entries))
			}
			progress = append(progress, done)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Kind != "folders" || ds.Source != root || ds.Classes != classes {
		t.Errorf("Kind, Source, Classes = %q, %q, %p", ds.Kind, ds.Source, ds.Classes)
	}
	if len(ds.Items) != len(l.Entries) || len(ds.Unreadable) != 0 {
		t.Fatalf("%d items, %d unreadable; want %d, 0", len(ds.Items), len(ds.Unreadable), len(l.Entries))
	}
	var store int64
	for i, it := range ds.Items {
		if it.Path != l.Entries[i].Path {
			t.Errorf("Items[%d] is %q, want listing order (%q)", i, it.Path, l.Entries[i].Path)
		}
		if want := slices.Index(classes.Names, it.LabelName); it.Label != want {
			t.Errorf("Items[%d] %q: Label = %d, want %d", i, it.Path, it.Label, want)
		}
		raw, err := os.ReadFile(it.File)
		if err != nil {
			t.Fatal(err)
		}
		if it.Size != int64(len(raw)) || it.SHA256 != sha256.Sum256(raw) {
			t.Errorf("Items[%d]: Size/SHA256 do not match the file", i)
		}
		if each[i] != it.Path {
			t.Errorf("Each saw index %d as %q, want %q", i, each[i], it.Path)
		}
		store += int64(len(it.Image.Pix))
	}
	if ds.StoreBytes != store {
		t.Errorf("StoreBytes = %d, want %d", ds.StoreBytes, store)
	}
	slices.Sort(progress)
	if len(progress) != len(l.Entries) || progress[len(progress)-1] != len(l.Entries) {
		t.Errorf("Progress calls = %v, want 1..%d", progress, len(l.Entries))
	}
	// Folder names are not integers, so classes are sorted: cat 0, dog 1, emu 2.
	if diff := cmp.Diff([]int{6, 3, 4}, ds.PerClass()); diff != "" {
		t.Errorf("PerClass (-want +got):\n%s", diff)
	}
	if got, want := ds.ChannelCounts(), [4]int{0, 12, 0, 1}; got != want {
		t.Errorf("ChannelCounts = %v, want %v", got, want)
	}
}

func TestLoadIntegerFolders(t *testing.T) {
	root := writeDataset(t, map[string]int{"1": 2, "3": 1})
	l := mustList(t, root)
	classes, err := FolderClasses(l.FolderClasses, 5)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Load(t.Context(), l, Options{Classes: classes})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{0, 2, 0, 1, 0}, ds.PerClass()); diff != "" {
		t.Errorf("PerClass (-want +got):\n%s", diff)
	}
}

func TestLoadUnlabelled(t *testing.T) {
	root := writeDataset(t, map[string]int{"cat": 2})
	l := mustList(t, root)
	ds, err := Load(t.Context(), l, Options{}) // no classes: drift's current set
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range ds.Items {
		if it.Label != -1 {
			t.Errorf("%q: Label = %d, want -1 without classes", it.Path, it.Label)
		}
	}
	if ds.PerClass() != nil {
		t.Errorf("PerClass = %v, want nil without classes", ds.PerClass())
	}
}

func TestLoadUnknownLabel(t *testing.T) {
	root := writeDataset(t, map[string]int{"cat": 1, "cow": 1})
	classes, err := NewClasses([]string{"cat", "dog"}, "labels file")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Load(t.Context(), mustList(t, root), Options{Classes: classes})
	if err == nil || !strings.Contains(err.Error(), `label "cow" of "cow/000.png"`) {
		t.Errorf("err = %v, want the unknown label and its file", err)
	}
}

func TestLoadUnreadableThreshold(t *testing.T) {
	// 2 of 8 images are unreadable: 25%.
	root := writeDataset(t, map[string]int{"cat": 3, "dog": 3})
	writeFile(t, root, "cat/broken.png", []byte("not a png"))
	writeFile(t, root, "dog/empty.png", nil)
	l := mustList(t, root)
	tests := []struct {
		max     float64
		wantErr bool
	}{
		{max: 0.25},                // exactly at the limit is allowed
		{max: 0.5},                 // well under
		{max: 0.24, wantErr: true}, // just past
		{max: 0, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.max), func(t *testing.T) {
			ds, err := Load(t.Context(), l, Options{MaxUnreadable: tt.max})
			if tt.wantErr {
				if err == nil {
					t.Fatal("Load succeeded; want an error")
				}
				for _, w := range []string{"2 of 8 images are unreadable", "25.0%", "cat/broken.png: not an image", "dog/empty.png: empty file", root} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []Problem{
				{Path: "cat/broken.png", Reason: "not an image in a format cvgate reads (PNG, JPEG, GIF, BMP, WebP, TIFF)"},
				{Path: "dog/empty.png", Reason: "empty file"},
			}
			if diff := cmp.Diff(want, ds.Unreadable); diff != "" {
				t.Errorf("Unreadable (-want +got):\n%s", diff)
			}
			if len(ds.Items) != 6 {
				t.Errorf("%d items, want 6", len(ds.Items))
			}
		})
	}
}

func TestLoadErrorListsFirstProblems(t *testing.T) {
	root := t.TempDir()
	pngFile(t, root, "ok.png", 0)
	for i := range 7 {
		writeFile(t, root, fmt.Sprintf("bad%d.png", i), []byte("x"))
	}
	_, err := Load(t.Context(), mustList(t, root), Options{MaxUnreadable: 0.5})
	if err == nil {
		t.Fatal("Load succeeded; want an error")
	}
	for _, w := range []string{"7 of 8", "bad0.png", "bad4.png", "and 2 more"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "bad5.png") {
		t.Errorf("error %q lists more than the first 5 problems", err)
	}
}

func TestLoadNothingReadable(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "a.png", []byte("x"))
	writeFile(t, root, "b.png", []byte("y"))
	_, err := Load(t.Context(), mustList(t, root), Options{MaxUnreadable: 1})
	if err == nil || !strings.Contains(err.Error(), "none of the 2 images could be read (first: a.png: ") {
		t.Errorf("err = %v, want none readable", err)
	}
}

func TestLoadEmptyListing(t *testing.T) {
	_, err := Load(t.Context(), &Listing{Source: "x.csv"}, Options{MaxUnreadable: 1})
	if err == nil || !strings.Contains(err.Error(), `"x.csv"`) {
		t.Errorf("err = %v, want an error naming the source", err)
	}
}

func TestLoadCancelled(t *testing.T) {
	root := writeDataset(t, map[string]int{"cat": 3})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Load(ctx, mustList(t, root), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestDigest(t *testing.T) {
	root := writeDataset(t, map[string]int{"cat": 3, "dog": 2})
	writeFile(t, root, "dog/broken.png", []byte("x"))
	load := func(l *Listing, classes *Classes, workers int) string {
		t.Helper()
		ds, err := Load(t.Context(), l, Options{Classes: classes, MaxUnreadable: 0.5, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		d, err := ds.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	l := mustList(t, root)
	classes, err := FolderClasses(l.FolderClasses, 0)
	if err != nil {
		t.Fatal(err)
	}
	base := load(l, classes, 1)
	if len(base) != 64 {
		t.Errorf("Digest = %q, want 64 hex digits", base)
	}
	if again := load(mustList(t, root), classes, 4); again != base {
		t.Errorf("a second load gives digest %s, want %s", again, base)
	}
	reversed := *l
	reversed.Entries = slices.Clone(l.Entries)
	slices.Reverse(reversed.Entries)
	if got := load(&reversed, classes, 2); got != base {
		t.Errorf("listing order changed the digest: %s, want %s", got, base)
	}

	// The digest covers labels.
	if got := load(l, nil, 1); got == base {
		t.Error("dropping labels kept the digest")
	}

	// One pixel byte of one file.
	m := grayImage(4, 3, 0)
	m.Pix[5]++
	writeFile(t, root, "cat/000.png", encodePNG(t, m))
	if got := load(mustList(t, root), classes, 1); got == base {
		t.Error("changing one pixel kept the digest")
	}
}

// TestDigestManifestLabels covers label changes, and a manifest that lists one file twice (a label
// conflict data.integrity reports), which the canonical listing refuses.
func TestDigestManifestLabels(t *testing.T) {
	dir := t.TempDir()
	pngFile(t, dir, "a.png", 0)
	pngFile(t, dir, "b.png", 1)
	classes, err := NewClasses([]string{"cat", "dog"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	digest := func(csv string) (string, error) {
		t.Helper()
		ds, err := Load(t.Context(), mustList(t, writeFile(t, dir, "m.csv", []byte(csv))), Options{Classes: classes})
		if err != nil {
			t.Fatal(err)
		}
		return ds.Digest()
	}
	first, err1 := digest("path,label\na.png,cat\nb.png,dog\n")
	second, err2 := digest("path,label\nb.png,dog\na.png,dog\n")
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if first == second {
		t.Error("relabelling a.png kept the digest")
	}
	_, err = List(writeFile(t, dir, "dup.csv", []byte("path,label\na.png,cat\nb.png,dog\na.png,dog\n")))
	if err == nil || !strings.Contains(err.Error(), `line 4: image "a.png" is already listed on line 2`) {
		t.Errorf("duplicate rows: err = %v, want the listing to refuse them with both lines", err)
	}
}
