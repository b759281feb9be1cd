// Package syagnos is the sy-agnos backend of kavach 1.0: commands run in
// containers of a hardened OS image (by default the original's
// ghcr.io/maccracken/sy-agnos:latest) under podman, or docker when podman
// is missing.
//
// The image must already be in the engine's local store: kavach never
// pulls. Its hardening tier is read once per image from
// /etc/sy-agnos-release inside it (`tier=` line or JSON {"tier": ...}):
// minimal, dmverity or tpm_measured, scored 80, 85 and 88 through
// Enforced.SyAgnosTier; an image without the file has tier 0 (unknown,
// scored as the base 80).
//
// Every command is `<engine> run --rm` of the image with the engine's init
// (catatonit/tini) as pid 1, no capabilities, no_new_privs, the network
// off (--network none) unless the policy allows it (bridge), a read-only
// root when asked, the policy's memory (without swap), cpu and pids
// limits, the caller's environment only (--unsetenv-all; the engine still
// sets HOME and HOSTNAME), and the sandbox's workdir at /work.
//
// Seccomp is kavach's own compiled filter where the engine can take it:
// podman with crun as its OCI runtime installs the raw BPF program given
// in the run.oci.seccomp_bpf_data annotation in place of the engine's
// default profile. Other engines (docker, podman with runc) apply only
// their default profile, which is not kavach's, so a policy asking for
// seccomp is refused there unless best effort is allowed, and
// Enforced.Seccomp stays empty.
//
// Engines report a command killed by signal N as exit code 128+N, so this
// backend reports exit codes above 128 as signals.
package syagnos
