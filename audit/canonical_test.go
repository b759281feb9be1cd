package audit

import (
	"errors"
	"strings"
	"testing"
)

// TestCanonicalize checks canonical() against what serde_json 1.0 prints
// for a serde_json::Value parsed from the same text.
func TestCanonicalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"sorted keys", `{"b":1,"a":2,"c":{"z":0,"y":1}}`, `{"a":2,"b":1,"c":{"y":1,"z":0}}`},
		{"duplicate key keeps last", `{"a":1,"b":2,"a":3}`, `{"a":3,"b":2}`},
		{"key order is bytewise", `{"é":1,"z":2,"Z":3,"":4}`, `{"":4,"Z":3,"z":2,"é":1}`},
		{"whitespace removed", " { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : true } ", `{"a":[1,2],"b":true}`},
		{"literals", `[null,true,false]`, `[null,true,false]`},
		{"empty containers", `{"a":{},"b":[]}`, `{"a":{},"b":[]}`},
		{"u64", `18446744073709551615`, `18446744073709551615`},
		{"u64 overflow becomes f64", `18446744073709551616`, `1.8446744073709552e19`},
		{"i64 min", `-9223372036854775808`, `-9223372036854775808`},
		{"below i64 min becomes f64", `-9223372036854775809`, `-9.223372036854776e18`},
		{"minus zero integer becomes f64", `-0`, `-0.0`},
		{"minus zero", `-0.0`, `-0.0`},
		{"zero", `0`, `0`},
		{"zero float", `0.0`, `0.0`},
		{"one float", `1.0`, `1.0`},
		{"exponent only", `1e0`, `1.0`},
		{"upper E", `1E2`, `100.0`},
		{"plus exponent", `2.5e+3`, `2500.0`},
		{"fraction", `0.1`, `0.1`},
		{"1e15 plain", `1e15`, `1000000000000000.0`},
		{"1e16 exponent", `1e16`, `1e16`},
		{"1.5e16", `15000000000000000.0`, `1.5e16`},
		{"small plain", `0.0001`, `0.0001`},
		{"1e-5 plain", `0.00001`, `0.00001`},
		{"1e-6 exponent", `0.000001`, `1e-6`},
		{"1.5e-7", `1.5e-7`, `1.5e-7`},
		{"decimal inside", `123.456e2`, `12345.6`},
		{"max f64", `1.7976931348623157e308`, `1.7976931348623157e308`},
		{"min subnormal", `5e-324`, `5e-324`},
		{"underflow to zero", `1e-400`, `0.0`},
		{"negative underflow", `-1e-400`, `-0.0`},
		{"huge exponent of zero", `0e99999999999`, `0.0`},
		{"negative float", `-2.5`, `-2.5`},
		{"long fraction truncated", `0.1000000000000000000000000001`, `0.1`},
		{"long integer", `123456789012345678901234567890`, `1.2345678901234568e29`},
		{"escapes decoded", `"\u00e9\/\"\\"`, `"é/\"\\"`},
		{"short control escapes", `"\b\f\n\r\t"`, `"\b\f\n\r\t"`},
		{"other controls lower hex", `"\u0001\u001F"`, `"\u0001\u001f"`},
		{"DEL raw", `"\u007f"`, "\"\x7f\""},
		{"html raw", `"\u003c\u003e\u0026"`, `"<>&"`},
		{"line separators raw", `"\u2028\u2029"`, "\"\u2028\u2029\""},
		{"surrogate pair", `"\ud83d\ude00"`, `"😀"`},
		{"raw utf8", `"日本"`, `"日本"`},
		{"escaped key sorts by decoded bytes", `{"\u0062":1,"a":2}`, `{"a":2,"b":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := canonicalize(nil, []byte(tt.in))
			if err != nil {
				t.Fatalf("canonicalize(%s): %v", tt.in, err)
			}
			if string(got) != tt.want {
				t.Fatalf("canonicalize(%s) = %s, want %s", tt.in, got, tt.want)
			}
			again, err := canonicalize(nil, got)
			if err != nil || string(again) != tt.want {
				t.Fatalf("not idempotent: %s -> %s (%v)", got, again, err)
			}
		})
	}
}

// TestCanonicalizeRejects lists texts serde_json refuses to parse.
func TestCanonicalizeRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ``},
		{"trailing", `{} x`},
		{"leading zero", `01`},
		{"bare minus", `-`},
		{"dot without digits", `1.`},
		{"exponent without digits", `1e`},
		{"overflow", `1e400`},
		{"overflowing exponent", `1e99999999999`},
		{"lone high surrogate", `"\ud800"`},
		{"lone low surrogate", `"\udc00"`},
		{"high surrogate then char", `"\ud800x"`},
		{"raw control", "\"a\x01\""},
		{"invalid utf8", "\"\xff\""},
		{"bad escape", `"\x"`},
		{"unterminated", `"abc`},
		{"trailing comma", `[1,]`},
		{"single quotes", `'a'`},
		{"NaN", `NaN`},
		{"missing colon", `{"a" 1}`},
		{"too deep", strings.Repeat("[", 127) + strings.Repeat("]", 127)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := canonicalize(nil, []byte(tt.in))
			if !errors.Is(err, errSyntax) {
				t.Fatalf("canonicalize(%q) = %q, %v; want a syntax error", tt.in, got, err)
			}
		})
	}
	// 126 levels is the deepest payload serde_json accepts inside a record.
	deep := strings.Repeat("[", 126) + strings.Repeat("]", 126)
	if _, err := canonicalize(nil, []byte(deep)); err != nil {
		t.Fatalf("126 levels: %v", err)
	}
}

// TestSerdeFloatRounding shows that the serde_json algorithm (significand
// times one power of ten), not correct rounding, decides the f64 when the
// two differ.
func TestSerdeFloatRounding(t *testing.T) {
	// 9007199254740993 is 2^53+1: as u64 -> f64 it rounds to 2^53 before the
	// exponent is applied, so the result is 2^53 * 10, whereas the correctly
	// rounded value of 90071992547409930 is 90071992547409936.
	got, err := canonicalize(nil, []byte(`9007199254740993e1`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `9.007199254740992e16`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestAppendString(t *testing.T) {
	in := "a\"b\\c\x00\x1f\x7f\b\f\n\r\t/<>&\u2028é"
	want := `"a\"b\\c\u0000\u001f` + "\x7f" + `\b\f\n\r\t/<>&` + "\u2028é\""
	if got := string(appendString(nil, in)); got != want {
		t.Fatalf("appendString = %q, want %q", got, want)
	}
}
