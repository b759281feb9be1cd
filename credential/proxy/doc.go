// Package proxy is kavach's egress proxy: an HTTP/1.1 forward proxy with
// CONNECT that lets a sandbox reach only the hosts on its allowlist, and
// adds credentials to its requests without the sandbox ever seeing them.
//
// # Policy
//
// The allowlist is on by default: an empty list allows nothing. Entries
// are host names ("api.example.com"), wildcards ("*.example.com", which
// matches subdomains but not example.com itself), IP addresses or CIDR
// prefixes ("203.0.113.7", "[2001:db8::1]", "10.1.0.0/16"), each with an
// optional port; without one, ports 80 and 443 are allowed. Names are
// compared after IDNA normalisation, so case and Unicode spellings cannot
// slip past.
//
// The proxy resolves names itself and dials the address it checked, never
// resolving twice, so DNS rebinding cannot move a request elsewhere after
// the check. Loopback, private, link-local, multicast, unspecified and
// other special addresses (IPv4, IPv6 and IPv4-mapped IPv6) are refused
// unless an IP or CIDR entry at least as specific as the special range
// covers them: "127.0.0.1:8080" allows that one loopback port, while
// "0.0.0.0/0" does not open the host's loopback. An IP literal in a
// request needs an IP or CIDR entry: allowing a name does not allow the
// addresses it resolves to under any other name.
//
// # Credentials
//
// For a host with a header rule, the proxy sets the header on every
// request, replacing any value the client sent. A rule without a port
// applies to HTTPS only; plain HTTP is rewritten directly, but only by a
// rule that names the request's port, so that a credential crosses the
// network in clear only where its owner said so. HTTPS is intercepted: the
// proxy answers the CONNECT, terminates TLS with a certificate for exactly
// the CONNECT target, minted by a CA generated in memory for this proxy
// (ECDSA P-256, short-lived, name constrained to the hosts that have
// rules), checks that each inner request's Host is the CONNECT target,
// injects the header and sends the request on over a new TLS connection
// that verifies the real server's certificate. The sandbox trusts the CA
// through the files and variables that SandboxSetup (Env, CA.Bundle)
// provides; it never gets the CA's key. Responses to requests with an
// injected header are scrubbed of the credential (each occurrence replaced
// by as many '*'): status line, headers, body, trailers and the text of an
// upstream error, so an upstream that echoes request headers cannot hand it
// back. The proxy asks for identity encoding so that the scrub sees plain
// bytes, decodes a gzip body sent anyway and refuses any other coding
// (502). CONNECT to a host without a rule is a plain tunnel: the proxy
// checks the target and then relays bytes it cannot read.
//
// # Refusals and events
//
// A denied host gets 403, an upstream failure 502 (504 on timeout), a
// malformed request 400, oversized headers 431, headers that do not
// arrive in time 408, too many connections 503, each with the reason in
// the body and in an X-Kavach-Reason header. Every
// decision, allowed or not, is reported as an Event to Config.OnEvent,
// with the names (never the values) of injected headers; kavach's audit
// chain records them.
//
// # Why a hand-rolled front end
//
// The proxy reads requests itself, with net/http's own parser
// (http.ReadRequest) on a bounded reader, instead of running an
// http.Server. That way every refusal, including malformed requests and
// oversized headers that http.Server would answer on its own, passes
// through one place that emits an event; CONNECT needs no Hijack and
// loses no buffered bytes; and the same loop serves both the client's
// connection and the decrypted stream inside an intercepted CONNECT.
// Upstream requests go through http.Transport, with a dialer that only
// connects to addresses this proxy has checked.
//
// # Reaching the proxy from a sandbox
//
// A sandbox without network has only its own loopback interface.
// ListenInNetns opens the proxy's listening socket inside that network
// namespace, so the sandbox reaches the proxy at 127.0.0.1:PORT while the
// proxy itself runs, and dials upstream, in the host's namespace. Nothing
// else is reachable: a program that ignores HTTP_PROXY has no route out.
package proxy
