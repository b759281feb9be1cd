package proxy

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kavach-go/kavach/credential"
)

func TestCA(t *testing.T) {
	ca, err := NewCA([]string{"API.example.com", "127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(ca.CertPEM())
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("CertPEM is not one certificate: %q", ca.CertPEM())
	}
	if bytes.Contains(ca.CertPEM(), []byte("PRIVATE")) {
		t.Fatal("CertPEM contains a key")
	}
	c := ca.Certificate()
	if !c.IsCA || !c.PermittedDNSDomainsCritical || c.NotAfter.Sub(c.NotBefore) > time.Hour+2*time.Minute {
		t.Fatalf("CA cert: IsCA %v critical %v validity %v", c.IsCA, c.PermittedDNSDomainsCritical, c.NotAfter.Sub(c.NotBefore))
	}
	if c.PublicKeyAlgorithm != x509.ECDSA {
		t.Fatalf("key algorithm %v", c.PublicKeyAlgorithm)
	}
	roots := x509.NewCertPool()
	roots.AddCert(c)
	for _, host := range []string{"api.example.com", "127.0.0.1"} {
		leaf, err := ca.Leaf(host)
		if err != nil {
			t.Fatal(err)
		}
		if again, _ := ca.Leaf(strings.ToUpper(host)); again != leaf {
			t.Error("leaf not cached")
		}
		if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("leaf for %s does not verify: %v", host, err)
		}
	}
	if _, err := ca.Leaf("other.example.com"); err == nil {
		t.Error("minted a leaf for a host without a rule")
	}

	// The name constraints hold even against a leaf the CA's key signs for
	// another host: a verifier refuses it.
	for _, tt := range []struct {
		hosts  []string
		forged string
	}{
		{[]string{"api.example.com"}, "evil.example.com"},
		{[]string{"api.example.com"}, "10.0.0.1"},
		{[]string{"127.0.0.1"}, "evil.example.com"},
		{[]string{"127.0.0.1"}, "127.0.0.2"},
	} {
		t.Run(fmt.Sprint(tt.hosts, tt.forged), func(t *testing.T) {
			ca, err := NewCA(tt.hosts, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			ca.hosts = append(ca.hosts, tt.forged) // bypass Leaf's own check
			leaf, err := ca.Leaf(tt.forged)
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(ca.Certificate())
			if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: tt.forged, Roots: roots}); err == nil {
				t.Fatalf("a leaf for %s verified despite the name constraints", tt.forged)
			}
		})
	}

	bundle := ca.Bundle([]byte("-----BEGIN CERTIFICATE-----\nsys\n-----END CERTIFICATE-----"))
	if !bytes.HasPrefix(bundle, []byte("-----BEGIN CERTIFICATE-----\nsys\n-----END CERTIFICATE-----\n")) || !bytes.HasSuffix(bundle, ca.CertPEM()) {
		t.Errorf("bundle %q", bundle)
	}
}

func TestEnv(t *testing.T) {
	got := strings.Join(Env("http://127.0.0.1:3128", "/run/kavach/ca.pem"), " ")
	for _, want := range []string{
		"HTTP_PROXY=http://127.0.0.1:3128", "HTTPS_PROXY=http://127.0.0.1:3128", "http_proxy=http://127.0.0.1:3128",
		"https_proxy=http://127.0.0.1:3128", "NO_PROXY= ", "SSL_CERT_FILE=/run/kavach/ca.pem", "REQUESTS_CA_BUNDLE=/run/kavach/ca.pem",
		"NODE_EXTRA_CA_CERTS=/run/kavach/ca.pem", "CURL_CA_BUNDLE=/run/kavach/ca.pem",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Env lacks %s: %s", want, got)
		}
	}
	if got := Env("http://127.0.0.1:1", ""); len(got) != 6 {
		t.Errorf("Env without CA = %v", got)
	}
}

func TestSandboxSetup(t *testing.T) {
	p, err := New(Config{Allow: []string{"api.test"}})
	if err != nil {
		t.Fatal(err)
	}
	s := p.SandboxSetup()
	if s.Addr != SandboxAddr || s.CABundle != nil || s.CABundlePath != "" || len(s.Env) != 6 || s.Env[0] != "HTTP_PROXY=http://127.0.0.1:3128" {
		t.Errorf("setup without rules: %+v", s)
	}
	p, err = New(Config{Allow: []string{"api.test"}, Headers: []credential.Header{newHeader(t, "api.test", 0, "X-Key", testToken)}})
	if err != nil {
		t.Fatal(err)
	}
	s = p.SandboxSetup()
	if !bytes.HasSuffix(s.CABundle, p.CA().CertPEM()) || s.CABundlePath != SandboxCABundlePath || !strings.Contains(strings.Join(s.Env, " "), "SSL_CERT_FILE="+SandboxCABundlePath) {
		t.Errorf("setup with a rule: %+v", s)
	}
	if bytes.Contains(s.CABundle, []byte(testToken)) || strings.Contains(strings.Join(s.Env, " "), testToken) {
		t.Error("the secret is in the setup")
	}
}
