package server

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kavach-go/kavach/scan"
)

// execBuckets are the exec latency histogram's upper bounds in seconds:
// from a noop exec (microseconds) to the default 30 s timeout.
var execBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// metrics are the server's counters, written out in the Prometheus text
// exposition format (version 0.0.4) by hand: a dozen series do not need
// client_golang's registry, and the format is small and stable.
type metrics struct {
	live     atomic.Int64
	created  atomic.Int64
	inflight atomic.Int64

	mu        sync.Mutex
	destroys  map[string]int64     // guarded by mu; by reason
	verdicts  map[string]int64     // guarded by mu; by verdict
	requests  map[int]int64        // guarded by mu; by status code
	histogram map[string]*histData // guarded by mu; by backend
}

type histData struct {
	counts []int64 // per bucket, not cumulative
	count  int64
	sum    float64
}

func newMetrics() *metrics {
	return &metrics{
		destroys:  map[string]int64{},
		verdicts:  map[string]int64{},
		requests:  map[int]int64{},
		histogram: map[string]*histData{},
	}
}

func (m *metrics) destroyed(why string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.destroys[why]++
}

func (m *metrics) request(code int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[code]++
}

// exec records one exec's latency and verdict.
func (m *metrics) exec(backend string, d time.Duration, v scan.Verdict) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.histogram[backend]
	if h == nil {
		h = &histData{counts: make([]int64, len(execBuckets))}
		m.histogram[backend] = h
	}
	sec := d.Seconds()
	for i, ub := range execBuckets {
		if sec <= ub {
			h.counts[i]++
			break
		}
	}
	h.count++
	h.sum += sec
	m.verdicts[v.String()]++
}

// write writes every series in the text format.
func (m *metrics) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP kavach_sandboxes_live Sandboxes currently alive.\n# TYPE kavach_sandboxes_live gauge\nkavach_sandboxes_live %d\n", m.live.Load())
	fmt.Fprintf(w, "# HELP kavach_sandboxes_created_total Sandboxes created.\n# TYPE kavach_sandboxes_created_total counter\nkavach_sandboxes_created_total %d\n", m.created.Load())
	fmt.Fprintf(w, "# HELP kavach_execs_in_flight Execs running now.\n# TYPE kavach_execs_in_flight gauge\nkavach_execs_in_flight %d\n", m.inflight.Load())
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintf(w, "# HELP kavach_sandboxes_destroyed_total Sandboxes destroyed, by reason (client, idle, session, shutdown).\n# TYPE kavach_sandboxes_destroyed_total counter\n")
	for _, k := range sortedKeys(m.destroys) {
		fmt.Fprintf(w, "kavach_sandboxes_destroyed_total{reason=%q} %d\n", k, m.destroys[k])
	}
	fmt.Fprintf(w, "# HELP kavach_exec_verdicts_total Output gate verdicts of execs.\n# TYPE kavach_exec_verdicts_total counter\n")
	for _, k := range sortedKeys(m.verdicts) {
		fmt.Fprintf(w, "kavach_exec_verdicts_total{verdict=%q} %d\n", k, m.verdicts[k])
	}
	fmt.Fprintf(w, "# HELP kavach_exec_duration_seconds Latency of execs through the server, by backend.\n# TYPE kavach_exec_duration_seconds histogram\n")
	for _, b := range sortedKeys(m.histogram) {
		h := m.histogram[b]
		var cum int64
		for i, ub := range execBuckets {
			cum += h.counts[i]
			fmt.Fprintf(w, "kavach_exec_duration_seconds_bucket{backend=%q,le=%q} %d\n", b, strconv.FormatFloat(ub, 'g', -1, 64), cum)
		}
		fmt.Fprintf(w, "kavach_exec_duration_seconds_bucket{backend=%q,le=\"+Inf\"} %d\n", b, h.count)
		fmt.Fprintf(w, "kavach_exec_duration_seconds_sum{backend=%q} %s\n", b, strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(w, "kavach_exec_duration_seconds_count{backend=%q} %d\n", b, h.count)
	}
	fmt.Fprintf(w, "# HELP kavach_http_requests_total HTTP requests served, by status code.\n# TYPE kavach_http_requests_total counter\n")
	codes := make([]int, 0, len(m.requests))
	for c := range m.requests {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "kavach_http_requests_total{code=\"%d\"} %d\n", c, m.requests[c])
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.metrics.write(w)
}
