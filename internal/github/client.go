package github

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gogithub "github.com/google/go-github/v60/github"
)

// Client talks to the GitHub REST API (github.com or GHES) through go-github,
// with retries and typed errors. Repo binds it to one repository; the Repo is
// what implements CommentStore and IssueStore.
type Client struct {
	gh *gogithub.Client
	// download follows release-asset redirects to the storage host with the same
	// retrying transport but, by the auth transport's host check, no token.
	download *http.Client
	token    string

	idMu     sync.Mutex
	identity *Identity // cached by Identity
}

// Option configures NewClient.
type Option func(*clientConfig)

type clientConfig struct {
	transport   http.RoundTripper
	userAgent   string
	maxAttempts int
	maxWait     time.Duration
	backoff     time.Duration
	sleep       func(ctx context.Context, d time.Duration) error
	now         func() time.Time
	logf        func(format string, args ...any)
	timeout     time.Duration
}

// Defaults for the retry policy: four attempts and at most two minutes of waiting
// in total, enough for one secondary-rate-limit pause (GitHub asks for a minute)
// without stalling a CI job for long.
const (
	DefaultMaxAttempts = 4
	DefaultMaxWait     = 2 * time.Minute
	DefaultBackoff     = time.Second
	// DefaultTimeout bounds one API exchange (not an asset download).
	DefaultTimeout = 60 * time.Second
)

// WithTransport sets the base http.RoundTripper (default http.DefaultTransport).
func WithTransport(rt http.RoundTripper) Option {
	return func(c *clientConfig) { c.transport = rt }
}

// WithUserAgent sets the User-Agent header, e.g. "cvgate/1.2.3".
func WithUserAgent(ua string) Option {
	return func(c *clientConfig) { c.userAgent = ua }
}

// WithRetry bounds retries: at most attempts tries per request and maxWait of
// sleeping in total per request. backoff is the first 5xx delay, doubled per try.
func WithRetry(attempts int, maxWait, backoff time.Duration) Option {
	return func(c *clientConfig) {
		c.maxAttempts, c.maxWait, c.backoff = attempts, maxWait, backoff
	}
}

// WithSleep replaces the wait between retries; tests pass a recorder so they do
// not sleep for real. The function must return ctx.Err() when ctx ends first.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *clientConfig) { c.sleep = sleep }
}

// WithClock sets the clock used to turn x-ratelimit-reset into a wait.
func WithClock(now func() time.Time) Option {
	return func(c *clientConfig) { c.now = now }
}

// WithLogf receives one line per retry (never the token).
func WithLogf(logf func(format string, args ...any)) Option {
	return func(c *clientConfig) { c.logf = logf }
}

// WithTimeout bounds each API exchange, body included (asset downloads are
// bounded by the caller's context only).
func WithTimeout(d time.Duration) Option {
	return func(c *clientConfig) { c.timeout = d }
}

// NewClient builds a client for apiURL ("" means github.com; on Actions pass
// GITHUB_API_URL, which on GHES is https://HOST/api/v3). An empty token makes
// anonymous requests (public repositories, low rate limit).
func NewClient(token, apiURL string, opts ...Option) (*Client, error) {
	cfg := clientConfig{
		transport:   http.DefaultTransport,
		userAgent:   "cvgate",
		maxAttempts: DefaultMaxAttempts,
		maxWait:     DefaultMaxWait,
		backoff:     DefaultBackoff,
		sleep:       sleepContext,
		now:         time.Now,
		timeout:     DefaultTimeout,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxAttempts < 1 {
		cfg.maxAttempts = 1
	}
	if strings.ContainsAny(token, "\r\n") {
		return nil, fmt.Errorf("build GitHub client: the token contains a line break; check how it is passed")
	}
	// go-github's default base URL is github.com's API; GHES replaces it.
	baseURL := gogithub.NewClient(nil).BaseURL
	if apiURL != "" {
		u, err := url.Parse(apiURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("parse GitHub API URL %q: want http(s)://host[/path]", apiURL)
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		baseURL = u
	}
	rt := &retryTransport{
		base:        &authTransport{base: cfg.transport, token: token, scheme: baseURL.Scheme, host: baseURL.Host},
		maxAttempts: cfg.maxAttempts,
		maxWait:     cfg.maxWait,
		backoff:     cfg.backoff,
		sleep:       cfg.sleep,
		now:         cfg.now,
		logf:        cfg.logf,
	}
	// API answers are small, so each API attempt is bounded by cfg.timeout.
	// Downloads get no per-attempt bound (it would cut a large asset short); the
	// caller's context bounds them.
	downloadRT := *rt
	rt.timeout = cfg.timeout
	gh := gogithub.NewClient(&http.Client{Transport: rt})
	gh.BaseURL = baseURL
	gh.UserAgent = cfg.userAgent
	return &Client{
		gh:       gh,
		download: &http.Client{Transport: &downloadRT},
		token:    token,
	}, nil
}

// Repo binds the client to owner/name.
func (c *Client) Repo(owner, name string) *Repo {
	return &Repo{c: c, owner: owner, name: name}
}

// Repo is the go-github adapter for one repository.
type Repo struct {
	c     *Client
	owner string
	name  string
}

var (
	_ CommentStore = (*Repo)(nil)
	_ IssueStore   = (*Repo)(nil)
)

// FullName is "owner/name".
func (r *Repo) FullName() string { return r.owner + "/" + r.name }

// maxPages bounds every pagination loop: GitHub itself caps PR files at 3000
// (30 pages of 100), and no cvgate listing needs more than this many pages.
const maxPages = 1000
