package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/cvgate/cvgate/internal/confine"
)

// DefaultFile is the config file read when none is named and it exists.
const DefaultFile = ".cvgate.yml"

// Sources are the inputs of Load, in precedence order.
type Sources struct {
	// File is the config file to read. Empty: DefaultFile when it exists (relative to Dir).
	File string
	// FileRequired makes a missing File an error (it was named explicitly).
	FileRequired bool
	// Dir resolves relative file names (the workspace); empty means the current directory.
	Dir string
	// Inputs and Flags are applied after the file, in this order.
	Inputs []Setting
	Flags  []Setting
	// Workspace confines the config file (it may be a symlink a fork committed); nil reads it
	// anywhere. Either way it must be a regular file of at most MaxFileBytes.
	Workspace *confine.Root
}

// MaxFileBytes caps the config file: it is read before any limit from it applies, and a real one
// is a few kilobytes.
const MaxFileBytes = 1 << 20

// Loaded is the effective configuration plus where it came from.
type Loaded struct {
	Config
	File   string // the config file read, "" if none
	SHA256 string // of the config file's bytes, "" if none
}

// ValidationError lists every problem found in a configuration.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid configuration: " + e.Problems[0]
	}
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// fileShape is the config file: the Config plus named profiles, kept as YAML until one is chosen.
type fileShape struct {
	Config   `yaml:",inline"`
	Profiles map[string]yaml.Node `yaml:"profiles"`
}

// Load merges defaults, the config file, a profile, inputs and flags, then validates the result.
func Load(src Sources) (*Loaded, error) {
	cfg := Defaults()
	out := &Loaded{}

	path, required := src.File, src.FileRequired
	if path == "" {
		path = DefaultFile
	}
	full := path
	if src.Dir != "" && !isAbs(path) {
		full = src.Dir + "/" + path
	}
	var fileProfiles map[string]yaml.Node
	// Every problem is reported at once: the file's own (unknown keys, wrong types) and those
	// Validate finds in the merged result, each with the file and line it comes from.
	var problems []string
	var doc *yaml.Node
	raw, err := src.Workspace.ReadFile(full, MaxFileBytes)
	switch {
	case err == nil:
		sum := sha256.Sum256(raw)
		out.File, out.SHA256 = path, hex.EncodeToString(sum[:])
		fc, fileProblems, err := decodeFile(path, raw, cfg)
		if err != nil {
			return nil, err
		}
		cfg, fileProfiles, doc = fc.Config, fc.Profiles, fc.doc
		problems = fileProblems
		if cfg.Version != Version {
			cfg.Version = Version // said once, by decodeFile, with its line
		}
	case errors.Is(err, fs.ErrNotExist) && !required:
		// No config file: defaults, inputs and flags only.
	default:
		return nil, fmt.Errorf("read config %q: %w", path, err)
	}

	// The profile's name may come from the file, an input or a flag; the last one wins.
	profile := cfg.Profile
	for _, s := range append(append([]Setting{}, src.Inputs...), src.Flags...) {
		if s.Option.Key == "profile" {
			profile = s.Value
		}
	}
	if profile != "" {
		builtin, isBuiltin := builtinProfiles[profile]
		node, inFile := fileProfiles[profile]
		if !isBuiltin && !inFile {
			return nil, newValidationError([]string{fmt.Sprintf("profile: unknown profile %q (built in: %s; defined in %s: %s)",
				profile, strings.Join(BuiltinProfiles(), ", "), orNone(out.File), orNone(strings.Join(sortedKeys(fileProfiles), ", ")))})
		}
		if isBuiltin {
			if cfg, err = decodeOnto(cfg, []byte(builtin), "built-in profile "+profile, ""); err != nil {
				return nil, err
			}
		}
		if inFile {
			b, err := yaml.Marshal(&node)
			if err != nil {
				return nil, fmt.Errorf("read profile %q in %q: %w", profile, path, err)
			}
			if cfg, err = decodeOnto(cfg, b, path, "profiles."+profile); err != nil {
				return nil, err
			}
		}
		cfg.Profile = profile
	}

	// The runtime library is code cvgate loads and runs: a config file, which a pull request
	// from a fork controls, must not choose it. Only the caller's flag or ORT_LIB may.
	if cfg.Runtime.ORTLib != "" {
		problems = append(problems, fmt.Sprintf("%s: runtime.ort_lib cannot be set in a config file (a pull request could point it at a library it adds, which cvgate would load and run): pass --ort-lib PATH or set ORT_LIB", orNone(out.File)))
		cfg.Runtime.ORTLib = ""
	}
	// Records in the prediction cache stand in for running the models: a folder a pull request
	// chose (and filled) could make any model pass. Only the caller's flag or input may choose it.
	if cfg.Runtime.Cache != "" {
		problems = append(problems, fmt.Sprintf("%s: runtime.cache cannot be set in a config file (a pull request could point it at records it adds, which cvgate would take for the models' outputs): pass --cache DIR or the action input cache", orNone(out.File)))
		cfg.Runtime.Cache = ""
	}
	if err := apply(&cfg, src.Inputs); err != nil {
		problems = append(problems, splitJoined(err)...)
	}
	if err := apply(&cfg, src.Flags); err != nil {
		problems = append(problems, splitJoined(err)...)
	}
	var ve *ValidationError
	if err := cfg.Validate(); errors.As(err, &ve) {
		for _, p := range ve.Problems {
			problems = append(problems, locate(p, path, doc, cfg.Profile, src))
		}
	} else if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, newValidationError(problems)
	}
	canonicalAttacks(&cfg) // after Validate, whose errors quote the names as written
	out.Config = cfg
	return out, nil
}

// locate turns Validate's "key.path: problem" into "file:line: key.path: problem; the default is
// X" when the file sets the key (or a profile in it does), and says which flag or input set it
// otherwise, so that every problem names where to fix it.
func locate(problem, file string, doc *yaml.Node, profile string, src Sources) string {
	key, msg, ok := strings.Cut(problem, ": ")
	if !ok {
		return problem
	}
	path := strings.SplitN(key, "[", 2)[0] // segmentation.colors[0].rgb: the list's line
	where := ""
	if doc != nil {
		if n := lookup(doc, path); n != nil {
			where = fmt.Sprintf("%s:%d: ", file, n.Line)
		}
		if profiles := findKey(doc, "profiles"); where == "" && profile != "" && profiles != nil {
			if p := findKey(profiles, profile); p != nil {
				if n := lookup(p, path); n != nil {
					where = fmt.Sprintf("%s:%d: ", file, n.Line)
				}
			}
		}
	}
	if where == "" {
		for _, s := range append(append([]Setting{}, src.Flags...), src.Inputs...) {
			if s.Option.Key == path {
				where = s.Source + ": "
			}
		}
	}
	out := where + key + ": " + msg
	if def := defaultText(path); def != "" && !strings.Contains(msg, "unknown") {
		out += "; the default is " + def
	}
	return out
}

// lookup finds the key node of a dotted key path in a YAML mapping. Keys may hold dots themselves
// (thresholds.perf.baseline is the key "perf.baseline" under "thresholds"), so at each level the
// longest key that starts the remaining path wins.
func lookup(n *yaml.Node, path string) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	var best, bestValue *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if (path == k || strings.HasPrefix(path, k+".")) && (best == nil || len(k) > len(best.Value)) {
			best, bestValue = n.Content[i], n.Content[i+1]
		}
	}
	if best == nil {
		return nil
	}
	if rest := strings.TrimPrefix(strings.TrimPrefix(path, best.Value), "."); rest != "" {
		if deeper := lookup(bestValue, rest); deeper != nil {
			return deeper
		}
		return nil
	}
	return best
}

// defaultText is the built-in default of a key path, as YAML would write it, or "" when it has
// none worth showing (a mapping, an empty value).
func defaultText(path string) string {
	d := Defaults()
	var root yaml.Node
	if err := root.Encode(&d); err != nil {
		return ""
	}
	v := valueOf(&root, path)
	if v == nil || v.Kind == yaml.MappingNode || (v.Kind == yaml.ScalarNode && (v.Value == "" || v.Tag == "!!null")) {
		return ""
	}
	v.Style = yaml.FlowStyle
	b, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// valueOf is lookup's value node.
func valueOf(n *yaml.Node, path string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		switch {
		case path == k:
			return n.Content[i+1]
		case strings.HasPrefix(path, k+"."):
			if v := valueOf(n.Content[i+1], strings.TrimPrefix(path, k+".")); v != nil {
				return v
			}
		}
	}
	return nil
}

// decodedFile is the config file decoded: the Config plus named profiles, and the YAML tree that
// problems are located in.
type decodedFile struct {
	fileShape
	doc *yaml.Node
}

// decodeFile decodes the config file onto base. A file that is not a YAML mapping is an error;
// unknown keys and values of the wrong type are problems returned beside what did decode, so
// that Load reports them together with the values Validate rejects.
func decodeFile(path string, raw []byte, base Config) (*decodedFile, []string, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, nil, newValidationError([]string{fmt.Sprintf("%s: not valid YAML: %v", path, err)})
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, nil, newValidationError([]string{fmt.Sprintf("%s: the file is empty; it needs at least \"version: 1\"", path)})
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, nil, newValidationError([]string{fmt.Sprintf("%s: the top level must be a mapping of keys to values", path)})
	}
	var problems []string
	seen := map[walked]bool{}
	problems = append(problems, unknownKeys(doc, reflect.TypeOf(fileShape{}), "", path, seen)...)
	version := findKey(doc, "version")
	if version == nil {
		problems = append(problems, fmt.Sprintf("%s: version: missing; add \"version: %d\" as the first line", path, Version))
	} else if version.Value != fmt.Sprint(Version) {
		problems = append(problems, fmt.Sprintf("%s:%d: version: this cvgate reads version %d, the file says %q", path, version.Line, Version, version.Value))
	}
	if profiles := findKey(doc, "profiles"); profiles != nil && profiles.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(profiles.Content); i += 2 {
			name := profiles.Content[i].Value
			problems = append(problems, unknownKeys(profiles.Content[i+1], reflect.TypeOf(Config{}), "profiles."+name, path, seen)...)
		}
	}
	fc := decodedFile{fileShape: fileShape{Config: base}, doc: doc}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	// Unknown keys are reported above with their lines and suggestions; the rest still decodes.
	dec.KnownFields(len(problems) == 0)
	if err := dec.Decode(&fc.fileShape); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, nil, newValidationError(append(problems, keyedYAMLErrors(path, doc, err)...))
		}
		problems = append(problems, keyedYAMLErrors(path, doc, err)...)
	}
	return &fc, problems, nil
}

func decodeOnto(base Config, raw []byte, path, prefix string) (Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return base, fmt.Errorf("read %s: %w", path, err)
	}
	if len(root.Content) > 0 {
		if problems := unknownKeys(root.Content[0], reflect.TypeOf(Config{}), prefix, path, map[walked]bool{}); len(problems) > 0 {
			return base, newValidationError(problems)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&base); err != nil {
		return base, newValidationError([]string{fmt.Sprintf("%s (%s): %s", path, prefix, cleanYAMLError(err))})
	}
	return base, nil
}

// maxProblems is how many problems one message lists: a file of thousands of bad keys needs its
// first ones fixed, not a megabyte of error.
const maxProblems = 50

// newValidationError lists problems, at most maxProblems of them, each on one line: a key or a
// value from the file may hold a newline or a carriage return, which must not start a new line
// in a log (where it could pose as a workflow command).
func newValidationError(ps []string) *ValidationError {
	out := make([]string, 0, min(len(ps), maxProblems+1))
	for i, p := range ps {
		if i == maxProblems {
			out = append(out, fmt.Sprintf("... and %d more problems", len(ps)-maxProblems))
			break
		}
		out = append(out, oneLine(p))
	}
	return &ValidationError{Problems: out}
}

// oneLine escapes control characters as Go does in quoted strings.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// walked is a node checked against a type: with aliases a node is reachable many times, and a
// "billion laughs" file (each level aliasing the one below ten times) makes a tree walk
// exponential; each node is checked once per type instead.
type walked struct {
	node *yaml.Node
	typ  reflect.Type
}

// unknownKeys walks a YAML mapping against the yaml tags of t and reports every key that t does
// not have, with its full key path, its line and the closest valid key.
func unknownKeys(n *yaml.Node, t reflect.Type, prefix, file string, seen map[walked]bool) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if seen[walked{n, t}] {
		return nil
	}
	seen[walked{n, t}] = true
	switch t.Kind() {
	case reflect.Struct:
		if t.String() == "yaml.Node" {
			return nil
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var out []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, unknownKeys(n.Content[i+1], t.Elem(), join(prefix, n.Content[i].Value), file, seen)...)
		}
		return out
	default:
		return nil
	}
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return nil
		}
		return []string{fmt.Sprintf("%s:%d: %s: expected a mapping of keys to values", file, n.Line, orTop(prefix))}
	}
	fields := yamlFields(t)
	var out []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		ft, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("%s:%d: %s: unknown key", file, k.Line, join(prefix, k.Value))
			if s := closest(k.Value, keysOf(fields)); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			out = append(out, msg)
			continue
		}
		out = append(out, unknownKeys(n.Content[i+1], ft, join(prefix, k.Value), file, seen)...)
	}
	return out
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func findKey(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Suggest returns the candidate closest to s when it is close enough to be a plausible typo (for
// "did you mean" on flags and commands), else "".
func Suggest(s string, candidates []string) string { return closest(s, candidates) }

// closest returns the candidate with the smallest edit distance, if it is close enough to be a
// plausible typo.
func closest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]yaml.Node) []string { return keysOf(m) }

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func orTop(s string) string {
	if s == "" {
		return "(top level)"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func isAbs(p string) bool { return strings.HasPrefix(p, "/") }

var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// keyedYAMLErrors turns yaml's "line 7: cannot unmarshal ..." into "file:7: key.path: cannot
// unmarshal ...", so that a type error names the key like every other problem.
func keyedYAMLErrors(path string, doc *yaml.Node, err error) []string {
	keys := map[int]string{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := join(prefix, n.Content[i].Value)
			keys[n.Content[i].Line] = k
			walk(n.Content[i+1], k)
		}
	}
	walk(doc, "")
	var out []string
	for _, line := range strings.Split(cleanYAMLError(err), ";") {
		line = strings.TrimSpace(line)
		if m := yamlLine.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			if k, ok := keys[n]; ok {
				out = append(out, fmt.Sprintf("%s:%d: %s: %s%s", path, n, k, m[2], typeFix(m[2])))
				continue
			}
		}
		out = append(out, path+": "+line)
	}
	return out
}

// typeFixes say what to write instead, by the Go type yaml could not decode a value into.
var typeFixes = []struct{ into, fix string }{
	{"into int", "a whole number"},
	{"into uint", "a whole number of 0 or more"},
	{"into float64", "a number"},
	{"into bool", "true or false"},
	{"into time.Duration", "a duration such as 90s or 10m"},
	{"into []", "a list, e.g. [a, b]"},
	{"into map", "a mapping of keys to values"},
	{"into string", "a string (quote it)"},
}

// typeFix is "; write X" for a decoding error whose target type is known.
func typeFix(msg string) string {
	if !strings.Contains(msg, "cannot unmarshal") {
		return ""
	}
	for _, f := range typeFixes {
		if strings.Contains(msg, f.into) {
			return "; write " + f.fix
		}
	}
	return ""
}

func cleanYAMLError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "yaml: unmarshal errors:\n")
	s = strings.ReplaceAll(s, "\n ", ";")
	return strings.TrimSpace(s)
}

func splitJoined(err error) []string {
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

func joinErrors(errs []error) error { return errors.Join(errs...) }
