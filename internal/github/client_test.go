package github_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/github/githubtest"
)

func TestRetries(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	secondary := `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`
	tests := []struct {
		name       string
		faults     []githubtest.Fault
		wantSleeps []time.Duration
		wantCalls  int
		wantErr    any // pointer to the wanted error type, or nil
	}{
		{
			name:       "500 then 502 then success",
			faults:     []githubtest.Fault{{Status: 500}, {Status: 502}},
			wantSleeps: []time.Duration{time.Second, 2 * time.Second},
			wantCalls:  3,
		},
		{
			name:       "secondary rate limit with Retry-After",
			faults:     []githubtest.Fault{{Status: 403, Header: http.Header{"Retry-After": {"30"}}, Body: secondary}},
			wantSleeps: []time.Duration{30 * time.Second},
			wantCalls:  2,
		},
		{
			name:       "secondary rate limit without headers waits a minute",
			faults:     []githubtest.Fault{{Status: 403, Body: secondary}},
			wantSleeps: []time.Duration{time.Minute},
			wantCalls:  2,
		},
		{
			name: "primary limit exhausted, resets in 20s",
			faults: []githubtest.Fault{{Status: 403, Header: http.Header{
				"X-Ratelimit-Remaining": {"0"},
				"X-Ratelimit-Reset":     {strconv.FormatInt(now.Add(20*time.Second).Unix(), 10)},
			}, Body: `{"message":"API rate limit exceeded for installation ID 1."}`}},
			wantSleeps: []time.Duration{21 * time.Second}, // reset plus one second of skew
			wantCalls:  2,
		},
		{
			name:       "429 with Retry-After",
			faults:     []githubtest.Fault{{Status: 429, Header: http.Header{"Retry-After": {"5"}}}},
			wantSleeps: []time.Duration{5 * time.Second},
			wantCalls:  2,
		},
		{
			name: "primary limit resetting in an hour outlasts the budget",
			faults: []githubtest.Fault{{Status: 403, Header: http.Header{
				"X-Ratelimit-Remaining": {"0"},
				"X-Ratelimit-Reset":     {strconv.FormatInt(now.Add(time.Hour).Unix(), 10)},
			}, Body: `{"message":"API rate limit exceeded for installation ID 1."}`}},
			wantCalls: 1,
			wantErr:   new(*github.RateLimitError),
		},
		{
			name:       "attempts are bounded",
			faults:     []githubtest.Fault{{Status: 503}, {Status: 503}, {Status: 503}, {Status: 503}, {Status: 503}},
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
			wantCalls:  4,
			wantErr:    new(*github.APIError),
		},
		{
			name:      "plain 403 is not retried",
			faults:    []githubtest.Fault{{Status: 403, Body: `{"message":"Resource not accessible by integration"}`}},
			wantCalls: 1,
			wantErr:   new(*github.PermissionError),
		},
		{
			name:      "401 is an AuthError",
			faults:    []githubtest.Fault{{Status: 401, Body: `{"message":"Bad credentials"}`}},
			wantCalls: 1,
			wantErr:   new(*github.AuthError),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			srv.AddComment(prNumber, "alice", false, "hello")
			for _, f := range tt.faults {
				srv.Fail(githubtest.OpListComments, f)
			}
			var logs []string
			repo, sl := newRepo(t, srv, github.WithClock(func() time.Time { return now }),
				github.WithLogf(func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }))
			comments, err := repo.ListComments(t.Context(), prNumber)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ListComments: %v", err)
				}
				if len(comments) != 1 || comments[0].Body != "hello" {
					t.Errorf("comments = %+v, want the one stored", comments)
				}
			} else if !errors.As(err, tt.wantErr) {
				t.Fatalf("err = %v (%T), want %T", err, err, tt.wantErr)
			}
			if got := sl.all(); !slices.Equal(got, tt.wantSleeps) {
				t.Errorf("sleeps = %v, want %v", got, tt.wantSleeps)
			}
			if got := srv.Calls(githubtest.OpListComments); got != tt.wantCalls {
				t.Errorf("calls = %d, want %d", got, tt.wantCalls)
			}
			if len(logs) != len(tt.wantSleeps) {
				t.Errorf("logged %d retry lines, want %d: %q", len(logs), len(tt.wantSleeps), logs)
			}
			for _, s := range append(logs, fmt.Sprint(err)) {
				if strings.Contains(s, testToken) {
					t.Errorf("token leaked: %q", s)
				}
			}
		})
	}
}

func TestCreateIsNotRetriedOnServerError(t *testing.T) {
	// A 502 on POST may hide a comment that was created; retrying would post a
	// second one, so the error goes back to the caller.
	srv := newServer(t)
	srv.Fail(githubtest.OpCreateComment, githubtest.Fault{Status: 502})
	repo, sl := newRepo(t, srv)
	_, err := repo.CreateComment(t.Context(), prNumber, "x")
	var ae *github.APIError
	if !errors.As(err, &ae) || ae.Status != 502 {
		t.Fatalf("err = %v, want APIError 502", err)
	}
	if n := srv.Calls(githubtest.OpCreateComment); n != 1 || len(sl.all()) != 0 {
		t.Errorf("calls = %d, sleeps = %v; want 1 call and no sleep", n, sl.all())
	}
}

func TestPatchRetriesWithItsBody(t *testing.T) {
	srv := newServer(t)
	id := srv.AddComment(prNumber, githubtest.BotLogin, true, "old")
	srv.Fail(githubtest.OpUpdateComment, githubtest.Fault{Status: 500})
	repo, _ := newRepo(t, srv)
	if _, err := repo.UpdateComment(t.Context(), id, "new"); err != nil {
		t.Fatal(err)
	}
	if got := srv.Comments(prNumber)[0].Body; got != "new" {
		t.Errorf("body after retried PATCH = %q, want %q", got, "new")
	}
}

func TestWrongTokenIsAuthError(t *testing.T) {
	srv := newServer(t)
	c, err := github.NewClient("ghp_expiredexpiredexpiredexpired0000", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Repo(testOwner, testRepo).ListComments(t.Context(), prNumber)
	var ae *github.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v (%T), want *AuthError", err, err)
	}
	if !strings.Contains(err.Error(), "Bad credentials") || strings.Contains(err.Error(), "ghp_expired") {
		t.Errorf("message %q should carry GitHub's reason and not the token", err)
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	srv := newServer(t)
	srv.Fail(githubtest.OpListComments, githubtest.Fault{Status: 503})
	ctx, cancel := context.WithCancel(t.Context())
	c, err := github.NewClient(testToken, srv.URL, github.WithSleep(func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Repo(testOwner, testRepo).ListComments(ctx, prNumber)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := srv.Calls(githubtest.OpListComments); n != 1 {
		t.Errorf("calls = %d, want 1", n)
	}
}

// echoTransport fails with a message quoting the request's Authorization
// header, as a misbehaving proxy might.
type echoTransport struct{}

func (echoTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("proxy refused header %q", req.Header.Get("Authorization"))
}

func TestTokenNeverInErrors(t *testing.T) {
	c, err := github.NewClient(testToken, "http://127.0.0.1:1/", github.WithTransport(echoTransport{}),
		github.WithSleep(func(context.Context, time.Duration) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Repo(testOwner, testRepo).ListComments(t.Context(), 1)
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error leaks the token: %v", err)
	}
	if !strings.Contains(err.Error(), "***") {
		t.Errorf("error %q should show where the token was redacted", err)
	}
}

func TestEnterpriseBaseURL(t *testing.T) {
	// GHES serves the API under /api/v3; GITHUB_API_URL includes it.
	srv := newServer(t)
	srv.AddComment(prNumber, "alice", false, "hi")
	target, _ := url.Parse(srv.URL)
	var mu sync.Mutex
	var seen []string
	proxy := httputil.NewSingleHostReverseProxy(target)
	ghes := http.NewServeMux()
	ghes.Handle("/api/v3/", http.StripPrefix("/api/v3", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	})))
	front := httptestServer(t, ghes)

	c, err := github.NewClient(testToken, front+"/api/v3")
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Repo(testOwner, testRepo).ListComments(t.Context(), prNumber)
	if err != nil || len(got) != 1 {
		t.Fatalf("ListComments via /api/v3 = %v, %v", got, err)
	}
	want := fmt.Sprintf("/repos/%s/%s/issues/%d/comments", testOwner, testRepo, prNumber)
	if len(seen) != 1 || seen[0] != want {
		t.Errorf("GHES front saw %q, want [%q]", seen, want)
	}
}

func TestNewClientRejectsBadInput(t *testing.T) {
	tests := []struct{ token, api, want string }{
		{"t", "ftp://x", "want http(s)://host"},
		{"t", "not a url", "want http(s)://host"},
		{"a\nb", "", "line break"},
	}
	for _, tt := range tests {
		_, err := github.NewClient(tt.token, tt.api)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewClient(%q, %q) err = %v, want %q", tt.token, tt.api, err, tt.want)
		}
	}
}
