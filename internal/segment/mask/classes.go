package mask

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// MaxClassFileBytes bounds a class file: a million bytes hold far more than the 65,536 classes a
// 16-bit mask can index.
const MaxClassFileBytes = 1 << 20

// ClassColor is one entry of a colour table: the class at this position of the table is painted
// with RGB in colour masks.
type ClassColor struct {
	Name string
	RGB  [3]uint8
}

// Classes are class names in index order, and their colours when the file gives them.
type Classes struct {
	Names  []string
	Colors []ClassColor // nil when the file lists names only
	Source string       // where they came from, for the report
}

// ReadClassFile reads class names in index order, one per line. A line is a name alone, or a name
// followed by its colour, "name r g b" or CSV "name,r,g,b" (CamVid's class_dict.csv layout, whose
// header line "name,r,g,b" is skipped). Blank lines and lines starting with '#' are skipped; either
// every class has a colour or none has. Names must be unique.
func ReadClassFile(path string) (*Classes, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open class file %q: %w", path, err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxClassFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read class file %q: %w", path, err)
	}
	if len(raw) > MaxClassFileBytes {
		return nil, fmt.Errorf("read class file %q: larger than %d bytes; a class file lists one class per line", path, MaxClassFileBytes)
	}
	c, err := ParseClasses(raw)
	if err != nil {
		return nil, fmt.Errorf("read class file %q: %w", path, err)
	}
	c.Source = fmt.Sprintf("class file %q", path)
	return c, nil
}

// ParseClasses parses the body of a class file (see ReadClassFile).
func ParseClasses(raw []byte) (*Classes, error) {
	raw = bytes.TrimPrefix(raw, []byte("\ufeff"))
	c := &Classes{}
	seen := map[string]int{}
	withColor := -1 // unknown until the first class line
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 4096), MaxClassFileBytes)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		var fields []string
		if strings.Contains(text, ",") {
			fields = strings.Split(text, ",")
			for i := range fields {
				fields[i] = strings.TrimSpace(fields[i])
			}
		} else {
			fields = strings.Fields(text)
		}
		if len(c.Names) == 0 && len(fields) == 4 && strings.EqualFold(fields[0], "name") &&
			strings.EqualFold(fields[1], "r") && strings.EqualFold(fields[2], "g") && strings.EqualFold(fields[3], "b") {
			continue // CSV header
		}
		name, rgb, hasColor, err := parseClassLine(fields)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		has := 0
		if hasColor {
			has = 1
		}
		if withColor == -1 {
			withColor = has
		} else if withColor != has {
			return nil, fmt.Errorf("line %d: either every class has a colour (name r g b) or none has", line)
		}
		if j, dup := seen[name]; dup {
			return nil, fmt.Errorf("line %d: class %q already named on line %d", line, name, j)
		}
		seen[name] = line
		if len(c.Names) == 1<<16 {
			return nil, fmt.Errorf("line %d: more than 65536 classes (the most a 16-bit mask can index)", line)
		}
		c.Names = append(c.Names, name)
		if hasColor {
			c.Colors = append(c.Colors, ClassColor{Name: name, RGB: rgb})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(c.Names) == 0 {
		return nil, fmt.Errorf("no class names (one per line, in class index order)")
	}
	if err := CheckColors(c.Colors); err != nil {
		return nil, err
	}
	return c, nil
}

// parseClassLine splits "name" or "name r g b" (names may contain spaces when colours follow).
func parseClassLine(fields []string) (name string, rgb [3]uint8, hasColor bool, err error) {
	if len(fields) >= 4 {
		var vals [3]uint8
		ok := true
		for i, f := range fields[len(fields)-3:] {
			v, perr := strconv.ParseUint(f, 10, 8)
			if perr != nil {
				ok = false
				break
			}
			vals[i] = uint8(v)
		}
		if ok {
			name = strings.TrimSpace(strings.Join(fields[:len(fields)-3], " "))
			if name == "" {
				return "", rgb, false, fmt.Errorf("empty class name")
			}
			return name, vals, true, nil
		}
	}
	name = strings.TrimSpace(strings.Join(fields, " "))
	if name == "" {
		return "", rgb, false, fmt.Errorf("empty class name")
	}
	return name, rgb, false, nil
}

// CheckColors refuses a colour table that paints two classes alike: their pixels could not be
// told apart.
func CheckColors(colors []ClassColor) error {
	seen := map[[3]uint8]int{}
	for i, c := range colors {
		if j, dup := seen[c.RGB]; dup {
			return fmt.Errorf("classes %q and %q share the colour %s", colors[j].Name, c.Name, rgbString(c.RGB))
		}
		seen[c.RGB] = i
	}
	return nil
}

func rgbString(c [3]uint8) string { return fmt.Sprintf("[%d,%d,%d]", c[0], c[1], c[2]) }
