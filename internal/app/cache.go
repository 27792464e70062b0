package app

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/checks"
	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/internal/onnxproto"
	"github.com/cvgate/cvgate/internal/predcache"
	"github.com/cvgate/cvgate/report"
)

// recordsDir is where a shard's output folder holds its records.
const recordsDir = "records"

// cacheDir resolves runtime.cache: "off" is none; empty is the runner's tool cache, else
// ~/.cache/cvgate/predictions ($XDG_CACHE_HOME when set), or none when neither is known.
func (a *App) cacheDir(rc config.Runtime) string {
	switch v := strings.TrimSpace(rc.Cache); {
	case v == "off":
		return ""
	case v != "":
		return a.path(v)
	}
	if d := a.getenv("RUNNER_TOOL_CACHE"); d != "" {
		return filepath.Join(d, "cvgate", "predictions")
	}
	if d := a.getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "cvgate", "predictions")
	}
	if d := a.getenv("HOME"); d != "" {
		return filepath.Join(d, ".cache", "cvgate", "predictions")
	}
	return ""
}

// shard resolves runtime.shard, or runtime.shard_count with JOB_COMPLETION_INDEX; nil: no shard.
func (a *App) shard(rc config.Runtime) (*checks.Shard, error) {
	if rc.Shard != "" {
		i, n, err := config.ParseShard(rc.Shard)
		if err != nil {
			return nil, fmt.Errorf("--shard: %w", err)
		}
		return &checks.Shard{Index: i, Count: n}, nil
	}
	if rc.ShardCount == 0 {
		return nil, nil
	}
	v := a.getenv("JOB_COMPLETION_INDEX")
	i, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || i < 0 || i >= rc.ShardCount {
		return nil, fmt.Errorf("--shard-count %d: JOB_COMPLETION_INDEX must be an index in 0..%d, got %q", rc.ShardCount, rc.ShardCount-1, v)
	}
	return &checks.Shard{Index: i, Count: rc.ShardCount}, nil
}

// openCache opens the run's record store: the cache folder (if any), the read-only shard
// folders of a merge, and a shard's export folder below the output folder.
func (s *session) openCache(out string) error {
	opts := predcache.Options{Dir: s.app.cacheDir(s.cfg.Runtime), MaxBytes: s.cfg.Runtime.CacheMaxMB << 20, ReadOnly: s.mergeDirs}
	if s.shard != nil {
		dir := filepath.Join(out, recordsDir)
		// The output folder may be a checkout's: never write records through a planted link.
		if info, err := os.Lstat(dir); err == nil && !info.IsDir() {
			return fmt.Errorf("write shard records: %q exists and is not a folder", dir)
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("write shard records: %w", err)
		}
		// A shard's result is what this run produced: earlier records there are stale.
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("write shard records: %w", err)
		}
		opts.Export = dir
	}
	if opts.Dir == "" && opts.Export == "" && len(opts.ReadOnly) == 0 {
		return nil
	}
	st, err := predcache.Open(opts)
	if err != nil {
		return err
	}
	s.cache = st
	return nil
}

// closeCache writes the store out and adds its notes to the report.
func (s *session) closeCache(r *report.Report) error {
	if s.cache == nil {
		return nil
	}
	err := s.cache.Close()
	defer func() { s.cache = nil }()
	st := s.cache.Stats()
	if st.Rejected > 0 && r != nil {
		r.Run.Notes = append(r.Run.Notes, fmt.Sprintf("prediction cache: %d corrupt, truncated or foreign entries were ignored and deleted (%s)",
			st.Rejected, strings.Join(s.cache.Notes(), "; ")))
	}
	if err != nil {
		return fmt.Errorf("close prediction cache: %w", err)
	}
	return nil
}

// cacheID identifies what decides a model's outputs besides preprocessing and task: the file's
// SHA-256, each external data file's, the runtime version and the execution provider.
func cacheID(file, sum string, proto *onnxproto.Model, ortVersion, provider string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "model %s\nort %s\nprovider %s\n", sum, ortVersion, provider)
	if proto != nil {
		seen := map[string]bool{}
		for _, ext := range proto.ExternalData {
			if seen[ext.Location] {
				continue
			}
			seen[ext.Location] = true
			f, err := os.Open(filepath.Join(filepath.Dir(file), ext.Location))
			if err != nil {
				return "", fmt.Errorf("hash external data %q: %w", ext.Location, err)
			}
			e := sha256.New()
			_, err = io.Copy(e, f)
			f.Close()
			if err != nil {
				return "", fmt.Errorf("hash external data %q: %w", ext.Location, err)
			}
			fmt.Fprintf(h, "external %q %x\n", ext.Location, e.Sum(nil))
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// cacheUse is a target's record counts for the report; nil when it needed none.
func cacheUse(env *checks.Env) *report.CacheUse {
	counts := env.RecordCounts()
	u := &report.CacheUse{IdenticalBaseline: len(counts) > 1 && counts[1].Shared > 0}
	total := int64(0)
	for si, c := range counts {
		ru := report.RecordUse{Hits: c.Hits, Misses: c.Computed, Shared: c.Shared}
		total += c.Hits + c.Computed + c.Shared
		if si == 0 {
			u.Candidate = ru
		} else {
			u.Baseline = &ru
		}
	}
	if total == 0 {
		return nil
	}
	return u
}

// ShardInfo is shard.json: what a shard ran, so that a merge can check that its shards agree.
type ShardInfo struct {
	Version      string         `json:"cvgate_version"`
	Index        int            `json:"index"`
	Count        int            `json:"count"`
	Seed         uint64         `json:"seed"`
	ConfigSHA256 string         `json:"config_sha256"`
	DataSHA256   string         `json:"data_sha256"`
	Models       []ShardModel   `json:"models"`
	Records      predcacheCount `json:"records"`
}

// ShardModel is one target of a shard.
type ShardModel struct {
	Path           string `json:"path"`
	SHA256         string `json:"sha256"`
	BaselineSHA256 string `json:"baseline_sha256,omitempty"`
	// Records are the per-image records the shard produced for the target, per model.
	Records *report.CacheUse `json:"records,omitempty"`
}

type predcacheCount struct {
	// Written is the number of records in the shard's records folder.
	Written int64 `json:"written"`
}

// configDigest hashes the effective configuration without the settings that differ between the
// shards and the merge of one run (output and cache folders, the shard itself).
func configDigest(c config.Config) (string, error) {
	c.Out, c.Runtime.Cache, c.Runtime.Shard, c.Runtime.ShardCount = "", "", "", 0
	b, err := c.Effective()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// shardInfo describes a finished shard run.
func (s *session) shardInfo(r *report.Report, version string) (*ShardInfo, error) {
	cd, err := configDigest(s.cfg.Config)
	if err != nil {
		return nil, err
	}
	info := &ShardInfo{Version: version, Index: s.shard.Index, Count: s.shard.Count, Seed: s.cfg.Seed, ConfigSHA256: cd, Models: []ShardModel{}}
	if r.Inputs.Dataset != nil {
		info.DataSHA256 = r.Inputs.Dataset.SHA256
	}
	for _, t := range r.Targets {
		m := ShardModel{Path: t.Name, SHA256: t.Model.SHA256, Records: t.Cache}
		if t.Baseline != nil {
			m.BaselineSHA256 = t.Baseline.SHA256
		}
		info.Models = append(info.Models, m)
	}
	if s.cache != nil {
		st := s.cache.Stats()
		info.Records.Written = st.Exported
	}
	return info, nil
}

// writeShardInfo writes shard.json into the output folder.
func writeShardInfo(out string, info *ShardInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(out, "shard.json")
	if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("write %q: exists and is not a regular file", p)
	}
	tmp := p + ".tmp"
	os.Remove(tmp)
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %q: %w", p, err)
	}
	return os.Rename(tmp, p)
}
