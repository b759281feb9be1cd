// Command proxy measures what kavach's egress proxy adds to HTTP requests
// on loopback: requests per second and p50/p99 latency, direct and through
// the proxy, in the same run; plain HTTP (with header injection) and
// CONNECT tunnels per second. All traffic stays on 127.0.0.1.
//
//	go run ./bench/proxy [-n 20000] [-c 8] [-connects 5000]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kavach-go/kavach/credential"
	"github.com/kavach-go/kavach/credential/proxy"
)

func main() {
	n := flag.Int("n", 20000, "requests per measurement")
	conc := flag.Int("c", 8, "concurrent clients for the throughput runs")
	connects := flag.Int("connects", 5000, "CONNECT tunnels to open")
	flag.Parse()
	if err := run(*n, *conc, *connects); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n, conc, connects int) error {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	upURL, _ := url.Parse(up.URL)
	upPort, _ := strconv.Atoi(upURL.Port())
	echo, err := echoServer()
	if err != nil {
		return err
	}
	defer echo.Close()

	p, err := proxy.New(proxy.Config{
		Allow: []string{upURL.Host, echo.Addr().String()},
		Headers: []credential.Header{{Host: "127.0.0.1", Port: upPort, Name: "Authorization",
			Value: credential.NewSecret([]byte("Bearer bench-token"))}},
		MaxConns: 4096,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Serve(ctx, ln)
	proxyURL, _ := url.Parse("http://" + ln.Addr().String())

	direct := client(nil, conc)
	proxied := client(http.ProxyURL(proxyURL), conc)
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("kavach proxy benchmark: GOMAXPROCS=%d, %s/%s, %d requests per run, loadavg %s\n", runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, n, strings.TrimSpace(string(load)))

	// Warm both paths (connections, leaf caches).
	_, _ = latency(direct, up.URL, 200)
	_, _ = latency(proxied, up.URL, 200)

	fmt.Println("sequential latency (one keep-alive connection):")
	dl, err := latency(direct, up.URL, n)
	if err != nil {
		return err
	}
	pl, err := latency(proxied, up.URL, n)
	if err != nil {
		return err
	}
	fmt.Printf("  direct   p50 %8s  p99 %8s\n", pct(dl, 50), pct(dl, 99))
	fmt.Printf("  proxied  p50 %8s  p99 %8s   (header injected)\n", pct(pl, 50), pct(pl, 99))
	fmt.Printf("  added    p50 %8s  p99 %8s\n\n", pct(pl, 50)-pct(dl, 50), pct(pl, 99)-pct(dl, 99))

	fmt.Printf("throughput (%d concurrent keep-alive clients):\n", conc)
	drps, err := throughput(direct, up.URL, n, conc)
	if err != nil {
		return err
	}
	prps, err := throughput(proxied, up.URL, n, conc)
	if err != nil {
		return err
	}
	fmt.Printf("  direct   %9.0f req/s\n  proxied  %9.0f req/s  (%.0f%% of direct)\n\n", drps, prps, 100*prps/drps)

	cps, cl, err := connectRate(ln.Addr().String(), echo.Addr().String(), connects, conc)
	if err != nil {
		return err
	}
	fmt.Printf("CONNECT tunnels (%d concurrent, new TCP connection each, one 1-byte echo through it):\n", conc)
	fmt.Printf("  %9.0f CONNECT/s   latency p50 %s  p99 %s\n", cps, pct(cl, 50), pct(cl, 99))
	return nil
}

func client(proxyFn func(*http.Request) (*url.URL, error), conc int) *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: proxyFn, MaxIdleConnsPerHost: conc, MaxIdleConns: conc}, Timeout: 10 * time.Second}
}

func get(c *http.Client, u string) error {
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func latency(c *http.Client, u string, n int) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		if err := get(c, u); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t))
	}
	slices.Sort(out)
	return out, nil
}

func throughput(c *http.Client, u string, n, conc int) (float64, error) {
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := get(c, u); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func connectRate(proxyAddr, target string, n, conc int) (float64, []time.Duration, error) {
	var left atomic.Int64
	left.Store(int64(n))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		lat      []time.Duration
		firstErr atomic.Value
	)
	start := time.Now()
	for range conc {
		wg.Go(func() {
			buf := make([]byte, 64)
			for left.Add(-1) >= 0 {
				t := time.Now()
				if err := connectOnce(proxyAddr, target, buf); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(t))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, nil, err
	}
	slices.Sort(lat)
	return float64(n) / time.Since(start).Seconds(), lat, nil
}

func connectOnce(proxyAddr, target string, buf []byte) error {
	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\nx", target, target); err != nil {
		return err
	}
	// Response line, blank line, then the echoed byte.
	want := "HTTP/1.1 200 Connection Established\r\n\r\nx"
	got := 0
	for got < len(want) {
		k, err := c.Read(buf[:min(len(buf), len(want)-got)])
		if err != nil {
			return fmt.Errorf("connect: %w after %d bytes", err, got)
		}
		got += k
	}
	return nil
}

func echoServer() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go echo(c)
		}
	}()
	return ln, nil
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := len(d) * p / 100
	if i >= len(d) {
		i = len(d) - 1
	}
	return d[i].Round(time.Microsecond)
}

// echo writes back what it reads until the client closes.
func echo(c net.Conn) {
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
}
