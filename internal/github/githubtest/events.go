package githubtest

import (
	"embed"
	"os"
	"path/filepath"
	"testing"
)

//go:embed testdata/events/*.json
var events embed.FS

// Real event payloads (npm @octokit/webhooks-examples), by file name.
const (
	EventPullRequestOpened      = "pull_request.opened.json"
	EventPullRequestSynchronize = "pull_request.synchronize.json"
	EventPullRequestFork        = "pull_request.opened.fork.json" // derived: see testdata/README.md
	EventReleasePublished       = "release.published.json"
	EventWorkflowRunCompleted   = "workflow_run.completed.json"
	EventPush                   = "push.json"
)

// EventPayload returns an embedded payload.
func EventPayload(t testing.TB, name string) []byte {
	t.Helper()
	data, err := events.ReadFile("testdata/events/" + name)
	if err != nil {
		t.Fatalf("githubtest: event payload %q: %v", name, err)
	}
	return data
}

// EventFile writes an embedded payload into a temporary directory and returns
// its path, for GITHUB_EVENT_PATH.
func EventFile(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, EventPayload(t, name), 0o644); err != nil {
		t.Fatalf("githubtest: write event payload: %v", err)
	}
	return path
}
