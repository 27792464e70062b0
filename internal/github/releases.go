package github

import (
	"context"
	"fmt"
	"io"
	"strings"

	gogithub "github.com/google/go-github/v60/github"
)

// LatestRelease as a ReleaseSpec tag means the repository's latest release
// (GitHub's notion: the newest non-draft, non-prerelease one).
const LatestRelease = "latest"

// ReleaseSpec names one asset of one release: "release:TAG:ASSET" or
// "release:latest:ASSET".
type ReleaseSpec struct {
	Tag   string
	Asset string
}

// ParseReleaseSpec parses "release:TAG:ASSET". Git forbids ':' in tag names, so
// the first ':' after the tag ends it and the asset name may hold colons.
func ParseReleaseSpec(s string) (ReleaseSpec, error) {
	rest, ok := strings.CutPrefix(s, "release:")
	if !ok {
		return ReleaseSpec{}, fmt.Errorf("parse release baseline %q: want release:<tag|latest>:<asset>", s)
	}
	tag, asset, ok := strings.Cut(rest, ":")
	if !ok || tag == "" || asset == "" {
		return ReleaseSpec{}, fmt.Errorf("parse release baseline %q: want release:<tag|latest>:<asset>", s)
	}
	return ReleaseSpec{Tag: tag, Asset: asset}, nil
}

func (s ReleaseSpec) String() string { return "release:" + s.Tag + ":" + s.Asset }

// ReleaseAsset describes the downloaded asset.
type ReleaseAsset struct {
	ID   int64
	Name string
	Size int64
	Tag  string // the release's tag (resolved for "latest")
}

// DownloadReleaseAsset finds spec's release and asset and streams the asset to
// w. The API answers the download with a redirect to a storage host, which is
// followed without the token.
func (r *Repo) DownloadReleaseAsset(ctx context.Context, spec ReleaseSpec, w io.Writer) (ReleaseAsset, error) {
	var (
		rel *gogithub.RepositoryRelease
		err error
	)
	if spec.Tag == LatestRelease {
		rel, _, err = r.c.gh.Repositories.GetLatestRelease(ctx, r.owner, r.name)
		err = r.c.classify(err, "latest release of "+r.FullName())
	} else {
		rel, _, err = r.c.gh.Repositories.GetReleaseByTag(ctx, r.owner, r.name, spec.Tag)
		err = r.c.classify(err, fmt.Sprintf("release %q of %s", spec.Tag, r.FullName()))
	}
	if err != nil {
		return ReleaseAsset{}, fmt.Errorf("get %s: %w", spec, err)
	}
	var names []string
	var asset *gogithub.ReleaseAsset
	for _, a := range rel.Assets {
		names = append(names, a.GetName())
		if a.GetName() == spec.Asset {
			asset = a
		}
	}
	if asset == nil {
		return ReleaseAsset{}, &NotFoundError{Resource: fmt.Sprintf("asset %q in release %q of %s (assets: %s)",
			spec.Asset, rel.GetTagName(), r.FullName(), strings.Join(names, ", "))}
	}
	out := ReleaseAsset{ID: asset.GetID(), Name: asset.GetName(), Size: int64(asset.GetSize()), Tag: rel.GetTagName()}
	rc, redirect, err := r.c.gh.Repositories.DownloadReleaseAsset(ctx, r.owner, r.name, asset.GetID(), r.c.download)
	if err != nil {
		return out, fmt.Errorf("download %s: %w", spec, r.c.classify(err, fmt.Sprintf("asset %q", spec.Asset)))
	}
	if rc == nil {
		// go-github returns the redirect instead of following it only when given
		// no client; guard anyway rather than dereference nil.
		return out, fmt.Errorf("download %s: unexpected redirect to %s", spec, redactURL(redirect))
	}
	defer rc.Close()
	n, err := io.Copy(w, rc)
	if err != nil {
		return out, fmt.Errorf("download %s: %w", spec, r.c.redactErr(err))
	}
	if out.Size > 0 && n != out.Size {
		return out, fmt.Errorf("download %s: got %d bytes, the release lists %d", spec, n, out.Size)
	}
	return out, nil
}

// redactURL drops the query (signed storage URLs carry credentials there).
func redactURL(u string) string {
	base, _, _ := strings.Cut(u, "?")
	return base
}
