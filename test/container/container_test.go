// Package container tests the action's image the way the GitHub runner uses it: built from the
// Dockerfile, started with the workspace mounted at /github/workspace, INPUT_* and GITHUB_*
// variables, file commands in a mounted folder and a real event payload, talking to a fake GitHub
// on this machine's loopback. It is slow (an image build) and runs only with CVGATE_CONTAINER=1, which .ci/run sets once Docker and the offline base images are ready.
//
// CVGATE_CONTAINER_IMAGE=REF tests an image built elsewhere instead of building one (the release
// workflow tests the very images it pushes, CPU and CUDA variant, this way); the part that builds
// the Dockerfile through `uses: ./` (act) then skips.
package container

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/github/githubtest"
	"github.com/cvgate/cvgate/internal/testutil/ortlib"
	"github.com/cvgate/cvgate/report"
)

var (
	// image is the image under test: built here, or CVGATE_CONTAINER_IMAGE. A built one is
	// tagged for this process alone (several checkouts may test on one Docker daemon) and
	// untagged at the end; its layers stay cached.
	image = fmt.Sprintf("cvgate:container-test-%d", os.Getpid())
	// prebuilt reports whether image came from CVGATE_CONTAINER_IMAGE.
	prebuilt bool
)

const (
	repoName = "Codertocat/Hello-World" // the real payloads' repository
	prNumber = 2
	// The real payloads' commits, replaced by the test repository's.
	payloadBase = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
	payloadHead = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	token       = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
	workflow    = "models"
	// runnerUID owns the workspace on GitHub's runners; the container runs as root.
	runnerUID = 1001
)

// Bounds on every external step, so a stuck daemon fails the test instead of hanging CI.
const (
	setupTimeout = 12 * time.Minute
	buildTimeout = 15 * time.Minute
	runTimeout   = 3 * time.Minute
)

func TestMain(m *testing.M) {
	if os.Getenv("CVGATE_CONTAINER") != "1" {
		fmt.Println("container tests skipped: set CVGATE_CONTAINER=1 (they build the Docker image; .ci/run does)")
		os.Exit(0)
	}
	if ref := os.Getenv("CVGATE_CONTAINER_IMAGE"); ref != "" {
		image, prebuilt = ref, true
	}
	code := m.Run()
	if !prebuilt {
		_ = exec.Command("docker", "rmi", image).Run()
	}
	os.Exit(code)
}

// run runs a command with a deadline and returns its combined output.
func run(t *testing.T, timeout time.Duration, dir string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: gave up after %s: %w", name, strings.Join(args, " "), timeout, ctx.Err())
	}
	return out.String(), err
}

// buildImage prepares Docker with the offline stand-ins of the base images (DESIGN.md section 8)
// and builds the Dockerfile with the classic builder, as the runner would.
func buildImage(t *testing.T) {
	t.Helper()
	root := ortlib.RepoRoot(t)
	if prebuilt {
		out, err := run(t, time.Minute, root, "docker", "image", "inspect", "-f", "{{.Size}}", image)
		if err != nil {
			t.Fatalf("CVGATE_CONTAINER_IMAGE=%s: %v\n%s", image, err, out)
		}
		t.Logf("testing the prebuilt image %s, %s bytes", image, strings.TrimSpace(out))
		return
	}
	// The script sits beside the checkout; CVGATE_DOCKER_BASES names it for a checkout elsewhere
	// (a git worktree).
	script := filepath.Join(root, "..", "shared", "tools", "offline-docker-bases")
	if p := os.Getenv("CVGATE_DOCKER_BASES"); p != "" {
		script = p
	}
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("CVGATE_CONTAINER=1 needs %s to prepare Docker and the base images offline: %v", script, err)
	}
	if out, err := run(t, setupTimeout, root, script); err != nil {
		t.Fatalf("offline-docker-bases: %v\n%s", err, out)
	}
	start := time.Now()
	out, err := run(t, buildTimeout, root, "docker", "build", "-t", image, "--build-arg", "VERSION=container-test", ".")
	if err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	size, _ := run(t, time.Minute, root, "docker", "image", "inspect", "-f", "{{.Size}}", image)
	t.Logf("image built in %s, %s bytes", time.Since(start).Round(time.Second), strings.TrimSpace(size))
}

// workspace is a checkout as actions/checkout leaves it: models/m.onnx is baseModel on the base
// commit and headModel on the head commit; the labelled images are in eval/.
type workspace struct{ dir, base, head string }

func newWorkspace(t *testing.T, baseModel, headModel string) *workspace {
	t.Helper()
	root := ortlib.RepoRoot(t)
	w := &workspace{dir: t.TempDir()}
	w.git(t, "init", "-q", "-b", "main")
	w.copy(t, filepath.Join(root, "testdata", "models", baseModel), "models/m.onnx")
	w.copy(t, filepath.Join(root, "testdata", "labels", "mnist.txt"), "eval/labels.txt")
	images := filepath.Join(root, "testdata", "images", "mnist")
	err := filepath.WalkDir(images, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(images, p)
		w.copy(t, p, filepath.Join("eval", "images", rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w.base = w.commit(t)
	w.git(t, "checkout", "-q", "-b", "feature")
	w.copy(t, filepath.Join(root, "testdata", "models", headModel), "models/m.onnx")
	w.head = w.commit(t)
	return w
}

// ownAsRunner gives the checkout to the runner's user, as on GitHub: root in the container then
// needs git's safe.directory to read it.
func (w *workspace) ownAsRunner(t *testing.T) {
	t.Helper()
	err := filepath.WalkDir(w.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, runnerUID, runnerUID)
	})
	if err != nil {
		t.Fatalf("chown the workspace to the runner's uid: %v", err)
	}
}

func (w *workspace) git(t *testing.T, args ...string) string {
	t.Helper()
	base := []string{"-c", "user.name=cvgate test", "-c", "user.email=test@invalid", "-c", "commit.gpgsign=false"}
	cmd := exec.Command("git", append(base, args...)...)
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (w *workspace) copy(t *testing.T, src, rel string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(w.dir, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (w *workspace) commit(t *testing.T) string {
	t.Helper()
	w.git(t, "add", "-A")
	w.git(t, "commit", "-q", "-m", "x")
	return w.git(t, "rev-parse", "HEAD")
}

// result is what one container run left behind.
type result struct {
	code    int
	stdout  string
	outputs map[string]string
	summary string
	report  *report.Report
}

// runAction starts the image as the runner starts a container action.
func runAction(t *testing.T, srv *githubtest.Server, w *workspace, payload string, inputs map[string]string) result {
	t.Helper()
	w.ownAsRunner(t)
	files, wf := t.TempDir(), t.TempDir()
	data := strings.NewReplacer(payloadBase, w.base, payloadHead, w.head).Replace(string(githubtest.EventPayload(t, payload)))
	if err := os.WriteFile(filepath.Join(wf, "event.json"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HOME":                "/github/home",
		"CI":                  "true",
		"GITHUB_ACTIONS":      "true",
		"GITHUB_EVENT_NAME":   "pull_request",
		"GITHUB_EVENT_PATH":   "/github/workflow/event.json",
		"GITHUB_WORKSPACE":    "/github/workspace",
		"GITHUB_OUTPUT":       "/github/file_commands/output",
		"GITHUB_STEP_SUMMARY": "/github/file_commands/summary",
		"GITHUB_REPOSITORY":   repoName,
		"GITHUB_API_URL":      srv.URL, // http://127.0.0.1:PORT, reached through --network host
		"GITHUB_SERVER_URL":   "https://github.com",
		"GITHUB_WORKFLOW":     workflow,
		"GITHUB_RUN_ID":       "4242",
		"GITHUB_SHA":          w.head,
	}
	// The runner passes every declared input, empty unless the workflow set it.
	for _, name := range []string{"models", "data", "labels", "config", "baseline", "profile", "fail-on", "checks", "skip", "out",
		"comment", "comment-id", "seed", "threads", "batch-size", "execution-provider"} {
		env["INPUT_"+strings.ToUpper(name)] = inputs[name]
	}
	env["INPUT_GITHUB-TOKEN"] = token
	args := []string{"run", "--rm", "--network", "host", "--workdir", "/github/workspace",
		"-v", w.dir + ":/github/workspace", "-v", files + ":/github/file_commands", "-v", wf + ":/github/workflow"}
	for k, v := range env {
		args = append(args, "-e", k+"="+v)
	}
	args = append(args, image)

	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("docker run gave up after %s\n%s", runTimeout, stderr.String())
	}
	res := result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String()}
	if err != nil && res.code < 0 {
		t.Fatalf("docker run: %v\n%s", err, stderr.String())
	}
	t.Logf("container exit %d\nstderr:\n%s", res.code, stderr.String())
	res.outputs = githubtest.ReadOutputs(t, filepath.Join(files, "output"))
	sum, err := os.ReadFile(filepath.Join(files, "summary"))
	if err != nil {
		t.Fatalf("no step summary: %v", err)
	}
	res.summary = string(sum)
	if p := res.outputs["report-json"]; p != "" {
		if res.report, err = report.ReadJSON(filepath.Join(w.dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

var rowRE = regexp.MustCompile("^\\| (\\S+) +\\| `([a-z.]+)` +\\|")

// rows reads the check tables of a one-model markdown report (the not-passing table and the
// folded passed/skipped one) as sorted "id status" lines; the status comes from the row's icon,
// mapped back through the report package's own icons so the test follows the layout.
func rows(md string) []string {
	byIcon := map[string]string{}
	for _, s := range []report.Status{report.StatusPass, report.StatusWarn, report.StatusFail, report.StatusError, report.StatusSkip} {
		byIcon[report.StatusIcon(s)] = string(s)
	}
	var out []string
	for _, line := range strings.Split(md, "\n") {
		m := rowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		status, ok := byIcon[m[1]]
		if !ok {
			status = "unknown-icon:" + m[1]
		}
		out = append(out, m[2]+" "+status)
	}
	sort.Strings(out)
	return out
}

func reportRows(r *report.Report) []string {
	var out []string
	for _, res := range r.Targets[0].Results {
		out = append(out, res.ID+" "+string(res.Status))
	}
	sort.Strings(out)
	return out
}

func TestContainerAction(t *testing.T) {
	buildImage(t)
	inputs := map[string]string{
		"data":   "eval/images",
		"labels": "eval/labels.txt",
		"checks": "model.load,model.signature,model.numerics,perf.metrics,perf.baseline,perf.trivial",
	}
	files := []githubtest.PullFile{
		{Filename: "README.md", Status: "modified"},
		{Filename: "models/m.onnx", Status: "modified"},
	}
	owner, repo, _ := strings.Cut(repoName, "/")

	t.Run("pull request", func(t *testing.T) {
		srv := githubtest.NewServer(t, owner, repo)
		srv.SetToken(token)
		srv.SetPullFiles(prNumber, files)
		// An earlier result of this step, on page 2 of the comments: updated in place.
		for i := range 130 {
			if i == 120 {
				srv.AddComment(prNumber, githubtest.BotLogin, true, github.Marker("default", workflow)+"\nan old cvgate result")
				continue
			}
			srv.AddComment(prNumber, "octocat", false, fmt.Sprintf("comment %d", i))
		}
		w := newWorkspace(t, "mnist_weak.onnx", "mnist_cnn.onnx")
		res := runAction(t, srv, w, githubtest.EventPullRequestOpened, inputs)
		if res.report == nil {
			t.Fatalf("no report; outputs %v\n%s", res.outputs, res.stdout)
		}
		r := res.report
		want := 0
		if r.Gate.ExitFailed {
			want = 1
		}
		if res.code != want || r.Gate.Verdict != report.StatusPass {
			t.Fatalf("exit %d with verdict %s, want exit %d and pass", res.code, r.Gate.Verdict, want)
		}
		tg := r.Targets[0]
		if tg.Baseline == nil || tg.Baseline.Source != "git:"+w.base+":models/m.onnx" || srv.Calls(githubtest.OpGetContent) != 0 {
			t.Errorf("baseline %+v: want the base commit read from the workspace's git objects (safe.directory)", tg.Baseline)
		}
		if srv.Calls(githubtest.OpCreateComment) != 0 || srv.Calls(githubtest.OpUpdateComment) != 1 {
			t.Errorf("%d creates, %d updates: want our comment updated in place", srv.Calls(githubtest.OpCreateComment), srv.Calls(githubtest.OpUpdateComment))
		}
		var ours []githubtest.Comment
		for _, c := range srv.Comments(prNumber) {
			if strings.Contains(c.Body, "cvgate PASS") {
				ours = append(ours, c)
			}
		}
		if len(ours) != 1 {
			t.Fatalf("%d cvgate comments, want exactly 1", len(ours))
		}
		if got, want := rows(ours[0].Body), reportRows(r); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("comment table %v, report.json %v", got, want)
		}
		if got, want := rows(res.summary), reportRows(r); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("summary table %v, report.json %v", got, want)
		}
		o := res.outputs
		if o["verdict"] != "pass" || o["passed"] != fmt.Sprint(r.Gate.Passed) || o["failed"] != "0" ||
			!strings.HasSuffix(o["comment-url"], fmt.Sprintf("#issuecomment-%d", ours[0].ID)) {
			t.Errorf("outputs %v", o)
		}
		badge, err := os.ReadFile(filepath.Join(w.dir, o["badge-json"]))
		if err != nil || !strings.Contains(string(badge), fmt.Sprintf(`"message":"%d/%d passed"`, r.Gate.Passed, r.Gate.Passed)) {
			t.Errorf("badge.json %s (%v)", badge, err)
		}
		if svg, err := os.ReadFile(filepath.Join(w.dir, o["badge-svg"])); err != nil || !bytes.HasPrefix(svg, []byte("<svg")) {
			t.Errorf("badge.svg: %v", err)
		}
		if strings.Count(res.stdout, token) != 1 || !strings.Contains(res.stdout, "::add-mask::"+token) {
			t.Errorf("the token must appear once, in its mask:\n%s", res.stdout)
		}
	})

	// A run that requires CUDA where there is none stops with the reason (exit 2, verdict
	// error) in the log and the step summary, never a report of CPU numbers. The CPU image has
	// no CUDA provider; the CUDA image has one, but no GPU or driver is passed to it here.
	t.Run("cuda required without a GPU", func(t *testing.T) {
		srv := githubtest.NewServer(t, owner, repo)
		srv.SetToken(token)
		srv.SetPullFiles(prNumber, files)
		w := newWorkspace(t, "mnist_weak.onnx", "mnist_cnn.onnx")
		in := map[string]string{"execution-provider": "cuda"}
		for k, v := range inputs {
			in[k] = v
		}
		res := runAction(t, srv, w, githubtest.EventPullRequestOpened, in)
		// Each entry is a set of alternatives, one of which the summary must say. Without a
		// driver the CUDA image fails either loading the provider (libcuda.so.1 is missing) or,
		// where a driver library is found, creating the CUDA session.
		want := [][]string{{"cuda was required but not obtained"}}
		if _, err := run(t, time.Minute, "", "docker", "run", "--rm", "--entrypoint", "/usr/bin/test", image, "-f", "/usr/local/lib/libonnxruntime_providers_cuda.so"); err != nil {
			want = append(want, []string{"/usr/local/lib/libonnxruntime_providers_shared.so is missing"})
		} else {
			want = append(want, []string{"could not load /usr/local/lib/libonnxruntime_providers_cuda.so: ", "could not create a CUDA session"})
		}
		if res.code != 2 || res.outputs["verdict"] != "error" || res.report != nil {
			t.Errorf("exit %d, outputs %v: want exit 2, verdict error and no report", res.code, res.outputs)
		}
		for _, alts := range want {
			found := false
			for _, w := range alts {
				found = found || strings.Contains(res.summary, w)
			}
			if !found {
				t.Errorf("the step summary says none of %q:\n%s", alts, res.summary)
			}
		}
	})

	t.Run("act", func(t *testing.T) {
		if prebuilt {
			t.Skip("act builds the Dockerfile (uses: ./); CVGATE_CONTAINER_IMAGE tests a given image")
		}
		srv := githubtest.NewServer(t, owner, repo)
		srv.SetToken(token)
		srv.SetPullFiles(prNumber, files)
		testAct(t, srv)
	})

	t.Run("fork", func(t *testing.T) {
		srv := githubtest.NewServer(t, owner, repo)
		srv.SetToken(token)
		srv.SetReadOnly(true)
		srv.SetPullFiles(prNumber, files)
		w := newWorkspace(t, "mnist_cnn.onnx", "mnist_weak.onnx")
		res := runAction(t, srv, w, githubtest.EventPullRequestFork, inputs)
		if res.code != 1 || res.report == nil || res.report.Gate.Verdict != report.StatusFail {
			t.Fatalf("exit %d: the weaker model fails the gate whether or not it can comment", res.code)
		}
		if len(srv.Comments(prNumber)) != 0 || strings.Count(res.stdout, "::warning") != 1 || !strings.Contains(res.stdout, "workflow_run") {
			t.Errorf("want no comment and one warning about the workflow_run pattern:\n%s", res.stdout)
		}
		if !strings.Contains(res.stdout, "::error file=models/m.onnx") {
			t.Errorf("no error annotation on the model file:\n%s", res.stdout)
		}
		if res.outputs["verdict"] != "fail" || !strings.Contains(res.summary, "cvgate FAIL") {
			t.Errorf("outputs %v, summary %.200s", res.outputs, res.summary)
		}
	})
}

// actWorkflow runs the action the way a workflow does, `uses: ./`, under nektos/act.
const actWorkflow = `name: models
on: pull_request
jobs:
  models:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: cvgate
        uses: ./
        with:
          data: eval/images
          labels: eval/labels.txt
          checks: model.load,model.signature,model.numerics,perf.metrics,perf.baseline,perf.trivial
      - run: test "${{ steps.cvgate.outputs.verdict }}" = pass
`

// actTimeout bounds the act run (it rebuilds the image, mostly from the layer cache).
const actTimeout = 8 * time.Minute

// testAct runs a workflow with `uses: ./` through nektos/act, offline: the checkout is the
// repository itself, the job container the debian:bookworm-slim stand-in, the API the fake one.
func testAct(t *testing.T, srv *githubtest.Server) {
	act, err := exec.LookPath("act")
	if err != nil {
		gopath, _ := run(t, time.Minute, "", "go", "env", "GOPATH")
		act = filepath.Join(strings.TrimSpace(gopath), "bin", "act")
		if _, err := os.Stat(act); err != nil {
			t.Skip("act is not installed (go install github.com/nektos/act@v0.2.89)")
		}
	}
	root := ortlib.RepoRoot(t)
	w := newWorkspace(t, "mnist_weak.onnx", "mnist_cnn.onnx")
	// The action under test is this checkout: its sources, Dockerfile and action.yml, committed
	// on the base so that only the model differs on the pull request.
	w.git(t, "checkout", "-q", "main")
	for _, p := range []string{"go.mod", "go.sum", "main.go", "Dockerfile", ".dockerignore", "action.yml", "checks", "internal", "report", "scripts"} {
		copyTree(t, filepath.Join(root, p), filepath.Join(w.dir, p))
	}
	if err := os.MkdirAll(filepath.Join(w.dir, ".github", "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, ".github", "workflows", "models.yml"), []byte(actWorkflow), 0o644); err != nil {
		t.Fatal(err)
	}
	w.base = w.commit(t)
	w.git(t, "checkout", "-q", "feature")
	w.git(t, "merge", "-q", "--no-edit", "main")
	w.head = w.git(t, "rev-parse", "HEAD")
	w.git(t, "remote", "add", "origin", "https://github.com/"+repoName+".git")
	event := filepath.Join(t.TempDir(), "event.json")
	data := strings.NewReplacer(payloadBase, w.base, payloadHead, w.head).Replace(string(githubtest.EventPayload(t, githubtest.EventPullRequestOpened)))
	if err := os.WriteFile(event, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, actTimeout, w.dir, act, "pull_request", "-W", ".github/workflows/models.yml", "-e", event,
		"--pull=false", "--action-offline-mode", "-P", "ubuntu-latest=debian:bookworm-slim", "-b",
		"-s", "GITHUB_TOKEN="+token, "--env", "GITHUB_API_URL="+srv.URL)
	if err != nil {
		t.Fatalf("act: %v\n%s", err, tail(out, 4000))
	}
	r, err := report.ReadJSON(filepath.Join(w.dir, "cvgate-out", "report.json"))
	if err != nil {
		t.Fatalf("%v\n%s", err, tail(out, 4000))
	}
	cs := srv.Comments(prNumber)
	if len(cs) != 1 {
		t.Fatalf("%d comments, want 1\n%s", len(cs), tail(out, 4000))
	}
	if got, want := rows(cs[0].Body), reportRows(r); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("comment table %v, report.json %v", got, want)
	}
	if strings.Contains(out, token) {
		t.Errorf("act's log shows the token")
	}
}

// copyTree copies a file or a folder, leaving out compiled test binaries.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasSuffix(p, ".test") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
