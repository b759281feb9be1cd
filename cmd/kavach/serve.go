package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/kavach-go/kavach/audit"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/policy"
	"github.com/kavach-go/kavach/quarantine"
	"github.com/kavach-go/kavach/server"
	"github.com/kavach-go/kavach/threat"
)

func init() { register(newServeCmd) }

type serveFlags struct {
	listen           string
	tokenFile        string
	allowAnonymous   bool
	tlsCert          string
	tlsKey           string
	mcpStdio         bool
	backend          string
	policy           string
	maxSandboxes     int
	idleTTL          time.Duration
	maxBody          string
	maxFile          string
	maxTimeout       time.Duration
	maxMemoryMB      uint64
	maxMCPSessions   int
	maxPids          uint32
	workRoot         string
	allowHostMounts  bool
	allowHostNetwork bool
	auditLog         string
	auditKey         string
	quarantineDir    string
	threatState      string
	shutdownTimeout  time.Duration
	logFormat        string
	logLevel         string
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	c := &cobra.Command{
		Use:   "serve [--listen ADDR] [--token-file F] | serve --mcp",
		Short: "Serve sandboxes over an HTTP/JSON API and MCP",
		Long: `Serve sandboxes over an HTTP/JSON API (with MCP's streamable HTTP transport
at /mcp), or over MCP on stdin/stdout with --mcp.

By default the API listens on a Unix socket, mode 0600:
$XDG_RUNTIME_DIR/kavach.sock, or /run/kavach/kavach.sock when
XDG_RUNTIME_DIR is unset. Clients on the socket are told apart by their uid
(SO_PEERCRED). --listen tcp://127.0.0.1:8080 listens on TCP, which needs
--token-file (one token per line, "TOKEN" or "NAME TOKEN", mode 0600); with
a token file every request must carry "Authorization: Bearer TOKEN".
--allow-anonymous serves loopback TCP without tokens instead: every local
user, and every process that can reach the host's loopback, is then one
and the same client, with its sandboxes and files. A non-loopback address
also needs --tls-cert and --tls-key, so that tokens never cross the network
in clear (or a TLS front on loopback).

The API is described at /openapi.json; metrics are at /metrics. SIGTERM or
SIGINT stops accepting, lets running commands finish for --shutdown-timeout,
kills the rest, destroys every sandbox and closes the audit log.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, &f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.listen, "listen", "", "unix:///PATH, an absolute socket path, or tcp://HOST:PORT (default "+server.DefaultSocket()+")")
	fl.StringVar(&f.tokenFile, "token-file", "", "file of bearer tokens clients must present")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve TCP over TLS with this certificate (PEM, chain first to last)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "the private key of --tls-cert (PEM)")
	fl.BoolVar(&f.allowAnonymous, "allow-anonymous", false, "serve loopback TCP without --token-file (all its clients share one identity)")
	fl.BoolVar(&f.mcpStdio, "mcp", false, "serve MCP over stdin/stdout instead of HTTP")
	fl.StringVarP(&f.backend, "backend", "b", "process", "default backend when a request names none (or auto)")
	fl.StringVarP(&f.policy, "policy", "p", "basic", "default policy: minimal|basic|strict or a .json/.toml file")
	fl.IntVar(&f.maxSandboxes, "max-sandboxes", server.DefaultMaxSandboxesPerClient, "live sandboxes per client")
	fl.IntVar(&f.maxMCPSessions, "max-mcp-sessions", server.DefaultMaxMCPSessionsPerClient, "open MCP sessions over HTTP per client")
	fl.DurationVar(&f.idleTTL, "idle-ttl", server.DefaultIdleTTL, "destroy sandboxes idle this long (0 or less: never)")
	fl.StringVar(&f.maxBody, "max-body", "1M", "largest JSON request body")
	fl.StringVar(&f.maxFile, "max-file", "16M", "largest file upload or download")
	fl.DurationVar(&f.maxTimeout, "max-timeout", server.DefaultMaxTimeout, "largest exec timeout a client may ask for")
	fl.Uint64Var(&f.maxMemoryMB, "max-memory-mb", 2048, "memory limit of every client sandbox, and the most a client may ask for (0: no cap)")
	fl.Uint32Var(&f.maxPids, "max-pids", 512, "process limit of every client sandbox, and the most a client may ask for (0: no cap)")
	fl.StringVar(&f.workRoot, "work-root", "", "directory for the sandboxes' workdirs (default the temp dir)")
	fl.BoolVar(&f.allowHostMounts, "allow-host-mounts", false, "let clients' policies bind host paths (mounts, data_dir)")
	fl.BoolVar(&f.allowHostNetwork, "allow-host-network", false, "let clients' policies share the host's network (network.enabled without allowed_hosts)")
	fl.StringVar(&f.auditLog, "audit-log", "", "append every event to this HMAC-chained audit log (needs --audit-key-file)")
	fl.StringVar(&f.auditKey, "audit-key-file", "", "file holding the audit log's HMAC key")
	fl.StringVar(&f.quarantineDir, "quarantine-dir", "", "where quarantined output is stored (default $XDG_DATA_HOME/kavach/quarantine)")
	fl.StringVar(&f.threatState, "threat-state", "", "offender tracker state file; clients are the agents, and a suspended client cannot run")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long running commands may finish on shutdown")
	fl.StringVar(&f.logFormat, "log-format", "json", "access log format on stderr: json or text")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return c
}

func serveLogger(f *serveFlags) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	o := &slog.HandlerOptions{Level: lvl}
	switch f.logFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, o)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, o)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want json or text", f.logFormat)
}

// serveOptions turns flags into server options (without the audit log).
func serveOptions(f *serveFlags) (server.Options, error) {
	var o server.Options
	if f.backend != "auto" {
		if _, err := backend.ParseKind(f.backend); err != nil {
			return o, err
		}
	}
	p, err := policy.Resolve(f.policy)
	if err != nil {
		return o, err
	}
	mb, err := parseSize(f.maxBody)
	if err != nil || mb <= 0 {
		return o, fmt.Errorf("--max-body %q: want a positive size", f.maxBody)
	}
	mf, err := parseSize(f.maxFile)
	if err != nil || mf <= 0 {
		return o, fmt.Errorf("--max-file %q: want a positive size", f.maxFile)
	}
	if f.maxSandboxes <= 0 {
		return o, fmt.Errorf("--max-sandboxes %d: must be positive", f.maxSandboxes)
	}
	if f.maxMCPSessions <= 0 {
		return o, fmt.Errorf("--max-mcp-sessions %d: must be positive", f.maxMCPSessions)
	}
	if f.maxTimeout <= 0 || f.shutdownTimeout < 0 {
		return o, errors.New("--max-timeout must be positive and --shutdown-timeout not negative")
	}
	ttl := f.idleTTL
	if ttl <= 0 {
		ttl = -1
	}
	o = server.Options{
		DefaultBackend: f.backend, DefaultPolicy: &p, MaxSandboxesPerClient: f.maxSandboxes, MaxMCPSessionsPerClient: f.maxMCPSessions,
		IdleTTL: ttl, MaxBodyBytes: mb, MaxFileBytes: mf, MaxTimeout: f.maxTimeout,
		MaxMemoryMB: f.maxMemoryMB, MaxPids: f.maxPids,
		WorkRoot: f.workRoot, AllowHostMounts: f.allowHostMounts, AllowHostNetwork: f.allowHostNetwork,
		AllowAnonymous: f.allowAnonymous,
	}
	if f.tokenFile != "" {
		if o.Tokens, err = server.LoadTokens(f.tokenFile); err != nil {
			return o, err
		}
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return o, errors.New("--tls-cert and --tls-key go together")
	}
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return o, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		o.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return o, nil
}

func runServe(cmd *cobra.Command, f *serveFlags) error {
	if f.mcpStdio && (f.listen != "" || f.tokenFile != "" || f.allowAnonymous || f.tlsCert != "") {
		return errors.New("--mcp serves stdin/stdout: it takes no --listen, --token-file, --allow-anonymous or --tls-cert")
	}
	if tcp, ok := strings.CutPrefix(f.listen, "tcp://"); ok {
		if f.tokenFile == "" && !f.allowAnonymous {
			return fmt.Errorf("--listen %s: TCP needs --token-file (or --allow-anonymous, which makes every local user one shared client)", f.listen)
		}
		if host, _, err := net.SplitHostPort(tcp); err == nil && !server.IsLoopback(host) && f.tlsCert == "" {
			return fmt.Errorf("--listen %s: a non-loopback address needs --tls-cert and --tls-key (bearer tokens would cross the network in clear), or a TLS front listening on loopback", f.listen)
		}
	} else if f.tlsCert != "" {
		return errors.New("--tls-cert: TLS is for a TCP --listen; the Unix socket is served without it")
	}
	if f.tlsKey != "" {
		warnLooseKey(cmd.ErrOrStderr(), f.tlsKey)
	}
	log, err := serveLogger(f)
	if err != nil {
		return err
	}
	opts, err := serveOptions(f)
	if err != nil {
		return err
	}
	opts.Logger = log
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if (f.auditLog == "") != (f.auditKey == "") {
		return errors.New("--audit-log and --audit-key-file go together")
	}
	if f.auditLog != "" {
		key, err := audit.LoadKey(f.auditKey)
		if err != nil {
			return err
		}
		warnLooseKey(cmd.ErrOrStderr(), f.auditKey)
		w, err := audit.Open(ctx, f.auditLog, key)
		if err != nil {
			return err
		}
		// Closed last, after every sandbox's destroy event is written.
		defer func() { _ = w.Close() }()
		opts.Audit, opts.AuditKey = w, key
	}
	qdir := f.quarantineDir
	if qdir == "" {
		if qdir, err = quarantine.DefaultDir(); err != nil {
			return err
		}
	}
	if opts.Quarantine, err = quarantine.New(qdir); err != nil {
		return err
	}
	if f.threatState != "" {
		if opts.Threat, err = threat.NewOffenderTracker(ctx, threat.TrackerConfig{Path: f.threatState}); err != nil {
			return err
		}
	}
	srv, err := server.New(opts)
	if err != nil {
		return err
	}
	shutdown := func() error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.shutdownTimeout)
		defer cancel()
		log.Info("shutting down", slog.Duration("deadline", f.shutdownTimeout))
		return srv.Shutdown(sctx)
	}
	if f.mcpStdio {
		serr := srv.ServeMCP(ctx, &mcp.StdioTransport{})
		return errors.Join(serr, shutdown())
	}
	addr := f.listen
	if addr == "" {
		addr = "unix://" + server.DefaultSocket()
	}
	ln, err := server.Listen(addr, len(opts.Tokens) > 0)
	if err != nil {
		return errors.Join(err, shutdown())
	}
	log.Info("listening", slog.String("addr", ln.Addr().Network()+"://"+ln.Addr().String()), slog.Bool("tokens", len(opts.Tokens) > 0))
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return errors.Join(fmt.Errorf("serve: %w", err), shutdown())
		}
	}
	if err := shutdown(); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}
