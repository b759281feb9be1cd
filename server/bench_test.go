package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/kavach-go/kavach"
	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/noop"
	"github.com/kavach-go/kavach/backend/process"
	"github.com/kavach-go/kavach/policy"
)

// BenchmarkExec measures one short exec through the library and through
// the API on a Unix socket, with the same backend and policy both ways;
// the difference of the p50s is the API's overhead (goal: <= 1 ms).
func BenchmarkExec(b *testing.B) {
	backends := []backend.Backend{noop.New()}
	if pb := process.New(); pb.Available(context.Background()) == nil {
		backends = append(backends, pb)
	}
	for _, be := range backends {
		args := []string{"true"}
		b.Run("library/"+be.Kind().String(), func(b *testing.B) {
			ctx := context.Background()
			sb, err := kavach.Create(ctx, kavach.Config{Backends: []backend.Backend{be}, Backend: be.Kind(), Policy: policy.Minimal()})
			if err != nil {
				b.Fatal(err)
			}
			defer sb.Destroy(ctx)
			if err := sb.Start(ctx); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				if _, err := sb.Exec(ctx, kavach.Command{Args: args}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			reportP50(b, lat)
		})
		b.Run("api/"+be.Kind().String(), func(b *testing.B) {
			ts := startServer(b, Options{Backends: []backend.Backend{be}})
			id := ts.create(b, map[string]any{"policy": "minimal"})
			url := ts.base + "/v1/sandboxes/" + id + "/exec"
			body, _ := json.Marshal(map[string]any{"args": args})
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				resp, err := ts.client.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
				lat = append(lat, time.Since(start))
			}
			reportP50(b, lat)
		})
	}
}

func reportP50(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
