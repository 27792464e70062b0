package detect

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/cvgate/cvgate/internal/detect/box"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/task"
)

var (
	truthColour = color.RGBA{0, 200, 0, 255}
	predColour  = color.RGBA{230, 30, 30, 255}
)

// renderSide is the size small images are enlarged to (nearest neighbour) so that boxes and
// their captions stay legible on a contact sheet.
const renderSide = 256

// Render draws the ground truth (green) and the detections kept at the operating score (red,
// with class and score) on a copy of the image, in image coordinates.
func (t *Task) Render(img *imaging.Image, truth task.Truth, pred task.Prediction) *imaging.Image {
	if img == nil || img.Width == 0 || img.Height == 0 {
		return nil
	}
	k := 1
	if m := max(img.Width, img.Height); m < renderSide {
		k = max(renderSide/m, 1)
	}
	rgb := img.ToRGB()
	dst := image.NewRGBA(image.Rect(0, 0, img.Width*k, img.Height*k))
	for y := 0; y < dst.Rect.Dy(); y++ {
		for x := 0; x < dst.Rect.Dx(); x++ {
			o := ((y/k)*img.Width + x/k) * 3
			dst.SetRGBA(x, y, color.RGBA{rgb.Pix[o], rgb.Pix[o+1], rgb.Pix[o+2], 255})
		}
	}
	scale := func(b box.Box) image.Rectangle {
		return image.Rect(int(math.Round(b.X1*float64(k))), int(math.Round(b.Y1*float64(k))),
			int(math.Round(b.X2*float64(k)))-1, int(math.Round(b.Y2*float64(k)))-1)
	}
	for _, o := range objectsOf(truth) {
		rectangle(dst, scale(o.Box), truthColour)
	}
	for _, d := range t.kept(detectionsOf(pred)) {
		r := scale(d.Box)
		rectangle(dst, r, predColour)
		caption(dst, r.Min, fmt.Sprintf("%s %.2f", t.className(d.Class), d.Score), predColour)
	}
	return imaging.FromStd(dst)
}

// rectangle outlines r, two pixels wide, clipped to the image.
func rectangle(dst *image.RGBA, r image.Rectangle, c color.RGBA) {
	for w := 0; w < 2; w++ {
		rr := image.Rect(r.Min.X+w, r.Min.Y+w, r.Max.X-w, r.Max.Y-w)
		for x := rr.Min.X; x <= rr.Max.X; x++ {
			set(dst, x, rr.Min.Y, c)
			set(dst, x, rr.Max.Y, c)
		}
		for y := rr.Min.Y; y <= rr.Max.Y; y++ {
			set(dst, rr.Min.X, y, c)
			set(dst, rr.Max.X, y, c)
		}
	}
}

func set(dst *image.RGBA, x, y int, c color.RGBA) {
	if image.Pt(x, y).In(dst.Rect) {
		dst.SetRGBA(x, y, c)
	}
}

// caption writes a label on a filled band above the box (below its top edge when the box
// touches the top of the image).
func caption(dst *image.RGBA, at image.Point, text string, bg color.RGBA) {
	face := basicfont.Face7x13
	w := font.MeasureString(face, text).Ceil() + 4
	top := at.Y - 14
	if top < 0 {
		top = at.Y + 2
	}
	band := image.Rect(at.X, top, at.X+w, top+14).Intersect(dst.Rect)
	draw.Draw(dst, band, image.NewUniform(bg), image.Point{}, draw.Src)
	d := font.Drawer{Dst: dst, Src: image.NewUniform(color.White), Face: face,
		Dot: fixed.P(at.X+2, top+11)}
	d.DrawString(text)
}
