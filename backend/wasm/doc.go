// Package wasm is the WebAssembly backend: it runs a WASI preview 1
// module (a .wasm file) in-process with wazero, a pure-Go runtime.
//
// A command's Args[0] is the path of the module, either on the host or
// under one of the policy's mounts; the whole Args is the module's argv.
// The module gets the command's environment and stdin, and its stdout and
// stderr go to the command's writers. Its linear memory is capped by the
// policy's memory_limit_mb, its wall-clock time by the policy's timeout
// and by Proc.Kill (wazero has no fuel; termination is through context
// cancellation, checked at function entries and loop headers). The module
// sees only the directories preopened from the policy's mounts (read-only
// or read-write as each mount says) and its data_dir, and has no network:
// WASI preview 1 offers no socket creation and no socket is preopened.
//
// The isolation is the virtual machine itself, not the kernel: the module
// can only call the WASI host functions wazero provides. So Enforced
// reports no namespaces, no seccomp and no Landlock (a policy asking for
// them gets them listed as unenforced, because no syscall is reachable to
// filter), network off, a read-only root (the module has no root file
// system beyond its preopens), and the memory cap.
//
// Compiled modules are cached on disk, keyed by the module's hash and the
// wazero version, under the user's cache directory, so a module compiles
// once per machine rather than once per run.
package wasm
