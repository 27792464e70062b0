package github

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	gogithub "github.com/google/go-github/v60/github"
)

// AuthError is GitHub's 401: the token is missing, malformed, expired or revoked.
// Retrying cannot help; the user must fix the token.
type AuthError struct {
	Method, Path string
	Message      string // GitHub's message, e.g. "Bad credentials"
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("GitHub rejected the token for %s %s (401 %s): it is missing, invalid or expired; pass a valid token", e.Method, e.Path, e.Message)
}

// PermissionError means the token may read but not do what was asked. The usual
// cause is a pull request from a fork, whose GITHUB_TOKEN is read-only. Callers
// branch on it (errors.As) to degrade: write the step summary and outputs, warn
// once, and let the gate alone decide the exit code.
//
// Status is 403 ("Resource not accessible by integration") or 404: GitHub answers
// 404 instead of 403 to writes some token kinds may not make (fine-grained and
// app tokens without access). UpsertComment reports a 404 on create or update as a
// PermissionError because the list call before it proved the pull request exists.
type PermissionError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("the token may not %s %s (%d %s): it is read-only (as on pull requests from forks) or lacks the permission; "+
		"grant it (e.g. pull-requests: write, issues: write) or publish from a trusted workflow_run job",
		e.Method, e.Path, e.Status, e.Message)
}

// NotFoundError is a 404 on a read: the resource (pull request, file at a ref,
// release tag, asset) does not exist or the token cannot see it.
type NotFoundError struct {
	Resource     string // what was looked for, e.g. `release "v1.2.0"`
	Method, Path string
	Message      string
}

func (e *NotFoundError) Error() string {
	if e.Method == "" {
		return fmt.Sprintf("%s not found", e.Resource)
	}
	return fmt.Sprintf("%s not found (%s %s: 404 %s)", e.Resource, e.Method, e.Path, e.Message)
}

// RateLimitError is a primary or secondary rate limit that outlasted the client's
// retry budget. Reset is when the primary limit resets (zero if unknown);
// RetryAfter is the wait GitHub asked for (zero if it did not say).
type RateLimitError struct {
	Method, Path string
	Status       int
	Message      string
	Reset        time.Time
	RetryAfter   time.Duration
}

func (e *RateLimitError) Error() string {
	var when string
	switch {
	case e.RetryAfter > 0:
		when = fmt.Sprintf("; GitHub asked to wait %s", e.RetryAfter)
	case !e.Reset.IsZero():
		when = fmt.Sprintf("; the limit resets at %s", e.Reset.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("GitHub rate limit on %s %s (%d %s)%s", e.Method, e.Path, e.Status, e.Message, when)
}

// APIError is any other non-2xx answer.
type APIError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("GitHub answered %s %s with %d %s", e.Method, e.Path, e.Status, e.Message)
}

// BodyTooLongError refuses a comment or issue body over GitHub's limit before any
// request is made; the caller trims (e.g. drops details) and tries again.
type BodyTooLongError struct {
	What  string // "comment body" or "issue body"
	Chars int
	Max   int
}

func (e *BodyTooLongError) Error() string {
	return fmt.Sprintf("%s has %d characters, over GitHub's limit of %d: trim it before publishing", e.What, e.Chars, e.Max)
}

// classify turns go-github's errors into this package's typed errors. resource
// names what a 404 was looking for. The token never reaches a message: the typed
// errors carry only method, path and GitHub's message, and anything else passes
// through redact.
func (c *Client) classify(err error, resource string) error {
	if err == nil {
		return nil
	}
	var rl *gogithub.RateLimitError
	if errors.As(err, &rl) {
		m, p := reqOf(rl.Response)
		return &RateLimitError{Method: m, Path: p, Status: statusOf(rl.Response), Message: c.redact(rl.Message), Reset: rl.Rate.Reset.Time}
	}
	var abuse *gogithub.AbuseRateLimitError
	if errors.As(err, &abuse) {
		m, p := reqOf(abuse.Response)
		e := &RateLimitError{Method: m, Path: p, Status: statusOf(abuse.Response), Message: c.redact(abuse.Message)}
		if abuse.RetryAfter != nil {
			e.RetryAfter = *abuse.RetryAfter
		}
		return e
	}
	var twoFactor *gogithub.TwoFactorAuthError
	if errors.As(err, &twoFactor) {
		m, p := reqOf(twoFactor.Response)
		return &AuthError{Method: m, Path: p, Message: c.redact(twoFactor.Message)}
	}
	var er *gogithub.ErrorResponse
	if errors.As(err, &er) {
		m, p := reqOf(er.Response)
		msg := c.redact(er.Message)
		status := statusOf(er.Response)
		switch {
		case status == http.StatusUnauthorized:
			return &AuthError{Method: m, Path: p, Message: msg}
		case status == http.StatusTooManyRequests,
			status == http.StatusForbidden && strings.Contains(strings.ToLower(msg), "rate limit"):
			return &RateLimitError{Method: m, Path: p, Status: status, Message: msg}
		case status == http.StatusForbidden:
			return &PermissionError{Method: m, Path: p, Status: status, Message: msg}
		case status == http.StatusNotFound:
			return &NotFoundError{Resource: resource, Method: m, Path: p, Message: msg}
		default:
			return &APIError{Method: m, Path: p, Status: status, Message: msg}
		}
	}
	var accepted *gogithub.AcceptedError
	if errors.As(err, &accepted) {
		return &APIError{Status: http.StatusAccepted, Message: "accepted, not ready yet"}
	}
	return c.redactErr(err)
}

func reqOf(r *http.Response) (method, path string) {
	if r == nil || r.Request == nil || r.Request.URL == nil {
		return "", ""
	}
	return r.Request.Method, r.Request.URL.Path
}

func statusOf(r *http.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}

// redact removes the token from s. GitHub never echoes a token, but a proxy or a
// transport error might; cheap insurance.
func (c *Client) redact(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "***")
}

func (c *Client) redactErr(err error) error {
	if err == nil || c.token == "" || !strings.Contains(err.Error(), c.token) {
		return err
	}
	return &redactedError{msg: c.redact(err.Error()), err: err}
}

// redactedError keeps the cause reachable for errors.Is/As (context.Canceled,
// net errors) while its message hides the token.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
