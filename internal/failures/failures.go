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
	"golang.org/x/image/font/basicfont"
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
	_ = w.Write([]string{"file", "source", "label", "predicted", "confidence", "check", "perturbation", "note"})
	var tiles []tile
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
		_ = w.Write([]string{name, c.Path, c.Label, c.Predicted, strconv.FormatFloat(c.Confidence, 'f', 4, 64), check, c.Perturbation, c.Note})
		caption := fmt.Sprintf("%s>%s %.2f", short(c.Label), short(c.Predicted), c.Confidence)
		tiles = append(tiles, tile{img: c.Image, orig: c.Original, caption: caption})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		idx.Close()
		return nil, fmt.Errorf("write failure index: %w", err)
	}
	if err := idx.Close(); err != nil {
		return nil, fmt.Errorf("write failure index: %w", err)
	}
	sheet := contactSheet(tiles, max(x.Columns, 1))
	if err := writePNG(out, filepath.Join(dir, "contact_sheet.png"), sheet); err != nil {
		return nil, err
	}
	return &report.Failures{
		Dir:          relDir,
		Index:        relDir + "/index.csv",
		ContactSheet: relDir + "/contact_sheet.png",
		Count:        len(sorted),
		Total:        max(total, len(sorted)),
	}, nil
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
	caption   string
}

// Tile bounds of the contact sheet: a tile is scaled up (nearest neighbour, so that small images
// stay sharp) to about minTile pixels tall, and scaled down to fit maxTile x maxTile, whatever
// the image's size or shape. A 10000x1 strip would otherwise become a 960000-pixel-wide tile.
const (
	minTile = 96
	maxTile = 256
)

// contactSheet lays tiles out in a grid of bounded cells, each with a caption
// "label>predicted confidence". Its size is at most columns x rows cells of maxTile pixels.
func contactSheet(tiles []tile, cols int) image.Image {
	const capH, pad = 14, 4
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
		cellW = max(cellW, s.Bounds().Dx(), 7*len(t.caption)+2)
		cellH = max(cellH, s.Bounds().Dy())
	}
	cols = min(cols, len(tiles))
	rows := (len(tiles) + cols - 1) / cols
	W := cols*(cellW+pad) + pad
	H := rows*(cellH+capH+pad) + pad
	sheet := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(sheet, sheet.Bounds(), &image.Uniform{color.RGBA{255, 255, 255, 255}}, image.Point{}, draw.Src)
	face := basicfont.Face7x13
	for i, s := range scaled {
		x0 := pad + (i%cols)*(cellW+pad)
		y0 := pad + (i/cols)*(cellH+capH+pad)
		draw.Draw(sheet, image.Rect(x0, y0, x0+s.Bounds().Dx(), y0+s.Bounds().Dy()), s, image.Point{}, draw.Src)
		d := font.Drawer{Dst: sheet, Src: image.NewUniform(color.RGBA{200, 0, 0, 255}), Face: face,
			Dot: fixed.P(x0, y0+cellH+capH-3)}
		d.DrawString(tiles[i].caption)
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
