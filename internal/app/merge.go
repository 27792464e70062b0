package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cvgate/cvgate/internal/config"
	"github.com/cvgate/cvgate/report"
)

// maxShardInfoBytes bounds shard.json: it names a few models and digests.
const maxShardInfoBytes = 1 << 20

// runMerge is `cvgate merge [flags as for check] SHARD_DIR...`: the normal check, reading the
// shards' records as a read-only cache, so that every statistic is recomputed from the union of
// their per-image records; what a shard did not produce is computed here.
func (a *App) runMerge(ctx context.Context, args []string) int {
	f := &checkFlags{}
	fs := a.checkFlagSet("merge", f, "Merge the results of sharded runs (cvgate check --shard I/N): check that the shards ran\nthe same models, data, configuration and version and that every shard 0..N-1 is there once,\nthen run the check on the union of their records. Models come from --model or the config;\nthe positional arguments are the shards' output folders.", gateExit)
	dirs, code, ok := a.parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(dirs) == 0 {
		return a.fail(errors.New("merge: name the shards' output folders (e.g. cvgate merge --config .cvgate.yml shard-*/)"))
	}
	ws, err := a.workspace()
	if err != nil {
		return a.fail(err)
	}
	loaded, err := config.Load(config.Sources{File: f.configFile, FileRequired: f.configFile != "", Dir: a.Dir, Flags: f.settings, Workspace: ws})
	if err != nil {
		return a.fail(err)
	}
	if loaded.Runtime.Shard != "" || loaded.Runtime.ShardCount > 0 {
		return a.fail(errors.New("merge: --shard and --shard-count belong to the shards, not to the merge"))
	}
	shards, err := a.readShards(dirs, loaded)
	if err != nil {
		return a.fail(err)
	}
	var recordDirs []string
	for _, d := range dirs {
		recordDirs = append(recordDirs, filepath.Join(a.path(d), recordsDir))
	}
	r, err := a.evaluateWith(ctx, loaded, evalOptions{mergeDirs: recordDirs, verify: func(r *report.Report, models []opened) error {
		return verifyShards(shards, r, models)
	}})
	if err == nil {
		err = verifyBaselines(shards, r)
	}
	if err == nil {
		merged := fmt.Sprintf("merged %d shards (%s)", len(shards), strings.Join(dirs, ", "))
		for _, t := range r.Targets {
			if t.Cache != nil {
				missing := t.Cache.Candidate.Misses
				if t.Cache.Baseline != nil {
					missing += t.Cache.Baseline.Misses
				}
				merged += fmt.Sprintf("; %s: %d records the shards did not produce were computed here", t.Name, missing)
			}
		}
		r.Run.Notes = append(r.Run.Notes, merged)
	}
	return a.finish(r, err, loaded, f.quiet)
}

type namedShard struct {
	dir  string
	info ShardInfo
}

// readShards reads every shard.json and checks that the shards agree with each other and with
// this invocation (version, configuration, seed) and that each index 0..N-1 is there once.
func (a *App) readShards(dirs []string, loaded *config.Loaded) ([]namedShard, error) {
	cd, err := configDigest(loaded.Config)
	if err != nil {
		return nil, err
	}
	var out []namedShard
	for _, d := range dirs {
		p := filepath.Join(a.path(d), "shard.json")
		fh, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("merge: shard %q: %w (is it the output folder of cvgate check --shard?)", d, err)
		}
		b, err := io.ReadAll(io.LimitReader(fh, maxShardInfoBytes+1))
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("merge: read %q: %w", p, err)
		}
		if len(b) > maxShardInfoBytes {
			return nil, fmt.Errorf("merge: %q is larger than %d bytes: not a shard.json", p, maxShardInfoBytes)
		}
		var info ShardInfo
		if err := json.Unmarshal(b, &info); err != nil {
			return nil, fmt.Errorf("merge: read %q: %w", p, err)
		}
		if info.Count < 1 || info.Index < 0 || info.Index >= info.Count {
			return nil, fmt.Errorf("merge: shard %q: index %d of %d is not a shard", d, info.Index, info.Count)
		}
		switch {
		case info.Version != a.Version:
			return nil, fmt.Errorf("merge: shard %q was made by cvgate %q, this is %q", d, info.Version, a.Version)
		case info.ConfigSHA256 != cd:
			return nil, fmt.Errorf("merge: shard %q ran another configuration (digest %.12s, this run %.12s): give the merge the shards' config and flags", d, info.ConfigSHA256, cd)
		case info.Seed != loaded.Seed:
			return nil, fmt.Errorf("merge: shard %q ran seed %d, this run %d", d, info.Seed, loaded.Seed)
		}
		out = append(out, namedShard{dir: d, info: info})
	}
	n := out[0].info.Count
	seen := make([]string, n)
	for _, s := range out {
		if s.info.Count != n {
			return nil, fmt.Errorf("merge: shard %q is one of %d, shard %q one of %d", s.dir, s.info.Count, out[0].dir, n)
		}
		if prev := seen[s.info.Index]; prev != "" {
			return nil, fmt.Errorf("merge: shards %q and %q are both shard %d of %d", prev, s.dir, s.info.Index, n)
		}
		seen[s.info.Index] = s.dir
	}
	var missing []string
	for i, d := range seen {
		if d == "" {
			missing = append(missing, fmt.Sprint(i))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("merge: shard(s) %s of %d missing (given: %s)", strings.Join(missing, ", "), n, strings.Join(dirs, ", "))
	}
	for _, s := range out[1:] {
		if s.info.DataSHA256 != out[0].info.DataSHA256 {
			return nil, fmt.Errorf("merge: shards %q and %q ran on different data", out[0].dir, s.dir)
		}
		if err := sameModels(out[0], s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func sameModels(a, b namedShard) error {
	if len(a.info.Models) != len(b.info.Models) {
		return fmt.Errorf("merge: shards %q and %q checked different models", a.dir, b.dir)
	}
	for i, m := range a.info.Models {
		o := b.info.Models[i]
		if m.SHA256 != o.SHA256 || m.BaselineSHA256 != o.BaselineSHA256 {
			return fmt.Errorf("merge: shards %q and %q checked different bytes of %q", a.dir, b.dir, m.Path)
		}
	}
	return nil
}

// verifyShards checks, before any check runs, that this run reads the shards' data and
// candidates.
func verifyShards(shards []namedShard, r *report.Report, models []opened) error {
	first := shards[0]
	if r.Inputs.Dataset != nil && r.Inputs.Dataset.SHA256 != first.info.DataSHA256 {
		return fmt.Errorf("merge: the data (sha256 %.12s) is not what shard %q ran on (%.12s)", r.Inputs.Dataset.SHA256, first.dir, first.info.DataSHA256)
	}
	if len(models) != len(first.info.Models) {
		return fmt.Errorf("merge: %d models to check, shard %q checked %d", len(models), first.dir, len(first.info.Models))
	}
	for i, m := range models {
		if m.model != nil && m.model.SHA256 != first.info.Models[i].SHA256 {
			return fmt.Errorf("merge: model %q (sha256 %.12s) is not what shard %q checked (%.12s)", m.path, m.model.SHA256, first.dir, first.info.Models[i].SHA256)
		}
	}
	return nil
}

// verifyBaselines checks that the baselines this run resolved are those the shards compared with.
func verifyBaselines(shards []namedShard, r *report.Report) error {
	if r == nil {
		return nil
	}
	for i, t := range r.Targets {
		want := shards[0].info.Models[i].BaselineSHA256
		got := ""
		if t.Baseline != nil {
			got = t.Baseline.SHA256
		}
		if got != want {
			return fmt.Errorf("merge: the baseline of %q (sha256 %.12s) is not the one shard %q compared with (%.12s)", t.Name, got, shards[0].dir, want)
		}
	}
	return nil
}
