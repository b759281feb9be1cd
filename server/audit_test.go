package server

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/kavach-go/kavach/audit"
)

// TestAuditVerify checks that sandboxes served write to the audit chain
// and that GET /v1/audit/verify verifies it, and reports tampering.
func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	key := []byte("0123456789abcdef0123456789abcdef")
	log := filepath.Join(dir, "audit.jsonl")
	w, err := audit.Open(context.Background(), log, key)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ts := startServer(t, Options{Audit: w, AuditKey: key})
	id := ts.create(t, map[string]any{})
	do(t, ts.client, "POST", ts.base+"/v1/sandboxes/"+id+"/exec", map[string]any{"args": []string{"true"}})
	do(t, ts.client, "DELETE", ts.base+"/v1/sandboxes/"+id, nil)
	r := do(t, ts.client, "GET", ts.base+"/v1/audit/verify", nil)
	v := r.json(t)
	if r.status != 200 || v["intact"] != true {
		t.Fatalf("verify: %d %s", r.status, r.body)
	}
	rep, _ := json.Marshal(v["report"])
	var got audit.Report
	if err := json.Unmarshal(rep, &got); err != nil || got.Records < 4 {
		t.Errorf("report %s: want at least create, start, exec and destroy", rep)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(`"noop"`))
	if i < 0 {
		t.Fatalf("no backend name in the log:\n%s", data)
	}
	data[i+1] = 'N'
	if err := os.WriteFile(log, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r = do(t, ts.client, "GET", ts.base+"/v1/audit/verify", nil)
	if v := r.json(t); r.status != 200 || v["intact"] != false || v["reason"] == nil {
		t.Errorf("verify of a tampered log: %d %s", r.status, r.body)
	}
	// One verification at a time: while one runs, another is refused.
	ts.srv.verifying <- struct{}{}
	r = do(t, ts.client, "GET", ts.base+"/v1/audit/verify", nil)
	<-ts.srv.verifying
	if r.status != 429 || r.errCode(t) != "busy" || r.header.Get("Retry-After") == "" {
		t.Errorf("verify while another runs: %d %s", r.status, r.body)
	}
}

func FuzzResolvePolicy(f *testing.F) {
	for _, s := range []string{`"basic"`, `"strict"`, `{}`, `{"mounts":[{"source":"/","target":"/x"}]}`, `{"data_dir":"/"}`, `[]`, `7`, `"x"`} {
		f.Add([]byte(s))
	}
	s, err := New(Options{Backends: nil, DefaultBackend: "noop", WorkRoot: os.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := s.resolvePolicy(raw)
		if err != nil {
			return
		}
		if len(p.Mounts) > 0 || p.DataDir != "" {
			t.Errorf("accepted host paths: %s", raw)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("accepted an invalid policy %s: %v", raw, err)
		}
	})
}
