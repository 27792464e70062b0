package failures

import (
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/confine"
	"github.com/cvgate/cvgate/internal/imaging"
)

func TestTileSize(t *testing.T) {
	tests := []struct{ w, h, wantW, wantH int }{
		{28, 28, 112, 112},   // MNIST: enlarged 4x to about 96 px
		{24, 32, 72, 96},     // non-square, enlarged 3x
		{224, 224, 224, 224}, // already large enough
		{10000, 1, 256, 1},   // a strip: reduced to fit, not enlarged 96x
		{1, 10000, 1, 256},
		{8000, 6000, 256, 192}, // a photo: reduced
		{200, 10, 200, 10},     // wide: an enlargement would not fit
		{1, 1, 96, 96},
	}
	for _, tt := range tests {
		w, h := tileSize(tt.w, tt.h)
		if w != tt.wantW || h != tt.wantH {
			t.Errorf("tileSize(%d, %d) = %dx%d, want %dx%d", tt.w, tt.h, w, h, tt.wantW, tt.wantH)
		}
	}
}

func gray(w, h int) *imaging.Image {
	m := imaging.New(w, h, 1)
	for i := range m.Pix {
		m.Pix[i] = uint8(i)
	}
	return m
}

// TestContactSheetBounded: a 10000x1 image among the cases keeps the sheet small (before, its
// tile alone was 960000 pixels wide, and eight of them took gigabytes).
func TestContactSheetBounded(t *testing.T) {
	out := t.TempDir()
	x := &Exporter{Root: out, MaxPerCheck: 8, Columns: 8}
	var cases []Case
	for i := range 8 {
		img := gray(10000, 1)
		if i%2 == 1 {
			img = gray(1, 10000)
		}
		cases = append(cases, Case{Image: img, Path: "strip.png", Label: "a", Predicted: "b", Confidence: 0.9, Severity: float64(i)})
	}
	f, err := x.Export("perf.metrics", cases, 8)
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(filepath.Join(out, filepath.FromSlash(f.ContactSheet)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cfg, err := png.DecodeConfig(r)
	if err != nil {
		t.Fatal(err)
	}
	// Two caption lines (label, answer) of at most 20 pixels each.
	if cfg.Width > 8*(maxTile+sheetPad)+sheetPad || cfg.Height > maxTile+2*20+2+2*sheetPad {
		t.Errorf("contact sheet is %dx%d, want at most one row of eight %d-pixel cells", cfg.Width, cfg.Height, maxTile)
	}
}

// TestExportNeverDeletesThroughSymlinks: an output folder whose failures/ is a symlink to another
// folder (a checkout can hold one) makes Export fail, and the folder it points to keeps its files.
func TestExportNeverDeletesThroughSymlinks(t *testing.T) {
	base := t.TempDir()
	out, victim := filepath.Join(base, "ws", "cvgate-out"), filepath.Join(base, "victim")
	if err := os.MkdirAll(filepath.Join(victim, "perf.metrics"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(victim, "perf.metrics", "thesis.tex")
	if err := os.WriteFile(keep, []byte("years of work"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(out, "failures")); err != nil {
		t.Fatal(err)
	}
	ws, err := confine.Open(filepath.Join(base, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, workspace := range []*confine.Root{ws, nil} {
		x := &Exporter{Root: out, MaxPerCheck: 4, Columns: 2, Workspace: workspace}
		_, err := x.Export("perf.metrics", []Case{{Image: gray(8, 8), Path: "a.png", Label: "a", Predicted: "b"}}, 1)
		if err == nil || !strings.Contains(err.Error(), "is a symlink") {
			t.Errorf("Export through a symlinked failures folder: %v", err)
		}
		if b, err := os.ReadFile(keep); err != nil || string(b) != "years of work" {
			t.Fatalf("the file outside the output folder is gone: %v", err)
		}
		entries, _ := os.ReadDir(filepath.Join(victim, "perf.metrics"))
		if len(entries) != 1 {
			t.Errorf("files were written outside: %v", entries)
		}
	}
}

func TestExportWritesCases(t *testing.T) {
	out := t.TempDir()
	x := &Exporter{Root: out, MaxPerCheck: 2, Columns: 2}
	stale := filepath.Join(out, "failures", "perf.metrics", "009_old.png")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []Case{
		{Image: gray(28, 28), Path: "x/1.png", Label: "3", Predicted: "8", Confidence: 0.7, Severity: 0.7},
		{Image: gray(28, 28), Path: "x/2.png", Label: "1", Predicted: "7", Confidence: 0.9, Severity: 0.9},
		{Image: gray(28, 28), Path: "x/3.png", Label: "5", Predicted: "6", Confidence: 0.1, Severity: 0.1},
	}
	f, err := x.Export("perf.metrics", cases, 3)
	if err != nil {
		t.Fatal(err)
	}
	if f.Count != 2 || f.Total != 3 {
		t.Errorf("count %d total %d", f.Count, f.Total)
	}
	for _, name := range []string{"001_1_as_7.png", "002_3_as_8.png", "index.csv", "contact_sheet.png"} {
		if _, err := os.Stat(filepath.Join(out, "failures", "perf.metrics", name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("a stale case of an earlier run is still there")
	}
}

// TestFlipSheets: cases that compare two models carry the baseline's answer on their tile, and
// cases of different kinds (flips to wrong, flips to right) go on separate sheets, the most
// severe kind on contact_sheet.png.
func TestFlipSheets(t *testing.T) {
	out := t.TempDir()
	x := &Exporter{Root: out, MaxPerCheck: 8, Columns: 4}
	cases := []Case{
		{Image: gray(28, 28), Path: "a.png", Label: "3", Predicted: "5", Baseline: "3", Confidence: 0.9, Severity: 1.9, Sheet: "flips to wrong"},
		{Image: gray(28, 28), Path: "b.png", Label: "7", Predicted: "7", Baseline: "1", Confidence: 0.8, Severity: 0.8, Sheet: "flips to right"},
		{Image: gray(28, 28), Path: "c.png", Label: "2", Predicted: "2", Baseline: "8", Confidence: 0.7, Severity: 0.7, Sheet: "flips to right"},
	}
	f, err := x.Export("perf.baseline", cases, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"flips to wrong 1 failures/perf.baseline/contact_sheet.png", "flips to right 2 failures/perf.baseline/contact_sheet_flips_to_right.png"}
	var got []string
	for _, s := range f.Sheets {
		got = append(got, fmt.Sprintf("%s %d %s", s.Title, s.Count, s.Path))
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") || f.ContactSheet != "failures/perf.baseline/contact_sheet.png" {
		t.Errorf("sheets %q (main %s), want %q", got, f.ContactSheet, want)
	}
	for _, s := range f.Sheets {
		r, err := os.Open(filepath.Join(out, filepath.FromSlash(s.Path)))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(r)
		r.Close()
		// A 112-pixel tile and three caption lines of a 13-pixel font.
		if err != nil || cfg.Height < 112+3*13 {
			t.Errorf("%s: %v, %dx%d: no room for three caption lines", s.Path, err, cfg.Width, cfg.Height)
		}
	}
	idx, err := os.ReadFile(filepath.Join(out, "failures", "perf.baseline", "index.csv"))
	if err != nil || !strings.Contains(string(idx), ",baseline,sheet\n") || !strings.Contains(string(idx), ",3,flips to wrong\n") {
		t.Errorf("index.csv lacks the baseline's answer and the sheet: %v\n%s", err, idx)
	}
	caption := captionOf(cases[0])
	if len(caption) != 3 || caption[0].text != "label 3" || caption[1].text != "candidate 5 0.90" || caption[1].ink != inkWrong ||
		caption[2].text != "baseline 3" || caption[2].ink != inkRight {
		t.Errorf("caption %+v", caption)
	}
}
