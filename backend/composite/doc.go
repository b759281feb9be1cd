// Package composite layers two backends for real: an outer container
// backend (OCI or gVisor) whose every command also passes through the
// process backend's last stage inside the container.
//
// The original's CompositeBackend only merged the caller's policy with a
// strict one and ran the outer backend; its inner backend never ran.
// Here the inner layer is applied for real: kavach's own binary is pid 1
// of each container (internal/bundle), and its exec role, just before it
// executes the command, applies the inner stage: no_new_privs, no
// capabilities, a Landlock domain derived from the sandbox's mounts
// exactly as the process backend derives it, then a second seccomp
// filter with the policy's profile on top of the outer layer's own. A
// write the outer container allows (its workdir bind is read-write, its
// root may be writable) is then still refused by Landlock outside the
// paths the policy grants.
//
// Only pairs whose layers both do something are accepted: outer OCI or
// gVisor, inner process. gVisor's sentry implements no Landlock (the
// system call returns ENOSYS inside it, which New's probe checks on the
// first Plan); there the pair is refused unless the policy is best
// effort, and then the inner layer reports seccomp only, with Landlock
// listed as a downgrade.
//
// Enforced lists both layers, outer first; its top-level fields are what
// is in force overall (the outer's, plus the inner's Landlock), and its
// score follows the original's composite rule, min(100, max(layers)+5).
package composite
