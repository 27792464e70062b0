package github

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Event is what cvgate needs to know about the workflow run it is in: the
// environment GitHub sets plus a few fields of the event payload.
type Event struct {
	Name   string // GITHUB_EVENT_NAME: pull_request, push, release, workflow_run, schedule, ...
	Action string // the payload's action: opened, synchronize, published, completed, ...

	Owner, Repo string // from GITHUB_REPOSITORY, else the payload's repository
	SHA         string // GITHUB_SHA
	Ref         string // GITHUB_REF
	RunID       int64  // GITHUB_RUN_ID
	RunAttempt  int64  // GITHUB_RUN_ATTEMPT
	Workflow    string // GITHUB_WORKFLOW (its name)
	Workspace   string // GITHUB_WORKSPACE
	ServerURL   string // GITHUB_SERVER_URL
	APIURL      string // GITHUB_API_URL (GHES: https://HOST/api/v3)
	Actor       string // GITHUB_ACTOR

	PullRequest *PullRequest // pull_request and pull_request_target
	Release     *Release     // release
	WorkflowRun *WorkflowRun // workflow_run
	Push        *Push        // push
	Schedule    string       // schedule: the cron expression, when the payload has it
}

// PullRequest is the pull request an event is about.
type PullRequest struct {
	Number   int
	BaseRef  string
	BaseSHA  string
	HeadRef  string
	HeadSHA  string
	BaseRepo string // owner/name
	HeadRepo string // owner/name
	// Fork is true when the head branch lives in another repository: on
	// pull_request such runs get a read-only token and no secrets.
	Fork bool
}

// Release is a release event's release.
type Release struct {
	ID         int64
	Tag        string
	Name       string
	Draft      bool
	Prerelease bool
}

// WorkflowRun is the run that triggered a workflow_run event: the trusted
// follow-up job that publishes results of an untrusted (fork) run.
type WorkflowRun struct {
	ID         int64
	Name       string
	Event      string // the triggering run's own event, e.g. pull_request
	Conclusion string // success, failure, ... ("" while not completed)
	HeadSHA    string
	HeadBranch string
	HeadRepo   string // owner/name
	// PullRequestNumber is pull_requests[0].number, or 0. GitHub leaves
	// pull_requests empty for runs from forks: the number must then travel in
	// the uploaded artifact.
	PullRequestNumber int
	// Fork is true when the head repository differs from the repository.
	Fork bool
}

// Push is a push event's basics.
type Push struct {
	Ref    string
	Before string
	After  string
}

// PullRequestNumber is the pull request the run is about: the event's own, or
// the one a workflow_run carries; 0 when none.
func (e Event) PullRequestNumber() int {
	switch {
	case e.PullRequest != nil:
		return e.PullRequest.Number
	case e.WorkflowRun != nil:
		return e.WorkflowRun.PullRequestNumber
	}
	return 0
}

// rawEvent mirrors only the payload fields cvgate reads.
type rawEvent struct {
	Action     string   `json:"action"`
	Ref        string   `json:"ref"`
	Before     string   `json:"before"`
	After      string   `json:"after"`
	Schedule   string   `json:"schedule"`
	Repository *rawRepo `json:"repository"`

	PullRequest *struct {
		Number int     `json:"number"`
		Base   rawHead `json:"base"`
		Head   rawHead `json:"head"`
	} `json:"pull_request"`

	Release *struct {
		ID         int64  `json:"id"`
		TagName    string `json:"tag_name"`
		Name       string `json:"name"`
		Draft      bool   `json:"draft"`
		Prerelease bool   `json:"prerelease"`
	} `json:"release"`

	WorkflowRun *struct {
		ID             int64    `json:"id"`
		Name           string   `json:"name"`
		Event          string   `json:"event"`
		Conclusion     *string  `json:"conclusion"`
		HeadSHA        string   `json:"head_sha"`
		HeadBranch     string   `json:"head_branch"`
		HeadRepository *rawRepo `json:"head_repository"`
		Repository     *rawRepo `json:"repository"`
		PullRequests   []struct {
			Number int `json:"number"`
		} `json:"pull_requests"`
	} `json:"workflow_run"`
}

type rawRepo struct {
	FullName string `json:"full_name"`
	Name     string `json:"name"`
	Fork     bool   `json:"fork"`
	Owner    struct {
		Login string `json:"login"`
	} `json:"owner"`
}

type rawHead struct {
	Ref  string   `json:"ref"`
	SHA  string   `json:"sha"`
	Repo *rawRepo `json:"repo"` // null when the fork was deleted
}

// Event reads the run's environment and its event payload (GITHUB_EVENT_PATH).
// Fields the event does not have stay zero; a missing payload path is fine
// (local runs), an unreadable or malformed one is an error.
func (r *Runtime) Event() (Event, error) {
	ctx, err := r.action.Context()
	if err != nil {
		return Event{}, fmt.Errorf("read GitHub Actions context: %w", err)
	}
	ev := Event{
		Name:       ctx.EventName,
		SHA:        ctx.SHA,
		Ref:        ctx.Ref,
		RunID:      ctx.RunID,
		RunAttempt: ctx.RunAttempt,
		Workflow:   ctx.Workflow,
		Workspace:  ctx.Workspace,
		ServerURL:  ctx.ServerURL,
		APIURL:     ctx.APIURL,
		Actor:      ctx.Actor,
	}
	ev.Owner, ev.Repo, _ = strings.Cut(ctx.Repository, "/")

	if ctx.EventPath == "" {
		return ev, nil
	}
	data, err := os.ReadFile(ctx.EventPath)
	if err != nil {
		return Event{}, fmt.Errorf("read event payload %q: %w", ctx.EventPath, err)
	}
	var raw rawEvent
	if err := json.Unmarshal(data, &raw); err != nil {
		return Event{}, fmt.Errorf("parse event payload %q: %w", ctx.EventPath, err)
	}
	fillEvent(&ev, &raw, ctx.BaseRef, ctx.HeadRef)
	return ev, nil
}

func fillEvent(ev *Event, raw *rawEvent, envBaseRef, envHeadRef string) {
	ev.Action = raw.Action
	if ev.Owner == "" && raw.Repository != nil {
		ev.Owner, ev.Repo = raw.Repository.Owner.Login, raw.Repository.Name
	}
	switch ev.Name {
	case "pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment":
		if raw.PullRequest == nil {
			break
		}
		pr := raw.PullRequest
		p := &PullRequest{
			Number:  pr.Number,
			BaseRef: firstNonEmpty(pr.Base.Ref, envBaseRef),
			BaseSHA: pr.Base.SHA,
			HeadRef: firstNonEmpty(pr.Head.Ref, envHeadRef),
			HeadSHA: pr.Head.SHA,
		}
		if pr.Base.Repo != nil {
			p.BaseRepo = pr.Base.Repo.FullName
		}
		if pr.Head.Repo != nil {
			p.HeadRepo = pr.Head.Repo.FullName
			p.Fork = pr.Head.Repo.Fork || !strings.EqualFold(p.HeadRepo, p.BaseRepo)
		} else {
			// The head repository was deleted: it was a fork.
			p.Fork = true
		}
		ev.PullRequest = p
	case "release":
		if raw.Release != nil {
			rel := raw.Release
			ev.Release = &Release{ID: rel.ID, Tag: rel.TagName, Name: rel.Name, Draft: rel.Draft, Prerelease: rel.Prerelease}
		}
	case "workflow_run":
		if raw.WorkflowRun == nil {
			break
		}
		wr := raw.WorkflowRun
		w := &WorkflowRun{ID: wr.ID, Name: wr.Name, Event: wr.Event, HeadSHA: wr.HeadSHA, HeadBranch: wr.HeadBranch}
		if wr.Conclusion != nil {
			w.Conclusion = *wr.Conclusion
		}
		if len(wr.PullRequests) > 0 {
			w.PullRequestNumber = wr.PullRequests[0].Number
		}
		if wr.HeadRepository != nil {
			w.HeadRepo = wr.HeadRepository.FullName
			if wr.Repository != nil {
				w.Fork = !strings.EqualFold(wr.HeadRepository.FullName, wr.Repository.FullName)
			}
		}
		ev.WorkflowRun = w
	case "push":
		ev.Push = &Push{Ref: raw.Ref, Before: raw.Before, After: raw.After}
	case "schedule":
		ev.Schedule = raw.Schedule
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
