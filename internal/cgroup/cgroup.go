package cgroup

// Limits are the resource limits of one group; zero fields are unset.
type Limits struct {
	MemoryBytes uint64 // memory, and memory plus swap: no swap
	CPU         float64
	Pids        uint32
}

// ParentName is the group under each hierarchy's root that holds
// kavach's groups.
const ParentName = "kavach"

// cpuPeriod is the CFS period in microseconds for the CPU quota.
const cpuPeriod = 100000

// cpuQuota converts a CPU count into a CFS quota per cpuPeriod.
func cpuQuota(cpus float64) int64 {
	q := int64(cpus * cpuPeriod)
	if q < 1000 {
		q = 1000 // the kernel's minimum quota is 1 ms
	}
	return q
}

// v1Controllers are the v1 hierarchies a group spans, in the order of
// Cgroup's directories.
var v1Controllers = []string{"memory", "pids", "cpu", "freezer"}
