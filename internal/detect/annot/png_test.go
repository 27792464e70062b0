package annot

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"testing"
)

// pngOf encodes a gray image of the size spec "WxH".
func pngOf(t *testing.T, spec string) []byte {
	t.Helper()
	var w, h int
	if _, err := fmt.Sscanf(spec, "%dx%d", &w, &h); err != nil {
		t.Fatalf("png spec %q: %v", spec, err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
