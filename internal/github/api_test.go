package github_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cvgate/cvgate/internal/github"
	"github.com/cvgate/cvgate/internal/github/githubtest"
)

func TestPullFilesAcrossPages(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	var files []githubtest.PullFile
	for i := range 230 {
		files = append(files, githubtest.PullFile{Filename: fmt.Sprintf("src/file%03d.go", i), Status: "modified"})
	}
	files = append(files,
		githubtest.PullFile{Filename: "models/new.onnx", Status: "added"},
		githubtest.PullFile{Filename: "models/v2.onnx", Status: "renamed", PreviousFilename: "models/v1.onnx"},
		githubtest.PullFile{Filename: "models/old.onnx", Status: "removed"},
		githubtest.PullFile{Filename: "models/tuned.ONNX", Status: "modified"},
		githubtest.PullFile{Filename: "docs/onnx.md", Status: "modified"},
	)
	srv.SetPullFiles(prNumber, files)

	got, capped, err := repo.PullFiles(t.Context(), prNumber)
	if err != nil {
		t.Fatal(err)
	}
	if capped || len(got) != len(files) {
		t.Fatalf("PullFiles = %d files (capped %v), want %d", len(got), capped, len(files))
	}
	if n := srv.Calls(githubtest.OpListPullFiles); n != 3 {
		t.Errorf("list calls = %d, want 3 pages of 100", n)
	}
	renamed := got[231]
	if renamed.Status != github.FileRenamed || renamed.PreviousPath != "models/v1.onnx" || renamed.SHA == "" {
		t.Errorf("renamed file = %+v", renamed)
	}

	sel, err := github.SelectFiles(got, []string{"*.onnx"})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range sel {
		paths = append(paths, f.Path)
	}
	// Removed files go; matching is case-sensitive like git paths.
	if want := []string{"models/new.onnx", "models/v2.onnx"}; !slices.Equal(paths, want) {
		t.Errorf("SelectFiles = %q, want %q", paths, want)
	}
}

func TestPullFilesCappedAt3000(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	files := make([]githubtest.PullFile, 3100)
	for i := range files {
		files[i] = githubtest.PullFile{Filename: fmt.Sprintf("f%d", i), Status: "added"}
	}
	srv.SetPullFiles(prNumber, files)
	got, capped, err := repo.PullFiles(t.Context(), prNumber)
	if err != nil {
		t.Fatal(err)
	}
	if !capped || len(got) != github.MaxPullRequestFiles {
		t.Errorf("PullFiles = %d files, capped %v; want %d and capped", len(got), capped, github.MaxPullRequestFiles)
	}
}

func TestMatchPath(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*.onnx", "a.onnx", true},
		{"*.onnx", "models/deep/a.onnx", true},
		{"*.onnx", "a.onnx.bak", false},
		{"models/*.onnx", "models/a.onnx", true},
		{"models/*.onnx", "models/x/a.onnx", false},
		{"models/**/*.onnx", "models/a.onnx", true},
		{"models/**/*.onnx", "models/x/y/a.onnx", true},
		{"models/**/*.onnx", "other/a.onnx", false},
		{"**/candidate.onnx", "a/b/candidate.onnx", true},
		{"models/**", "models/a/b", true},
	}
	for _, tt := range tests {
		got, err := github.MatchPath(tt.pattern, tt.name)
		if err != nil || got != tt.want {
			t.Errorf("MatchPath(%q, %q) = %v, %v; want %v", tt.pattern, tt.name, got, err, tt.want)
		}
	}
	if _, err := github.SelectFiles(nil, []string{"models/[.onnx"}); err == nil {
		t.Error("SelectFiles with a malformed pattern: want an error")
	}
}

func TestFileContent(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	small := []byte("onnx bytes")
	large := bytes.Repeat([]byte{7, 0, 255}, 400_000) // 1.2 MB: over the contents API's inline limit
	pointer, _ := lfsPointer([]byte("real"))
	srv.SetContent("main", "models/small.onnx", small)
	srv.SetContent("main", "models/large.onnx", large)
	srv.SetContent("main", "models/lfs.onnx", pointer)

	got, err := repo.FileContent(t.Context(), "main", "models/small.onnx")
	if err != nil || !bytes.Equal(got, small) {
		t.Fatalf("small = %q, %v", got, err)
	}
	if n := srv.Calls(githubtest.OpGetBlob); n != 0 {
		t.Errorf("small file used the blobs API %d times", n)
	}

	got, err = repo.FileContent(t.Context(), "main", "models/large.onnx")
	if err != nil || !bytes.Equal(got, large) {
		t.Fatalf("large = %d bytes, %v; want %d", len(got), err, len(large))
	}
	if n := srv.Calls(githubtest.OpGetBlob); n != 1 {
		t.Errorf("large file: blobs API calls = %d, want 1", n)
	}

	_, err = repo.FileContent(t.Context(), "main", "models/lfs.onnx")
	var le *github.LFSPointerError
	if !errors.As(err, &le) || le.Path != "models/lfs.onnx" || le.Pointer.Size != 4 {
		t.Errorf("lfs err = %v, want LFSPointerError for models/lfs.onnx of 4 bytes", err)
	}

	_, err = repo.FileContent(t.Context(), "v0.1", "models/small.onnx")
	var nf *github.NotFoundError
	if !errors.As(err, &nf) || !strings.Contains(nf.Resource, "models/small.onnx") {
		t.Errorf("missing ref err = %v, want NotFoundError naming the file", err)
	}
}

func TestFetchFileFallsBackToTheAPI(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	g := newGitRepo(t)
	g.write("models/net.onnx", []byte("from git"))
	pointer, _ := lfsPointer([]byte("not fetched"))
	g.write("models/lfs.onnx", pointer)
	g.commit("base")
	srv.SetContent("feature", "models/net.onnx", []byte("from the API"))
	dst := filepath.Join(t.TempDir(), "baseline.onnx")

	// In the checkout: no request.
	if err := github.FetchFile(t.Context(), github.FileSource{Dir: g.dir, Repo: repo}, "main", "models/net.onnx", dst); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(dst); string(data) != "from git" || srv.TotalCalls() != 0 {
		t.Fatalf("dst = %q after %d requests, want git's content and none", data, srv.TotalCalls())
	}
	// A ref the (shallow) checkout lacks: the API.
	if err := github.FetchFile(t.Context(), github.FileSource{Dir: g.dir, Repo: repo}, "feature", "models/net.onnx", dst); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(dst); string(data) != "from the API" {
		t.Fatalf("dst = %q, want the API's content", data)
	}
	// Neither has it: both reasons, and dst keeps its previous content.
	err := github.FetchFile(t.Context(), github.FileSource{Dir: g.dir, Repo: repo}, "nowhere", "models/net.onnx", dst)
	var ge *github.GitError
	var nf *github.NotFoundError
	if !errors.As(err, &ge) || !errors.As(err, &nf) {
		t.Errorf("err = %v, want both the git and the API reason", err)
	}
	if data, _ := os.ReadFile(dst); string(data) != "from the API" {
		t.Errorf("failed fetch clobbered dst: %q", data)
	}
	// An LFS pointer in git stops the search: the API holds the same pointer.
	calls := srv.TotalCalls()
	err = github.FetchFile(t.Context(), github.FileSource{Dir: g.dir, Repo: repo}, "main", "models/lfs.onnx", dst)
	var le *github.LFSPointerError
	if !errors.As(err, &le) || srv.TotalCalls() != calls {
		t.Errorf("lfs err = %v after %d requests, want LFSPointerError and none", err, srv.TotalCalls()-calls)
	}
	entries, _ := os.ReadDir(filepath.Dir(dst))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestDownloadReleaseAsset(t *testing.T) {
	srv := newServer(t)
	repo, _ := newRepo(t, srv)
	v1 := bytes.Repeat([]byte("v1 model "), 1000)
	v2 := bytes.Repeat([]byte("v2 model "), 1000)
	srv.AddRelease("v1.0.0", false, githubtest.Asset{Name: "model.onnx", Data: v1}, githubtest.Asset{Name: "labels.txt", Data: []byte("a\nb")})
	srv.AddRelease("v1.1.0", false, githubtest.Asset{Name: "model.onnx", Data: v2})
	srv.AddRelease("v2.0.0-rc1", true, githubtest.Asset{Name: "model.onnx", Data: []byte("prerelease")})

	tests := []struct {
		spec    string
		want    []byte
		wantTag string
	}{
		{"release:v1.0.0:model.onnx", v1, "v1.0.0"},
		{"release:latest:model.onnx", v2, "v1.1.0"}, // prereleases are not "latest"
	}
	for _, tt := range tests {
		spec, err := github.ParseReleaseSpec(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		asset, err := repo.DownloadReleaseAsset(t.Context(), spec, &buf)
		if err != nil {
			t.Fatalf("%s: %v", tt.spec, err)
		}
		if !bytes.Equal(buf.Bytes(), tt.want) || asset.Tag != tt.wantTag || asset.Size != int64(len(tt.want)) {
			t.Errorf("%s: got %d bytes from %+v, want %d from %s", tt.spec, buf.Len(), asset, len(tt.want), tt.wantTag)
		}
	}
	downloads := srv.Downloads()
	if len(downloads) != len(tests) {
		t.Fatalf("storage saw %d downloads, want %d", len(downloads), len(tests))
	}
	for _, d := range downloads {
		if d.Auth != "" {
			t.Errorf("the token was sent to the storage host (%s)", d.Path)
		}
	}
	for _, r := range srv.Requests() {
		if r.Auth != "Bearer "+testToken {
			t.Errorf("API request %s %s without the token", r.Method, r.Path)
		}
	}

	var nf *github.NotFoundError
	_, err := repo.DownloadReleaseAsset(t.Context(), github.ReleaseSpec{Tag: "v1.0.0", Asset: "weights.bin"}, &bytes.Buffer{})
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "model.onnx, labels.txt") {
		t.Errorf("missing asset err = %v, want NotFoundError listing the assets", err)
	}
	_, err = repo.DownloadReleaseAsset(t.Context(), github.ReleaseSpec{Tag: "v9", Asset: "model.onnx"}, &bytes.Buffer{})
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), `release "v9"`) {
		t.Errorf("missing release err = %v, want NotFoundError naming the tag", err)
	}
}

func TestParseReleaseSpec(t *testing.T) {
	good := []struct {
		in   string
		want github.ReleaseSpec
	}{
		{"release:v1:model.onnx", github.ReleaseSpec{Tag: "v1", Asset: "model.onnx"}},
		{"release:latest:m.onnx", github.ReleaseSpec{Tag: github.LatestRelease, Asset: "m.onnx"}},
		{"release:v1:a:b.onnx", github.ReleaseSpec{Tag: "v1", Asset: "a:b.onnx"}},
	}
	for _, tt := range good {
		got, err := github.ParseReleaseSpec(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseReleaseSpec(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
	for _, bad := range []string{"git:main", "release:", "release:v1", "release::a", "release:v1:"} {
		if _, err := github.ParseReleaseSpec(bad); err == nil {
			t.Errorf("ParseReleaseSpec(%q): want an error", bad)
		}
	}
}
