package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

func readme(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestREADMEDefaults keeps README.md's configuration reference true: its block must decode to
// exactly Defaults().
func TestREADMEDefaults(t *testing.T) {
	text := readme(t)
	_, after, ok := strings.Cut(text, "<!-- config-reference:begin -->")
	block, _, ok2 := strings.Cut(after, "<!-- config-reference:end -->")
	if !ok || !ok2 {
		t.Fatal("README.md lacks the config-reference markers")
	}
	block = strings.TrimSpace(block)
	block = strings.TrimPrefix(block, "```yaml")
	block = strings.TrimSuffix(block, "```")
	var got Config
	dec := yaml.NewDecoder(strings.NewReader(block))
	dec.KnownFields(true)
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("README config reference does not decode: %v", err)
	}
	want := Defaults()
	// Empty and nil lists and maps mean the same to cvgate; compare them as equal.
	if diff := cmp.Diff(want, got, cmpEmpty()); diff != "" {
		t.Errorf("README.md config reference differs from Defaults() (-defaults +README):\n%s", diff)
	}
}

// TestREADMEFlags: every flag is documented in README.md's command-line table.
func TestREADMEFlags(t *testing.T) {
	text := readme(t)
	for _, o := range Options() {
		if o.Flag != "" && !strings.Contains(text, "`--"+o.Flag) {
			t.Errorf("README.md does not document --%s", o.Flag)
		}
		if o.Input != "" && !strings.Contains(text, "`"+o.Input+"`") {
			t.Errorf("README.md does not mention the action input %s", o.Input)
		}
	}
}
