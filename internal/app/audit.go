package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/cvgate/cvgate/internal/audit"
	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/github/wfcmd"
	"github.com/cvgate/cvgate/internal/onnx"
	"github.com/cvgate/cvgate/report"
)

// auditSchema names the layout of audit.json. `cvgate audit append` accepts only records that
// carry it, so that a report.json or other JSON is not chained into a log by mistake.
const auditSchema = "cvgate.audit/v1"

// Output file names that the model card and the audit record refer to.
const (
	auditFile      = "audit.json"
	reportJSONFile = "report.json"
)

// auditRecord is out/audit.json: what was evaluated (by content hash), how (tool, runtime,
// effective config), what came out (every result, the verdict) and where (git, CI) and when.
// The input hashes depend only on content (the dataset listing uses paths relative to the data
// folder), so the same inputs give the same hashes on any machine; the run's counters and
// timings stay in report.json, whose hash the record carries.
type auditRecord struct {
	Schema  string            `json:"schema"`
	Kind    string            `json:"kind"`
	Time    string            `json:"time"` // the run's start, RFC 3339 UTC
	Tool    auditTool         `json:"tool"`
	CI      map[string]string `json:"ci"` // GitHub identifiers, or the git commit outside CI
	Models  []auditModel      `json:"models"`
	Dataset *auditDataset     `json:"dataset"`
	Config  auditConfig       `json:"config"`
	Report  auditFileRef      `json:"report"`
	Results []auditResult     `json:"results"`
	Verdict report.Gate       `json:"verdict"`
}

type auditTool struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Commit      string `json:"commit"`
	GoVersion   string `json:"go_version"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	Module      string `json:"module_version"` // from the build info ("(devel)" for local builds)
	VCSRevision string `json:"vcs_revision"`
	VCSTime     string `json:"vcs_time"`
	VCSModified string `json:"vcs_modified"`
	ORTVersion  string `json:"ort_version"` // the ONNX Runtime library loaded
	ORTPinned   string `json:"ort_pinned"`  // the version this build pins
	ORTBinding  string `json:"onnxruntime_go"`
}

type auditModel struct {
	Target    string            `json:"target"`
	Path      string            `json:"path"`
	SHA256    string            `json:"sha256"`
	SizeBytes int64             `json:"size_bytes"`
	Verdict   report.Status     `json:"verdict"`
	Metadata  map[string]string `json:"metadata"`
	Baseline  *auditBaseline    `json:"baseline,omitempty"`
}

type auditBaseline struct {
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
}

type auditDataset struct {
	Path        string   `json:"path"`
	SHA256      string   `json:"sha256"` // of the canonical listing: paths, sizes, hashes, labels
	Images      int      `json:"images"`
	Unreadable  int      `json:"unreadable"`
	Classes     []string `json:"classes"`
	LabelSource string   `json:"label_source"`
}

type auditConfig struct {
	File       string `json:"file"`        // the config file read ("" when none)
	FileSHA256 string `json:"file_sha256"` // of its bytes
	SHA256     string `json:"sha256"`      // of YAML below
	YAML       string `json:"yaml"`        // the effective config, defaults resolved (`cvgate config`)
}

type auditFileRef struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

type auditResult struct {
	Target          string             `json:"target"`
	ID              string             `json:"id"`
	Status          report.Status      `json:"status"`
	Summary         string             `json:"summary"`
	Threshold       string             `json:"threshold"`
	VsBaseline      string             `json:"vs_baseline"`
	Metrics         map[string]float64 `json:"metrics"`
	BaselineMetrics map[string]float64 `json:"baseline_metrics"`
	Error           string             `json:"error"`
}

// runOutputs is what some writers need from the run beyond the report: the output folder (the
// HTML writer embeds images from it), the audit record and the model card that cites its hash.
type runOutputs struct {
	dir       string
	audit     auditJSON
	modelCard report.ModelCard
}

// auditJSON writes the prepared audit record; it is a report.Writer so that outputs() lists it
// like every other file.
type auditJSON struct{ body []byte }

// Write implements report.Writer.
func (w auditJSON) Write(out io.Writer, _ *report.Report) error {
	_, err := out.Write(w.body)
	return err
}

// prepareOutputs builds the audit record of a finished run and what depends on it.
func (a *App) prepareOutputs(r *report.Report, cfg *config.Loaded, dir string) (*runOutputs, error) {
	rec, err := a.auditRecord(r, cfg)
	if err != nil {
		return nil, err
	}
	record, err := audit.NewRecord(rec)
	if err != nil {
		return nil, fmt.Errorf("build audit record: %w", err)
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return nil, fmt.Errorf("encode audit record: %w", err)
	}
	card := cfg.Card
	return &runOutputs{
		dir:   dir,
		audit: auditJSON{body: body.Bytes()},
		modelCard: report.ModelCard{
			Card:  report.Card{IntendedUse: card.IntendedUse, Owners: card.Owners, Limitations: card.Limitations, License: card.License},
			Audit: &report.AuditHashes{File: auditFile, RecordSHA256: audit.Hash(record), ConfigSHA256: rec.Config.SHA256},
		},
	}, nil
}

// auditRecord gathers the record from the report, the effective config and the build.
func (a *App) auditRecord(r *report.Report, cfg *config.Loaded) (*auditRecord, error) {
	yml, err := cfg.Config.YAML()
	if err != nil {
		return nil, err
	}
	var reportJSON bytes.Buffer
	if err := (report.JSON{}).Write(&reportJSON, r); err != nil {
		return nil, err
	}
	rec := &auditRecord{
		Schema:  auditSchema,
		Kind:    r.Kind,
		Time:    r.Run.StartedAt,
		Tool:    buildInfo(r.Tool),
		CI:      r.Run.CI,
		Config:  auditConfig{File: cfg.File, FileSHA256: cfg.SHA256, SHA256: sha256Hex(yml), YAML: string(yml)},
		Report:  auditFileRef{File: reportJSONFile, SHA256: sha256Hex(reportJSON.Bytes())},
		Verdict: r.Gate,
		Models:  []auditModel{},
		Results: []auditResult{},
	}
	if rec.CI == nil {
		rec.CI = map[string]string{}
	}
	if d := r.Inputs.Dataset; d != nil {
		rec.Dataset = &auditDataset{Path: d.Path, SHA256: d.SHA256, Images: d.Images, Unreadable: len(d.Unreadable), Classes: d.Classes, LabelSource: d.LabelSource}
	}
	for _, t := range r.Targets {
		m := auditModel{Target: t.Name, Path: t.Model.Path, SHA256: t.Model.SHA256, SizeBytes: t.Model.SizeBytes, Verdict: t.Verdict, Metadata: t.Model.Metadata}
		if m.SHA256 == "" {
			// A model that did not load still gets its hash: the audit must say what was rejected.
			m.SHA256, m.SizeBytes = a.fileHash(t.Model.Path)
		}
		if m.Metadata == nil {
			m.Metadata = map[string]string{}
		}
		if b := t.Baseline; b != nil {
			m.Baseline = &auditBaseline{Source: b.Source, SHA256: b.SHA256}
		}
		rec.Models = append(rec.Models, m)
		for _, res := range t.Results {
			rec.Results = append(rec.Results, auditResult{Target: t.Name, ID: res.ID, Status: res.Status, Summary: res.Summary,
				Threshold: res.Threshold, VsBaseline: res.VsBaseline, Metrics: nonNilMetrics(res.Metrics),
				BaselineMetrics: nonNilMetrics(res.BaselineMetrics), Error: res.Error})
		}
	}
	return rec, nil
}

func nonNilMetrics(m map[string]float64) map[string]float64 {
	if m == nil {
		return map[string]float64{}
	}
	return m
}

// fileHash is the sha256 and size of a file, or empty when it cannot be read. The file is a model
// that did not load, which may be a FIFO, /dev/zero or a symlink out of the workspace: it is opened
// as every input is (confine), so none of those blocks, never ends, or is read.
func (a *App) fileHash(p string) (string, int64) {
	ws, err := a.workspace()
	if err != nil {
		return "", 0
	}
	f, _, err := ws.OpenFile(a.path(p))
	if err != nil {
		return "", 0
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// buildInfo completes the report's tool description with what the Go toolchain recorded in the
// binary: platform, module version, VCS stamp and the ONNX Runtime binding's version.
func buildInfo(t report.Tool) auditTool {
	out := auditTool{Name: t.Name, Version: t.Version, Commit: t.Commit, GoVersion: t.GoVersion, OS: runtime.GOOS, Arch: runtime.GOARCH,
		ORTVersion: t.ORTVersion, ORTPinned: onnx.PinnedVersion}
	if out.GoVersion == "" {
		out.GoVersion = runtime.Version()
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return out
	}
	out.Module = bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			out.VCSRevision = s.Value
		case "vcs.time":
			out.VCSTime = s.Value
		case "vcs.modified":
			out.VCSModified = s.Value
		}
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/yalue/onnxruntime_go" {
			out.ORTBinding = d.Version
		}
	}
	return out
}

// githubCI maps the runner's default variables to run.ci keys. The names match what
// `cvgate action` records from the event, so that reports read the same either way.
var githubCI = []struct{ env, key string }{
	{"GITHUB_EVENT_NAME", "event"},
	{"GITHUB_REPOSITORY", "repository"},
	{"GITHUB_SHA", "sha"},
	{"GITHUB_REF", "ref"},
	{"GITHUB_WORKFLOW", "workflow"},
	{"GITHUB_WORKFLOW_REF", "workflow_ref"},
	{"GITHUB_RUN_ID", "run_id"},
	{"GITHUB_RUN_ATTEMPT", "run_attempt"},
	{"GITHUB_ACTOR", "actor"},
	{"GITHUB_JOB", "job"},
}

var pullRef = regexp.MustCompile(`^refs/pull/([0-9]+)/`)

// gitTimeout bounds the `git rev-parse` fallback; a hung git must not hold the run.
const gitTimeout = 10 * time.Second

// ciInfo identifies where the run happened, from the App's environment: GitHub Actions'
// variables when present; otherwise the commit checked out in the working directory, if any.
func (a *App) ciInfo(ctx context.Context) map[string]string {
	ci := map[string]string{}
	if a.getenv("GITHUB_ACTIONS") == "true" {
		for _, v := range githubCI {
			if val := a.getenv(v.env); val != "" {
				ci[v.key] = val
			}
		}
		if m := pullRef.FindStringSubmatch(ci["ref"]); m != nil {
			ci["pr"] = m[1]
		}
		server, repo, run := a.getenv("GITHUB_SERVER_URL"), ci["repository"], ci["run_id"]
		if server != "" && repo != "" && run != "" {
			ci["run_url"] = strings.TrimSuffix(server, "/") + "/" + repo + "/actions/runs/" + run
		}
		return ci
	}
	if sha := a.gitHead(ctx); sha != "" {
		ci["sha"] = sha
	}
	return ci
}

// gitHead is `git rev-parse HEAD` in the working directory, or "" outside a repository.
func (a *App) gitHead(ctx context.Context) string {
	if _, err := exec.LookPath("git"); err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--verify", "HEAD")
	cmd.Dir = a.path(".")
	if cmd.Dir == "" {
		cmd.Dir = "."
	}
	cmd.Env = a.environ()
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	sha := strings.TrimSpace(string(out))
	if len(sha) != 40 && len(sha) != 64 {
		return ""
	}
	return sha
}

// environ is the App's environment as a child process wants it.
func (a *App) environ() []string {
	keys := make([]string, 0, len(a.Env))
	for k := range a.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+a.Env[k])
	}
	return out
}

const auditUsage = `Usage:
  cvgate audit append --log LOG.jsonl RECORD.json [RECORD.json ...]
  cvgate audit verify --log LOG.jsonl [--record RECORD.json] [--head HASH]

append  adds audit records (out/audit.json of a run) to an append-only log in which each entry
        carries the hash of the previous one. It refuses to extend a log that does not verify.
        It prints the log's new head (the last entry's sha256); on GitHub Actions it also
        writes it to the job summary and the audit-head output. Keep the head outside the log.
verify  checks every entry of the log: its hash, its sequence number and its link to the entry
        before it, and prints the head. With --record it also checks that the record is one of
        the entries. With --head it checks that an earlier head is still an entry: entries
        dropped from the end of the log, which leave a shorter intact chain, are caught only so.

Exit codes: 0 the log is intact (and holds the record and the head); 1 the log was edited,
reordered, cut below the head, or lacks the record, naming the first bad line; 2 cvgate could
not run.
`

// runAudit is `cvgate audit append|verify`.
func (a *App) runAudit(ctx context.Context, args []string) int {
	defer a.guardStreams()()
	if len(args) == 0 {
		fmt.Fprint(a.Stderr, auditUsage)
		return ExitCannotRun
	}
	switch args[0] {
	case "append":
		return a.auditAppend(args[1:])
	case "verify":
		return a.auditVerify(args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(a.Stdout, auditUsage)
		return ExitPass
	}
	fmt.Fprintf(a.Stderr, "cvgate audit: unknown subcommand %q\n\n%s", args[0], auditUsage)
	return ExitCannotRun
}

func (a *App) auditFlags(name string, record, head *string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("audit "+name, flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	log := fs.String("log", "", "the audit log (JSON Lines)")
	if record != nil {
		fs.StringVar(record, "record", "", "an audit record (audit.json) that must be in the log")
	}
	if head != nil {
		fs.StringVar(head, "head", "", "a head printed by an earlier append (kept outside the log) that must still be an entry")
	}
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), auditUsage+"\nFlags:\n")
		printFlags(fs)
	}
	return fs, log
}

func (a *App) auditAppend(args []string) int {
	flags, log := a.auditFlags("append", nil, nil)
	records, code, ok := a.parseFlags(flags, args)
	if !ok {
		return code
	}
	if *log == "" || len(records) == 0 {
		fmt.Fprint(a.Stderr, "cvgate audit append: give --log LOG.jsonl and at least one RECORD.json\n")
		return ExitCannotRun
	}
	var last audit.Entry
	for _, p := range records {
		rec, err := a.readAuditRecord(p)
		if err != nil {
			return a.fail(err)
		}
		e, err := audit.Append(a.path(*log), rec)
		var le *audit.LineError
		if errors.As(err, &le) {
			fmt.Fprintln(a.Stderr, wfcmd.Sprintf("cvgate: audit log %s does not verify, so %s was not appended: %v", *log, p, le))
			return ExitGateFailed
		}
		if err != nil {
			return a.fail(err)
		}
		last = e
		fmt.Fprintln(a.Stdout, wfcmd.Sprintf("%s: appended %s as entry %d (record sha256 %s, entry sha256 %s)", *log, p, e.Seq, audit.Hash(rec), e.LineHash))
	}
	fmt.Fprintln(a.Stdout, wfcmd.Sprintf("%s: head %s (entry %d): keep it outside the log and check later with --head", *log, last.LineHash, last.Seq))
	a.anchorHead(*log, last)
	return ExitPass
}

// anchorHead writes the log's new head where the log's keeper cannot rewrite it: on GitHub
// Actions, the job summary (kept with the run) and the audit-head output (for a later step to
// put into a tag, a release asset or a git note). Outside Actions the printed line is all.
func (a *App) anchorHead(log string, e audit.Entry) {
	rt := github.NewRuntime(a.getenv, a.Stdout)
	if !rt.InActions() {
		return
	}
	line := fmt.Sprintf("**cvgate audit log** %s: entry %d, head sha256 %s. Check the log later with %s: entries dropped from its end fail that check.\n",
		report.MarkdownCode(log), e.Seq, report.MarkdownCode(e.LineHash), report.MarkdownCode("cvgate audit verify --log "+log+" --head "+e.LineHash))
	if _, err := rt.AppendSummary(line); err != nil {
		a.logInput("write the audit head to the step summary: %v", err)
	}
	for _, kv := range [][2]string{{"audit-head", e.LineHash}, {"audit-entries", fmt.Sprint(e.Seq)}} {
		if err := rt.SetOutput(kv[0], kv[1]); err != nil {
			a.logInput("set output: %v", err)
		}
	}
}

func (a *App) auditVerify(args []string) int {
	var record, head string
	flags, log := a.auditFlags("verify", &record, &head)
	rest, code, ok := a.parseFlags(flags, args)
	if !ok {
		return code
	}
	if *log == "" || len(rest) > 0 {
		fmt.Fprint(a.Stderr, "cvgate audit verify: give --log LOG.jsonl (and optionally --record RECORD.json, --head HASH), nothing else\n")
		return ExitCannotRun
	}
	var want audit.Record
	if record != "" {
		var err error
		if want, err = a.readAuditRecord(record); err != nil {
			return a.fail(err)
		}
	}
	head = strings.TrimSpace(head)
	v, err := audit.VerifyHead(a.path(*log), head)
	var le *audit.LineError
	var he *audit.HeadError
	switch {
	case errors.As(err, &le):
		fmt.Fprintln(a.Stderr, wfcmd.Sprintf("cvgate: audit log %s: %v (the %d entries before it are intact)", *log, le, v.Entries))
		return ExitGateFailed
	case errors.As(err, &he):
		fmt.Fprintln(a.Stderr, wfcmd.Sprintf("cvgate: audit log %s: %v", *log, he))
		return ExitGateFailed
	case err != nil: // a missing log too: "could not run", not "tampered"
		return a.fail(err)
	}
	fmt.Fprintln(a.Stdout, wfcmd.Sprintf("%s: %d entries, hash chain intact, head %s", *log, v.Entries, v.Head))
	if head != "" {
		fmt.Fprintln(a.Stdout, wfcmd.Sprintf("%s: the anchored head is entry %d; %d entries were appended after it", *log, v.AnchorSeq, v.Entries-v.AnchorSeq))
	} else {
		fmt.Fprintln(a.Stdout, wfcmd.Sprintf("%s: no --head given: entries dropped from the end of the log would not show; pass the head kept from an earlier append", *log))
	}
	if record == "" {
		return ExitPass
	}
	line, err := findRecord(a.path(*log), audit.Hash(want))
	if err != nil {
		return a.fail(err)
	}
	if line == 0 {
		fmt.Fprintln(a.Stderr, wfcmd.Sprintf("cvgate: %s (record sha256 %s) is not in audit log %s", record, audit.Hash(want), *log))
		return ExitGateFailed
	}
	fmt.Fprintln(a.Stdout, wfcmd.Sprintf("%s: %s is entry %d (record sha256 %s)", *log, record, line, audit.Hash(want)))
	return ExitPass
}

// readAuditRecord loads an audit.json and makes sure it is one.
func (a *App) readAuditRecord(p string) (audit.Record, error) {
	data, err := os.ReadFile(a.path(p))
	if err != nil {
		return audit.Record{}, fmt.Errorf("read audit record %q: %w", p, err)
	}
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return audit.Record{}, fmt.Errorf("read audit record %q: %w", p, err)
	}
	if head.Schema != auditSchema {
		return audit.Record{}, fmt.Errorf("read audit record %q: schema %q, want %q (the audit.json a cvgate run writes)", p, head.Schema, auditSchema)
	}
	rec, err := audit.NewRecord(json.RawMessage(data))
	if err != nil {
		return audit.Record{}, fmt.Errorf("read audit record %q: %w", p, err)
	}
	return rec, nil
}

// maxAuditLine bounds one line read back from a log that Verify already accepted.
const maxAuditLine = 64 << 20

// findRecord returns the line of the entry whose record hashes to want, or 0.
func findRecord(logPath, want string) (int, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return 0, fmt.Errorf("read audit log %q: %w", logPath, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxAuditLine)
	for line := 1; sc.Scan(); line++ {
		var e struct {
			Record json.RawMessage `json:"record"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return 0, fmt.Errorf("read audit log %q line %d: %w", logPath, line, err)
		}
		rec, err := audit.NewRecord(e.Record)
		if err != nil {
			return 0, fmt.Errorf("read audit log %q line %d: %w", logPath, line, err)
		}
		if audit.Hash(rec) == want {
			return line, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read audit log %q: %w", logPath, err)
	}
	return 0, nil
}
