package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/kavach-go/kavach/credential"
)

func TestScrubBody(t *testing.T) {
	needles := [][]byte{[]byte("Bearer " + testToken), []byte(testToken)}
	tests := []struct{ in, want string }{
		{"nothing here", "nothing here"},
		{"auth=Bearer " + testToken + ";", "auth=" + strings.Repeat("*", 7+len(testToken)) + ";"},
		{testToken + testToken, strings.Repeat("*", 2*len(testToken))},
		{"tok-SECRET-9f8e7d6c5b4", "tok-SECRET-9f8e7d6c5b4"}, // a prefix only
		{"x" + testToken[:10], "x" + testToken[:10]},
	}
	for _, tt := range tests {
		for _, r := range []func(io.Reader) io.Reader{func(r io.Reader) io.Reader { return r }, iotest.OneByteReader, iotest.HalfReader} {
			got, err := io.ReadAll(newScrubBody(io.NopCloser(r(strings.NewReader(tt.in))), needles))
			if err != nil || string(got) != tt.want {
				t.Errorf("scrub(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		}
	}
}

func FuzzScrubBody(f *testing.F) {
	f.Add([]byte("abc tok-SECRET-9f8e7d6c5b4a def"), uint8(3))
	f.Add([]byte("tok-SECRETtok-SECRET-9f8e7d6c5b4a"), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		needles := [][]byte{[]byte(testToken), []byte("SECRET-9")}
		r := io.Reader(bytes.NewReader(in))
		if chunk%2 == 1 {
			r = iotest.OneByteReader(r)
		}
		out, err := io.ReadAll(newScrubBody(io.NopCloser(r), needles))
		if err != nil || len(out) != len(in) {
			t.Fatalf("len %d -> %d, %v", len(in), len(out), err)
		}
		for i := range out {
			if out[i] != in[i] && out[i] != '*' {
				t.Fatalf("byte %d changed to %q", i, out[i])
			}
		}
		for _, n := range needles {
			if bytes.Contains(out, n) {
				t.Fatalf("%q left in %q", n, out)
			}
		}
	})
}

// TestScrubEcho checks that an upstream echoing the injected credential
// does not hand it to the client, over plain HTTP and intercepted HTTPS.
func TestScrubEcho(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "you sent %q and the token %s; Accept-Encoding %s", r.Header.Get("Authorization"), strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), r.Header.Get("Accept-Encoding"))
	})
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprint("tls=", useTLS), func(t *testing.T) {
			up := httptest.NewUnstartedServer(echo)
			if useTLS {
				up.StartTLS()
			} else {
				up.Start()
			}
			defer up.Close()
			cfg := Config{
				Allow:   []string{fmt.Sprintf("127.0.0.1:%d", port(t, up.URL))},
				Headers: []credential.Header{newHeader(t, "127.0.0.1", port(t, up.URL), "Authorization", "Bearer "+testToken)},
			}
			if useTLS {
				cfg.ExtraUpstreamRoots = append(cfg.ExtraUpstreamRoots, up.Certificate())
			}
			s := startProxy(t, cfg)
			roots := s.p.CA().Certificate()
			pool := newPool(roots)
			resp, err := s.client(pool).Get(up.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			all := string(body) + fmt.Sprint(resp.Header)
			if strings.Contains(all, testToken) || strings.Contains(all, "9f8e7d") {
				t.Fatalf("the credential came back: %s", all)
			}
			if !strings.Contains(string(body), "you sent \"*****") || !strings.Contains(string(body), "Accept-Encoding identity") {
				t.Fatalf("body %q", body)
			}
		})
	}
}

// rawUpstream serves every connection one response written from tmpl,
// with each "%AUTH%" replaced by the request's Authorization header: an
// upstream that echoes the credential where a body scrub cannot see it.
func rawUpstream(t *testing.T, tmpl string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				_, _ = io.WriteString(c, strings.ReplaceAll(tmpl, "%AUTH%", req.Header.Get("Authorization")))
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestScrubEchoOutsideBody checks that the credential an upstream echoes
// in the status line, in a trailer or in a response so malformed that the
// proxy reports it as an error, reaches neither the client nor the
// proxy's events.
func TestScrubEchoOutsideBody(t *testing.T) {
	for _, tc := range []struct{ name, tmpl string }{
		{"reason phrase", "HTTP/1.1 401 bad credential %AUTH%\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"},
		{"trailer", "HTTP/1.1 200 OK\r\nTrailer: X-Echo\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nok\r\n0\r\nX-Echo: %AUTH%\r\n\r\n"},
		{"malformed status", "%AUTH% 200 OK\r\nContent-Length: 2\r\n\r\nok"},
		{"malformed header", "HTTP/1.1 200 OK\r\nX-Echo %AUTH%\r\nContent-Length: 2\r\n\r\nok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := rawUpstream(t, tc.tmpl)
			s := startProxy(t, Config{
				Allow:   []string{fmt.Sprintf("127.0.0.1:%d", up)},
				Headers: []credential.Header{newHeader(t, "127.0.0.1", up, "Authorization", "Bearer "+testToken)},
			})
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "GET http://127.0.0.1:%d/ HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", up, up)
			got, _ := io.ReadAll(c)
			if !bytes.HasPrefix(got, []byte("HTTP/1.1 ")) {
				t.Fatalf("no response: %q", got)
			}
			if bytes.Contains(got, []byte(testToken)) {
				t.Fatalf("the credential came back to the client:\n%s", got)
			}
			if !bytes.Contains(got, bytes.Repeat([]byte("*"), len(testToken))) {
				t.Fatalf("the echo is not in the response, masked:\n%s", got)
			}
			for _, ev := range s.ev.list() {
				if strings.Contains(fmt.Sprintf("%+v", ev), testToken) {
					t.Fatalf("the credential is in an event: %+v", ev)
				}
			}
		})
	}
}

// TestScrubCompressedEcho checks that an upstream which compresses its
// response although the proxy asked for none does not hand the credential
// back inside the compressed bytes: gzip is decoded and scrubbed, other
// codings are refused.
func TestScrubCompressedEcho(t *testing.T) {
	for _, coding := range []string{"gzip", "br"} {
		t.Run(coding, func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var buf bytes.Buffer
				zw := gzip.NewWriter(&buf)
				fmt.Fprintf(zw, "you sent %q", r.Header.Get("Authorization"))
				zw.Close()
				w.Header().Set("Content-Encoding", coding)
				w.Header().Set("Content-Length", fmt.Sprint(buf.Len()))
				w.Write(buf.Bytes())
			}))
			defer up.Close()
			s := startProxy(t, Config{
				Allow:   []string{fmt.Sprintf("127.0.0.1:%d", port(t, up.URL))},
				Headers: []credential.Header{newHeader(t, "127.0.0.1", port(t, up.URL), "Authorization", "Bearer "+testToken)},
			})
			// The client asks for nothing and decodes nothing: it sees the
			// bytes the proxy sends.
			c := s.client(nil)
			c.Transport.(*http.Transport).DisableCompression = true
			resp, err := c.Get(up.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
				if plain, err := io.ReadAll(zr); err == nil {
					body = plain
				}
			}
			if strings.Contains(string(body), testToken) {
				t.Fatalf("the credential came back compressed: %q", body)
			}
			switch coding {
			case "gzip":
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "" || !strings.Contains(string(body), "you sent \"*****") {
					t.Fatalf("status %d, Content-Encoding %q, body %q", resp.StatusCode, resp.Header.Get("Content-Encoding"), body)
				}
			default:
				if resp.StatusCode != http.StatusBadGateway {
					t.Fatalf("status %d, want 502 for a coding the proxy cannot scrub", resp.StatusCode)
				}
			}
		})
	}
}
