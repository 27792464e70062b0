package checks

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/analysis"
	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/dataset"
	"github.com/cvgate/cvgate/internal/failures"
	"github.com/cvgate/cvgate/internal/imaging"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
	"github.com/cvgate/cvgate/report"
)

// fixture is a path under testdata/images.
func fixture(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join(ortlib.RepoRoot(t), "testdata", "images", rel)
}

// loadAnalysed decodes a folder or manifest with its facts, as the app does: facts are computed
// in the decoding pass (by listing index) and then mapped onto the readable images. Labels are
// mapped to classes (folder names, 10 outputs) unless hashOnly, which keeps no pixels.
func loadAnalysed(t *testing.T, path string, hashOnly bool) (*dataset.Dataset, *analysis.Facts) {
	t.Helper()
	l, err := dataset.List(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := dataset.Options{MaxUnreadable: 0.05, DropPixels: hashOnly}
	if !hashOnly {
		names := l.FolderClasses
		if names == nil {
			for _, e := range l.Entries {
				if !slices.Contains(names, e.LabelName) {
					names = append(names, e.LabelName)
				}
			}
		}
		if opts.Classes, err = dataset.FolderClasses(names, 10); err != nil {
			t.Fatal(err)
		}
	}
	facts := analysis.New(len(l.Entries), analysis.Options{Properties: !hashOnly})
	opts.Decoded = facts.Hook()
	ds, err := dataset.Load(context.Background(), l, opts)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := facts.Compact(l, ds)
	if err != nil {
		t.Fatal(err)
	}
	return ds, kept
}

// analysedEnv is an Env over a data path with facts; candidate may be "" for data-only checks.
func analysedEnv(t *testing.T, candidate, path string, cfg *config.Config) *Env {
	t.Helper()
	if cfg == nil {
		cfg = defaultConfig()
	}
	ds, facts := loadAnalysed(t, path, false)
	env := &Env{Config: cfg, Data: ds, Facts: facts, Out: t.TempDir()}
	env.Export = &failures.Exporter{Root: env.Out, MaxPerCheck: 40, Columns: 8}
	if candidate != "" {
		env.Candidate = testSubject(t, ortlib.Runtime(t), &onnx.Stats{}, "candidate", candidate, cfg)
	}
	return env
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, data)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func encode(t *testing.T, img *imaging.Image, asJPEG bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	if asJPEG {
		err = jpeg.Encode(&buf, img.Std(), &jpeg.Options{Quality: 90})
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img.Std())
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decodeFile(t *testing.T, path string) *imaging.Image {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := dataset.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func run(t *testing.T, c Check, env *Env) *report.Result {
	t.Helper()
	res, err := c.Run(context.Background(), env)
	if err != nil {
		t.Fatalf("%s: %v", c.ID(), err)
	}
	return res
}

func section(t *testing.T, res *report.Result, prefix string) *report.Section {
	t.Helper()
	for i := range res.Details {
		if strings.HasPrefix(res.Details[i].Title, prefix) {
			return &res.Details[i]
		}
	}
	t.Fatalf("no section %q in %s", prefix, res.ID)
	return nil
}

func TestDataIntegrityCleanSample(t *testing.T) {
	env := analysedEnv(t, "", fixture(t, "mnist"), nil)
	res := run(t, DataIntegrity{}, env)
	if res.Status != report.StatusPass {
		t.Errorf("status %s: %s", res.Status, res.Summary)
	}
	for k, want := range map[string]float64{"images": 500, "duplicates": 0, "exact_duplicates": 0, "classes_missing": 0, "min_class_ratio": 1, "unreadable": 0} {
		if got := res.Metrics[k]; got != want {
			t.Errorf("%s = %g, want %g", k, got, want)
		}
	}
	if rows := section(t, res, "Image properties").Table.Rows; len(rows) != len(env.Facts.Names) {
		t.Errorf("property summary has %d rows, want one per property (%d)", len(rows), len(env.Facts.Names))
	}
}

// A copy of part of the MNIST sample with every kind of problem planted.
func TestDataIntegrityFindsPlantedProblems(t *testing.T) {
	src := fixture(t, "mnist")
	dir := t.TempDir()
	for d := range 9 { // no digit 9: the model's class "9" has no image
		digit := string(rune('0' + d))
		entries, err := os.ReadDir(filepath.Join(src, digit))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries[:15] {
			copyFile(t, filepath.Join(src, digit, e.Name()), filepath.Join(dir, digit, e.Name()))
		}
	}
	one := firstFile(t, filepath.Join(dir, "1"))
	zero := firstFile(t, filepath.Join(dir, "0"))
	two := firstFile(t, filepath.Join(dir, "2"))
	copyFile(t, zero, filepath.Join(dir, "0", "copy.png"))    // exact duplicate, same label
	copyFile(t, one, filepath.Join(dir, "7", "conflict.png")) // exact duplicate, another label
	near := brighten(decodeFile(t, two), 0.1)                 // re-encoded, brightened
	writeFile(t, filepath.Join(dir, "2", "near.jpg"), encode(t, near, true))
	white := imaging.New(28, 28, 1)
	for i := range white.Pix {
		white.Pix[i] = 255
	}
	writeFile(t, filepath.Join(dir, "3", "white.png"), encode(t, white, false)) // far-out brightness
	writeFile(t, filepath.Join(dir, "4", "broken.png"), []byte("\x89PNG\r\n\x1a\nnot really"))

	env := analysedEnv(t, "", dir, nil)
	res := run(t, DataIntegrity{}, env)
	if res.Status != report.StatusWarn {
		t.Errorf("status %s, want warn: %s", res.Status, res.Summary)
	}
	for k, want := range map[string]float64{"unreadable": 1, "exact_duplicate_groups": 2, "exact_duplicates": 2, "near_duplicate_groups": 1,
		"duplicates": 3, "label_conflict_groups": 1, "classes_missing": 1} {
		if got := res.Metrics[k]; got != want {
			t.Errorf("%s = %g, want %g", k, got, want)
		}
	}
	for _, want := range []string{"1 unreadable", "conflicting labels", "have no image (9)"} {
		if !strings.Contains(res.Summary, want) {
			t.Errorf("summary lacks %q: %s", want, res.Summary)
		}
	}
	dups := section(t, res, "Duplicate groups").Table.Rows
	if len(dups) != 3 || !strings.Contains(dups[0][3], "conflict") || !strings.Contains(dups[0][4], "7/conflict.png") {
		t.Errorf("duplicate table should list the conflict first:\n%v", dups)
	}
	if !slices.ContainsFunc(dups, func(r []string) bool { return r[2] == "near" && strings.Contains(r[4], "2/near.jpg") }) {
		t.Errorf("the re-encoded brightened copy is not a near duplicate:\n%v", dups)
	}
	outliers := section(t, res, "Far-out images").Table.Rows
	if !strings.Contains(outliers[0][0], "3/white.png") {
		t.Errorf("the white image should be the most extreme:\n%v", outliers)
	}
	if res.Failures == nil || res.Failures.Count == 0 {
		t.Errorf("no failure cases exported")
	}
}

func firstFile(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("read %s: %v", dir, err)
	}
	return filepath.Join(dir, entries[0].Name())
}

// leakageEnv is the MNIST sample with a training set loaded as the app loads it (hashes only).
func leakageEnv(t *testing.T, train string) *Env {
	t.Helper()
	env := analysedEnv(t, "", fixture(t, "mnist"), nil)
	env.Train, env.TrainFacts = loadAnalysed(t, train, true)
	return env
}

func TestDataLeakageCleanSplit(t *testing.T) {
	env := leakageEnv(t, fixture(t, "mnist_train_sample"))
	for _, it := range env.Train.Items {
		if it.Image != nil {
			t.Fatalf("the training set keeps pixels (%s)", it.Path)
		}
	}
	res := run(t, DataLeakage{}, env)
	if res.Status != report.StatusPass || res.Metrics["leaked"] != 0 {
		t.Errorf("MNIST test and train samples share no image, got %s: %s", res.Status, res.Summary)
	}
	if res.Metrics["train_images"] != 200 {
		t.Errorf("train images %g", res.Metrics["train_images"])
	}
}

// Five exact and five re-encoded, brightened copies of evaluation images planted among the
// training images: all ten are found, nothing else.
func TestDataLeakagePlanted(t *testing.T) {
	train := t.TempDir()
	src := fixture(t, "mnist_train_sample")
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		copyFile(t, p, filepath.Join(train, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	eval := fixture(t, "mnist")
	var planted []string
	for k, digit := range []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"} {
		p := firstFile(t, filepath.Join(eval, digit))
		rel, _ := filepath.Rel(eval, p)
		planted = append(planted, filepath.ToSlash(rel))
		name := filepath.Join(train, digit, "planted_"+filepath.Base(p))
		if k < 5 {
			// Exact: the same pixels, saved again with other PNG settings.
			writeFile(t, name, encode(t, decodeFile(t, p), false))
		} else {
			writeFile(t, strings.TrimSuffix(name, ".png")+".jpg", encode(t, brighten(decodeFile(t, p), 0.1), true))
		}
	}
	env := leakageEnv(t, train)
	res := run(t, DataLeakage{}, env)
	if res.Status != report.StatusFail {
		t.Errorf("10 of 500 (2%%) leaked is over max_share 1%%: status %s", res.Status)
	}
	for k, want := range map[string]float64{"leaked": 10, "exact": 5, "near": 5, "leaked_share": 0.02, "train_images": 210} {
		if got := res.Metrics[k]; got != want {
			t.Errorf("%s = %g, want %g", k, got, want)
		}
	}
	var found []string
	for _, row := range section(t, res, "Evaluation images found").Table.Rows {
		found = append(found, strings.Trim(row[0], "`"))
		if !strings.Contains(row[1], "planted_") {
			t.Errorf("matched the wrong training image: %v", row)
		}
	}
	slices.Sort(found)
	slices.Sort(planted)
	if !slices.Equal(found, planted) {
		t.Errorf("leaks %v, want %v", found, planted)
	}
}

func TestDataLeakageSkipsWithoutTrain(t *testing.T) {
	env := analysedEnv(t, "", fixture(t, "mnist"), nil)
	_, err := DataLeakage{}.Run(context.Background(), env)
	var skip *SkipError
	if !errors.As(err, &skip) || !strings.Contains(skip.Reason, "thresholds.data.leakage.train") {
		t.Errorf("error %v, want a skip naming the setting", err)
	}
}
