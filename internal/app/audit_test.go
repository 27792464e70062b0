package app

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/draw"
	"image/png"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/audit"
	"github.com/cvgate/cvgate/internal/github/githubtest"
)

// auditChecks keep the end-to-end runs short: model checks and accuracy on the demo sample.
const auditChecks = "model.load,model.metadata,perf.metrics"

func (h *harness) readAudit(out string) (*auditRecord, []byte) {
	h.t.Helper()
	raw, err := os.ReadFile(filepath.Join(h.dir, out, auditFile))
	if err != nil {
		h.t.Fatal(err)
	}
	var rec auditRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		h.t.Fatalf("decode %s/audit.json: %v", out, err)
	}
	return &rec, raw
}

func (h *harness) checkRun(out, data string) *auditRecord {
	h.t.Helper()
	code, _, stderr := h.run("check", "--quiet", "--model", h.testdata("models/mnist_cnn.onnx"), "--data", data,
		"--labels", h.testdata("labels/mnist.txt"), "--out", out, "--checks", auditChecks)
	if code != ExitPass {
		h.t.Fatalf("check exit %d\n%s", code, stderr)
	}
	rec, _ := h.readAudit(out)
	return rec
}

// TestAuditTrail is the release story end to end: two runs leave audit records, a model card and
// an HTML report; the records chain into a log that verifies; every kind of tampering is caught
// and named by line; the hashes depend on content alone.
func TestAuditTrail(t *testing.T) {
	h := newHarness(t)
	copyTree(t, h.testdata("images/mnist"), filepath.Join(h.dir, "data"))
	r1 := h.checkRun("run1", "data")
	r2 := h.checkRun("run2", "data")

	// The model hash is the file's sha256, computed here independently.
	modelBytes, err := os.ReadFile(h.testdata("models/mnist_cnn.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256Of(modelBytes); r1.Models[0].SHA256 != want || r2.Models[0].SHA256 != want {
		t.Errorf("model sha256 %s / %s, want the file's %s", r1.Models[0].SHA256, r2.Models[0].SHA256, want)
	}
	// The dataset hash is the digest of a listing built here from the files on disk.
	if want := listingDigest(t, filepath.Join(h.dir, "data")); r1.Dataset.SHA256 != want || r2.Dataset.SHA256 != want {
		t.Errorf("dataset sha256 %s / %s, want %s", r1.Dataset.SHA256, r2.Dataset.SHA256, want)
	}
	// The effective config is the whole of it, defaults and flags resolved (--out differs here).
	if r1.Config.SHA256 != sha256Of([]byte(r1.Config.YAML)) || !strings.Contains(r1.Config.YAML, "model.metadata:") || !strings.Contains(r1.Config.YAML, "out: run1") {
		t.Errorf("effective config hash %s does not match its YAML, or the YAML is not the effective config:\n%s", r1.Config.SHA256, r1.Config.YAML)
	}
	if r1.Config.SHA256 == r2.Config.SHA256 {
		t.Errorf("runs with different --out have the same effective config hash")
	}
	if r1.Schema != auditSchema || r1.Verdict.Verdict != "pass" || len(r1.Results) != 3 || r1.Time != "2026-01-02T03:04:05Z" || r1.Tool.ORTVersion == "" {
		t.Errorf("audit record incomplete: schema %q verdict %q, %d results, time %q, ORT %q", r1.Schema, r1.Verdict.Verdict, len(r1.Results), r1.Time, r1.Tool.ORTVersion)
	}
	reportJSON, _ := os.ReadFile(filepath.Join(h.dir, "run1", reportJSONFile))
	if r1.Report.SHA256 != sha256Of(reportJSON) {
		t.Errorf("the record's report sha256 is not report.json's")
	}

	// The same images in another folder: same hash (paths are relative). One changed pixel: a
	// different one.
	copyTree(t, filepath.Join(h.dir, "data"), filepath.Join(h.dir, "elsewhere"))
	if r3 := h.checkRun("run3", "elsewhere"); r3.Dataset.SHA256 != r1.Dataset.SHA256 {
		t.Errorf("moving the data changed its hash: %s, want %s", r3.Dataset.SHA256, r1.Dataset.SHA256)
	}
	changePixel(t, filepath.Join(h.dir, "elsewhere", "3", "0449.png"))
	r4 := h.checkRun("run4", "elsewhere")
	if r4.Dataset.SHA256 == r1.Dataset.SHA256 {
		t.Errorf("changing one image did not change the dataset hash")
	}
	if r4.Dataset.Images != r1.Dataset.Images {
		t.Fatalf("the changed image was not readable any more: %d images, want %d", r4.Dataset.Images, r1.Dataset.Images)
	}

	// The model card cites the record's hash; the HTML report is self-contained.
	_, raw := h.readAudit("run1")
	rec, err := audit.NewRecord(json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	card, err := os.ReadFile(filepath.Join(h.dir, "run1", "MODEL_CARD.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{audit.Hash(rec), r1.Config.SHA256, r1.Models[0].SHA256, r1.Dataset.SHA256, "| Version ", "1.0.0", "CC-BY-SA-3.0", "cvgate:needs-input model_card.intended_use"} {
		if !strings.Contains(string(card), want) {
			t.Errorf("MODEL_CARD.md lacks %q", want)
		}
	}
	page, err := os.ReadFile(filepath.Join(h.dir, "run1", "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?i)\b(src|href)\s*=\s*["']?(https?:|//)`).Find(page); m != nil {
		t.Errorf("report.html references the network: %s", m)
	}
	if !strings.Contains(string(page), `src="data:image/png;base64,`) || !strings.Contains(string(page), "<rect") {
		t.Errorf("report.html lacks the embedded contact sheet or the heat map")
	}

	// The log: two runs appended, verified, and the record found.
	log := "audit.jsonl"
	for i, out := range []string{"run1", "run2"} {
		code, stdout, stderr := h.run("audit", "append", "--log", log, out+"/audit.json")
		if code != ExitPass || !strings.Contains(stdout, "as entry "+string(rune('1'+i))) {
			t.Fatalf("append %s: exit %d\n%s%s", out, code, stdout, stderr)
		}
	}
	if code, stdout, stderr := h.run("audit", "verify", "--log", log, "--record", "run2/audit.json"); code != ExitPass || !strings.Contains(stdout, "2 entries, hash chain intact") || !strings.Contains(stdout, "is entry 2") {
		t.Fatalf("verify: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := h.run("audit", "verify", "--log", log, "--record", "run4/audit.json"); code != ExitGateFailed || !strings.Contains(stderr, "not in audit log") {
		t.Errorf("verify with a record not in the log: exit %d\n%s", code, stderr)
	}

	intact, err := os.ReadFile(filepath.Join(h.dir, log))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(intact), "\n")
	lines = lines[:len(lines)-1] // after the final newline
	if len(lines) != 2 {
		t.Fatalf("log has %d lines, want 2", len(lines))
	}
	tests := []struct {
		name     string
		log      string
		wantLine string
	}{
		{"verdict edited in line 1", strings.Replace(lines[0], `"verdict":"pass"`, `"verdict":"fail"`, 1) + lines[1], "line 1: hash mismatch"},
		{"line 1 removed", lines[1], "line 1: seq gap"},
		{"lines reordered", lines[1] + lines[0], "line 1: seq gap"},
		{"line 2 duplicated", lines[0] + lines[1] + lines[1], "line 3: seq gap"},
		{"last line cut short", lines[0] + lines[1][:len(lines[1])-20], "line 2: "},
		{"line 1 edited and re-hashed", rehashed(t, strings.Replace(lines[0], `"verdict":"pass"`, `"verdict":"fail"`, 1)) + lines[1], "line 2: broken chain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(tt.name, "cut") && tt.log == string(intact) {
				t.Fatal("the tampering changed nothing")
			}
			name := strings.ReplaceAll(tt.name, " ", "_") + ".jsonl"
			if err := os.WriteFile(filepath.Join(h.dir, name), []byte(tt.log), 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := h.run("audit", "verify", "--log", name)
			if code != ExitGateFailed || !strings.Contains(stderr, tt.wantLine) {
				t.Errorf("verify: exit %d, want 1 naming %q\n%s", code, tt.wantLine, stderr)
			}
			// A broken log is never extended.
			code, _, stderr = h.run("audit", "append", "--log", name, "run1/audit.json")
			after, _ := os.ReadFile(filepath.Join(h.dir, name))
			if code != ExitGateFailed || string(after) != tt.log || !strings.Contains(stderr, "was not appended") {
				t.Errorf("append to a broken log: exit %d, log changed %v\n%s", code, string(after) != tt.log, stderr)
			}
		})
	}
}

func TestAuditCommandErrors(t *testing.T) {
	h := newHarness(t)
	if err := os.WriteFile(filepath.Join(h.dir, "report.json"), []byte(`{"schema_version": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", []string{"audit"}, ExitCannotRun, "Usage:"},
		{"unknown subcommand", []string{"audit", "sign"}, ExitCannotRun, `unknown subcommand "sign"`},
		{"append without log", []string{"audit", "append", "x.json"}, ExitCannotRun, "--log"},
		{"append a report, not a record", []string{"audit", "append", "--log", "l.jsonl", "report.json"}, ExitCannotRun, `want "cvgate.audit/v1"`},
		{"append a missing file", []string{"audit", "append", "--log", "l.jsonl", "nope.json"}, ExitCannotRun, "nope.json"},
		{"verify a missing log", []string{"audit", "verify", "--log", "missing.jsonl"}, ExitCannotRun, "missing.jsonl"},
		{"help", []string{"audit", "--help"}, ExitPass, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := h.run(tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s", code, tt.code, tt.want, stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(h.dir, "l.jsonl")); err == nil {
		t.Error("a refused append created the log")
	}
}

// TestCIIdentifiers: inside GitHub Actions the run records the runner's identifiers; outside, the
// commit checked out in the working directory.
func TestCIIdentifiers(t *testing.T) {
	h := newHarness(t)
	gh := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567", "GITHUB_REF": "refs/pull/42/merge",
		"GITHUB_REPOSITORY": "acme/models", "GITHUB_RUN_ID": "987", "GITHUB_WORKFLOW": "release", "GITHUB_EVENT_NAME": "pull_request",
		"GITHUB_SERVER_URL": "https://github.example", "GITHUB_WORKFLOW_REF": "acme/models/.github/workflows/release.yml@refs/heads/main",
	}
	for k, v := range gh {
		h.env[k] = v
	}
	rec := h.checkRun("gh", h.testdata("images/mnist"))
	want := map[string]string{"sha": gh["GITHUB_SHA"], "pr": "42", "ref": "refs/pull/42/merge", "repository": "acme/models", "run_id": "987",
		"workflow": "release", "event": "pull_request", "run_url": "https://github.example/acme/models/actions/runs/987",
		"workflow_ref": gh["GITHUB_WORKFLOW_REF"]}
	for k, v := range want {
		if rec.CI[k] != v {
			t.Errorf("ci[%s] = %q, want %q", k, rec.CI[k], v)
		}
	}
	if r := h.report("gh"); r.Run.CI["sha"] != gh["GITHUB_SHA"] || r.Run.CI["pr"] != "42" {
		t.Errorf("report.json run.ci = %v", r.Run.CI)
	}

	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	for k := range gh {
		delete(h.env, k)
	}
	gitRun := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(git, append([]string{"-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = h.dir
		cmd.Env = []string{"HOME=" + h.dir, "GIT_CONFIG_NOSYSTEM=1"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	gitRun("init", "-q")
	gitRun("commit", "-q", "--allow-empty", "-m", "first")
	head := gitRun("rev-parse", "HEAD")
	if rec := h.checkRun("local", h.testdata("images/mnist")); rec.CI["sha"] != head || len(rec.CI) != 1 {
		t.Errorf("outside CI, ci = %v, want only sha %s", rec.CI, head)
	}
}

func sha256Of(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// listingDigest lists a class-per-folder image set from disk the way the audit defines it:
// relative slash paths, sizes, file hashes, and the folder name as the label.
func listingDigest(t *testing.T, root string) string {
	t.Helper()
	var entries []audit.FileEntry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		entries = append(entries, audit.FileEntry{Path: rel, Size: int64(len(b)), SHA256: sha256Of(b), Label: strings.SplitN(rel, "/", 2)[0]})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := audit.DatasetDigest(entries)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// changePixel rewrites a PNG with its first pixel changed, so that it still decodes.
func changePixel(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	g := image.NewGray(img.Bounds())
	draw.Draw(g, g.Bounds(), img, img.Bounds().Min, draw.Src)
	g.Pix[0] ^= 0x80
	writePNG(t, path, g)
}

// rehashed recomputes an edited entry's own hash, as a forger would: the next entry's link
// still gives it away.
func rehashed(t *testing.T, line string) string {
	t.Helper()
	var e struct {
		Seq    int64           `json:"seq"`
		Prev   string          `json:"prev"`
		Record json.RawMessage `json:"record"`
	}
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	body, err := audit.Canonical(map[string]any{"seq": e.Seq, "prev": e.Prev, "record": e.Record})
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(map[string]any{"seq": e.Seq, "prev": e.Prev, "record": e.Record, "hash": sha256Of(body)})
	if err != nil {
		t.Fatal(err)
	}
	// The forged line must verify on its own, or the test would pass for the wrong reason.
	alone := filepath.Join(t.TempDir(), "forged.jsonl")
	if err := os.WriteFile(alone, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(alone); err != nil {
		t.Fatalf("the forged entry does not verify by itself: %v", err)
	}
	return string(out) + "\n"
}

// Dropping the last entries of the log leaves a shorter chain that verifies on its own; the head
// printed by append (and, on Actions, written to the job summary and the audit-head output)
// catches it with verify --head.
func TestAuditVerifyHead(t *testing.T) {
	h := newHarness(t)
	summary := filepath.Join(h.dir, "summary.md")
	output := filepath.Join(h.dir, "output")
	h.env["GITHUB_ACTIONS"], h.env["GITHUB_STEP_SUMMARY"], h.env["GITHUB_OUTPUT"] = "true", summary, output
	var heads []string
	headRE := regexp.MustCompile(`: head ([0-9a-f]{64}) \(entry (\d+)\)`)
	for i := 1; i <= 3; i++ {
		rec := filepath.Join(h.dir, "rec.json")
		if err := os.WriteFile(rec, []byte(`{"schema": "cvgate.audit/v1", "run": `+strings.Repeat("1", i)+`}`), 0o644); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := h.run("audit", "append", "--log", "audit.jsonl", "rec.json")
		m := headRE.FindStringSubmatch(stdout)
		if code != ExitPass || m == nil || m[2] != string(rune('0'+i)) {
			t.Fatalf("append %d: exit %d\n%s%s", i, code, stdout, stderr)
		}
		heads = append(heads, m[1])
	}
	sum, _ := os.ReadFile(summary)
	if !strings.Contains(string(sum), heads[2]) || !strings.Contains(string(sum), "--head "+heads[2]) {
		t.Errorf("the job summary does not anchor the head:\n%s", sum)
	}
	if out := githubtest.ReadOutputs(t, output); out["audit-head"] != heads[2] || out["audit-entries"] != "3" {
		t.Errorf("outputs %v", out)
	}

	// Drop the last entry: the chain alone still verifies; the anchor does not.
	logPath := filepath.Join(h.dir, "audit.jsonl")
	data, _ := os.ReadFile(logPath)
	lines := strings.SplitAfter(string(data), "\n")
	if err := os.WriteFile(logPath, []byte(lines[0]+lines[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stdout, _ := h.run("audit", "verify", "--log", "audit.jsonl"); code != ExitPass || !strings.Contains(stdout, "2 entries") || !strings.Contains(stdout, "no --head given") {
		t.Errorf("verify without an anchor: exit %d\n%s", code, stdout)
	}
	code, _, stderr := h.run("audit", "verify", "--log", "audit.jsonl", "--head", heads[2])
	if code != ExitGateFailed || !strings.Contains(stderr, "dropped from its end") {
		t.Errorf("verify --head after truncation: exit %d, want 1\n%s", code, stderr)
	}
	// An older anchor still holds: entries after it are appends, not tampering.
	code, stdout, stderr := h.run("audit", "verify", "--log", "audit.jsonl", "--head", heads[0])
	if code != ExitPass || !strings.Contains(stdout, "the anchored head is entry 1; 1 entries were appended after it") {
		t.Errorf("verify --head with an older anchor: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := h.run("audit", "verify", "--log", "audit.jsonl", "--head", "xyz"); code != ExitCannotRun || !strings.Contains(stderr, "hex") {
		t.Errorf("malformed --head: exit %d\n%s", code, stderr)
	}
}
