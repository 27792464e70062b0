// Package failures exports the worst cases a check found, so that a team can look at them,
// relabel them or collect similar data: one PNG per case (the image as the model saw it), an
// index.csv, and one contact sheet per check.
package failures

import (
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"github.com/cvgate/cvgate/internal/confine"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/report"
)

// Case is one failure: what the model saw, what it should have said and what it said.
type Case struct {
	Image *imaging.Image // as the model saw it (perturbed, resized)
	// Original, when set, is shown beside Image with their difference amplified (adversarial
	// examples, whose change a person may not see).
	Original     *imaging.Image
	Path         string // source image
	Label        string
	Predicted    string
	Confidence   float64
	Perturbation string  // e.g. "gaussian_noise s3", "rotate:8", "" for clean
	Severity     float64 // sort key: higher is worse (e.g. confidence of a wrong answer)
	Note         string
	// Baseline is the baseline model's answer, for cases that compare two models (regression
	// flips): the tile shows the label, the candidate's answer and the baseline's.
	Baseline string
	// Sheet names the contact sheet the case goes on ("" for the main one, e.g. "flips to
	// right" for a second), so that cases of different kinds are not mixed on one sheet.
	Sheet string
}

// Exporter writes cases below Root/failures/<check>/, never through a symlink (see confine.Out).
type Exporter struct {
	Root        string // the output folder
	MaxPerCheck int
	Columns     int
	// Workspace, when set, is the folder Root must lie in (it is opened through it).
	Workspace *confine.Root
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Export writes the worst MaxPerCheck cases (by Severity, ties by path) and returns where they
// went. total is the number of failures found, which may exceed len(cases).
func (x *Exporter) Export(check string, cases []Case, total int) (*report.Failures, error) {
	if x == nil || x.Root == "" || len(cases) == 0 || x.MaxPerCheck == 0 {
		return nil, nil
	}
	sorted := append([]Case(nil), cases...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Severity != sorted[j].Severity {
			return sorted[i].Severity > sorted[j].Severity
		}
		if sorted[i].Path != sorted[j].Path {
			return sorted[i].Path < sorted[j].Path
		}
		return sorted[i].Perturbation < sorted[j].Perturbation
	})
	if len(sorted) > x.MaxPerCheck {
		sorted = sorted[:x.MaxPerCheck]
	}
	relDir := filepath.ToSlash(filepath.Join("failures", unsafeName.ReplaceAllString(check, "_")))
	out, err := confine.OpenOut(x.Root, x.Workspace)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	dir := filepath.FromSlash(relDir)
	// A re-run must not leave stale cases of an earlier run beside the new ones. The output folder
	// may come from a checkout: out.RemoveAll refuses a symlinked failures/ instead of emptying
	// the folder it points to.
	if err := out.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := out.MkdirAll(dir); err != nil {
		return nil, err
	}
	idx, err := out.Create(filepath.Join(dir, "index.csv"))
	if err != nil {
		return nil, fmt.Errorf("create failure index: %w", err)
	}
	w := csv.NewWriter(idx)
	_ = w.Write([]string{"file", "source", "label", "predicted", "confidence", "check", "perturbation", "note", "baseline", "sheet"})
	// One sheet per kind of case, the main one ("") first, each in severity order.
	var sheetNames []string
	tiles := map[string][]tile{}
	for i, c := range sorted {
		name := fmt.Sprintf("%03d_%s_as_%s.png", i+1, unsafeName.ReplaceAllString(c.Label, "_"), unsafeName.ReplaceAllString(c.Predicted, "_"))
		img := c.Image
		if c.Original != nil {
			img = sideBySide(c.Original, c.Image)
		}
		if err := writePNG(out, filepath.Join(dir, name), img.Std()); err != nil {
			idx.Close()
			return nil, err
		}
		_ = w.Write([]string{name, c.Path, c.Label, c.Predicted, strconv.FormatFloat(c.Confidence, 'f', 4, 64), check, c.Perturbation, c.Note, c.Baseline, c.Sheet})
		if _, ok := tiles[c.Sheet]; !ok {
			sheetNames = append(sheetNames, c.Sheet)
		}
		tiles[c.Sheet] = append(tiles[c.Sheet], tile{img: c.Image, orig: c.Original, caption: captionOf(c)})
	}
	sort.SliceStable(sheetNames, func(i, j int) bool { return sheetNames[i] == "" && sheetNames[j] != "" })
	w.Flush()
	if err := w.Error(); err != nil {
		idx.Close()
		return nil, fmt.Errorf("write failure index: %w", err)
	}
	if err := idx.Close(); err != nil {
		return nil, fmt.Errorf("write failure index: %w", err)
	}
	f := &report.Failures{Dir: relDir, Index: relDir + "/index.csv", Count: len(sorted), Total: max(total, len(sorted))}
	face, err := captionFace()
	if err != nil {
		return nil, err
	}
	for i, name := range sheetNames {
		// The first sheet (the main kind, else the most severe case's) is contact_sheet.png, as
		// for every check; the others are named after their kind.
		file := "contact_sheet.png"
		if i > 0 {
			file = "contact_sheet_" + unsafeName.ReplaceAllString(name, "_") + ".png"
		}
		if err := writePNG(out, filepath.Join(dir, file), contactSheet(tiles[name], max(x.Columns, 1), face)); err != nil {
			return nil, err
		}
		if f.ContactSheet == "" {
			f.ContactSheet = relDir + "/" + file
		}
		if len(sheetNames) > 1 {
			title := name
			if title == "" {
				title = "failures"
			}
			f.Sheets = append(f.Sheets, report.FailureSheet{Title: title, Path: relDir + "/" + file, Count: len(tiles[name])})
		}
	}
	return f, nil
}

// captionOf is a tile's caption, one short line each: the label, the model's answer with its
// confidence, and the baseline's answer when the case compares two models.
func captionOf(c Case) []captionLine {
	lines := []captionLine{{text: "label " + short(c.Label), ink: inkText}}
	ink := inkWrong
	if c.Predicted == c.Label {
		ink = inkRight
	}
	said := "model"
	if c.Baseline != "" {
		said = "candidate"
	}
	lines = append(lines, captionLine{text: fmt.Sprintf("%s %s %.2f", said, short(c.Predicted), c.Confidence), ink: ink})
	if c.Baseline != "" {
		ink := inkWrong
		if c.Baseline == c.Label {
			ink = inkRight
		}
		lines = append(lines, captionLine{text: "baseline " + short(c.Baseline), ink: ink})
	}
	return lines
}

func short(s string) string {
	r := []rune(s)
	if len(r) > 8 {
		return string(r[:7]) + "~"
	}
	return s
}

func writePNG(out *confine.Out, path string, img image.Image) error {
	f, err := out.Create(path)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("encode %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return nil
}

// sideBySide shows original | changed | difference x10 (centred on gray), so that an adversarial
// change is visible.
func sideBySide(orig, changed *imaging.Image) *imaging.Image {
	a, b := orig.ToRGB(), changed.ToRGB()
	w, h := b.Width, b.Height
	if a.Width != w || a.Height != h {
		return b
	}
	out := imaging.New(3*w, h, 3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				va, vb := int(a.At(x, y, c)), int(b.At(x, y, c))
				out.Pix[(y*3*w+x)*3+c] = uint8(va)
				out.Pix[(y*3*w+w+x)*3+c] = uint8(vb)
				d := 128 + 10*(vb-va)
				out.Pix[(y*3*w+2*w+x)*3+c] = uint8(min(max(d, 0), 255))
			}
		}
	}
	return out
}

type tile struct {
	img, orig *imaging.Image
	caption   []captionLine
}

// captionLine is one line under a tile, in the colour of what it says.
type captionLine struct {
	text string
	ink  color.RGBA
}

// Caption colours: plain text, a wrong answer, a right one (dark enough on white for print).
var (
	inkText  = color.RGBA{36, 41, 47, 255}
	inkWrong = color.RGBA{190, 20, 30, 255}
	inkRight = color.RGBA{20, 120, 50, 255}
)

// sheetPad is the space around each cell of a contact sheet.
const sheetPad = 6

// captionSize is the caption font size in pixels: legible beside the tiles at 100% (the old 7 px
// bitmap font was not).
const captionSize = 13

// captionFace is the caption font: Go Regular (BSD-licensed, shipped with golang.org/x/image).
func captionFace() (font.Face, error) {
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, fmt.Errorf("read the caption font: %w", err)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: captionSize, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("read the caption font: %w", err)
	}
	return face, nil
}

// Tile bounds of the contact sheet: a tile is scaled up (nearest neighbour, so that small images
// stay sharp) to about minTile pixels tall, and scaled down to fit maxTile x maxTile, whatever
// the image's size or shape. A 10000x1 strip would otherwise become a 960000-pixel-wide tile.
const (
	minTile = 96
	maxTile = 256
)

// contactSheet lays tiles out in a grid of bounded cells, each with its caption lines below.
// Its size is at most columns x rows cells of maxTile pixels (captions of short() names widen a
// cell to a bounded width).
func contactSheet(tiles []tile, cols int, face font.Face) image.Image {
	const pad = sheetPad
	lineH := face.Metrics().Height.Ceil() + 1
	lines := 0
	cellW, cellH := 0, 0
	scaled := make([]image.Image, len(tiles))
	for i, t := range tiles {
		img := t.img
		if t.orig != nil {
			img = sideBySide(t.orig, t.img)
		}
		w, h := tileSize(img.Width, img.Height)
		s := resize(img.ToRGB(), w, h)
		scaled[i] = s
		cellW = max(cellW, s.Bounds().Dx())
		for _, l := range t.caption {
			cellW = max(cellW, font.MeasureString(face, l.text).Ceil()+2)
		}
		cellH = max(cellH, s.Bounds().Dy())
		lines = max(lines, len(t.caption))
	}
	capH := lines*lineH + 2
	cols = min(cols, len(tiles))
	rows := (len(tiles) + cols - 1) / cols
	W := cols*(cellW+pad) + pad
	H := rows*(cellH+capH+pad) + pad
	sheet := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(sheet, sheet.Bounds(), &image.Uniform{color.RGBA{255, 255, 255, 255}}, image.Point{}, draw.Src)
	ascent := face.Metrics().Ascent.Ceil()
	for i, s := range scaled {
		x0 := pad + (i%cols)*(cellW+pad)
		y0 := pad + (i/cols)*(cellH+capH+pad)
		draw.Draw(sheet, image.Rect(x0, y0, x0+s.Bounds().Dx(), y0+s.Bounds().Dy()), s, image.Point{}, draw.Src)
		for j, l := range tiles[i].caption {
			d := font.Drawer{Dst: sheet, Src: image.NewUniform(l.ink), Face: face, Dot: fixed.P(x0+1, y0+cellH+2+j*lineH+ascent)}
			d.DrawString(l.text)
		}
	}
	return sheet
}

// tileSize is the size a w x h image is shown at: enlarged by a whole factor to about minTile
// pixels tall while it fits maxTile x maxTile, or reduced to fit maxTile x maxTile.
func tileSize(w, h int) (int, int) {
	if w > maxTile || h > maxTile {
		s := min(float64(maxTile)/float64(w), float64(maxTile)/float64(h))
		return max(1, int(float64(w)*s+0.5)), max(1, int(float64(h)*s+0.5))
	}
	k := max(1, min((minTile+h-1)/h, maxTile/w, maxTile/h))
	return w * k, h * k
}

// resize scales an RGB image to w x h by nearest neighbour.
func resize(m *imaging.Image, w, h int) image.Image {
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		sy := y * m.Height / h
		for x := 0; x < w; x++ {
			o := (sy*m.Width + x*m.Width/w) * 3
			p := out.PixOffset(x, y)
			out.Pix[p], out.Pix[p+1], out.Pix[p+2], out.Pix[p+3] = m.Pix[o], m.Pix[o+1], m.Pix[o+2], 255
		}
	}
	return out
}
