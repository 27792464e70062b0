package github

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// authTransport adds the token to requests for the API host only. go-github
// follows release-asset redirects to a storage host; sending the token there
// would leak it (and storage rejects a second auth scheme anyway). Because the
// header is added here rather than on the request, http.Client's own
// strip-on-redirect rule would not protect it, hence the host check.
type authTransport struct {
	base   http.RoundTripper
	token  string
	scheme string
	host   string
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.token == "" || req.URL.Host != t.host || req.URL.Scheme != t.scheme {
		return t.base.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return t.base.RoundTrip(r)
}

// retryTransport retries transient failures: 5xx on idempotent methods, and
// rate limits (403/429 that carry Retry-After, x-ratelimit-remaining: 0 or the
// secondary-rate-limit message) on any method, since GitHub rejects those
// before doing anything. POST is not retried on 5xx: a 502 may hide a comment
// that was created, and a retry would post a second one.
//
// Attempts and total wait are bounded; a wait that would exceed the budget
// returns the last response instead, which go-github turns into an error.
type retryTransport struct {
	base        http.RoundTripper
	maxAttempts int
	maxWait     time.Duration
	backoff     time.Duration
	sleep       func(ctx context.Context, d time.Duration) error
	now         func() time.Time
	logf        func(format string, args ...any)
	timeout     time.Duration // per attempt, body included; 0 means none
}

// maxErrorBodyPeek bounds how much of a 403/429 body is read to recognise a
// secondary rate limit; GitHub's error bodies are a few hundred bytes.
const maxErrorBodyPeek = 64 << 10

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 {
			var err error
			if r, err = rewind(req); err != nil {
				return nil, err
			}
		}
		resp, err := t.attempt(r)
		if err != nil {
			// Transport errors (reset connections) are retried like a 5xx.
			if ctx.Err() != nil || !idempotent(req.Method) || !replayable(req) {
				return nil, err
			}
		}
		delay, why := t.retryDelay(req, resp, attempt)
		if why == "" || attempt >= t.maxAttempts || waited+delay > t.maxWait || !replayable(req) {
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBodyPeek))
			_ = resp.Body.Close()
		}
		if t.logf != nil {
			t.logf("GitHub API %s %s: %s; retrying in %s (attempt %d of %d)", req.Method, req.URL.Path, why, delay, attempt+1, t.maxAttempts)
		}
		if err := t.sleep(ctx, delay); err != nil {
			return nil, err
		}
		waited += delay
	}
}

// attempt sends one request, bounded by t.timeout until its body is closed.
func (t *retryTransport) attempt(req *http.Request) (*http.Response, error) {
	if t.timeout <= 0 {
		return t.base.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// retryDelay says whether to retry and after how long; why is empty for "do not
// retry".
func (t *retryTransport) retryDelay(req *http.Request, resp *http.Response, attempt int) (delay time.Duration, why string) {
	exp := t.backoff << (attempt - 1)
	if resp == nil {
		return exp, "transport error"
	}
	switch code := resp.StatusCode; {
	case code == http.StatusForbidden || code == http.StatusTooManyRequests:
		if d, ok := retryAfter(resp.Header, t.now()); ok {
			return d, fmt.Sprintf("%d with Retry-After", code)
		}
		if resp.Header.Get("X-Ratelimit-Remaining") == "0" {
			if reset, err := strconv.ParseInt(resp.Header.Get("X-Ratelimit-Reset"), 10, 64); err == nil {
				// One extra second absorbs clock skew between us and GitHub.
				d := time.Unix(reset, 0).Sub(t.now()) + time.Second
				return max(d, time.Second), fmt.Sprintf("%d rate limit exhausted", code)
			}
		}
		if secondaryRateLimit(resp) {
			return SecondaryRateLimitWait, fmt.Sprintf("%d secondary rate limit", code)
		}
		if code == http.StatusTooManyRequests {
			return max(exp, SecondaryRateLimitWait), "429 too many requests"
		}
		return 0, ""
	case code >= 500 && code <= 599 && code != http.StatusNotImplemented:
		if !idempotent(req.Method) {
			return 0, ""
		}
		if d, ok := retryAfter(resp.Header, t.now()); ok {
			return d, fmt.Sprintf("%d with Retry-After", code)
		}
		return exp, fmt.Sprintf("server error %d", code)
	}
	return 0, ""
}

// secondaryRateLimit recognises GitHub's secondary limit by its message when no
// header says so. It reads the body and puts it back for go-github.
func secondaryRateLimit(resp *http.Response) bool {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyPeek))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if err != nil {
		return false
	}
	return strings.Contains(strings.ToLower(string(data)), "secondary rate limit")
}

// retryAfter parses Retry-After as seconds or as an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodPatch, http.MethodDelete:
		// PATCH is not idempotent in general, but every PATCH this package sends
		// sets fields to fixed values, so repeating it is harmless.
		return true
	}
	return false
}

func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func rewind(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return r, nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("rewind request body for %s %s: %w", req.Method, req.URL.Path, err)
	}
	r.Body = body
	return r, nil
}

// sleepContext waits d or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
