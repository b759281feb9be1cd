package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/kavach-go/kavach/credential/proxy"
)

// Example shows a proxy that allows one host and refuses the rest, with
// the reason in the response and in the event stream.
func Example() {
	events := make(chan proxy.Event, 10)
	p, err := proxy.New(proxy.Config{
		Allow:   []string{"api.example.com"},
		OnEvent: func(e proxy.Event) { events <- e },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Serve(ctx, ln)

	proxyURL, _ := url.Parse("http://" + ln.Addr().String())
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	resp, err := client.Get("http://evil.example.net/")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	fmt.Print(string(body))
	e := <-events
	fmt.Println(e.Kind, e.Host, e.Port, e.Allowed)
	// Output:
	// 403
	// kavach proxy: evil.example.net:80 is not on the allowlist
	// request evil.example.net 80 false
}
