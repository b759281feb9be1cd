package cgroup

import (
	"testing"
)

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		v1Mem  string
		v1Frz  string
		v2     string
		nCtrls int
	}{
		{
			name: "hybrid",
			data: `25 30 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
29 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,memory
30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
31 25 0:29 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,pids
32 25 0:30 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,freezer
`,
			v1Mem: "/sys/fs/cgroup/memory", v1Frz: "/sys/fs/cgroup/freezer", v2: "/sys/fs/cgroup/unified", nCtrls: 4,
		},
		{
			name: "unified",
			data: "26 25 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate\n",
			v2:   "/sys/fs/cgroup",
		},
		{name: "garbage", data: "x - y\n - \n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v1, v2 := parseMountinfo(tt.data)
			if v1["memory"] != tt.v1Mem || v1["freezer"] != tt.v1Frz || v2 != tt.v2 || len(v1) != tt.nCtrls {
				t.Errorf("v1 %v v2 %q", v1, v2)
			}
		})
	}
}

func TestParseCount(t *testing.T) {
	tests := []struct {
		data string
		want uint64
		err  bool
	}{
		{"oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", 3, false},
		{"low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\noom_group_kill 0\n", 1, false},
		{"oom 1\n", 0, false},
		{"oom_kill x\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.data, func(t *testing.T) {
			got, err := parseCount([]byte(tt.data), "oom_kill")
			if got != tt.want || (err != nil) != tt.err {
				t.Errorf("parseCount = %d, %v; want %d, error %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add("29 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
	f.Add("26 25 0:24 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")
	f.Fuzz(func(t *testing.T, data string) {
		v1, _ := parseMountinfo(data)
		for c := range v1 {
			found := false
			for _, k := range v1Controllers {
				found = found || k == c
			}
			if !found {
				t.Errorf("unexpected controller %q", c)
			}
		}
	})
}

func FuzzParseCount(f *testing.F) {
	f.Add([]byte("oom_kill 3\n"))
	f.Add([]byte("oom 1\noom_kill 18446744073709551615\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parseCount(data, "oom_kill")
	})
}
