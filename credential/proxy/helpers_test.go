package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kavach-go/kavach/credential"
)

const testToken = "tok-SECRET-9f8e7d6c5b4a"

// fakeResolver answers from a map and counts lookups.
type fakeResolver struct {
	mu    sync.Mutex
	names map[string][]string
	calls atomic.Int64
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.calls.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	ips, ok := r.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, s := range ips {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

// events collects a proxy's events.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) list() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.all...)
}

// waitFor returns the first event matching fn, waiting up to a second
// (events of a connection are emitted by its goroutine).
func (e *events) waitFor(t *testing.T, fn func(Event) bool) Event {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		for _, ev := range e.list() {
			if fn(ev) {
				return ev
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no matching event in %+v", e.list())
	return Event{}
}

// started is a running proxy for a test.
type started struct {
	p    *Proxy
	addr string
	ev   *events
}

func startProxy(t testing.TB, cfg Config) *started {
	t.Helper()
	ev := &events{}
	cfg.OnEvent = ev.add
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	loopbackOnly(p)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &started{p: p, addr: ln.Addr().String(), ev: ev}
}

// loopbackOnly makes p refuse to dial anything but loopback, so that a
// test that wrongly lets a request through fails instead of reaching the
// network.
func loopbackOnly(p *Proxy) {
	real := p.dial
	p.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || !ap.Addr().IsLoopback() {
			return nil, fmt.Errorf("test refuses to dial non-loopback %s", addr)
		}
		return real(ctx, network, addr)
	}
}

func (s *started) client(roots *x509.CertPool) *http.Client {
	u, _ := url.Parse("http://" + s.addr)
	return &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(u),
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}, Timeout: 10 * time.Second}
}

// raw sends bytes to the proxy and reads one response.
func (s *started) raw(t *testing.T, req string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp
}

// recorder is an upstream test server that remembers request headers.
type recorder struct {
	mu   sync.Mutex
	last http.Header
	host string
	n    int
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.last = req.Header.Clone()
	r.host = req.Host
	r.n++
	r.mu.Unlock()
	body, _ := io.ReadAll(req.Body)
	w.Header().Set("Connection", "X-Upstream-Hop")
	w.Header().Set("X-Upstream-Hop", "drop me")
	fmt.Fprintf(w, "ok %s %s %d", req.Method, req.URL.Path, len(body))
}

func (r *recorder) header() (http.Header, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.host
}

func newHeader(t testing.TB, host string, port int, name, value string) credential.Header {
	t.Helper()
	return credential.Header{Host: host, Port: port, Name: name, Value: credential.NewSecret([]byte(value))}
}

func port(t testing.TB, u string) int {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	var p int
	fmt.Sscan(pu.Port(), &p)
	return p
}

func reason(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.Header.Get("X-Kavach-Reason") + " | " + string(b)
}

var (
	_ = errors.New
	_ = strings.Contains
	_ = httptest.NewServer
)

func newPool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
