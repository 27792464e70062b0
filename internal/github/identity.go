package github

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Identity is who a token acts as on GitHub: the author of every comment and issue it writes.
// UpsertComment and UpsertIssue update only what this identity wrote, so a comment or issue
// that anyone else made, however it is marked, is never adopted.
type Identity struct {
	Login string // e.g. "octocat", "github-actions[bot]", "my-app[bot]"
	Bot   bool   // the author's type is "Bot" (apps, including GitHub Actions)
	// Source says how the identity was found, for the log.
	Source string
}

// Owns reports whether the comment or issue author login/bot is this identity. Logins are
// case-insensitive on GitHub; the type must match too, so a user account can never pass for a
// bot (and "[" "]" cannot occur in a user's login, so no one can register "x[bot]").
func (id Identity) Owns(login string, bot bool) bool {
	return id.Login != "" && strings.EqualFold(id.Login, login) && id.Bot == bot
}

func (id Identity) String() string {
	kind := "user"
	if id.Bot {
		kind = "bot"
	}
	return fmt.Sprintf("%s (%s, %s)", id.Login, kind, id.Source)
}

// ActionsBot is the identity of a workflow's GITHUB_TOKEN: GitHub documents that what the token
// creates is attributed to the github-actions[bot] user, of type Bot, and the token itself
// cannot ask (GET /user answers 403 "Resource not accessible by integration" for installation
// tokens).
var ActionsBot = Identity{Login: "github-actions[bot]", Bot: true, Source: "GITHUB_TOKEN's documented author"}

// Identity finds the token's identity once per client:
//
//  1. GET /user: a personal access token (classic or fine-grained) or an OAuth token answers
//     with its user (a machine user too); skipped for a token in the installation format
//     ("ghs_"), for which GitHub answers 403;
//  2. on 403, the token is an installation token (GITHUB_TOKEN, or a GitHub App's): GET /app
//     names the app, whose comments are by "<slug>[bot]" (GitHub documents the endpoint for app
//     JWTs; when it refuses an installation token, step 3);
//  3. otherwise ActionsBot, GITHUB_TOKEN's documented author. For another app's token whose
//     GET /app is refused, this finds no earlier comment and a new one is created: a duplicate,
//     never a hijack.
//
// A 401 (bad token) or an outage on GET /user is returned as an error: without an identity
// nothing is updated. Callers ask only when a comment or issue carries their marker.
func (r *Repo) Identity(ctx context.Context) (Identity, error) { return r.c.Identity(ctx) }

// Identity is Repo.Identity for the client's token, cached after the first success.
func (c *Client) Identity(ctx context.Context) (Identity, error) {
	c.idMu.Lock()
	defer c.idMu.Unlock()
	if c.identity != nil {
		return *c.identity, nil
	}
	id, err := c.findIdentity(ctx)
	if err != nil {
		return Identity{}, err
	}
	c.identity = &id
	return id, nil
}

func (c *Client) findIdentity(ctx context.Context) (Identity, error) {
	if c.token == "" {
		return Identity{}, errors.New("find the token's identity: no token (anonymous requests cannot write)")
	}
	if strings.HasPrefix(c.token, installationTokenPrefix) {
		return c.appIdentity(ctx), nil
	}
	u, _, err := c.gh.Users.Get(ctx, "")
	if err == nil {
		if u.GetLogin() == "" {
			return Identity{}, errors.New("find the token's identity: GET /user answered without a login")
		}
		return Identity{Login: u.GetLogin(), Bot: u.GetType() == "Bot", Source: "GET /user"}, nil
	}
	err = c.classify(err, "the authenticated user")
	var pe *PermissionError
	if !errors.As(err, &pe) {
		return Identity{}, fmt.Errorf("find the token's identity: %w", err)
	}
	return c.appIdentity(ctx), nil
}

// installationTokenPrefix starts GitHub App installation tokens (GITHUB_TOKEN among them) in
// GitHub's documented token formats ("ghs_": server-to-server); GET /user is known to answer
// 403 for them, so it is skipped.
const installationTokenPrefix = "ghs_"

// appIdentity is steps 2 and 3 of Identity.
func (c *Client) appIdentity(ctx context.Context) Identity {
	app, _, err := c.gh.Apps.Get(ctx, "")
	if err == nil && app.GetSlug() != "" {
		return Identity{Login: app.GetSlug() + "[bot]", Bot: true, Source: "GET /app"}
	}
	return ActionsBot
}
