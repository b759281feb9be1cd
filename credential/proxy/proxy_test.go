package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kavach-go/kavach/credential"
	"github.com/kavach-go/kavach/internal/kavachtest"
)

// TestAttackMatrix checks that every way out that the proxy must refuse is
// refused, with a status and a reason the client can see, and an event.
func TestAttackMatrix(t *testing.T) {
	up := httptest.NewServer(&recorder{})
	defer up.Close()
	upPort := port(t, up.URL)
	tlsUp := httptest.NewTLSServer(&recorder{})
	defer tlsUp.Close()
	tlsPort := port(t, tlsUp.URL)

	res := &fakeResolver{names: map[string][]string{
		"api.test":       {"93.184.216.34"},
		"loop.test":      {"127.0.0.1"},
		"ten.test":       {"10.1.2.3"},
		"meta.test":      {"169.254.169.254"},
		"v6loop.test":    {"::1"},
		"mapped.test":    {"::ffff:127.0.0.1"},
		"mixed.test":     {"10.0.0.1", "192.168.1.1"},
		"nat64.test":     {"64:ff9b::7f00:1"},
		"zero.test":      {"0.0.0.0"},
		"cgnat.test":     {"100.64.0.1"},
		"multicast.test": {"224.0.0.1"},
	}}
	allow := []string{
		"api.test", "loop.test", "ten.test", "meta.test", "v6loop.test", "mapped.test", "mixed.test",
		"nat64.test", "zero.test", "cgnat.test", "multicast.test",
		fmt.Sprintf("loop.test:%d", upPort),
		fmt.Sprintf("127.0.0.1:%d", tlsPort),
	}
	s := startProxy(t, Config{
		Allow:              allow,
		Resolver:           res,
		Headers:            []credential.Header{newHeader(t, "127.0.0.1", 0, "Authorization", "Bearer "+testToken)},
		ExtraUpstreamRoots: []*x509.Certificate{tlsUp.Certificate()},
	})

	tests := []struct {
		name   string
		req    string
		status int
		why    string
	}{
		{"plain http to a host not allowed", "GET http://evil.test/ HTTP/1.1\r\nHost: evil.test\r\n\r\n", 403, "evil.test:80 is not on the allowlist"},
		{"plain http to an allowed host on another port", "GET http://api.test:8080/ HTTP/1.1\r\nHost: api.test:8080\r\n\r\n", 403, "api.test:8080 is not on the allowlist"},
		{"CONNECT to a host not allowed", "CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\n\r\n", 403, "evil.test:443 is not on the allowlist"},
		{"CONNECT to an allowed host on another port", "CONNECT api.test:22 HTTP/1.1\r\nHost: api.test:22\r\n\r\n", 403, "api.test:22 is not on the allowlist"},
		{"IP literal of an allowed name", "GET http://93.184.216.34/ HTTP/1.1\r\nHost: 93.184.216.34\r\n\r\n", 403, "needs an IP or CIDR entry"},
		{"CONNECT to the IP literal of an allowed name", "CONNECT 93.184.216.34:443 HTTP/1.1\r\n\r\n", 403, "needs an IP or CIDR entry"},
		{"loopback literal", fmt.Sprintf("GET http://127.0.0.1:%d/ HTTP/1.1\r\n\r\n", upPort), 403, "is not on the allowlist"},
		{"name resolving to 127.0.0.1", "GET http://loop.test/ HTTP/1.1\r\n\r\n", 403, "127.0.0.1 is a loopback address"},
		{"name resolving to 127.0.0.1 on an allowed port", fmt.Sprintf("GET http://loop.test:%d/ HTTP/1.1\r\n\r\n", upPort), 403, "127.0.0.1 is a loopback address"},
		{"name resolving to 10.x", "GET http://ten.test/ HTTP/1.1\r\n\r\n", 403, "10.1.2.3 is a private address"},
		{"name resolving to 169.254.169.254", "CONNECT meta.test:443 HTTP/1.1\r\n\r\n", 403, "169.254.169.254 is a link-local address"},
		{"name resolving to ::1", "GET http://v6loop.test/ HTTP/1.1\r\n\r\n", 403, "::1 is a loopback address"},
		{"name resolving to ::ffff:127.0.0.1", "GET http://mapped.test/ HTTP/1.1\r\n\r\n", 403, "127.0.0.1 is a loopback address"},
		{"name resolving to private addresses only", "GET http://mixed.test/ HTTP/1.1\r\n\r\n", 403, "192.168.1.1 is a private address"},
		{"name resolving to NAT64 of loopback", "GET http://nat64.test/ HTTP/1.1\r\n\r\n", 403, "NAT64"},
		{"name resolving to 0.0.0.0", "GET http://zero.test/ HTTP/1.1\r\n\r\n", 403, "unspecified"},
		{"name resolving to CGNAT", "GET http://cgnat.test/ HTTP/1.1\r\n\r\n", 403, "carrier-grade NAT"},
		{"name resolving to multicast", "GET http://multicast.test/ HTTP/1.1\r\n\r\n", 403, "multicast"},
		{"name that does not resolve", "GET http://api.test.evil/ HTTP/1.1\r\n\r\n", 403, "not on the allowlist"},
		{"upper-case and trailing-dot spelling", "GET http://EVIL.test./ HTTP/1.1\r\n\r\n", 403, "evil.test:80 is not on the allowlist"},
		{"numeric shorthand of loopback", "GET http://2130706433/ HTTP/1.1\r\n\r\n", 400, "numeric name"},
		{"userinfo trick", "GET http://api.test@evil.test/ HTTP/1.1\r\n\r\n", 403, "evil.test:80 is not on the allowlist"},
		{"CR in a header value", "GET http://api.test/ HTTP/1.1\r\nX-A: one\rX-Injected: two\r\n\r\n", 400, "malformed"},
		{"NUL in a header value", "GET http://api.test/ HTTP/1.1\r\nX-A: one\x00two\r\n\r\n", 400, "malformed"},
		{"CRLF in the request target", "GET http://api.test/\r\nX-Injected: 1 HTTP/1.1\r\n\r\n", 400, "malformed"},
		{"oversized headers", "GET http://api.test/ HTTP/1.1\r\nX-Big: " + strings.Repeat("a", 200<<10) + "\r\n\r\n", 431, "request headers larger than"},
		{"origin-form request", "GET / HTTP/1.1\r\nHost: api.test\r\n\r\n", 400, "absolute http:// URL"},
		{"https in absolute form", "GET https://api.test/ HTTP/1.1\r\n\r\n", 400, "use CONNECT for https"},
		{"CONNECT without a port", "CONNECT api.test HTTP/1.1\r\n\r\n", 400, "CONNECT needs host:port"},
		{"CONNECT with an empty port", "CONNECT api.test: HTTP/1.1\r\n\r\n", 400, "CONNECT needs host:port"},
		{"CONNECT in origin form", "CONNECT /x HTTP/1.1\r\n\r\n", 400, "CONNECT needs host:port"},
		{"garbage", "HELLO\r\n\r\n", 400, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.raw(t, tt.req)
			why := reason(resp)
			if resp.StatusCode != tt.status || !strings.Contains(why, tt.why) {
				t.Fatalf("got %d %q, want %d with %q", resp.StatusCode, why, tt.status, tt.why)
			}
			if resp.Header.Get("X-Kavach-Reason") == "" {
				t.Fatal("no X-Kavach-Reason header")
			}
			s.ev.waitFor(t, func(e Event) bool { return !e.Allowed && e.Status == tt.status && strings.Contains(e.Reason, tt.why) })
		})
	}

	broad := startProxy(t, Config{Allow: []string{"0.0.0.0/0", "[::/0]"}})
	for _, tt := range []struct{ req, why string }{
		{"GET http://127.0.0.1/ HTTP/1.1\r\n\r\n", "127.0.0.1 is a loopback address (127.0.0.0/8) and not itself on the allowlist"},
		{"GET http://10.0.0.1/ HTTP/1.1\r\n\r\n", "10.0.0.1 is a private address"},
		{"CONNECT 169.254.169.254:443 HTTP/1.1\r\n\r\n", "169.254.169.254 is a link-local address"},
		{"GET http://[::1]/ HTTP/1.1\r\n\r\n", "::1 is a loopback address"},
		{"GET http://[::ffff:127.0.0.1]/ HTTP/1.1\r\n\r\n", "127.0.0.1 is a loopback address"},
	} {
		t.Run("broad CIDR does not open "+tt.why[:strings.IndexByte(tt.why, ' ')], func(t *testing.T) {
			resp := broad.raw(t, tt.req)
			if why := reason(resp); resp.StatusCode != 403 || !strings.Contains(why, tt.why) {
				t.Fatalf("got %d %q, want 403 %q", resp.StatusCode, why, tt.why)
			}
		})
	}

	t.Run("Host header differs from CONNECT target inside intercepted TLS", func(t *testing.T) {
		c := dialIntercepted(t, s, fmt.Sprintf("127.0.0.1:%d", tlsPort), "")
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		why := reason(resp)
		if resp.StatusCode != 403 || !strings.Contains(why, "does not match the CONNECT target") {
			t.Fatalf("got %d %s", resp.StatusCode, why)
		}
		s.ev.waitFor(t, func(e Event) bool {
			return e.Kind == KindInner && !e.Allowed && strings.Contains(e.Reason, "evil.test")
		})
	})
	t.Run("Host header with another port inside intercepted TLS", func(t *testing.T) {
		c := dialIntercepted(t, s, fmt.Sprintf("127.0.0.1:%d", tlsPort), "")
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		if why := reason(resp); resp.StatusCode != 403 || !strings.Contains(why, "does not match") {
			t.Fatalf("got %d %s", resp.StatusCode, why)
		}
	})
	t.Run("TLS server name differs from CONNECT target", func(t *testing.T) {
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n", tlsPort)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("CONNECT: %v %v", resp, err)
		}
		tc := tls.Client(conn, &tls.Config{ServerName: "evil.test", InsecureSkipVerify: true})
		if err := tc.Handshake(); err == nil {
			t.Fatal("handshake with a foreign SNI succeeded")
		}
		s.ev.waitFor(t, func(e Event) bool { return strings.Contains(e.Reason, `TLS server name "evil.test" does not match`) })
	})
	t.Run("CONNECT inside intercepted TLS", func(t *testing.T) {
		c := dialIntercepted(t, s, fmt.Sprintf("127.0.0.1:%d", tlsPort), "")
		fmt.Fprintf(c, "CONNECT evil.test:443 HTTP/1.1\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 400 {
			t.Fatalf("got %v %v", resp, err)
		}
	})
	if bytes, _ := json.Marshal(s.ev.list()); strings.Contains(string(bytes), testToken) {
		t.Fatal("an event carries the secret")
	}
}

// dialIntercepted CONNECTs to target through s and completes a TLS
// handshake trusting only the proxy's CA.
func dialIntercepted(t *testing.T, s *started, target, sni string) *tls.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT %s: %v %v", target, resp, err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(s.p.CA().Certificate())
	host, _, _ := net.SplitHostPort(target)
	if sni == "" {
		sni = host
	}
	tc := tls.Client(&bufferedConn{Conn: conn, r: br}, &tls.Config{RootCAs: roots, ServerName: sni})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return tc
}

func TestInjectPlainHTTP(t *testing.T) {
	rec := &recorder{}
	up := httptest.NewServer(rec)
	defer up.Close()
	upPort := port(t, up.URL)
	s := startProxy(t, Config{
		Allow:   []string{fmt.Sprintf("127.0.0.1:%d", upPort)},
		Headers: []credential.Header{newHeader(t, "127.0.0.1", upPort, "Authorization", "Bearer "+testToken)},
	})
	client := s.client(nil)
	for i := range 3 { // keep-alive: several requests on one connection
		req, _ := http.NewRequest("POST", up.URL+"/path", strings.NewReader("body!"))
		req.Header.Set("Authorization", "Bearer client-forged")
		req.Header.Set("Proxy-Authorization", "Basic bm9wZQ==")
		req.Header.Set("Proxy-Foo", "x")
		req.Header.Set("Connection", "X-Hop")
		req.Header.Set("X-Hop", "hop")
		req.Header.Set("X-Keep", "kept")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok POST /path 5" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		if resp.Header.Get("X-Upstream-Hop") != "" {
			t.Error("response hop-by-hop header not stripped")
		}
		h, host := rec.header()
		if got := h.Values("Authorization"); len(got) != 1 || got[0] != "Bearer "+testToken {
			t.Fatalf("upstream Authorization = %q", got)
		}
		for _, name := range []string{"Proxy-Authorization", "Proxy-Foo", "X-Hop", "Proxy-Connection"} {
			if h.Get(name) != "" {
				t.Errorf("%s reached the upstream", name)
			}
		}
		if h.Get("X-Keep") != "kept" || host != fmt.Sprintf("127.0.0.1:%d", upPort) {
			t.Errorf("X-Keep %q host %q", h.Get("X-Keep"), host)
		}
	}
	ev := s.ev.waitFor(t, func(e Event) bool { return e.Kind == KindRequest && e.Allowed })
	if ev.Host != "127.0.0.1" || ev.Port != upPort || ev.Status != 200 || ev.Addr != "127.0.0.1" || len(ev.Injected) != 1 || ev.Injected[0] != "Authorization" {
		t.Errorf("event %+v", ev)
	}
	if rec.n != 3 {
		t.Errorf("upstream saw %d requests", rec.n)
	}
}

// TestPortlessRuleTLSOnly checks that a rule without a port never puts
// the credential on plain HTTP (the request goes through without it),
// while the same rule is injected through intercepted TLS.
func TestPortlessRuleTLSOnly(t *testing.T) {
	rec := &recorder{}
	up := httptest.NewServer(rec)
	defer up.Close()
	tlsRec := &recorder{}
	tlsUp := httptest.NewTLSServer(tlsRec)
	defer tlsUp.Close()
	s := startProxy(t, Config{
		Allow:              []string{fmt.Sprintf("127.0.0.1:%d", port(t, up.URL)), fmt.Sprintf("127.0.0.1:%d", port(t, tlsUp.URL))},
		Headers:            []credential.Header{newHeader(t, "127.0.0.1", 0, "Authorization", "Bearer "+testToken)},
		ExtraUpstreamRoots: []*x509.Certificate{tlsUp.Certificate()},
	})
	resp, err := s.client(nil).Get(up.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h, _ := rec.header(); resp.StatusCode != 200 || h.Get("Authorization") != "" {
		t.Fatalf("plain HTTP: status %d, upstream Authorization %q; want 200 and none", resp.StatusCode, h.Get("Authorization"))
	}
	ev := s.ev.waitFor(t, func(e Event) bool { return e.Kind == KindRequest && e.Allowed })
	if len(ev.Injected) != 0 {
		t.Errorf("plain HTTP event says injected %v", ev.Injected)
	}
	roots := x509.NewCertPool()
	roots.AddCert(s.p.CA().Certificate())
	resp, err = s.client(roots).Get(tlsUp.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h, _ := tlsRec.header(); resp.StatusCode != 200 || h.Get("Authorization") != "Bearer "+testToken {
		t.Fatalf("intercepted TLS: status %d, upstream Authorization %q; want the token", resp.StatusCode, h.Get("Authorization"))
	}
}

func TestInjectHTTPSIntercepted(t *testing.T) {
	rec := &recorder{}
	up := httptest.NewTLSServer(rec)
	defer up.Close()
	upPort := port(t, up.URL)
	s := startProxy(t, Config{
		Allow:              []string{fmt.Sprintf("127.0.0.1:%d", upPort)},
		Headers:            []credential.Header{newHeader(t, "127.0.0.1", 0, "Authorization", "Bearer "+testToken)},
		ExtraUpstreamRoots: []*x509.Certificate{up.Certificate()},
	})
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(s.p.CA().CertPEM())
	client := s.client(roots)
	for range 2 {
		req, _ := http.NewRequest("GET", up.URL+"/secure", nil)
		req.Header.Set("Authorization", "Bearer client-forged")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok GET /secure 0" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		if resp.TLS == nil || resp.TLS.PeerCertificates[0].Issuer.CommonName != "kavach sandbox interception CA" {
			t.Fatal("the client did not talk to the proxy's leaf")
		}
		h, _ := rec.header()
		if got := h.Values("Authorization"); len(got) != 1 || got[0] != "Bearer "+testToken {
			t.Fatalf("upstream Authorization = %q", got)
		}
	}
	s.ev.waitFor(t, func(e Event) bool { return e.Kind == KindIntercept && e.Allowed && e.Port == upPort })
	ev := s.ev.waitFor(t, func(e Event) bool { return e.Kind == KindInner && e.Allowed })
	if len(ev.Injected) != 1 || ev.Status != 200 {
		t.Errorf("event %+v", ev)
	}

	// Without the test root the upstream's certificate is not trusted: the
	// proxy verifies upstream TLS normally.
	strict := startProxy(t, Config{
		Allow:   []string{fmt.Sprintf("127.0.0.1:%d", upPort)},
		Headers: []credential.Header{newHeader(t, "127.0.0.1", 0, "Authorization", "Bearer "+testToken)},
	})
	roots2 := x509.NewCertPool()
	roots2.AddCert(strict.p.CA().Certificate())
	resp, err := strict.client(roots2).Get(up.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	if why := reason(resp); resp.StatusCode != 502 || !strings.Contains(why, "certificate") {
		t.Fatalf("untrusted upstream: %d %s", resp.StatusCode, why)
	}
}

func TestTunnelWithoutRule(t *testing.T) {
	rec := &recorder{}
	up := httptest.NewTLSServer(rec)
	defer up.Close()
	upPort := port(t, up.URL)
	s := startProxy(t, Config{Allow: []string{fmt.Sprintf("127.0.0.1:%d", upPort)}})
	roots := x509.NewCertPool()
	roots.AddCert(up.Certificate())
	req, _ := http.NewRequest("GET", up.URL+"/t", nil)
	req.Header.Set("Authorization", "Bearer mine")
	resp, err := s.client(roots).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok GET /t 0" || resp.TLS.PeerCertificates[0].Equal(up.Certificate()) == false {
		t.Fatalf("tunnel: %q", body)
	}
	if h, _ := rec.header(); h.Get("Authorization") != "Bearer mine" {
		t.Error("tunnelled request was altered")
	}
	if s.p.CA() != nil {
		t.Error("a CA was made without header rules")
	}
	s.ev.waitFor(t, func(e Event) bool { return e.Kind == KindTunnel && e.Allowed && e.Status == 200 })
}

// TestNoSecondResolution checks the DNS-rebinding defence: the proxy
// resolves once per request and dials the address it checked.
func TestNoSecondResolution(t *testing.T) {
	up := httptest.NewServer(&recorder{})
	defer up.Close()
	upPort := port(t, up.URL)
	res := &fakeResolver{names: map[string][]string{"svc.test": {"203.0.113.1", "127.0.0.1"}}}
	s := startProxy(t, Config{
		Allow:    []string{fmt.Sprintf("svc.test:%d", upPort), fmt.Sprintf("127.0.0.1:%d", upPort)},
		Resolver: res,
	})
	// 203.0.113.1 is documentation space, refused; 127.0.0.1:port is
	// allowed explicitly, so the request reaches the loopback server.
	resp := s.raw(t, fmt.Sprintf("GET http://svc.test:%d/x HTTP/1.1\r\n\r\n", upPort))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, reason(resp))
	}
	if n := res.calls.Load(); n != 1 {
		t.Fatalf("resolver called %d times for one request", n)
	}
	ev := s.ev.waitFor(t, func(e Event) bool { return e.Allowed })
	if ev.Addr != "127.0.0.1" || ev.Host != "svc.test" {
		t.Errorf("event %+v", ev)
	}
	// After a rebind to an address outside the allowlist, it is refused.
	res.mu.Lock()
	res.names["svc.test"] = []string{"127.0.0.2"}
	res.mu.Unlock()
	resp = s.raw(t, fmt.Sprintf("GET http://svc.test:%d/x HTTP/1.1\r\n\r\n", upPort))
	if why := reason(resp); resp.StatusCode != 403 || !strings.Contains(why, "127.0.0.2 is a loopback address") {
		t.Fatalf("rebound: %d %s", resp.StatusCode, why)
	}
}

func TestUpstreamFailure(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, p, _ := net.SplitHostPort(addr)
	s := startProxy(t, Config{Allow: []string{"127.0.0.1:" + p}})
	for _, req := range []string{"GET http://" + addr + "/ HTTP/1.1\r\n\r\n", "CONNECT " + addr + " HTTP/1.1\r\n\r\n"} {
		resp := s.raw(t, req)
		if why := reason(resp); resp.StatusCode != 502 || !strings.Contains(why, "refused") {
			t.Errorf("%q: %d %s", req, resp.StatusCode, why)
		}
	}
	s.ev.waitFor(t, func(e Event) bool { return e.Allowed && e.Status == 502 })
}

func TestConnectionLimit(t *testing.T) {
	s := startProxy(t, Config{Allow: []string{"api.test"}, MaxConns: 1})
	hold, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	fmt.Fprintf(hold, "G") // the held connection is mid-request
	time.Sleep(50 * time.Millisecond)
	resp := s.raw(t, "GET http://api.test/ HTTP/1.1\r\n\r\n")
	if why := reason(resp); resp.StatusCode != 503 || !strings.Contains(why, "too many connections") {
		t.Fatalf("%d %s", resp.StatusCode, why)
	}
	s.ev.waitFor(t, func(e Event) bool { return e.Kind == KindLimit })
}

func TestHeaderTimeout(t *testing.T) {
	s := startProxy(t, Config{Allow: []string{"api.test"}, HeaderTimeout: 100 * time.Millisecond})
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET http://api.test/ HTTP/1.1\r\n") // and never finishes
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 408 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	released := newHeader(t, "api.test", 0, "X-Key", "v")
	released.Value.Release()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"bad entry", Config{Allow: []string{"bad host"}}},
		{"rule for a host not allowed", Config{Allow: []string{"api.test"}, Headers: []credential.Header{newHeader(t, "other.test", 0, "X-Key", "v")}}},
		{"rule for a port not allowed", Config{Allow: []string{"api.test"}, Headers: []credential.Header{newHeader(t, "api.test", 8443, "X-Key", "v")}}},
		{"rule with CRLF", Config{Allow: []string{"api.test"}, Headers: []credential.Header{newHeader(t, "api.test", 0, "X-Key", "v\r\nX-Evil: 1")}}},
		{"released secret", Config{Allow: []string{"api.test"}, Headers: []credential.Header{released}}},
		{"framing header", Config{Allow: []string{"api.test"}, Headers: []credential.Header{newHeader(t, "api.test", 0, "content-length", "5")}}},
		{"hop-by-hop header", Config{Allow: []string{"api.test"}, Headers: []credential.Header{newHeader(t, "api.test", 0, "Connection", "close")}}},
		{"proxy header", Config{Allow: []string{"api.test"}, Headers: []credential.Header{newHeader(t, "api.test", 0, "Proxy-Authorization", "v")}}},
		{"bad name", Config{Allow: []string{"api.test"}, Headers: []credential.Header{newHeader(t, "api.test", 0, "X Key", "v")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !(errors.Is(err, ErrBadConfig) || errors.Is(err, ErrBadAllowEntry)) {
				t.Fatalf("New = %v", err)
			}
			if strings.Contains(err.Error(), "v\r\n") {
				t.Fatal("error shows the value")
			}
		})
	}
	if _, err := New(Config{Allow: []string{"*.example.com:8443"}, Headers: []credential.Header{newHeader(t, "api.example.com", 0, "X-Key", "v")}}); err != nil {
		t.Errorf("rule on an allowed wildcard: %v", err)
	}
}

func TestServeStops(t *testing.T) {
	p, err := New(Config{Allow: []string{"api.test"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return")
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("open connection survived Serve")
	}
}

// TestSmuggledRequestIsDecidedAlone sends a request whose Content-Length
// and Transfer-Encoding disagree, with a second request hidden in the
// body. Whatever the parser makes of it, the hidden request never reaches
// the upstream without its own allowlist decision.
func TestSmuggledRequestIsDecidedAlone(t *testing.T) {
	rec := &recorder{}
	up := httptest.NewServer(rec)
	defer up.Close()
	upPort := port(t, up.URL)
	s := startProxy(t, Config{Allow: []string{fmt.Sprintf("127.0.0.1:%d", upPort)}})
	hidden := "GET http://evil.test/smuggled HTTP/1.1\r\n\r\n"
	req := fmt.Sprintf("POST http://127.0.0.1:%d/front HTTP/1.1\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n%s", upPort, 5+len(hidden), hidden)
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, req)
	br := bufio.NewReader(c)
	var statuses []int
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	rec.mu.Lock()
	n := rec.n
	rec.mu.Unlock()
	if n > 1 {
		t.Fatalf("upstream saw %d requests", n)
	}
	for _, e := range s.ev.list() {
		if e.Host == "evil.test" && e.Allowed {
			t.Fatalf("smuggled request allowed: %+v", e)
		}
	}
	t.Logf("responses %v, upstream requests %d", statuses, n)
	if len(statuses) == 2 && statuses[1] != 403 {
		t.Fatalf("hidden request answered %d, want 403", statuses[1])
	}
}

func TestAuthToken(t *testing.T) {
	rec := &recorder{}
	up := httptest.NewServer(rec)
	defer up.Close()
	upPort := port(t, up.URL)
	s := startProxy(t, Config{Allow: []string{fmt.Sprintf("127.0.0.1:%d", upPort)}, AuthToken: "s3cret-proxy-token"})
	for _, tt := range []struct {
		name, auth string
		want       int
	}{
		{"none", "", 407},
		{"wrong", "Basic " + base64.StdEncoding.EncodeToString([]byte("kavach:nope")), 407},
		{"bearer", "Bearer s3cret-proxy-token", 407},
		{"garbage", "Basic !!!", 407},
		{"right", "Basic " + base64.StdEncoding.EncodeToString([]byte("kavach:s3cret-proxy-token")), 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := ""
			if tt.auth != "" {
				h = "Proxy-Authorization: " + tt.auth + "\r\n"
			}
			for _, req := range []string{
				fmt.Sprintf("GET %s/ HTTP/1.1\r\n%s\r\n", up.URL, h),
				fmt.Sprintf("CONNECT 127.0.0.1:%d HTTP/1.1\r\n%s\r\n", upPort, h),
			} {
				resp := s.raw(t, req)
				resp.Body.Close()
				if resp.StatusCode != tt.want {
					t.Fatalf("%q: status %d, want %d", req, resp.StatusCode, tt.want)
				}
				if tt.want == 407 && resp.Header.Get("Proxy-Authenticate") == "" {
					t.Fatal("407 without Proxy-Authenticate")
				}
			}
		})
	}
	if h, _ := rec.header(); h.Get("Proxy-Authorization") != "" {
		t.Fatal("the proxy token reached the upstream")
	}
	// Go's client sends the URL's user info as Proxy-Authorization.
	u, _ := url.Parse("http://kavach:s3cret-proxy-token@" + s.addr)
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u)}}
	resp, err := c.Get(up.URL)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("client with user info: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestIPv6Upstream(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		kavachtest.Skip(t, "requires IPv6 loopback: %v", err)
	}
	rec := &recorder{}
	up := httptest.NewUnstartedServer(rec)
	up.Listener.Close()
	up.Listener = ln
	up.Start()
	defer up.Close()
	upPort := port(t, up.URL)
	s := startProxy(t, Config{
		Allow:   []string{fmt.Sprintf("[::1]:%d", upPort)},
		Headers: []credential.Header{newHeader(t, "[::1]", upPort, "X-Api-Key", testToken)},
	})
	resp, err := s.client(nil).Get(up.URL + "/six")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok GET /six 0" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if h, host := rec.header(); h.Get("X-Api-Key") != testToken || host != fmt.Sprintf("[::1]:%d", upPort) {
		t.Fatalf("upstream X-Api-Key %q Host %q", h.Get("X-Api-Key"), host)
	}
	resp = s.raw(t, fmt.Sprintf("GET http://[::1]:%d/ HTTP/1.1\r\n\r\n", upPort+1))
	if why := reason(resp); resp.StatusCode != 403 || !strings.Contains(why, "not on the allowlist") {
		t.Fatalf("other port: %d %s", resp.StatusCode, why)
	}
}
