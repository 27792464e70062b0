package github_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/github/githubtest"
)

const driftLabel = "cvgate-drift"

func TestIssueOpenUpdateCloseCycle(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	ctx := t.Context()
	marker := github.Marker("drift:production", "monitor")
	// Someone else's open issue with the same label must not be touched.
	other := srv.AddIssue(githubtest.Issue{Title: "manual drift note", Body: "see dashboard", Labels: []string{driftLabel}})
	// A pull request shows up in the issues list too; it must be ignored even
	// though its body carries the marker.
	srv.AddIssue(githubtest.Issue{Title: "PR", Body: marker, Labels: []string{driftLabel}, PullRequest: true})

	spec := github.IssueSpec{
		Marker:  marker,
		Title:   "cvgate: drift detected",
		Body:    "PSI 0.31",
		Labels:  []string{driftLabel, "monitoring"},
		Comment: "drift changed",
	}
	res, err := github.UpsertIssue(ctx, repo, spec)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if res.Action != github.ActionCreated || res.Number == other {
		t.Fatalf("open = %+v, want a new issue", res)
	}
	is, _ := srv.Issue(res.Number)
	if is.Title != spec.Title || !strings.Contains(is.Body, marker) || !slices.Equal(is.Labels, spec.Labels) {
		t.Fatalf("created issue = %+v", is)
	}

	// Same drift next run: nothing written.
	again, err := github.UpsertIssue(ctx, repo, spec)
	if err != nil || again.Action != github.ActionUnchanged || again.Number != res.Number {
		t.Fatalf("repeat = %+v, %v; want unchanged #%d", again, err, res.Number)
	}
	if n := srv.Calls(githubtest.OpUpdateIssue) + srv.Calls(githubtest.OpCreateComment); n != 0 {
		t.Errorf("unchanged run made %d writes", n)
	}

	// Drift persists with new numbers: body updated and one comment posted.
	spec.Body = "PSI 0.45"
	upd, err := github.UpsertIssue(ctx, repo, spec)
	if err != nil || upd.Action != github.ActionUpdated || upd.Number != res.Number {
		t.Fatalf("update = %+v, %v", upd, err)
	}
	is, _ = srv.Issue(res.Number)
	if !strings.HasSuffix(is.Body, "PSI 0.45") {
		t.Errorf("body after update = %q", is.Body)
	}
	if c := srv.Comments(res.Number); len(c) != 1 || c[0].Body != "drift changed" {
		t.Errorf("comments after update = %+v, want one notification", c)
	}

	// Drift gone: comment, then close as completed.
	closed, err := github.ResolveIssue(ctx, repo, marker, driftLabel, "drift resolved")
	if err != nil || closed.Action != github.ActionClosed || closed.Number != res.Number {
		t.Fatalf("resolve = %+v, %v", closed, err)
	}
	is, _ = srv.Issue(res.Number)
	if is.State != "closed" || is.StateReason != "completed" {
		t.Errorf("issue after resolve = %+v, want closed/completed", is)
	}
	if c := srv.Comments(res.Number); len(c) != 2 || c[1].Body != "drift resolved" {
		t.Errorf("comments after resolve = %+v", c)
	}
	if o, _ := srv.Issue(other); o.State != "open" || o.Body != "see dashboard" {
		t.Errorf("unrelated issue changed: %+v", o)
	}

	// Nothing open any more: resolving again is a no-op.
	none, err := github.ResolveIssue(ctx, repo, marker, driftLabel, "drift resolved")
	if err != nil || none.Action != github.ActionNone {
		t.Fatalf("second resolve = %+v, %v; want none", none, err)
	}

	// Drift comes back: a fresh issue, since the old one is closed.
	back, err := github.UpsertIssue(ctx, repo, spec)
	if err != nil || back.Action != github.ActionCreated || back.Number == res.Number {
		t.Fatalf("reopen = %+v, %v; want a new issue", back, err)
	}
}

func TestIssueFoundWithoutItsLabel(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	marker := github.Marker("drift", "")
	// Someone removed the label: the marker still identifies the issue.
	n := srv.AddIssue(githubtest.Issue{Title: "cvgate: drift", Body: marker + "\nold", Labels: []string{"triaged"}})
	res, err := github.UpsertIssue(t.Context(), repo, github.IssueSpec{Marker: marker, Title: "cvgate: drift", Body: "new", Labels: []string{driftLabel}})
	if err != nil || res.Action != github.ActionUpdated || res.Number != n {
		t.Fatalf("upsert = %+v, %v; want update of #%d", res, err, n)
	}
	if got := srv.Calls(githubtest.OpListIssues); got != 2 {
		t.Errorf("list calls = %d, want 2 (labelled, then all)", got)
	}
	for _, r := range srv.Requests() {
		if r.OperationID == githubtest.OpListIssues && r.Query.Get("state") != "open" {
			t.Errorf("list issues state = %q, want open", r.Query.Get("state"))
		}
	}
}

func TestIssueListPages(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	marker := github.Marker("drift", "")
	target := srv.AddIssue(githubtest.Issue{Title: "ours", Body: marker, Labels: []string{driftLabel}})
	for range 120 {
		srv.AddIssue(githubtest.Issue{Title: "noise", Body: "x", Labels: []string{driftLabel}})
	}
	// GitHub lists newest first, so the oldest issue (ours) is on page 2.
	res, err := github.ResolveIssue(t.Context(), repo, marker, driftLabel, "")
	if err != nil || res.Number != target {
		t.Fatalf("resolve = %+v, %v; want #%d", res, err, target)
	}
	if got := srv.Calls(githubtest.OpListIssues); got != 2 {
		t.Errorf("list calls = %d, want 2 pages", got)
	}
	if got := srv.Comments(target); len(got) != 0 {
		t.Errorf("empty closing comment posted: %+v", got)
	}
}

func TestIssueBodyOverLimit(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	_, err := github.UpsertIssue(t.Context(), repo, github.IssueSpec{Marker: "<!-- m -->", Title: "t", Body: strings.Repeat("x", github.MaxIssueBody)})
	if err == nil || !strings.Contains(err.Error(), "over GitHub's limit") {
		t.Fatalf("err = %v, want a body-too-long error", err)
	}
	if n := srv.TotalCalls(); n != 0 {
		t.Errorf("made %d requests", n)
	}
}

// An issue someone else opened with the marker (anyone may open issues) is neither updated nor
// closed: only the token's own issues are the monitor's.
func TestIssueOnlyOwnIdentity(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	marker := github.Marker("drift", "nightly")
	forged := srv.AddIssue(githubtest.Issue{Title: "cvgate: drift", Body: marker + "\nforged", Labels: []string{driftLabel}, Login: "mallory"})
	res, err := github.UpsertIssue(t.Context(), repo, github.IssueSpec{Marker: marker, Title: "cvgate: drift", Body: "real", Labels: []string{driftLabel}})
	if err != nil || res.Action != github.ActionCreated || res.Number == forged {
		t.Fatalf("upsert = %+v, %v; want a new issue, not #%d", res, err, forged)
	}
	closed, err := github.ResolveIssue(t.Context(), repo, marker, driftLabel, "resolved")
	if err != nil || closed.Number != res.Number {
		t.Fatalf("resolve = %+v, %v; want our #%d closed", closed, err, res.Number)
	}
	if is, _ := srv.Issue(forged); is.State != "open" || is.Body != marker+"\nforged" {
		t.Errorf("mallory's issue changed: %+v", is)
	}
}
