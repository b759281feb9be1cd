// Package server serves kavach sandboxes over HTTP/JSON and MCP (the
// Model Context Protocol), so that programs in any language, and any MCP
// client, can create sandboxes, run commands in them and move files in
// and out, with everything the library enforces: the enforced score, the
// output gate, the guards, the threat tracker and the audit chain.
//
// A [Server] owns a registry of sandboxes. Each sandbox belongs to the
// client that created it: a bearer token's name over TCP, the peer's uid
// (SO_PEERCRED) over a Unix socket, or an MCP session. Requests that carry
// no identity (TCP without tokens) are refused unless
// Options.AllowAnonymous makes them all one client; with Options.TLS, TCP
// is served over TLS (kavach serve requires it off loopback, so that
// tokens never cross the network in clear). A client sees only
// its own sandboxes (another client's id is "not found"), may hold at most
// Options.MaxSandboxesPerClient live sandboxes, and loses sandboxes it
// leaves idle for Options.IdleTTL. MCP sessions' sandboxes are destroyed
// when the session ends; a client may hold at most
// Options.MaxMCPSessionsPerClient MCP sessions over HTTP at once.
//
// The HTTP API is versioned under /v1 and described by an OpenAPI 3
// document served at /openapi.json (the same file as server/openapi.json in
// the repository). Every error is a JSON object
//
//	{"error": {"code": "not_found", "message": "..."}}
//
// with a 4xx or 5xx status. Prometheus metrics are served at /metrics and
// MCP's streamable HTTP transport at /mcp.
//
// Files are read and written through an [os.Root] opened on the sandbox's
// workdir, so neither "..", nor an absolute name, nor a symlink that the
// sandboxed code planted can reach anything outside it. Downloads pass
// through the sandbox's output gate like command output does.
//
// Client-supplied policies may not bind host paths (mounts, data_dir)
// unless Options.AllowHostMounts is set: a remote client must not be able
// to choose which host directories a sandbox sees. Nor may they share the
// host's network (network.enabled without allowed_hosts) unless
// Options.AllowHostNetwork is set: from there a sandbox reaches the
// host's loopback services, this server's among them. Egress to
// allowed_hosts, through kavach's proxy, is always allowed. Options.
// MaxMemoryMB and MaxPids bound every client sandbox (kavach serve sets
// 2048 MiB and 512 processes): a policy without such a limit gets the
// server's, a request for more is refused.
package server
