package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/kavach-go/kavach/credential"
)

// benchUpstream returns a loopback server answering "ok" and a proxy
// that allows it and injects a header for it.
func benchUpstream(b *testing.B) (*httptest.Server, *started) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	b.Cleanup(up.Close)
	s := startProxy(b, Config{
		Allow:   []string{fmt.Sprintf("127.0.0.1:%d", port(b, up.URL))},
		Headers: []credential.Header{newHeader(b, "127.0.0.1", port(b, up.URL), "Authorization", "Bearer bench")},
	})
	return up, s
}

func benchGet(b *testing.B, c *http.Client, url string) {
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkHTTP compares plain HTTP requests on loopback, direct and
// through the proxy with header injection, in the same run.
func BenchmarkHTTP(b *testing.B) {
	up, s := benchUpstream(b)
	b.Run("direct", func(b *testing.B) { benchGet(b, &http.Client{}, up.URL) })
	b.Run("proxied", func(b *testing.B) { benchGet(b, s.client(nil), up.URL) })
}

// BenchmarkConnect opens one CONNECT tunnel per iteration to a loopback
// echo server and round-trips one byte through it.
func BenchmarkConnect(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	s := startProxy(b, Config{Allow: []string{ln.Addr().String()}, MaxConns: 4096})
	want := "HTTP/1.1 200 Connection Established\r\n\r\nx"
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 64)
		for pb.Next() {
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\n\r\nx", ln.Addr())
			got := 0
			for got < len(want) {
				n, err := c.Read(buf)
				if err != nil {
					b.Fatal(err)
				}
				got += n
			}
			c.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "connects/s")
}
