package github_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/github/githubtest"
)

// Expected values below were read from the payload files (npm
// @octokit/webhooks-examples), not from this package's output.
func TestEventPayloads(t *testing.T) {
	const (
		baseSHA = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
		headSHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	)
	pr := func(headRepo string, fork bool) *github.PullRequest {
		return &github.PullRequest{
			Number: 2, BaseRef: "master", BaseSHA: baseSHA, HeadRef: "changes", HeadSHA: headSHA,
			BaseRepo: "Codertocat/Hello-World", HeadRepo: headRepo, Fork: fork,
		}
	}
	tests := []struct {
		file, name string
		want       func(e *github.Event)
		wantPR     int
	}{
		{githubtest.EventPullRequestOpened, "pull_request", func(e *github.Event) {
			e.Action, e.PullRequest = "opened", pr("Codertocat/Hello-World", false)
		}, 2},
		{githubtest.EventPullRequestSynchronize, "pull_request", func(e *github.Event) {
			e.Action, e.PullRequest = "synchronize", pr("Codertocat/Hello-World", false)
		}, 2},
		{githubtest.EventPullRequestFork, "pull_request", func(e *github.Event) {
			e.Action, e.PullRequest = "opened", pr("forker/Hello-World", true)
		}, 2},
		{githubtest.EventPullRequestFork, "pull_request_target", func(e *github.Event) {
			e.Action, e.PullRequest = "opened", pr("forker/Hello-World", true)
		}, 2},
		{githubtest.EventReleasePublished, "release", func(e *github.Event) {
			e.Action, e.Release = "published", &github.Release{ID: 17372790, Tag: "0.0.1"}
		}, 0},
		{githubtest.EventWorkflowRunCompleted, "workflow_run", func(e *github.Event) {
			e.Action = "completed"
			e.WorkflowRun = &github.WorkflowRun{
				ID: 289782451, Event: "repository_dispatch", Conclusion: "success",
				HeadSHA: "3484a3fb816e0859fd6e1cea078d76385ff50625", HeadBranch: "master",
				HeadRepo: "octo-org/octo-repo", PullRequestNumber: 2,
			}
		}, 2},
		{githubtest.EventPush, "push", func(e *github.Event) {
			e.Push = &github.Push{Ref: "refs/heads/master", Before: strings.Repeat("0", 40), After: "6113728f27ae82c7b1a177c8d03f9e96e0adf246"}
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.file, func(t *testing.T) {
			env := map[string]string{
				"GITHUB_EVENT_NAME":  tt.name,
				"GITHUB_EVENT_PATH":  githubtest.EventFile(t, tt.file),
				"GITHUB_REPOSITORY":  "octo-org/models",
				"GITHUB_SHA":         "abc123",
				"GITHUB_REF":         "refs/pull/2/merge",
				"GITHUB_RUN_ID":      "987654321",
				"GITHUB_RUN_ATTEMPT": "2",
				"GITHUB_WORKFLOW":    "cvgate",
				"GITHUB_WORKSPACE":   "/github/workspace",
				"GITHUB_SERVER_URL":  "https://ghes.example",
				"GITHUB_API_URL":     "https://ghes.example/api/v3",
				"GITHUB_ACTOR":       "octocat",
			}
			got, err := github.NewRuntime(fakeEnv(env), &bytes.Buffer{}).Event()
			if err != nil {
				t.Fatal(err)
			}
			want := github.Event{
				Name: tt.name, Owner: "octo-org", Repo: "models", SHA: "abc123", Ref: "refs/pull/2/merge",
				RunID: 987654321, RunAttempt: 2, Workflow: "cvgate", Workspace: "/github/workspace",
				ServerURL: "https://ghes.example", APIURL: "https://ghes.example/api/v3", Actor: "octocat",
			}
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Event() mismatch (-want +got):\n%s", diff)
			}
			if n := got.PullRequestNumber(); n != tt.wantPR {
				t.Errorf("PullRequestNumber() = %d, want %d", n, tt.wantPR)
			}
		})
	}
}

func TestEventWithoutPayload(t *testing.T) {
	// Scheduled runs (no example payload exists) and local runs: environment only;
	// the repository falls back to the payload only when GITHUB_REPOSITORY is unset.
	got, err := github.NewRuntime(fakeEnv(map[string]string{
		"GITHUB_EVENT_NAME": "schedule",
		"GITHUB_REPOSITORY": "octo-org/models",
	}), &bytes.Buffer{}).Event()
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "schedule" || got.Owner != "octo-org" || got.Repo != "models" || got.PullRequestNumber() != 0 {
		t.Errorf("Event() = %+v", got)
	}
}

func TestEventRepositoryFromPayload(t *testing.T) {
	got, err := github.NewRuntime(fakeEnv(map[string]string{
		"GITHUB_EVENT_NAME": "push",
		"GITHUB_EVENT_PATH": githubtest.EventFile(t, githubtest.EventPush),
	}), &bytes.Buffer{}).Event()
	if err != nil {
		t.Fatal(err)
	}
	if got.Owner != "Codertocat" || got.Repo != "Hello-World" {
		t.Errorf("owner/repo = %s/%s, want Codertocat/Hello-World from the payload", got.Owner, got.Repo)
	}
}

func TestEventErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"malformed payload", map[string]string{"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": bad}},
		{"bad run id", map[string]string{"GITHUB_RUN_ID": "12x"}},
	}
	for _, tt := range tests {
		if _, err := github.NewRuntime(fakeEnv(tt.env), &bytes.Buffer{}).Event(); err == nil {
			t.Errorf("%s: want an error", tt.name)
		}
	}
}
