// Package credential keeps secrets out of sandboxed code's reach while
// still letting that code use them.
//
// A Secret holds the bytes of one credential. It prints as [REDACTED] in
// every fmt verb, in JSON, as text and in slog, and its bytes are zeroed by
// Release, so an error message or a log line can never carry a credential by
// accident. Only the injector reads the bytes, through Use or Bytes.
//
// Secrets come from a Source: a host environment variable ("env:NAME") or a
// host file ("file:PATH"). A literal value is refused on purpose: it would
// show in ps, in shell history and in /proc/PID/cmdline.
//
// Two ways of delivering a secret exist:
//
//   - Direct injection (Injection): the secret is given to the command as an
//     environment variable, a file on a tmpfs inside the sandbox (mode
//     0400), or its standard input. The code can read it; this is the
//     original kavach's model, now really wired (see Plan).
//   - Header injection (HeaderRule): the secret never enters the sandbox.
//     The egress proxy in credential/proxy adds it as an HTTP header to
//     requests for one host, replacing whatever the client sent.
//
// The parse functions accept the command-line forms:
//
//	--secret-env VAR=SOURCE
//	--secret-file PATH=SOURCE
//	--secret-stdin SOURCE
//	--secret-header HOST[:PORT]:Header-Name=[Scheme ]SOURCE
package credential
