package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/scan"
)

// Version is the server's version as MCP clients see it.
const Version = "0.1.0"

// mcpCreateIn is sandbox_create's input.
type mcpCreateIn struct {
	Backend string   `json:"backend,omitempty" jsonschema:"isolation backend: process, wasm, gvisor, ..., noop or auto (default: the server's)"`
	Policy  string   `json:"policy,omitempty" jsonschema:"policy preset: minimal, basic or strict (default: the server's)"`
	Limits  *limits  `json:"limits,omitempty" jsonschema:"resource limits and exec bounds"`
	Env     []string `json:"env,omitempty" jsonschema:"environment entries (each KEY=value) added to every command"`
}

func (in mcpCreateIn) request() (createRequest, error) {
	req := createRequest{Backend: in.Backend, Env: in.Env}
	if in.Policy != "" {
		raw, err := json.Marshal(in.Policy)
		if err != nil {
			return req, err
		}
		req.Policy = raw
	}
	if in.Limits != nil {
		req.Limits = *in.Limits
	}
	return req, nil
}

// mcpSandbox is sandbox_create's output.
type mcpSandbox struct {
	SandboxID  string `json:"sandbox_id"`
	Backend    string `json:"backend"`
	Score      int    `json:"score" jsonschema:"strength of the isolation really enforced, 0-100"`
	ScoreLabel string `json:"score_label"`
}

// mcpExecIn is sandbox_exec's input.
type mcpExecIn struct {
	SandboxID string   `json:"sandbox_id" jsonschema:"the id sandbox_create returned"`
	Command   []string `json:"command" jsonschema:"argv of the command, e.g. [\"sh\",\"-c\",\"echo hi\"]"`
	Stdin     string   `json:"stdin,omitempty" jsonschema:"text fed to standard input"`
	Env       []string `json:"env,omitempty" jsonschema:"extra KEY=value environment entries"`
	Dir       string   `json:"dir,omitempty" jsonschema:"working directory inside the sandbox"`
	TimeoutMS uint64   `json:"timeout_ms,omitempty" jsonschema:"wall-clock limit in milliseconds"`
}

// mcpRunIn is run's input: a fresh sandbox for one command.
type mcpRunIn struct {
	mcpCreateIn
	Command   []string `json:"command" jsonschema:"argv of the command, e.g. [\"sh\",\"-c\",\"echo hi\"]"`
	Stdin     string   `json:"stdin,omitempty" jsonschema:"text fed to standard input"`
	TimeoutMS uint64   `json:"timeout_ms,omitempty" jsonschema:"wall-clock limit in milliseconds"`
}

// mcpExecOut is the result of sandbox_exec and run.
type mcpExecOut struct {
	SandboxID   string `json:"sandbox_id"`
	ExitCode    int    `json:"exit_code" jsonschema:"the command's exit code, -1 when it did not exit"`
	Termination string `json:"termination" jsonschema:"exited, signaled, timeout, oom or killed"`
	Stdout      string `json:"stdout" jsonschema:"standard output as released by the output gate"`
	Stderr      string `json:"stderr" jsonschema:"standard error as released by the output gate"`
	Truncated   bool   `json:"truncated"`
	Verdict     string `json:"verdict" jsonschema:"output gate verdict: Pass, Warn, Quarantine or Block"`
	Findings    int    `json:"findings" jsonschema:"number of scanner findings in the output"`
	Score       int    `json:"score" jsonschema:"strength of the isolation really enforced, 0-100"`
	ScoreLabel  string `json:"score_label"`
	DurationMS  int64  `json:"duration_ms"`
	Error       string `json:"error,omitempty"`
}

func execOut(id string, res *kavach.Result, err error) mcpExecOut {
	o := mcpExecOut{
		SandboxID: id, ExitCode: res.ExitCode, Termination: string(res.Termination),
		Stdout: strings.ToValidUTF8(string(res.Stdout), "\uFFFD"), Stderr: strings.ToValidUTF8(string(res.Stderr), "\uFFFD"),
		Truncated: res.Truncated, Verdict: verdictName(res.Verdict), Findings: len(res.Findings),
		Score: res.Score.Value, ScoreLabel: res.Score.Label, DurationMS: res.Duration.Milliseconds(),
	}
	if err != nil {
		o.Error = err.Error()
	}
	return o
}

// mcpFileIn is sandbox_write_file's and sandbox_read_file's input.
type mcpFileIn struct {
	SandboxID string `json:"sandbox_id" jsonschema:"the id sandbox_create returned"`
	Path      string `json:"path" jsonschema:"path relative to the sandbox's workdir"`
	Content   string `json:"content,omitempty" jsonschema:"file content (sandbox_write_file only)"`
}

// mcpFileOut is the file tools' output.
type mcpFileOut struct {
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	Content  string `json:"content,omitempty" jsonschema:"file content as released by the output gate (sandbox_read_file)"`
	Verdict  string `json:"verdict,omitempty"`
	Findings int    `json:"findings,omitempty"`
}

type mcpIDIn struct {
	SandboxID string `json:"sandbox_id" jsonschema:"the id sandbox_create returned"`
}

type mcpDestroyed struct {
	SandboxID string `json:"sandbox_id"`
	Destroyed bool   `json:"destroyed"`
}

// mcpOwner is who an MCP session's sandboxes belong to.
type mcpOwner struct {
	// owner is the session's own name: only the session sees its
	// sandboxes, and they are destroyed when it ends.
	owner string
	// client is the authenticated client that opened the session; its
	// quota and its threat score (as the agent id) cover every session
	// it opens. For a session with no HTTP client (ServeMCP) it is owner.
	client string
}

// sessionOwner returns the owner of an MCP session's sandboxes, and on
// first sight arranges for them to be destroyed when the session ends.
// ti is the session's TokenInfo (see mcpIdentity), nil without HTTP.
func (s *Server) sessionOwner(ss *mcp.ServerSession, ti *auth.TokenInfo) (mcpOwner, error) {
	if ss == nil {
		return mcpOwner{}, errors.New("mcp: no session")
	}
	if o, ok := s.sessions.Load(ss); ok {
		return o.(mcpOwner), nil
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	o := mcpOwner{owner: "mcp:" + hex.EncodeToString(b[:])}
	o.client = o.owner
	if ti != nil && ti.UserID != "" {
		// A client must not get a fresh quota and a clean threat record
		// by opening another session.
		o.owner = ti.UserID + " " + o.owner
		o.client = ti.UserID
	}
	if prev, loaded := s.sessions.LoadOrStore(ss, o); loaded {
		return prev.(mcpOwner), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return mcpOwner{}, ErrClosed
	}
	s.wg.Go(func() {
		_ = ss.Wait()
		s.sessions.Delete(ss)
		if err := s.reg.destroyOwned(context.WithoutCancel(s.life), o.owner, "session"); err != nil {
			s.log.Warn("destroy session sandboxes", slog.String("client", o.owner), slog.Any("err", err))
		}
	})
	return o, nil
}

// toolOwner is sessionOwner for a tool call.
func (s *Server) toolOwner(req *mcp.CallToolRequest) (mcpOwner, error) {
	var ti *auth.TokenInfo
	if req.Extra != nil {
		ti = req.Extra.TokenInfo
	}
	return s.sessionOwner(req.Session, ti)
}

// mcpIdentity names the client that authenticate identified as the
// TokenInfo's user. The SDK binds an HTTP session to the user of the
// request that opened it and refuses the session to any other user; its
// bearer-token middleware is the only way to set a TokenInfo, so /mcp
// requests reach it with a placeholder token (see serveMCPHTTP).
func mcpIdentity(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
	id := clientOf(ctx)
	if id == "" {
		return nil, fmt.Errorf("%w: no client identity", auth.ErrInvalidToken)
	}
	return &auth.TokenInfo{UserID: id}, nil
}

// mcpPlaceholderToken replaces the client's own Authorization header on
// /mcp requests, after authenticate has checked it: the SDK's middleware
// wants a bearer token, and the client's real one has no business in
// the tool handlers' view of the request headers.
const mcpPlaceholderToken = "Bearer kavach-authenticated"

// serveMCPHTTP serves /mcp.
func (s *Server) serveMCPHTTP(w http.ResponseWriter, r *http.Request) {
	// An initialize request without a session id opens a session: it is
	// counted against the client's MaxMCPSessionsPerClient from here until
	// the session ends. Other session-less requests (server/discover)
	// open none and are not counted, or a client's discovery just before
	// its initialize would count twice.
	client := clientOf(r.Context())
	sessionless := r.Method == http.MethodPost && r.Header.Get(mcpSessionHeader) == ""
	reserved := false
	if sessionless && s.isInitialize(r) {
		s.mcpMu.Lock()
		n := s.mcpOpen[client]
		if n >= s.opts.MaxMCPSessionsPerClient {
			s.mcpMu.Unlock()
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, "quota_exceeded",
				fmt.Sprintf("%d MCP sessions already open; close one (DELETE /mcp) or let one idle out", n))
			return
		}
		s.mcpOpen[client] = n + 1
		s.mcpMu.Unlock()
		reserved = true
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", mcpPlaceholderToken)
	s.mcpHTTP.ServeHTTP(w, r)
	if sessionless {
		s.watchMCPSession(client, w.Header().Get(mcpSessionHeader), reserved)
	}
}

// mcpSessionHeader carries an MCP session's id over HTTP.
const mcpSessionHeader = "Mcp-Session-Id"

// isInitialize reports whether r's JSON-RPC body is an initialize request;
// it leaves the body to be read again.
func (s *Server) isInitialize(r *http.Request) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, s.opts.MaxBodyBytes+1))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
	if err != nil {
		return false
	}
	var msg struct {
		Method string `json:"method"`
	}
	return json.Unmarshal(b, &msg) == nil && msg.Method == "initialize"
}

// watchMCPSession follows a session-less request after it was served:
// id is the session it opened, if any, and reserved says whether
// serveMCPHTTP took one of client's slots for it. A session that was opened holds a slot until it ends; a slot
// taken for a request that opened none is given back at once.
func (s *Server) watchMCPSession(client, id string, reserved bool) {
	release := func() {
		s.mcpMu.Lock()
		if s.mcpOpen[client]--; s.mcpOpen[client] <= 0 {
			delete(s.mcpOpen, client)
		}
		s.mcpMu.Unlock()
	}
	if id != "" {
		for ss := range s.mcp.Sessions() {
			if ss.ID() == id {
				if !reserved {
					s.mcpMu.Lock()
					s.mcpOpen[client]++
					s.mcpMu.Unlock()
				}
				go func() {
					_ = ss.Wait()
					release()
				}()
				return
			}
		}
	}
	if reserved {
		release()
	}
}

func (s *Server) newMCPServer() *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "kavach", Version: Version}, &mcp.ServerOptions{
		Instructions: "Run untrusted commands in kavach sandboxes. Commands are argv arrays, never shell strings " +
			"(use [\"sh\",\"-c\",\"...\"] for a shell). Output passes an output gate that redacts or withholds secrets " +
			"and personal data. Sandboxes belong to this session and are destroyed when it ends.",
		Capabilities: &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{}},
	})
	addTool(s, srv, &mcp.Tool{Name: "sandbox_create", Description: "Create and start a sandbox; returns its id and the strength score (0-100) of the isolation really enforced."},
		func(ctx context.Context, req *mcp.CallToolRequest, in mcpCreateIn) (*mcp.CallToolResult, mcpSandbox, error) {
			o, err := s.toolOwner(req)
			if err != nil {
				return nil, mcpSandbox{}, err
			}
			cr, err := in.request()
			if err != nil {
				return nil, mcpSandbox{}, err
			}
			e, err := s.newSandbox(ctx, o.owner, o.client, cr)
			if err != nil {
				return nil, mcpSandbox{}, err
			}
			v := s.view(ctx, e, false)
			return nil, mcpSandbox{SandboxID: e.id, Backend: v.Backend, Score: v.Score.Value, ScoreLabel: v.Score.Label}, nil
		})
	addTool(s, srv, &mcp.Tool{Name: "sandbox_exec", Description: "Run a command in a sandbox; returns exit code, gated output, gate verdict and the enforced score."},
		func(ctx context.Context, req *mcp.CallToolRequest, in mcpExecIn) (*mcp.CallToolResult, mcpExecOut, error) {
			e, err := s.sessionEntry(req, in.SandboxID)
			if err != nil {
				return nil, mcpExecOut{}, err
			}
			res, err := s.runExec(ctx, e, execRequest{Args: in.Command, Stdin: in.Stdin, Env: in.Env, Dir: in.Dir, TimeoutMS: in.TimeoutMS})
			if res == nil {
				return nil, mcpExecOut{}, err
			}
			return nil, execOut(e.id, res, err), nil
		})
	addTool(s, srv, &mcp.Tool{Name: "sandbox_write_file", Description: "Write a text file in a sandbox's workdir (paths are relative; nothing outside the workdir is reachable)."},
		func(ctx context.Context, req *mcp.CallToolRequest, in mcpFileIn) (*mcp.CallToolResult, mcpFileOut, error) {
			e, err := s.sessionEntry(req, in.SandboxID)
			if err != nil {
				return nil, mcpFileOut{}, err
			}
			if int64(len(in.Content)) > s.opts.MaxFileBytes {
				return nil, mcpFileOut{}, fmt.Errorf("%w: content larger than %d bytes", ErrTooLarge, s.opts.MaxFileBytes)
			}
			done, ok := e.begin()
			if !ok {
				return nil, mcpFileOut{}, fmt.Errorf("%w: %s", ErrNotFound, e.id)
			}
			defer done()
			n, err := s.writeFile(e, in.Path, strings.NewReader(in.Content))
			if err != nil {
				return nil, mcpFileOut{}, err
			}
			return nil, mcpFileOut{Path: in.Path, Size: n}, nil
		})
	addTool(s, srv, &mcp.Tool{Name: "sandbox_read_file", Description: "Read a text file from a sandbox's workdir, passed through the output gate like command output."},
		func(ctx context.Context, req *mcp.CallToolRequest, in mcpFileIn) (*mcp.CallToolResult, mcpFileOut, error) {
			e, err := s.sessionEntry(req, in.SandboxID)
			if err != nil {
				return nil, mcpFileOut{}, err
			}
			done, ok := e.begin()
			if !ok {
				return nil, mcpFileOut{}, fmt.Errorf("%w: %s", ErrNotFound, e.id)
			}
			defer done()
			data, out, err := s.readFile(ctx, e, in.Path)
			if err != nil {
				return nil, mcpFileOut{}, err
			}
			if data == nil && out.Verdict >= scan.Quarantine {
				return nil, mcpFileOut{}, fmt.Errorf("file withheld by the output gate: verdict %s, %d finding(s)", out.Verdict, len(out.Findings))
			}
			if !utf8.Valid(data) {
				return nil, mcpFileOut{}, fmt.Errorf("%w: %q is not UTF-8 text", ErrPath, in.Path)
			}
			return nil, mcpFileOut{Path: in.Path, Size: int64(len(data)), Content: string(data), Verdict: verdictName(out.Verdict), Findings: len(out.Findings)}, nil
		})
	addTool(s, srv, &mcp.Tool{Name: "sandbox_destroy", Description: "Destroy a sandbox and everything in it. Destroying a destroyed sandbox succeeds."},
		func(ctx context.Context, req *mcp.CallToolRequest, in mcpIDIn) (*mcp.CallToolResult, mcpDestroyed, error) {
			o, err := s.toolOwner(req)
			if err != nil {
				return nil, mcpDestroyed{}, err
			}
			e, gone := s.reg.lookup(o.owner, in.SandboxID)
			switch {
			case gone:
			case e == nil:
				return nil, mcpDestroyed{}, fmt.Errorf("%w: %s", ErrNotFound, in.SandboxID)
			default:
				if err := s.reg.destroy(context.WithoutCancel(ctx), e, "client"); err != nil {
					return nil, mcpDestroyed{}, err
				}
			}
			return nil, mcpDestroyed{SandboxID: in.SandboxID, Destroyed: true}, nil
		})
	addTool(s, srv, &mcp.Tool{Name: "run", Description: "Run one command in a fresh sandbox that is destroyed right after; returns exit code, gated output, gate verdict and the enforced score."},
		func(ctx context.Context, req *mcp.CallToolRequest, in mcpRunIn) (*mcp.CallToolResult, mcpExecOut, error) {
			o, err := s.toolOwner(req)
			if err != nil {
				return nil, mcpExecOut{}, err
			}
			cr, err := in.request()
			if err != nil {
				return nil, mcpExecOut{}, err
			}
			e, err := s.newSandbox(ctx, o.owner, o.client, cr)
			if err != nil {
				return nil, mcpExecOut{}, err
			}
			defer func() { _ = s.reg.destroy(context.WithoutCancel(ctx), e, "client") }()
			res, err := s.runExec(ctx, e, execRequest{Args: in.Command, Stdin: in.Stdin, TimeoutMS: in.TimeoutMS})
			if res == nil {
				return nil, mcpExecOut{}, err
			}
			return nil, execOut(e.id, res, err), nil
		})
	return srv
}

// sessionEntry returns the session's sandbox id.
func (s *Server) sessionEntry(req *mcp.CallToolRequest, id string) (*entry, error) {
	o, err := s.toolOwner(req)
	if err != nil {
		return nil, err
	}
	return s.lookup(o.owner, id)
}

// ServeMCP serves MCP on t (for example &mcp.StdioTransport{}) until the
// session ends or ctx is done; the session's sandboxes are then
// destroyed.
func (s *Server) ServeMCP(ctx context.Context, t mcp.Transport) error {
	if s.closing.Load() {
		return ErrClosed
	}
	ss, err := s.mcp.Connect(ctx, t, nil)
	if err != nil {
		return fmt.Errorf("serve mcp: %w", err)
	}
	o, err := s.sessionOwner(ss, nil)
	if err != nil {
		_ = ss.Close()
		return err
	}
	waited := make(chan error, 1)
	go func() { waited <- ss.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		_ = ss.Close()
		<-waited
		err = nil
	}
	if derr := s.reg.destroyOwned(context.WithoutCancel(ctx), o.owner, "session"); derr != nil {
		err = errors.Join(err, derr)
	}
	return err
}

// MCP returns the MCP server, to connect other transports to.
func (s *Server) MCP() *mcp.Server { return s.mcp }

// verdictName is the verdict as the JSON API writes it ("Pass").
func verdictName(v scan.Verdict) string {
	b, err := v.MarshalText()
	if err != nil {
		return v.String()
	}
	return string(b)
}

// addTool adds a tool whose errors reach the client as the HTTP API's do:
// an internal error only as such, its detail in the server's log.
func addTool[In, Out any](s *Server, srv *mcp.Server, t *mcp.Tool, h mcp.ToolHandlerFor[In, Out]) {
	mcp.AddTool(srv, t, func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		res, out, err := h(ctx, req, in)
		if err != nil {
			if status, _ := errorCode(err); status == http.StatusInternalServerError {
				err = errors.New(s.clientMessage(status, err))
			}
		}
		return res, out, err
	})
}
