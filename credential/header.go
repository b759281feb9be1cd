package credential

import (
	"context"
	"fmt"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/kavach-go/kavach/credential/internal/hostname"
)

// HeaderRule says: on requests to Host (and Port, if not 0), set the
// header Name to Scheme followed by the secret from Source, replacing any
// value the client sent. The secret stays in the proxy; the sandbox never
// sees it. A rule without a port applies only to HTTPS, which the proxy
// intercepts; plain HTTP gets the credential only from a rule that names
// the port, so that it never crosses the network in clear by default.
type HeaderRule struct {
	// Host is normalised: a lower-case ASCII DNS name (IDNA A-labels) or
	// an IP address in canonical form.
	Host string
	// Port restricts the rule to one port (plain HTTP or HTTPS); 0 means
	// HTTPS on every port the allowlist lets through.
	Port int
	// Name is the canonical header name, e.g. "Authorization".
	Name string
	// Scheme is put before the secret, with a space, e.g. "Bearer"; it may
	// be empty.
	Scheme string
	Source Source
}

// String returns the command-line form of the rule.
func (r HeaderRule) String() string {
	host := r.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if r.Port != 0 {
		host += ":" + strconv.Itoa(r.Port)
	}
	v := r.Source.String()
	if r.Scheme != "" {
		v = r.Scheme + " " + v
	}
	return host + ":" + r.Name + "=" + v
}

// forbiddenHeaders may not be injected: they frame the message or belong
// to one hop, so injecting them would break or smuggle requests.
var forbiddenHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Keep-Alive": true, "Te": true, "Trailer": true, "Upgrade": true, "Expect": true,
}

// InjectableHeader reports whether a credential may be injected as header
// name: a valid field name that neither frames the message (Host,
// Content-Length, Transfer-Encoding…) nor belongs to one hop
// (Connection, Te, Upgrade, Proxy-*…).
func InjectableHeader(name string) bool {
	if !validToken(name) {
		return false
	}
	name = textproto.CanonicalMIMEHeaderKey(name)
	return !forbiddenHeaders[name] && !strings.HasPrefix(name, "Proxy-")
}

// ParseHeaderRule parses the --secret-header form
//
//	HOST[:PORT]:Header-Name=[SCHEME ]SOURCE
//
// for example "api.example.com:Authorization=Bearer env:TOKEN" or
// "[::1]:8443:X-Api-Key=file:/run/keys/k". An IPv6 host needs brackets.
func ParseHeaderRule(s string) (HeaderRule, error) {
	left, value, ok := strings.Cut(s, "=")
	if !ok {
		return HeaderRule{}, fmt.Errorf("parse --secret-header: %w: want HOST[:PORT]:Header-Name=[Scheme ]SOURCE", ErrBadHeaderRule)
	}
	i := strings.LastIndexByte(left, ':')
	if i < 0 {
		return HeaderRule{}, fmt.Errorf("parse --secret-header: %w: want HOST[:PORT]:Header-Name before '='", ErrBadHeaderRule)
	}
	hostport, name := left[:i], left[i+1:]
	if !validToken(name) {
		return HeaderRule{}, fmt.Errorf("parse --secret-header: %w: %q is not a header name", ErrBadHeaderRule, name)
	}
	name = textproto.CanonicalMIMEHeaderKey(name)
	if !InjectableHeader(name) {
		return HeaderRule{}, fmt.Errorf("parse --secret-header: %w: header %s cannot be injected", ErrBadHeaderRule, name)
	}
	h, port, err := hostname.SplitHostPort(hostport)
	if err != nil {
		return HeaderRule{}, fmt.Errorf("parse --secret-header: %w: %w", ErrBadHeaderRule, err)
	}
	host, _, err := hostname.Normalize(h)
	if err != nil {
		return HeaderRule{}, fmt.Errorf("parse --secret-header: %w: %w", ErrBadHeaderRule, err)
	}
	var scheme string
	if sp := strings.LastIndexByte(value, ' '); sp >= 0 {
		scheme, value = value[:sp], value[sp+1:]
		if !validToken(scheme) {
			return HeaderRule{}, fmt.Errorf("parse --secret-header: %w: want one scheme word before the source, as in \"Bearer env:TOKEN\"", ErrBadHeaderRule)
		}
	}
	src, err := ParseSource(value)
	if err != nil {
		return HeaderRule{}, fmt.Errorf("parse --secret-header %s: %w", name, err)
	}
	return HeaderRule{Host: host, Port: port, Name: name, Scheme: scheme, Source: src}, nil
}

// Header is a resolved HeaderRule, ready for the proxy.
type Header struct {
	Host string
	Port int
	Name string
	// Value is the complete header value, scheme included.
	Value Secret
}

// Resolve reads the rule's secret and builds the header value. Trailing
// newlines are removed (files usually end with one); any other control
// character is refused, since it could split the request.
func (r HeaderRule) Resolve(ctx context.Context) (Header, error) {
	sec, err := r.Source.Resolve(ctx)
	if err != nil {
		return Header{}, fmt.Errorf("resolve header %s for %s: %w", r.Name, r.Host, err)
	}
	defer sec.Release()
	var (
		value []byte
		bad   bool
	)
	_ = sec.Use(func(b []byte) {
		for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
			b = b[:len(b)-1]
		}
		if r.Scheme != "" {
			value = append(value, r.Scheme...)
			value = append(value, ' ')
		}
		value = append(value, b...)
	})
	defer clear(value)
	if len(value) == len(r.Scheme)+1 && r.Scheme != "" || len(value) == 0 {
		return Header{}, fmt.Errorf("resolve header %s for %s: %w", r.Name, r.Host, ErrEmptySecret)
	}
	bad = !ValidHeaderValue(value)
	if bad {
		return Header{}, fmt.Errorf("resolve header %s for %s: %w: value has control characters or surrounding spaces", r.Name, r.Host, ErrBadHeaderRule)
	}
	return Header{Host: r.Host, Port: r.Port, Name: r.Name, Value: NewSecret(value)}, nil
}

// ValidHeaderValue reports whether b may be sent as an HTTP field value
// (RFC 9110 section 5.5) without any rewriting: visible ASCII, spaces and
// tabs inside, bytes 0x80 and up, and no CR, LF, NUL or other control
// character, no leading or trailing whitespace.
func ValidHeaderValue(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if b[0] == ' ' || b[0] == '\t' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t' {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// validToken reports whether s is an RFC 9110 token, the syntax of header
// names and auth schemes.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
