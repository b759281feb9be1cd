package proxy

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// minScrubLen is the shortest secret part that responses are scrubbed of;
// shorter strings would match ordinary text.
const minScrubLen = 6

// needlesFor returns what to scrub from responses to a request into which
// rules injected headers: each full header value, and the credential
// alone after its scheme ("Bearer tok" also yields "tok"). An upstream
// that echoes request headers (a debug endpoint, an error page) would
// otherwise hand the credential to the sandbox.
func needlesFor(rules []rule) [][]byte {
	var out [][]byte
	for _, r := range rules {
		_ = r.value.Use(func(b []byte) {
			for _, n := range [][]byte{b, b[bytes.IndexByte(b, ' ')+1:]} {
				if len(n) >= minScrubLen && !containsBytes(out, n) {
					out = append(out, bytes.Clone(n))
				}
			}
		})
	}
	return out
}

func containsBytes(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}

// mask overwrites every occurrence of each needle in b with '*', keeping
// the length so Content-Length stays right. It reports how many it found.
func mask(b []byte, needles [][]byte) int {
	n := 0
	for _, nd := range needles {
		for off := 0; ; {
			i := bytes.Index(b[off:], nd)
			if i < 0 {
				break
			}
			for j := off + i; j < off+i+len(nd); j++ {
				b[j] = '*'
			}
			off += i + len(nd)
			n++
		}
	}
	return n
}

// scrubHeader masks the needles in every header value of h.
func scrubHeader(h http.Header, needles [][]byte) {
	for name, vs := range h {
		for i, v := range vs {
			b := []byte(v)
			if mask(b, needles) > 0 {
				h[name][i] = string(b)
			}
		}
	}
}

// decodeForScrub makes resp's body plain bytes that can be scrubbed. The
// proxy asks for an identity response; an upstream that compresses anyway
// would carry an echoed credential past the scrub. gzip is decoded (the
// body is then sent without a length); any other coding is an error.
func decodeForScrub(resp *http.Response) error {
	ce := strings.ToLower(strings.TrimSpace(strings.Join(resp.Header.Values("Content-Encoding"), ",")))
	switch ce {
	case "", "identity":
		return nil
	case "gzip", "x-gzip":
	default:
		return fmt.Errorf("the response is %s-encoded although the proxy asked for identity; it cannot be scrubbed of the credential", sanitize(ce))
	}
	zr, err := gzip.NewReader(resp.Body)
	switch {
	case errors.Is(err, io.EOF):
		resp.Body, resp.ContentLength = http.NoBody, 0
	case err != nil:
		return fmt.Errorf("the response's gzip body is malformed: %w", err)
	default:
		resp.Body, resp.ContentLength = io.NopCloser(zr), -1
	}
	resp.Header.Del("Content-Encoding")
	resp.Header.Del("Content-Length")
	return nil
}

// scrubString returns s with the needles masked.
func scrubString(s string, needles [][]byte) string {
	b := []byte(s)
	if mask(b, needles) == 0 {
		return s
	}
	return string(b)
}

// scrubBody masks the needles in a streamed body. It holds back only the
// shortest tail that could begin a needle, so streamed responses (server-
// sent events) are not delayed unless their last bytes look like the start
// of a secret.
type scrubBody struct {
	r       io.ReadCloser
	needles [][]byte
	// buf[off:ready] is masked and ready to return; buf[ready:] is held
	// back because it could be the start of a needle.
	buf        []byte
	off, ready int
	err        error
	// trailer, when set, points at the response's trailer, which the
	// upstream body fills in when it reaches its end; it is scrubbed then,
	// before the end is passed on and the trailer written to the client.
	trailer *http.Header
}

// scrubBufs recycles scrubBody buffers: one per proxied response would
// otherwise dominate the proxy's allocations.
var scrubBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

func newScrubBody(r io.ReadCloser, needles [][]byte) *scrubBody {
	return &scrubBody{r: r, needles: needles, buf: (*scrubBufs.Get().(*[]byte))[:0]}
}

func (s *scrubBody) Read(p []byte) (int, error) {
	for s.off == s.ready {
		if s.err != nil {
			return 0, s.err
		}
		if s.buf == nil {
			return 0, io.ErrClosedPipe
		}
		held := copy(s.buf[:cap(s.buf)], s.buf[s.ready:])
		s.buf, s.off, s.ready = s.buf[:held], 0, 0
		if cap(s.buf)-len(s.buf) < 1024 {
			s.buf = append(s.buf, make([]byte, 4<<10)...)[:held]
		}
		n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		s.err = err
		mask(s.buf, s.needles)
		if err != nil && s.trailer != nil && *s.trailer != nil {
			scrubHeader(*s.trailer, s.needles)
		}
		hold := 0
		if err == nil {
			hold = heldTail(s.buf, s.needles)
		}
		s.ready = len(s.buf) - hold
	}
	n := copy(p, s.buf[s.off:s.ready])
	s.off += n
	return n, nil
}

// heldTail returns the length of the longest suffix of b that is a proper
// prefix of a needle.
func heldTail(b []byte, needles [][]byte) int {
	best := 0
	for _, nd := range needles {
		for k := min(len(nd)-1, len(b)); k > best; k-- {
			if bytes.HasSuffix(b, nd[:k]) {
				best = k
				break
			}
		}
	}
	return best
}

// Close closes the upstream body and recycles the buffer, cleared first:
// a held tail could be part of a credential.
func (s *scrubBody) Close() error {
	if s.buf != nil {
		b := s.buf[:cap(s.buf)]
		clear(b)
		b = b[:0]
		s.buf = nil
		scrubBufs.Put(&b)
	}
	return s.r.Close()
}
