package github_test

import (
	"errors"
	"testing"

	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/github/githubtest"
)

func TestGetPullRequest(t *testing.T) {
	srv := newServer(t)
	srv.SetPull(7, githubtest.Pull{HeadSHA: "abc123", HeadRef: "feature", HeadRepo: "forker/models", BaseSHA: "def456"})
	repo, _ := newRepo(t, srv)
	got, err := repo.GetPullRequest(t.Context(), 7)
	if err != nil {
		t.Fatal(err)
	}
	want := github.PullRequest{Number: 7, BaseRef: got.BaseRef, BaseSHA: "def456", HeadRef: "feature", HeadSHA: "abc123",
		BaseRepo: testOwner + "/" + testRepo, HeadRepo: "forker/models", Fork: true}
	if got != want || got.BaseRef == "" {
		t.Errorf("GetPullRequest = %+v, want %+v", got, want)
	}
	_, err = repo.GetPullRequest(t.Context(), 8)
	var nf *github.NotFoundError
	if !errors.As(err, &nf) {
		t.Errorf("missing pull request: err = %v, want *NotFoundError", err)
	}
}
