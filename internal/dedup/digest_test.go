package dedup

import (
	"bytes"
	"encoding/json"
	"image/png"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

func encodePNG(t *testing.T, img *imaging.Image, level png.CompressionLevel) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: level}
	if err := enc.Encode(&buf, img.Std()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustPixelDigest(t *testing.T, img *imaging.Image) Digest {
	t.Helper()
	d, err := PixelDigest(img)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The same pixels stored in two differently compressed PNG files are an exact duplicate by pixel
// digest, though not by file digest.
func TestPixelDigestIgnoresEncoding(t *testing.T) {
	img := scene(1, 40, 30)
	fast := encodePNG(t, img, png.BestSpeed)
	small := encodePNG(t, img, png.BestCompression)
	if bytes.Equal(fast, small) {
		t.Fatal("test needs two different encodings")
	}
	var pixel, file [2]Digest
	for i, data := range [][]byte{fast, small} {
		dec, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		pixel[i] = mustPixelDigest(t, imaging.FromStd(dec))
		if file[i], err = FileDigest(bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	if pixel[0] != pixel[1] {
		t.Errorf("pixel digests differ for the same pixels: %v vs %v", pixel[0], pixel[1])
	}
	if file[0] == file[1] {
		t.Error("file digests agree for different files")
	}
}

func TestPixelDigestDistinguishes(t *testing.T) {
	base := &imaging.Image{Width: 3, Height: 2, Channels: 1, Pix: []uint8{1, 2, 3, 4, 5, 6}}
	onePixel := base.Clone()
	onePixel.Pix[5]++
	tests := []struct {
		name  string
		other *imaging.Image
	}{
		{"one pixel changed", onePixel},
		{"same bytes, transposed shape", &imaging.Image{Width: 2, Height: 3, Channels: 1, Pix: base.Pix}},
		{"same bytes, as RGB", &imaging.Image{Width: 2, Height: 1, Channels: 3, Pix: base.Pix}},
		{"RGB copy of the same picture", base.ToRGB()},
	}
	want := mustPixelDigest(t, base)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustPixelDigest(t, tt.other); got == want {
				t.Errorf("digest equals the base image's %v", want)
			}
		})
	}
	if again := mustPixelDigest(t, base.Clone()); again != want {
		t.Errorf("digest of a copy = %v, want %v", again, want)
	}
}

func TestFileDigestKnownAnswer(t *testing.T) {
	// FIPS 180-2 test vector for SHA-256("abc").
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	d, err := FileDigest(strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != want {
		t.Errorf("FileDigest(abc) = %v, want %s", d, want)
	}
}

func TestDigestText(t *testing.T) {
	d, err := FileDigest(strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(map[string]Digest{"d": d})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"d":"` + d.String() + `"}`; string(raw) != want {
		t.Errorf("JSON = %s, want %s", raw, want)
	}
	var back map[string]Digest
	if err := json.Unmarshal(raw, &back); err != nil || back["d"] != d {
		t.Errorf("round trip = %v, %v", back["d"], err)
	}

	for _, bad := range []string{"", "abc", strings.Repeat("g", 64), strings.Repeat("a", 66)} {
		var x Digest
		if err := x.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) accepted", bad)
		}
	}
}

func TestBadShapesAreErrors(t *testing.T) {
	tests := []struct {
		name    string
		img     *imaging.Image
		wantErr string
	}{
		{"nil", nil, "nil image"},
		{"zero size", &imaging.Image{Width: 0, Height: 1, Channels: 1}, "invalid size 0x1"},
		{"two channels", &imaging.Image{Width: 1, Height: 1, Channels: 2, Pix: []uint8{0, 0}}, "2 channels"},
		{"short pixels", &imaging.Image{Width: 2, Height: 2, Channels: 3, Pix: make([]uint8, 6)}, "6 pixel bytes"},
		{"overflowing size", &imaging.Image{Width: 1 << 62, Height: 8, Channels: 1}, "0 pixel bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := PixelDigest(tt.img); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("PixelDigest error = %v, want %q", err, tt.wantErr)
			}
			if _, err := PHash(tt.img); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("PHash error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
