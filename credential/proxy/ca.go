package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/kavach-go/kavach/credential/internal/hostname"
)

// DefaultCAValidity is how long an interception CA and its leaves are
// valid: long enough for a sandbox's life, short enough that a CA
// certificate left behind is soon worthless.
const DefaultCAValidity = 24 * time.Hour

// CA is an in-memory certificate authority for intercepting TLS to the
// hosts that have header rules. Its private key never leaves the process:
// only CertPEM is meant for the sandbox.
//
// The CA is name-constrained (RFC 5280 section 4.2.1.10, marked critical)
// to exactly those hosts, so even a stolen key could not mint a trusted
// certificate for any other name or address.
type CA struct {
	cert    *x509.Certificate
	certDER []byte
	key     *ecdsa.PrivateKey
	leafKey *ecdsa.PrivateKey
	hosts   []string

	mu     sync.Mutex
	leaves map[string]*tls.Certificate
}

// NewCA generates a CA for hosts (DNS names or IP addresses, normalised as
// the allowlist normalises them), valid from a minute ago for validity.
func NewCA(hosts []string, validity time.Duration) (*CA, error) {
	if validity <= 0 {
		validity = DefaultCAValidity
	}
	var (
		dns  []string
		ips  []*net.IPNet
		norm []string
	)
	for _, h := range hosts {
		name, addr, err := hostname.Normalize(h)
		if err != nil {
			return nil, fmt.Errorf("new CA: %w: %w", ErrCA, err)
		}
		norm = append(norm, name)
		if addr.IsValid() {
			ips = append(ips, &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(addr.BitLen(), addr.BitLen())})
		} else {
			dns = append(dns, name)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w: %w", ErrCA, err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w: %w", ErrCA, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "kavach sandbox interception CA", Organization: []string{"kavach"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		// An empty permitted list would mean "no constraint" for that name
		// type; so when no host of a type has a rule, that type is
		// excluded or pinned to a name that cannot exist.
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         dns,
		PermittedIPRanges:           ips,
	}
	if len(dns) == 0 {
		tmpl.PermittedDNSDomains = []string{"kavach.invalid"}
	}
	if len(ips) == 0 {
		tmpl.ExcludedIPRanges = []*net.IPNet{
			{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
			{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w: %w", ErrCA, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w: %w", ErrCA, err)
	}
	return &CA{cert: cert, certDER: der, key: key, leafKey: leafKey, hosts: norm, leaves: map[string]*tls.Certificate{}}, nil
}

// randomSerial returns a random positive 127-bit serial number.
func randomSerial() *big.Int {
	max := new(big.Int).Lsh(big.NewInt(1), 127)
	n, err := rand.Int(rand.Reader, max)
	if err != nil {
		// crypto/rand does not fail on Linux; if it ever does, a fixed
		// serial only costs uniqueness, which nothing here relies on.
		return big.NewInt(1)
	}
	return n.Add(n, big.NewInt(1))
}

// CertPEM returns the CA certificate in PEM form, for the sandbox's trust
// store. The key is never exported.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.certDER})
}

// Certificate returns the parsed CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Leaf returns a server certificate for host, minted on first use and
// cached. host must be one the CA was made for.
func (ca *CA) Leaf(host string) (*tls.Certificate, error) {
	name, addr, err := hostname.Normalize(host)
	if err != nil {
		return nil, fmt.Errorf("leaf for %q: %w: %w", host, ErrCA, err)
	}
	if !slices.Contains(ca.hosts, name) {
		return nil, fmt.Errorf("leaf for %s: %w: host has no header rule", name, ErrCA)
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c, ok := ca.leaves[name]; ok {
		return c, nil
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		// The subject is empty and the names are only in the (then
		// critical) SAN: OpenSSL checks a common name against the DNS
		// name constraints, so an IP address in it fails verification.
		NotBefore:   ca.cert.NotBefore,
		NotAfter:    ca.cert.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if addr.IsValid() {
		tmpl.IPAddresses = []net.IP{addr.AsSlice()}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &ca.leafKey.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("leaf for %s: %w: %w", name, ErrCA, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("leaf for %s: %w: %w", name, ErrCA, err)
	}
	c := &tls.Certificate{Certificate: [][]byte{der, ca.certDER}, PrivateKey: ca.leafKey, Leaf: leaf}
	ca.leaves[name] = c
	return c, nil
}

// systemBundles are where Linux distributions keep the system's trusted
// roots as one PEM file (the same list crypto/x509 searches).
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// SystemRootsPEM returns the host's trusted roots as PEM, from the first
// bundle file found, or nil if there is none.
func SystemRootsPEM() []byte {
	for _, p := range systemBundles {
		if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
			return b
		}
	}
	return nil
}

// Bundle returns systemPEM followed by the CA's certificate: the file that
// SSL_CERT_FILE and friends point to inside the sandbox, so programs trust
// both the public roots (for tunnelled hosts) and this CA (for intercepted
// ones). Pass SystemRootsPEM() as systemPEM.
func (ca *CA) Bundle(systemPEM []byte) []byte {
	out := make([]byte, 0, len(systemPEM)+1024)
	out = append(out, systemPEM...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, ca.CertPEM()...)
}

// hostsOf returns the distinct hosts of rules, for NewCA.
func hostsOf(rules []rule) []string {
	var hosts []string
	for _, r := range rules {
		if !slices.Contains(hosts, r.host) {
			hosts = append(hosts, r.host)
		}
	}
	return hosts
}

// addrHost formats a host for a URL authority.
func addrHost(host string, port int) string {
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
		return "[" + host + "]:" + fmt.Sprint(port)
	}
	return fmt.Sprintf("%s:%d", host, port)
}
