package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/kavach-go/kavach/scan"
)

// checkName validates a client's file name: a non-empty local path (no
// "..", not absolute, no NUL). Symlinks are left to os.Root, which
// refuses any that lead outside the workdir.
func checkName(name string) error {
	if name == "" || strings.ContainsRune(name, 0) || !filepath.IsLocal(name) {
		return fmt.Errorf("%w: %q: want a relative path inside the workdir", ErrPath, name)
	}
	return nil
}

// rootErr classifies an os.Root error: a Root refuses escapes with an
// error that is not an errno (it is unexported, so the type is the test).
func rootErr(name string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		var errno syscall.Errno
		if !errors.As(pe.Err, &errno) {
			return fmt.Errorf("%w: %q: %v", ErrPath, name, pe.Err)
		}
		switch errno {
		case syscall.ENOENT:
			return fmt.Errorf("%w: file %q", ErrNotFound, name)
		case syscall.ELOOP, syscall.ENOTDIR, syscall.EISDIR, syscall.ENXIO, syscall.EEXIST:
			return fmt.Errorf("%w: %q: %v", ErrPath, name, errno)
		}
	}
	return fmt.Errorf("file %q: %w", name, err)
}

// writeFile writes r (at most limit bytes) to name in e's workdir,
// creating parent directories. Only regular files are written: a FIFO
// the sandbox planted cannot block the server (O_NONBLOCK), nor a device
// be written.
func (s *Server) writeFile(e *entry, name string, r io.Reader) (int64, error) {
	if err := checkName(name); err != nil {
		return 0, err
	}
	dir := filepath.Dir(name)
	if dir != "." {
		parts := strings.Split(dir, string(filepath.Separator))
		for i := range parts {
			p := filepath.Join(parts[:i+1]...)
			err := e.root.Mkdir(p, 0o755)
			if err == nil && e.uid >= 0 {
				_ = e.root.Lchown(p, e.uid, e.gid)
			} else if err != nil && !errors.Is(err, os.ErrExist) {
				return 0, rootErr(name, err)
			}
		}
	}
	f, err := e.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return 0, rootErr(name, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%w: %q is not a regular file", ErrPath, name)
	}
	if err := f.Truncate(0); err != nil {
		return 0, fmt.Errorf("write %q: %w", name, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, s.opts.MaxFileBytes+1))
	if err == nil && n > s.opts.MaxFileBytes {
		err = fmt.Errorf("%w: file larger than %d bytes", ErrTooLarge, s.opts.MaxFileBytes)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = fmt.Errorf("%w: file larger than %d bytes", ErrTooLarge, mbe.Limit)
		}
		_ = f.Truncate(0)
		_ = e.root.Remove(name)
		return 0, err
	}
	if e.uid >= 0 {
		_ = f.Chown(e.uid, e.gid)
	}
	return n, f.Close()
}

// readFile reads name from e's workdir and passes it through the output
// gate, as command output is: the returned bytes are what may leave
// (redacted on Warn); on Quarantine and Block they are nil.
func (s *Server) readFile(ctx context.Context, e *entry, name string) ([]byte, *scan.Outcome, error) {
	if err := checkName(name); err != nil {
		return nil, nil, err
	}
	f, err := e.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, rootErr(name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: %q is not a regular file", ErrPath, name)
	}
	if st.Size() > s.opts.MaxFileBytes {
		return nil, nil, fmt.Errorf("%w: %q is %d bytes, the limit is %d", ErrTooLarge, name, st.Size(), s.opts.MaxFileBytes)
	}
	data, err := io.ReadAll(io.LimitReader(f, s.opts.MaxFileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %q: %w", name, err)
	}
	if int64(len(data)) > s.opts.MaxFileBytes {
		return nil, nil, fmt.Errorf("%w: %q grew past %d bytes", ErrTooLarge, name, s.opts.MaxFileBytes)
	}
	gate := e.sb.Config().Scan
	out, err := scan.NewGate(*gate, s.opts.Quarantine).Apply(context.WithoutCancel(ctx), data, nil)
	if out == nil {
		return nil, nil, fmt.Errorf("gate %q: %w", name, err)
	}
	switch out.Verdict {
	case scan.Quarantine, scan.Block:
		return nil, out, nil
	}
	return out.Stdout, out, nil
}

func (s *Server) putFile(w http.ResponseWriter, r *http.Request) {
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
	name := r.URL.Query().Get("path")
	n, err := s.writeFile(e, name, http.MaxBytesReader(w, r.Body, s.opts.MaxFileBytes))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"path": name, "size": n})
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request) {
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
	name := r.URL.Query().Get("path")
	data, out, err := s.readFile(r.Context(), e, name)
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("X-Kavach-Verdict", out.Verdict.String())
	w.Header().Set("X-Kavach-Findings", strconv.Itoa(len(out.Findings)))
	if data == nil && out.Verdict >= scan.Quarantine {
		msg := fmt.Sprintf("file withheld by the output gate: verdict %s, %d finding(s)", out.Verdict, len(out.Findings))
		if out.QuarantineID != "" {
			msg += ", quarantined as " + out.QuarantineID
		}
		writeError(w, http.StatusForbidden, "withheld", msg)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}
