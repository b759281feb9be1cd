package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/audit"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/policy"
	"github.com/kavach-go/kavach/scan"
	"github.com/kavach-go/kavach/threat"
)

// Defaults for Options fields left zero.
const (
	DefaultMaxSandboxesPerClient = 16
	// DefaultMaxMCPSessionsPerClient bounds each client's open MCP
	// sessions over HTTP.
	DefaultMaxMCPSessionsPerClient = 16
	DefaultIdleTTL                 = 15 * time.Minute
	DefaultMaxBodyBytes            = 1 << 20
	DefaultMaxFileBytes            = 16 << 20
	DefaultMaxTimeout              = 10 * time.Minute
)

// Options configures a Server. The zero value serves the built-in
// backends with the process backend and the basic policy by default.
type Options struct {
	// Backends replaces kavach.Backends() (for tests and embedding).
	Backends []backend.Backend
	// DefaultBackend is used when a request names none: a kind name or
	// "auto" (default "process", as `kavach run`).
	DefaultBackend string
	// DefaultPolicy is used when a request names none (default basic).
	DefaultPolicy *policy.Policy
	// Audit receives every sandbox's events; AuditKey, when set, lets
	// GET /v1/audit/verify check the log. The caller closes the writer
	// after Shutdown.
	Audit    *audit.Writer
	AuditKey []byte
	// Threat, when set, tracks every client's threat score (the client is
	// the sandboxes' agent id).
	Threat *threat.OffenderTracker
	// Quarantine stores output the gate quarantines.
	Quarantine scan.Store
	// Gate is the output gate's policy for every sandbox (nil: the
	// default, on). Clients cannot turn it off.
	Gate *scan.GatePolicy
	// MaxSandboxesPerClient bounds each client's live sandboxes.
	MaxSandboxesPerClient int
	// MaxMCPSessionsPerClient bounds each client's open MCP sessions over
	// HTTP (each holds memory until it is closed or idles out).
	MaxMCPSessionsPerClient int
	// IdleTTL is how long a sandbox may go unused (no exec, file transfer
	// or state change; GET does not count) before it is destroyed, and how
	// long an MCP session over HTTP may stay idle; negative disables both.
	IdleTTL time.Duration
	// MaxBodyBytes caps JSON request bodies; MaxFileBytes caps uploads
	// and downloads.
	MaxBodyBytes int64
	MaxFileBytes int64
	// MaxTimeout caps the per-exec timeout a client may ask for.
	MaxTimeout time.Duration
	// MaxMemoryMB and MaxPids cap every sandbox a client creates: a
	// policy (with the request's limits) that sets no such limit gets the
	// cap, one that asks for more is refused. Zero leaves that limit to
	// the client — and a client's sandbox without a pids limit can
	// fork-bomb the host. kavach serve sets both by default.
	MaxMemoryMB uint64
	MaxPids     uint32
	// WorkRoot is the host directory under which per-sandbox workdirs are
	// made (default os.TempDir()). Every directory on its path must be
	// searchable by others, because sandboxes run as unprivileged uids.
	WorkRoot string
	// AllowHostMounts lets clients' policies bind host paths (mounts,
	// data_dir). Off by default.
	AllowHostMounts bool
	// AllowHostNetwork lets clients' policies share the host's network
	// (network.enabled without allowed_hosts). Off by default; egress to
	// allowed_hosts through kavach's proxy is always allowed.
	AllowHostNetwork bool
	// Tokens, when set, are the bearer tokens clients must present on
	// every request (on every listener). A token's Name is the client's
	// identity.
	Tokens []Token
	// AllowAnonymous serves requests that carry no identity: without
	// Tokens, those on a TCP listener (loopback only, see Listen) or on
	// any listener other than a Unix socket's. They are all one client,
	// "anonymous", sharing its sandboxes, files, quota and threat record:
	// every local user, and every process that reaches the host's
	// loopback, is that client. Off by default: such requests get 401 and
	// Serve refuses a TCP listener.
	AllowAnonymous bool
	// TLS, when set, is the TLS configuration (with the server's
	// certificate) Serve uses on every listener other than a Unix
	// socket's. A bearer token sent over TCP without it crosses the
	// network in clear.
	TLS *tls.Config
	// Logger receives one access log line per request and lifecycle
	// events; nil discards them.
	Logger *slog.Logger
}

// Server serves sandboxes over HTTP and MCP. Create it with New, serve
// listeners with Serve, and stop it with Shutdown.
type Server struct {
	opts     Options
	log      *slog.Logger
	reg      *registry
	metrics  *metrics
	mux      *http.ServeMux
	routes   []string // "METHOD /pattern", in registration order
	handler  http.Handler
	mcp      *mcp.Server
	mcpHTTP  http.Handler
	sessions sync.Map // *mcp.ServerSession → mcpOwner
	// verifying holds the one audit verification that may run at a
	// time: each reads and hashes the whole log on all cores.
	verifying chan struct{}
	mcpMu     sync.Mutex
	mcpOpen   map[string]int // guarded by mcpMu; client → open MCP HTTP sessions

	// life is canceled when Shutdown gives up waiting: every exec's
	// context derives from it, so cancelling kills them all.
	life       context.Context
	cancelLife context.CancelFunc
	closing    atomic.Bool

	mu      sync.Mutex
	servers []*http.Server // guarded by mu
	wg      sync.WaitGroup // background goroutines (reaper, MCP session watchers)
	active  sync.WaitGroup // handlers in flight; Add only under mu while not closing
}

// New returns a server. It validates the options but listens on nothing.
func New(opts Options) (*Server, error) {
	if opts.Backends == nil {
		opts.Backends = kavach.Backends()
	}
	if opts.DefaultBackend == "" {
		opts.DefaultBackend = "process"
	}
	if opts.DefaultBackend != "auto" {
		if _, err := backend.ParseKind(opts.DefaultBackend); err != nil {
			return nil, fmt.Errorf("new server: %w", err)
		}
	}
	if opts.DefaultPolicy == nil {
		p := policy.Basic()
		opts.DefaultPolicy = &p
	}
	if err := opts.DefaultPolicy.Validate(); err != nil {
		return nil, fmt.Errorf("new server: default policy: %w", err)
	}
	if t := opts.TLS; t != nil && len(t.Certificates) == 0 && t.GetCertificate == nil && t.GetConfigForClient == nil {
		return nil, errors.New("new server: TLS configuration without a certificate")
	}
	if opts.Gate == nil {
		g := scan.DefaultGatePolicy()
		opts.Gate = &g
	}
	if opts.MaxSandboxesPerClient == 0 {
		opts.MaxSandboxesPerClient = DefaultMaxSandboxesPerClient
	}
	if opts.MaxMCPSessionsPerClient == 0 {
		opts.MaxMCPSessionsPerClient = DefaultMaxMCPSessionsPerClient
	}
	if opts.IdleTTL == 0 {
		opts.IdleTTL = DefaultIdleTTL
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = DefaultMaxFileBytes
	}
	if opts.MaxTimeout <= 0 {
		opts.MaxTimeout = DefaultMaxTimeout
	}
	if opts.WorkRoot == "" {
		opts.WorkRoot = os.TempDir()
	}
	if st, err := os.Stat(opts.WorkRoot); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("new server: work root %s: not a directory (%v)", opts.WorkRoot, err)
	}
	for _, t := range opts.Tokens {
		if t.Name == "" || len(t.secret) == 0 {
			return nil, fmt.Errorf("new server: %w: a token without name or value", ErrBadToken)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		metrics: newMetrics(),
		mux:     http.NewServeMux(),

		verifying: make(chan struct{}, 1),
		mcpOpen:   map[string]int{},
	}
	s.life, s.cancelLife = context.WithCancel(context.Background())
	s.reg = newRegistry(s.metrics)
	s.routesInit()
	s.mcp = s.newMCPServer()
	s.mcpHTTP = auth.RequireBearerToken(mcpIdentity, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(
		mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp },
			&mcp.StreamableHTTPOptions{SessionTimeout: s.idleTTL(), MaxRequestBodyBytes: opts.MaxBodyBytes + opts.MaxFileBytes*2}))
	// Browsers must not drive the API from other origins (a page POSTing
	// to a loopback port); Sec-Fetch-Site and Origin tell.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusForbidden, "cross_origin", "cross-origin requests are refused")
	}))
	s.handler = s.accessLog(cop.Handler(s.authenticate(s.mux)))
	if opts.IdleTTL > 0 {
		s.wg.Go(s.reap)
	}
	return s, nil
}

func (s *Server) idleTTL() time.Duration {
	if s.opts.IdleTTL < 0 {
		return 0
	}
	return s.opts.IdleTTL
}

// Handler returns the HTTP handler: the API, /openapi.json, /metrics and
// /mcp, behind token authentication (when tokens are set) and access
// logging. Requests served through it on a listener other than Serve's
// have the identity of their token, or "anonymous".
func (s *Server) Handler() http.Handler { return s.handler }

// Routes returns every "METHOD /pattern" the handler serves.
func (s *Server) Routes() []string { return append([]string(nil), s.routes...) }

// Serve accepts connections on ln until Shutdown. On a Unix socket the
// client's identity is the peer's uid (unless tokens are set). Other
// listeners need Options.Tokens, or Options.AllowAnonymous: without
// either Serve refuses them with ErrAnonymous. With Options.TLS they are
// served over TLS. It returns http.ErrServerClosed after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	_, unix := ln.Addr().(*net.UnixAddr)
	if !unix && len(s.opts.Tokens) == 0 && !s.opts.AllowAnonymous {
		_ = ln.Close()
		return fmt.Errorf("serve %s://%s: %w", ln.Addr().Network(), ln.Addr(), ErrAnonymous)
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ConnContext:       connContext,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		_ = ln.Close()
		return http.ErrServerClosed
	}
	s.servers = append(s.servers, hs)
	s.mu.Unlock()
	if !unix && s.opts.TLS != nil {
		hs.TLSConfig = s.opts.TLS.Clone()
		return hs.ServeTLS(ln, "", "")
	}
	return hs.Serve(ln)
}

// Shutdown stops the server: it stops accepting connections and new
// sandboxes, lets in-flight requests (and execs) finish until ctx ends,
// then kills the execs still running, destroys every sandbox, ends every
// MCP session and waits for its goroutines. The audit writer is the
// caller's to close after Shutdown returns.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	servers := append([]*http.Server(nil), s.servers...)
	s.mu.Unlock()
	var (
		errs []error
		emu  sync.Mutex
		wg   sync.WaitGroup
	)
	for _, hs := range servers {
		wg.Go(func() {
			if err := hs.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		})
	}
	wg.Wait()
	// Whatever is still running now runs past the deadline: kill it.
	s.cancelLife()
	for _, hs := range servers {
		_ = hs.Close()
	}
	for ss := range s.mcp.Sessions() {
		_ = ss.Close()
	}
	// Handlers still running saw their execs killed; wait for them (a
	// bounded while: a backend stuck in Create must not hang shutdown).
	active := make(chan struct{})
	go func() { s.active.Wait(); close(active) }()
	select {
	case <-active:
	case <-time.After(10 * time.Second):
		errs = append(errs, errors.New("handlers still running 10s after the deadline"))
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.reg.destroyAll(dctx, "shutdown"); err != nil {
		errs = append(errs, err)
	}
	s.wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("shutdown: %w", errors.Join(errs...))
	}
	return nil
}

// reap destroys sandboxes idle for longer than IdleTTL.
func (s *Server) reap() {
	t := time.NewTicker(max(s.opts.IdleTTL/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.life.Done():
			return
		case now := <-t.C:
			cutoff := now.Add(-s.opts.IdleTTL)
			for _, e := range s.reg.idle(cutoff) {
				reaped, err := s.reg.reapIfIdle(context.WithoutCancel(s.life), e, cutoff)
				if reaped {
					s.log.Info("reaped idle sandbox", slog.String("sandbox_id", e.id), slog.String("client", e.owner), slog.Any("err", err))
				}
			}
		}
	}
}

// execContext returns a context for an exec: it ends with the request
// and when Shutdown gives up waiting.
func (s *Server) execContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.life, cancel)
	return ctx, func() { stop(); cancel() }
}

// handle registers h for pattern and remembers the route for Routes.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.routes = append(s.routes, pattern)
	s.mux.HandleFunc(pattern, h)
}

func (s *Server) routesInit() {
	s.handle("GET /openapi.json", s.openAPI)
	s.handle("GET /metrics", s.serveMetrics)
	s.handle("GET /v1/backends", s.listBackends)
	s.handle("POST /v1/score", s.score)
	s.handle("POST /v1/scan", s.scan)
	s.handle("GET /v1/audit/verify", s.auditVerify)
	s.handle("POST /v1/sandboxes", s.create)
	s.handle("GET /v1/sandboxes", s.list)
	s.handle("GET /v1/sandboxes/{id}", s.get)
	s.handle("DELETE /v1/sandboxes/{id}", s.destroy)
	s.handle("POST /v1/sandboxes/{id}/pause", s.transition(kavach.Paused))
	s.handle("POST /v1/sandboxes/{id}/resume", s.transition(kavach.Running))
	s.handle("POST /v1/sandboxes/{id}/stop", s.transition(kavach.Stopped))
	s.handle("POST /v1/sandboxes/{id}/exec", s.exec)
	s.handle("POST /v1/sandboxes/{id}/exec/stream", s.execStream)
	s.handle("PUT /v1/sandboxes/{id}/files", s.putFile)
	s.handle("GET /v1/sandboxes/{id}/files", s.getFile)
	s.handle("/mcp", s.serveMCPHTTP)
	s.mux.HandleFunc("/", s.noRoute)
}

// accessLog logs one line per request.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			writeError(rec, http.StatusServiceUnavailable, "shutting_down", "the server is shutting down")
		} else {
			s.active.Add(1)
			s.mu.Unlock()
			next.ServeHTTP(rec, r)
			s.active.Done()
		}
		s.metrics.request(rec.status)
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", time.Since(start)),
			slog.String("client", clientOf(r.Context())),
		)
	})
}

// statusRecorder remembers the status and size of a response; it passes
// Flush through (via Unwrap, for http.ResponseController).
type statusRecorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// cleanName reports whether s is a plausible client name for logs.
func cleanName(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r == 0x7f })
}

// noRoute answers requests no route matches: 405 with Allow when the path
// is served with other methods, else 404, both as JSON errors (the mux's
// own answers are plain text).
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pat := s.mux.Handler(probe); pat != "/" && pat != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path)
		return
	}
	writeError(w, http.StatusNotFound, "not_found", "no route for "+r.Method+" "+r.URL.Path)
}
