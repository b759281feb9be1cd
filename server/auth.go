package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Token is a bearer token and the client name it stands for.
type Token struct {
	Name   string
	secret [sha256.Size]byte // SHA-256 of the token; the token itself is not kept
}

// String returns the name only; a token's value is never printed.
func (t Token) String() string { return "token " + t.Name }

// NewToken returns a token for name with the given value.
func NewToken(name, value string) Token {
	return Token{Name: name, secret: sha256.Sum256([]byte(value))}
}

// ParseTokens parses a token file: one token per line, either "TOKEN" or
// "NAME TOKEN"; blank lines and lines starting with # are ignored. A token
// without a name is named "token-N" (N its 1-based position). Tokens must
// be at least 16 bytes.
func ParseTokens(data []byte) ([]Token, error) {
	var out []Token
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		n++
		f := strings.Fields(l)
		var name, val string
		switch len(f) {
		case 1:
			name, val = "token-"+strconv.Itoa(n), f[0]
		case 2:
			name, val = f[0], f[1]
		default:
			return nil, fmt.Errorf("%w: line %d: want TOKEN or NAME TOKEN", ErrBadToken, line)
		}
		if len(val) < 16 {
			return nil, fmt.Errorf("%w: line %d: token shorter than 16 bytes", ErrBadToken, line)
		}
		if !cleanName(name) {
			return nil, fmt.Errorf("%w: line %d: bad name", ErrBadToken, line)
		}
		out = append(out, NewToken(name, val))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no token", ErrBadToken)
	}
	return out, nil
}

// LoadTokens reads a token file (see ParseTokens). It refuses a file that
// others can read.
func LoadTokens(path string) ([]Token, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load tokens: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("load tokens %s: %w: mode %v lets others read it (chmod 600)", path, ErrBadToken, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load tokens: %w", err)
	}
	defer clear(data)
	ts, err := ParseTokens(data)
	if err != nil {
		return nil, fmt.Errorf("load tokens %s: %w", path, err)
	}
	return ts, nil
}

type ctxKey int

const (
	keyPeer   ctxKey = iota // peer credentials of a Unix connection
	keyClient               // the authenticated client's identity
)

// peer is what the kernel says about a Unix socket's peer.
type peer struct {
	uid int
	ok  bool
}

// connContext records the peer's uid for connections on Unix sockets.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if uc, ok := c.(*net.UnixConn); ok {
		if uid, err := peerUID(uc); err == nil {
			return context.WithValue(ctx, keyPeer, peer{uid: uid, ok: true})
		}
		return context.WithValue(ctx, keyPeer, peer{})
	}
	return ctx
}

// clientOf returns the identity authenticate stored, or "".
func clientOf(ctx context.Context) string {
	c, _ := ctx.Value(keyClient).(string)
	return c
}

// authenticate checks the bearer token, when tokens are configured, and
// stores the client's identity in the request's context: "token:NAME",
// "uid:N" on a Unix socket, or "anonymous" when Options.AllowAnonymous
// lets a request without an identity in.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var id string
		if len(s.opts.Tokens) > 0 {
			name, ok := s.checkToken(r.Header.Get("Authorization"))
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="kavach"`)
				writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid bearer token")
				return
			}
			id = "token:" + name
		} else if p, ok := r.Context().Value(keyPeer).(peer); ok {
			if !p.ok {
				writeError(w, http.StatusUnauthorized, "unauthorized", "cannot identify the socket's peer")
				return
			}
			id = "uid:" + strconv.Itoa(p.uid)
		} else {
			if !s.opts.AllowAnonymous {
				writeError(w, http.StatusUnauthorized, "unauthorized", "this server takes no anonymous requests: present a bearer token or use its Unix socket")
				return
			}
			// Loopback TCP without a token: a web page could reach it
			// through DNS rebinding, which shows as a foreign Host.
			host := r.Host
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			if !loopback(strings.Trim(host, "[]")) {
				writeError(w, http.StatusForbidden, "forbidden_host", "without a token only a loopback Host is served")
				return
			}
			id = "anonymous"
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyClient, id)))
	})
}

// checkToken compares the presented token with every configured one in
// constant time (on SHA-256 digests, so lengths leak nothing either) and
// returns the matching token's name.
func (s *Server) checkToken(header string) (string, bool) {
	scheme, val, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || val == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(val)))
	name, found := "", 0
	for _, t := range s.opts.Tokens {
		if subtle.ConstantTimeCompare(sum[:], t.secret[:]) == 1 {
			name, found = t.Name, 1
		}
	}
	return name, found == 1
}

// DefaultSocket returns the default Unix socket path:
// $XDG_RUNTIME_DIR/kavach.sock when XDG_RUNTIME_DIR is set, else
// /run/kavach/kavach.sock.
func DefaultSocket() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "kavach.sock")
	}
	return "/run/kavach/kavach.sock"
}

// Listen opens addr: "unix:///path", a plain absolute path (a Unix
// socket), or "tcp://host:port". A Unix socket is created with mode 0600
// (its parent directory, when Listen creates it, 0700); a stale socket
// nobody listens on is replaced. A TCP address must be loopback unless
// withToken is true.
func Listen(addr string, withToken bool) (net.Listener, error) {
	switch {
	case strings.HasPrefix(addr, "tcp://"):
		hostport := strings.TrimPrefix(addr, "tcp://")
		host, _, err := net.SplitHostPort(hostport)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w: %w", addr, ErrBadListen, err)
		}
		if !withToken && !loopback(host) {
			return nil, fmt.Errorf("listen %s: %w (use --token-file)", addr, ErrInsecureListen)
		}
		return net.Listen("tcp", hostport)
	case strings.HasPrefix(addr, "unix://"):
		return listenUnix(strings.TrimPrefix(addr, "unix://"))
	case filepath.IsAbs(addr):
		return listenUnix(addr)
	}
	return nil, fmt.Errorf("listen %q: %w: want unix:///PATH, an absolute path or tcp://HOST:PORT", addr, ErrBadListen)
}

// IsLoopback reports whether host, a name or an IP literal, names only
// loopback addresses: "localhost" or a loopback IP. Other names are not
// resolved (what they resolve to can change), so they are not loopback.
func IsLoopback(host string) bool { return loopback(strings.Trim(host, "[]")) }

// loopback reports whether host names only loopback addresses. Names other
// than "localhost" are not resolved: what they resolve to can change.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// afterBind, set by tests, runs between the socket's bind and its chmod.
var afterBind func(path string)

func listenUnix(path string) (net.Listener, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("listen unix %s: %w: path must be absolute", path, ErrBadListen)
	}
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("listen unix %s: %w", path, err)
		}
	}
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("listen unix %s: exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("listen unix %s: %w", path, syscall.EADDRINUSE)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("listen unix %s: remove stale socket: %w", path, err)
		}
	}
	// bind() creates the socket with the process's umask: narrowed around
	// it, the socket is 0600 from the start. A chmod after bind alone
	// would leave a moment in which any local user could connect (in a
	// shared directory) and keep that connection. The umask is
	// process-wide, so a file another goroutine creates at that instant
	// gets no more than 0600 too; nothing of kavach's wants more then.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen unix %s: %w", path, err)
	}
	if afterBind != nil {
		afterBind(path)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("listen unix %s: %w", path, err)
	}
	return ln, nil
}
