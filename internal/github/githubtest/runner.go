package githubtest

import (
	"os"
	"strings"
	"testing"
)

// ReadOutputs parses a GITHUB_OUTPUT file as the runner does: "name=value" lines and multi-line
// "name<<DELIMITER" blocks ending at a line that is exactly DELIMITER. A later value of a name
// replaces an earlier one.
func ReadOutputs(t testing.TB, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("githubtest: read GITHUB_OUTPUT: %v", err)
	}
	out := map[string]string{}
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if name, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(name, "=") {
			var val []string
			closed := false
			for i++; i < len(lines); i++ {
				if lines[i] == delim {
					closed = true
					break
				}
				val = append(val, lines[i])
			}
			if !closed {
				t.Fatalf("githubtest: GITHUB_OUTPUT: %q is never closed by %q", name, delim)
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		if name, val, ok := strings.Cut(line, "="); ok {
			out[name] = val
		}
	}
	return out
}
