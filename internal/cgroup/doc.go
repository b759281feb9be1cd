// Package cgroup creates one control group per sandbox and applies its
// memory (with swap off), pids and CPU limits, reports OOM kills, freezes
// and thaws it, kills its members and removes it.
//
// It supports cgroup v2 when the unified hierarchy has the memory, pids
// and cpu controllers, and v1 otherwise (the hybrid layout of many hosts,
// where the controllers live under /sys/fs/cgroup/<controller>). The
// package does its own small amount of file I/O rather than depending on
// containerd/cgroups: kavach needs a handful of files per version, and
// owning them keeps the per-sandbox cost at a few mkdir/write/rmdir calls.
package cgroup
