package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/audit"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/scan"
)

// errorBody is every error response: {"error":{"code":...,"message":...}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}

// fail writes err as a JSON error with the status errorCode gives it.
// An internal error is logged, and the client told only that one
// happened: its text can name host paths (the work root, cgroups) and
// other things of the server's that are no client's business.
func (s *Server) fail(w http.ResponseWriter, err error) {
	status, code := errorCode(err)
	writeError(w, status, code, s.clientMessage(status, err))
}

// clientMessage is what a client is told of err: all of it, unless it is
// an internal error, which is logged instead.
func (s *Server) clientMessage(status int, err error) string {
	if status != http.StatusInternalServerError {
		return err.Error()
	}
	s.log.Error("internal error", slog.String("err", err.Error()))
	return "internal error; the server's log has the details"
}

// decode reads a JSON body of at most limit bytes into v, strictly:
// unknown fields and trailing data are errors.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data after the JSON value")
		}
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
			return false
		}
		if errors.Is(err, io.EOF) {
			err = errors.New("empty body")
		}
		writeError(w, http.StatusBadRequest, "bad_json", "request body: "+err.Error())
		return false
	}
	return true
}

// entryFor returns the request's sandbox, or writes 404.
func (s *Server) entryFor(w http.ResponseWriter, r *http.Request) *entry {
	e, err := s.lookup(clientOf(r.Context()), r.PathValue("id"))
	if err != nil {
		s.fail(w, err)
		return nil
	}
	return e
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if !decode(w, r, s.opts.MaxBodyBytes, &req) {
		return
	}
	e, err := s.newSandbox(r.Context(), clientOf(r.Context()), clientOf(r.Context()), req)
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Location", "/v1/sandboxes/"+e.id)
	writeJSON(w, http.StatusCreated, s.view(r.Context(), e, true))
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	views := []sandboxView{}
	for _, e := range s.reg.list(clientOf(r.Context())) {
		views = append(views, s.view(r.Context(), e, false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"sandboxes": views})
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	if e := s.entryFor(w, r); e != nil {
		writeJSON(w, http.StatusOK, s.view(r.Context(), e, true))
	}
}

// destroy is idempotent: a sandbox of the client's that is already
// destroyed answers 204 too; an id the client never had answers 404.
func (s *Server) destroy(w http.ResponseWriter, r *http.Request) {
	e, gone := s.reg.lookup(clientOf(r.Context()), r.PathValue("id"))
	switch {
	case gone:
		w.WriteHeader(http.StatusNoContent)
	case e == nil:
		s.fail(w, fmt.Errorf("%w: %s", ErrNotFound, r.PathValue("id")))
	default:
		if err := s.reg.destroy(context.WithoutCancel(r.Context()), e, "client"); err != nil {
			s.fail(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) transition(to kavach.State) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e := s.entryFor(w, r)
		if e == nil {
			return
		}
		done, ok := e.begin()
		if !ok {
			s.fail(w, fmt.Errorf("%w: %s", ErrNotFound, e.id))
			return
		}
		defer done()
		if err := e.sb.Transition(r.Context(), to); err != nil {
			s.fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, s.view(r.Context(), e, false))
	}
}

// resultView is an exec's result: the Result, with stdout and stderr as
// strings when they are UTF-8 and base64 otherwise, so no byte is lost.
type resultView struct {
	*kavach.Result
	SandboxID    string  `json:"sandbox_id"`
	Stdout       *string `json:"stdout,omitempty"`
	Stderr       *string `json:"stderr,omitempty"`
	StdoutBase64 []byte  `json:"stdout_base64,omitempty"`
	StderrBase64 []byte  `json:"stderr_base64,omitempty"`
	// Error is kavach's own failure alongside a result (for example output
	// withheld because no quarantine store is configured).
	Error string `json:"error,omitempty"`
}

func newResultView(id string, r *kavach.Result, err error) resultView {
	v := resultView{Result: r, SandboxID: id}
	v.Stdout, v.StdoutBase64 = text(r.Stdout)
	v.Stderr, v.StderrBase64 = text(r.Stderr)
	if err != nil {
		v.Error = err.Error()
	}
	return v
}

func text(b []byte) (*string, []byte) {
	if utf8.Valid(b) {
		s := string(b)
		return &s, nil
	}
	return nil, b
}

func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	e := s.entryFor(w, r)
	if e == nil {
		return
	}
	var req execRequest
	if !decode(w, r, s.opts.MaxBodyBytes, &req) {
		return
	}
	res, err := s.runExec(r.Context(), e, req)
	if res == nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, newResultView(e.id, res, err))
}

// streamEvent is one NDJSON line of a streamed exec: "stdout" and
// "stderr" carry output as it is released by the gate, "exit" the final
// result (without the output), "error" a failure after the stream began.
type streamEvent struct {
	Type       string       `json:"type"`
	Data       *string      `json:"data,omitempty"`
	DataBase64 []byte       `json:"data_base64,omitempty"`
	Result     *resultView  `json:"result,omitempty"`
	Error      *errorDetail `json:"error,omitempty"`
}

func (s *Server) execStream(w http.ResponseWriter, r *http.Request) {
	e := s.entryFor(w, r)
	if e == nil {
		return
	}
	var req execRequest
	if !decode(w, r, s.opts.MaxBodyBytes, &req) {
		return
	}
	cmd, err := req.command()
	if err != nil {
		s.fail(w, err)
		return
	}
	done, ok := e.begin()
	if !ok {
		s.fail(w, fmt.Errorf("%w: %s", ErrNotFound, e.id))
		return
	}
	defer done()
	ctx, cancel := s.execContext(r.Context())
	defer cancel()
	ctx, cancelT := execTimeout(ctx, req.TimeoutMS)
	defer cancelT()
	s.metrics.inflight.Add(1)
	defer s.metrics.inflight.Add(-1)
	start := time.Now()
	p, err := e.sb.Spawn(ctx, cmd)
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()

	events := make(chan streamEvent, 16)
	var wg sync.WaitGroup
	pump := func(kind string, rd io.Reader) {
		buf := make([]byte, 32<<10)
		for {
			n, err := rd.Read(buf)
			if n > 0 {
				ev := streamEvent{Type: kind}
				ev.Data, ev.DataBase64 = text(bytes.Clone(buf[:n]))
				events <- ev
			}
			if err != nil {
				return
			}
		}
	}
	wg.Go(func() { pump("stdout", p.Stdout()) })
	wg.Go(func() { pump("stderr", p.Stderr()) })
	go func() { wg.Wait(); close(events) }()

	enc := json.NewEncoder(w)
	broken := false
	for ev := range events {
		if broken {
			continue // keep draining so the pumps end
		}
		if err := enc.Encode(ev); err != nil || rc.Flush() != nil {
			// The client is gone: stop the command.
			broken = true
			_ = p.Kill()
		}
	}
	res, werr := p.Wait()
	if res != nil {
		s.metrics.exec(e.sb.Backend().String(), time.Since(start), res.Verdict)
		e.recordVerdict(res)
	}
	if broken {
		return
	}
	if res == nil {
		_, code := errorCode(werr)
		_ = enc.Encode(streamEvent{Type: "error", Error: &errorDetail{Code: code, Message: werr.Error()}})
		return
	}
	v := newResultView(e.id, res, werr)
	v.Stdout, v.Stderr = nil, nil
	_ = enc.Encode(streamEvent{Type: "exit", Result: &v})
	_ = rc.Flush()
}

func (s *Server) listBackends(w http.ResponseWriter, r *http.Request) {
	type row struct {
		Name      string `json:"name"`
		Available bool   `json:"available"`
		Reason    string `json:"reason"`
		Score     *int   `json:"score,omitempty"`
		Label     string `json:"label,omitempty"`
	}
	rows := []row{}
	for _, b := range s.opts.Backends {
		rw := row{Name: b.Kind().String(), Available: true, Reason: "ok"}
		if err := b.Available(r.Context()); err != nil {
			rw.Available, rw.Reason = false, err.Error()
		} else if e, err := b.Plan(r.Context(), *s.opts.DefaultPolicy); err != nil {
			rw.Reason = "cannot enforce the default policy: " + err.Error()
		} else {
			sc := e.Score()
			rw.Score, rw.Label = &sc.Value, sc.Label
		}
		rows = append(rows, rw)
	}
	writeJSON(w, http.StatusOK, map[string]any{"backends": rows, "default": s.opts.DefaultBackend})
}

// score answers what a backend would enforce for a policy on this host.
func (s *Server) score(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Backend string          `json:"backend"`
		Policy  json.RawMessage `json:"policy"`
	}
	if !decode(w, r, s.opts.MaxBodyBytes, &req) {
		return
	}
	p, err := s.resolvePolicy(req.Policy)
	if err != nil {
		s.fail(w, err)
		return
	}
	name := req.Backend
	if name == "" {
		name = s.opts.DefaultBackend
	}
	var b backend.Backend
	if name == "auto" {
		b, err = backend.ResolveBest(r.Context(), s.opts.Backends, p)
	} else {
		var k backend.Kind
		if k, err = backend.ParseKind(name); err == nil {
			err = backend.Unavailable(k, "not compiled into this build")
			for _, c := range s.opts.Backends {
				if c.Kind() == k {
					b, err = c, c.Available(r.Context())
				}
			}
		}
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	e, err := b.Plan(r.Context(), p)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"backend": b.Kind().String(), "score": e.Score(), "enforced": e})
}

// scan runs the scanners over the request body, as `kavach scan` does.
func (s *Server) scan(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxFileBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body larger than %d bytes", mbe.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, "bad_body", err.Error())
		return
	}
	gp := scan.DefaultGatePolicy()
	gp.MaxArtifactSizeBytes = 0
	out, err := scan.NewGate(gp, nil, scan.All()).Apply(r.Context(), body, nil)
	if out == nil {
		s.fail(w, err)
		return
	}
	// A quarantine verdict fails Apply without a store; the verdict and
	// findings are what this endpoint reports, so that is not an error.
	fs := out.Findings
	if fs == nil {
		fs = []scan.Finding{}
	}
	writeJSON(w, http.StatusOK, scanOutcome{Verdict: out.Verdict, Worst: out.Worst, Findings: fs})
}

// auditVerify verifies the server's own audit log. Clients cannot name a
// file: the server must not become a way to read host files.
func (s *Server) auditVerify(w http.ResponseWriter, r *http.Request) {
	if s.opts.Audit == nil || len(s.opts.AuditKey) == 0 {
		writeError(w, http.StatusNotFound, "no_audit_log", "the server writes no audit log (start it with --audit-log and --audit-key-file)")
		return
	}
	select {
	case s.verifying <- struct{}{}:
		defer func() { <-s.verifying }()
	default:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "busy", "an audit verification is already running; retry when it is done")
		return
	}
	rep, err := audit.Verify(r.Context(), s.opts.Audit.Path(), s.opts.AuditKey)
	var ce *audit.ChainError
	if err != nil && !errors.As(err, &ce) {
		s.fail(w, err)
		return
	}
	v := map[string]any{"intact": err == nil, "report": rep}
	if ce != nil {
		v["first_bad_serial"], v["line"], v["reason"] = ce.Serial, ce.Line, ce.Reason
	}
	writeJSON(w, http.StatusOK, v)
}
