package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// FuzzProxyRequest feeds arbitrary bytes to the proxy's request loop. The
// proxy must never panic, must answer only with well-formed responses,
// and must never dial anything but the one allowed address.
func FuzzProxyRequest(f *testing.F) {
	seeds := []string{
		"GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n",
		"CONNECT evil.test:443 HTTP/1.1\r\n\r\n",
		"GET http://api.test/ HTTP/1.1\r\nX: a\rb\r\n\r\n",
		"POST http://127.0.0.1:1/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"GET http://[::1]:1/ HTTP/1.0\r\n\r\n",
		"GET http://xn--bcher-kva.example/ HTTP/1.1\r\n\r\n",
		"\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	var (
		mu     sync.Mutex
		dialed []string
	)
	p, err := New(Config{Allow: []string{"127.0.0.1:1", "api.test"}, HeaderTimeout: 50 * time.Millisecond, IdleTimeout: 50 * time.Millisecond,
		Resolver: &fakeResolver{names: map[string][]string{"api.test": {"10.0.0.1"}}}})
	if err != nil {
		f.Fatal(err)
	}
	p.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		return nil, fmt.Errorf("fuzz: no dialling")
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer server.Close()
			p.serveConn(context.Background(), server, nil)
		}()
		go func() {
			_ = client.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = client.Write(in)
		}()
		_ = client.SetReadDeadline(time.Now().Add(2 * time.Second))
		out, _ := io.ReadAll(client)
		client.Close()
		<-done
		if len(out) > 0 {
			if !bytes.HasPrefix(out, []byte("HTTP/1.1 ")) {
				t.Fatalf("bad response %q", out)
			}
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
			if err != nil {
				t.Fatalf("unparseable response %q: %v", out, err)
			}
			resp.Body.Close()
		}
		mu.Lock()
		defer mu.Unlock()
		for _, a := range dialed {
			if a != "127.0.0.1:1" {
				t.Fatalf("dialled %s", a)
			}
		}
		dialed = dialed[:0]
	})
}
