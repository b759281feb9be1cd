package proxy

import (
	"bytes"
	"io"
	"net/http"
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

// scrubBody masks the needles in a streamed body. It holds back only the
// shortest tail that could begin a needle, so streamed responses (server-
// sent events) are not delayed unless their last bytes look like the start
// of a secret.
type scrubBody struct {
	r       io.ReadCloser
	needles [][]byte
	pending []byte // read, masked, held back
	ready   []byte // masked, to return
	err     error
	buf     []byte
}

func newScrubBody(r io.ReadCloser, needles [][]byte) *scrubBody {
	return &scrubBody{r: r, needles: needles, buf: make([]byte, 32<<10)}
}

func (s *scrubBody) Read(p []byte) (int, error) {
	for len(s.ready) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		n, err := s.r.Read(s.buf)
		s.pending = append(s.pending, s.buf[:n]...)
		s.err = err
		mask(s.pending, s.needles)
		hold := 0
		if err == nil {
			hold = s.heldTail()
		}
		cut := len(s.pending) - hold
		s.ready = append(s.ready[:0], s.pending[:cut]...)
		s.pending = append(s.pending[:0], s.pending[cut:]...)
	}
	n := copy(p, s.ready)
	s.ready = s.ready[n:]
	return n, nil
}

// heldTail returns the length of the longest suffix of pending that is a
// proper prefix of a needle.
func (s *scrubBody) heldTail() int {
	best := 0
	for _, nd := range s.needles {
		for k := min(len(nd)-1, len(s.pending)); k > best; k-- {
			if bytes.HasSuffix(s.pending, nd[:k]) {
				best = k
				break
			}
		}
	}
	return best
}

func (s *scrubBody) Close() error { return s.r.Close() }
