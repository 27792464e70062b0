package wfcmd

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Writer passes a stream through to an underlying writer, changing only what the runner would
// run as a workflow command: a line whose first non-blank characters are "::" gets its first
// ":" written as "%3A", and every "##[" gets its first "#" written as "%23". Everything else,
// terminal escapes and "\r" redraws included, passes unchanged, so a progress bar still draws.
//
// cvgate wraps its stdout and stderr in one each; its own commands go through WriteCommand,
// which is the only way to put a command on the stream. A Writer is safe for concurrent use.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte // bytes held back until it is known whether they start a command
	// lineStart: no byte of the current line has been passed on yet except white space
	// (which is in buf).
	lineStart bool
	out       []byte // scratch output buffer, reused
}

// NewWriter wraps w. A w that is already a *Writer is returned as it is, so wrapping twice
// costs nothing and cannot double-escape.
func NewWriter(w io.Writer) *Writer {
	if ww, ok := w.(*Writer); ok {
		return ww
	}
	return &Writer{w: w, lineStart: true}
}

// CommandWriter is what the GitHub runtime looks for on its stdout to write commands.
type CommandWriter interface {
	WriteCommand(line string) error
}

var _ CommandWriter = (*Writer)(nil)

// ErrBadCommand is returned by WriteCommand for a line that is not one well-formed command.
var ErrBadCommand = errors.New("not a single workflow command line")

// WriteCommand writes line, a command built by Command, on a line of its own: whatever is held
// back is written first and a line break ends the command.
func (w *Writer) WriteCommand(line string) error {
	if !strings.HasPrefix(line, "::") || strings.ContainsAny(line, "\r\n") {
		return ErrBadCommand
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.out[:0]
	if !w.lineStart || len(w.buf) > 0 {
		// An unfinished line: end it, so the command starts its own.
		out = append(out, w.buf...)
		out = append(out, '\n')
	}
	w.buf = w.buf[:0]
	out = append(out, line...)
	out = append(out, '\n')
	w.lineStart = true
	w.keep(out)
	_, err := w.w.Write(out)
	return err
}

// keep retains the scratch buffer for the next write, unless one huge write made it big.
func (w *Writer) keep(out []byte) {
	if cap(out) <= 64<<10 {
		w.out = out
	} else {
		w.out = nil
	}
}

// Write implements io.Writer. It reports len(p) when the filtered bytes were all written.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.out[:0]
	data := p
	if len(w.buf) > 0 {
		data = append(w.buf, p...)
		w.buf = nil
	}
	i := 0
	for i < len(data) {
		if !w.lineStart {
			// Mid-line, only a line break or "##[" matters: copy the run before the next.
			j := bytes.IndexAny(data[i:], "\n\r#")
			if j < 0 {
				out = append(out, data[i:]...)
				i = len(data)
				break
			}
			out = append(out, data[i:i+j]...)
			i += j
		}
		c := data[i]
		if c == '\n' || c == '\r' {
			out = append(out, c)
			w.lineStart = true
			i++
			continue
		}
		if w.lineStart {
			// Leading white space, one rune at a time; a rune cut by the end of p waits.
			if c >= utf8.RuneSelf && !utf8.FullRune(data[i:]) {
				break
			}
			r, size := utf8.DecodeRune(data[i:])
			if r != '\n' && r != '\r' && unicode.IsSpace(r) {
				out = append(out, data[i:i+size]...)
				i += size
				continue
			}
			if c == ':' {
				if i+1 >= len(data) {
					break // ":" alone so far: wait for the next byte
				}
				if data[i+1] == ':' {
					out = append(out, "%3A"...)
					i++
					w.lineStart = false
					continue
				}
			}
			w.lineStart = false
		}
		if c == '#' {
			// "##[" may be split across writes: hold "#" or "##" at the end of p.
			rest := data[i:]
			if len(rest) < 3 && strings.HasPrefix("##[", string(rest)) {
				break
			}
			if len(rest) >= 3 && rest[1] == '#' && rest[2] == '[' {
				out = append(out, "%23"...)
				i++
				continue
			}
		}
		out = append(out, c)
		i++
	}
	if i < len(data) {
		w.buf = append(w.buf[:0], data[i:]...)
	}
	w.keep(out)
	if len(out) > 0 {
		if _, err := w.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush writes what is held back (at most a few bytes of an undecided line start). Call it
// before the process exits; the runner sees the bytes as an ordinary line fragment.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 {
		return nil
	}
	held := w.buf
	w.buf = nil
	// A held ":" at a line start, or "#"/"##" at the end: neither can start a command any
	// more (nothing follows), so they go out as they are.
	_, err := w.w.Write(held)
	return err
}
