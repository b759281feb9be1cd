package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestProxyCmdErrors(t *testing.T) {
	t.Setenv("KAVACH_CLI_TEST_TOKEN", "abc")
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"bad allow entry", []string{"proxy", "--allow-host", "bad host"}, "kavach: new proxy: parse allow entry \"bad host\": bad allowlist entry"},
		{"literal secret", []string{"proxy", "--allow-host", "a.test", "--secret-header", "a.test:Authorization=Bearer sk-123"}, "kavach: --secret-header: parse --secret-header Authorization: parse source: bad secret source"},
		{"unset variable", []string{"proxy", "--allow-host", "a.test", "--secret-header", "a.test:X-Key=env:KAVACH_CLI_UNSET_ZZ"}, "variable not set"},
		{"rule not allowed", []string{"proxy", "--allow-host", "a.test", "--secret-header", "b.test:X-Key=env:KAVACH_CLI_TEST_TOKEN"}, "host is not on the allowlist"},
		{"CA without rules", []string{"proxy", "--allow-host", "a.test", "--ca-cert", "/tmp/x"}, "no interception CA"},
		{"bad listen", []string{"proxy", "--allow-host", "a.test", "--listen", "256.0.0.1:1"}, "kavach: --listen"},
		{"literal token", []string{"proxy", "--allow-host", "a.test", "--auth-token", "hunter2"}, "kavach: --auth-token: parse source: bad secret source"},
		{"token and no-auth", []string{"proxy", "--allow-host", "a.test", "--auth-token", "env:X", "--no-auth"}, "none of the others can be"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, "", tc.args...)
			if code != 125 || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want 125 and %q", code, stderr, tc.stderr)
			}
			if strings.Contains(stderr, "abc") {
				t.Fatal("stderr shows the secret")
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer safe for the command's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestProxyCmdServes(t *testing.T) {
	const token = "cli-token-5b6c7d"
	t.Setenv("KAVACH_CLI_TEST_TOKEN", token)
	var got http.Header
	var mu sync.Mutex
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		mu.Unlock()
		io.WriteString(w, "hello")
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	// The CLI has no test-only upstream CA option, so the upstream here is
	// reached through a plain tunnel (no rule for it) and a plain-HTTP
	// server gets the injected header.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		mu.Unlock()
		io.WriteString(w, "plain")
	}))
	defer plain.Close()
	pu, _ := url.Parse(plain.URL)
	caFile := filepath.Join(t.TempDir(), "ca.pem")

	var stderr lockedBuffer
	root := newRoot(strings.NewReader(""), io.Discard, &stderr)
	root.SetArgs([]string{"proxy", "--listen", "127.0.0.1:0", "--json",
		"--allow-host", u.Host, "--allow-host", pu.Host,
		"--secret-header", pu.Host + ":Authorization=Bearer env:KAVACH_CLI_TEST_TOKEN",
		"--ca-cert", caFile})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy command: %v", err)
		}
	}()
	re := regexp.MustCompile(`listening on (http://kavach:[A-Za-z0-9_-]+@[0-9.:]+)`)
	var proxyURL string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && proxyURL == ""; time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			proxyURL = m[1]
		}
	}
	if proxyURL == "" {
		t.Fatalf("no listening line: %q", stderr.String())
	}
	pURL, _ := url.Parse(proxyURL)
	roots := x509.NewCertPool()
	roots.AddCert(up.Certificate())
	tr := up.Client().Transport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(pURL)
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	req, _ := http.NewRequest("GET", plain.URL, nil)
	req.Header.Set("Authorization", "Bearer forged")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mu.Lock()
	auth := got.Get("Authorization")
	mu.Unlock()
	if string(body) != "plain" || auth != "Bearer "+token {
		t.Fatalf("plain: %q, upstream Authorization %q", body, auth)
	}
	resp, err = client.Get(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello" {
		t.Fatalf("tunnel: %q", body)
	}
	resp, err = client.Get("http://evil.test/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("evil.test: %d", resp.StatusCode)
	}
	// Without the token, the proxy answers 407.
	pURL.User = nil
	tr2 := tr.Clone()
	tr2.Proxy = http.ProxyURL(pURL)
	resp, err = (&http.Client{Transport: tr2}).Get(plain.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 407 {
		t.Fatalf("without the token: %d", resp.StatusCode)
	}
	if pem, err := os.ReadFile(caFile); err != nil || !bytes.Contains(pem, []byte("BEGIN CERTIFICATE")) || bytes.Contains(pem, []byte("PRIVATE")) {
		t.Fatalf("--ca-cert file: %v %q", err, pem)
	}

	time.Sleep(50 * time.Millisecond)
	log := stderr.String()
	if strings.Contains(log, token) {
		t.Fatal("the log shows the secret")
	}
	var kinds []string
	for _, line := range strings.Split(log, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var e struct {
			Kind     string   `json:"kind"`
			Allowed  bool     `json:"allowed"`
			Injected []string `json:"injected"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		kinds = append(kinds, fmt.Sprint(e.Kind, " ", e.Allowed, " ", e.Injected))
	}
	want := "[request true [Authorization] tunnel true [] request false [] request false []]"
	if fmt.Sprint(kinds) != want {
		t.Fatalf("events %v, want %s\n%s", kinds, want, log)
	}
}
