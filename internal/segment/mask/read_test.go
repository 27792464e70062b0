package mask

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

func grayPNG(t testing.TB, w, h int, vals []uint8) []byte {
	t.Helper()
	g := image.NewGray(image.Rect(0, 0, w, h))
	copy(g.Pix, vals)
	return encodePNG(t, g)
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gray16PNG(t testing.TB, w, h int, vals []uint16) []byte {
	t.Helper()
	g := image.NewGray16(image.Rect(0, 0, w, h))
	for i, v := range vals {
		g.SetGray16(i%w, i/w, color.Gray16{Y: v})
	}
	return encodePNG(t, g)
}

var vocPalette = color.Palette{
	color.RGBA{0, 0, 0, 255}, color.RGBA{128, 0, 0, 255}, color.RGBA{0, 128, 0, 255}, color.RGBA{128, 128, 0, 255},
}

func palettePNG(t testing.TB, w, h int, idx []uint8) []byte {
	t.Helper()
	pal := append(color.Palette{}, vocPalette...)
	for len(pal) < 256 {
		pal = append(pal, color.RGBA{224, 224, 192, 255})
	}
	p := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	copy(p.Pix, idx)
	return encodePNG(t, p)
}

func rgbImage(w, h int, cols [][3]uint8) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i, c := range cols {
		m.SetNRGBA(i%w, i/w, color.NRGBA{c[0], c[1], c[2], 255})
	}
	return m
}

func ip(v int) *int { return &v }

var table = []ClassColor{{"background", [3]uint8{0, 0, 0}}, {"aeroplane", [3]uint8{128, 0, 0}}, {"bicycle", [3]uint8{0, 128, 0}}}

func TestDecode(t *testing.T) {
	black, red, green, border := [3]uint8{0, 0, 0}, [3]uint8{128, 0, 0}, [3]uint8{0, 128, 0}, [3]uint8{224, 224, 192}
	var tifBuf, bmpBuf, jpgBuf bytes.Buffer
	g := image.NewGray(image.Rect(0, 0, 4, 2))
	copy(g.Pix, []uint8{0, 1, 2, 255, 2, 2, 1, 0})
	if err := tiff.Encode(&tifBuf, g, nil); err != nil {
		t.Fatal(err)
	}
	if err := bmp.Encode(&bmpBuf, g); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&jpgBuf, g, nil); err != nil {
		t.Fatal(err)
	}
	ignoreColor := border
	tests := []struct {
		name         string
		raw          []byte
		opts         Options
		wantW, wantH int
		want         []uint16
		wantErr      string
	}{
		{name: "gray8 indices", raw: grayPNG(t, 4, 2, []uint8{0, 1, 2, 255, 2, 2, 1, 0}), opts: Options{NumClasses: 3},
			want: []uint16{0, 1, 2, 255, 2, 2, 1, 0}},
		{name: "gray16 indices beyond 255", raw: gray16PNG(t, 4, 2, []uint16{0, 300, 299, 65535, 1, 2, 3, 4}), opts: Options{NumClasses: 301, Ignore: ip(65535)},
			want: []uint16{0, 300, 299, 65535, 1, 2, 3, 4}},
		{name: "palette indices", raw: palettePNG(t, 4, 2, []uint8{0, 1, 2, 3, 255, 3, 2, 1}), opts: Options{NumClasses: 4},
			want: []uint16{0, 1, 2, 3, 255, 3, 2, 1}},
		{name: "palette by colour table", raw: palettePNG(t, 4, 2, []uint8{0, 1, 2, 255, 0, 0, 1, 1}),
			opts: Options{Encoding: Color, Colors: table, IgnoreColor: &ignoreColor}, want: []uint16{0, 1, 2, 255, 0, 0, 1, 1}},
		{name: "rgb colour mask", raw: encodePNG(t, rgbImage(4, 2, [][3]uint8{black, red, green, border, green, green, red, black})),
			opts: Options{Colors: table, IgnoreColor: &ignoreColor, NumClasses: 3}, want: []uint16{0, 1, 2, 255, 2, 2, 1, 0}},
		{name: "gray saved as rgb", raw: encodePNG(t, rgbImage(4, 2, [][3]uint8{{0, 0, 0}, {1, 1, 1}, {2, 2, 2}, {255, 255, 255}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}})),
			opts: Options{NumClasses: 3}, want: []uint16{0, 1, 2, 255, 0, 0, 0, 0}},
		{name: "tiff", raw: tifBuf.Bytes(), opts: Options{NumClasses: 3}, want: []uint16{0, 1, 2, 255, 2, 2, 1, 0}},
		{name: "bmp", raw: bmpBuf.Bytes(), opts: Options{NumClasses: 3}, want: []uint16{0, 1, 2, 255, 2, 2, 1, 0}},
		{name: "binary 0/255", raw: grayPNG(t, 4, 2, []uint8{0, 255, 255, 0, 0, 0, 255, 0}), opts: Options{Encoding: Binary},
			want: []uint16{0, 1, 1, 0, 0, 0, 1, 0}},
		{name: "binary 0/255 auto with two classes", raw: grayPNG(t, 4, 2, []uint8{0, 255, 255, 0, 0, 0, 255, 0}), opts: Options{NumClasses: 2},
			want: []uint16{0, 1, 1, 0, 0, 0, 1, 0}},
		{name: "binary 0/1 with ignore border", raw: grayPNG(t, 4, 2, []uint8{0, 1, 255, 0, 0, 0, 1, 0}), opts: Options{Encoding: Binary},
			want: []uint16{0, 1, 255, 0, 0, 0, 1, 0}},
		{name: "binary foreground fixed to 1 keeps a lone border ignored", raw: grayPNG(t, 4, 2, []uint8{0, 0, 255, 0, 0, 0, 0, 0}), opts: Options{Encoding: Binary, Foreground: 1},
			want: []uint16{0, 0, 255, 0, 0, 0, 0, 0}},
		{name: "binary threshold for mattes", raw: grayPNG(t, 4, 2, []uint8{0, 127, 128, 255, 10, 200, 129, 1}), opts: Options{Encoding: Binary, Threshold: 128},
			want: []uint16{0, 0, 1, 1, 0, 1, 1, 0}},
		{name: "size matches its image", raw: grayPNG(t, 4, 2, make([]uint8, 8)), wantW: 4, wantH: 2, want: make([]uint16, 8)},

		{name: "value beyond the classes", raw: grayPNG(t, 4, 2, []uint8{0, 1, 7, 7, 9, 255, 0, 0}), opts: Options{NumClasses: 3},
			wantErr: `read mask "m.png": 3 pixels hold values 7 (2 px), 9 (1 px) beyond the 3 classes (0..2) and the ignore index 255`},
		{name: "ignore disabled makes 255 a bad value", raw: grayPNG(t, 4, 2, []uint8{0, 1, 255, 0, 0, 0, 0, 0}), opts: Options{NumClasses: 3, Ignore: ip(-1)},
			wantErr: "1 pixels hold values 255 (1 px) beyond the 3 classes (0..2) and no ignore index"},
		{name: "size differs from its image", raw: grayPNG(t, 4, 2, make([]uint8, 8)), wantW: 5, wantH: 2,
			wantErr: `read mask "m.png": mask is 4x2 but its image is 5x2: masks must have their image's size`},
		{name: "size swapped", raw: grayPNG(t, 4, 2, make([]uint8, 8)), wantW: 2, wantH: 4, wantErr: "width and height are swapped"},
		{name: "rgb without colour table", raw: encodePNG(t, rgbImage(4, 2, [][3]uint8{black, red, green, border, green, green, red, black})),
			wantErr: "is an RGB colour mask but no colour table is configured"},
		{name: "unknown colour", raw: encodePNG(t, rgbImage(4, 2, [][3]uint8{black, red, {1, 2, 3}, {1, 2, 3}, border, green, red, black})),
			opts: Options{Colors: table}, wantErr: "3 pixels have colours that are not in the colour table: [1,2,3] (2 px), [224,224,192] (1 px)"},
		{name: "binary with soft edges", raw: grayPNG(t, 4, 2, []uint8{0, 128, 255, 0, 0, 0, 64, 128}), opts: Options{Encoding: Binary},
			wantErr: "is read as a binary mask (0/255 or 0/1) but 3 pixels hold values 128 (2 px), 64 (1 px)"},
		{name: "jpeg refused", raw: jpgBuf.Bytes(), wantErr: "JPEG is lossy"},
		{name: "not an image", raw: []byte("hello"), wantErr: "not a PNG, TIFF or BMP file"},
		{name: "empty", raw: nil, wantErr: "empty file"},
		{name: "truncated", raw: grayPNG(t, 4, 2, make([]uint8, 8))[:40], wantErr: `read mask "m.png"`},
		{name: "over the pixel budget", raw: grayPNG(t, 4, 2, make([]uint8, 8)), opts: Options{MaxPixels: 7},
			wantErr: "4x2 is 8 pixels, over the 7-pixel limit (max_pixels)"},
		{name: "gray with colour encoding", raw: grayPNG(t, 4, 2, make([]uint8, 8)), opts: Options{Encoding: Color, Colors: table},
			wantErr: "grayscale image but encoding is color"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			m, err := r.Decode("m.png", tc.raw, tc.wantW, tc.wantH)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.W != 4 || m.H != 2 || !slices.Equal(m.Pix, tc.want) {
				t.Errorf("got %dx%d %v, want 4x2 %v", m.W, m.H, m.Pix, tc.want)
			}
		})
	}
}

func TestNewReaderErrors(t *testing.T) {
	dup := []ClassColor{{"a", [3]uint8{1, 2, 3}}, {"b", [3]uint8{1, 2, 3}}}
	red := [3]uint8{128, 0, 0}
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"ignore inside the classes", Options{NumClasses: 300}, "ignore_index 255 is one of the 300 classes"},
		{"ignore too large", Options{Ignore: ip(70000)}, "ignore_index 70000"},
		{"colour encoding without table", Options{Encoding: Color}, "needs a colour table"},
		{"duplicate colours", Options{Colors: dup}, `classes "a" and "b" share the colour [1,2,3]`},
		{"table size differs from classes", Options{Colors: table, NumClasses: 4}, "the colour table has 3 colours but there are 4 classes"},
		{"ignore colour is a class colour", Options{Colors: table, IgnoreColor: &red}, `the ignore colour [128,0,0] is also the colour of class "aeroplane"`},
		{"unknown encoding", Options{Encoding: "rle"}, `mask encoding "rle"`},
		{"bad foreground", Options{Foreground: 7}, "binary mask foreground 7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestReadFileByteBudget(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big.png")
	raw := grayPNG(t, 64, 64, make([]uint8, 64*64))
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := NewReader(Options{MaxBytes: int64(len(raw) - 1)})
	if _, err := r.ReadFile(p, 0, 0); err == nil || !strings.Contains(err.Error(), "larger than the") || !strings.Contains(err.Error(), "big.png") {
		t.Fatalf("error = %v, want the byte limit naming the file", err)
	}
	r, _ = NewReader(Options{MaxBytes: int64(len(raw))})
	if m, err := r.ReadFile(p, 64, 64); err != nil || m.W != 64 {
		t.Fatalf("at the limit: %v", err)
	}
	if _, err := r.ReadFile(filepath.Join(dir, "missing.png"), 0, 0); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestParseClasses(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantNames  []string
		wantColors []ClassColor
		wantErr    string
	}{
		{name: "names", in: "background\ncat\n\n# comment\ndog\n", wantNames: []string{"background", "cat", "dog"}},
		{name: "names with colours", in: "background 0 0 0\npotted plant 0 64 0\n", wantNames: []string{"background", "potted plant"},
			wantColors: []ClassColor{{"background", [3]uint8{0, 0, 0}}, {"potted plant", [3]uint8{0, 64, 0}}}},
		{name: "camvid csv", in: "\ufeffname,r,g,b\nSky,128,128,128\nRoad,128,64,128\n", wantNames: []string{"Sky", "Road"},
			wantColors: []ClassColor{{"Sky", [3]uint8{128, 128, 128}}, {"Road", [3]uint8{128, 64, 128}}}},
		{name: "mixed", in: "a 1 2 3\nb\n", wantErr: "line 2: either every class has a colour"},
		{name: "duplicate", in: "a\nb\na\n", wantErr: `line 3: class "a" already named on line 1`},
		{name: "shared colour", in: "a 1 2 3\nb 1 2 3\n", wantErr: "share the colour"},
		{name: "empty", in: "\n# nothing\n", wantErr: "no class names"},
		{name: "colour out of range keeps it a name", in: "a 1 2 300\n", wantNames: []string{"a 1 2 300"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseClasses([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Names, tc.wantNames) || !slices.Equal(c.Colors, tc.wantColors) {
				t.Errorf("got %v %v, want %v %v", c.Names, c.Colors, tc.wantNames, tc.wantColors)
			}
		})
	}
}

func TestReadClassFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "classes.txt")
	if err := os.WriteFile(p, []byte("bg\nfg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := ReadClassFile(p)
	if err != nil || len(c.Names) != 2 || !strings.Contains(c.Source, "classes.txt") {
		t.Fatalf("got %+v, %v", c, err)
	}
	if _, err := ReadClassFile(p + ".missing"); err == nil || !strings.Contains(err.Error(), "classes.txt.missing") {
		t.Fatalf("missing: %v", err)
	}
}
