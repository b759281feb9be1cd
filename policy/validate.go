package policy

import (
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strings"
)

// Limits on values Validate accepts. They catch typos (a memory limit in
// bytes instead of MiB) rather than express policy.
const (
	maxMemoryMB = 1 << 22 // 4 TiB
	maxCPUs     = 1024
	maxHostLen  = 253
)

// Validate checks every field and returns the first problem as a
// *FieldError naming the field and the bad value.
func (p *Policy) Validate() error {
	switch p.SeccompProfile {
	case "", ProfileBasic, ProfileStrict:
	default:
		return &FieldError{"seccomp_profile", quote(p.SeccompProfile), `want "basic" or "strict"`}
	}
	if p.SeccompProfile != "" && !p.SeccompEnabled {
		return &FieldError{"seccomp_profile", quote(p.SeccompProfile), "set, but seccomp_enabled is false"}
	}
	for i, r := range p.LandlockRules {
		f := fmt.Sprintf("landlock_rules[%d]", i)
		if err := absPath(f+".path", r.Path); err != nil {
			return err
		}
		switch r.Access {
		case "ro", "r", "rw":
		default:
			return &FieldError{f + ".access", quote(r.Access), `want "ro" or "rw"`}
		}
	}
	for i, h := range p.Network.AllowedHosts {
		if err := validHost(h); err != nil {
			return &FieldError{fmt.Sprintf("network.allowed_hosts[%d]", i), quote(h), err.Error()}
		}
	}
	for i, port := range p.Network.AllowedPorts {
		if port == 0 {
			return &FieldError{fmt.Sprintf("network.allowed_ports[%d]", i), port, "port 0 is not a port"}
		}
	}
	if len(p.Network.AllowedHosts) > 0 && !p.Network.Enabled {
		return &FieldError{"network.allowed_hosts", p.Network.AllowedHosts, "set, but network.enabled is false"}
	}
	if p.MemoryLimitMB > maxMemoryMB {
		return &FieldError{"memory_limit_mb", p.MemoryLimitMB, fmt.Sprintf("more than %d MiB; the unit is MiB", maxMemoryMB)}
	}
	if p.CPULimit < 0 || math.IsNaN(p.CPULimit) || math.IsInf(p.CPULimit, 0) || p.CPULimit > maxCPUs {
		return &FieldError{"cpu_limit", p.CPULimit, fmt.Sprintf("want a number of CPUs in (0, %d]", maxCPUs)}
	}
	if p.CPULimit > 0 && p.CPULimit < 0.01 {
		return &FieldError{"cpu_limit", p.CPULimit, "below 0.01 CPU cannot be enforced"}
	}
	if p.DataDir != "" {
		if err := absPath("data_dir", p.DataDir); err != nil {
			return err
		}
	}
	for i, m := range p.Mounts {
		f := fmt.Sprintf("mounts[%d]", i)
		if err := absPath(f+".source", m.Source); err != nil {
			return err
		}
		if err := absPath(f+".target", m.Target); err != nil {
			return err
		}
		if filepath.Clean(m.Target) == "/" {
			return &FieldError{f + ".target", quote(m.Target), "cannot mount over the sandbox root"}
		}
	}
	return nil
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

func absPath(field, p string) error {
	switch {
	case p == "":
		return &FieldError{field, quote(p), "empty path"}
	case !filepath.IsAbs(p):
		return &FieldError{field, quote(p), "want an absolute path"}
	case strings.ContainsRune(p, 0):
		return &FieldError{field, quote(p), "NUL byte in path"}
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return &FieldError{field, quote(p), `".." in path`}
		}
	}
	return nil
}

// validHost accepts a host name, a "*.suffix" wildcard, an IP or a CIDR,
// each with an optional ":port". The proxy normalises further (IDNA).
func validHost(h string) error {
	if h == "" {
		return fmt.Errorf("empty host")
	}
	if len(h) > maxHostLen+6 {
		return fmt.Errorf("longer than %d bytes", maxHostLen)
	}
	host := h
	if hh, port, err := net.SplitHostPort(h); err == nil {
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return fmt.Errorf("bad port %q", port)
		}
		host = hh
	}
	if _, _, err := net.ParseCIDR(host); err == nil {
		return nil
	}
	if net.ParseIP(strings.Trim(host, "[]")) != nil {
		return nil
	}
	name := strings.TrimPrefix(host, "*.")
	if name == "" || strings.ContainsAny(name, " \t\r\n/\\@*?#") {
		return fmt.Errorf("not a host name, wildcard, IP or CIDR")
	}
	return nil
}
