package cgroup

import (
	"strconv"
	"strings"
)

// parseMountinfo returns the mount point of each v1 controller kavach
// uses and of the first cgroup2 hierarchy, from /proc/self/mountinfo.
func parseMountinfo(data string) (v1 map[string]string, v2 string) {
	v1 = map[string]string{}
	for line := range strings.SplitSeq(data, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, pf := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(pf) < 3 {
			continue
		}
		switch pf[0] {
		case "cgroup2":
			if v2 == "" {
				v2 = f[4]
			}
		case "cgroup":
			for opt := range strings.SplitSeq(pf[2], ",") {
				for _, c := range v1Controllers {
					if _, seen := v1[c]; opt == c && !seen {
						v1[c] = f[4]
					}
				}
			}
		}
	}
	return v1, v2
}

// parseCount returns the value of key in a "key value" per line file
// such as memory.events or memory.oom_control; 0 when key is absent.
func parseCount(data []byte, key string) (uint64, error) {
	for line := range strings.SplitSeq(string(data), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, nil
}
