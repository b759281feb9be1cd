package proxy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseAllowEntry(t *testing.T) {
	tests := []struct {
		in   string
		want string // normalised String(), "" for an error
	}{
		{"api.example.com", "api.example.com"},
		{"API.Example.COM.:8443", "api.example.com:8443"},
		{"*.Example.com", "*.example.com"},
		{"*.example.com:443", "*.example.com:443"},
		{"bücher.example", "xn--bcher-kva.example"},
		{"203.0.113.7", "203.0.113.7"},
		{"203.0.113.7:8080", "203.0.113.7:8080"},
		{"[2001:db8::1]", "[2001:db8::1]"},
		{"[2001:DB8::1]:443", "[2001:db8::1]:443"},
		{"[::ffff:127.0.0.1]:80", "127.0.0.1:80"},
		{"10.1.0.0/16", "10.1.0.0/16"},
		{"10.1.0.0/16:5432", "10.1.0.0/16:5432"},
		{"[fd00::/8]:443", "[fd00::/8]:443"},
		{"127.0.0.1:0", ""},
		{"127.0.0.1:65536", ""},
		{"2001:db8::1", ""},
		{"fd00::/8", ""},
		{"[10.0.0.0/8]", ""},
		{"10.1.0.1/16", ""},
		{"[::ffff:10.0.0.0/104]", ""},
		{"*.com", ""},
		{"*.127.0.0.1", ""},
		{"*", ""},
		{"", ""},
		{"bad host", ""},
		{"under_score.example", ""},
		{"a..b", ""},
		{"http://api.example.com", ""},
		{"api.example.com/path", ""},
		{"127.1", ""},
		{"0x7f000001", ""},
		{"[fe80::1%eth0]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := ParseAllowEntry(tt.in)
			if tt.want == "" {
				if err == nil || !errors.Is(err, ErrBadAllowEntry) {
					t.Fatalf("ParseAllowEntry(%q) = %v, %v; want ErrBadAllowEntry", tt.in, e, err)
				}
				return
			}
			if err != nil || e.String() != tt.want {
				t.Fatalf("ParseAllowEntry(%q) = %q, %v; want %q", tt.in, e, err, tt.want)
			}
		})
	}
}

func TestAllowlistMatch(t *testing.T) {
	l, err := ParseAllowlist([]string{"api.example.com", "*.cdn.example:8443", "127.0.0.1:9000", "10.1.0.0/16:5432", "[::1]:9000"})
	if err != nil {
		t.Fatal(err)
	}
	names := []struct {
		name string
		port int
		want bool
	}{
		{"api.example.com", 80, true},
		{"api.example.com", 443, true},
		{"api.example.com", 8080, false},
		{"www.api.example.com", 443, false},
		{"example.com", 443, false},
		{"a.cdn.example", 8443, true},
		{"a.b.cdn.example", 8443, true},
		{"cdn.example", 8443, false},
		{"evilcdn.example", 8443, false},
		{"a.cdn.example", 443, false},
	}
	for _, tt := range names {
		if got := l.allowsName(tt.name, tt.port); got != tt.want {
			t.Errorf("allowsName(%s, %d) = %v", tt.name, tt.port, got)
		}
	}
	addrs := []struct {
		addr string
		port int
		want bool
	}{
		{"127.0.0.1", 9000, true},
		{"127.0.0.1", 9001, false},
		{"127.0.0.2", 9000, false},
		{"::1", 9000, true},
		{"::ffff:127.0.0.1", 9000, true},
		{"10.1.2.3", 5432, true},
		{"10.2.0.1", 5432, false},
		{"8.8.8.8", 443, true}, // global: allowed by checkAddr once the name passed
		{"192.168.0.1", 443, false},
		{"fe80::1", 443, false},
		{"ff02::1", 443, false},
		{"2002:7f00:1::", 443, false},
		{"2001:4860::8888", 443, true},
	}
	for _, tt := range addrs {
		ok, why := l.checkAddr(netip.MustParseAddr(tt.addr), tt.port)
		if ok != tt.want {
			t.Errorf("checkAddr(%s, %d) = %v %q", tt.addr, tt.port, ok, why)
		}
		if !ok && !strings.Contains(why, "address") {
			t.Errorf("reason %q", why)
		}
	}
}

func FuzzParseAllowEntry(f *testing.F) {
	for _, s := range []string{"a.b", "*.a.b:1", "1.2.3.4", "[::1]:80", "10.0.0.0/8:22", "[fd00::/8]", "xn--bcher-kva.example", "bücher.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseAllowEntry(s)
		if err != nil {
			if !errors.Is(err, ErrBadAllowEntry) {
				t.Fatalf("unwrapped error %v", err)
			}
			return
		}
		if e.Port < 0 || e.Port > 65535 || (e.Name == "") == !e.Prefix.IsValid() {
			t.Fatalf("inconsistent entry %+v", e)
		}
		again, err := ParseAllowEntry(e.String())
		if err != nil || again != e {
			t.Fatalf("round trip %q -> %q: %+v, %v", s, e.String(), again, err)
		}
		if strings.ContainsAny(e.Name, " /@:[]\r\n\x00") {
			t.Fatalf("unsafe name %q", e.Name)
		}
	})
}
