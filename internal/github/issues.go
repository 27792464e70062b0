package github

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Issue is an open issue, reduced to what drift monitoring needs.
type Issue struct {
	Number int
	Title  string
	Body   string
	URL    string // html_url
	State  string // "open" or "closed"
	Labels []string
	// Author and AuthorBot are who opened it: only issues the token's own identity
	// opened are updated or closed.
	Author    string
	AuthorBot bool
}

// NewIssue is the content of an issue to open.
type NewIssue struct {
	Title  string
	Body   string
	Labels []string
}

// IssueUpdate changes an issue; nil fields are left as they are.
type IssueUpdate struct {
	Title       *string
	Body        *string
	State       *string // "open" or "closed"
	StateReason *string // with State "closed": "completed" or "not_planned"
}

// IssueStore is what UpsertIssue and ResolveIssue need. Repo implements it.
type IssueStore interface {
	// ListOpenIssues returns the open issues (not pull requests) carrying label,
	// all pages; label "" lists every open issue.
	ListOpenIssues(ctx context.Context, label string) ([]Issue, error)
	CreateIssue(ctx context.Context, issue NewIssue) (Issue, error)
	UpdateIssue(ctx context.Context, number int, update IssueUpdate) (Issue, error)
	CreateComment(ctx context.Context, number int, body string) (Comment, error)
	// Identity is who the token writes as (see CommentStore).
	Identity(ctx context.Context) (Identity, error)
}

// IssueSpec describes the one issue a monitor keeps open while a condition
// (drift) holds.
type IssueSpec struct {
	Marker string   // hidden marker identifying the issue, see Marker
	Title  string   // used on create, and updated when it changes
	Body   string   // gets the marker prepended when it lacks it
	Labels []string // set on create; Labels[0] also narrows the search
	// Comment, when set, is posted on an existing issue whose body changed, so
	// watchers get a notification; identical runs stay quiet.
	Comment string
}

// IssueResult reports the issue an upsert or resolve acted on.
type IssueResult struct {
	Number int
	URL    string
	Action Action
}

// UpsertIssue opens the issue carrying spec.Marker or brings it up to date.
//
// The issue is looked up among open issues with spec.Labels[0], then, if none
// carries the marker (someone removed the label), among all open issues. Only
// issues opened by the token's own identity count (anyone may open an issue that
// carries the marker). Several matches: the newest (highest number) wins.
func UpsertIssue(ctx context.Context, svc IssueStore, spec IssueSpec) (IssueResult, error) {
	if spec.Marker == "" {
		return IssueResult{}, fmt.Errorf("upsert issue %q: empty marker", spec.Title)
	}
	body := spec.Body
	if !strings.Contains(body, spec.Marker) {
		body = spec.Marker + "\n" + body
	}
	if n := utf8.RuneCountInString(body); n > MaxIssueBody {
		return IssueResult{}, &BodyTooLongError{What: "issue body", Chars: n, Max: MaxIssueBody}
	}
	label := ""
	if len(spec.Labels) > 0 {
		label = spec.Labels[0]
	}
	issue, found, err := findIssue(ctx, svc, spec.Marker, label)
	if err != nil {
		return IssueResult{}, err
	}
	if !found {
		created, err := svc.CreateIssue(ctx, NewIssue{Title: spec.Title, Body: body, Labels: spec.Labels})
		if err != nil {
			return IssueResult{}, fmt.Errorf("create issue %q: %w", spec.Title, err)
		}
		return IssueResult{Number: created.Number, URL: created.URL, Action: ActionCreated}, nil
	}

	var upd IssueUpdate
	bodyChanged := normalizeNewlines(issue.Body) != normalizeNewlines(body)
	if bodyChanged {
		upd.Body = &body
	}
	if spec.Title != "" && issue.Title != spec.Title {
		upd.Title = &spec.Title
	}
	if upd.Body == nil && upd.Title == nil {
		return IssueResult{Number: issue.Number, URL: issue.URL, Action: ActionUnchanged}, nil
	}
	if _, err := svc.UpdateIssue(ctx, issue.Number, upd); err != nil {
		return IssueResult{}, fmt.Errorf("update issue #%d: %w", issue.Number, err)
	}
	if bodyChanged && spec.Comment != "" {
		if _, err := svc.CreateComment(ctx, issue.Number, spec.Comment); err != nil {
			return IssueResult{}, fmt.Errorf("comment on issue #%d: %w", issue.Number, err)
		}
	}
	return IssueResult{Number: issue.Number, URL: issue.URL, Action: ActionUpdated}, nil
}

// ResolveIssue closes the open issue carrying marker (searched as in
// UpsertIssue) after posting comment, when set, to say why. No open issue is not
// an error: ActionNone.
func ResolveIssue(ctx context.Context, svc IssueStore, marker, label, comment string) (IssueResult, error) {
	if marker == "" {
		return IssueResult{}, fmt.Errorf("resolve issue: empty marker")
	}
	issue, found, err := findIssue(ctx, svc, marker, label)
	if err != nil {
		return IssueResult{}, err
	}
	if !found {
		return IssueResult{Action: ActionNone}, nil
	}
	if comment != "" {
		if _, err := svc.CreateComment(ctx, issue.Number, comment); err != nil {
			return IssueResult{}, fmt.Errorf("comment on issue #%d: %w", issue.Number, err)
		}
	}
	closed, completed := "closed", "completed"
	if _, err := svc.UpdateIssue(ctx, issue.Number, IssueUpdate{State: &closed, StateReason: &completed}); err != nil {
		return IssueResult{}, fmt.Errorf("close issue #%d: %w", issue.Number, err)
	}
	return IssueResult{Number: issue.Number, URL: issue.URL, Action: ActionClosed}, nil
}

func findIssue(ctx context.Context, svc IssueStore, marker, label string) (Issue, bool, error) {
	labels := []string{label}
	if label != "" {
		labels = append(labels, "")
	}
	var me *Identity // asked for once some issue carries the marker
	for _, l := range labels {
		issues, err := svc.ListOpenIssues(ctx, l)
		if err != nil {
			return Issue{}, false, fmt.Errorf("list open issues labelled %q: %w", l, err)
		}
		var best Issue
		found := false
		for _, is := range issues {
			if !strings.Contains(is.Body, marker) {
				continue
			}
			if me == nil {
				id, err := svc.Identity(ctx)
				if err != nil {
					return Issue{}, false, fmt.Errorf("find our issue: %w", err)
				}
				me = &id
			}
			if me.Owns(is.Author, is.AuthorBot) && (!found || is.Number > best.Number) {
				best, found = is, true
			}
		}
		if found {
			return best, true, nil
		}
	}
	return Issue{}, false, nil
}
