package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/go-written.log")

const testKey = "kavach-test-key"

// TestSerdeGolden compares canonicalize with serde_json itself: the outputs
// in testdata/serde_canon.txt were produced by testdata/serderef (Rust,
// serde_json 1.0.87 from Debian) from testdata/serde_inputs.txt, one line
// each: "ok<TAB>to_string(from_str::<Value>(input))" or "err<TAB>message".
func TestSerdeGolden(t *testing.T) {
	in := readLines(t, "testdata/serde_inputs.txt")
	out := readLines(t, "testdata/serde_canon.txt")
	if len(in) != len(out) || len(in) < 3000 {
		t.Fatalf("%d inputs, %d outputs", len(in), len(out))
	}
	for i := range in {
		got, err := canonicalizeDepth(nil, []byte(in[i]), 128) // a bare Value gets serde_json's full budget
		want, ok := strings.CutPrefix(out[i], "ok\t")
		switch {
		case !ok && err == nil:
			t.Errorf("line %d: %s: serde_json rejects it (%s), canonicalize gave %s", i+1, in[i], out[i], got)
		case ok && err != nil:
			t.Errorf("line %d: %s: canonicalize: %v, serde_json gives %s", i+1, in[i], err, want)
		case ok && string(got) != want:
			t.Errorf("line %d: %s: canonicalize %s, serde_json %s", i+1, in[i], got, want)
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func copyToTemp(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestRustWrittenLog verifies testdata/rust-written.log, written by
// testdata/serderef with kavach 1.0's AuditEntry and record() logic, and
// resumes it.
func TestRustWrittenLog(t *testing.T) {
	ctx := context.Background()
	path := copyToTemp(t, "testdata/rust-written.log")
	rep, err := Verify(ctx, path, []byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 6 || rep.LastSerial != 5 || rep.Checkpoint || len(rep.Warnings) != 1 {
		t.Fatalf("report %+v", rep)
	}
	if _, err := Verify(ctx, path, []byte("another key")); !errors.Is(err, ErrTampered) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := Open(ctx, path, []byte(testKey)); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("open without adoption: %v", err)
	}
	w, err := Open(ctx, path, []byte(testKey), WithAdopt())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := w.Append(ctx, "exec", map[string]any{"argv": []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Serial != 6 {
		t.Fatalf("resumed at serial %d", rec.Serial)
	}
	w.Close()
	rep, err = Verify(ctx, path, []byte(testKey))
	if err != nil || rep.Records != 7 || !rep.Checkpoint || len(rep.Warnings) != 0 {
		t.Fatalf("after adoption: %+v, %v", rep, err)
	}
}

// writeGolden writes the log of TestGoWrittenLog with a fixed clock.
func writeGolden(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 3, 25, 12, 0, 0, 123456789, time.UTC)
	n := 0
	clock := func() time.Time {
		n++
		return base.Add(time.Duration(n) * 250 * time.Microsecond)
	}
	w, err := Open(ctx, path, []byte(testKey), WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	events := []struct {
		typ     string
		payload any
	}{
		{"create", map[string]any{"sandbox_id": "sbx-1", "backend": "process", "policy": "basic"}},
		{"exec", map[string]any{"argv": []string{"sh", "-c", "echo <hi> && exit 3"}, "exit_code": 3, "duration_ms": 12, "enforced_score": 65, "cpu_seconds": 0.25}},
		{"scan", map[string]any{"findings": []map[string]string{{"rule_id": "aws-access-key-id", "severity": "Critical", "evidence": "AKIA****"}}, "verdict": "Block", "note": "tab\there \u2028 é 日本 😀 \x01"}},
		{"destroy", nil},
		{"proxy", json.RawMessage(`{"z":1,"a":[1e16,0.1,-0]}`)},
	}
	for _, e := range events {
		if _, err := w.Append(ctx, e.typ, e.payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestGoWrittenLog checks that the writer still produces, byte for byte,
// testdata/go-written.log, which kavach 1.0's verify_chain logic
// (testdata/serderef verify) accepted: "ok 6".
func TestGoWrittenLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "go-written.log")
	writeGolden(t, path)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("testdata/go-written.log", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/go-written.log")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("writer output changed:\n%s\nwant:\n%s", got, want)
	}
	if _, err := Verify(context.Background(), path, []byte(testKey)); err != nil {
		t.Fatal(err)
	}
}

func hmacHex(key, input string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(input))
	return hex.EncodeToString(m.Sum(nil))
}

// TestHandComputedVector builds a log by hand from spec §8's format: the
// HMAC inputs are written out literally and hashed with crypto/hmac.
func TestHandComputedVector(t *testing.T) {
	const ts0 = "2026-03-25T12:00:00.123456789+00:00"
	const ts1 = "2026-03-25T12:00:01.5+00:00"
	h0 := hmacHex(testKey, `0:genesis:{"message":"audit chain initialized"}:2026-03-25T12:00:00.123456789+00:00:`)
	h1 := hmacHex(testKey, `1:exec:{"argv":["ls","-l"],"duration_ms":7,"exit":0,"ratio":0.5,"note":"é/<>"}:2026-03-25T12:00:01.5+00:00:`+h0)
	// The payload above is not sorted ("note" after "ratio"): canonical()
	// sorts it, so the stored record and the real HMAC input use the sorted
	// form, and this h1 must NOT verify.
	h1sorted := hmacHex(testKey, `1:exec:{"argv":["ls","-l"],"duration_ms":7,"exit":0,"note":"é/<>","ratio":0.5}:2026-03-25T12:00:01.5+00:00:`+h0)
	line0 := `{"serial":0,"event_type":"genesis","payload":{"message":"audit chain initialized"},"timestamp":"` + ts0 + `","hmac":"` + h0 + `","prev_hmac":""}`
	line1 := func(h string) string {
		return `{"serial":1,"event_type":"exec","payload":{"argv":["ls","-l"],"duration_ms":7,"exit":0,"note":"é/<>","ratio":0.5},"timestamp":"` + ts1 + `","hmac":"` + h + `","prev_hmac":"` + h0 + `"}`
	}
	tests := []struct {
		name   string
		h1     string
		wantOK bool
	}{
		{"sorted payload in the input", h1sorted, true},
		{"unsorted payload in the input", h1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hand.log")
			if err := os.WriteFile(path, []byte(line0+"\n"+line1(tt.h1)+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(context.Background(), path, []byte(testKey))
			if tt.wantOK {
				if err != nil || rep.Records != 2 || rep.LastHMAC != h1sorted {
					t.Fatalf("Verify = %+v, %v", rep, err)
				}
				return
			}
			var ce *ChainError
			if !errors.As(err, &ce) || ce.Serial != 1 || !strings.Contains(ce.Reason, "HMAC mismatch") {
				t.Fatalf("Verify = %v, want HMAC mismatch at serial 1", err)
			}
		})
	}
}

// independentVerify re-implements the chain check with encoding/json and
// crypto/hmac only. It handles payloads whose canonical form Go's encoder
// also produces (maps with sorted keys, integers, strings without U+2028,
// U+2029 or control characters, HTML characters unescaped).
func independentVerify(t *testing.T, path, key string) int {
	t.Helper()
	prev := ""
	for i, line := range readLines(t, path) {
		var e struct {
			Serial    uint64          `json:"serial"`
			EventType string          `json:"event_type"`
			Payload   json.RawMessage `json:"payload"`
			Timestamp string          `json:"timestamp"`
			HMAC      string          `json:"hmac"`
			PrevHMAC  string          `json:"prev_hmac"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		var v any
		d := json.NewDecoder(bytes.NewReader(e.Payload))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		var canon bytes.Buffer
		enc := json.NewEncoder(&canon)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		input := strings.Join([]string{
			strconv.FormatUint(e.Serial, 10), e.EventType,
			strings.TrimSuffix(canon.String(), "\n"), e.Timestamp, e.PrevHMAC,
		}, ":")
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(input))
		want, _ := hex.DecodeString(e.HMAC)
		if e.Serial != uint64(i) || e.PrevHMAC != prev || !hmac.Equal(m.Sum(nil), want) {
			t.Fatalf("independent verifier rejects line %d: %s", i+1, line)
		}
		prev = e.HMAC
	}
	return len(readLines(t, path))
}

// TestIndependentVerifier checks a log written by Writer with a verifier
// that shares no code with this package.
func TestIndependentVerifier(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.log")
	w, err := Open(ctx, path, []byte(testKey))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		payload := map[string]any{"i": i, "argv": []string{"echo", "<&>", "é"}, "nested": map[string]int{"z": 1, "a": -i}}
		if _, err := w.Append(ctx, "exec", payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := independentVerify(t, path, testKey); n != 51 {
		t.Fatalf("%d records", n)
	}
}
