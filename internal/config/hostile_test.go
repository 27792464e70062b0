package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cvgate/cvgate/internal/confine"
)

// TestHostileConfigFiles: the config file comes from the pull request too. A symlink to a file
// outside the workspace, a FIFO, /dev/zero or a huge file is refused with a message naming it,
// before anything is decoded; none of them blocks or fills memory.
func TestHostileConfigFiles(t *testing.T) {
	base := t.TempDir()
	ws, outside := filepath.Join(base, "ws"), filepath.Join(base, "outside")
	for _, d := range []string{ws, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(outside+"/secret.yml", []byte("version: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for target, name := range map[string]string{outside + "/secret.yml": "leak.yml", "/dev/zero": "zero.yml"} {
		if err := os.Symlink(target, filepath.Join(ws, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(ws, "fifo.yml"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := "version: 1\n# " + strings.Repeat("x", MaxFileBytes) + "\n"
	if err := os.WriteFile(filepath.Join(ws, "big.yml"), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := confine.Open(ws)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	tests := []struct {
		file string
		root *confine.Root
		want string
	}{
		{"leak.yml", root, "leads (through a symlink) outside the workspace"},
		{"zero.yml", root, "leads (through a symlink) outside the workspace"},
		{"fifo.yml", root, "is a FIFO (named pipe), not a regular file"},
		{"big.yml", root, "over the 1.0 MiB limit"},
		{outside + "/secret.yml", root, "is outside the workspace"},
		{"zero.yml", nil, "is a character device, not a regular file"},
		{"fifo.yml", nil, "is a FIFO"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.file, tt.root != nil), func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := Load(Sources{File: tt.file, FileRequired: true, Dir: ws, Workspace: tt.root})
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("Load(%s) = %v, want %q", tt.file, err, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Load blocked")
			}
		})
	}
	// The default file is optional; a missing one inside a workspace still means "defaults".
	if _, err := Load(Sources{Dir: ws, Workspace: root}); err != nil {
		t.Errorf("no .cvgate.yml in a confined workspace: %v", err)
	}
}

// billionLaughs is a YAML file in which each anchor aliases the previous one ten times: a naive
// walk visits 10^levels nodes.
func billionLaughs(levels int) string {
	var b strings.Builder
	b.WriteString("version: 1\nmodel_card:\n  owners: &l0 [lol]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "x%d: &l%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// aliasBomb is a config whose n profiles all alias one mapping of n unknown keys: a walk that
// follows every alias reports n*n problems (and runs the did-you-mean search n*n times).
func aliasBomb(n int) string {
	var b strings.Builder
	b.WriteString("version: 1\nprofiles:\n  p0: &big {")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "k%d: 1", i)
	}
	b.WriteString("}\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  p%d: *big\n", i)
	}
	return b.String()
}

// TestAliasBomb: a file of 50 KB that an alias-following walk turns into 9 million problems is
// refused in well under a second, each aliased node checked once, and the message stays short.
func TestAliasBomb(t *testing.T) {
	for _, bomb := range []string{aliasBomb(3000), billionLaughs(9)} {
		p := writeConfig(t, bomb)
		start := time.Now()
		_, err := Load(Sources{File: p, FileRequired: true})
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("took %s", took)
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "unknown key") {
			t.Fatalf("error %v, want a validation error naming the unknown keys", err)
		}
		if len(ve.Problems) > maxProblems+1 || (len(bomb) > 10000 && !strings.Contains(err.Error(), "more problems")) {
			t.Errorf("%d problems reported; want at most %d and a count of the rest", len(ve.Problems), maxProblems+1)
		}
	}
	// Aliases where they are allowed still decode (under the decoder's own expansion limit).
	p := writeConfig(t, "version: 1\nchecks: &c [perf.metrics]\nskip: *c\n")
	c, err := Load(Sources{File: p, FileRequired: true})
	if err != nil || len(c.Skip) != 1 {
		t.Errorf("a plain alias: %v %v", c, err)
	}
}

func TestRuntimeLimitCeilings(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"runtime: {timeout: 0s}", "runtime.timeout: must be positive and at most 24h0m0s"},
		{"runtime: {timeout: 48h}", "runtime.timeout: must be positive and at most 24h0m0s"},
		{"runtime: {pass_timeout: -1s}", "runtime.pass_timeout"},
		{"runtime: {max_pixels: 10000000000}", "runtime.max_pixels: must be between 1 and 1000000000"},
		{"runtime: {max_aspect: 0.5}", "runtime.max_aspect"},
		{"runtime: {max_file_mb: 0}", "runtime.max_file_mb"},
		{"runtime: {memory_mb: 100000000}", "runtime.memory_mb: must be between 64 and 262144"},
	}
	for _, tt := range tests {
		_, err := Load(Sources{File: writeConfig(t, "version: 1\n"+tt.yaml+"\n"), FileRequired: true})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.yaml, err, tt.want)
		}
	}
	c, err := Load(Sources{File: writeConfig(t, "version: 1\nruntime: {timeout: 2h, max_pixels: 100000000, memory_mb: 16384}\n"), FileRequired: true})
	if err != nil || c.Runtime.Timeout != 2*time.Hour || c.Runtime.MaxPixels != 1e8 || c.Runtime.MemoryMB != 16384 {
		t.Errorf("raised limits: %+v %v", c.Runtime, err)
	}
}

// FuzzConfig decodes arbitrary config files. Whatever the bytes: no panic, a nil or
// *ValidationError result, problems on one line each, and a valid result within the runtime
// limits' ceilings.
func FuzzConfig(f *testing.F) {
	for _, s := range []string{
		"version: 1\n",
		"version: 1\nmodels: [a.onnx]\ndata: d\nruntime: {timeout: 1m, max_pixels: 1000}\n",
		"version: 1\nthresholds:\n  perf.metrics: {min_accuracy: 0.9}\nprofiles:\n  release: {fail_on: warn}\n",
		"version: 1\nthresholds: {robust.invariance: {transforms: [\"rotate:8\", \"shift:0.1,0\"]}}\n",
		billionLaughs(3),
		"version: 2\n",
		"- a\n- b\n",
		"version: 1\nruntime: [1, 2]\n",
		"version: 1\nprofile: full\n",
		"version: 1\n? [a]\n: b\n",
		"version: 1\nout: \"a\\r\\n::set-output name=x::y\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 64<<10 {
			return // real files are small; Load caps them at MaxFileBytes
		}
		fc, problems, err := decodeFile("f.yml", raw, Defaults())
		if err == nil && len(problems) > 0 {
			err = newValidationError(problems)
		}
		if err == nil {
			err = fc.Config.Validate()
		}
		if err == nil {
			r := fc.Config.Runtime
			if r.Timeout <= 0 || r.Timeout > maxRunTimeout || r.MaxPixels > maxPixelsCeiling || r.MemoryMB > 1<<18 {
				t.Fatalf("valid config beyond the ceilings: %+v", r)
			}
			return
		}
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("error %T %v, want a *ValidationError", err, err)
		}
		for _, p := range ve.Problems {
			if strings.ContainsAny(p, "\r\n") {
				t.Errorf("problem spans lines: %q", p)
			}
		}
	})
}
