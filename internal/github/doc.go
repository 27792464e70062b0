// Package github is cvgate's only contact with GitHub: the Actions runtime
// (inputs, masks, outputs, step summary, annotations, event payload) and the
// REST API (sticky PR comments, drift issues, changed files, baseline files,
// release assets).
//
// It deals in strings and small structs (a body, a marker, an annotation) and
// knows nothing of checks or reports. The decisions (which comment is ours,
// when to write) are plain functions over small interfaces (CommentStore,
// IssueStore); Repo is their go-github implementation, and the githubtest
// subpackage serves a spec-validated fake GitHub for tests.
//
// Errors a caller branches on are typed: *AuthError (401), *PermissionError
// (read-only token, e.g. a pull request from a fork), *NotFoundError,
// *RateLimitError, *BodyTooLongError, *LFSPointerError, *GitError. No error or
// log line contains the token.
//
// Nothing here reads os.Getenv or writes os.Stdout: Runtime takes a getenv
// function and a writer.
package github
