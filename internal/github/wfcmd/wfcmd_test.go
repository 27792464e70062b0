package wfcmd_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cvgate/cvgate/internal/github/githubtest"
	"github.com/cvgate/cvgate/internal/github/wfcmd"
)

func TestEscape(t *testing.T) {
	tests := []struct {
		in, data, prop string
	}{
		{"plain", "plain", "plain"},
		{"50% a:b,c", "50%25 a:b,c", "50%25 a%3Ab%2Cc"},
		{"x\r\ny\nz\r", "x%0D%0Ay%0Az%0D", "x%0D%0Ay%0Az%0D"},
		{"%0A", "%250A", "%250A"}, // already-escaped text stays literal
	}
	for _, tt := range tests {
		if got := wfcmd.EscapeData(tt.in); got != tt.data {
			t.Errorf("EscapeData(%q) = %q, want %q", tt.in, got, tt.data)
		}
		if got := wfcmd.EscapeProperty(tt.in); got != tt.prop {
			t.Errorf("EscapeProperty(%q) = %q, want %q", tt.in, got, tt.prop)
		}
	}
}

func TestCommand(t *testing.T) {
	got := wfcmd.Command("error", map[string]string{"title": "a:b", "file": "x,y.onnx", "line": "1"}, "bad\n::set-output name=v::p")
	want := "::error file=x%2Cy.onnx,line=1,title=a%3Ab::bad%0A::set-output name=v::p"
	if got != want {
		t.Errorf("Command = %q, want %q", got, want)
	}
	cmds := githubtest.ParseCommands(got + "\n")
	if len(cmds) != 1 || cmds[0].Name != "error" || cmds[0].Props["file"] != "x,y.onnx" || cmds[0].Props["title"] != "a:b" || cmds[0].Data != "bad\n::set-output name=v::p" {
		t.Errorf("the runner reads %+v", cmds)
	}
	defer func() {
		if recover() == nil {
			t.Error("a command name with a space must panic (a caller bug)")
		}
	}()
	wfcmd.Command("set-output name=x", nil, "")
}

func TestText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "models/a.onnx", "models/a.onnx"},
		{"percent", "100%", "100%25"},
		{"newline", "a\n::set-output name=v::p", "a%0A::set-output name=v::p"},
		{"carriage return", "a\r::add-mask::x", "a%0D::add-mask::x"},
		{"leading command", "::error::x", "%3A:error::x"},
		{"leading blank then command", " \t::error::x", " \t%3A:error::x"},
		{"nbsp then command", "\u00a0::error::x", "\u00a0%3A:error::x"},
		{"inner double colon kept", "a::b", "a::b"},
		{"legacy form anywhere", "a ##[set-output name=v;]p", "a %23#[set-output name=v;]p"},
		{"triple hash", "###[", "#%23#["},
		{"controls", "a\x00b\x1bc\x7fd", "a%00b%1Bc%7Fd"},
		{"bidi override", "a\u202eb", "a%E2%80%AEb"},
		{"line separator", "a\u2028b", "a%E2%80%A8b"},
		{"invalid utf-8", "a\xffb", "a\uFFFDb"},
		{"tab kept", "a\tb", "a\tb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wfcmd.Text(tt.in); got != tt.want {
				t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	long := strings.Repeat("é", wfcmd.MaxText+10)
	got := wfcmd.Text(long)
	if !strings.HasPrefix(got, strings.Repeat("é", wfcmd.MaxText)+"…(20 more bytes)") {
		t.Errorf("long text not cut with a note: ...%q", got[len(got)-40:])
	}
}

// write feeds s to a Writer in chunks of the given sizes (cycled), then flushes.
func write(t testing.TB, s string, chunks []int) string {
	var out bytes.Buffer
	w := wfcmd.NewWriter(&out)
	for i, k := 0, 0; i < len(s); k++ {
		n := 1
		if len(chunks) > 0 {
			n = max(1, chunks[k%len(chunks)])
		}
		end := min(len(s), i+n)
		if _, err := w.Write([]byte(s[i:end])); err != nil {
			t.Fatal(err)
		}
		i = end
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestWriter(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"ordinary lines pass", "cvgate: checking a.onnx\nok\n", "cvgate: checking a.onnx\nok\n"},
		{"progress redraw passes", "\r\x1b[Kpredict [███░░] 50%\r\x1b[Kdone\n", "\r\x1b[Kpredict [███░░] 50%\r\x1b[Kdone\n"},
		{"command line", "x\n::set-output name=v::p\n", "x\n%3A:set-output name=v::p\n"},
		{"after carriage return", "x\r::add-mask::y\n", "x\r%3A:add-mask::y\n"},
		{"indented", "x\n   ::error::y\n", "x\n   %3A:error::y\n"},
		{"unicode blank", "x\n\u3000::error::y\n", "x\n\u3000%3A:error::y\n"},
		{"legacy anywhere", "a ##[set-output name=v;]p\n", "a %23#[set-output name=v;]p\n"},
		{"mid-line double colon", "a::b\n", "a::b\n"},
		{"lone colon at the end", "x\n:", "x\n:"},
		{"hash at the end", "a #", "a #"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunks := range [][]int{{len(tt.in)}, {1}, {2, 3}, {5, 1, 7}} {
				if got := write(t, tt.in, chunks); got != tt.want {
					t.Errorf("chunks %v: %q, want %q", chunks, got, tt.want)
				}
			}
		})
	}
}

func TestWriterCommand(t *testing.T) {
	var out bytes.Buffer
	w := wfcmd.NewWriter(&out)
	if wfcmd.NewWriter(w) != w {
		t.Error("wrapping a Writer again must return it")
	}
	_, _ = w.Write([]byte("half a line: "))
	if err := w.WriteCommand(wfcmd.Command("warning", nil, "w")); err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("::set-output name=v::p\n"))
	if err := w.WriteCommand("::warning::a\n::set-output name=v::p"); err == nil {
		t.Error("WriteCommand must refuse a line break")
	}
	if err := w.WriteCommand("warning::x"); err == nil {
		t.Error("WriteCommand must refuse a line that is not a command")
	}
	cmds := githubtest.ParseCommands(out.String())
	if len(cmds) != 1 || cmds[0].Name != "warning" || cmds[0].Data != "w" {
		t.Errorf("commands %+v from %q", cmds, out.String())
	}
	if !strings.HasPrefix(out.String(), "half a line: \n::warning::w\n") {
		t.Errorf("a command must start its own line: %q", out.String())
	}
}

// FuzzText: free text from input, printed at the start of a line, after a prefix, or as a whole
// line, never makes the runner run a command, never breaks the line, and stays valid UTF-8.
func FuzzText(f *testing.F) {
	for _, s := range []string{
		"", "models/a.onnx", "a\n::set-output name=v::p", "\r::add-mask::x", " ::error::x",
		"\u00a0\u2028::x::", "##[set-output name=v;]p", "###[", "::stop-commands::tok", "%0A::x::",
		"\xff\xfe::", "::", ":", "#", "##", "a\u202e", strings.Repeat("::", 600),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := wfcmd.Text(s)
		if strings.ContainsAny(got, "\r\n") {
			t.Fatalf("Text(%q) = %q has a line break", s, got)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("Text(%q) = %q is not valid UTF-8", s, got)
		}
		for _, line := range []string{got, "cvgate: " + got, got + " " + got} {
			if cmds := githubtest.ParseCommands(line + "\n"); len(cmds) > 0 {
				t.Fatalf("Text(%q) = %q: the runner would run %+v", s, got, cmds)
			}
		}
		// Reversible: percent-decoding gives the input back (valid UTF-8, under the length cap).
		if utf8.ValidString(s) && utf8.RuneCountInString(s) <= wfcmd.MaxText {
			if back, ok := percentDecode(got); !ok || back != s {
				t.Fatalf("Text(%q) = %q does not decode back (%q)", s, got, back)
			}
		}
	})
}

// FuzzWriter: whatever bytes pass through a Writer, in whatever chunks, the runner runs no
// command from them, and the chunking does not change the result.
func FuzzWriter(f *testing.F) {
	for _, s := range []string{
		"x\n::set-output name=v::p\n", "\r::add-mask::x", " \t::error::y", "\u3000::e::", "a ##[x]",
		"#", "##", ":", "\xe3\x80", "\r\n\r\n::", "::stop-commands::t\n::t::\n",
	} {
		f.Add(s, uint8(1), uint8(3))
	}
	f.Fuzz(func(t *testing.T, s string, a, b uint8) {
		whole := write(t, s, []int{len(s) + 1})
		if cut := write(t, s, []int{int(a%16) + 1, int(b%16) + 1}); cut != whole {
			t.Fatalf("chunked output %q differs from whole %q for %q", cut, whole, s)
		}
		if cmds := githubtest.ParseCommands(whole); len(cmds) > 0 {
			t.Fatalf("%q passed through the Writer as %q: the runner would run %+v", s, whole, cmds)
		}
	})
}

// percentDecode reverses %XX escapes; ok is false on a malformed one.
func percentDecode(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return b.String(), false
		}
		var v byte
		for _, c := range []byte(s[i+1 : i+3]) {
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | (c - '0')
			case c >= 'A' && c <= 'F':
				v = v<<4 | (c - 'A' + 10)
			default:
				return b.String(), false
			}
		}
		b.WriteByte(v)
		i += 2
	}
	return b.String(), true
}

func TestSprintf(t *testing.T) {
	got := wfcmd.Sprintf("cvgate: %s failed (%v) after %d tries, 50%%", "a\n::x::", errString("b\r::y::"), 3)
	if want := "cvgate: a%0A::x:: failed (b%0D::y::) after 3 tries, 50%"; got != want {
		t.Errorf("Sprintf = %q, want %q", got, want)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// BenchmarkText escapes a typical log argument (a dataset path).
func BenchmarkText(b *testing.B) {
	s := "eval/images/cat/IMG_20240102_123456_0001.png"
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		_ = wfcmd.Text(s)
	}
}

// BenchmarkWriter passes progress-style log lines through the filter, against writing them
// straight (BenchmarkWriterBare), so the ratio is the filter's cost.
func BenchmarkWriter(b *testing.B) {
	line := []byte("cvgate: robust.corruptions 1234/5000 images, gaussian_noise severity 3\n")
	w := wfcmd.NewWriter(io.Discard)
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		_, _ = w.Write(line)
	}
}

func BenchmarkWriterBare(b *testing.B) {
	line := []byte("cvgate: robust.corruptions 1234/5000 images, gaussian_noise severity 3\n")
	var w io.Writer = io.Discard
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		_, _ = w.Write(line)
	}
}
