package github

import (
	"context"
	"fmt"
	"strings"
)

// GetPullRequest reads pull request number as GitHub has it now: `cvgate publish` compares its
// head commit with the run whose report it is about to post, so that an artifact from an
// untrusted run cannot steer the comment to another pull request.
func (r *Repo) GetPullRequest(ctx context.Context, number int) (PullRequest, error) {
	pr, _, err := r.c.gh.PullRequests.Get(ctx, r.owner, r.name, number)
	if err != nil {
		return PullRequest{}, r.c.classify(err, fmt.Sprintf("pull request #%d in %s", number, r.FullName()))
	}
	out := PullRequest{
		Number:   pr.GetNumber(),
		BaseRef:  pr.GetBase().GetRef(),
		BaseSHA:  pr.GetBase().GetSHA(),
		HeadRef:  pr.GetHead().GetRef(),
		HeadSHA:  pr.GetHead().GetSHA(),
		BaseRepo: pr.GetBase().GetRepo().GetFullName(),
		HeadRepo: pr.GetHead().GetRepo().GetFullName(),
	}
	out.Fork = pr.GetHead().GetRepo() == nil || !strings.EqualFold(out.HeadRepo, out.BaseRepo)
	return out, nil
}
