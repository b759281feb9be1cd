package backend

import (
	"fmt"
	"strings"
)

// Kind names an isolation technology. The order is the original's and is
// used for deterministic listings.
type Kind int

// The ten kinds of kavach 1.0, in the original's order.
const (
	Process Kind = iota
	GVisor
	Firecracker
	Wasm
	OCI
	SGX
	SEV
	TDX
	SyAgnos
	Noop
)

var kindNames = [...]string{"process", "gvisor", "firecracker", "wasm", "oci", "sgx", "sev", "tdx", "sy-agnos", "noop"}

// startCost ranks kinds by how expensive a sandbox is to start, cheapest
// first; ResolveBest breaks score ties with it.
var startCost = [...]int{
	Noop: 0, Process: 1, Wasm: 2, OCI: 3, GVisor: 4, SyAgnos: 5,
	SGX: 6, Firecracker: 7, SEV: 8, TDX: 9,
}

// All returns every kind in the original's order.
func All() []Kind {
	return []Kind{Process, GVisor, Firecracker, Wasm, OCI, SGX, SEV, TDX, SyAgnos, Noop}
}

// String returns the original's display name ("sy-agnos").
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// ParseKind parses a display name case-insensitively; "syagnos" is
// accepted for sy-agnos, as in the original.
func ParseKind(s string) (Kind, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if name == "syagnos" {
		return SyAgnos, nil
	}
	for i, n := range kindNames {
		if n == name {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want one of %s)", ErrUnknownKind, s, strings.Join(kindNames[:], ", "))
}

// MarshalText encodes the display name.
func (k Kind) MarshalText() ([]byte, error) {
	if k < 0 || int(k) >= len(kindNames) {
		return nil, fmt.Errorf("marshal backend kind %d: out of range", int(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText accepts what ParseKind accepts, which includes the
// original's serde names ("GVisor", "SyAgnos").
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}
