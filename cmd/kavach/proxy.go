package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kavach-go/kavach/credential"
	"github.com/kavach-go/kavach/credential/proxy"
)

func init() { register(newProxyCmd) }

type proxyFlags struct {
	listen    string
	authToken string
	noAuth    bool
	allow     []string
	headers   []string
	asJSON    bool
	caCert    string
	caBundle  string
}

func newProxyCmd() *cobra.Command {
	var f proxyFlags
	c := &cobra.Command{
		Use:   "proxy --allow-host HOST[:PORT] [--secret-header RULE] [--listen ADDR]",
		Short: "Run the credential and egress proxy on its own",
		Long: `Run kavach's egress proxy: an HTTP/1.1 forward proxy with CONNECT that
lets through only the hosts given with --allow-host (none by default), and
sets credential headers for chosen hosts without the client seeing them.

  --allow-host api.example.com        ports 80 and 443 of that name
  --allow-host '*.example.com:8443'   any subdomain, one port
  --allow-host 10.0.0.0/8:5432        an IP range (loopback, private and
                                      link-local addresses must be listed
                                      like this to be reachable)
  --secret-header 'api.example.com:Authorization=Bearer env:TOKEN'
                                      the value comes from the host's
                                      $TOKEN (or file:PATH), never from
                                      the command line; a rule without a
                                      port is for HTTPS only: name the
                                      port ('host:8080:Header=...') to
                                      send it over plain HTTP

Clients must authenticate: the proxy makes a random token at start and
prints its URL as http://kavach:TOKEN@ADDR (most clients accept that in
HTTP_PROXY). --auth-token env:NAME|file:PATH chooses the token; --no-auth
turns this off, which lets every local user spend the credentials.

HTTPS to a host with a --secret-header rule is intercepted with a CA made
in memory for this run; --ca-cert or --ca-bundle write its certificate
(never its key) for clients to trust. Every decision is logged on stderr,
as JSON lines with --json. Stop with Ctrl-C or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runProxy(cmd, &f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:3128", "address to listen on")
	fl.StringArrayVar(&f.allow, "allow-host", nil, "allow HOST[:PORT], *.SUFFIX[:PORT], IP[:PORT] or CIDR[:PORT] (repeatable; default: nothing)")
	fl.StringArrayVar(&f.headers, "secret-header", nil, "inject HOST[:PORT]:Header-Name=[Scheme ]env:NAME|file:PATH (repeatable)")
	fl.StringVar(&f.authToken, "auth-token", "", "proxy password from env:NAME or file:PATH (default: random, printed at start)")
	fl.BoolVar(&f.noAuth, "no-auth", false, "accept clients without the proxy password")
	fl.BoolVar(&f.asJSON, "json", false, "log events as JSON lines on stderr")
	fl.StringVar(&f.caCert, "ca-cert", "", "write the interception CA's certificate (PEM) to this file")
	fl.StringVar(&f.caBundle, "ca-bundle", "", "write the system roots plus the interception CA (PEM) to this file")
	c.MarkFlagsMutuallyExclusive("auth-token", "no-auth")
	return c
}

// proxyToken returns the token clients must present: from its source, a
// random one, or none with --no-auth.
func proxyToken(ctx context.Context, f *proxyFlags) (string, error) {
	if f.noAuth {
		return "", nil
	}
	if f.authToken == "" {
		b := make([]byte, 18)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("proxy token: %w", err)
		}
		return base64.RawURLEncoding.EncodeToString(b), nil
	}
	src, err := credential.ParseSource(f.authToken)
	if err != nil {
		return "", fmt.Errorf("--auth-token: %w", err)
	}
	sec, err := src.Resolve(ctx)
	if err != nil {
		return "", fmt.Errorf("--auth-token: %w", err)
	}
	defer sec.Release()
	b, _ := sec.Bytes()
	tok := strings.TrimRight(string(b), "\r\n")
	clear(b)
	if tok == "" || strings.ContainsAny(tok, "@/:\r\n ") {
		return "", fmt.Errorf("--auth-token: the token must be non-empty, without spaces, '@', '/' or ':'")
	}
	return tok, nil
}

// proxyConfig turns flags into a proxy.Config, resolving the secrets. The
// caller releases the returned headers.
func proxyConfig(ctx context.Context, f *proxyFlags) (proxy.Config, error) {
	cfg := proxy.Config{Allow: f.allow}
	for _, s := range f.headers {
		r, err := credential.ParseHeaderRule(s)
		if err != nil {
			releaseHeaders(cfg.Headers)
			return cfg, fmt.Errorf("--secret-header: %w", err)
		}
		h, err := r.Resolve(ctx)
		if err != nil {
			releaseHeaders(cfg.Headers)
			return cfg, fmt.Errorf("--secret-header: %w", err)
		}
		cfg.Headers = append(cfg.Headers, h)
	}
	return cfg, nil
}

func releaseHeaders(hs []credential.Header) {
	for _, h := range hs {
		h.Value.Release()
	}
}

func runProxy(cmd *cobra.Command, f *proxyFlags) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := proxyConfig(ctx, f)
	if err != nil {
		return err
	}
	defer releaseHeaders(cfg.Headers)
	if len(cfg.Allow) == 0 {
		fmt.Fprintln(cmd.ErrOrStderr(), "kavach: warning: no --allow-host given; every request will be refused")
	}
	if cfg.AuthToken, err = proxyToken(ctx, f); err != nil {
		return err
	}
	cfg.OnEvent = eventPrinter(cmd.ErrOrStderr(), f.asJSON)
	p, err := proxy.New(cfg)
	if err != nil {
		return err
	}
	if ca := p.CA(); ca != nil {
		if f.caCert != "" {
			if err := os.WriteFile(f.caCert, ca.CertPEM(), 0o644); err != nil {
				return fmt.Errorf("--ca-cert: %w", err)
			}
		}
		if f.caBundle != "" {
			if err := os.WriteFile(f.caBundle, ca.Bundle(proxy.SystemRootsPEM()), 0o644); err != nil {
				return fmt.Errorf("--ca-bundle: %w", err)
			}
		}
	} else if f.caCert != "" || f.caBundle != "" {
		return fmt.Errorf("--ca-cert/--ca-bundle: no --secret-header rule, so no interception CA")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	user := ""
	if cfg.AuthToken != "" {
		user = "kavach:" + url.PathEscape(cfg.AuthToken) + "@"
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "kavach: proxy listening on http://%s%s\n", user, ln.Addr())
	return p.Serve(ctx, ln)
}

// eventPrinter returns an OnEvent hook that prints each event on w, one
// line each, JSON or text. Events never hold secrets, only header names.
func eventPrinter(w io.Writer, asJSON bool) func(proxy.Event) {
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	return func(e proxy.Event) {
		mu.Lock()
		defer mu.Unlock()
		if asJSON {
			_ = enc.Encode(e)
			return
		}
		verdict := "allowed"
		if !e.Allowed {
			verdict = "denied"
		}
		line := fmt.Sprintf("%s %s %s", e.Time.Format("15:04:05.000"), verdict, e.Kind)
		if e.Method != "" {
			line += " " + e.Method
		}
		if e.Host != "" {
			line += fmt.Sprintf(" %s:%d", e.Host, e.Port)
		}
		if e.Status != 0 {
			line += fmt.Sprintf(" status=%d", e.Status)
		}
		if len(e.Injected) > 0 {
			line += " injected=" + strings.Join(e.Injected, ",")
		}
		if e.Reason != "" {
			line += fmt.Sprintf(" reason=%q", e.Reason)
		}
		fmt.Fprintln(w, line)
	}
}
