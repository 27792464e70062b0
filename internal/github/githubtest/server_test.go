package githubtest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// recordingTB captures Errorf so the tests can check the server reports what it
// should, without failing themselves.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

func do(t *testing.T, method, url, body string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestServerValidatesAgainstTheDescription(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		path     string
		body     string
		setup    func(*Server)
		wantErr  string // substring of the reported test error; "" for none
		wantCode int
	}{
		{
			name: "valid list", method: "GET", path: "/repos/o/r/issues/1/comments?per_page=100",
			wantCode: 200,
		},
		{
			name: "valid create", method: "POST", path: "/repos/o/r/issues/1/comments", body: `{"body":"hi"}`,
			wantCode: 201,
		},
		{
			name: "path outside the subset", method: "GET", path: "/user/repos",
			wantErr: "unexpected request", wantCode: 404,
		},
		{
			name: "method outside the subset", method: "DELETE", path: "/repos/o/r/issues/comments/1",
			wantErr: "unexpected request", wantCode: 404,
		},
		{
			name: "body missing a required field", method: "POST", path: "/repos/o/r/issues/1/comments", body: `{"text":"hi"}`,
			wantErr: "breaks the OpenAPI description", wantCode: 422,
		},
		{
			name: "query parameter out of range", method: "GET", path: "/repos/o/r/pulls/1/files?per_page=abc",
			wantErr: "breaks the OpenAPI description", wantCode: 422,
		},
		{
			name: "answer that breaks the response schema", method: "POST", path: "/repos/o/r/issues/1/comments", body: `{"body":"hi"}`,
			setup: func(s *Server) {
				s.Fail(OpCreateComment, Fault{Status: 201, Body: `{"id":"not a number"}`})
			},
			wantErr: "response to POST", wantCode: 201,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			s := NewServer(rec, "o", "r")
			if tt.setup != nil {
				tt.setup(s)
			}
			code := do(t, tt.method, s.URL+tt.path, tt.body)
			if code != tt.wantCode {
				t.Errorf("status = %d, want %d", code, tt.wantCode)
			}
			errs := rec.errors()
			if tt.wantErr == "" {
				if len(errs) > 0 {
					t.Errorf("server reported %q, want nothing", errs)
				}
				return
			}
			if len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), tt.wantErr) {
				t.Errorf("server reported %q, want an error containing %q", errs, tt.wantErr)
			}
		})
	}
}

func TestServerPagesWithLinkHeaders(t *testing.T) {
	s := NewServer(t, "o", "r")
	for i := range 5 {
		s.AddComment(1, "u", false, fmt.Sprint(i))
	}
	s.SetPageCap(2)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL+"/repos/o/r/issues/1/comments?page=2", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	link := resp.Header.Get("Link")
	for _, want := range []string{`page=3&per_page=2>; rel="next"`, `page=3&per_page=2>; rel="last"`, `page=1&per_page=2>; rel="prev"`} {
		if !strings.Contains(link, want) {
			t.Errorf("Link = %q, want it to contain %q", link, want)
		}
	}
}
