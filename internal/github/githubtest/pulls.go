package githubtest

import (
	"fmt"
	"net/http"
)

// Pull is a stored pull request, reduced to what its GET answer needs.
type Pull struct {
	HeadSHA  string
	HeadRef  string
	HeadRepo string // owner/name; the server's own repository when empty
	BaseSHA  string
	State    string // "open" when empty
}

// SetPull stores pull request number for GET /repos/{owner}/{repo}/pulls/{number}.
func (s *Server) SetPull(number int, p Pull) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pulls[number] = p
}

// getPull answers from the description's example, with the stored fields filled in.
func (s *Server) getPull(w http.ResponseWriter, number int) {
	p, ok := s.pulls[number]
	if !ok {
		s.writeError(w, http.StatusNotFound, "Not Found", nil)
		return
	}
	if p.State == "" {
		p.State = "open"
	}
	if p.HeadRepo == "" {
		p.HeadRepo = s.Owner + "/" + s.Repo
	}
	o := s.object("pull-request")
	// GitHub's example predates the schema's required team "type"; no team reviewers here.
	o["requested_teams"] = []any{}
	o["number"] = number
	o["state"] = p.State
	o["url"] = fmt.Sprintf("%s/repos/%s/%s/pulls/%d", s.URL, s.Owner, s.Repo, number)
	o["html_url"] = fmt.Sprintf("%s/%s/%s/pull/%d", s.URL, s.Owner, s.Repo, number)
	head := o["head"].(map[string]any)
	head["sha"] = p.HeadSHA
	if p.HeadRef != "" {
		head["ref"] = p.HeadRef
	}
	repo := head["repo"].(map[string]any)
	repo["full_name"] = p.HeadRepo
	repo["fork"] = p.HeadRepo != s.Owner+"/"+s.Repo
	base := o["base"].(map[string]any)
	if p.BaseSHA != "" {
		base["sha"] = p.BaseSHA
	}
	base["repo"].(map[string]any)["full_name"] = s.Owner + "/" + s.Repo
	s.writeJSON(w, http.StatusOK, o)
}
