package perturb

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestAbnormalNames(t *testing.T) {
	rgb := AbnormalNames(3)
	want := []string{"blank", "white", "gray", "red", "green", "blue", "uniform_noise", "gaussian_noise", "inverted", "saturated"}
	if !slices.Equal(rgb, want) {
		t.Errorf("AbnormalNames(3) = %v, want %v", rgb, want)
	}
	gray := AbnormalNames(1)
	if slices.Contains(gray, "red") || len(gray) != len(want)-3 {
		t.Errorf("AbnormalNames(1) = %v, want no pure colours", gray)
	}
	for _, n := range rgb {
		if IsDerived(n) != (n == "inverted" || n == "saturated") {
			t.Errorf("IsDerived(%q) = %v", n, IsDerived(n))
		}
	}
}

func TestSynthesizeConstants(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ch    int
		pixel []uint8
	}{
		{"blank", 3, []uint8{0, 0, 0}}, {"white", 1, []uint8{255}}, {"gray", 3, []uint8{128, 128, 128}},
		{"red", 3, []uint8{255, 0, 0}}, {"green", 3, []uint8{0, 255, 0}}, {"blue", 3, []uint8{0, 0, 255}},
	} {
		m, err := Synthesize(tc.name, 5, 3, tc.ch, 0)
		if err != nil {
			t.Fatal(err)
		}
		if m.Width != 5 || m.Height != 3 || m.Channels != tc.ch {
			t.Fatalf("%s: shape %dx%dx%d", tc.name, m.Width, m.Height, m.Channels)
		}
		if !bytes.Equal(m.Pix, bytes.Repeat(tc.pixel, 15)) {
			t.Errorf("%s = %v", tc.name, m.Pix)
		}
	}
}

func TestSynthesizeNoise(t *testing.T) {
	for _, tc := range []struct {
		name             string
		mean, stdLo, std float64
	}{
		// Uniform on 0..255: mean 127.5, std 73.9.
		{"uniform_noise", 127.5, 72, 76},
		// N(0.5, 0.25) clipped to [0,1] (i.e. at +-2 sigma): std shrinks to about 0.96*63.75 = 61.
		{"gaussian_noise", 127.5, 59, 63.5},
	} {
		a, err := Synthesize(tc.name, 100, 100, 3, 1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Synthesize(tc.name, 100, 100, 3, 1)
		c, _ := Synthesize(tc.name, 100, 100, 3, 2)
		if !bytes.Equal(a.Pix, b.Pix) || bytes.Equal(a.Pix, c.Pix) {
			t.Errorf("%s: same seed must repeat and another seed must differ", tc.name)
		}
		var s, sq float64
		for _, v := range a.Pix {
			s += float64(v)
			sq += float64(v) * float64(v)
		}
		n := float64(len(a.Pix))
		mean := s / n
		std := math.Sqrt(sq/n - mean*mean)
		if math.Abs(mean-tc.mean) > 1.5 || std < tc.stdLo || std > tc.std {
			t.Errorf("%s: mean %.1f std %.1f, want %.1f and [%g, %g]", tc.name, mean, std, tc.mean, tc.stdLo, tc.std)
		}
	}
}

func TestDerive(t *testing.T) {
	src := scene(30, 20, 3)
	inv, err := Derive("inverted", src)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range src.Pix {
		if inv.Pix[i] != 255-v {
			t.Fatalf("inverted value %d -> %d", v, inv.Pix[i])
		}
	}
	sat, err := Derive("saturated", src)
	if err != nil {
		t.Fatal(err)
	}
	extreme := 0
	for _, v := range sat.Pix {
		if v == 0 || v == 255 {
			extreme++
		}
	}
	if float64(extreme)/float64(len(sat.Pix)) < 0.6 {
		t.Errorf("saturated: only %d of %d values clipped", extreme, len(sat.Pix))
	}
	if psnr(src, sat) > 12 {
		t.Errorf("saturated is too close to the source (PSNR %.1f)", psnr(src, sat))
	}
}

func TestAbnormalErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"unknown synthetic", func() error { _, err := Synthesize("purple", 2, 2, 3, 0); return err }, "unknown kind"},
		{"derived via Synthesize", func() error { _, err := Synthesize("inverted", 2, 2, 3, 0); return err }, "use Derive"},
		{"colour on gray", func() error { _, err := Synthesize("red", 2, 2, 1, 0); return err }, "needs 3 channels"},
		{"bad shape", func() error { _, err := Synthesize("blank", 0, 2, 3, 0); return err }, "invalid shape"},
		{"unknown derived", func() error { _, err := Derive("blank", scene(2, 2, 1)); return err }, "unknown kind"},
		{"nil source", func() error { _, err := Derive("inverted", nil); return err }, "source: nil image"},
	} {
		if err := tc.err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
