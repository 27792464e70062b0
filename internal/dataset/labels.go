package dataset

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Classes is the explicit mapping from model output index to class name, and where it came from.
type Classes struct {
	Names  []string
	Source string // e.g. `labels file "labels.txt"`, "folder names (sorted)"
	index  map[string]int
	// numericIndex allows integer labels to name output indices directly, when no class name is
	// itself an integer.
	numericIndex bool
}

// ReadLabelsFile reads a labels file with a Reader that confines nothing. See Reader.ReadLabels.
func ReadLabelsFile(path string) (*Classes, error) { return (&Reader{}).ReadLabels(path) }

// ReadLabels reads one class name per line, in model output order. Blank lines at the end are
// ignored; blank or duplicate names inside are errors.
func (r *Reader) ReadLabels(path string) (*Classes, error) {
	raw, err := r.Root.ReadFile(path, r.Limits.fileBytes())
	if err != nil {
		return nil, fmt.Errorf("open labels file %q: %w", path, err)
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		names = append(names, strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff")))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read labels file %q: %w", path, err)
	}
	for len(names) > 0 && names[len(names)-1] == "" {
		names = names[:len(names)-1]
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("read labels file %q: no class names (one per line, in model output order)", path)
	}
	c, err := NewClasses(names, fmt.Sprintf("labels file %q", path))
	if err != nil {
		return nil, fmt.Errorf("read labels file %q: %w", path, err)
	}
	return c, nil
}

// NewClasses validates a list of class names.
func NewClasses(names []string, source string) (*Classes, error) {
	c := &Classes{Names: names, Source: source, index: map[string]int{}, numericIndex: true}
	for i, n := range names {
		if n == "" {
			return nil, fmt.Errorf("line %d: empty class name", i+1)
		}
		if j, dup := c.index[n]; dup {
			return nil, fmt.Errorf("class %q appears twice (lines %d and %d)", n, j+1, i+1)
		}
		c.index[n] = i
		if _, err := strconv.Atoi(n); err == nil {
			c.numericIndex = false
		}
	}
	return c, nil
}

// FolderClasses derives classes from class folder names. When every name is an integer, the
// integer is the output index (0..max); otherwise names are sorted, the convention of
// torchvision's ImageFolder, and the report says so.
func FolderClasses(folders []string, outputs int) (*Classes, error) {
	allInts, maxIdx := true, -1
	for _, f := range folders {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || strconv.Itoa(n) != f {
			allInts = false
			break
		}
		maxIdx = max(maxIdx, n)
	}
	if allInts {
		size := max(maxIdx+1, outputs)
		names := make([]string, size)
		for i := range names {
			names[i] = strconv.Itoa(i)
		}
		return NewClasses(names, "folder names as output indices")
	}
	sorted := append([]string(nil), folders...)
	sort.Strings(sorted)
	return NewClasses(sorted, "folder names, sorted (torchvision ImageFolder order); pass --labels FILE if the model uses another order")
}

// Index returns the output index of a label.
func (c *Classes) Index(label string) (int, bool) {
	if i, ok := c.index[label]; ok {
		return i, true
	}
	if c.numericIndex {
		if n, err := strconv.Atoi(label); err == nil && n >= 0 && n < len(c.Names) {
			return n, true
		}
	}
	return 0, false
}

// Resolve maps every entry's label to a class index. Unknown labels are an error that names the
// entry, the label, and the known classes.
func (c *Classes) Resolve(l *Listing) ([]int, error) {
	out := make([]int, len(l.Entries))
	for i, e := range l.Entries {
		if e.LabelName == "" {
			out[i] = -1
			continue
		}
		idx, ok := c.Index(e.LabelName)
		if !ok {
			return nil, fmt.Errorf("label %q of %q (in %q) is not one of the %d classes from %s: %s",
				e.LabelName, e.Path, l.Source, len(c.Names), c.Source, preview(c.Names, 12))
		}
		out[i] = idx
	}
	return out, nil
}

func preview(names []string, n int) string {
	shown := make([]string, 0, min(len(names), n))
	for _, name := range names[:min(len(names), n)] {
		shown = append(shown, quoteOdd(name))
	}
	if len(names) <= n {
		return strings.Join(shown, ", ")
	}
	return strings.Join(shown, ", ") + fmt.Sprintf(", ... (%d more)", len(names)-n)
}

// quoteOdd quotes a name that holds control characters (a folder may be named "a\nb"), so that an
// error message stays one line; plain names are shown as they are.
func quoteOdd(s string) string {
	if q := strconv.Quote(s); q[1:len(q)-1] != s {
		return q
	}
	return s
}
