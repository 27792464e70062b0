// Package dataset finds labelled images (class-per-folder directories, CSV or JSONL manifests, or a
// plain folder of unlabelled images), decodes each image exactly once, in parallel, into a compact
// store, and maps labels to the model's class indices explicitly.
package dataset

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cvgate/cvgate/internal/confine"
)

// Extensions are the image file types cvgate reads.
var imageExtensions = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".bmp": true, ".webp": true, ".tif": true, ".tiff": true,
}

// IsImage reports whether a file name has an image extension cvgate reads.
func IsImage(name string) bool { return imageExtensions[strings.ToLower(filepath.Ext(name))] }

// Entry is one listed image before decoding.
type Entry struct {
	Path      string   // as shown to users: relative to the dataset root, slash-separated
	File      string   // the file to open
	LabelName string   // "" when unlabelled
	Attrs     []string // values of the manifest's attribute columns
	// Truth is the image's ground truth for tasks other than classification (its boxes, its
	// mask), as the task's reader made it; nil for classification, whose label is LabelName.
	Truth any
}

// Listing is the result of List.
type Listing struct {
	Source     string // the folder or manifest given
	Kind       string // "folders", "manifest" or "unlabelled folder"
	Entries    []Entry
	Attributes []string // manifest attribute columns, in file order
	// FolderClasses are the class folder names, for class-per-folder datasets.
	FolderClasses []string
	// reader is the Reader that listed it; Load reads the images through it.
	reader *Reader
}

// Reader lists and reads datasets: every file it opens is a regular file (never a device or a
// FIFO), inside Root after resolving symlinks, and read under Limits. Data, manifests and labels
// come from whoever opened the pull request, so a symlink in a class folder, a manifest row
// naming /etc/passwd or ../../secret, or /dev/zero must be refused before anything is read.
type Reader struct {
	// Root confines every file to the workspace; nil reads anywhere (--allow-outside-workspace).
	Root *confine.Root
	// Limits bound bytes, pixels and the decoded store; zero fields are DefaultLimits'.
	Limits Limits
}

// List finds the images of a dataset with a Reader that confines nothing (devices and FIFOs are
// still refused, and DefaultLimits apply). See Reader.List.
func List(source string) (*Listing, error) { return (&Reader{}).List(source) }

// List finds the images of a dataset: a directory with one sub-folder per class, a directory of
// unlabelled images, or a manifest (.csv or .jsonl) with a path column, an optional label column
// and any attribute columns.
func (r *Reader) List(source string) (*Listing, error) {
	st, err := r.Root.Stat(source)
	if err != nil {
		return nil, fmt.Errorf("open data %q: %w", source, err)
	}
	var l *Listing
	switch {
	case st.IsDir():
		l, err = r.listDir(source)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("open data %q: %w", source, &confine.NotRegularError{Path: source, Mode: st.Mode()})
	default:
		l, err = r.listManifest(source)
	}
	if err != nil {
		return nil, err
	}
	l.reader = r
	return l, nil
}

func (r *Reader) listManifest(source string) (*Listing, error) {
	parse := parseCSV
	switch strings.ToLower(filepath.Ext(source)) {
	case ".csv":
	case ".jsonl", ".ndjson":
		parse = parseJSONL
	default:
		return nil, fmt.Errorf("open data %q: not a directory or a .csv/.jsonl manifest", source)
	}
	raw, err := r.Root.ReadFile(source, r.Limits.fileBytes())
	if err != nil {
		return nil, fmt.Errorf("open manifest %q: %w", source, err)
	}
	dir := filepath.Dir(source)
	return parse(source, bytes.NewReader(raw), func(line int, p string) (Entry, error) {
		return r.manifestEntry(source, dir, line, p)
	})
}

// ManifestNames are the manifest files a data folder may hold at its top level; when one is
// there, it describes the folder (labels and attributes) instead of the folder layout.
var manifestNames = []string{"manifest.csv", "manifest.jsonl"}

func (r *Reader) listDir(root string) (*Listing, error) {
	for _, name := range manifestNames {
		p := filepath.Join(root, name)
		if st, err := os.Lstat(p); err == nil && !st.IsDir() {
			return r.List(p)
		}
	}
	l := &Listing{Source: root}
	dirents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read data folder %q: %w", root, err)
	}
	var topImages []string
	classImages := 0 // class folders that hold at least one image
	for _, d := range dirents {
		name := d.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if d.IsDir() {
			var files []string
			err := filepath.WalkDir(filepath.Join(root, name), func(p string, de fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if de.IsDir() && strings.HasPrefix(de.Name(), ".") && p != filepath.Join(root, name) {
					return filepath.SkipDir
				}
				// Hidden files too: macOS leaves "._x.png" resource forks beside every image.
				if !de.IsDir() && !strings.HasPrefix(de.Name(), ".") && IsImage(de.Name()) {
					if err := r.checkListed(p, de.Type()); err != nil {
						return err
					}
					files = append(files, p)
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("read class folder %q: %w", filepath.Join(root, name), err)
			}
			// An empty class folder is still a class: dropping it would shift the index of every
			// class sorted after it (torchvision's ImageFolder counts it too).
			l.FolderClasses = append(l.FolderClasses, name)
			if len(files) == 0 {
				continue
			}
			classImages++
			sort.Strings(files)
			for _, f := range files {
				l.Entries = append(l.Entries, Entry{Path: rel(root, f), File: f, LabelName: name})
			}
			continue
		}
		if IsImage(name) {
			p := filepath.Join(root, name)
			if err := r.checkListed(p, d.Type()); err != nil {
				return nil, fmt.Errorf("read data folder %q: %w", root, err)
			}
			topImages = append(topImages, p)
		}
	}
	if classImages == 0 {
		l.FolderClasses = nil
	}
	switch {
	case len(l.FolderClasses) > 0 && len(topImages) > 0:
		return nil, fmt.Errorf("read data folder %q: it has both class folders and %d images at the top level (e.g. %s); move them into class folders, or use a manifest",
			root, len(topImages), quoteOdd(filepath.Base(topImages[0])))
	case len(l.FolderClasses) > 0:
		l.Kind = "folders"
	case len(topImages) > 0:
		l.Kind = "unlabelled folder"
		sort.Strings(topImages)
		for _, f := range topImages {
			l.Entries = append(l.Entries, Entry{Path: rel(root, f), File: f})
		}
	default:
		return nil, fmt.Errorf("read data folder %q: no images found (looked for %s in class sub-folders or at the top level)", root, extList())
	}
	return l, nil
}

// checkListed refuses a listed file that is a symlink leading out of the workspace, or a device,
// FIFO or socket, before anything reads it. A plain file in a listed folder needs no check (the
// folder was checked); a dangling symlink is left for decoding to report as unreadable.
func (r *Reader) checkListed(p string, typ fs.FileMode) error {
	switch {
	case typ.IsRegular():
		return nil
	case typ&fs.ModeSymlink != 0:
		st, err := r.Root.Stat(p)
		var outside *confine.OutsideError
		if errors.As(err, &outside) {
			return err
		}
		if err == nil && !st.Mode().IsRegular() {
			return &confine.NotRegularError{Path: p, Mode: st.Mode()}
		}
		return nil
	}
	return &confine.NotRegularError{Path: p, Mode: typ}
}

func extList() string {
	var exts []string
	for e := range imageExtensions {
		exts = append(exts, e)
	}
	sort.Strings(exts)
	return strings.Join(exts, " ")
}

func rel(root, p string) string {
	r, err := filepath.Rel(root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(r)
}

var (
	pathColumns  = []string{"path", "file", "filename", "image", "image_path"}
	labelColumns = []string{"label", "class", "target", "y"}
)

func findColumn(header []string, names []string) int {
	for _, n := range names {
		for i, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), n) {
				return i
			}
		}
	}
	return -1
}

// entryFunc turns a manifest row's path into an Entry (resolving and checking the file).
type entryFunc func(line int, path string) (Entry, error)

func parseCSV(manifest string, src io.Reader, entry entryFunc) (*Listing, error) {
	r := csv.NewReader(bufio.NewReader(src))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read manifest %q: the file is empty; it needs a header row such as path,label", manifest)
		}
		return nil, fmt.Errorf("read manifest %q: %w", manifest, err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	pc, lc := findColumn(header, pathColumns), findColumn(header, labelColumns)
	if pc < 0 {
		return nil, fmt.Errorf("read manifest %q: no path column in the header %q (name one of %s)", manifest, strings.Join(header, ","), strings.Join(pathColumns, ", "))
	}
	l := &Listing{Source: manifest, Kind: "manifest"}
	var attrCols []int
	for i, h := range header {
		if i != pc && i != lc {
			attrCols = append(attrCols, i)
			l.Attributes = append(l.Attributes, strings.TrimSpace(h))
		}
	}
	var lines []int
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read manifest %q: %w", manifest, err)
		}
		// The reader skips blank lines and quoted fields may span lines, so count lines as it does.
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("read manifest %q line %d: %d fields, the header has %d", manifest, line, len(rec), len(header))
		}
		e, err := entry(line, strings.TrimSpace(rec[pc]))
		if err != nil {
			return nil, err
		}
		if lc >= 0 {
			e.LabelName = strings.TrimSpace(rec[lc])
			if e.LabelName == "" {
				return nil, fmt.Errorf("read manifest %q line %d: empty label for %q", manifest, line, e.Path)
			}
		}
		for _, c := range attrCols {
			e.Attrs = append(e.Attrs, strings.TrimSpace(rec[c]))
		}
		l.Entries = append(l.Entries, e)
		lines = append(lines, line)
	}
	if len(l.Entries) == 0 {
		return nil, fmt.Errorf("read manifest %q: no rows after the header", manifest)
	}
	if err := checkDuplicates(l, lines); err != nil {
		return nil, err
	}
	return l, nil
}

func parseJSONL(manifest string, src io.Reader, entry entryFunc) (*Listing, error) {
	l := &Listing{Source: manifest, Kind: "manifest"}
	attrIndex := map[string]int{}
	type row struct {
		e     Entry
		attrs map[string]string
		line  int
	}
	var rows []row
	sc := bufio.NewScanner(src)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(text), &obj); err != nil {
			return nil, fmt.Errorf("read manifest %q line %d: not a JSON object: %v", manifest, line, err)
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		pk, lk := findColumn(keys, pathColumns), findColumn(keys, labelColumns)
		if pk < 0 {
			return nil, fmt.Errorf("read manifest %q line %d: no path key (use one of %s)", manifest, line, strings.Join(pathColumns, ", "))
		}
		p, ok := obj[keys[pk]].(string)
		if !ok {
			return nil, fmt.Errorf("read manifest %q line %d: %q must be a string", manifest, line, keys[pk])
		}
		e, err := entry(line, p)
		if err != nil {
			return nil, err
		}
		if lk >= 0 {
			e.LabelName = scalarString(obj[keys[lk]])
			if e.LabelName == "" {
				return nil, fmt.Errorf("read manifest %q line %d: empty label for %q", manifest, line, e.Path)
			}
		}
		pathKey, labelKey := keys[pk], ""
		if lk >= 0 {
			labelKey = keys[lk]
		}
		attrs := map[string]string{}
		sort.Strings(keys)
		for _, k := range keys {
			if k == pathKey || k == labelKey {
				continue
			}
			if _, seen := attrIndex[k]; !seen {
				attrIndex[k] = len(l.Attributes)
				l.Attributes = append(l.Attributes, k)
			}
			attrs[k] = scalarString(obj[k])
		}
		rows = append(rows, row{e, attrs, line})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read manifest %q: %w", manifest, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("read manifest %q: no rows", manifest)
	}
	lines := make([]int, len(rows))
	for i, r := range rows {
		r.e.Attrs = make([]string, len(l.Attributes))
		for k, v := range r.attrs {
			r.e.Attrs[attrIndex[k]] = v
		}
		l.Entries = append(l.Entries, r.e)
		lines[i] = r.line
	}
	if err := checkDuplicates(l, lines); err != nil {
		return nil, err
	}
	return l, nil
}

func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// manifestEntry resolves a manifest row's path (relative to the manifest's folder, or absolute)
// and checks the file: it must exist, be a regular file, and lie inside the workspace after
// resolving symlinks, so that a row cannot name /etc/passwd, ../../secret.png or /dev/zero.
func (r *Reader) manifestEntry(manifest, dir string, line int, p string) (Entry, error) {
	if p == "" {
		return Entry{}, fmt.Errorf("read manifest %q line %d: empty path", manifest, line)
	}
	if strings.ContainsRune(p, 0) {
		return Entry{}, fmt.Errorf("read manifest %q line %d: the path contains a NUL byte", manifest, line)
	}
	file := p
	if !filepath.IsAbs(p) {
		file = filepath.Join(dir, filepath.FromSlash(p))
	}
	st, err := r.Root.Stat(file)
	if err != nil {
		var outside *confine.OutsideError
		switch {
		case errors.As(err, &outside):
			return Entry{}, fmt.Errorf("read manifest %q line %d: image %q: %w", manifest, line, p, err)
		case errors.Is(err, fs.ErrNotExist):
			return Entry{}, fmt.Errorf("read manifest %q line %d: image %q not found (paths are relative to the manifest's folder)", manifest, line, p)
		}
		// The system's message repeats the path as it is, control characters included: name
		// the image quoted and keep only the cause.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return Entry{}, fmt.Errorf("read manifest %q line %d: image %q: %w", manifest, line, p, pe.Err)
		}
		return Entry{}, fmt.Errorf("read manifest %q line %d: %w", manifest, line, err)
	}
	if st.IsDir() {
		return Entry{}, fmt.Errorf("read manifest %q line %d: %q is a directory, not an image", manifest, line, p)
	}
	if !st.Mode().IsRegular() {
		return Entry{}, fmt.Errorf("read manifest %q line %d: %w", manifest, line, &confine.NotRegularError{Path: p, Mode: st.Mode()})
	}
	return Entry{Path: shownPath(dir, p), File: file}, nil
}

// shownPath is a manifest row's path as reports show it: clean, slash-separated and relative to
// the manifest's folder, so that reports and the dataset digest are the same on every machine
// even when the manifest lists absolute paths.
func shownPath(dir, p string) string {
	shown := filepath.Clean(filepath.FromSlash(p))
	if filepath.IsAbs(shown) {
		if absDir, err := filepath.Abs(dir); err == nil {
			if r, err := filepath.Rel(absDir, shown); err == nil {
				shown = r
			}
		}
	}
	return filepath.ToSlash(shown)
}

// checkDuplicates refuses a manifest that lists the same image twice: it would count twice in
// every metric.
func checkDuplicates(l *Listing, lines []int) error {
	seen := make(map[string]int, len(l.Entries))
	for i, e := range l.Entries {
		if j, dup := seen[e.Path]; dup {
			return fmt.Errorf("read manifest %q line %d: image %q is already listed on line %d", l.Source, lines[i], e.Path, lines[j])
		}
		seen[e.Path] = i
	}
	return nil
}

// Adopt makes r read the images of a listing built elsewhere (a detection or segmentation task's
// ground-truth reader), so that they are decoded under r's workspace confinement and limits.
func (r *Reader) Adopt(l *Listing) { l.reader = r }
