package github

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// GitError is a git command that failed; it names the command and carries git's
// own explanation (stderr), e.g. "fatal: invalid object name 'main'" in a
// shallow checkout.
type GitError struct {
	Dir    string
	Args   []string
	Stderr string
	Err    error
}

func (e *GitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("run %q in %q: %s", "git "+strings.Join(e.Args, " "), e.Dir, msg)
}

func (e *GitError) Unwrap() error { return e.Err }

// maxGitStderr bounds how much of git's stderr an error keeps.
const maxGitStderr = 4 << 10

// runGit runs git in dir and returns its stdout.
func runGit(ctx context.Context, dir string, args ...string) ([]byte, error) {
	var out bytes.Buffer
	if err := streamGit(ctx, dir, &out, args...); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// streamGit runs git in dir with stdout going to w.
func streamGit(ctx context.Context, dir string, w io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Stdout = w
	var stderr limitedBuffer
	stderr.max = maxGitStderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return &GitError{Dir: dir, Args: args, Stderr: stderr.String(), Err: err}
	}
	return nil
}

// checkRef refuses revisions git would read as options.
func checkRef(what, ref string) error {
	if ref == "" || strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, "\x00\n") {
		return fmt.Errorf("check %s %q: not a git revision", what, ref)
	}
	return nil
}

type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
