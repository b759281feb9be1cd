package kavach

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/credential"
	"github.com/kavach-go/kavach/credential/proxy"
	"github.com/kavach-go/kavach/policy"
)

// EventProxy is the audit event of every egress proxy decision.
const EventProxy = "proxy"

// proxied reports whether p asks for egress through kavach's proxy: the
// network is on and limited to an allowlist of hosts.
func proxied(p policy.Policy) bool {
	return p.Network.Enabled && len(p.Network.AllowedHosts) > 0
}

// allowEntries turns the policy's hosts and ports into proxy allowlist
// entries: a host without a port is allowed on each of allowed_ports, or
// on 80 and 443 when allowed_ports is empty.
func allowEntries(n policy.Network) []string {
	var out []string
	for _, h := range n.AllowedHosts {
		if _, _, err := net.SplitHostPort(h); err == nil || len(n.AllowedPorts) == 0 {
			out = append(out, h)
			continue
		}
		for _, port := range n.AllowedPorts {
			out = append(out, net.JoinHostPort(h, strconv.Itoa(int(port))))
		}
	}
	return out
}

// setupEgress starts a per-sandbox proxy when the policy routes egress
// through one. The backend is given a private network namespace (only
// loopback) in which the proxy listens at proxy.SandboxAddr, so a program
// that ignores HTTP_PROXY has no route out at all.
func (s *Sandbox) setupEgress(ctx context.Context, spec *backend.Spec) error {
	if !proxied(s.cfg.Policy) {
		if len(s.cfg.HeaderRules) > 0 {
			return fmt.Errorf("%w: header rules need network.allowed_hosts (egress through the proxy)", ErrInvalidConfig)
		}
		return nil
	}
	if s.cfg.Backend != backend.Process && s.cfg.Backend != backend.OCI {
		return &backend.NotSupportedError{Kind: s.cfg.Backend, Protection: "egress through the proxy",
			Reason: "only the process and oci backends let the proxy listen inside the sandbox's network namespace"}
	}
	var headers []credential.Header
	release := func() {
		for _, h := range headers {
			h.Value.Release()
		}
	}
	for _, r := range s.cfg.HeaderRules {
		h, err := r.Resolve(ctx)
		if err != nil {
			release()
			return err
		}
		headers = append(headers, h)
	}
	px, err := proxy.New(proxy.Config{
		Allow:              allowEntries(s.cfg.Policy.Network),
		Headers:            headers,
		ExtraUpstreamRoots: s.cfg.EgressRoots,
		Logger:             s.cfg.Logger,
		OnEvent: func(e proxy.Event) {
			_ = s.audit(context.Background(), EventProxy, map[string]any{"sandbox_id": s.id, "agent_id": s.cfg.AgentID, "event": e})
		},
	})
	if err != nil {
		release()
		return err
	}
	setup := px.SandboxSetup()
	spec.Policy.Network = policy.Network{} // private namespace; the proxy is the way out
	spec.Prepare = func(ctx context.Context, pid int) (func(), error) {
		return px.ServeInNetns(ctx, pid, setup.Addr)
	}
	if setup.CABundle != nil {
		spec.Files = append(spec.Files, backend.File{Path: setup.CABundlePath, Data: setup.CABundle, Mode: 0o444})
	}
	s.proxyEnv = setup.Env
	s.proxyRelease = release
	return nil
}
