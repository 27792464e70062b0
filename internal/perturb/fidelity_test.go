package perturb

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

// The fidelity test compares the damage cvgate's corruptions do with the damage of the reference
// implementation (bethgelab/imagecorruptions), measured by scripts/corruption-fidelity.py on the
// same images and stored in testdata/fidelity.json. The statistics are defined in that script;
// sampleStats mirrors it, and TestFidelityMetricsMatchTheScript proves the two agree.

// Tolerances per cell (corruption x severity), against the reference's mean over the images.
const (
	// psnrTol: mean PSNR within 1 dB (the bar; 1 dB is a 26% change in mean squared error).
	psnrTol = 1.0
	// maeRelTol, maeAbsTol: mean absolute change within 15% plus half a level.
	maeRelTol, maeAbsTol = 0.15, 0.5
	// gainAbsTol, gainRelTol: energy added or removed per band, as a share of the clean image's
	// energy, within 5 points plus 15% of the reference's value (noise adds several times the
	// clean energy to the top band, where a fixed tolerance would be meaningless).
	gainAbsTol, gainRelTol = 0.05, 0.15
	// damageTol: the share of the damage's energy in each band within 5 points.
	damageTol = 0.05
)

// fidelitySeeds is the number of seeds per image and cell on the Go side (the reference uses the
// number in the golden file; the means are compared, so the two need not be equal). frost uses
// frostDraws stratified seeds instead (see fidelitySeedsFor).
const fidelitySeeds = 2

type cellStats struct {
	PSNR   [2]float64 `json:"psnr"` // mean, standard deviation over images
	MAE    [2]float64 `json:"mae"`
	Gain   []float64  `json:"gain"`   // per band, mean over images
	Damage []float64  `json:"damage"` // per band, mean over images
}

type fidelityGolden struct {
	Reference string                  `json:"reference"`
	Images    []string                `json:"images"`
	Bands     []float64               `json:"band_upper_edges"`
	Size      int                     `json:"size"`
	Cells     map[string][]*cellStats `json:"cells"`
	Exact     []struct {
		Image      string `json:"image"`
		Corruption string `json:"corruption"`
		Severity   int    `json:"severity"`
		SHA256     string `json:"sha256"`
	} `json:"exact"`
	MetricCheck struct {
		Clean     string    `json:"clean"`
		Corrupted string    `json:"corrupted"`
		PSNR      float64   `json:"psnr"`
		MAE       float64   `json:"mae"`
		Gain      []float64 `json:"gain"`
		Damage    []float64 `json:"damage"`
	} `json:"metric_check"`
}

func readGolden(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden %q: %v (regenerate with scripts/corruption-fidelity.py)", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode golden %q: %v", path, err)
	}
}

// fidelityImages decodes the named images of testdata/fidelity/<size>/ and checks their shape.
func fidelityImages(t *testing.T, size int, names []string) []*imaging.Image {
	t.Helper()
	out := make([]*imaging.Image, len(names))
	for i, n := range names {
		path := filepath.Join("testdata", "fidelity", fmt.Sprint(size), n+".png")
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := decodePNG(f)
		f.Close()
		if err != nil {
			t.Fatalf("decode %q: %v", path, err)
		}
		m = m.ToRGB()
		if m.Width != size || m.Height != size {
			t.Fatalf("%s is %dx%d, want %dx%d", path, m.Width, m.Height, size, size)
		}
		out[i] = m
	}
	return out
}

// spectrum computes the statistics' spectral parts for one image size: the band of every DFT
// frequency (-1 for DC), by radial frequency in cycles per pixel against the upper edges.
type spectrum struct {
	w, h  int
	band  []int
	bands int
}

func newSpectrum(w, h int, edges []float64) *spectrum {
	s := &spectrum{w: w, h: h, band: make([]int, w*h), bands: len(edges) + 1}
	for y := range h {
		for x := range w {
			f := math.Hypot(fftFreq(y, h), fftFreq(x, w))
			b := len(edges)
			for i := len(edges) - 1; i >= 0; i-- {
				if f <= edges[i] {
					b = i
				}
			}
			s.band[y*w+x] = b
		}
	}
	s.band[0] = -1
	return s
}

// bandPower sums |f - minus|^2 per band (DC excluded); minus may be nil.
func (s *spectrum) bandPower(f, minus []complex128) []float64 {
	e := make([]float64, s.bands)
	for i, v := range f {
		if b := s.band[i]; b >= 0 {
			if minus != nil {
				v -= minus[i]
			}
			e[b] += real(v)*real(v) + imag(v)*imag(v)
		}
	}
	return e
}

// cleanSpectrum is an image's luma spectrum and its energy per band (the DC term, the only one
// that subtracting the mean changes, is in no band).
type cleanSpectrum struct {
	f      []complex128
	energy []float64
}

func (s *spectrum) clean(x *imaging.Image) cleanSpectrum {
	f := dft2Real(luma(x), s.w, s.h)
	return cleanSpectrum{f, s.bandPower(f, nil)}
}

// luma is BT.601 luma of an RGB image on the 0..255 scale.
func luma(m *imaging.Image) []float64 {
	out := make([]float64, m.Width*m.Height)
	for i := range out {
		p := m.Pix[3*i : 3*i+3]
		out[i] = 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
	}
	return out
}

type sample struct {
	psnr, mae    float64
	gain, damage []float64
}

// sampleStats mirrors sample_stats of scripts/corruption-fidelity.py. One DFT serves both
// spectral measures: by linearity the damage's spectrum is F(luma y) - F(luma x).
func (s *spectrum) sampleStats(x, y *imaging.Image, clean cleanSpectrum) sample {
	var se, ae float64
	for i := range x.Pix {
		d := float64(y.Pix[i]) - float64(x.Pix[i])
		se += d * d
		ae += math.Abs(d)
	}
	n := float64(len(x.Pix))
	out := sample{psnr: 99, mae: ae / n}
	if se > 0 {
		out.psnr = min(99, 10*math.Log10(255*255/(se/n)))
	}
	fy := dft2Real(luma(y), s.w, s.h)
	ey, ed := s.bandPower(fy, nil), s.bandPower(fy, clean.f)
	total, dtotal := sum(clean.energy), sum(ed)
	out.gain = make([]float64, s.bands)
	out.damage = make([]float64, s.bands)
	for b := range s.bands {
		out.gain[b] = (ey[b] - clean.energy[b]) / total
		if dtotal > 0 {
			out.damage[b] = ed[b] / dtotal
		}
	}
	return out
}

func sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

// summarize mirrors summarize of the script: per image the mean over seeds, then the mean and
// the (population) standard deviation over images.
func summarize(perImage [][]sample, bands int) *cellStats {
	c := &cellStats{Gain: make([]float64, bands), Damage: make([]float64, bands)}
	var psnrs, maes []float64
	for _, ss := range perImage {
		var p, m float64
		for _, s := range ss {
			p += s.psnr / float64(len(ss))
			m += s.mae / float64(len(ss))
			for b := range bands {
				c.Gain[b] += s.gain[b] / float64(len(ss)*len(perImage))
				c.Damage[b] += s.damage[b] / float64(len(ss)*len(perImage))
			}
		}
		psnrs, maes = append(psnrs, p), append(maes, m)
	}
	c.PSNR = meanStd(psnrs)
	c.MAE = meanStd(maes)
	return c
}

func meanStd(v []float64) [2]float64 {
	m := sum(v) / float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - m) * (x - m)
	}
	return [2]float64{m, math.Sqrt(ss / float64(len(v)))}
}

// fidelitySeedsFor returns the seeds of image i. frost's are stratified as the script's are:
// seed r is the first whose photograph draw (the first draw of frost's stream) is r, so that
// each image meets each of the five draws once.
func fidelitySeedsFor(name string, i int) []uint64 {
	var out []uint64
	if name != "frost" {
		for rep := range fidelitySeeds {
			out = append(out, uint64(1000*i+rep+1))
		}
		return out
	}
	for rep := range frostDraws {
		seed := uint64(1000*i + rep + 1)
		for {
			var c Corruptor
			c.rng.Seed(seed, streamOf(name))
			if int(c.uniform(0, frostDraws)) == rep {
				break
			}
			seed += 1 << 20
		}
		out = append(out, seed)
	}
	return out
}

// fidelitySet is the clean side of a fidelity measurement: images, their spectra and the band
// layout.
type fidelitySet struct {
	images []*imaging.Image
	spec   *spectrum
	clean  []cleanSpectrum
}

func newFidelitySet(images []*imaging.Image, edges []float64) *fidelitySet {
	f := &fidelitySet{images: images, spec: newSpectrum(images[0].Width, images[0].Height, edges)}
	for _, m := range images {
		f.clean = append(f.clean, f.spec.clean(m))
	}
	return f
}

// measure runs one corruption at every severity on the images with fidelitySeeds seeds each
// and summarizes the damage per severity.
func (f *fidelitySet) measure(t *testing.T, name string) []*cellStats {
	t.Helper()
	c := NewCorruptor()
	dst := &imaging.Image{}
	cells := make([]*cellStats, Severities)
	for sev := 1; sev <= Severities; sev++ {
		perImage := make([][]sample, len(f.images))
		for i, src := range f.images {
			for _, seed := range fidelitySeedsFor(name, i) {
				if err := c.Apply(dst, src, name, sev, seed); err != nil {
					t.Fatal(err)
				}
				perImage[i] = append(perImage[i], f.spec.sampleStats(src, dst, f.clean[i]))
			}
		}
		cells[sev-1] = summarize(perImage, f.spec.bands)
	}
	return cells
}

func TestFidelityMetricsMatchTheScript(t *testing.T) {
	var g fidelityGolden
	readGolden(t, filepath.Join("testdata", "fidelity.json"), &g)
	mc := g.MetricCheck
	imgs := fidelityImages(t, g.Size, []string{mc.Clean, mc.Corrupted})
	spec := newSpectrum(g.Size, g.Size, g.Bands)
	got := spec.sampleStats(imgs[0], imgs[1], spec.clean(imgs[0]))
	close := func(what string, a, b float64) {
		if math.Abs(a-b) > 1e-9*max(1, math.Abs(b)) {
			t.Errorf("%s = %.12g, the script says %.12g", what, a, b)
		}
	}
	close("psnr", got.psnr, mc.PSNR)
	close("mae", got.mae, mc.MAE)
	for b := range spec.bands {
		close(fmt.Sprintf("gain[%d]", b), got.gain[b], mc.Gain[b])
		close(fmt.Sprintf("damage[%d]", b), got.damage[b], mc.Damage[b])
	}
}

// TestExactCorruptionsMatchTheReference checks the corruptions that reproduce the reference byte
// for byte (pixelate with PIL's resampling arithmetic, jpeg_compression with the IJG library's)
// by the SHA-256 of the reference's output, on a photo, a digit (also as a gray image, which the
// reference sees as RGB with equal channels) and an odd-sized crop.
func TestExactCorruptionsMatchTheReference(t *testing.T) {
	var g fidelityGolden
	readGolden(t, filepath.Join("testdata", "fidelity.json"), &g)
	if len(g.Exact) == 0 {
		t.Fatal("golden has no exact cases")
	}
	c := NewCorruptor()
	dst := &imaging.Image{}
	for _, e := range g.Exact {
		path := filepath.Join("testdata", "fidelity", filepath.FromSlash(e.Image)+".png")
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		src, err := decodePNG(f)
		f.Close()
		if err != nil {
			t.Fatalf("decode %q: %v", path, err)
		}
		src = src.ToRGB()
		inputs := []*imaging.Image{src}
		if gray := src.ToGray(); bytes.Equal(gray.ToRGB().Pix, src.Pix) {
			inputs = append(inputs, gray)
		}
		for _, in := range inputs {
			if err := c.Apply(dst, in, e.Corruption, e.Severity, 1); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(dst.ToRGB().Pix)
			if got := hex.EncodeToString(sum[:]); got != e.SHA256 {
				t.Errorf("%s %s/%d (%d channels): output differs from the reference's", e.Image, e.Corruption, e.Severity, in.Channels)
			}
		}
	}
}

// TestFidelity224 is the acceptance test: every corruption and severity at 224 px does
// the reference's damage within the tolerances above.
func TestFidelity224(t *testing.T) {
	var g fidelityGolden
	readGolden(t, filepath.Join("testdata", "fidelity.json"), &g)
	if g.Size != 224 || len(g.Cells) != len(corruptions) {
		t.Fatalf("golden has size %d and %d corruptions, want 224 and %d", g.Size, len(g.Cells), len(corruptions))
	}
	set := newFidelitySet(fidelityImages(t, g.Size, g.Images), g.Bands)
	rows := make(map[string]string)
	var mu sync.Mutex
	t.Run("cells", func(t *testing.T) {
		for _, name := range Names() {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				ref := g.Cells[name]
				if len(ref) != Severities {
					t.Fatalf("golden has %d severities of %s", len(ref), name)
				}
				got := set.measure(t, name)
				var rep strings.Builder
				for s := range Severities {
					problems, row := compareCell(ref[s], got[s])
					if len(problems) > 0 {
						t.Errorf("severity %d: %s", s+1, strings.Join(problems, "; "))
					}
					fmt.Fprintf(&rep, "| %s | %d | %s |\n", name, s+1, row)
				}
				if testing.Verbose() {
					t.Log("PSNR ref | cvgate | MAE ref | cvgate | worst gain | worst damage share\n" + rep.String())
				}
				mu.Lock()
				rows[name] = rep.String()
				mu.Unlock()
			})
		}
	})
	var report strings.Builder
	report.WriteString("| corruption | severity | PSNR ref | PSNR cvgate | MAE ref | MAE cvgate | worst band gain (ref, cvgate) | worst damage share (ref, cvgate) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, name := range Names() {
		report.WriteString(rows[name])
	}
	if path := os.Getenv("CVGATE_FIDELITY_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(report.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// compareCell checks one cell against the tolerances and returns what is out of them and a
// report row.
func compareCell(r, c *cellStats) (problems []string, row string) {
	if d := c.PSNR[0] - r.PSNR[0]; math.Abs(d) > psnrTol {
		problems = append(problems, fmt.Sprintf("PSNR %.2f dB vs %.2f (%+.2f)", c.PSNR[0], r.PSNR[0], d))
	}
	if d := c.MAE[0] - r.MAE[0]; math.Abs(d) > maeRelTol*r.MAE[0]+maeAbsTol {
		problems = append(problems, fmt.Sprintf("MAE %.2f vs %.2f", c.MAE[0], r.MAE[0]))
	}
	gb, gw := worstBand(c.Gain, r.Gain, func(ref float64) float64 { return gainAbsTol + gainRelTol*math.Abs(ref) })
	if gw > 1 {
		problems = append(problems, fmt.Sprintf("band %d gain %.3f vs %.3f", gb, c.Gain[gb], r.Gain[gb]))
	}
	db, dw := worstBand(c.Damage, r.Damage, func(float64) float64 { return damageTol })
	if dw > 1 {
		problems = append(problems, fmt.Sprintf("band %d damage share %.3f vs %.3f", db, c.Damage[db], r.Damage[db]))
	}
	row = fmt.Sprintf("%.2f | %.2f | %.1f | %.1f | %.3f, %.3f | %.3f, %.3f", r.PSNR[0], c.PSNR[0], r.MAE[0], c.MAE[0],
		r.Gain[gb], c.Gain[gb], r.Damage[db], c.Damage[db])
	return problems, row
}

// worstBand returns the band whose difference uses the largest part of its tolerance, and that
// part (> 1 is out of tolerance).
func worstBand(got, ref []float64, tol func(ref float64) float64) (int, float64) {
	wb, worst := 0, -1.0
	for b := range ref {
		if u := math.Abs(got[b]-ref[b]) / tol(ref[b]); u > worst {
			wb, worst = b, u
		}
	}
	return wb, worst
}

// TestWriteSmallSizeTable writes, when CVGATE_FIDELITY_SMALL_REPORT names a file, the markdown
// table of docs/corruptions.md that puts cvgate's damage at 32 and 28 px beside the reference's
// (testdata/fidelity_small.json). It checks nothing: the two differ on purpose (cvgate scales
// spatial parameters, the reference does not, and refuses images under 32 px).
func TestWriteSmallSizeTable(t *testing.T) {
	path := os.Getenv("CVGATE_FIDELITY_SMALL_REPORT")
	if path == "" {
		t.Skip("set CVGATE_FIDELITY_SMALL_REPORT=file to write the small-size table")
	}
	var g struct {
		Bands []float64 `json:"band_upper_edges"`
		Sizes map[string]struct {
			Images []string                `json:"images"`
			Cells  map[string][]*cellStats `json:"cells"`
		} `json:"sizes"`
	}
	readGolden(t, filepath.Join("testdata", "fidelity_small.json"), &g)
	got := map[int]map[string][]*cellStats{}
	for _, size := range []int{32, 28} {
		sz := g.Sizes[fmt.Sprint(size)]
		set := newFidelitySet(fidelityImages(t, size, sz.Images), g.Bands)
		got[size] = map[string][]*cellStats{}
		for _, name := range Names() {
			got[size][name] = set.measure(t, name)
		}
	}
	psnr := func(c *cellStats) string {
		if c == nil {
			return "–"
		}
		return fmt.Sprintf("%.1f", c.PSNR[0])
	}
	var b strings.Builder
	b.WriteString("| corruption | severity | 32 px reference | 32 px cvgate | 28 px reference (unscaled) | 28 px cvgate |\n|---|---:|---:|---:|---:|---:|\n")
	for _, name := range Names() {
		for _, sev := range []int{1, 3, 5} {
			r32, r28 := g.Sizes["32"].Cells[name], g.Sizes["28"].Cells[name]
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s |\n", name, sev,
				psnr(r32[sev-1]), psnr(got[32][name][sev-1]), psnr(r28[sev-1]), psnr(got[28][name][sev-1]))
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
