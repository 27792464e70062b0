package dataset

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadLabelsFile(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
		wantErr    []string
	}{
		{name: "order kept", text: "zebra\napple\nmango\n", want: []string{"zebra", "apple", "mango"}},
		{name: "trailing blank lines", text: "a\nb\n\n  \n\n", want: []string{"a", "b"}},
		{name: "no final newline", text: "a\nb", want: []string{"a", "b"}},
		{name: "BOM, CRLF and padding", text: "\ufeffa\r\n  b c \r\n", want: []string{"a", "b c"}},
		{name: "duplicate", text: "a\nb\nc\nb\n", wantErr: []string{`class "b" appears twice (lines 2 and 4)`}},
		{name: "blank inside", text: "a\n\nb\n", wantErr: []string{"line 2: empty class name"}},
		{name: "empty file", text: "", wantErr: []string{"no class names"}},
		{name: "only blank lines", text: "\n \n", wantErr: []string{"no class names"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "labels.txt", []byte(tt.text))
			c, err := ReadLabelsFile(path)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("ReadLabelsFile succeeded with %q; want an error", c.Names)
				}
				for _, w := range append(tt.wantErr, path) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.Names); diff != "" {
				t.Errorf("Names (-want +got):\n%s", diff)
			}
			if !strings.Contains(c.Source, path) {
				t.Errorf("Source %q does not name the file", c.Source)
			}
			for i, n := range tt.want {
				if got, ok := c.Index(n); !ok || got != i {
					t.Errorf("Index(%q) = %d, %v; want %d", n, got, ok, i)
				}
			}
		})
	}
	if _, err := ReadLabelsFile(filepath.Join(t.TempDir(), "missing.txt")); err == nil || !strings.Contains(err.Error(), "open labels file") {
		t.Errorf("missing file: err = %v, want an open error", err)
	}
}

func TestFolderClasses(t *testing.T) {
	tests := []struct {
		name       string
		folders    []string
		outputs    int
		want       []string
		wantSource string
		// index maps a folder name to its expected output index.
		index map[string]int
	}{
		{
			name: "integers are indices", folders: []string{"2", "0", "1"},
			want: []string{"0", "1", "2"}, wantSource: "output indices",
			index: map[string]int{"0": 0, "1": 1, "2": 2},
		},
		{
			name: "subset of classes padded to the outputs", folders: []string{"7", "3"}, outputs: 10,
			want: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, wantSource: "output indices",
			index: map[string]int{"3": 3, "7": 7},
		},
		{
			name: "folder beyond the outputs still gets its index", folders: []string{"0", "5"}, outputs: 3,
			want: []string{"0", "1", "2", "3", "4", "5"}, wantSource: "output indices",
			index: map[string]int{"5": 5},
		},
		{
			name: "names are sorted", folders: []string{"dog", "cat", "Bird"},
			want: []string{"Bird", "cat", "dog"}, wantSource: "sorted",
			index: map[string]int{"Bird": 0, "cat": 1, "dog": 2},
		},
		{
			// "01" is not the canonical spelling of 1, so the names are sorted as strings.
			name: "zero-padded numbers are names", folders: []string{"10", "01", "2"},
			want: []string{"01", "10", "2"}, wantSource: "sorted",
			index: map[string]int{"01": 0, "10": 1, "2": 2},
		},
		{
			name: "negative numbers are names", folders: []string{"-1", "1"},
			want: []string{"-1", "1"}, wantSource: "sorted",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := append([]string(nil), tt.folders...)
			c, err := FolderClasses(input, tt.outputs)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.Names); diff != "" {
				t.Errorf("Names (-want +got):\n%s", diff)
			}
			if !strings.Contains(c.Source, tt.wantSource) {
				t.Errorf("Source %q does not say %q", c.Source, tt.wantSource)
			}
			if diff := cmp.Diff(tt.folders, input); diff != "" {
				t.Errorf("FolderClasses modified its argument (-before +after):\n%s", diff)
			}
			for name, want := range tt.index {
				if got, ok := c.Index(name); !ok || got != want {
					t.Errorf("Index(%q) = %d, %v; want %d", name, got, ok, want)
				}
			}
		})
	}
}

func TestClassesIndex(t *testing.T) {
	named, err := NewClasses([]string{"cat", "dog", "bird"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	numericNames, err := NewClasses([]string{"10", "20", "cat"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		c      *Classes
		label  string
		want   int
		wantOK bool
	}{
		{name: "name", c: named, label: "dog", want: 1, wantOK: true},
		{name: "integer label is an index", c: named, label: "2", want: 2, wantOK: true},
		{name: "index past the end", c: named, label: "3"},
		{name: "negative index", c: named, label: "-1"},
		{name: "unknown name", c: named, label: "cow"},
		{name: "names are case-sensitive", c: named, label: "Dog"},
		{name: "numeric class name", c: numericNames, label: "20", want: 1, wantOK: true},
		// When a class name is an integer, "1" could mean index 1 or a class called "1": no guess.
		{name: "no index lookup when names are numeric", c: numericNames, label: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.c.Index(tt.label)
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("Index(%q) = %d, %v; want %d, %v", tt.label, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestNewClassesErrors(t *testing.T) {
	if _, err := NewClasses([]string{"a", "", "b"}, "x"); err == nil || !strings.Contains(err.Error(), "line 2: empty class name") {
		t.Errorf("empty name: err = %v", err)
	}
	if _, err := NewClasses([]string{"a", "b", "a"}, "x"); err == nil || !strings.Contains(err.Error(), `"a" appears twice (lines 1 and 3)`) {
		t.Errorf("duplicate: err = %v", err)
	}
}

func TestClassesResolve(t *testing.T) {
	c, err := NewClasses([]string{"cat", "dog"}, `labels file "labels.txt"`)
	if err != nil {
		t.Fatal(err)
	}
	l := &Listing{Source: "data/m.csv", Entries: []Entry{
		{Path: "a.png", LabelName: "dog"},
		{Path: "b.png"}, // unlabelled rows map to -1
		{Path: "c.png", LabelName: "1"},
		{Path: "d.png", LabelName: "cat"},
	}}
	got, err := c.Resolve(l)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{1, -1, 1, 0}, got); diff != "" {
		t.Errorf("Resolve (-want +got):\n%s", diff)
	}

	l.Entries = append(l.Entries, Entry{Path: "imgs/e.png", LabelName: "cow"})
	_, err = c.Resolve(l)
	if err == nil {
		t.Fatal("Resolve accepted an unknown label")
	}
	for _, w := range []string{`"cow"`, `"imgs/e.png"`, "data/m.csv", `labels file "labels.txt"`, "cat, dog"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestResolvePreviewsManyClasses(t *testing.T) {
	names := make([]string, 20)
	for i := range names {
		names[i] = fmt.Sprintf("c%02d", i)
	}
	c, err := NewClasses(names, "test")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(&Listing{Entries: []Entry{{Path: "a.png", LabelName: "zz"}}})
	if err == nil {
		t.Fatal("Resolve accepted an unknown label")
	}
	if !strings.Contains(err.Error(), "c11, ... (8 more)") || strings.Contains(err.Error(), "c12") {
		t.Errorf("error %q should list the first 12 classes and count the rest", err)
	}
}
