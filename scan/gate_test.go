package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// memStore is a quarantine store in memory.
type memStore struct {
	artifacts [][]byte
	meta      []map[string]string
	err       error
}

func (m *memStore) Put(_ context.Context, a []byte, meta map[string]string) (string, error) {
	if m.err != nil {
		return "", m.err
	}
	m.artifacts = append(m.artifacts, bytes.Clone(a))
	m.meta = append(m.meta, meta)
	return "q-" + strconv.Itoa(len(m.artifacts)), nil
}

func TestGateVerdicts(t *testing.T) {
	ssn := "123-45-" + "6789"                                                                             // Critical
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U" // High
	mail := "bob@corp.io"                                                                                 // Low
	tests := []struct {
		name    string
		stdout  string
		stderr  string
		verdict Verdict
		worst   Severity
		wantOut string
		wantErr string
	}{
		{"clean", "build ok\n", "", Pass, Info, "build ok\n", ""},
		{"warn redacts", "mail " + mail + " now", "also " + mail, Warn, Low, "mail [REDACTED:pii] now", "also [REDACTED:pii]"},
		{"quarantine", "tok " + jwt, "", Quarantine, High, "tok [REDACTED:auth_token]", ""},
		{"block", "ssn " + ssn, "err", Block, Critical, "", ""},
		{"worst of both streams", "mail " + mail, "ssn " + ssn, Block, Critical, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &memStore{}
			o, err := NewGate(DefaultGatePolicy(), st).Apply(context.Background(), []byte(tt.stdout), []byte(tt.stderr))
			if err != nil {
				t.Fatal(err)
			}
			if o.Verdict != tt.verdict || o.Worst != tt.worst {
				t.Fatalf("verdict %v worst %v, want %v %v; findings %v", o.Verdict, o.Worst, tt.verdict, tt.worst, o.Findings)
			}
			if tt.verdict == Block {
				if o.Stdout != nil || o.Stderr != nil {
					t.Fatalf("block returned output %q %q", o.Stdout, o.Stderr)
				}
				return
			}
			if string(o.Stdout) != tt.wantOut || string(o.Stderr) != tt.wantErr {
				t.Fatalf("output %q %q, want %q %q", o.Stdout, o.Stderr, tt.wantOut, tt.wantErr)
			}
			if tt.verdict == Quarantine {
				if o.QuarantineID == "" || len(st.artifacts) != 1 || string(st.artifacts[0]) != tt.stdout+tt.stderr {
					t.Fatalf("quarantine id %q, stored %q", o.QuarantineID, st.artifacts)
				}
				if st.meta[0]["stdout_bytes"] != strconv.Itoa(len(tt.stdout)) || st.meta[0]["verdict"] != "quarantine" {
					t.Fatalf("meta %v", st.meta[0])
				}
			} else if len(st.artifacts) != 0 {
				t.Fatalf("stored on %v", o.Verdict)
			}
		})
	}
}

func TestGateStreamOffsets(t *testing.T) {
	out, errb := []byte("x bob@corp.io"), []byte("yy alice@corp.io")
	o, err := NewGate(DefaultGatePolicy(), nil).Apply(context.Background(), out, errb)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Findings) != 2 {
		t.Fatalf("findings %v", o.Findings)
	}
	for _, f := range o.Findings {
		src := map[string][]byte{"stdout": out, "stderr": errb}[f.Stream]
		if src == nil || !bytes.Contains(src[f.Start:f.End], []byte("@corp.io")) {
			t.Errorf("finding %v (stream %q) does not point at the address", f, f.Stream)
		}
	}
}

func TestGateQuarantineNeedsStore(t *testing.T) {
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	o, err := NewGate(DefaultGatePolicy(), nil).Apply(context.Background(), []byte(jwt), nil)
	if !errors.Is(err, ErrNoStore) {
		t.Fatalf("err %v, want ErrNoStore", err)
	}
	if o == nil || o.Verdict != Quarantine || o.Stdout != nil || len(o.Findings) == 0 {
		t.Fatalf("outcome %+v", o)
	}
	boom := errors.New("disk full")
	_, err = NewGate(DefaultGatePolicy(), &memStore{err: boom}).Apply(context.Background(), []byte(jwt), nil)
	if !errors.Is(err, ErrStore) || !errors.Is(err, boom) {
		t.Fatalf("err %v, want ErrStore wrapping the cause", err)
	}
}

func TestGatePolicyKnobs(t *testing.T) {
	ctx := context.Background()
	in := []byte("mail bob@corp.io")
	p := DefaultGatePolicy()
	p.RedactSecrets = false
	o, _ := NewGate(p, nil).Apply(ctx, in, nil)
	if o.Verdict != Warn || string(o.Stdout) != string(in) {
		t.Fatalf("no-redact warn: %v %q", o.Verdict, o.Stdout)
	}
	p = DefaultGatePolicy()
	p.Enabled = false
	o, _ = NewGate(p, nil).Apply(ctx, []byte("ssn 123-45-"+"6789"), nil)
	if o.Verdict != Pass || len(o.Findings) != 0 {
		t.Fatalf("disabled gate: %+v", o)
	}
	p = DefaultGatePolicy()
	p.MaxArtifactSizeBytes = 4
	o, err := NewGate(p, nil).Apply(ctx, []byte("abc"), []byte("de"))
	if err != nil || o.Verdict != Block || len(o.Findings) != 1 || o.Findings[0].RuleID != "artifact-size" {
		t.Fatalf("size limit: %+v %v", o, err)
	}
	p = DefaultGatePolicy()
	p.BlockThreshold, p.QuarantineThreshold = Low, Low
	o, _ = NewGate(p, nil).Apply(ctx, in, nil)
	if o.Verdict != Block {
		t.Fatalf("block at low: %v", o.Verdict)
	}
	o, _ = NewGate(DefaultGatePolicy(), nil, Code()).Apply(ctx, in, nil)
	if o.Verdict != Pass {
		t.Fatalf("code scanner alone on an email: %v", o.Verdict)
	}
}

func TestGatePolicyJSON(t *testing.T) {
	b, err := json.Marshal(DefaultGatePolicy())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"enabled":true,"max_artifact_size_bytes":52428800,"block_threshold":"Critical","quarantine_threshold":"High","redact_secrets":true}`
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
	var p GatePolicy
	if err := json.Unmarshal(b, &p); err != nil || p != DefaultGatePolicy() {
		t.Fatalf("round trip: %+v %v", p, err)
	}
}

func TestChecksums(t *testing.T) {
	for _, tt := range []struct {
		in   string
		luhn bool
	}{{"4111111111111111", true}, {"4111111111111112", false}, {"79927398713", true}, {"0", true}} {
		if luhn([]byte(tt.in)) != tt.luhn {
			t.Errorf("luhn(%s) != %v", tt.in, tt.luhn)
		}
	}
	for _, tt := range []struct {
		in string
		ok bool
	}{{"DE89370400440532013000", true}, {"GB82WEST12345698765432", true}, {"GB82WEST12345698765433", false}, {"DE8937040044053201300", false}, {"XX00", false}} {
		if ibanValid([]byte(tt.in)) != tt.ok {
			t.Errorf("ibanValid(%s) != %v", tt.in, tt.ok)
		}
	}
	for _, tt := range []struct {
		a, g, s string
		ok      bool
	}{{"123", "45", "6789", true}, {"000", "45", "6789", false}, {"666", "45", "6789", false}, {"900", "45", "6789", false}, {"123", "00", "6789", false}, {"123", "45", "0000", false}} {
		if ssnValid([]byte(tt.a), []byte(tt.g), []byte(tt.s)) != tt.ok {
			t.Errorf("ssnValid(%s-%s-%s) != %v", tt.a, tt.g, tt.s, tt.ok)
		}
	}
}

// TestConcurrentUse runs the scanners and a gate from many goroutines; run
// with -race it checks that they share no mutable state.
func TestConcurrentUse(t *testing.T) {
	in := []byte(strings.Join(truePositiveList(21, 1), "\n"))
	want := All().Scan(in)
	g := NewGate(DefaultGatePolicy(), &syncStore{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if got := All().Scan(in); len(got) != len(want) {
					t.Errorf("concurrent scan found %d, want %d", len(got), len(want))
				}
				if _, err := g.Apply(context.Background(), in, in); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}

type syncStore struct {
	mu sync.Mutex
	n  int
}

func (s *syncStore) Put(context.Context, []byte, map[string]string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return strconv.Itoa(s.n), nil
}
