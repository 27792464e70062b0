package github

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Comment is an issue or pull request comment, reduced to what upserting needs.
type Comment struct {
	ID        int64
	Body      string
	URL       string // html_url
	Author    string // login
	AuthorBot bool   // the author's type is "Bot" (github-actions[bot], apps)
	CreatedAt time.Time
}

// CommentStore is what UpsertComment needs from a forge. Repo implements it
// with go-github; tests may use a fake.
type CommentStore interface {
	// ListComments returns every comment of issue or pull request number, all
	// pages, oldest first.
	ListComments(ctx context.Context, number int) ([]Comment, error)
	CreateComment(ctx context.Context, number int, body string) (Comment, error)
	UpdateComment(ctx context.Context, id int64, body string) (Comment, error)
	// Identity is who the token writes as: only its comments are ever updated.
	Identity(ctx context.Context) (Identity, error)
}

// Action says what an upsert did.
type Action string

const (
	ActionCreated   Action = "created"
	ActionUpdated   Action = "updated"
	ActionUnchanged Action = "unchanged" // found, body identical, nothing written
	ActionSkipped   Action = "skipped"   // mode off
	ActionClosed    Action = "closed"    // ResolveIssue closed the issue
	ActionNone      Action = "none"      // ResolveIssue found no open issue
)

// Result reports the comment an upsert left in place.
type Result struct {
	ID     int64
	URL    string
	Action Action
}

// CommentMode is the sticky-comment behaviour.
type CommentMode string

const (
	// CommentUpdate edits our newest marked comment, or creates one when there is
	// none. The default.
	CommentUpdate CommentMode = "update"
	// CommentNew always creates a fresh (still marked) comment, leaving older ones.
	CommentNew CommentMode = "new"
	// CommentOff publishes nothing.
	CommentOff CommentMode = "off"
)

// CommentModes lists the allowed values in the order help text shows them.
func CommentModes() []CommentMode { return []CommentMode{CommentUpdate, CommentNew, CommentOff} }

// ParseCommentMode accepts "update", "new" or "off" (case-insensitive).
func ParseCommentMode(s string) (CommentMode, error) {
	var m CommentMode
	err := m.Set(s)
	return m, err
}

func (m CommentMode) String() string { return string(m) }

// Set implements flag.Value.
func (m *CommentMode) Set(s string) error {
	v := CommentMode(strings.ToLower(strings.TrimSpace(s)))
	for _, ok := range CommentModes() {
		if v == ok {
			*m = v
			return nil
		}
	}
	return fmt.Errorf("parse comment mode %q: want one of update, new, off", s)
}

// UnmarshalText implements encoding.TextUnmarshaler (YAML, JSON).
func (m *CommentMode) UnmarshalText(b []byte) error { return m.Set(string(b)) }

// Marker builds the hidden HTML comment that identifies cvgate's comment for one
// target (commentID, e.g. a model path) and, optionally, one workflow, so two
// workflows gating the same model keep separate comments. Characters that could
// end or corrupt an HTML comment ('<', '>', '!', "--", spaces, ':') are
// percent-encoded, so the marker is always one well-formed comment and ids that
// differ give markers that differ.
func Marker(commentID, workflow string) string {
	m := "<!-- cvgate:" + markerEscape(commentID)
	if workflow != "" {
		m += ":" + markerEscape(workflow)
	}
	return m + " -->"
}

func markerEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '/', c == '+', c == '=', c == '@':
			b.WriteByte(c)
		case c == '-' && (i == 0 || s[i-1] != '-'):
			// A single hyphen is kept for readability (my-model.onnx); the second
			// of a pair is encoded so "--" never appears inside the comment.
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// UpsertComment keeps one cvgate comment per marker on issue or pull request
// number.
//
// Ours are the comments written by the token's own identity (svc.Identity: the
// github-actions[bot] user for GITHUB_TOKEN, the token's user or app otherwise)
// whose body starts with marker, as every body this function writes does. A
// comment by anyone else is never touched, whatever it carries: a person or
// another bot that pastes, quotes or forges our marker cannot make cvgate edit
// (and so vouch for) their comment. Among several of ours the newest wins; the
// others are left alone (deleting is not this function's business, and with a
// reply they are context).
//
// body gets the marker prepended when it does not start with it. A body over
// MaxCommentBody is refused with *BodyTooLongError before any request. An
// identical body is not written again (ActionUnchanged). A 404 on the write after
// a successful list is reported as *PermissionError: the list proved the pull
// request exists, so GitHub is hiding a forbidden write.
func UpsertComment(ctx context.Context, svc CommentStore, number int, marker, body string, mode CommentMode) (Result, error) {
	switch mode {
	case CommentOff:
		return Result{Action: ActionSkipped}, nil
	case "", CommentUpdate, CommentNew:
	default:
		return Result{}, fmt.Errorf("upsert comment on #%d: unknown comment mode %q", number, mode)
	}
	body, err := markedBody(number, marker, body)
	if err != nil {
		return Result{}, err
	}
	if mode == CommentNew {
		c, err := svc.CreateComment(ctx, number, body)
		if err != nil {
			return Result{}, fmt.Errorf("create comment on #%d: %w", number, err)
		}
		return Result{ID: c.ID, URL: c.URL, Action: ActionCreated}, nil
	}
	mine, found, err := findOwnComment(ctx, svc, number, marker)
	if err != nil {
		return Result{}, err
	}
	if !found {
		c, err := svc.CreateComment(ctx, number, body)
		if err != nil {
			return Result{}, fmt.Errorf("create comment on #%d: %w", number, hiddenWrite(err))
		}
		return Result{ID: c.ID, URL: c.URL, Action: ActionCreated}, nil
	}
	return updateComment(ctx, svc, number, mine, body)
}

// UpdateOwnComment rewrites our marked comment on number (found as UpsertComment
// finds it) and creates none: ActionNone when there is none. It corrects an earlier
// result that no longer holds without adding a comment to a pull request that never
// had one.
func UpdateOwnComment(ctx context.Context, svc CommentStore, number int, marker, body string) (Result, error) {
	body, err := markedBody(number, marker, body)
	if err != nil {
		return Result{}, err
	}
	mine, found, err := findOwnComment(ctx, svc, number, marker)
	if err != nil || !found {
		return Result{Action: ActionNone}, err
	}
	return updateComment(ctx, svc, number, mine, body)
}

func markedBody(number int, marker, body string) (string, error) {
	if marker == "" {
		return "", fmt.Errorf("upsert comment on #%d: empty marker", number)
	}
	if !strings.HasPrefix(body, marker) {
		body = marker + "\n" + body
	}
	if n := utf8.RuneCountInString(body); n > MaxCommentBody {
		return "", &BodyTooLongError{What: "comment body", Chars: n, Max: MaxCommentBody}
	}
	return body, nil
}

// findOwnComment lists the comments and picks ours. The identity is asked for only when some
// comment carries the marker: with none, there is nothing to adopt.
func findOwnComment(ctx context.Context, svc CommentStore, number int, marker string) (Comment, bool, error) {
	comments, err := svc.ListComments(ctx, number)
	if err != nil {
		return Comment{}, false, fmt.Errorf("list comments of #%d: %w", number, err)
	}
	marked := comments[:0:0]
	for _, c := range comments {
		if strings.HasPrefix(normalizeNewlines(c.Body), marker) {
			marked = append(marked, c)
		}
	}
	if len(marked) == 0 {
		return Comment{}, false, nil
	}
	me, err := svc.Identity(ctx)
	if err != nil {
		return Comment{}, false, fmt.Errorf("find our comment on #%d: %w", number, err)
	}
	mine, found := pickComment(marked, marker, me)
	return mine, found, nil
}

func updateComment(ctx context.Context, svc CommentStore, number int, mine Comment, body string) (Result, error) {
	if normalizeNewlines(mine.Body) == normalizeNewlines(body) {
		return Result{ID: mine.ID, URL: mine.URL, Action: ActionUnchanged}, nil
	}
	c, err := svc.UpdateComment(ctx, mine.ID, body)
	if err != nil {
		return Result{}, fmt.Errorf("update comment %d on #%d: %w", mine.ID, number, hiddenWrite(err))
	}
	url := c.URL
	if url == "" {
		url = mine.URL
	}
	return Result{ID: mine.ID, URL: url, Action: ActionUpdated}, nil
}

// pickComment chooses our comment: by me, starting with the marker, newest.
func pickComment(comments []Comment, marker string, me Identity) (Comment, bool) {
	var best Comment
	found := false
	for _, c := range comments {
		if !me.Owns(c.Author, c.AuthorBot) || !strings.HasPrefix(normalizeNewlines(c.Body), marker) {
			continue
		}
		if !found || newer(c, best) {
			best, found = c, true
		}
	}
	return best, found
}

func newer(a, b Comment) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

// hiddenWrite turns a 404 on a write into the permission problem it stands for.
func hiddenWrite(err error) error {
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return &PermissionError{Method: nf.Method, Path: nf.Path, Status: 404, Message: nf.Message}
	}
	return err
}

// normalizeNewlines makes a body that GitHub stored with CRLF (edits made in the
// browser) compare equal to ours.
func normalizeNewlines(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
