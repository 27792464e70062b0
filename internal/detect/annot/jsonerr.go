package annot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// explainJSON turns a decoding error into one that names the line and column and, for the usual
// causes, the fix. Python's json module writes NaN and Infinity for non-finite floats, which are
// not JSON: say so rather than "invalid character 'N'".
func explainJSON(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := lineCol(data, syn.Offset)
		rest := data[min(max(syn.Offset-1, 0), int64(len(data))):]
		for _, tok := range []string{"NaN", "Infinity", "-Infinity"} {
			if bytes.HasPrefix(rest, []byte(tok)) {
				return fmt.Errorf("line %d column %d: %s is not a JSON number (a non-finite value, e.g. a NaN box from a broken export): fix or drop that entry", line, col, tok)
			}
		}
		return fmt.Errorf("line %d column %d: invalid JSON: %w", line, col, err)
	case errors.As(err, &typ):
		line, col := lineCol(data, typ.Offset)
		return fmt.Errorf("line %d column %d: field %q holds a JSON %s where %s is expected", line, col, typ.Field, typ.Value, typ.Type)
	}
	return err
}

func lineCol(data []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}
