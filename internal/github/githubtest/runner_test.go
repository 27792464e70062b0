package githubtest_test

import (
	"os"
	"testing"

	"github.com/cvgate/cvgate/internal/github/githubtest"
)

func TestReadOutputs(t *testing.T) {
	path := t.TempDir() + "/output"
	content := "simple=1\nmulti<<EOF_x\nline one\n\nline=three\nEOF_x\nsimple=2\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	got := githubtest.ReadOutputs(t, path)
	if len(got) != 2 || got["simple"] != "2" || got["multi"] != "line one\n\nline=three" {
		t.Errorf("ReadOutputs = %q, want simple=2 and the three-line multi", got)
	}
}
