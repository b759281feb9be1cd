package hostname

import (
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
		ip       bool
	}{
		{"Example.COM", "example.com", false},
		{"example.com.", "example.com", false},
		{"BÜCHER.example", "xn--bcher-kva.example", false},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", false},
		{"127.0.0.1", "127.0.0.1", true},
		{"[::1]", "::1", true},
		{"::FFFF:10.0.0.1", "10.0.0.1", true},
		{"[2001:DB8::1]", "2001:db8::1", true},
		{"", "", false},
		{"a..b", "", false},
		{".a", "", false},
		{"a b", "", false},
		{"a/b", "", false},
		{"user@host", "", false},
		{"under_score", "", false},
		{"127.1", "", false},
		{"0x7f.1", "", false},
		{"4294967295", "", false},
		{"fe80::1%eth0", "", false},
		{"[127.0.0.1]", "", false},
		{"\xff.example", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, addr, err := Normalize(tt.in)
			if tt.want == "" {
				if !errors.Is(err, ErrBadHost) {
					t.Fatalf("Normalize(%q) = %q, %v; want ErrBadHost", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want || addr.IsValid() != tt.ip {
				t.Fatalf("Normalize(%q) = %q, %v, %v; want %q", tt.in, got, addr, err, tt.want)
			}
		})
	}
}

func TestSplitHostPort(t *testing.T) {
	tests := []struct {
		in   string
		host string
		port int
		ok   bool
	}{
		{"a.b", "a.b", 0, true},
		{"a.b:80", "a.b", 80, true},
		{"[::1]", "[::1]", 0, true},
		{"[::1]:443", "[::1]", 443, true},
		{"::1", "", 0, false},
		{"a.b:", "", 0, false},
		{"a.b:0", "", 0, false},
		{"a.b:65536", "", 0, false},
		{"a.b:+80", "", 0, false},
		{"[::1]x", "", 0, false},
		{"[::1", "", 0, false},
	}
	for _, tt := range tests {
		host, port, err := SplitHostPort(tt.in)
		if (err == nil) != tt.ok || host != tt.host || port != tt.port {
			t.Errorf("SplitHostPort(%q) = %q, %d, %v", tt.in, host, port, err)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"example.com", "BÜCHER.de", "[::1]", "1.2.3.4", "a..b", "xn--zn7c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, addr, err := Normalize(s)
		if err != nil {
			return
		}
		again, addr2, err := Normalize(n)
		if addr.IsValid() {
			// An IPv6 result is unbracketed, which Normalize also accepts.
			if err != nil || again != n || addr2 != addr {
				t.Fatalf("%q -> %q -> %q, %v", s, n, again, err)
			}
			return
		}
		if err != nil || again != n {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, n, again, err)
		}
	})
}
