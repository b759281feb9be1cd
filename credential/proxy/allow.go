package proxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/kavach-go/kavach/credential/internal/hostname"
)

// AllowEntry is one parsed allowlist entry.
type AllowEntry struct {
	// Name is a normalised DNS name; for a wildcard it is the suffix
	// without "*.". Empty for IP and CIDR entries.
	Name     string
	Wildcard bool
	// Prefix is valid for IP and CIDR entries; a single address is a /32
	// or /128.
	Prefix netip.Prefix
	// Port is the one allowed port; 0 means 80 and 443.
	Port int
}

// String returns the entry in its parseable, normalised form.
func (e AllowEntry) String() string {
	var s string
	switch {
	case e.Prefix.IsValid() && e.Prefix.IsSingleIP():
		s = e.Prefix.Addr().String()
		if e.Prefix.Addr().Is6() {
			s = "[" + s + "]"
		}
	case e.Prefix.IsValid():
		s = e.Prefix.String()
		if e.Prefix.Addr().Is6() {
			s = "[" + s + "]"
		}
	case e.Wildcard:
		s = "*." + e.Name
	default:
		s = e.Name
	}
	if e.Port != 0 {
		s += ":" + strconv.Itoa(e.Port)
	}
	return s
}

// ParseAllowEntry parses one allowlist entry:
//
//	api.example.com    api.example.com:8443
//	*.example.com      *.example.com:443
//	203.0.113.7        203.0.113.7:8080
//	[2001:db8::1]      [2001:db8::1]:443
//	10.1.0.0/16        10.1.0.0/16:5432     [fd00::/8]:443
//
// Without a port, 80 and 443 are allowed. IPv6 addresses need brackets.
func ParseAllowEntry(s string) (AllowEntry, error) {
	hostPart, port, err := hostname.SplitHostPort(s)
	if err != nil {
		return AllowEntry{}, fmt.Errorf("parse allow entry %q: %w: %w", s, ErrBadAllowEntry, err)
	}
	if strings.Contains(hostPart, "/") {
		raw := strings.TrimSuffix(strings.TrimPrefix(hostPart, "["), "]")
		if strings.HasPrefix(hostPart, "[") != strings.Contains(raw, ":") {
			return AllowEntry{}, fmt.Errorf("parse allow entry %q: %w: IPv6 prefixes need brackets, IPv4 prefixes none", s, ErrBadAllowEntry)
		}
		p, err := netip.ParsePrefix(raw)
		if err != nil {
			return AllowEntry{}, fmt.Errorf("parse allow entry %q: %w: %w", s, ErrBadAllowEntry, err)
		}
		if p.Addr().Is4In6() {
			return AllowEntry{}, fmt.Errorf("parse allow entry %q: %w: write IPv4-mapped prefixes as IPv4", s, ErrBadAllowEntry)
		}
		if p.Masked() != p {
			return AllowEntry{}, fmt.Errorf("parse allow entry %q: %w: prefix has host bits set (did you mean %s?)", s, ErrBadAllowEntry, p.Masked())
		}
		return AllowEntry{Prefix: p, Port: port}, nil
	}
	wildcard := false
	if rest, ok := strings.CutPrefix(hostPart, "*."); ok {
		wildcard, hostPart = true, rest
	}
	name, addr, err := hostname.Normalize(hostPart)
	if err != nil {
		return AllowEntry{}, fmt.Errorf("parse allow entry %q: %w: %w", s, ErrBadAllowEntry, err)
	}
	if addr.IsValid() {
		if wildcard {
			return AllowEntry{}, fmt.Errorf("parse allow entry %q: %w: a wildcard needs a DNS name", s, ErrBadAllowEntry)
		}
		return AllowEntry{Prefix: netip.PrefixFrom(addr, addr.BitLen()), Port: port}, nil
	}
	if wildcard && !strings.Contains(name, ".") {
		return AllowEntry{}, fmt.Errorf("parse allow entry %q: %w: a wildcard over a top-level domain is too broad", s, ErrBadAllowEntry)
	}
	return AllowEntry{Name: name, Wildcard: wildcard, Port: port}, nil
}

// portOK reports whether the entry allows port.
func (e AllowEntry) portOK(port int) bool {
	if e.Port == 0 {
		return port == 80 || port == 443
	}
	return port == e.Port
}

// matchName reports whether the name entry allows name (normalised).
func (e AllowEntry) matchName(name string, port int) bool {
	if e.Name == "" || !e.portOK(port) {
		return false
	}
	if e.Wildcard {
		return strings.HasSuffix(name, "."+e.Name)
	}
	return name == e.Name
}

// Allowlist is a parsed list of entries.
type Allowlist []AllowEntry

// ParseAllowlist parses every entry; the first bad one is the error.
func ParseAllowlist(entries []string) (Allowlist, error) {
	l := make(Allowlist, 0, len(entries))
	for _, s := range entries {
		e, err := ParseAllowEntry(s)
		if err != nil {
			return nil, err
		}
		l = append(l, e)
	}
	return l, nil
}

// allowsName reports whether a name entry allows name:port.
func (l Allowlist) allowsName(name string, port int) bool {
	for _, e := range l {
		if e.matchName(name, port) {
			return true
		}
	}
	return false
}

// coveringPrefix returns the most specific IP or CIDR entry that covers
// addr and allows port.
func (l Allowlist) coveringPrefix(addr netip.Addr, port int) (netip.Prefix, bool) {
	var best netip.Prefix
	for _, e := range l {
		if e.Prefix.IsValid() && e.portOK(port) && e.Prefix.Contains(addr) && (!best.IsValid() || e.Prefix.Bits() > best.Bits()) {
			best = e.Prefix
		}
	}
	return best, best.IsValid()
}

// special is a range of addresses that the proxy refuses to dial unless an
// entry at least as specific covers the address.
type special struct {
	prefix netip.Prefix
	what   string
}

// specials lists the non-global ranges (RFC 6890 and its successors). The
// more specific ranges come first, so the first match names the address
// best and sets how specific an allowing entry must be.
var specials = func() []special {
	list := []struct{ p, what string }{
		{"0.0.0.0/8", "unspecified (this network)"},
		{"127.0.0.0/8", "loopback"},
		{"10.0.0.0/8", "private"},
		{"172.16.0.0/12", "private"},
		{"192.168.0.0/16", "private"},
		{"100.64.0.0/10", "shared (carrier-grade NAT)"},
		{"169.254.0.0/16", "link-local"},
		{"192.0.0.0/24", "IETF protocol assignment"},
		{"192.0.2.0/24", "documentation"},
		{"198.51.100.0/24", "documentation"},
		{"203.0.113.0/24", "documentation"},
		{"198.18.0.0/15", "benchmarking"},
		{"224.0.0.0/4", "multicast"},
		{"255.255.255.255/32", "broadcast"},
		{"240.0.0.0/4", "reserved"},
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"::ffff:0:0/96", "IPv4-mapped"},
		{"::/96", "IPv4-compatible (deprecated)"},
		{"64:ff9b::/96", "NAT64"},
		{"64:ff9b:1::/48", "local NAT64"},
		{"100::/64", "discard-only"},
		{"2001:db8::/32", "documentation"},
		{"2001::/32", "Teredo"},
		{"2002::/16", "6to4"},
		{"fc00::/7", "private (unique local)"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local (deprecated)"},
		{"ff00::/8", "multicast"},
	}
	out := make([]special, len(list))
	for i, s := range list {
		out[i] = special{netip.MustParsePrefix(s.p), s.what}
	}
	return out
}()

// classify returns the special range that addr is in, if any.
func classify(addr netip.Addr) (special, bool) {
	for _, s := range specials {
		if s.prefix.Contains(addr) {
			return s, true
		}
	}
	return special{}, false
}

// checkAddr decides whether the proxy may dial addr:port. A global
// address is fine (the name or IP was already allowed); a special one
// needs an allowlist entry covering it that is at least as specific as
// its special range, so that a broad entry such as 0.0.0.0/0 cannot open
// the host's loopback or private networks by accident.
func (l Allowlist) checkAddr(addr netip.Addr, port int) (ok bool, reason string) {
	addr = addr.Unmap()
	if addr.Zone() != "" {
		return false, fmt.Sprintf("address %s has a zone", addr)
	}
	sp, isSpecial := classify(addr)
	if !isSpecial {
		return true, ""
	}
	if p, ok := l.coveringPrefix(addr, port); ok && p.Bits() >= sp.prefix.Bits() {
		return true, ""
	}
	return false, fmt.Sprintf("%s is a %s address (%s) and not itself on the allowlist", addr, sp.what, sp.prefix)
}
