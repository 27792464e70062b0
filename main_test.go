package main

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/onnxproto/onnxtest"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
	"github.com/cvgate/cvgate/report"
)

// TestMain lets the test binary run as cvgate itself: the signal test starts it as a separate
// process, with main's real signal handling, and signals it.
func TestMain(m *testing.M) {
	if os.Getenv("CVGATE_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestSignalStopsEndlessModel runs `cvgate check` in a subprocess on a model whose forward pass
// would take hours (a Loop of 10^15 iterations), sends SIGTERM (what a cancelled GitHub job or
// `docker stop` sends) or SIGINT, and expects the process to exit within seconds with "could not
// run", having written a partial report that says it was interrupted and passes nothing.
func TestSignalStopsEndlessModel(t *testing.T) {
	lib := ortlib.Runtime(t).LibPath
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			onnxtest.Write(t, dir, "models/endless.onnx", onnxtest.Loop(1e15))
			for i := range 8 {
				var buf bytes.Buffer
				img := image.NewGray(image.Rect(0, 0, 28, 28))
				img.Pix[i] = 200
				if err := png.Encode(&buf, img); err != nil {
					t.Fatal(err)
				}
				onnxtest.Write(t, dir, fmt.Sprintf("data/%d/%d.png", i%2, i), buf.Bytes())
			}
			cmd := exec.Command(os.Args[0], "check", "--quiet", "--model", "models/endless.onnx", "--data", "data", "--out", "out",
				"--checks", "model.numerics,perf.metrics", "--threads", "1")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "CVGATE_TEST_MAIN=1", "ORT_LIB="+lib)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stderr, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Loading and decoding take a fraction of a second; then the clean pass spins.
			time.Sleep(3 * time.Second)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			signalled := time.Now()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("cvgate was still running 30 s after %s\n%s", sig, stderr.String())
			}
			took := time.Since(signalled)
			if took > 5*time.Second {
				t.Errorf("cvgate took %s to stop after %s", took, sig)
			}
			t.Logf("stopped and wrote the partial report %s after %s", took.Round(time.Millisecond), sig)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("exit %v, want 2 (could not run)\n%s", err, stderr.String())
			}
			name := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[sig]
			if !strings.Contains(stderr.String(), "interrupted (received "+name+")") {
				t.Errorf("stderr does not say it was interrupted:\n%s", stderr.String())
			}
			r, rerr := report.ReadJSON(filepath.Join(dir, "out", "report.json"))
			if rerr != nil {
				t.Fatalf("no partial report: %v\n%s", rerr, stderr.String())
			}
			if r.Gate.Verdict == report.StatusPass || !strings.Contains(strings.Join(r.Run.Notes, " "), "INTERRUPTED") {
				t.Errorf("verdict %s, notes %v: the partial report must say it is partial and not pass", r.Gate.Verdict, r.Run.Notes)
			}
			for _, res := range r.Targets[0].Results {
				if res.Status != report.StatusError || !strings.Contains(res.Summary, "interrupted") {
					t.Errorf("%s: %s %q, want an error saying it was interrupted", res.ID, res.Status, res.Summary)
				}
			}
		})
	}
}
