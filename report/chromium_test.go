package report_test

import (
	"bufio"
	"context"
	"image"
	"image/png"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvgate/cvgate/report"
)

// TestHTMLInChromium renders report.html in headless Chromium and checks the screenshot: the
// page is drawn (not blank), the verdict banner shows in its colour, and the browser asks the
// network for nothing. Every request Chromium makes goes to a recording proxy on loopback that
// forwards nothing, so the test never leaves the machine; a canary page with an external image
// proves the proxy sees page requests (skipped under -short).
//
// Chromium is Debian's `chromium` package (.ci/run installs it). Without it the test skips,
// except under CVGATE_SLOW=1 (CI), where a missing browser is a failure. CVGATE_SCREENSHOT_DIR
// keeps a copy of the screenshot for a person to look at.
func TestHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, render(t, report.HTML{AssetDir: assetDir}, richFixture(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t)
	shot := filepath.Join(dir, "report.png")
	screenshot(t, bin, proxy.addr(), "file://"+page, shot)
	if requests := proxy.pageRequests(); len(requests) > 0 {
		t.Errorf("report.html made network requests: %q", requests)
	}

	img := decodePNG(t, shot)
	if st, _ := os.Stat(shot); st.Size() < 20<<10 {
		t.Errorf("screenshot is only %d bytes", st.Size())
	}
	if sd := luminanceStdDev(img); sd < 15 {
		t.Errorf("screenshot looks blank: luminance standard deviation %.1f", sd)
	}
	// The fixture fails, so the top of the page is the fail colour (#cf222e).
	if n := countNear(img, image.Rect(0, 0, img.Bounds().Dx(), 40), [3]int{0xcf, 0x22, 0x2e}, 12); n < 5000 {
		t.Errorf("only %d pixels of the fail banner's colour at the top of the page", n)
	}
	if keep := os.Getenv("CVGATE_SCREENSHOT_DIR"); keep != "" {
		data, _ := os.ReadFile(shot)
		if err := os.WriteFile(filepath.Join(keep, "report.png"), data, 0o644); err != nil {
			t.Error(err)
		}
	}

	// The canary: without our Content-Security-Policy, an external image must reach the proxy.
	if testing.Short() {
		return
	}
	canary := filepath.Join(dir, "canary.html")
	if err := os.WriteFile(canary, []byte(`<!DOCTYPE html><html><body><p>canary</p><img src="http://cvgate-canary.invalid/x.png"></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	screenshot(t, bin, proxy.addr(), "file://"+canary, filepath.Join(dir, "canary.png"))
	if got := strings.Join(proxy.pageRequests(), "\n"); !strings.Contains(got, "cvgate-canary.invalid") {
		t.Errorf("the proxy did not see the canary's request (saw %q): the no-request check proves nothing", got)
	}
}

func chromium(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("CVGATE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	const hint = "headless Chromium not found: install it (Debian: apt-get install chromium) or set CVGATE_CHROMIUM"
	if os.Getenv("CVGATE_SLOW") == "1" {
		t.Fatal(hint)
	}
	t.Skip(hint)
	return ""
}

func screenshot(t *testing.T, bin, proxy, url, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
		"--proxy-server=http://"+proxy, "--proxy-bypass-list=<-loopback>",
		"--user-data-dir="+filepath.Join(home, "profile"), "--screenshot="+out, "--window-size=1280,2000", "--hide-scrollbars", url)
	// A private HOME keeps Chromium's caches and crash dumps out of the user's.
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	cmd.WaitDelay = 5 * time.Second
	outBytes, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, tail(string(outBytes), 2000))
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatalf("chromium wrote no screenshot: %v\n%s", err, tail(string(outBytes), 2000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// recordingProxy accepts HTTP proxy connections on loopback, records each request line and
// answers 403; it forwards nothing.
type recordingProxy struct {
	ln       net.Listener
	mu       sync.Mutex
	requests []string
	wg       sync.WaitGroup
}

func startProxy(t *testing.T) *recordingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				line, _ := bufio.NewReader(conn).ReadString('\n')
				p.mu.Lock()
				p.requests = append(p.requests, strings.TrimSpace(line))
				p.mu.Unlock()
				conn.Write([]byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *recordingProxy) addr() string { return p.ln.Addr().String() }

// browserHosts are where Chromium itself phones (time, updates, accounts) despite
// --disable-background-networking. They are not the page's requests; the proxy drops them too.
var browserHosts = []string{".google.com", ".googleapis.com", ".gstatic.com", ".gvt1.com", ".googleusercontent.com"}

// pageRequests returns and clears the recorded requests that did not come from the browser's
// own services.
func (p *recordingProxy) pageRequests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.requests {
		host := requestHost(r)
		own := false
		for _, suffix := range browserHosts {
			own = own || strings.HasSuffix(host, suffix)
		}
		if !own && r != "" {
			out = append(out, r)
		}
	}
	p.requests = nil
	return out
}

// requestHost extracts the host of "GET http://host/path HTTP/1.1" or "CONNECT host:443 HTTP/1.1".
func requestHost(line string) string {
	f := strings.Fields(line)
	if len(f) < 2 {
		return ""
	}
	target := strings.TrimPrefix(strings.TrimPrefix(f[1], "http://"), "https://")
	if i := strings.IndexAny(target, "/"); i >= 0 {
		target = target[:i]
	}
	if h, _, err := net.SplitHostPort(target); err == nil {
		return h
	}
	return target
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode screenshot: %v", err)
	}
	return img
}

func luminanceStdDev(img image.Image) float64 {
	b := img.Bounds()
	var sum, sq, n float64
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			sum += l
			sq += l * l
			n++
		}
	}
	mean := sum / n
	return math.Sqrt(math.Max(sq/n-mean*mean, 0))
}

func countNear(img image.Image, rect image.Rectangle, want [3]int, tol int) int {
	n := 0
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			got := [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
			ok := true
			for i := range got {
				if d := got[i] - want[i]; d > tol || d < -tol {
					ok = false
				}
			}
			if ok {
				n++
			}
		}
	}
	return n
}
