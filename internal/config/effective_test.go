package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEffective: `cvgate config` shows every default resolved: no bare empty value is left
// unexplained (resize: "" becomes bilinear, enabled: null true, a threshold left unset says so),
// and the printed file loads back to the same configuration.
func TestEffective(t *testing.T) {
	for _, profile := range []string{"", "full"} {
		t.Run("profile "+profile, func(t *testing.T) {
			var fl []Setting
			if profile != "" {
				fl = flags(t, "--profile", profile)
			}
			c, err := Load(Sources{Dir: t.TempDir(), Flags: fl})
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.Config.Effective()
			if err != nil {
				t.Fatal(err)
			}
			text := string(out)
			for _, bad := range []string{`resize: ""`, "enabled: null", "pad_value: null", `command: ""`} {
				if strings.Contains(text, bad) {
					t.Errorf("effective config shows %q", bad)
				}
			}
			empty := regexp.MustCompile(`: (""|null|\[\])\s*$`)
			for i, line := range strings.Split(text, "\n") {
				if empty.MatchString(line) {
					t.Errorf("line %d %q: an empty value without a comment saying what it means", i+1, line)
				}
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, DefaultFile), out, 0o644); err != nil {
				t.Fatal(err)
			}
			back, err := Load(Sources{Dir: dir})
			if err != nil {
				t.Fatalf("the printed config does not load: %v\n%s", err, text)
			}
			// What it resolved (enabled: true for nil, profile: quick for "") means the same:
			// printed again, the loaded file reads the same.
			again, err := back.Config.Effective()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(text, string(again)); diff != "" {
				t.Errorf("the printed config loads differently (-shown +loaded and shown again):\n%s", diff)
			}
		})
	}
}
