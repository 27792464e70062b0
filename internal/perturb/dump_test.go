package perturb

import (
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

// TestDumpContactSheets writes every corruption at every severity as PNGs for a visual check, when
// CVGATE_PERTURB_DUMP names a folder.
func TestDumpContactSheets(t *testing.T) {
	dir := os.Getenv("CVGATE_PERTURB_DUMP")
	if dir == "" {
		t.Skip("set CVGATE_PERTURB_DUMP=folder to write corruption PNGs")
	}
	for fname, src := range fixtures(t) {
		c := NewCorruptor()
		dst := &imaging.Image{}
		for _, name := range Names() {
			sheet := imaging.New(src.Width*(Severities+1), src.Height, src.Channels)
			for sev := 0; sev <= Severities; sev++ {
				img := src
				if sev > 0 {
					if err := c.Apply(dst, src, name, sev, 42); err != nil {
						t.Fatal(err)
					}
					img = dst
				}
				for y := range src.Height {
					row := img.Pix[y*src.Width*src.Channels : (y+1)*src.Width*src.Channels]
					o := (y*sheet.Width + sev*src.Width) * src.Channels
					copy(sheet.Pix[o:], row)
				}
			}
			writePNG(t, filepath.Join(dir, fmt.Sprintf("%s_%s.png", fname, name)), sheet)
		}
	}
}

func writePNG(t *testing.T, path string, m *imaging.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, m.Std()); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
