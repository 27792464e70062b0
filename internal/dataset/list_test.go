package dataset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// entryView is the part of an Entry a test states; File is checked separately because it holds the
// temporary directory.
type entryView struct {
	Path, Label string
	Attrs       []string
}

func views(l *Listing) []entryView {
	var out []entryView
	for _, e := range l.Entries {
		out = append(out, entryView{e.Path, e.LabelName, e.Attrs})
	}
	return out
}

func TestListFolders(t *testing.T) {
	root := t.TempDir()
	for _, rel := range []string{
		"cat/b.png",
		"cat/a.png",
		"cat/sub/deeper/c.png", // nested folders belong to their top-level class
		"cat/.hidden.png",      // hidden files are ignored (e.g. macOS "._x.png" resource forks)
		"cat/.thumbs/d.png",    // hidden folders inside a class are ignored
		"dog/x.PNG",            // extensions are case-insensitive
		".git/e.png",           // hidden top-level folders are not classes
	} {
		pngFile(t, root, rel, 0)
	}
	writeFile(t, root, "cat/notes.txt", []byte("not an image"))
	writeFile(t, root, "docs/readme.md", []byte("# no images here")) // a class without images, like "empty"
	writeFile(t, root, "README.md", []byte("top-level non-image files are fine"))
	if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}

	l, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	if l.Kind != "folders" || l.Source != root {
		t.Errorf("Kind, Source = %q, %q; want folders, %q", l.Kind, l.Source, root)
	}
	// Empty class folders still count: dropping them would shift the index of later classes.
	if diff := cmp.Diff([]string{"cat", "docs", "dog", "empty"}, l.FolderClasses); diff != "" {
		t.Errorf("FolderClasses (-want +got):\n%s", diff)
	}
	want := []entryView{
		{Path: "cat/a.png", Label: "cat"},
		{Path: "cat/b.png", Label: "cat"},
		{Path: "cat/sub/deeper/c.png", Label: "cat"},
		{Path: "dog/x.PNG", Label: "dog"},
	}
	if diff := cmp.Diff(want, views(l)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	for _, e := range l.Entries {
		if e.File != filepath.Join(root, filepath.FromSlash(e.Path)) {
			t.Errorf("entry %q: File %q is not under the root", e.Path, e.File)
		}
	}
}

func TestListUnlabelledFolder(t *testing.T) {
	root := t.TempDir()
	pngFile(t, root, "b.png", 0)
	pngFile(t, root, "a.jpeg", 0) // the extension decides listing, not the content
	pngFile(t, root, ".hidden.png", 0)
	pngFile(t, root, ".cache/c.png", 0)
	writeFile(t, root, "notes.txt", []byte("x"))
	if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	if l.Kind != "unlabelled folder" || l.FolderClasses != nil {
		t.Errorf("Kind = %q, FolderClasses = %v; want an unlabelled folder without classes", l.Kind, l.FolderClasses)
	}
	want := []entryView{{Path: "a.jpeg"}, {Path: "b.png"}}
	if diff := cmp.Diff(want, views(l)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

func TestListErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   []string // written as small PNGs
		other   map[string]string
		source  string // relative to the temp dir; "" means the temp dir itself
		wantErr []string
	}{
		{
			name:    "class folders and top-level images",
			files:   []string{"cat/a.png", "stray.png"},
			wantErr: []string{"both class folders and 1 images", "stray.png", "manifest"},
		},
		{
			name:    "no images",
			other:   map[string]string{"notes.txt": "x", "sub/readme.md": "y"},
			wantErr: []string{"no images found", ".png"},
		},
		{
			name:    "missing source",
			source:  "does-not-exist",
			wantErr: []string{"open data", "does-not-exist"},
		},
		{
			name:    "unsupported file",
			other:   map[string]string{"data.txt": "x"},
			source:  "data.txt",
			wantErr: []string{"not a directory or a .csv/.jsonl manifest"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tt.files {
				pngFile(t, root, f, 0)
			}
			for f, s := range tt.other {
				writeFile(t, root, f, []byte(s))
			}
			src := filepath.Join(root, tt.source)
			_, err := List(src)
			if err == nil {
				t.Fatal("List succeeded; want an error")
			}
			for _, w := range append(tt.wantErr, src) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestListCSV(t *testing.T) {
	dir := t.TempDir()
	pngFile(t, dir, "imgs/a.png", 0)
	pngFile(t, dir, "imgs/b c.png", 1)
	abs := pngFile(t, t.TempDir(), "elsewhere.png", 2)
	manifest := writeFile(t, dir, "m.csv", []byte(
		"\ufeffPath, Label ,camera,site\n"+
			"imgs/a.png,cat,canon,north\n"+
			"\n"+ // blank lines are skipped
			"\"imgs/b c.png\", dog ,\"nikon, d50\",south\n"+
			abs+",3,,east\n"))
	l, err := List(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if l.Kind != "manifest" || l.Source != manifest {
		t.Errorf("Kind, Source = %q, %q", l.Kind, l.Source)
	}
	if diff := cmp.Diff([]string{"camera", "site"}, l.Attributes); diff != "" {
		t.Errorf("Attributes (-want +got):\n%s", diff)
	}
	want := []entryView{
		{Path: "imgs/a.png", Label: "cat", Attrs: []string{"canon", "north"}},
		{Path: "imgs/b c.png", Label: "dog", Attrs: []string{"nikon, d50", "south"}},
		// An absolute path is shown relative to the manifest, so reports match across machines.
		{Path: relSlash(t, dir, abs), Label: "3", Attrs: []string{"", "east"}},
	}
	if diff := cmp.Diff(want, views(l)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	wantFiles := []string{filepath.Join(dir, "imgs", "a.png"), filepath.Join(dir, "imgs", "b c.png"), abs}
	for i, e := range l.Entries {
		if e.File != wantFiles[i] {
			t.Errorf("entry %d File = %q, want %q (relative paths resolve against the manifest's folder)", i, e.File, wantFiles[i])
		}
	}
}

func TestListCSVColumnNames(t *testing.T) {
	dir := t.TempDir()
	pngFile(t, dir, "a.png", 0)
	tests := []struct {
		name, csv string
		want      []entryView
		attrs     []string
	}{
		{name: "filename and class", csv: "filename,class\na.png,x\n", want: []entryView{{Path: "a.png", Label: "x"}}},
		{name: "image_path and target", csv: "id,image_path,target\n7,a.png,0\n", want: []entryView{{Path: "a.png", Label: "0", Attrs: []string{"7"}}}, attrs: []string{"id"}},
		{name: "path only is unlabelled", csv: "file\na.png\n", want: []entryView{{Path: "a.png"}}},
		{name: "path is preferred over image", csv: "image,path\nother,a.png\n", want: []entryView{{Path: "a.png", Attrs: []string{"other"}}}, attrs: []string{"image"}},
		{name: "CRLF line ends", csv: "path,label\r\na.png,x\r\n", want: []entryView{{Path: "a.png", Label: "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := List(writeFile(t, dir, "m.csv", []byte(tt.csv)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, views(l)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.attrs, l.Attributes); diff != "" {
				t.Errorf("Attributes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListCSVErrors(t *testing.T) {
	dir := t.TempDir()
	pngFile(t, dir, "a.png", 0)
	if err := os.Mkdir(filepath.Join(dir, "folder.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, csv string
		wantErr   []string
	}{
		{
			name: "missing file",
			// The blank line and the quoted newline make record numbers and line numbers differ.
			csv:     "path,label,note\na.png,x,\"two\nlines\"\n\nmissing.png,y,z\n",
			wantErr: []string{"line 5", `"missing.png" not found`, "relative to the manifest"},
		},
		{name: "too few fields", csv: "path,label\na.png,x\na.png\n", wantErr: []string{"line 3", "1 fields, the header has 2"}},
		{name: "too many fields", csv: "path,label\na.png,x,extra\n", wantErr: []string{"line 2", "3 fields, the header has 2"}},
		{name: "empty label", csv: "path,label\na.png,x\na.png, \n", wantErr: []string{"line 3", `empty label for "a.png"`}},
		{name: "empty path", csv: "path,label\n,x\n", wantErr: []string{"line 2", "empty path"}},
		{name: "directory", csv: "path\nfolder.png\n", wantErr: []string{"line 2", "is a directory"}},
		{name: "no path column", csv: "name,label\na.png,x\n", wantErr: []string{"no path column", `"name,label"`, "path, file"}},
		{name: "empty file", csv: "", wantErr: []string{"the file is empty", "header row"}},
		{name: "header only", csv: "path,label\n", wantErr: []string{"no rows after the header"}},
		{name: "bad quoting", csv: "path,label\n\"a.png,x\n", wantErr: []string{"read manifest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			manifest := writeFile(t, dir, "m.csv", []byte(tt.csv))
			_, err := List(manifest)
			if err == nil {
				t.Fatal("List succeeded; want an error")
			}
			for _, w := range append(tt.wantErr, manifest) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestListJSONL(t *testing.T) {
	dir := t.TempDir()
	pngFile(t, dir, "a.png", 0)
	pngFile(t, dir, "sub/b.png", 1)
	for _, ext := range []string{".jsonl", ".ndjson"} {
		t.Run(ext, func(t *testing.T) {
			manifest := writeFile(t, dir, "m"+ext, []byte(
				`{"path": "a.png", "label": 3, "site": "n", "camera": "c"}`+"\n"+
					"\n"+
					`{"camera": null, "zoom": 2.5, "Label": "cat", "flag": true, "file": "sub/b.png", "box": [1, 2]}`+"\n"))
			l, err := List(manifest)
			if err != nil {
				t.Fatal(err)
			}
			// Attribute columns appear in first-seen order, each row's new keys sorted.
			if diff := cmp.Diff([]string{"camera", "site", "box", "flag", "zoom"}, l.Attributes); diff != "" {
				t.Errorf("Attributes (-want +got):\n%s", diff)
			}
			want := []entryView{
				{Path: "a.png", Label: "3", Attrs: []string{"c", "n", "", "", ""}},
				{Path: "sub/b.png", Label: "cat", Attrs: []string{"", "", "[1,2]", "true", "2.5"}},
			}
			if diff := cmp.Diff(want, views(l)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if got := l.Entries[1].File; got != filepath.Join(dir, "sub", "b.png") {
				t.Errorf("File = %q, want it resolved against the manifest's folder", got)
			}
		})
	}
}

func TestListJSONLErrors(t *testing.T) {
	dir := t.TempDir()
	pngFile(t, dir, "a.png", 0)
	tests := []struct {
		name, jsonl string
		wantErr     []string
	}{
		{name: "missing file after a blank line", jsonl: `{"path":"a.png"}` + "\n\n" + `{"path":"gone.png"}`, wantErr: []string{"line 3", `"gone.png" not found`}},
		{name: "not JSON", jsonl: `{"path":"a.png"}` + "\npath,label\n", wantErr: []string{"line 2", "not a JSON object"}},
		{name: "JSON array", jsonl: `["a.png"]`, wantErr: []string{"line 1", "not a JSON object"}},
		{name: "no path key", jsonl: `{"label":"x"}`, wantErr: []string{"line 1", "no path key"}},
		{name: "path not a string", jsonl: `{"path":3}`, wantErr: []string{"line 1", `"path" must be a string`}},
		{name: "empty label", jsonl: `{"path":"a.png","label":""}`, wantErr: []string{"line 1", "empty label"}},
		{name: "null label", jsonl: `{"path":"a.png","label":null}`, wantErr: []string{"line 1", "empty label"}},
		{name: "no rows", jsonl: "\n\n", wantErr: []string{"no rows"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			manifest := writeFile(t, dir, "m.jsonl", []byte(tt.jsonl))
			_, err := List(manifest)
			if err == nil {
				t.Fatal("List succeeded; want an error")
			}
			for _, w := range append(tt.wantErr, manifest) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestIsImage(t *testing.T) {
	for name, want := range map[string]bool{
		"a.png": true, "A.JPG": true, "b.jpeg": true, "c.gif": true, "d.bmp": true, "e.webp": true,
		"f.tif": true, "g.TIFF": true, "h.txt": false, "png": false, "i.png.bak": false, "": false,
	} {
		if got := IsImage(name); got != want {
			t.Errorf("IsImage(%q) = %v, want %v", name, got, want)
		}
	}
}

func relSlash(t *testing.T, dir, p string) string {
	t.Helper()
	r, err := filepath.Rel(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.ToSlash(r)
}

// TestListFolderWithManifest: a folder holding manifest.csv is described by it, not by its layout.
func TestListFolderWithManifest(t *testing.T) {
	dir := t.TempDir()
	pngFile(t, dir, "a.png", 0)
	pngFile(t, dir, "b.png", 1)
	writeFile(t, dir, "manifest.csv", []byte("path,label,site\na.png,cat,north\nb.png,dog,south\n"))
	l, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l.Kind != "manifest" || filepath.Base(l.Source) != "manifest.csv" {
		t.Fatalf("Kind %q Source %q, want the folder's manifest", l.Kind, l.Source)
	}
	if len(l.Entries) != 2 || l.Entries[1].LabelName != "dog" || l.Attributes[0] != "site" {
		t.Errorf("entries %+v attributes %v", views(l), l.Attributes)
	}
}
