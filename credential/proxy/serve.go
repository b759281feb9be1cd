package proxy

import (
	"bufio"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kavach-go/kavach/credential/internal/hostname"
)

// hopHeaders are removed from every forwarded request and response (RFC
// 9110 section 7.6.1), together with any Proxy-* header and any header
// named in Connection.
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopHeaders strips the hop-by-hop and Proxy-* headers from h.
func removeHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
	for name := range h {
		if strings.HasPrefix(name, "Proxy-") {
			delete(h, name)
		}
	}
}

// conn is one client connection, or the decrypted stream of an
// intercepted CONNECT (then tunnel is the CONNECT's decision).
type conn struct {
	p      *Proxy
	c      net.Conn
	lr     *io.LimitedReader
	br     *bufio.Reader
	bw     *bufio.Writer
	client string
	tunnel *decision
}

// serveConn reads requests from c until the connection ends, an error
// occurs or a response closes it.
func (p *Proxy) serveConn(ctx context.Context, c net.Conn, tunnel *decision) {
	lr := &io.LimitedReader{R: c, N: math.MaxInt64}
	cc := &conn{
		p: p, c: c, lr: lr,
		br:     bufio.NewReaderSize(lr, 4096),
		bw:     bufio.NewWriterSize(c, 4096),
		client: c.RemoteAddr().String(),
		tunnel: tunnel,
	}
	first := true
	for ctx.Err() == nil {
		wait := p.cfg.IdleTimeout
		if first {
			wait = p.cfg.HeaderTimeout
		}
		first = false
		_ = c.SetReadDeadline(time.Now().Add(wait))
		if _, err := cc.br.Peek(1); err != nil {
			return // the client closed or went idle: nothing to report
		}
		_ = c.SetReadDeadline(time.Now().Add(p.cfg.HeaderTimeout))
		lr.N = int64(p.cfg.MaxHeaderBytes)
		req, err := http.ReadRequest(cc.br)
		if err != nil {
			cc.malformed(err)
			return
		}
		lr.N = math.MaxInt64
		if !cc.handle(ctx, req) {
			return
		}
	}
}

// malformed answers a request that could not be read.
func (cc *conn) malformed(err error) {
	status, reason := http.StatusBadRequest, "malformed request: "+err.Error()
	switch {
	case cc.lr.N <= 0:
		status, reason = http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("request headers larger than %d bytes", cc.p.cfg.MaxHeaderBytes)
	case errors.Is(err, os.ErrDeadlineExceeded):
		status, reason = http.StatusRequestTimeout, "request headers not received in time"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		cc.p.emit(Event{Kind: KindMalformed, Client: cc.client, Reason: "connection closed inside a request"})
		return
	}
	cc.p.emit(Event{Kind: KindMalformed, Client: cc.client, Status: status, Reason: reason})
	_ = cc.c.SetWriteDeadline(time.Now().Add(cc.p.cfg.HeaderTimeout))
	writeRefusal(cc.bw, status, reason)
}

// refuse sends a refusal and reports it; the connection then closes.
func (cc *conn) refuse(ev Event, status int, reason string) bool {
	ev.Status, ev.Reason, ev.Allowed = status, reason, false
	cc.p.emit(ev)
	_ = cc.c.SetWriteDeadline(time.Now().Add(cc.p.cfg.HeaderTimeout))
	writeRefusal(cc.bw, status, reason)
	return false
}

// handle serves one request and reports whether the connection may carry
// another.
func (cc *conn) handle(ctx context.Context, req *http.Request) bool {
	defer req.Body.Close()
	ev := Event{Kind: KindRequest, Client: cc.client, Method: req.Method}
	if cc.tunnel != nil {
		ev.Kind = KindInner
	}
	if cc.tunnel == nil && !cc.p.authorized(req) {
		def := 80
		if req.Method == http.MethodConnect {
			def = 443
		}
		ev.Host, ev.Port, _ = splitAuthority(req.URL.Host, def)
		ev.Status, ev.Reason = http.StatusProxyAuthRequired, "proxy authentication required"
		cc.p.emit(ev)
		_ = cc.c.SetWriteDeadline(time.Now().Add(cc.p.cfg.HeaderTimeout))
		const body = "kavach proxy: proxy authentication required\n"
		fmt.Fprintf(cc.bw, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"kavach\"\r\nX-Kavach-Reason: proxy authentication required\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
		_ = cc.bw.Flush()
		return false
	}
	if req.Method == http.MethodConnect {
		if cc.tunnel != nil {
			return cc.refuse(ev, http.StatusBadRequest, "CONNECT inside an intercepted tunnel")
		}
		cc.handleConnect(ctx, req)
		return false
	}
	if bad := badHeader(req.Header); bad != "" {
		return cc.refuse(ev, http.StatusBadRequest, "invalid value in header "+bad)
	}

	var d decision
	scheme := "http"
	if cc.tunnel == nil {
		if !req.URL.IsAbs() || req.URL.Host == "" {
			return cc.refuse(ev, http.StatusBadRequest, "a proxy request needs an absolute http:// URL")
		}
		if req.URL.Scheme != "http" {
			return cc.refuse(ev, http.StatusBadRequest, fmt.Sprintf("scheme %q is not proxied; use CONNECT for https", req.URL.Scheme))
		}
		host, port, err := splitAuthority(req.URL.Host, 80)
		if err != nil {
			return cc.refuse(ev, http.StatusBadRequest, err.Error())
		}
		ev.Host, ev.Port = host, port
		d = cc.p.authorize(ctx, host, port)
	} else {
		scheme = "https"
		d = *cc.tunnel
		ev.Host, ev.Port = d.host, d.port
		host, port, err := splitAuthority(req.Host, 443)
		if err != nil {
			return cc.refuse(ev, http.StatusBadRequest, "inner request: "+err.Error())
		}
		if name, _, err := hostname.Normalize(host); err != nil || name != d.host || port != d.port {
			return cc.refuse(ev, http.StatusForbidden, fmt.Sprintf("Host %q does not match the CONNECT target %s", req.Host, addrHost(d.host, d.port)))
		}
	}
	ev.Host, ev.Addr = d.host, d.firstAddr()
	if d.status != 0 {
		return cc.refuse(ev, d.status, d.reason)
	}

	rctx, cancel := context.WithTimeout(context.WithValue(ctx, decisionKey{}, &d), cc.p.cfg.RequestTimeout)
	defer cancel()
	out := req.WithContext(rctx)
	out.RequestURI = ""
	out.URL.User = nil // userinfo is never forwarded, nor turned into a header
	out.URL.Scheme = scheme
	out.URL.Host = addrHost(d.host, d.port)
	out.Host = d.host
	if (scheme == "http" && d.port != 80) || (scheme == "https" && d.port != 443) {
		out.Host = addrHost(d.host, d.port)
	} else if strings.Contains(d.host, ":") {
		out.Host = "[" + d.host + "]"
	}
	removeHopHeaders(out.Header)
	if out.Header.Get("Expect") != "" {
		// The proxy reads the body itself, so it lets the client send it
		// at once rather than relaying the upstream's 100 Continue.
		if strings.EqualFold(out.Header.Get("Expect"), "100-continue") {
			_ = cc.c.SetWriteDeadline(time.Now().Add(cc.p.cfg.HeaderTimeout))
			_, _ = cc.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			_ = cc.bw.Flush()
		}
		out.Header.Del("Expect")
	}
	rules := cc.p.rulesFor(d.host, d.port, cc.tunnel != nil)
	for _, r := range rules {
		out.Header.Del(r.name)
		_ = r.value.Use(func(b []byte) { out.Header.Set(r.name, string(b)) })
		ev.Injected = append(ev.Injected, r.name)
	}
	var needles [][]byte
	if len(rules) > 0 {
		needles = needlesFor(rules)
		// The response is scrubbed of the credential; that needs it
		// uncompressed.
		out.Header.Set("Accept-Encoding", "identity")
	}
	if deadline, ok := rctx.Deadline(); ok {
		_ = cc.c.SetReadDeadline(deadline)
	}

	resp, err := cc.p.transport.RoundTrip(out)
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, context.DeadlineExceeded) {
			status = http.StatusGatewayTimeout
		}
		ev.Allowed = true
		// The transport quotes a malformed status or header line in its
		// error, and an upstream can echo the credential there.
		ev.Status, ev.Reason = status, scrubString("upstream: "+err.Error(), needles)
		cc.p.emit(ev)
		writeRefusal(cc.bw, status, ev.Reason)
		return false
	}
	defer resp.Body.Close()
	removeHopHeaders(resp.Header)
	if len(needles) > 0 && bodyAllowed(req.Method, resp.StatusCode) {
		if err := decodeForScrub(resp); err != nil {
			ev.Allowed = true
			ev.Status, ev.Reason = http.StatusBadGateway, "upstream: "+err.Error()
			cc.p.emit(ev)
			writeRefusal(cc.bw, http.StatusBadGateway, ev.Reason)
			return false
		}
	}
	ev.Allowed, ev.Status = true, resp.StatusCode
	cc.p.emit(ev)

	keep := !req.Close && !resp.Close && (resp.ContentLength >= 0 || chunked(resp.TransferEncoding) || !bodyAllowed(req.Method, resp.StatusCode))
	resp.Close = !keep
	if deadline, ok := rctx.Deadline(); ok {
		_ = cc.c.SetWriteDeadline(deadline)
	}
	if len(needles) > 0 {
		// The reason phrase and the trailer are passed on too; an
		// upstream can echo the credential in either.
		resp.Status = scrubString(resp.Status, needles)
		scrubHeader(resp.Header, needles)
		sb := newScrubBody(resp.Body, needles)
		sb.trailer = &resp.Trailer
		resp.Body = sb
	}
	resp.Body = &flushingBody{ReadCloser: resp.Body, bw: cc.bw}
	// writerOnly hides bufio.Writer's ReadFrom, which would read the body
	// into the very buffer that flushingBody flushes.
	if err := resp.Write(writerOnly{cc.bw}); err != nil {
		return false
	}
	if err := cc.bw.Flush(); err != nil {
		return false
	}
	// Closing the request body drains what the upstream did not read, so
	// the next request starts at its first byte.
	if err := req.Body.Close(); err != nil {
		return false
	}
	_ = cc.c.SetWriteDeadline(time.Time{})
	return keep
}

// authorized reports whether req carries the proxy's AuthToken, or no
// token is configured. The comparison takes constant time.
func (p *Proxy) authorized(req *http.Request) bool {
	if p.cfg.AuthToken == "" {
		return true
	}
	v := req.Header.Get("Proxy-Authorization")
	scheme, cred, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return false
	}
	_, pass, ok := strings.Cut(string(raw), ":")
	return ok && subtle.ConstantTimeCompare([]byte(pass), []byte(p.cfg.AuthToken)) == 1
}

// flushingBody flushes the client's buffered writer before every read
// from the upstream, so a streamed response (server-sent events) reaches
// the client as it arrives, while small responses still go out in one
// write.
type flushingBody struct {
	io.ReadCloser
	bw *bufio.Writer
}

func (f *flushingBody) Read(b []byte) (int, error) {
	if f.bw.Buffered() > 0 {
		if err := f.bw.Flush(); err != nil {
			return 0, err
		}
	}
	return f.ReadCloser.Read(b)
}

// writerOnly exposes only Write.
type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(b []byte) (int, error) { return w.w.Write(b) }

func chunked(te []string) bool { return len(te) > 0 && te[0] == "chunked" }

// bodyAllowed reports whether a response to method with status may have a
// body (RFC 9110 section 6.4.1).
func bodyAllowed(method string, status int) bool {
	return method != http.MethodHead && status >= 200 && status != 204 && status != 304
}

// badHeader returns the name of the first header whose value has a control
// character (CR, LF, NUL, ...), which could split or smuggle a request
// downstream. net/http's parser already refuses most; this is the proxy's
// own guarantee.
func badHeader(h http.Header) string {
	for name, vs := range h {
		for _, v := range vs {
			for i := 0; i < len(v); i++ {
				if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
					return name
				}
			}
		}
	}
	return ""
}

// splitAuthority splits a request authority into a host and a port, using
// def when there is no port.
func splitAuthority(auth string, def int) (string, int, error) {
	if auth == "" {
		return "", 0, errors.New("empty host")
	}
	host, port, err := hostname.SplitHostPort(auth)
	if err != nil {
		return "", 0, err
	}
	if port == 0 {
		port = def
	}
	return host, port, nil
}

// handleConnect answers a CONNECT: refused, tunnelled or intercepted.
func (cc *conn) handleConnect(ctx context.Context, req *http.Request) {
	ev := Event{Kind: KindTunnel, Client: cc.client, Method: req.Method}
	host, port, err := hostname.SplitHostPort(req.URL.Host)
	if err == nil && port == 0 {
		err = errors.New("no port")
	}
	if err != nil || req.URL.Host != req.RequestURI {
		reason := "CONNECT needs host:port"
		if err != nil {
			reason += ": " + err.Error()
		}
		cc.refuse(ev, http.StatusBadRequest, reason)
		return
	}
	ev.Host, ev.Port = host, port
	d := cc.p.authorize(ctx, host, port)
	ev.Host, ev.Addr = d.host, d.firstAddr()
	if d.status != 0 {
		cc.refuse(ev, d.status, d.reason)
		return
	}
	if rules := cc.p.rulesFor(d.host, d.port, true); len(rules) > 0 {
		cc.intercept(ctx, ev, &d)
		return
	}
	up, addr, err := cc.p.dialAddrs(ctx, &d)
	if err != nil {
		ev.Allowed = true
		ev.Status, ev.Reason = http.StatusBadGateway, "upstream: "+err.Error()
		cc.p.emit(ev)
		writeRefusal(cc.bw, http.StatusBadGateway, ev.Reason)
		return
	}
	defer up.Close()
	ev.Allowed, ev.Status, ev.Addr = true, http.StatusOK, addr.String()
	cc.p.emit(ev)
	_ = cc.c.SetDeadline(time.Now().Add(cc.p.cfg.HeaderTimeout))
	_, _ = cc.bw.WriteString("HTTP/1.1 200 Connection Established\r\n\r\n")
	if err := cc.bw.Flush(); err != nil {
		return
	}
	// Bytes the client sent right after the CONNECT (a TLS ClientHello,
	// often) are already in the reader's buffer; they go first. Losing
	// them was kavach 1.0's bug.
	if n := cc.br.Buffered(); n > 0 {
		b, _ := cc.br.Peek(n)
		if _, err := up.Write(b); err != nil {
			return
		}
		_, _ = cc.br.Discard(n)
	}
	relay(ctx, cc.c, up, cc.p.cfg.IdleTimeout, cc.p.cfg.TunnelTimeout)
}

// intercept terminates the client's TLS with a leaf for the CONNECT target
// and serves the decrypted requests.
func (cc *conn) intercept(ctx context.Context, ev Event, d *decision) {
	ev.Kind = KindIntercept
	leaf, err := cc.p.ca.Leaf(d.host)
	if err != nil {
		cc.refuse(ev, http.StatusInternalServerError, err.Error())
		return
	}
	ev.Allowed, ev.Status = true, http.StatusOK
	cc.p.emit(ev)
	_ = cc.c.SetDeadline(time.Now().Add(cc.p.cfg.HeaderTimeout))
	_, _ = cc.bw.WriteString("HTTP/1.1 200 Connection Established\r\n\r\n")
	if err := cc.bw.Flush(); err != nil {
		return
	}
	var sniErr string
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			// A client that names another server than it CONNECTed to is
			// refused, rather than being served a certificate it would
			// reject or, worse, talking to the wrong upstream.
			if hello.ServerName != "" {
				if name, _, err := hostname.Normalize(hello.ServerName); err != nil || name != d.host {
					sniErr = fmt.Sprintf("TLS server name %q does not match the CONNECT target %s", hello.ServerName, d.host)
					return nil, errors.New(sniErr)
				}
			}
			return leaf, nil
		},
	}
	tc := tls.Server(&bufferedConn{Conn: cc.c, r: cc.br}, cfg)
	hctx, cancel := context.WithTimeout(ctx, cc.p.cfg.HeaderTimeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		reason := "TLS handshake with the client: " + err.Error()
		if sniErr != "" {
			reason = sniErr
		}
		cc.p.emit(Event{Kind: KindInner, Client: cc.client, Host: d.host, Port: d.port, Status: 0, Reason: reason})
		return
	}
	_ = cc.c.SetDeadline(time.Time{})
	cc.p.serveConn(ctx, tc, d)
}

// bufferedConn reads through r, which holds bytes already read from
// Conn, and writes to Conn directly.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// relay copies bytes both ways until both directions end, the tunnel has
// been idle for idle in both directions, maxLife has passed or ctx is
// done.
func relay(ctx context.Context, a, b net.Conn, idle, maxLife time.Duration) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	stop := context.AfterFunc(ctx, func() { a.Close(); b.Close() })
	defer stop()
	timer := time.AfterFunc(maxLife, func() { a.Close(); b.Close() })
	defer timer.Stop()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			_ = src.SetReadDeadline(time.Now().Add(idle))
			n, err := src.Read(buf)
			if n > 0 {
				last.Store(time.Now().UnixNano())
				_ = dst.SetWriteDeadline(time.Now().Add(idle))
				if _, werr := dst.Write(buf[:n]); werr != nil {
					src.Close()
					return
				}
			}
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() && time.Since(time.Unix(0, last.Load())) < idle {
					continue // the other direction is busy: not idle
				}
				if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == io.EOF {
					_ = cw.CloseWrite()
				} else {
					dst.Close()
				}
				return
			}
		}
	}
	go pipe(b, a)
	go pipe(a, b)
	<-done
	<-done
}
