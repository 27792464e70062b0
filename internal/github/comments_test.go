package github_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/github/githubtest"
)

const prNumber = 7

func TestUpsertCommentLifecycle(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	marker := github.Marker("models/net.onnx", "")
	ctx := t.Context()

	// First run: nothing there, so one comment is created, carrying the marker.
	res, err := github.UpsertComment(ctx, repo, prNumber, marker, "accuracy 0.91", github.CommentUpdate)
	if err != nil {
		t.Fatalf("first upsert: %v", err)
	}
	if res.Action != github.ActionCreated || res.URL == "" {
		t.Fatalf("first upsert = %+v, want created with a URL", res)
	}
	got := srv.Comments(prNumber)
	if len(got) != 1 || !strings.Contains(got[0].Body, marker) || !strings.HasSuffix(got[0].Body, "accuracy 0.91") {
		t.Fatalf("after first run comments = %+v, want one marked comment", got)
	}

	// Second run with a new body: the same comment is edited, no second one.
	res, err = github.UpsertComment(ctx, repo, prNumber, marker, "accuracy 0.93", github.CommentUpdate)
	if err != nil {
		t.Fatalf("second upsert: %v", err)
	}
	if res.Action != github.ActionUpdated || res.ID != got[0].ID {
		t.Fatalf("second upsert = %+v, want updated comment %d", res, got[0].ID)
	}
	if n := srv.Calls(githubtest.OpCreateComment); n != 1 {
		t.Errorf("create calls = %d, want 1", n)
	}
	if n := srv.Calls(githubtest.OpUpdateComment); n != 1 {
		t.Errorf("update calls = %d, want 1", n)
	}
	after := srv.Comments(prNumber)
	if len(after) != 1 || !strings.HasSuffix(after[0].Body, "accuracy 0.93") {
		t.Fatalf("after second run comments = %+v", after)
	}

	// Third run with the same body: no write at all.
	res, err = github.UpsertComment(ctx, repo, prNumber, marker, "accuracy 0.93", github.CommentUpdate)
	if err != nil {
		t.Fatalf("third upsert: %v", err)
	}
	if res.Action != github.ActionUnchanged {
		t.Errorf("third upsert action = %s, want unchanged", res.Action)
	}
	if n := srv.Calls(githubtest.OpCreateComment) + srv.Calls(githubtest.OpUpdateComment); n != 2 {
		t.Errorf("writes after unchanged run = %d, want still 2", n)
	}
}

func TestUpsertCommentFindsMarkerOnLastPage(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	marker := github.Marker("net.onnx", "CI")
	// 250 comments at GitHub's 100 per page: ours is the 240th, on page 3 of 3.
	var ours int64
	for i := range 250 {
		if i == 239 {
			ours = srv.AddComment(prNumber, githubtest.BotLogin, true, marker+"\nold report")
			continue
		}
		srv.AddComment(prNumber, "someone", false, fmt.Sprintf("comment %d", i))
	}
	res, err := github.UpsertComment(t.Context(), repo, prNumber, marker, "new report", github.CommentUpdate)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != github.ActionUpdated || res.ID != ours {
		t.Fatalf("upsert = %+v, want update of %d", res, ours)
	}
	if n := srv.Calls(githubtest.OpListComments); n != 3 {
		t.Errorf("list calls = %d, want 3 pages", n)
	}
	for _, r := range srv.Requests() {
		if r.OperationID == githubtest.OpListComments && r.Query.Get("per_page") != "100" {
			t.Errorf("list request per_page = %q, want 100", r.Query.Get("per_page"))
		}
	}
	if n := srv.Calls(githubtest.OpCreateComment); n != 0 {
		t.Errorf("create calls = %d, want 0", n)
	}
}

func TestUpsertCommentLeavesOthersAlone(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	marker := github.Marker("net.onnx", "")
	other := srv.AddComment(prNumber, "codecov[bot]", true, "<!-- codecov -->\ncoverage 80%")
	// Another tool's marker that merely starts like ours must not match.
	prefix := srv.AddComment(prNumber, "other[bot]", true, github.Marker("net.onnx.bak", "")+"\nnot ours")
	human := srv.AddComment(prNumber, "alice", false, "LGTM")

	res, err := github.UpsertComment(t.Context(), repo, prNumber, marker, "report", github.CommentUpdate)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != github.ActionCreated {
		t.Fatalf("action = %s, want created", res.Action)
	}
	want := map[int64]string{
		other:  "<!-- codecov -->\ncoverage 80%",
		prefix: github.Marker("net.onnx.bak", "") + "\nnot ours",
		human:  "LGTM",
	}
	for _, c := range srv.Comments(prNumber) {
		if body, ok := want[c.ID]; ok && c.Body != body {
			t.Errorf("comment %d by %s changed to %q", c.ID, c.Login, c.Body)
		}
	}
	if n := srv.Calls(githubtest.OpUpdateComment); n != 0 {
		t.Errorf("update calls = %d, want 0", n)
	}
}

func TestUpsertCommentPrefersNewestBotComment(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	marker := github.Marker("net.onnx", "")
	older := srv.AddComment(prNumber, githubtest.BotLogin, true, marker+"\nrun 1")
	newer := srv.AddComment(prNumber, githubtest.BotLogin, true, marker+"\nrun 2")
	// A person pasting our comment later must not capture the sticky comment.
	pasted := srv.AddComment(prNumber, "bob", false, "> quoting\n"+marker+"\nrun 2")

	res, err := github.UpsertComment(t.Context(), repo, prNumber, marker, "run 3", github.CommentUpdate)
	if err != nil {
		t.Fatal(err)
	}
	if res.ID != newer || res.Action != github.ActionUpdated {
		t.Fatalf("upsert = %+v, want update of newest bot comment %d (older %d, pasted %d)", res, newer, older, pasted)
	}
}

func TestUpsertCommentModes(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	marker := github.Marker("net.onnx", "")
	existing := srv.AddComment(prNumber, githubtest.BotLogin, true, marker+"\nold")

	res, err := github.UpsertComment(t.Context(), repo, prNumber, marker, "x", github.CommentOff)
	if err != nil || res.Action != github.ActionSkipped {
		t.Fatalf("off: %+v, %v; want skipped", res, err)
	}
	if n := srv.TotalCalls(); n != 0 {
		t.Fatalf("off made %d requests, want 0", n)
	}

	res, err = github.UpsertComment(t.Context(), repo, prNumber, marker, "fresh", github.CommentNew)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != github.ActionCreated || res.ID == existing {
		t.Fatalf("new: %+v, want a created comment other than %d", res, existing)
	}
	cs := srv.Comments(prNumber)
	if len(cs) != 2 || !strings.Contains(cs[1].Body, marker) || cs[0].Body != marker+"\nold" {
		t.Fatalf("after new: %+v, want old untouched and a new marked one", cs)
	}
	if n := srv.Calls(githubtest.OpListComments); n != 0 {
		t.Errorf("mode new listed comments %d times, want 0", n)
	}
}

func TestUpsertCommentReadOnlyToken(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(*githubtest.Server)
		status int
	}{
		{
			name:   "403 on create, as for a fork",
			setup:  func(s *githubtest.Server) { s.SetReadOnly(true) },
			status: 403,
		},
		{
			name: "404 on create after a successful list",
			setup: func(s *githubtest.Server) {
				s.Fail(githubtest.OpCreateComment, githubtest.Fault{Status: 404})
			},
			status: 404,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			tt.setup(srv)
			repo, sl := newRepo(t, srv)
			_, err := github.UpsertComment(t.Context(), repo, prNumber, github.Marker("m", ""), "body", github.CommentUpdate)
			var pe *github.PermissionError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v (%T), want *PermissionError", err, err)
			}
			if pe.Status != tt.status || pe.Method != "POST" {
				t.Errorf("PermissionError = %+v, want status %d on POST", pe, tt.status)
			}
			if n := srv.Calls(githubtest.OpCreateComment); n != 1 {
				t.Errorf("create calls = %d, want 1 (no retry of a permission error)", n)
			}
			if len(sl.all()) != 0 {
				t.Errorf("slept %v, want no retry", sl.all())
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}

func TestUpsertCommentRefusesLongBodyBeforeAnyRequest(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	marker := github.Marker("m", "")
	// Multi-byte runes: the limit counts characters, so a body of exactly the
	// limit in characters (but 3x in bytes) passes and one more fails.
	fits := strings.Repeat("é", github.MaxCommentBody-len(marker)-1)
	if _, err := github.UpsertComment(t.Context(), repo, prNumber, marker, fits, github.CommentUpdate); err != nil {
		t.Fatalf("body of exactly %d characters: %v", github.MaxCommentBody, err)
	}
	calls := srv.TotalCalls()

	_, err := github.UpsertComment(t.Context(), repo, prNumber, marker, fits+"x", github.CommentUpdate)
	var tl *github.BodyTooLongError
	if !errors.As(err, &tl) || tl.Chars != github.MaxCommentBody+1 {
		t.Fatalf("err = %v, want *BodyTooLongError with %d characters", err, github.MaxCommentBody+1)
	}
	if srv.TotalCalls() != calls {
		t.Errorf("a refused body made %d requests", srv.TotalCalls()-calls)
	}
}

func TestMarker(t *testing.T) {
	tests := []struct {
		id, workflow string
		want         string
	}{
		{"models/net.onnx", "", "<!-- cvgate:models/net.onnx -->"},
		{"models/my-net.onnx", "CI", "<!-- cvgate:models/my-net.onnx:CI -->"},
		{"a b", "x:y", "<!-- cvgate:a%20b:x%3Ay -->"},
		{"evil-->x", "", "<!-- cvgate:evil-%2D%3Ex -->"},
		{"<!--", "", "<!-- cvgate:%3C%21-%2D -->"},
		{"100%", "", "<!-- cvgate:100%25 -->"},
	}
	for _, tt := range tests {
		if got := github.Marker(tt.id, tt.workflow); got != tt.want {
			t.Errorf("Marker(%q, %q) = %q, want %q", tt.id, tt.workflow, got, tt.want)
		}
	}
	// Distinct inputs must give distinct markers, including the id/workflow split.
	pairs := [][2]string{{"a:b", ""}, {"a", "b"}, {"a%3Ab", ""}, {"a", ""}, {"a-", ""}, {"a--", ""}}
	seen := map[string][2]string{}
	for _, p := range pairs {
		m := github.Marker(p[0], p[1])
		if prev, ok := seen[m]; ok {
			t.Errorf("Marker%v and Marker%v collide: %q", prev, p, m)
		}
		seen[m] = p
		inner := strings.TrimSuffix(strings.TrimPrefix(m, "<!-- "), " -->")
		if strings.Contains(inner, "--") || strings.ContainsAny(inner, "<>") {
			t.Errorf("Marker%v = %q would break the HTML comment", p, m)
		}
	}
}

func TestParseCommentMode(t *testing.T) {
	for _, s := range []string{"update", "NEW", " off "} {
		if _, err := github.ParseCommentMode(s); err != nil {
			t.Errorf("ParseCommentMode(%q): %v", s, err)
		}
	}
	_, err := github.ParseCommentMode("sticky")
	if err == nil || !strings.Contains(err.Error(), "update, new, off") {
		t.Errorf("ParseCommentMode(sticky) err = %v, want the allowed values listed", err)
	}
}

// Only the token's own comments are ours (item 4 of issue #11): a comment by anyone else that
// carries the marker, newer or not, bot or not, is never adopted, whatever kind of token runs.
func TestUpsertCommentOnlyOwnIdentity(t *testing.T) {
	tests := []struct {
		name      string
		kind      githubtest.TokenKind
		tokenName string
		me        string
		bot       bool
	}{
		{"GITHUB_TOKEN", githubtest.InstallationToken, "", "github-actions[bot]", true},
		{"personal access token", githubtest.UserToken, "release-bot", "release-bot", false},
		{"GitHub App token", githubtest.AppToken, "acme-ci", "acme-ci[bot]", true},
	}
	const pat = "ghp_0123456789abcdefghijABCDEFGHIJ012345" // the personal token format
	for _, tt := range tests {
		for _, haveOwn := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, own comment %v", tt.name, haveOwn), func(t *testing.T) {
				srv := newServer(t)
				srv.SetTokenIdentity(tt.kind, tt.tokenName)
				token := testToken // the installation format, ghs_
				if tt.kind == githubtest.UserToken {
					token = pat
				}
				srv.SetToken(token)
				c, err := github.NewClient(token, srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				repo := c.Repo(testOwner, testRepo)
				marker := github.Marker("default", "models")
				var own int64
				if haveOwn {
					own = srv.AddComment(prNumber, tt.me, tt.bot, marker+"\nour earlier result")
				}
				// Newer comments that carry the marker, by others: a person, another bot, the
				// Actions bot when the token is not GITHUB_TOKEN, a user named like our login.
				forged := map[int64]string{}
				for _, a := range []struct {
					login string
					bot   bool
				}{{"mallory", false}, {"evil[bot]", true}, {"github-actions[bot]", true}, {tt.me, !tt.bot}} {
					if a.login == tt.me && a.bot == tt.bot {
						continue
					}
					body := marker + "\nforged by " + a.login
					forged[srv.AddComment(prNumber, a.login, a.bot, body)] = body
				}
				res, err := github.UpsertComment(t.Context(), repo, prNumber, marker, "new result", github.CommentUpdate)
				if err != nil {
					t.Fatal(err)
				}
				if haveOwn && (res.Action != github.ActionUpdated || res.ID != own) {
					t.Errorf("upsert = %+v, want an update of our comment %d", res, own)
				}
				if !haveOwn && res.Action != github.ActionCreated {
					t.Errorf("upsert = %+v, want a new comment (none of ours exists)", res)
				}
				for _, c := range srv.Comments(prNumber) {
					if body, ok := forged[c.ID]; ok && c.Body != body {
						t.Errorf("%s's comment was adopted: %q", c.Login, c.Body)
					}
					if c.ID == res.ID && (c.Login != tt.me || c.Bot != tt.bot) {
						t.Errorf("our comment is by %s (bot %v), want %s", c.Login, c.Bot, tt.me)
					}
				}
				// UpdateOwnComment (correcting an earlier result) adopts nothing either.
				upd, err := github.UpdateOwnComment(t.Context(), repo, prNumber, marker, "corrected")
				if err != nil || upd.ID != res.ID || upd.Action != github.ActionUpdated {
					t.Errorf("UpdateOwnComment = %+v, %v; want an update of %d", upd, err, res.ID)
				}
				// One lookup, cached: GET /user for a personal token; for an installation
				// token (ghs_) GitHub answers 403 there, so only GET /app is asked.
				user, app := srv.Calls(githubtest.OpGetUser), srv.Calls(githubtest.OpGetApp)
				if tt.kind == githubtest.UserToken && (user != 1 || app != 0) || tt.kind != githubtest.UserToken && (user != 0 || app != 1) {
					t.Errorf("GET /user %d and GET /app %d calls", user, app)
				}
			})
		}
	}
}

// A rejected token has no identity: nothing is updated or created.
func TestUpsertCommentIdentityUnknown(t *testing.T) {
	srv := newServer(t)
	marker := github.Marker("default", "")
	srv.AddComment(prNumber, githubtest.BotLogin, true, marker+"\nold")
	c, err := github.NewClient("ghp_wrongtoken0000000000000000000000000000", srv.URL, github.WithSleep(func(context.Context, time.Duration) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = github.UpsertComment(t.Context(), c.Repo(testOwner, testRepo), prNumber, marker, "x", github.CommentUpdate)
	var ae *github.AuthError
	if !errors.As(err, &ae) {
		t.Errorf("err = %v, want an AuthError", err)
	}
	if n := srv.Calls(githubtest.OpCreateComment) + srv.Calls(githubtest.OpUpdateComment); n != 0 {
		t.Errorf("%d writes without an identity", n)
	}
}

// A token without GitHub's prefixes (an older GHES format) is asked GET /user first; its 403
// marks an installation token, and GET /app, refused for a non-JWT, leaves the documented
// GITHUB_TOKEN author.
func TestIdentityFallsBackToActionsBot(t *testing.T) {
	srv := githubtest.NewServer(t, testOwner, testRepo)
	const token = "0123456789abcdef0123456789abcdef01234567"
	srv.SetToken(token)
	c, err := github.NewClient(token, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Identity(t.Context())
	if err != nil || id.Login != "github-actions[bot]" || !id.Bot {
		t.Errorf("identity %v, %v; want github-actions[bot]", id, err)
	}
	if srv.Calls(githubtest.OpGetUser) != 1 || srv.Calls(githubtest.OpGetApp) != 1 {
		t.Errorf("GET /user %d, GET /app %d calls; want 1 and 1", srv.Calls(githubtest.OpGetUser), srv.Calls(githubtest.OpGetApp))
	}
}
