// Package hostname normalises the host names that kavach's allowlist and
// header rules compare, so that both sides of every comparison went
// through the same steps.
package hostname

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ErrBadHost reports a host that is neither a valid DNS name nor an IP
// address, or a bad port.
var ErrBadHost = errors.New("bad host")

// profile is IDNA's lookup profile: it maps Unicode names to their
// A-label ("xn--") form, lower-cases, and refuses characters that are not
// valid in a host name (STD3 rules), such as spaces, '/', '@' or '_'.
var profile = idna.Lookup

// Normalize returns host in the one form that kavach compares: an IP
// address in its canonical text form (IPv4-mapped IPv6 unmapped, no
// brackets, no zone), or a lower-case ASCII DNS name without a trailing
// dot. When host is an IP address, the address is returned too (the zero
// Addr otherwise).
func Normalize(host string) (string, netip.Addr, error) {
	if host == "" {
		return "", netip.Addr{}, fmt.Errorf("%w: empty", ErrBadHost)
	}
	h := host
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", netip.Addr{}, fmt.Errorf("%w: %q is not an IPv6 address", ErrBadHost, host)
		}
		a = a.Unmap()
		return a.String(), a, nil
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return "", netip.Addr{}, fmt.Errorf("%w: %q has an IPv6 zone", ErrBadHost, host)
		}
		a = a.Unmap()
		return a.String(), a, nil
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return "", netip.Addr{}, fmt.Errorf("%w: %q has a bad length", ErrBadHost, host)
	}
	if !utf8.ValidString(h) {
		return "", netip.Addr{}, fmt.Errorf("%w: %q is not UTF-8", ErrBadHost, host)
	}
	a, err := profile.ToASCII(h)
	if err != nil {
		return "", netip.Addr{}, fmt.Errorf("%w: %q: %w", ErrBadHost, host, err)
	}
	a = strings.ToLower(a)
	// The A-label form must be stable: normalising it again must give it
	// back, or two spellings of one host could compare unequal.
	if again, err := profile.ToASCII(a); err != nil || again != a {
		return "", netip.Addr{}, fmt.Errorf("%w: %q does not normalise stably", ErrBadHost, host)
	}
	if a == "" || len(a) > 253 || strings.HasPrefix(a, ".") || strings.HasSuffix(a, ".") || strings.Contains(a, "..") {
		return "", netip.Addr{}, fmt.Errorf("%w: %q has an empty label", ErrBadHost, host)
	}
	// A name made of digits and dots only ("127.1", "2130706433") is what
	// inet_aton would read as an IPv4 address; a client library may do so.
	// Such names are refused rather than guessed at.
	if looksNumeric(a) {
		return "", netip.Addr{}, fmt.Errorf("%w: %q is a numeric name, not a canonical IPv4 address", ErrBadHost, host)
	}
	return a, netip.Addr{}, nil
}

// looksNumeric reports whether the last label of a DNS name is all digits
// or a 0x number: no top-level domain is, and resolvers treat such names
// as IPv4 addresses in shorthand.
func looksNumeric(name string) bool {
	last := name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		last = name[i+1:]
	}
	if last == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") {
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

// SplitHostPort splits "host", "host:port", "[v6]" or "[v6]:port". An
// IPv6 address always needs brackets, because "2001:db8::1:443" could be
// an address or an address and a port. Port 0 means none was given.
func SplitHostPort(s string) (host string, port int, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, fmt.Errorf("%w: %q: missing ']'", ErrBadHost, s)
		}
		host, rest := s[:end+1], s[end+1:]
		if rest == "" {
			return host, 0, nil
		}
		if rest[0] != ':' {
			return "", 0, fmt.Errorf("%w: %q: junk after ']'", ErrBadHost, s)
		}
		p, err := ParsePort(rest[1:])
		if err != nil {
			return "", 0, err
		}
		return host, p, nil
	}
	switch strings.Count(s, ":") {
	case 0:
		return s, 0, nil
	case 1:
		h, ps, _ := strings.Cut(s, ":")
		p, err := ParsePort(ps)
		if err != nil {
			return "", 0, err
		}
		return h, p, nil
	}
	return "", 0, fmt.Errorf("%w: %q: an IPv6 address needs brackets, as in [::1]:443", ErrBadHost, s)
}

// ParsePort parses a decimal port in 1..65535.
func ParsePort(s string) (int, error) {
	if s == "" || len(s) > 5 {
		return 0, fmt.Errorf("%w: port %q", ErrBadHost, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: port %q", ErrBadHost, s)
		}
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("%w: port %q out of range", ErrBadHost, s)
	}
	return p, nil
}
