package credential

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const testValue = "s3cr3t-VALUE-0123"

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret([]byte(testValue))
	type wrapper struct {
		Token Secret
		Ptr   *Secret
	}
	w := wrapper{Token: s, Ptr: &s}
	formats := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s", "%-20v", "%T %v"}
	for _, f := range formats {
		for _, arg := range []any{s, &s, w, []Secret{s}, map[string]Secret{"k": s}} {
			t.Run(f, func(t *testing.T) {
				out := fmt.Sprintf(f, arg)
				if strings.Contains(out, testValue) || strings.Contains(out, fmt.Sprintf("%x", testValue)) {
					t.Fatalf("format %s of %T leaked: %s", f, arg, out)
				}
				if !strings.Contains(out, Redacted) && !strings.HasPrefix(f, "%T") {
					t.Fatalf("format %s of %T = %s, want %s in it", f, arg, out, Redacted)
				}
			})
		}
	}
	j, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"Token":"[REDACTED]","Ptr":"[REDACTED]"}`; string(j) != want {
		t.Errorf("json = %s, want %s", j, want)
	}
	if txt, _ := s.MarshalText(); string(txt) != Redacted {
		t.Errorf("text = %s", txt)
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("msg", "secret", s, "group", slog.GroupValue(slog.Any("inner", s)))
	}
	if strings.Contains(buf.String(), testValue) || strings.Count(buf.String(), Redacted) != 4 {
		t.Errorf("slog output: %s", buf.String())
	}
	err = fmt.Errorf("wrap %v: %w", s, errors.New("x"))
	if strings.Contains(err.Error(), testValue) {
		t.Errorf("error leaked: %v", err)
	}
}

func TestSecretUseAndRelease(t *testing.T) {
	src := []byte(testValue)
	s := NewSecret(src)
	clear(src)
	var inside []byte
	if err := s.Use(func(b []byte) { inside = b }); err != nil {
		t.Fatal(err)
	}
	if string(inside) != testValue {
		t.Fatalf("Use saw %q", inside)
	}
	c, _ := s.Bytes()
	if string(c) != testValue || s.Len() != len(testValue) {
		t.Fatalf("Bytes = %q, Len = %d", c, s.Len())
	}
	cp := s // copies share the bytes
	cp.Release()
	if !bytes.Equal(inside, make([]byte, len(testValue))) {
		t.Errorf("Release did not zero the bytes: %q", inside)
	}
	if !s.Released() || s.Len() != 0 {
		t.Errorf("Released = %v, Len = %d", s.Released(), s.Len())
	}
	if err := s.Use(func([]byte) { t.Error("fn called after Release") }); !errors.Is(err, ErrReleased) {
		t.Errorf("Use after Release: %v", err)
	}
	if _, err := s.Bytes(); !errors.Is(err, ErrReleased) {
		t.Errorf("Bytes after Release: %v", err)
	}
	s.Release() // idempotent
	var zero Secret
	zero.Release()
	if !zero.Released() || zero.String() != Redacted {
		t.Error("zero Secret")
	}
}

func ExampleSecret() {
	s := NewSecret([]byte("hunter2"))
	defer s.Release()
	fmt.Println(s)
	fmt.Printf("%#v %q %x\n", s, s, s)
	_ = s.Use(func(b []byte) { fmt.Println(len(b), "bytes for the injector") })
	// Output:
	// [REDACTED]
	// [REDACTED] "[REDACTED]" [REDACTED]
	// 7 bytes for the injector
}
