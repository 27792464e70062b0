package dataset

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"runtime"
	"strings"
	"testing"
)

// pngBomb is a valid PNG signature and header declaring w x h 8-bit gray pixels, followed by a
// zlib stream of a few zero rows and IEND: under a kilobyte that asks a decoder for w*h bytes.
func pngBomb(t testing.TB, w, h uint32) []byte {
	t.Helper()
	chunk := func(b *bytes.Buffer, typ string, data []byte) {
		_ = binary.Write(b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(b, binary.BigEndian, crc.Sum32())
	}
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 0 // 8-bit gray
	chunk(&out, "IHDR", ihdr)
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	_, _ = zw.Write(make([]byte, 4*(int(min(w, 1<<16))+1))) // four rows of zeros
	zw.Close()
	// A text chunk brings it to the size of the case reported in issue #11 (855 bytes).
	chunk(&out, "tEXt", append([]byte("Comment\x00"), bytes.Repeat([]byte("x"), max(0, 855-57-len(z.Bytes())-20))...))
	chunk(&out, "IDAT", z.Bytes())
	chunk(&out, "IEND", nil)
	return out.Bytes()
}

// gifBomb is a GIF header whose logical screen is w x h, with one 1x1 frame.
func gifBomb(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	b = append(b, 0x80, 0, 0)                      // global colour table of 2 entries
	b = append(b, 0, 0, 0, 255, 255, 255)          // the table
	b = append(b, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0) // image descriptor: 1x1 at 0,0
	b = append(b, 2, 2, 0x44, 0x01, 0)             // LZW min code size 2, one sub-block, terminator
	return append(b, 0x3b)
}

// bmpBomb is a 54-byte BMP header declaring w x h 24-bit pixels and no pixel data.
func bmpBomb(w, h int32) []byte {
	b := []byte("BM")
	b = binary.LittleEndian.AppendUint32(b, 54) // file size (a lie; decoders read the header)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 54) // pixel data offset
	b = binary.LittleEndian.AppendUint32(b, 40) // BITMAPINFOHEADER
	b = binary.LittleEndian.AppendUint32(b, uint32(w))
	b = binary.LittleEndian.AppendUint32(b, uint32(h))
	b = binary.LittleEndian.AppendUint16(b, 1)  // planes
	b = binary.LittleEndian.AppendUint16(b, 24) // bits per pixel
	return append(b, make([]byte, 24)...)       // compression, sizes, resolution, colours
}

// jpegBomb is a real JPEG whose frame header (SOF0) is patched to declare w x h pixels.
func jpegBomb(t testing.TB, w, h uint16) []byte {
	t.Helper()
	raw := encodeJPEG(t, grayImage(8, 8, 0), 90)
	i := bytes.Index(raw, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 marker in the encoded JPEG")
	}
	binary.BigEndian.PutUint16(raw[i+5:], h)
	binary.BigEndian.PutUint16(raw[i+7:], w)
	return raw
}

// TestDecompressionBombs: small files whose headers declare gigapixels are refused from the
// header, with the declared size and the limit in the reason, and without the decoder's
// allocation (the test measures what decoding allocated).
func TestDecompressionBombs(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"PNG 100000x100000", pngBomb(t, 100000, 100000), "png declares 100000x100000 pixels (10000.0 megapixels), over the 50.0-megapixel limit"},
		{"GIF 65535x65535", gifBomb(65535, 65535), "gif declares 65535x65535 pixels"},
		{"BMP 100000x100000", bmpBomb(100000, 100000), "bmp declares 100000x100000 pixels"},
		{"JPEG 65535x65535", jpegBomb(t, 65535, 65535), "jpeg declares 65535x65535 pixels"},
		{"PNG strip 10000x1", pngBomb(t, 10000, 1), "png is 10000x1, an aspect ratio of 10000:1, over the 100:1 limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.raw) > 1024 {
				t.Fatalf("the bomb is %d bytes; it should be tiny", len(tt.raw))
			}
			if _, _, err := image.DecodeConfig(bytes.NewReader(tt.raw)); err != nil {
				t.Fatalf("the test file's header does not parse, so it tests nothing: %v", err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			img, err := Decode(tt.raw)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatalf("decoded a %dx%d image", img.Width, img.Height)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
				t.Errorf("refusing it allocated %d MiB", alloc>>20)
			}
		})
	}
	// The measurement sees a decoder's allocation: the same kind of file declaring 6000x6000,
	// let through by a higher limit, makes the PNG decoder allocate its 36 MB before it finds the
	// data missing. That is what the header check keeps from happening at 100000x100000.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := DecodeWithin(pngBomb(t, 6000, 6000), Limits{MaxPixels: 1e8})
	runtime.ReadMemStats(&after)
	if err == nil || after.TotalAlloc-before.TotalAlloc < 30<<20 {
		t.Errorf("a 6000x6000 PNG bomb under a 100-megapixel limit: %v, %d MiB allocated; want a decode error after ~36 MiB",
			err, (after.TotalAlloc-before.TotalAlloc)>>20)
	}
}

// TestLimitsAreSettable: the same images decode once the limits allow them, so the refusals above
// come from the limits, not from broken test files.
func TestLimitsAreSettable(t *testing.T) {
	strip := encodePNG(t, grayImage(10000, 1, 0))
	if _, err := Decode(strip); err == nil {
		t.Fatal("a 10000x1 strip decoded under the default aspect limit")
	}
	img, err := DecodeWithin(strip, Limits{MaxAspect: 20000})
	if err != nil || img.Width != 10000 || img.Height != 1 {
		t.Fatalf("with max_aspect 20000: %v", err)
	}
	big := encodePNG(t, grayImage(300, 200, 0))
	if _, err := DecodeWithin(big, Limits{MaxPixels: 50000}); err == nil || !strings.Contains(err.Error(), "over the 0.1-megapixel limit") {
		t.Errorf("300x200 under a 50000-pixel limit: %v", err)
	}
	if _, err := DecodeWithin(big, Limits{MaxPixels: 60000}); err != nil {
		t.Errorf("300x200 under a 60000-pixel limit: %v", err)
	}
}

// TestLoadBudgets: in a dataset, a bomb is one unreadable image with its reason (the others are
// kept), an oversized file is refused before it is read, and a set whose decoded pixels exceed the
// store budget is a clear error rather than an out-of-memory crash.
func TestLoadBudgets(t *testing.T) {
	dir := t.TempDir()
	for i := range 30 {
		pngFile(t, dir, "cats/c"+string(rune('a'+i%26))+string(rune('a'+i/26))+".png", uint8(i))
	}
	writeFile(t, dir, "cats/bomb.png", pngBomb(t, 100000, 100000))
	noise := image.NewGray(image.Rect(0, 0, 64, 64))
	x := uint32(1)
	for i := range noise.Pix {
		x = x*1664525 + 1013904223 // incompressible content: the file stays over 2 KiB
		noise.Pix[i] = uint8(x >> 24)
	}
	writeFile(t, dir, "cats/big.png", encodePNG(t, noise))
	r := &Reader{Limits: Limits{MaxFileBytes: 2048}}
	l, err := r.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Load(context.Background(), l, Options{MaxUnreadable: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, p := range ds.Unreadable {
		reasons[p.Path] = p.Reason
	}
	if !strings.Contains(reasons["cats/bomb.png"], "over the 50.0-megapixel limit") {
		t.Errorf("bomb: %q", reasons["cats/bomb.png"])
	}
	if !strings.Contains(reasons["cats/big.png"], "over the 2048 bytes limit for one file") {
		t.Errorf("big file: %q", reasons["cats/big.png"])
	}
	if len(ds.Items) != 30 {
		t.Errorf("%d readable images, want 30", len(ds.Items))
	}

	// 30 images of 4x3 gray take 360 bytes; a 200-byte store does not hold them.
	r = &Reader{Limits: Limits{MaxStoreBytes: 200}}
	if l, err = r.List(dir); err != nil {
		t.Fatal(err)
	}
	_, err = Load(context.Background(), l, Options{MaxUnreadable: 0.1})
	var full *StoreFullError
	if !errors.As(err, &full) || !strings.Contains(err.Error(), "runtime.memory_mb") {
		t.Errorf("over the store budget: %v", err)
	}
	// Hashing only (no pixels kept) needs no store.
	if _, err = Load(context.Background(), l, Options{MaxUnreadable: 0.1, DropPixels: true}); err != nil {
		t.Errorf("DropPixels under a tiny store budget: %v", err)
	}
}
