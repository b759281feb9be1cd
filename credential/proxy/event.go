package proxy

import "time"

// EventKind says what an Event is about.
type EventKind string

// The event kinds.
const (
	// KindRequest is a plain HTTP request (absolute-form URL).
	KindRequest EventKind = "request"
	// KindTunnel is a CONNECT relayed as opaque bytes.
	KindTunnel EventKind = "tunnel"
	// KindIntercept is a CONNECT whose TLS the proxy terminates, to
	// inject credentials.
	KindIntercept EventKind = "intercept"
	// KindInner is a request inside an intercepted CONNECT.
	KindInner EventKind = "inner"
	// KindMalformed is a request the proxy could not parse or refused on
	// syntax alone (400, 431).
	KindMalformed EventKind = "malformed"
	// KindLimit is a connection refused because MaxConns were open.
	KindLimit EventKind = "limit"
)

// Event is one decision of the proxy. It never holds a credential: only
// the names of injected headers.
type Event struct {
	Time time.Time `json:"time"`
	Kind EventKind `json:"kind"`
	// Client is the remote address of the sandbox's connection.
	Client string `json:"client,omitempty"`
	Method string `json:"method,omitempty"`
	// Host is normalised (lower-case ASCII name or canonical IP); Port is
	// the destination port.
	Host string `json:"host,omitempty"`
	Port int    `json:"port,omitempty"`
	// Addr is the address the proxy dialled (or would have).
	Addr    string `json:"addr,omitempty"`
	Allowed bool   `json:"allowed"`
	// Status is the HTTP status sent to the client (200 for an
	// established CONNECT).
	Status int `json:"status,omitempty"`
	// Reason explains a refusal or a failure.
	Reason string `json:"reason,omitempty"`
	// Injected are the names of headers the proxy set.
	Injected []string `json:"injected,omitempty"`
}
