package audit

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// RFC 8785 section 3.2.2 example, minus its first number (see the next case).
		{"rfc8785 example",
			`{"numbers": [1E30, 4.50, 2e-3, 0.000000000000000000000000001],
			  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
			  "literals": [null, true, false]}`,
			`{"literals":[null,true,false],"numbers":[1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`},
		// RFC 8785 rounds this to a double (333333333.3333333); we keep the exact decimal.
		{"exact decimal digits kept", `333333333.33333329`, `333333333.33333329`},
		// RFC 8785 section 3.2.3 sorting example: UTF-16 order puts the emoji (a surrogate
		// pair, 0xD83D...) before U+FB33, though its UTF-8 bytes sort after.
		{"rfc8785 key order",
			`{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}`,
			"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"},
		{"whitespace and nesting", " { \"b\" : [ 1 , { \"d\" : {} , \"c\" : [ ] } ] , \"a\" : null } \n", `{"a":null,"b":[1,{"c":[],"d":{}}]}`},
		{"html escapes undone", `"\u003c/script\u003e \u0026"`, `"</script> &"`},
		{"DEL and line separator stay literal", `"\u007f\u2028"`, "\"\x7f\u2028\""},
		{"control characters", `"\u0000\u0008\u0009\u000a\u000b\u000c\u000d\u001f"`, `"\u0000\b\t\n\u000b\f\r\u001f"`},
		{"solidus unescaped", `"a\/b"`, `"a/b"`},
		{"raw UTF-8 kept", `"naïve 日本"`, `"naïve 日本"`},
		{"scalar literal", `true`, `true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonical(json.RawMessage(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			again, err := Canonical(json.RawMessage(got))
			if err != nil || string(again) != string(got) {
				t.Errorf("canonical form is not a fixed point: %s -> %s (%v)", got, again, err)
			}
		})
	}
}

func TestCanonicalNumbers(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0"},
		{"-0", "0"},
		{"-0.000e5", "0"},
		{"1.0", "1"},
		{"100", "100"},
		{"1e2", "100"},
		{"1E+2", "100"},
		{"1e+0", "1"},
		{"0.1", "0.1"},
		{"12.34e-1", "1.234"},
		{"1e21", "1e+21"},
		{"123456789012345678901", "123456789012345678901"},        // 21 digits: still plain
		{"1234567890123456789012", "1.234567890123456789012e+21"}, // 22 digits: exponent
		{"9223372036854775807", "9223372036854775807"},            // int64 max, exact
		{"-9223372036854775808", "-9223372036854775808"},
		{"18446744073709551616", "18446744073709551616"}, // 2^64, beyond any Go integer
		{"1e-6", "0.000001"},
		{"1e-7", "1e-7"},
		{"0.00001234", "0.00001234"},
		{"-5e-10", "-5e-10"},
		{"1.5e300", "1.5e+300"},
		{"123e-2", "1.23"},
		{"0e999999999", "0"},
	}
	for _, tt := range tests {
		got, err := Canonical(json.RawMessage(tt.in))
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s: got %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestCanonicalMatchesFloatEncoding uses encoding/json as an independent oracle: it writes a
// float64 as the shortest round-trip digits in ECMAScript layout, which RFC 8785 prescribes, so
// canonicalizing its output must change nothing.
func TestCanonicalMatchesFloatEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		var f float64
		switch i % 4 {
		case 0:
			f = math.Float64frombits(r.Uint64())
		case 1:
			f = r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))
		case 2:
			f = float64(r.Int64N(1<<53)) * float64(1-2*r.IntN(2))
		default:
			f = float64(r.IntN(1000000)) / 1000
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Canonical(json.RawMessage(want))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("float %v: canonical %s, encoding/json %s", f, got, want)
		}
	}
	for range 2000 {
		n := int64(r.Uint64())
		want := strconv.FormatInt(n, 10)
		if got, err := Canonical(json.RawMessage(want)); err != nil || string(got) != want {
			t.Fatalf("int64 %s: canonical %s (%v)", want, got, err)
		}
	}
}

func TestCanonicalGoValues(t *testing.T) {
	type inner struct {
		Z int    `json:"z"`
		A string `json:"a"`
	}
	v := struct {
		Name  string         `json:"name"`
		Inner inner          `json:"inner"`
		Map   map[string]any `json:"map"`
		Score float64        `json:"score"`
	}{"m<1>", inner{Z: 1, A: "x"}, map[string]any{"b": 2, "a": []int{3, 1}}, 0.5}
	got, err := Canonical(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"inner":{"a":"x","z":1},"map":{"a":[3,1],"b":2},"name":"m<1>","score":0.5}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := Canonical(math.NaN()); err == nil {
		t.Error("NaN encoded without error")
	}
}

func TestCanonicalRejects(t *testing.T) {
	tests := []struct{ name, in, wantErr string }{
		{"empty", ``, "unexpected end"},
		{"duplicate key", `{"a":1,"b":2,"a":3}`, `duplicate object key "a"`},
		{"duplicate key via escape", `{"a":1,"\u0061":2}`, `duplicate object key "a"`},
		{"trailing data", `{} {}`, "after the JSON value"},
		{"leading zero", `01`, "after the JSON value"},
		{"bare dot", `1.`, "no digits after"},
		{"leading dot", `.5`, "invalid character"},
		{"plus sign", `+1`, "invalid character"},
		{"empty exponent", `1e`, "no exponent digits"},
		{"huge exponent", `1e1000000000`, "exponent out of range"},
		{"invalid UTF-8", "\"\xff\"", "invalid UTF-8"},
		{"lone high surrogate", `"\ud83d"`, "lone UTF-16 surrogate"},
		{"lone low surrogate", `"\ude00x"`, "lone UTF-16 surrogate"},
		{"raw control character", "\"a\tb\"", "control character"},
		{"bad escape", `"\x"`, "invalid escape"},
		{"unterminated string", `"abc`, "unterminated string"},
		{"unterminated object", `{"a":1`, "unexpected end"},
		{"missing colon", `{"a" 1}`, "missing ':'"},
		{"non-string key", `{1:2}`, "key must be a string"},
		{"trailing comma", `[1,]`, "invalid character"},
		{"too deep", strings.Repeat("[", maxNesting+1) + strings.Repeat("]", maxNesting+1), "nested deeper"},
		{"misspelt literal", `nul`, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Canonical(json.RawMessage(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			var se *SyntaxError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want a *SyntaxError containing %q", err, tt.wantErr)
			}
		})
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,"x\u0000"],"b":{"c":null}}`, `-0.0`, `"\ud83d\ude00"`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Canonical(json.RawMessage(data))
		if err != nil {
			return
		}
		if !json.Valid(got) {
			t.Fatalf("canonical form %q is not valid JSON", got)
		}
		again, err := Canonical(json.RawMessage(got))
		if err != nil || string(again) != string(got) {
			t.Fatalf("not a fixed point: %q -> %q (%v)", got, again, err)
		}
	})
}

func BenchmarkCanonical(b *testing.B) {
	record := sampleRecord(b, 1)
	raw := json.RawMessage(record.Bytes())
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Canonical(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCompareUTF16 checks the allocation-free comparison against encoding both strings to UTF-16.
func TestCompareUTF16(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []rune{'a', 'b', 0x7f, 0xe9, 0x20ac, 0xd7ff, 0xe000, 0xfb33, 0xffff, 0x10000, 0x1f600, 0x10ffff}
	randomString := func() string {
		rs := make([]rune, r.IntN(4))
		for i := range rs {
			rs[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(rs)
	}
	for range 20000 {
		a, b := randomString(), randomString()
		want := slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
		if got := compareUTF16(a, b); got != want {
			t.Fatalf("compareUTF16(%q, %q) = %d, want %d", a, b, got, want)
		}
	}
}
