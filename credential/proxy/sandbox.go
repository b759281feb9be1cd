package proxy

// SandboxAddr is where a sandbox reaches the proxy: a fixed address on its
// own loopback. A fresh network namespace has every port free, so the
// command's environment can name it before the sandbox exists.
const SandboxAddr = "127.0.0.1:3128"

// SandboxCABundlePath is where the CA bundle goes inside a sandbox. The
// backend places it on a tmpfs (backend.Spec.Files), like secret files.
const SandboxCABundlePath = "/run/kavach/ca-bundle.pem"

// SandboxSetup is what a sandbox needs to use a Proxy, ready to wire:
//
//	setup := px.SandboxSetup()
//	spec.Prepare = func(ctx context.Context, pid int) (func(), error) {
//		return px.ServeInNetns(ctx, pid, setup.Addr)
//	}
//	if setup.CABundle != nil {
//		spec.Files = append(spec.Files, backend.File{Path: setup.CABundlePath, Data: setup.CABundle, Mode: 0o444})
//	}
//	cmd.Env = append(cmd.Env, setup.Env...)
//
// The sandbox keeps its private network namespace (loopback only, which
// the backend must bring up); the proxy is its only way out.
type SandboxSetup struct {
	// Addr is the proxy's address inside the sandbox.
	Addr string
	// Env routes HTTP(S) through the proxy and, with a CA, trusts it.
	Env []string
	// CABundlePath and CABundle are the trust bundle to place inside the
	// sandbox (system roots plus the interception CA); CABundle is nil
	// when no header rule needs interception.
	CABundlePath string
	CABundle     []byte
}

// SandboxSetup returns the setup for a sandbox using p at SandboxAddr.
func (p *Proxy) SandboxSetup() SandboxSetup {
	s := SandboxSetup{Addr: SandboxAddr}
	if p.ca != nil {
		s.CABundlePath = SandboxCABundlePath
		s.CABundle = p.ca.Bundle(SystemRootsPEM())
	}
	s.Env = Env("http://"+s.Addr, s.CABundlePath)
	return s
}
