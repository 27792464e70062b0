package github

import (
	"context"
	"fmt"

	gogithub "github.com/google/go-github/v60/github"
)

// ListComments lists every comment of issue or pull request number, following
// the Link header's next page until GitHub stops giving one.
func (r *Repo) ListComments(ctx context.Context, number int) ([]Comment, error) {
	opts := &gogithub.IssueListCommentsOptions{ListOptions: gogithub.ListOptions{PerPage: MaxPerPage}}
	var out []Comment
	for range maxPages {
		page, resp, err := r.c.gh.Issues.ListComments(ctx, r.owner, r.name, number, opts)
		if err != nil {
			return nil, r.c.classify(err, fmt.Sprintf("issue or pull request #%d in %s", number, r.FullName()))
		}
		for _, c := range page {
			out = append(out, commentOf(c))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
	return out, fmt.Errorf("list comments of #%d: more than %d pages", number, maxPages)
}

// CreateComment posts a comment on issue or pull request number.
func (r *Repo) CreateComment(ctx context.Context, number int, body string) (Comment, error) {
	c, _, err := r.c.gh.Issues.CreateComment(ctx, r.owner, r.name, number, &gogithub.IssueComment{Body: &body})
	if err != nil {
		return Comment{}, r.c.classify(err, fmt.Sprintf("issue or pull request #%d in %s", number, r.FullName()))
	}
	return commentOf(c), nil
}

// UpdateComment replaces the body of comment id.
func (r *Repo) UpdateComment(ctx context.Context, id int64, body string) (Comment, error) {
	c, _, err := r.c.gh.Issues.EditComment(ctx, r.owner, r.name, id, &gogithub.IssueComment{Body: &body})
	if err != nil {
		return Comment{}, r.c.classify(err, fmt.Sprintf("comment %d in %s", id, r.FullName()))
	}
	return commentOf(c), nil
}

func commentOf(c *gogithub.IssueComment) Comment {
	return Comment{
		ID:        c.GetID(),
		Body:      c.GetBody(),
		URL:       c.GetHTMLURL(),
		Author:    c.GetUser().GetLogin(),
		AuthorBot: c.GetUser().GetType() == "Bot",
		CreatedAt: c.GetCreatedAt().Time,
	}
}

// ListOpenIssues lists open issues with label ("" for all), every page. The
// issues endpoint also returns pull requests; they are dropped.
func (r *Repo) ListOpenIssues(ctx context.Context, label string) ([]Issue, error) {
	opts := &gogithub.IssueListByRepoOptions{State: "open", ListOptions: gogithub.ListOptions{PerPage: MaxPerPage}}
	if label != "" {
		opts.Labels = []string{label}
	}
	var out []Issue
	for range maxPages {
		page, resp, err := r.c.gh.Issues.ListByRepo(ctx, r.owner, r.name, opts)
		if err != nil {
			return nil, r.c.classify(err, "repository "+r.FullName())
		}
		for _, is := range page {
			if is.IsPullRequest() {
				continue
			}
			out = append(out, issueOf(is))
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
	return out, fmt.Errorf("list open issues of %s: more than %d pages", r.FullName(), maxPages)
}

// CreateIssue opens an issue.
func (r *Repo) CreateIssue(ctx context.Context, issue NewIssue) (Issue, error) {
	req := &gogithub.IssueRequest{Title: &issue.Title, Body: &issue.Body}
	if len(issue.Labels) > 0 {
		labels := append([]string(nil), issue.Labels...)
		req.Labels = &labels
	}
	is, _, err := r.c.gh.Issues.Create(ctx, r.owner, r.name, req)
	if err != nil {
		return Issue{}, r.c.classify(err, "repository "+r.FullName())
	}
	return issueOf(is), nil
}

// UpdateIssue edits issue number.
func (r *Repo) UpdateIssue(ctx context.Context, number int, u IssueUpdate) (Issue, error) {
	req := &gogithub.IssueRequest{Title: u.Title, Body: u.Body, State: u.State, StateReason: u.StateReason}
	is, _, err := r.c.gh.Issues.Edit(ctx, r.owner, r.name, number, req)
	if err != nil {
		return Issue{}, r.c.classify(err, fmt.Sprintf("issue #%d in %s", number, r.FullName()))
	}
	return issueOf(is), nil
}

func issueOf(is *gogithub.Issue) Issue {
	out := Issue{
		Number: is.GetNumber(),
		Title:  is.GetTitle(),
		Body:   is.GetBody(),
		URL:    is.GetHTMLURL(),
		State:  is.GetState(),

		Author:    is.GetUser().GetLogin(),
		AuthorBot: is.GetUser().GetType() == "Bot",
	}
	for _, l := range is.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}
