package perturb

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/imaging"
)

// randomCorruptions draw random numbers; the others are deterministic functions of the image.
var randomCorruptions = map[string]bool{
	"gaussian_noise": true, "shot_noise": true, "impulse_noise": true, "glass_blur": true,
	"motion_blur": true, "snow": true, "frost": true, "fog": true, "elastic_transform": true,
	"speckle_noise": true, "spatter": true,
}

func TestNamesAndGroups(t *testing.T) {
	want := strings.Fields("gaussian_noise shot_noise impulse_noise defocus_blur glass_blur motion_blur zoom_blur snow frost fog brightness contrast elastic_transform pixelate jpeg_compression speckle_noise gaussian_blur spatter saturate")
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	counts := map[string]int{}
	for _, n := range want {
		counts[Group(n)]++
	}
	wantCounts := map[string]int{GroupNoise: 3, GroupBlur: 4, GroupWeather: 4, GroupDigital: 4, GroupExtra: 4}
	for g, n := range wantCounts {
		if counts[g] != n {
			t.Errorf("group %s has %d corruptions, want %d", g, counts[g], n)
		}
	}
	for _, tc := range []struct{ name, group string }{
		{"fog", GroupWeather}, {"speckle_noise", GroupExtra}, {"jpeg_compression", GroupDigital}, {"zoom_blur", GroupBlur}, {"nope", ""},
	} {
		if got := Group(tc.name); got != tc.group {
			t.Errorf("Group(%q) = %q, want %q", tc.name, got, tc.group)
		}
	}
	names := Names()
	names[0] = "changed"
	if Names()[0] != "gaussian_noise" {
		t.Error("Names returns shared state")
	}
}

func TestApplyErrors(t *testing.T) {
	good := scene(8, 8, 3)
	tests := []struct {
		name     string
		dst, src *imaging.Image
		corr     string
		severity int
		wantErr  string
	}{
		{"unknown name", &imaging.Image{}, good, "rain", 1, "unknown name (valid: gaussian_noise"},
		{"severity low", &imaging.Image{}, good, "fog", 0, "severity 0 outside 1..5"},
		{"severity high", &imaging.Image{}, good, "fog", 6, "severity 6 outside 1..5"},
		{"nil source", &imaging.Image{}, nil, "fog", 1, "source: nil image"},
		{"bad channels", &imaging.Image{}, &imaging.Image{Width: 2, Height: 2, Channels: 4, Pix: make([]uint8, 16)}, "fog", 1, "4 channels"},
		{"short pixels", &imaging.Image{}, &imaging.Image{Width: 2, Height: 2, Channels: 3, Pix: make([]uint8, 5)}, "fog", 1, "5 pixel bytes"},
		{"zero size", &imaging.Image{}, &imaging.Image{Width: 0, Height: 2, Channels: 1}, "fog", 1, "invalid size"},
		{"nil destination", nil, good, "fog", 1, "nil destination"},
	}
	c := NewCorruptor()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Apply(tc.dst, tc.src, tc.corr, tc.severity, 1)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Apply error = %v, want it to contain %q", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "apply corruption ") {
				t.Errorf("error %q lacks the apply corruption prefix", err)
			}
		})
	}
}

// TestDeterministicAndShape checks, for every corruption, fixture and severity, that the shape is
// kept, that the same seed gives the same bytes from a fresh or a well-used Corruptor and in
// place, and that a different seed gives different bytes for the random corruptions.
func TestDeterministicAndShape(t *testing.T) {
	used := NewCorruptor() // accumulates caches from every call
	for fname, src := range fixtures(t) {
		for _, name := range Names() {
			for sev := 1; sev <= Severities; sev++ {
				a := &imaging.Image{}
				if err := used.Apply(a, src, name, sev, 1234); err != nil {
					t.Fatalf("%s %s/%d: %v", fname, name, sev, err)
				}
				if a.Width != src.Width || a.Height != src.Height || a.Channels != src.Channels || len(a.Pix) != len(src.Pix) {
					t.Fatalf("%s %s/%d: shape %dx%dx%d (%d bytes), want %dx%dx%d", fname, name, sev, a.Width, a.Height, a.Channels, len(a.Pix), src.Width, src.Height, src.Channels)
				}
				b, err := Apply(src, name, sev, 1234)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a.Pix, b.Pix) {
					t.Errorf("%s %s/%d: same seed, different bytes", fname, name, sev)
				}
				inPlace := src.Clone()
				if err := used.Apply(inPlace, inPlace, name, sev, 1234); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a.Pix, inPlace.Pix) {
					t.Errorf("%s %s/%d: in-place result differs", fname, name, sev)
				}
				if !randomCorruptions[name] {
					continue
				}
				d, err := Apply(src, name, sev, 99)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Equal(a.Pix, d.Pix) && len(src.Pix) > 64 {
					t.Errorf("%s %s/%d: seeds 1234 and 99 give identical bytes", fname, name, sev)
				}
			}
		}
	}
}

// TestTinyImages runs everything on degenerate sizes, which must neither panic nor change shape.
func TestTinyImages(t *testing.T) {
	c := NewCorruptor()
	for _, size := range [][2]int{{1, 1}, {1, 5}, {5, 1}, {2, 2}, {3, 7}, {17, 2}} {
		for _, ch := range []int{1, 3} {
			src := scene(size[0], size[1], ch)
			for _, name := range Names() {
				for sev := 1; sev <= Severities; sev++ {
					dst := &imaging.Image{}
					if err := c.Apply(dst, src, name, sev, 5); err != nil {
						t.Fatalf("%v ch%d %s/%d: %v", size, ch, name, sev, err)
					}
					if len(dst.Pix) != len(src.Pix) {
						t.Fatalf("%v ch%d %s/%d: %d bytes, want %d", size, ch, name, sev, len(dst.Pix), len(src.Pix))
					}
				}
			}
		}
	}
}

// nonMonotone lists corruptions whose reference parameters do not make damage grow at every step,
// with the PSNR rise (dB) allowed between consecutive severities and why:
//   - saturate: severities 1-2 desaturate (S*0.3, S*0.1) and 3 saturates (S*2); for colourful
//     pixels doubling S moves them less than removing 90% of it.
//   - pixelate: the non-integer factors (0.6, 0.4, 0.3) make irregular 1-2 px blocks that sit
//     across edges, which can damage more than the next, integer factor (0.5, 0.25).
//   - frost: severity 4 lowers the image weight (0.7 -> 0.65) at the same frost weight, which
//     darkens bright images towards their clean values (the reference's own mean PSNR rises
//     from 9.13 to 9.32 dB there on the fidelity images).
//   - glass_blur: the reference's (sigma, delta, passes) go (0.7, 1, 2), (0.9, 2, 1), (1, 2, 3),
//     (1.1, 3, 2): one pass at delta 2 moves pixels less than two at delta 1, and two at delta 3
//     less than three at delta 2 (its mean PSNR rises by 0.7 and 0.9 dB there).
//   - snow: severities 2 and 3 trade flake count for flake size (zoom 2 vs 4); where both zooms hit
//     the 1 px floor (small images) severity 3 can have fewer flakes.
//   - defocus_blur: on small images the scaled radii 1.5 and 2 give a 3x3 square and a 13-pixel
//     disk; the square averages away a 3-row periodic pattern (the houses' stripes) better.
var nonMonotone = map[string]float64{
	"saturate": 3, "pixelate": 1.5, "frost": 1.0, "snow": 0.5, "defocus_blur": 0.7, "glass_blur": 0.6,
}

// identityOnGray lists corruption severities that leave gray images unchanged by design (see the
// package documentation: saturate has nothing to act on in gray pixels without an offset).
func identityOnGray(name string, sev int) bool { return name == "saturate" && sev <= 3 }

// TestDamageGrowsWithSeverity measures PSNR against the clean image on real-content fixtures: it
// must be finite at every severity (the corruption does something) and must not rise from one
// severity to the next, beyond a small tolerance for coupling noise and the documented exceptions.
func TestDamageGrowsWithSeverity(t *testing.T) {
	c := NewCorruptor()
	for fname, src := range fixtures(t) {
		for _, name := range Names() {
			var prev float64
			var row []string
			for sev := 1; sev <= Severities; sev++ {
				dst := &imaging.Image{}
				if err := c.Apply(dst, src, name, sev, 77); err != nil {
					t.Fatal(err)
				}
				p := psnr(src, dst)
				row = append(row, formatDB(p))
				if math.IsInf(p, 1) && !(src.Channels == 1 && identityOnGray(name, sev)) {
					t.Errorf("%s %s/%d: output equals input", fname, name, sev)
				}
				tol := 0.05 + nonMonotone[name]
				if sev > 1 && p > prev+tol {
					t.Errorf("%s %s: PSNR rises from %.2f dB at severity %d to %.2f dB at %d", fname, name, prev, sev-1, p, sev)
				}
				prev = p
			}
			t.Logf("%-12s %-18s PSNR %s", fname, name, strings.Join(row, " "))
		}
	}
}

func formatDB(p float64) string {
	if math.IsInf(p, 1) {
		return "inf"
	}
	return strconv.FormatFloat(p, 'f', 1, 64)
}

func TestNeutralParametersAreIdentity(t *testing.T) {
	for _, src := range []*imaging.Image{scene(37, 23, 3), scene(28, 28, 1)} {
		w, h, ch := src.Width, src.Height, src.Channels
		tests := []struct {
			name string
			run  func(c *Corruptor, dst *imaging.Image)
		}{
			{"gaussian_noise sigma 0", func(c *Corruptor, dst *imaging.Image) { c.gaussianNoise(dst.Pix, src.Pix, 0) }},
			{"speckle_noise sigma 0", func(c *Corruptor, dst *imaging.Image) { c.speckleNoise(dst.Pix, src.Pix, 0) }},
			{"impulse_noise amount 0", func(c *Corruptor, dst *imaging.Image) { c.impulseNoise(dst.Pix, src.Pix, 0) }},
			{"gaussian_blur sigma 0", func(c *Corruptor, dst *imaging.Image) {
				img := make([]float32, len(src.Pix))
				toFloat(img, src.Pix)
				c.gaussianBlur(img, w, h, ch, 0)
				toBytes(dst.Pix, img)
			}},
			{"defocus radius 0.5 no alias", func(c *Corruptor, dst *imaging.Image) { c.defocusBlur(dst, src, 0.5, 0) }},
			{"glass sigma 0 no iterations", func(c *Corruptor, dst *imaging.Image) { c.glassBlur(dst, src, 0, 1, 0) }},
			{"motion radius 0", func(c *Corruptor, dst *imaging.Image) {
				img, out := make([]float32, len(src.Pix)), make([]float32, len(src.Pix))
				toFloat(img, src.Pix)
				c.motionBlur(out, img, w, h, ch, 0, 3, 30)
				toBytes(dst.Pix, out)
			}},
			{"zoom factor 1 only", func(c *Corruptor, dst *imaging.Image) { c.zoomBlur(dst, src, newZoomTables(w, h, []float64{1})) }},
			{"snow without flakes or whitening", func(c *Corruptor, dst *imaging.Image) { c.snow(dst, src, -10, 0.1, 2, 0.5, 3, 1, 1) }},
			{"frost weight 0", func(c *Corruptor, dst *imaging.Image) { c.frost(dst, src, 1, 0) }},
			{"fog strength 0", func(c *Corruptor, dst *imaging.Image) { c.fog(dst, src, 0, 2) }},
			{"brightness 0", func(c *Corruptor, dst *imaging.Image) { brightness(dst, src, 0) }},
			{"contrast 1", func(c *Corruptor, dst *imaging.Image) { contrast(dst, src, 1) }},
			{"elastic amplitude 0", func(c *Corruptor, dst *imaging.Image) { c.elastic(dst, src, 0, 2) }},
			{"pixelate factor 1", func(c *Corruptor, dst *imaging.Image) { c.pixelate(dst, src, 1) }},
			{"saturate factor 1", func(c *Corruptor, dst *imaging.Image) { saturate(dst, src, 1, 0) }},
			{"spatter water intensity 0", func(c *Corruptor, dst *imaging.Image) { c.spatter(dst, src, .65, .3, 3, 1, .68, 0, false) }},
		}
		for _, tc := range tests {
			c := NewCorruptor()
			c.rng.Seed(3, 4)
			dst := src.Clone()
			clear(dst.Pix)
			tc.run(c, dst)
			if !bytes.Equal(dst.Pix, src.Pix) {
				t.Errorf("%dx%dx%d %s: not the identity (PSNR %.1f dB)", w, h, ch, tc.name, psnr(src, dst))
			}
		}
	}
}

func TestUnitByteMatchesImaging(t *testing.T) {
	vals := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), -1e30, 1e30, -0.5, -0.002, 0, 0.001, 0.5, 0.99, 1, 1.0001}
	for i := range 10000 {
		vals = append(vals, float32(i)/9999*1.2-0.1)
	}
	for _, v := range vals {
		if got, want := unitByte(v), imaging.UnitToByte(v); got != want {
			t.Errorf("unitByte(%g) = %d, want %d", v, got, want)
		}
	}
}

func TestSizeScale(t *testing.T) {
	for _, tc := range []struct {
		w, h int
		want float64
	}{{224, 224, 1}, {448, 600, 2}, {112, 300, 0.5}, {28, 28, 0.25}, {40, 24, 0.25}, {1, 1, 0.25}} {
		if got := sizeScale(tc.w, tc.h); got != tc.want {
			t.Errorf("sizeScale(%d, %d) = %g, want %g", tc.w, tc.h, got, tc.want)
		}
	}
}

func TestReflect101(t *testing.T) {
	for _, tc := range []struct{ i, n, want int }{
		{0, 5, 0}, {4, 5, 4}, {-1, 5, 1}, {-2, 5, 2}, {5, 5, 3}, {6, 5, 2}, {-9, 5, 1}, {3, 1, 0}, {-1, 2, 1}, {2, 2, 0},
	} {
		if got := reflect101(tc.i, tc.n); got != tc.want {
			t.Errorf("reflect101(%d, %d) = %d, want %d", tc.i, tc.n, got, tc.want)
		}
	}
}

// TestNormalSampler compares the distribution of the table sampler with the standard normal CDF.
// Every 16-bit input is used equally often, so the test is exact in expectation up to the random
// tail cells.
func TestNormalSampler(t *testing.T) {
	const reps = 16
	const n = reps << 16
	edges := []float64{-3, -2, -1, 0, 1, 2, 3}
	counts := make([]int, len(edges))
	var sum, sq float64
	c := NewCorruptor()
	c.rng.Seed(1, 2)
	for k := range n {
		u := uint64(k & 0xffff)
		v := c.normal16(u)
		if k > 16 && k < 0xffff-16 && v < c.normal16(u-1) {
			t.Fatalf("normal16 is not monotone at %d", k)
		}
		sum += float64(v)
		sq += float64(v) * float64(v)
		for i, e := range edges {
			if float64(v) <= e {
				counts[i]++
			}
		}
	}
	for i, e := range edges {
		got := float64(counts[i]) / n
		want := 0.5 * math.Erfc(-e/math.Sqrt2)
		if math.Abs(got-want) > 0.0005 {
			t.Errorf("P(N <= %g) = %.5f, want %.5f", e, got, want)
		}
	}
	mean, std := sum/n, math.Sqrt(sq/n-(sum/n)*(sum/n))
	if math.Abs(mean) > 0.002 || math.Abs(std-1) > 0.003 {
		t.Errorf("mean %.4f std %.4f, want 0 and 1", mean, std)
	}
	// The tails are exact inverses of the CDF (reference values from Python's statistics module).
	for _, tc := range []struct {
		u    uint32
		want float64
	}{{256, -5.294347}, {1<<20 - 1, -3.487104}, {math.MaxUint32 - 255, 5.295061}} {
		if got := normalTail(tc.u); math.Abs(float64(got)-tc.want) > 1e-4 {
			t.Errorf("normalTail(%d) = %g, want %g", tc.u, got, tc.want)
		}
	}
}

// flat returns a constant image.
func flat(w, h, ch int, v uint8) *imaging.Image {
	m := imaging.New(w, h, ch)
	fill(m.Pix, v)
	return m
}

// moments returns the mean and standard deviation of b-a over all values, in [0,1] units.
func moments(a, b *imaging.Image) (mean, std float64) {
	var s, sq float64
	for i := range a.Pix {
		d := (float64(b.Pix[i]) - float64(a.Pix[i])) / 255
		s += d
		sq += d * d
	}
	n := float64(len(a.Pix))
	return s / n, math.Sqrt(sq/n - (s/n)*(s/n))
}

// TestNoiseStatistics checks the noises against their textbook moments on flat images (values
// chosen so that clipping is negligible).
func TestNoiseStatistics(t *testing.T) {
	tests := []struct {
		name     string
		severity int
		level    uint8
		wantStd  float64 // of output minus input, [0,1] units
	}{
		{"gaussian_noise", 1, 128, 0.08},
		{"gaussian_noise", 2, 128, 0.12},
		{"speckle_noise", 1, 100, 100.0 / 255 * 0.15},
		{"speckle_noise", 3, 60, 60.0 / 255 * 0.35},
		// Poisson: Var(K/c) = x/c.
		{"shot_noise", 1, 128, math.Sqrt(128.0 / 255 / 60)},
		{"shot_noise", 3, 64, math.Sqrt(64.0 / 255 / 12)},
	}
	for _, tc := range tests {
		src := flat(200, 200, 3, tc.level)
		dst, err := Apply(src, tc.name, tc.severity, 1)
		if err != nil {
			t.Fatal(err)
		}
		mean, std := moments(src, dst)
		if math.Abs(mean) > 0.004 || math.Abs(std-tc.wantStd)/tc.wantStd > 0.03 {
			t.Errorf("%s/%d on %d: mean %.4f std %.4f, want 0 and %.4f", tc.name, tc.severity, tc.level, mean, std, tc.wantStd)
		}
	}
	// Impulse: a share amount of values become 0 or 255, half each.
	src := flat(200, 200, 3, 128)
	dst, err := Apply(src, "impulse_noise", 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	var black, white, other int
	for _, v := range dst.Pix {
		switch v {
		case 0:
			black++
		case 255:
			white++
		case 128:
		default:
			other++
		}
	}
	n := float64(len(dst.Pix))
	if other != 0 || math.Abs(float64(black)/n-0.085) > 0.003 || math.Abs(float64(white)/n-0.085) > 0.003 {
		t.Errorf("impulse_noise/4: %d black, %d white, %d other of %d; want 8.5%% each", black, white, other, len(dst.Pix))
	}
}

// impulseImage is black with one white pixel at (x, y).
func impulseImage(w, h, x, y int) *imaging.Image {
	m := imaging.New(w, h, 1)
	m.Pix[y*w+x] = 255
	return m
}

func TestGaussianBlurMoments(t *testing.T) {
	// A blurred unit impulse has mass 1 and variance sigma² along each axis, for both the sampled
	// kernel (small sigma) and the extended boxes (large sigma).
	for _, sigma := range []float64{0.7, 1.5, 2, 3, 6} {
		const n = 81
		img := make([]float32, n*n)
		img[40*n+40] = 1
		c := NewCorruptor()
		c.gaussianBlur(img, n, n, 1, sigma)
		var mass, varX, varY float64
		for y := range n {
			for x := range n {
				v := float64(img[y*n+x])
				mass += v
				varX += v * float64((x-40)*(x-40))
				varY += v * float64((y-40)*(y-40))
			}
		}
		tol := 0.02 * sigma * sigma
		if sigma < boxBlurSigmaMin {
			tol = 0.03 * sigma * sigma // truncation at 3 sigma trims the variance slightly
		}
		if math.Abs(mass-1) > 1e-4 || math.Abs(varX-sigma*sigma) > tol || math.Abs(varY-sigma*sigma) > tol {
			t.Errorf("sigma %g: mass %.5f variance %.4f, %.4f; want 1 and %.4f", sigma, mass, varX, varY, sigma*sigma)
		}
	}
}

func TestDefocusKernelIsADisk(t *testing.T) {
	// Radius 3 without alias blur: the disk x²+y² <= 9 has 7 + 2*5 + 2*5 + 2*1 = 29 pixels, each
	// receiving 255/29 = 8.8 -> 9 of the impulse.
	src := impulseImage(21, 21, 10, 10)
	dst := src.Clone()
	NewCorruptor().defocusBlur(dst, src, 3, 0)
	count := 0
	for y := range 21 {
		for x := range 21 {
			v := dst.Pix[y*21+x]
			inside := (x-10)*(x-10)+(y-10)*(y-10) <= 9
			if inside {
				count++
			}
			if (inside && v != 9) || (!inside && v != 0) {
				t.Fatalf("pixel (%d,%d) = %d, inside disk %v", x, y, v, inside)
			}
		}
	}
	if count != 29 {
		t.Fatalf("disk has %d pixels, want 29", count)
	}
}

func TestMotionBlurIsALine(t *testing.T) {
	// Angle 0: output gathers from x, x+1, ..., so an impulse spreads to its left, in its row,
	// with weights falling as exp(-i²/2sigma²).
	const w, h = 41, 9
	img := make([]float32, w*h)
	img[4*w+30] = 1
	out := make([]float32, w*h)
	NewCorruptor().motionBlur(out, img, w, h, 1, 5, 3, 0)
	var mass float64
	for y := range h {
		for x := range w {
			v := out[y*w+x]
			mass += float64(v)
			if v != 0 && (y != 4 || x > 30 || x < 30-10) {
				t.Fatalf("energy at (%d,%d) = %g", x, y, v)
			}
		}
	}
	ratio := float64(out[4*w+28] / out[4*w+30]) // i = 2
	if math.Abs(mass-1) > 1e-5 || math.Abs(ratio-math.Exp(-4.0/18)) > 1e-5 {
		t.Errorf("mass %.6f, weight ratio %.5f; want 1 and %.5f", mass, ratio, math.Exp(-4.0/18))
	}
}

func TestZoomBlurKeepsTheCentre(t *testing.T) {
	// Magnification about the centre maps the centre of an odd-sized image onto itself.
	src := scene(225, 225, 3)
	dst, err := Apply(src, "zoom_blur", 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	o := (112*225 + 112) * 3
	if !bytes.Equal(src.Pix[o:o+3], dst.Pix[o:o+3]) {
		t.Errorf("centre pixel %v became %v", src.Pix[o:o+3], dst.Pix[o:o+3])
	}
	if psnr(src, dst) > 30 {
		t.Errorf("zoom blur barely changed the image (PSNR %.1f)", psnr(src, dst))
	}
}

func TestContrastAndBrightness(t *testing.T) {
	src := scene(64, 48, 3)
	dst, err := Apply(src, "contrast", 1, 0) // factor 0.4 about each channel's mean
	if err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		m0, s0 := channelStats(src, k)
		m1, s1 := channelStats(dst, k)
		if math.Abs(m0-m1) > 0.6 || math.Abs(s1-0.4*s0) > 0.6 {
			t.Errorf("channel %d: mean %.2f -> %.2f, std %.2f -> %.2f; want the mean kept and std x0.4", k, m0, m1, s0, s1)
		}
	}
	gray := scene(30, 20, 1)
	b, err := Apply(gray, "brightness", 2, 0) // +0.2 = +51
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range gray.Pix {
		if want := uint8(min(int(v)+51, 255)); b.Pix[i] != want {
			t.Fatalf("gray brightness: %d -> %d, want %d", v, b.Pix[i], want)
		}
	}
	// RGB: V (the largest channel) rises by 0.1*255, hue and saturation stay.
	px := &imaging.Image{Width: 2, Height: 1, Channels: 3, Pix: []uint8{200, 100, 50, 0, 0, 0}}
	out, err := Apply(px, "brightness", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	// 200 -> 225.5: scale 225.5/200 on every channel; black becomes gray 25.5.
	want := []uint8{226, 113, 56, 26, 26, 26}
	if !bytes.Equal(out.Pix, want) {
		t.Errorf("RGB brightness = %v, want %v", out.Pix, want)
	}
}

func channelStats(m *imaging.Image, k int) (mean, std float64) {
	var s, sq float64
	n := 0
	for i := k; i < len(m.Pix); i += m.Channels {
		v := float64(m.Pix[i])
		s += v
		sq += v * v
		n++
	}
	mean = s / float64(n)
	return mean, math.Sqrt(sq/float64(n) - mean*mean)
}

func TestSaturateByHand(t *testing.T) {
	// (200,100,50): V=200, S=0.75. Severity 1 (S*0.3 -> 0.225) keeps V and moves each channel to
	// V-(V-c)*0.3: (200,170,155). Gray (100,100,100) at severity 4 (S -> 0.1, hue 0): (100,90,90).
	px := &imaging.Image{Width: 2, Height: 1, Channels: 3, Pix: []uint8{200, 100, 50, 100, 100, 100}}
	for _, tc := range []struct {
		sev  int
		want []uint8
	}{{1, []uint8{200, 170, 155, 100, 100, 100}}, {4, nil}} {
		out, err := Apply(px, "saturate", tc.sev, 0)
		if err != nil {
			t.Fatal(err)
		}
		if tc.want == nil {
			if !bytes.Equal(out.Pix[3:], []uint8{100, 90, 90}) {
				t.Errorf("saturate/4 gray pixel = %v, want [100 90 90]", out.Pix[3:])
			}
			continue
		}
		if !bytes.Equal(out.Pix, tc.want) {
			t.Errorf("saturate/%d = %v, want %v", tc.sev, out.Pix, tc.want)
		}
	}
}

func TestPixelateMakesBlocks(t *testing.T) {
	// Severity 5 shrinks 224 to 56 (factor 0.25): exact 4x4 blocks holding the block mean.
	src := scene(224, 224, 3)
	dst, err := Apply(src, "pixelate", 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	for by := 0; by < 224; by += 4 {
		for bx := 0; bx < 224; bx += 4 {
			for k := range 3 {
				var sum float64
				first := dst.Pix[(by*224+bx)*3+k]
				for y := by; y < by+4; y++ {
					for x := bx; x < bx+4; x++ {
						if dst.Pix[(y*224+x)*3+k] != first {
							t.Fatalf("block (%d,%d) is not constant", bx, by)
						}
						sum += float64(src.Pix[(y*224+x)*3+k])
					}
				}
				// Within one level: PIL, and so cvgate, rounds the row pass to 8 bits first.
				if math.Abs(sum/16-float64(first)) > 1 {
					t.Fatalf("block (%d,%d) holds %d, want the mean %.2f", bx, by, first, sum/16)
				}
			}
		}
	}
}

func TestPlasmaFractalRange(t *testing.T) {
	c := NewCorruptor()
	c.rng.Seed(1, 2)
	for _, size := range []int{2, 32, 256} {
		m := make([]float32, size*size)
		c.plasmaFractal(m, size, 1.5)
		lo, hi := slices.Min(m), slices.Max(m)
		if lo != 0 || math.Abs(float64(hi)-1) > 1e-6 {
			t.Errorf("size %d: range [%g, %g], want [0, 1]", size, lo, hi)
		}
	}
}

func TestExtendedBoxVariance(t *testing.T) {
	for _, v := range []float64{0.5, 1, 1.33, 3, 12, 40} {
		r, alpha := extendedBox(v, 1000)
		var mass, second float64
		for k := -r - 1; k <= r+1; k++ {
			w := 1.0
			if k < -r || k > r {
				w = float64(alpha)
			}
			mass += w
			second += w * float64(k*k)
		}
		if got := second / mass; math.Abs(got-v) > 1e-5 {
			t.Errorf("variance %g: kernel r=%d alpha=%g has variance %g", v, r, alpha, got)
		}
	}
}

func TestConcurrentCorruptorsAgree(t *testing.T) {
	src := scene(48, 40, 3)
	want := map[string][]uint8{}
	for _, name := range Names() {
		out, err := Apply(src, name, 3, 11)
		if err != nil {
			t.Fatal(err)
		}
		want[name] = out.Pix
	}
	errs := make(chan string, 4*len(want))
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			c := NewCorruptor()
			dst := &imaging.Image{}
			names := Names()
			for i := range names {
				name := names[(i+g*5)%len(names)]
				if err := c.Apply(dst, src, name, 3, 11); err != nil {
					errs <- err.Error()
					return
				}
				if !bytes.Equal(dst.Pix, want[name]) {
					errs <- name + " differs across goroutines"
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
