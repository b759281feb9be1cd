package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/kavach-go/kavach/credential"
	"github.com/kavach-go/kavach/credential/internal/hostname"
)

// Resolver looks up the addresses of a host name; *net.Resolver is one.
// Tests inject their own to simulate DNS answers.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a Proxy. The zero value of every limit means its
// default.
type Config struct {
	// Allow is the allowlist, in ParseAllowEntry's syntax. Empty allows
	// nothing.
	Allow []string
	// Headers are the credentials to inject. Every host must be allowed
	// by Allow. The Proxy does not release them; the caller does, after
	// the proxy has stopped.
	Headers []credential.Header
	// Resolver resolves names; nil means net.DefaultResolver.
	Resolver Resolver
	// OnEvent receives every decision. It is called from connection
	// goroutines, concurrently; it should not block for long. To feed a
	// channel: func(e Event) { ch <- e }.
	OnEvent func(Event)
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger

	// AuthToken, when set, is required from clients as the password of
	// Proxy-Authorization: Basic (any user name), as in
	// http://kavach:TOKEN@127.0.0.1:3128, or they get 407. A proxy that
	// injects credentials and listens where other local users can connect
	// needs it; one listening only inside a sandbox's namespace does not.
	AuthToken string

	// MaxHeaderBytes bounds a request's line and headers (default 64 KiB).
	MaxHeaderBytes int
	// MaxConns bounds concurrent client connections (default 512).
	MaxConns int
	// HeaderTimeout bounds reading a request's headers, and the TLS
	// handshake of an intercepted CONNECT (default 10s).
	HeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection, or a tunnel, that has
	// been quiet this long (default 2m).
	IdleTimeout time.Duration
	// RequestTimeout bounds one proxied request, from sending it to the
	// end of the response (default 10m: model APIs stream for long).
	RequestTimeout time.Duration
	// TunnelTimeout bounds a CONNECT tunnel's whole life (default 1h).
	TunnelTimeout time.Duration
	// DialTimeout bounds connecting to an upstream address (default 10s).
	DialTimeout time.Duration
	// CAValidity is the interception CA's lifetime (DefaultCAValidity).
	CAValidity time.Duration

	// ExtraUpstreamRoots are trusted for upstream TLS in addition to the
	// system roots. It exists for tests against local servers with their
	// own CA; production configurations leave it empty.
	ExtraUpstreamRoots []*x509.Certificate
}

// rule is a header rule with its value ready to send.
type rule struct {
	host  string
	port  int
	name  string
	value credential.Secret
}

// Proxy is a configured egress proxy. Serve it on one or more listeners.
type Proxy struct {
	cfg       Config
	allow     Allowlist
	rules     []rule
	ca        *CA
	resolver  Resolver
	transport *http.Transport
	log       *slog.Logger
	sem       chan struct{}

	// dial connects to a checked address; tests replace it so that no
	// test can ever reach past the loopback interface.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	nsMu      sync.Mutex
	nsServers map[string]*nsServer // see ServeInNetns

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// nsServer is one listener inside a sandbox's namespace, shared by the
// commands that run there.
type nsServer struct {
	refs   int
	cancel context.CancelFunc
	done   chan struct{}
}

// New validates cfg and returns a Proxy. When there are header rules, it
// generates the interception CA (see CA).
func New(cfg Config) (*Proxy, error) {
	allow, err := ParseAllowlist(cfg.Allow)
	if err != nil {
		return nil, fmt.Errorf("new proxy: %w", err)
	}
	setDefault(&cfg.MaxHeaderBytes, 64<<10)
	setDefault(&cfg.MaxConns, 512)
	setDefault(&cfg.HeaderTimeout, 10*time.Second)
	setDefault(&cfg.IdleTimeout, 2*time.Minute)
	setDefault(&cfg.RequestTimeout, 10*time.Minute)
	setDefault(&cfg.TunnelTimeout, time.Hour)
	setDefault(&cfg.DialTimeout, 10*time.Second)
	p := &Proxy{
		cfg:      cfg,
		allow:    allow,
		resolver: cfg.Resolver,
		log:      cfg.Logger,
		sem:      make(chan struct{}, cfg.MaxConns),
		conns:    map[net.Conn]struct{}{},
	}
	p.dial = (&net.Dialer{Timeout: cfg.DialTimeout}).DialContext
	if p.resolver == nil {
		p.resolver = net.DefaultResolver
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	for _, h := range cfg.Headers {
		r, err := p.checkHeader(h)
		if err != nil {
			return nil, fmt.Errorf("new proxy: %w", err)
		}
		p.rules = append(p.rules, r)
	}
	if len(p.rules) > 0 {
		if p.ca, err = NewCA(hostsOf(p.rules), cfg.CAValidity); err != nil {
			return nil, fmt.Errorf("new proxy: %w", err)
		}
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	for _, c := range cfg.ExtraUpstreamRoots {
		roots.AddCert(c)
	}
	p.transport = &http.Transport{
		DialContext:            p.dialChecked,
		TLSClientConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    cfg.HeaderTimeout,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        90 * time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 1 << 20,
	}
	return p, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// checkHeader validates one header rule against the allowlist.
func (p *Proxy) checkHeader(h credential.Header) (rule, error) {
	name, addr, err := hostname.Normalize(h.Host)
	if err != nil {
		return rule{}, fmt.Errorf("%w: header rule host: %w", ErrBadConfig, err)
	}
	if h.Value.Released() {
		return rule{}, fmt.Errorf("%w: header %s for %s: %w", ErrBadConfig, h.Name, name, credential.ErrReleased)
	}
	valid := true
	_ = h.Value.Use(func(b []byte) { valid = len(b) > 0 && credential.ValidHeaderValue(b) })
	if !valid || !credential.InjectableHeader(h.Name) {
		return rule{}, fmt.Errorf("%w: header %q for %s has a bad name or value, or cannot be injected", ErrBadConfig, h.Name, name)
	}
	// A rule for a host the allowlist refuses could never apply; that is
	// almost certainly a mistake worth stopping for.
	if !p.hostAllowed(name, addr, h.Port) {
		return rule{}, fmt.Errorf("%w: header %s for %s: host is not on the allowlist", ErrBadConfig, h.Name, name)
	}
	return rule{host: name, port: h.Port, name: http.CanonicalHeaderKey(h.Name), value: h.Value}, nil
}

// hostAllowed reports whether some entry allows host on port, or on any
// port when port is 0.
func (p *Proxy) hostAllowed(name string, addr netip.Addr, port int) bool {
	for _, e := range p.allow {
		ports := []int{port}
		if port == 0 {
			ports = []int{80, 443, e.Port}
		}
		for _, pt := range ports {
			if pt == 0 || !e.portOK(pt) {
				continue
			}
			if addr.IsValid() && e.Prefix.IsValid() && e.Prefix.Contains(addr) || !addr.IsValid() && e.matchName(name, pt) {
				return true
			}
		}
	}
	return false
}

// CA returns the interception CA, or nil when no header rule needs one.
func (p *Proxy) CA() *CA { return p.ca }

// rulesFor returns the header rules that apply to host:port, over TLS
// the proxy intercepts or, when tls is false, plain HTTP. A rule without
// a port applies to intercepted TLS only: the credential never crosses the
// network in clear unless a rule names the port for it.
func (p *Proxy) rulesFor(host string, port int, tls bool) []rule {
	var out []rule
	for _, r := range p.rules {
		if r.host == host && (r.port == port || r.port == 0 && tls) {
			out = append(out, r)
		}
	}
	return out
}

// Serve accepts connections on ln until ctx is done, then closes ln and
// every open connection, and returns nil. It returns the accept error if
// ln fails first (the open connections are closed then too).
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer p.closeAll()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("proxy accept: %w", err)
		}
		select {
		case p.sem <- struct{}{}:
		default:
			p.wg.Go(func() { p.refuseLimit(c) })
			continue
		}
		p.track(c, true)
		p.wg.Go(func() {
			defer func() { <-p.sem }()
			defer p.track(c, false)
			defer c.Close()
			p.serveConn(ctx, c, nil)
		})
	}
}

// track adds or removes c from the set closed by closeAll.
func (p *Proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

// closeAll closes every tracked connection and waits for their
// goroutines.
func (p *Proxy) closeAll() {
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.transport.CloseIdleConnections()
}

// refuseLimit answers 503 on a connection over MaxConns.
func (p *Proxy) refuseLimit(c net.Conn) {
	defer c.Close()
	reason := fmt.Sprintf("too many connections (limit %d)", p.cfg.MaxConns)
	p.emit(Event{Kind: KindLimit, Client: c.RemoteAddr().String(), Status: http.StatusServiceUnavailable, Reason: reason})
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	bw := bufio.NewWriter(c)
	writeRefusal(bw, http.StatusServiceUnavailable, reason)
}

// emit stamps and delivers an event.
func (p *Proxy) emit(e Event) {
	e.Time = time.Now()
	if p.cfg.OnEvent != nil {
		p.cfg.OnEvent(e)
	}
	p.log.Debug("proxy event", "kind", e.Kind, "host", e.Host, "port", e.Port, "allowed", e.Allowed, "status", e.Status, "reason", e.Reason, "injected", e.Injected)
}

// writeRefusal writes a complete error response that closes the
// connection, with the reason in the body and in X-Kavach-Reason.
func writeRefusal(bw *bufio.Writer, status int, reason string) {
	reason = sanitize(reason)
	body := "kavach proxy: " + reason + "\n"
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nX-Kavach-Reason: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), reason, len(body), body)
	_ = bw.Flush()
}

// sanitize makes s safe for a header line: printable ASCII only, bounded.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c >= 0x7f {
			b[i] = '?'
		}
	}
	if len(b) > 300 {
		b = append(b[:297], "..."...)
	}
	return string(b)
}

// decision is the outcome of checking one destination.
type decision struct {
	host   string
	port   int
	addrs  []netip.Addr
	status int
	reason string
}

// authorize checks host:port against the allowlist, resolves a name and
// keeps only the addresses the proxy may dial.
func (p *Proxy) authorize(ctx context.Context, rawHost string, port int) decision {
	name, addr, err := hostname.Normalize(rawHost)
	if err != nil {
		return decision{host: rawHost, port: port, status: http.StatusBadRequest, reason: err.Error()}
	}
	d := decision{host: name, port: port}
	if addr.IsValid() {
		if _, ok := p.allow.coveringPrefix(addr, port); !ok {
			d.status, d.reason = http.StatusForbidden, fmt.Sprintf("%s is not on the allowlist (an IP address needs an IP or CIDR entry)", addrHost(name, port))
			return d
		}
		if ok, why := p.allow.checkAddr(addr, port); !ok {
			d.status, d.reason = http.StatusForbidden, why
			return d
		}
		d.addrs = []netip.Addr{addr}
		return d
	}
	if !p.allow.allowsName(name, port) {
		d.status, d.reason = http.StatusForbidden, fmt.Sprintf("%s is not on the allowlist", addrHost(name, port))
		return d
	}
	lctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	addrs, err := p.resolver.LookupNetIP(lctx, "ip", name)
	if err != nil {
		d.status, d.reason = http.StatusBadGateway, fmt.Sprintf("resolve %s: %v", name, err)
		return d
	}
	var refused []string
	for _, a := range addrs {
		a = a.Unmap()
		if ok, why := p.allow.checkAddr(a, port); ok {
			d.addrs = append(d.addrs, a)
		} else {
			refused = append(refused, why)
		}
	}
	if len(d.addrs) == 0 {
		d.status = http.StatusForbidden
		if len(refused) == 0 {
			d.status, d.reason = http.StatusBadGateway, fmt.Sprintf("resolve %s: no addresses", name)
		} else {
			d.reason = fmt.Sprintf("%s resolves to refused addresses: %s", name, strings.Join(refused, "; "))
		}
	}
	return d
}

// decisionKey carries a *decision to dialChecked through a request's
// context.
type decisionKey struct{}

// dialChecked is the Transport's dialer. It connects only to addresses in
// the decision carried by ctx, never resolving anything itself, so the
// address checked is the address dialled.
func (p *Proxy) dialChecked(ctx context.Context, network, addr string) (net.Conn, error) {
	d, ok := ctx.Value(decisionKey{}).(*decision)
	if !ok || d.status != 0 {
		return nil, fmt.Errorf("dial %s: no allowed decision for this request", addr)
	}
	if want := addrHost(d.host, d.port); addr != want {
		return nil, fmt.Errorf("dial %s: decision was for %s", addr, want)
	}
	c, _, err := p.dialAddrs(ctx, d)
	return c, err
}

// dialAddrs connects to the first of d.addrs that answers.
func (p *Proxy) dialAddrs(ctx context.Context, d *decision) (net.Conn, netip.Addr, error) {
	var errs []error
	for _, a := range d.addrs {
		c, err := p.dial(ctx, "tcp", netip.AddrPortFrom(a, uint16(d.port)).String())
		if err == nil {
			return c, a, nil
		}
		errs = append(errs, err)
	}
	return nil, netip.Addr{}, fmt.Errorf("dial %s: %w", addrHost(d.host, d.port), errors.Join(errs...))
}

// firstAddr returns the first address of d as text, for events.
func (d *decision) firstAddr() string {
	if len(d.addrs) == 0 {
		return ""
	}
	return d.addrs[0].String()
}
