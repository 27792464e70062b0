package annot

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// yamlNames and namesFiles are where YOLO and VOC datasets keep their class names, in the order
// they are tried, in the data folder and then in its labels/ folder.
var (
	yamlNames  = []string{"data.yaml", "dataset.yaml", "data.yml"}
	namesFiles = []string{"classes.txt", "names.txt", "obj.names", "classes.names"}
)

// findNames looks for class names under root. found is false when there is no names file.
func findNames(root string, lim Limits) (names []string, source string, found bool, err error) {
	for _, dir := range []string{"", "labels"} {
		for _, n := range yamlNames {
			rel := filepath.Join(dir, n)
			if fileExists(filepath.Join(root, rel)) {
				names, err := readYAMLNames(filepath.Join(root, rel), lim)
				return names, filepath.ToSlash(rel), true, err
			}
		}
		for _, n := range namesFiles {
			rel := filepath.Join(dir, n)
			if fileExists(filepath.Join(root, rel)) {
				names, err := readNamesFile(filepath.Join(root, rel), lim)
				return names, filepath.ToSlash(rel), true, err
			}
		}
	}
	return nil, "", false, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// readYAMLNames reads `names:` from a YOLO data.yaml, as a list or as a map from class index to
// name (the two forms Ultralytics writes), checked against `nc:` when present.
func readYAMLNames(file string, lim Limits) ([]string, error) {
	fail := func(err error) ([]string, error) { return nil, fmt.Errorf("read class names %q: %w", file, err) }
	data, err := readCapped(file, lim.MaxFileBytes, lim.Within)
	if err != nil {
		return fail(err)
	}
	var doc struct {
		Names yaml.Node `yaml:"names"`
		NC    *int      `yaml:"nc"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fail(err)
	}
	var names []string
	switch doc.Names.Kind {
	case yaml.SequenceNode:
		if err := doc.Names.Decode(&names); err != nil {
			return fail(fmt.Errorf("names must be a list of strings: %w", err))
		}
	case yaml.MappingNode:
		var m map[int]string
		if err := doc.Names.Decode(&m); err != nil {
			return fail(fmt.Errorf("names must map class indices to strings: %w", err))
		}
		keys := make([]int, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Ints(keys)
		for i, k := range keys {
			if k != i {
				return fail(fmt.Errorf("names has no class %d (the indices must run 0..%d without gaps)", i, len(m)-1))
			}
			names = append(names, m[k])
		}
	case 0:
		return fail(errors.New("no names: list the class names, e.g. names: [cat, dog]"))
	default:
		return fail(errors.New("names must be a list or a map from class index to name"))
	}
	if doc.NC != nil && *doc.NC != len(names) {
		return fail(fmt.Errorf("nc is %d but names lists %d classes: make them agree", *doc.NC, len(names)))
	}
	if err := checkNames(names); err != nil {
		return fail(err)
	}
	return names, nil
}

// readNamesFile reads one class name per line (classes.txt, obj.names); trailing blank lines are
// ignored, a blank line between names is an error (it would shift every later index).
func readNamesFile(file string, lim Limits) ([]string, error) {
	data, err := readCapped(file, lim.MaxFileBytes, lim.Within)
	if err != nil {
		return nil, fmt.Errorf("read class names %q: %w", file, err)
	}
	lines := strings.Split(strings.ReplaceAll(string(bytes.TrimRight(data, "\r\n\t ")), "\r\n", "\n"), "\n")
	var names []string
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			return nil, fmt.Errorf("read class names %q: line %d is empty: write one name per line without gaps", file, i+1)
		}
		names = append(names, l)
	}
	if err := checkNames(names); err != nil {
		return nil, fmt.Errorf("read class names %q: %w", file, err)
	}
	return names, nil
}

func checkNames(names []string) error {
	if len(names) == 0 {
		return errors.New("no class names")
	}
	seen := make(map[string]int, len(names))
	for i, n := range names {
		if strings.TrimSpace(n) == "" {
			return fmt.Errorf("class %d has an empty name", i)
		}
		if j, dup := seen[n]; dup {
			return fmt.Errorf("classes %d and %d are both named %s: give each class its own name", j, i, strconv.Quote(n))
		}
		seen[n] = i
	}
	return nil
}
