package github_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/github"
)

// memStore is an in-memory CommentStore: UpsertComment's decisions do not need
// HTTP, and callers can test against the interface the same way.
type memStore struct {
	comments []github.Comment
	writes   int
}

var _ github.CommentStore = (*memStore)(nil)

func (m *memStore) ListComments(context.Context, int) ([]github.Comment, error) {
	return append([]github.Comment(nil), m.comments...), nil
}

func (m *memStore) CreateComment(_ context.Context, _ int, body string) (github.Comment, error) {
	m.writes++
	c := github.Comment{ID: int64(len(m.comments) + 1), Body: body, Author: github.ActionsBot.Login, AuthorBot: true}
	m.comments = append(m.comments, c)
	return c, nil
}

// Identity: the store writes as GitHub Actions' bot, like GITHUB_TOKEN.
func (m *memStore) Identity(context.Context) (github.Identity, error) { return github.ActionsBot, nil }

func (m *memStore) UpdateComment(_ context.Context, id int64, body string) (github.Comment, error) {
	m.writes++
	for i := range m.comments {
		if m.comments[i].ID == id {
			m.comments[i].Body = body
			return m.comments[i], nil
		}
	}
	return github.Comment{}, fmt.Errorf("no comment %d", id)
}

func TestUpsertCommentIgnoresCRLF(t *testing.T) {
	marker := github.Marker("m", "")
	// Bodies edited in the browser come back with CRLF line ends.
	st := &memStore{comments: []github.Comment{{ID: 1, Body: marker + "\r\n| a | b |\r\n", Author: github.ActionsBot.Login, AuthorBot: true}}}
	res, err := github.UpsertComment(t.Context(), st, 1, marker, marker+"\n| a | b |\n", github.CommentUpdate)
	if err != nil || res.Action != github.ActionUnchanged || st.writes != 0 {
		t.Errorf("upsert = %+v, %v, %d writes; want unchanged and no write", res, err, st.writes)
	}
}

func TestUpsertCommentNewestByTime(t *testing.T) {
	marker := github.Marker("m", "")
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// IDs out of time order (imported comments): the creation time decides.
	st := &memStore{comments: []github.Comment{
		{ID: 9, Body: marker, Author: github.ActionsBot.Login, AuthorBot: true, CreatedAt: t0},
		{ID: 3, Body: marker, Author: github.ActionsBot.Login, AuthorBot: true, CreatedAt: t0.Add(time.Hour)},
	}}
	res, err := github.UpsertComment(t.Context(), st, 1, marker, "new", github.CommentUpdate)
	if err != nil || res.ID != 3 {
		t.Errorf("upsert = %+v, %v; want comment 3 (newest)", res, err)
	}
}

// BenchmarkUpsertCommentScan measures finding our comment among GitHub's
// maximum listing of a busy pull request (3000 comments, ours last).
func BenchmarkUpsertCommentScan(b *testing.B) {
	marker := github.Marker("models/net.onnx", "CI")
	st := &memStore{}
	for i := range 3000 {
		body := fmt.Sprintf("review comment %d with some text to scan through", i)
		if i == 2999 {
			body = marker + "\nreport"
		}
		st.comments = append(st.comments, github.Comment{ID: int64(i + 1), Body: body, Author: github.ActionsBot.Login, AuthorBot: true})
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := github.UpsertComment(ctx, st, 1, marker, marker+"\nreport", github.CommentUpdate); err != nil {
			b.Fatal(err)
		}
	}
}
