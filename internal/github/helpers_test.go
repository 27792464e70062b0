package github_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/github/githubtest"
)

const (
	testOwner = "octo-org"
	testRepo  = "models"
	// testToken looks like a real installation token so redaction is tested on
	// a realistic value.
	testToken = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
)

// sleeps records the waits the client asked for instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// newServer starts a fake GitHub requiring testToken.
func newServer(t *testing.T) *githubtest.Server {
	t.Helper()
	srv := githubtest.NewServer(t, testOwner, testRepo)
	srv.SetToken(testToken)
	return srv
}

// newRepo returns a client for srv that records its sleeps.
func newRepo(t *testing.T, srv *githubtest.Server, opts ...github.Option) (*github.Repo, *sleeps) {
	t.Helper()
	sl := &sleeps{}
	opts = append([]github.Option{github.WithSleep(sl.sleep)}, opts...)
	c, err := github.NewClient(testToken, srv.URL, opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c.Repo(testOwner, testRepo), sl
}

// httptestServer serves h on loopback until the test ends and returns its URL.
func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}
