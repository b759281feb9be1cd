package credential

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
)

// Redacted is what a Secret prints in every format.
const Redacted = "[REDACTED]"

// Secret holds the bytes of one credential.
//
// Secret is a small handle: copies share the same bytes, so Release on any
// copy zeroes them for all. Every way of printing or encoding a Secret
// (String, GoString, every fmt verb, JSON, text, slog) yields [REDACTED];
// the only ways to the bytes are Use and Bytes, meant for the injector.
//
// The zero Secret is empty and released.
type Secret struct {
	b *secretBuf
}

// secretBuf is shared by the copies of one Secret. The lock keeps Release
// from zeroing the bytes while Use is reading them.
type secretBuf struct {
	mu       sync.RWMutex
	data     []byte
	released bool
}

// NewSecret returns a Secret holding a copy of b. The caller should clear
// its own b afterwards if it can.
func NewSecret(b []byte) Secret {
	data := make([]byte, len(b))
	copy(data, b)
	buf := &secretBuf{data: data}
	// The cleanup zeroes the bytes when the last copy of the Secret becomes
	// unreachable, so a forgotten Release still does not leave the
	// credential in freed memory for long. It captures only the slice,
	// never buf, or buf could never be collected.
	runtime.AddCleanup(buf, func(d []byte) { clear(d) }, data)
	return Secret{b: buf}
}

// Len returns the number of bytes held, 0 after Release.
func (s Secret) Len() int {
	if s.b == nil {
		return 0
	}
	s.b.mu.RLock()
	defer s.b.mu.RUnlock()
	return len(s.b.data)
}

// Released reports whether Release was called on any copy of s (or s is
// the zero Secret).
func (s Secret) Released() bool {
	if s.b == nil {
		return true
	}
	s.b.mu.RLock()
	defer s.b.mu.RUnlock()
	return s.b.released
}

// Use calls fn with the secret's bytes, which are valid only during the
// call: fn must not keep or modify the slice. It returns ErrReleased, and
// does not call fn, after Release.
func (s Secret) Use(fn func(b []byte)) error {
	if s.b == nil {
		return ErrReleased
	}
	s.b.mu.RLock()
	defer s.b.mu.RUnlock()
	if s.b.released {
		return ErrReleased
	}
	fn(s.b.data)
	return nil
}

// Bytes returns a copy of the secret's bytes, or ErrReleased. The caller
// owns the copy and should clear it when done; prefer Use, which makes no
// copy.
func (s Secret) Bytes() ([]byte, error) {
	var out []byte
	err := s.Use(func(b []byte) {
		out = make([]byte, len(b))
		copy(out, b)
	})
	return out, err
}

// Release zeroes the secret's bytes for every copy of s. It is idempotent
// and safe for concurrent use.
func (s Secret) Release() {
	if s.b == nil {
		return
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	clear(s.b.data)
	s.b.data = nil
	s.b.released = true
}

// String returns [REDACTED].
func (s Secret) String() string { return Redacted }

// GoString returns [REDACTED], so %#v cannot print the bytes either.
func (s Secret) GoString() string { return Redacted }

// Format writes [REDACTED] for every verb and flag; %q quotes it. Without
// Format, verbs such as %x or %d would print the struct's fields.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, `"`+Redacted+`"`)
		return
	}
	_, _ = io.WriteString(f, Redacted)
}

// MarshalJSON returns the JSON string "[REDACTED]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText returns [REDACTED].
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// LogValue makes slog print [REDACTED], whatever the handler.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// Interface checks: the redaction must not silently depend on one of them
// disappearing.
var (
	_ fmt.Stringer   = Secret{}
	_ fmt.GoStringer = Secret{}
	_ fmt.Formatter  = Secret{}
	_ slog.LogValuer = Secret{}
)
